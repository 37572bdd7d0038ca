/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: an HTTP call as the Connect endpoint hands it to
 * connect_envelope() (src/net/connect.c), which turns it into the
 * inventory.v1.Request envelope the server dispatches.  No server, no
 * socket: connect.c does no I/O, so the function is called as http.c
 * calls it.
 *
 * The input is split into the call's parts (see fuzz_split):
 *   byte 0        bit 0: a GET (else a POST); bits 1-7: whether each of
 *                 the seven optional parts below is present (absent:
 *                 NULL, as a missing header or query)
 *   then, NUL-separated: the method (the path after the prefix),
 *                 Content-Type, Content-Encoding, Connect-Timeout-Ms,
 *                 Authorization, Idempotency-Key,
 *                 Connect-Protocol-Version, the raw query
 *   the rest      the body (any bytes, NULs too)
 *
 * Invariants checked on every input:
 *  - refused: no envelope, and an error answer in JSON
 *    ({"code":...}) with an HTTP status the protocol uses;
 *  - accepted: the envelope unpacks with protobuf-c, packs again to the
 *    same bytes, names the method as CONNECT_PREFIX<Method>, carries a
 *    payload (a POST's binary body as sent; a JSON call's payload a valid
 *    message of the method's input type), the Idempotency-Key as request
 *    id; a GET was accepted only for a NO_SIDE_EFFECTS method;
 *  - an accepted call's success answer and error answer build (the
 *    answer path on a reply made for it);
 *  - no crash, leak, overflow or undefined behaviour (ASan/UBSan/LSan).
 */
#include <stdbool.h>
#include <string.h>

#include "fuzz.h"
#include "net/connect.h"

enum {
	PART_METHOD,
	PART_CONTENT_TYPE,
	PART_CONTENT_ENCODING,
	PART_TIMEOUT,
	PART_AUTHORIZATION,
	PART_IDEMPOTENCY_KEY,
	PART_PROTOCOL_VERSION,
	PART_QUERY,
	PARTS
};

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* The parts of data (copied into buf, size + PARTS bytes, so that each
 * part ends in a NUL) and the body, which points into data. */
static void
fuzz_split(
    const uint8_t *data, size_t size, char *buf, struct connect_request *r)
{
	const char *part[PARTS];
	size_t      at = 1, w = 0;
	unsigned    flags = size > 0 ? data[0] : 0;

	for (int i = 0; i < PARTS; i++) {
		part[i] = buf + w;
		while (at < size && data[at] != '\0')
			buf[w++] = (char)data[at++];
		buf[w++] = '\0';
		if (at < size)
			at++; /* the NUL that ended the part */
	}
	*r = (struct connect_request) {
		.get          = (flags & 1) != 0,
		.method       = part[PART_METHOD],
		.content_type = (flags & 2) ? part[PART_CONTENT_TYPE] : NULL,
		.content_encoding =
		    (flags & 4) ? part[PART_CONTENT_ENCODING] : NULL,
		.timeout_ms = (flags & 8) ? part[PART_TIMEOUT] : NULL,
		.authorization =
		    (flags & 16) ? part[PART_AUTHORIZATION] : NULL,
		.idempotency_key =
		    (flags & 32) ? part[PART_IDEMPOTENCY_KEY] : NULL,
		.protocol_version =
		    (flags & 64) ? part[PART_PROTOCOL_VERSION] : NULL,
		.query    = (flags & 128) ? part[PART_QUERY] : NULL,
		.body     = data + at,
		.body_len = size - at,
	};
}

static void
check_refusal(const struct connect_answer *a)
{
	static const unsigned statuses[] = { 400, 404, 405, 415, 429, 501 };
	bool                  known      = false;

	FUZZ_CHECK(a->body != NULL && a->len == strlen(a->body));
	FUZZ_CHECK(strncmp(a->body, "{\"code\":\"", 9) == 0);
	FUZZ_CHECK(strcmp(a->ctype, "application/json") == 0);
	for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
		known = known || a->status == statuses[i];
	FUZZ_CHECK(known);
	FUZZ_CHECK((a->status == 405) == (a->allow != NULL));
}

