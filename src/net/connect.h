/* SPDX-License-Identifier: MIT */
/*
 * The Connect protocol, unary calls (https://connectrpc.com/docs/protocol):
 * how an HTTP request to POST /inventory.v1.InventoryService/<Method>
 * becomes the same packed inventory.v1.Request an nng frame carries, and
 * how the packed Response becomes the HTTP answer.  Nothing here does I/O
 * or touches the database: http.c collects the request and sends the
 * answer, the server dispatches the envelope like any frame (same auth,
 * audit, limits, batching and executors).
 *
 *   Content-Type          application/proto (the message's bytes) or
 *                         application/json (protobuf's JSON mapping, read
 *                         and written by pbjson); anything else: 415
 *   Connect-Timeout-Ms    the call's deadline (Request.timeout_ms)
 *   Authorization         Bearer TOKEN: the caller's token (Request.token)
 *   Idempotency-Key       the request id (Request.request_id): a write
 *                         resent with the same key is answered from the
 *                         request log, never applied twice
 *   Connect-Protocol-Version  1 when present (it may be absent: curl)
 *
 * The reads the .proto marks idempotency_level = NO_SIDE_EFFECTS
 * (GetProduct, BatchGetProducts, ListProducts) may also come as the
 * protocol's unary GET: GET CONNECT_PREFIX<Method>?encoding=json|proto
 * &message=<percent-encoded>[&base64=1][&compression=identity]
 * [&connect=v1], the message in the query instead of the body (URL-safe
 * base64 with base64=1, padding optional).  It becomes the same request
 * bytes and the same envelope as a POST; the headers (Authorization,
 * Connect-Timeout-Ms, Idempotency-Key) mean the same.  Any other method by
 * GET is 405 (Allow: POST), nothing dispatched.
 *
 * A success is 200 with the response message in the request's codec; an
 * error is always application/json, {"code","message","details"}, with the
 * HTTP status the protocol assigns to the code, and ErrorDetails (the
 * current version and product of a conflict) as a detail of type
 * inventory.v1.ErrorDetails (base64 of the binary message in "value", its
 * JSON in "debug").
 */
#ifndef INVENTORY_NET_CONNECT_H
#define INVENTORY_NET_CONNECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

/* The path prefix of every Connect call; the rest is the method name. */
#define CONNECT_PREFIX "/inventory.v1.InventoryService/"

/* What http.c read from the request (borrowed for the call). */
struct connect_request {
	bool        get;                 /* GET: the message is in query */
	const char *query;               /* GET: the raw query (after '?'), not
	                                    percent-decoded; NULL: none */
	const char    *method;           /* the path after CONNECT_PREFIX */
	const char    *content_type;     /* NULL when absent; POST only */
	const char    *content_encoding; /* POST only */
	const char    *timeout_ms;       /* Connect-Timeout-Ms */
	const char    *authorization;
	const char    *idempotency_key;
	const char    *protocol_version; /* Connect-Protocol-Version */
	const uint8_t *body;             /* POST only */
	size_t         body_len;
};

/* One HTTP answer: body malloc'd (NULL with len 0: empty). */
struct connect_answer {
	unsigned    status;
	const char *ctype; /* static */
	const char *allow; /* static: a 405's Allow header; NULL: none */
	unsigned    code;  /* the Code answered (0: a success), for metrics */
	char       *body;
	size_t      len;
};

/* The call's method and codec, from connect_envelope() to
 * connect_answer_reply(). */
struct connect_call {
	const ProtobufCMethodDescriptor *method;
	bool                             json;
};

/* Check r and build its envelope: 0 with *env (malloc'd, *env_len bytes)
 * and *call, or -1 with the error answer in *a (nothing to dispatch; its
 * body is still to be freed by whoever sends it). */
int connect_envelope(const struct connect_request *r,
    struct connect_call *call, uint8_t **env, size_t *env_len,
    struct connect_answer *a);

/* The answer to call for reply (a packed inventory.v1.Response): 0, or -1
 * when out of memory (a holds nothing then). */
int connect_answer_reply(const struct connect_call *call, const uint8_t *reply,
    size_t len, struct connect_answer *a);

/* call's method as its index in the service (as dispatch and the
 * metrics number methods), or -1 when there is none (an unknown method,
 * a call refused before its method was read). */
int connect_method_index(const struct connect_call *call);

/* Whether method (a name, "GetProduct") may be called by GET: the .proto
 * marks it idempotency_level = NO_SIDE_EFFECTS. */
bool connect_get_allowed(const char *method);

/* An error answer for code (a Code number) and message, no details: 0, or
 * -1 when out of memory.  For what http.c refuses itself (a body over the
 * limit, a call it could not start). */
int connect_answer_error(
    struct connect_answer *a, unsigned code, const char *message);

/* The HTTP status and the Connect name ("aborted") of a Code number. */
unsigned    connect_http_status(unsigned code);
const char *connect_code_name(unsigned code);

#endif
