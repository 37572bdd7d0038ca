/* SPDX-License-Identifier: MIT */
/*
 * The Connect protocol's unary calls (see connect.h): request headers and
 * body to a packed inventory.v1.Request, packed Response to an answer.
 * The JSON codec is pbjson (proto/json), driven by the method's
 * descriptors, so no message is read or written by hand here; the error
 * body is built with jansson.
 */
#include "net/connect.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/code.h"
#include "inventory/v1/service.pb-c.h"
#include "pbjson.h"

#define CT_PROTO "application/proto"
#define CT_JSON  "application/json"

enum {
	CONNECT_METHOD_MAX         = 64, /* longer than any method name */
	CONNECT_TIMEOUT_DIGITS_MAX = 10, /* the protocol's limit */
};

/* The protocol's names and HTTP statuses, by Code number (gRPC's). */
static const struct {
	const char *name;
	unsigned    status;
} codes[] = {
	[0]  = { "ok", 200 },
	[1]  = { "canceled", 499 },
	[2]  = { "unknown", 500 },
	[3]  = { "invalid_argument", 400 },
	[4]  = { "deadline_exceeded", 504 },
	[5]  = { "not_found", 404 },
	[6]  = { "already_exists", 409 },
	[7]  = { "permission_denied", 403 },
	[8]  = { "resource_exhausted", 429 },
	[9]  = { "failed_precondition", 400 },
	[10] = { "aborted", 409 },
	[11] = { "out_of_range", 400 },
	[12] = { "unimplemented", 501 },
	[13] = { "internal", 500 },
	[14] = { "unavailable", 503 },
	[15] = { "data_loss", 500 },
	[16] = { "unauthenticated", 401 },
};

const char *
connect_code_name(unsigned code)
{
	return code < sizeof(codes) / sizeof(codes[0]) ? codes[code].name
	                                               : "unknown";
}

unsigned
connect_http_status(unsigned code)
{
	return code < sizeof(codes) / sizeof(codes[0]) ? codes[code].status
	                                               : 500;
}

/* ---- the error body ------------------------------------------------------
 */

/* {"type": "inventory.v1.ErrorDetails", "value": base64 (no padding, as
 * connect-go writes it; readers accept both), "debug": the same as JSON}.
 * NULL when out of memory. */
static json_t *
error_detail(const Inventory__V1__ErrorDetails *d)
{
	size_t   n   = inventory__v1__error_details__get_packed_size(d);
	uint8_t *bin = malloc(n > 0 ? n : 1);
	char    *b64 = NULL, *dbg = NULL;
	json_t  *o = NULL, *debug = NULL;
	size_t   blen;

	if (bin == NULL)
		goto out;
	inventory__v1__error_details__pack(d, bin);
	if ((b64 = pbjson_base64(bin, n)) == NULL)
		goto out;
	blen = strlen(b64);
	while (blen > 0 && b64[blen - 1] == '=')
		b64[--blen] = '\0';
	if ((dbg = pbjson_encode(&d->base, NULL)) != NULL)
		debug = json_loads(dbg, 0, NULL);
	o = json_pack(
	    "{s:s, s:s}", "type", "inventory.v1.ErrorDetails", "value", b64);
	if (o != NULL && debug != NULL)
		json_object_set_new(o, "debug", debug);
	else
		json_decref(debug);
out:
	free(dbg);
	free(b64);
	free(bin);
	return o;
}

static int
answer_error_details(struct connect_answer *a, unsigned code,
    const char *message, const Inventory__V1__ErrorDetails *details)
{
	json_t *o = json_pack("{s:s}", "code", connect_code_name(code));
	json_t *d;
	char   *text;

	if (o == NULL)
		return -1;
	if (message != NULL && message[0] != '\0')
		json_object_set_new(o, "message", json_string(message));
	if (details != NULL) {
		if ((d = error_detail(details)) == NULL) {
			json_decref(o);
			return -1;
		}
		json_object_set_new(o, "details", json_pack("[o]", d));
	}
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		return -1;
	a->status = connect_http_status(code);
	a->ctype  = CT_JSON; /* always, even for a binary call */
	a->body   = text;
	a->len    = strlen(text);
	return 0;
}

int
connect_answer_error(
    struct connect_answer *a, unsigned code, const char *message)
{
	return answer_error_details(a, code, message, NULL);
}

/* ---- the request ---------------------------------------------------------
 */

/* Whether the media type of ct (before any ';' parameters) is want. */
static bool
media_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, want, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Connect-Timeout-Ms: 1 to 10 ASCII digits; clamped to the envelope's
 * uint32 (49 days).  0, or -1 when malformed. */
static int
parse_timeout(const char *s, uint32_t *ms)
{
	unsigned long long v = 0;
	size_t             n = 0;

	for (; s[n] != '\0'; n++) {
		if (!isdigit((unsigned char)s[n]) ||
		    n == CONNECT_TIMEOUT_DIGITS_MAX)
			return -1;
		v = v * 10 + (unsigned)(s[n] - '0');
	}
	if (n == 0)
		return -1;
	*ms = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	return 0;
}

/* The token of `Authorization: Bearer TOKEN` (the scheme in any case,
 * RFC 7235); NULL for none or another scheme. */