/* The answers an accepted call can get: its reply's payload echoed back
 * as a success (as the output type: it may not decode, then a 500), and
 * an error. */
static void
check_answers(const struct connect_call *call, const ProtobufCBinaryData *p)
{
	Inventory__V1__Response res = INVENTORY__V1__RESPONSE__INIT;
	struct connect_answer   a;
	uint8_t                *buf;
	size_t                  n;

	for (int code = 0; code <= 1; code++) {
		res.has_code    = code != 0;
		res.code        = INVENTORY__V1__CODE__ABORTED;
		res.message     = code != 0 ? "conflict" : NULL;
		res.has_payload = code == 0;
		res.payload     = *p;
		n   = inventory__v1__response__get_packed_size(&res);
		buf = malloc(n > 0 ? n : 1);
		FUZZ_CHECK(buf != NULL);
		inventory__v1__response__pack(&res, buf);
		FUZZ_CHECK(connect_answer_reply(call, buf, n, &a) == 0);
		FUZZ_CHECK(
		    a.status == 200 || a.status == 409 || a.status == 500);
		FUZZ_CHECK(a.len == 0 || a.body != NULL);
		free(a.body);
		free(buf);
	}
}

static void
check_envelope(const struct connect_request *r,
    const struct connect_call *call, const uint8_t *env, size_t len)
{
	Inventory__V1__Request *req;
	uint8_t                *again;
	char                    full[256];

	FUZZ_CHECK(env != NULL && call->method != NULL);
	FUZZ_CHECK(!r->get || connect_get_allowed(call->method->name));
	req = inventory__v1__request__unpack(NULL, len, env);
	FUZZ_CHECK(req != NULL);
	again = malloc(len > 0 ? len : 1);
	FUZZ_CHECK(again != NULL);
	FUZZ_CHECK(inventory__v1__request__get_packed_size(req) == len);
	FUZZ_CHECK(inventory__v1__request__pack(req, again) == len);
	FUZZ_CHECK(len == 0 || memcmp(again, env, len) == 0);
	free(again);

	snprintf(full, sizeof(full), CONNECT_PREFIX "%s", call->method->name);
	FUZZ_CHECK(req->method != NULL && strcmp(req->method, full) == 0);
	FUZZ_CHECK(req->has_payload);
	if (!r->get && !call->json)
		FUZZ_CHECK(
		    req->payload.len == r->body_len &&
		    (r->body_len == 0 ||
		        memcmp(req->payload.data, r->body, r->body_len) == 0));
	if (call->json) {
		ProtobufCMessage *m =
		    protobuf_c_message_unpack(call->method->input, NULL,
		        req->payload.len, req->payload.data);

		FUZZ_CHECK(m != NULL);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	if (r->idempotency_key != NULL)
		FUZZ_CHECK(req->request_id != NULL &&
		           strcmp(req->request_id, r->idempotency_key) == 0);
	else
		FUZZ_CHECK(req->request_id == NULL);
	check_answers(call, &req->payload);
	inventory__v1__request__free_unpacked(req, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct connect_request r;
	struct connect_call    call = { 0 };
	struct connect_answer  a    = { 0 };
	uint8_t               *env  = NULL;
	size_t                 env_len;
	char                  *buf = malloc(size + PARTS);

	FUZZ_CHECK(buf != NULL);
	fuzz_split(data, size, buf, &r);
	if (connect_envelope(&r, &call, &env, &env_len, &a) != 0) {
		FUZZ_CHECK(env == NULL);
		check_refusal(&a);
	} else {
		FUZZ_CHECK(a.body == NULL);
		check_envelope(&r, &call, env, env_len);
	}
	free(a.body);
	free(env);
	free(buf);
	return 0;
}