static const char *
bearer_token(const char *v)
{
	static const char scheme[] = "Bearer ";

	if (v == NULL || strncasecmp(v, scheme, sizeof(scheme) - 1) != 0)
		return NULL;
	v += sizeof(scheme) - 1;
	while (*v == ' ')
		v++;
	return *v != '\0' ? v : NULL;
}

int
connect_envelope(const struct connect_request *r, struct connect_call *call,
    uint8_t **env, size_t *env_len, struct connect_answer *a)
{
	Inventory__V1__Request req = INVENTORY__V1__REQUEST__INIT;
	char        full[sizeof(CONNECT_PREFIX) + CONNECT_METHOD_MAX];
	char        why[PBJSON_ERR_MAX + 32];
	uint8_t    *json_bin = NULL;
	size_t      json_len = 0;
	uint32_t    timeout;
	const char *token;

	*env         = NULL;
	*env_len     = 0;
	call->method = protobuf_c_service_descriptor_get_method_by_name(
	    &inventory__v1__inventory_service__descriptor, r->method);
	if (call->method == NULL) {
		(void)connect_answer_error(a, CODE_UNIMPLEMENTED,
		    "no such method in inventory.v1.InventoryService");
		a->status = 404; /* an unknown procedure is an HTTP 404 */
		return -1;
	}
	if (r->content_type != NULL && media_is(r->content_type, CT_PROTO))
		call->json = false;
	else if (r->content_type != NULL && media_is(r->content_type, CT_JSON))
		call->json = true;
	else {
		(void)connect_answer_error(a, CODE_UNIMPLEMENTED,
		    "Content-Type must be application/proto or "
		    "application/json");
		a->status = 415;
		return -1;
	}
	if (r->content_encoding != NULL &&
	    strcasecmp(r->content_encoding, "identity") != 0) {
		(void)connect_answer_error(a, CODE_UNIMPLEMENTED,
		    "Content-Encoding: only identity (no compression)");
		return -1;
	}
	if (r->protocol_version != NULL &&
	    strcmp(r->protocol_version, "1") != 0) {
		(void)connect_answer_error(a, CODE_INVALID_ARGUMENT,
		    "Connect-Protocol-Version must be 1");
		return -1;
	}
	if (r->timeout_ms != NULL) {
		if (parse_timeout(r->timeout_ms, &timeout) != 0) {
			(void)connect_answer_error(a, CODE_INVALID_ARGUMENT,
			    "Connect-Timeout-Ms must be 1 to 10 digits");
			return -1;
		}
		req.has_timeout_ms = 1;
		req.timeout_ms     = timeout;
	}
	if (call->json) {
		char err[PBJSON_ERR_MAX];

		json_bin = pbjson_to_binary(call->method->input,
		    (const char *)r->body, r->body_len, &json_len, err,
		    sizeof(err));
		if (json_bin == NULL) {
			snprintf(why, sizeof(why), "JSON %s: %s",
			    call->method->input->name, err);
			(void)connect_answer_error(
			    a, CODE_INVALID_ARGUMENT, why);
			return -1;
		}
		req.payload.data = json_bin;
		req.payload.len  = json_len;
	} else {
		req.payload.data = (uint8_t *)r->body;
		req.payload.len  = r->body_len;
	}
	req.has_payload = 1;
	snprintf(full, sizeof(full), CONNECT_PREFIX "%s", call->method->name);
	req.method = full;
	if (r->idempotency_key != NULL)
		req.request_id = (char *)r->idempotency_key;
	if ((token = bearer_token(r->authorization)) != NULL)
		req.token = (char *)token;

	*env_len = inventory__v1__request__get_packed_size(&req);
	if ((*env = malloc(*env_len > 0 ? *env_len : 1)) == NULL) {
		free(json_bin);
		(void)connect_answer_error(
		    a, CODE_RESOURCE_EXHAUSTED, "out of memory");
		return -1;
	}
	inventory__v1__request__pack(&req, *env);
	free(json_bin);
	return 0;
}

/* ---- the answer ----------------------------------------------------------
 */

int
connect_answer_reply(const struct connect_call *call, const uint8_t *reply,
    size_t len, struct connect_answer *a)
{
	Inventory__V1__Response *res;
	unsigned                 code;
	int                      rv = -1;

	memset(a, 0, sizeof(*a));
	if ((res = inventory__v1__response__unpack(NULL, len, reply)) == NULL)
		return connect_answer_error(
		    a, CODE_INTERNAL, "the server's reply did not decode");
	code = res->has_code ? res->code : 0;
	if (code != 0) {
		rv = answer_error_details(a, code, res->message, res->details);
		goto out;
	}
	if (call->json) {
		char err[PBJSON_ERR_MAX];

		a->body =
		    pbjson_from_binary(call->method->output, res->payload.data,
		        res->payload.len, &a->len, err, sizeof(err));
		if (a->body == NULL) {
			rv = connect_answer_error(a, CODE_INTERNAL, err);
			goto out;
		}
		a->ctype = CT_JSON;
	} else {
		a->len = res->has_payload ? res->payload.len : 0;
		if (a->len > 0) {
			if ((a->body = malloc(a->len)) == NULL)
				goto out;
			memcpy(a->body, res->payload.data, a->len);
		}
		a->ctype = CT_PROTO;
	}
	a->status = 200;
	rv        = 0;
out:
	inventory__v1__response__free_unpacked(res, NULL);
	return rv;
}
