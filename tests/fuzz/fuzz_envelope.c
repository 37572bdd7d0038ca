/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: raw network bytes into dispatch_decode() and
 * dispatch_handle() with no store, exactly what a worker does with a
 * received nng message before it touches the database.
 *
 * Invariants checked on every input:
 *  - dispatch_decode() returns OK, INVALID_ARGUMENT or UNIMPLEMENTED; on
 *    OK the method index is in range and the payload is a message of that
 *    method's input type; on an error msg is a non-empty string;
 *  - dispatch_handle() always produces a reply that unpacks as a Response
 *    with a code and a message, whose code is the decode verdict (or
 *    RESOURCE_EXHAUSTED above the size limit, UNAVAILABLE or
 *    DEADLINE_EXCEEDED for a good request with no store);
 *  - an empty request (at most a token) is a liveness probe: OK, code only;
 *  - an echoed request id is the request's own and printable ASCII;
 *  - no crash, leak, overflow or undefined behaviour (ASan/UBSan/LSan).
 */
#include <stdbool.h>
#include <string.h>

#include "base/log.h"
#include "base/product.h"
#include "core/dispatch_testing.h"
#include "core/wire_check.h"
#include "fuzz.h"

/* Small enough that libFuzzer's inputs cross it (see fuzz.sh -max_len). */
enum { FUZZ_MAX_REQUEST = 2048 };

static const ProtobufCServiceDescriptor *const svc =
    &inventory__v1__inventory_service__descriptor;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_threshold = LOG_LEVEL_ERR;
	dispatch_set_max_request(FUZZ_MAX_REQUEST);
	return 0;
}

static void
check_decode(const uint8_t *data, size_t size, enum code *verdict)
{
	struct dispatch_request req;
	char                    msg[256];
	enum code               code;

	msg[0] = '\0';
	code   = dispatch_decode(data, size, &req, msg, sizeof(msg));
	FUZZ_CHECK(code == CODE_OK || code == CODE_INVALID_ARGUMENT ||
	           code == CODE_UNIMPLEMENTED);
	if (code == CODE_OK) {
		FUZZ_CHECK(req.env != NULL);
		FUZZ_CHECK(
		    req.method >= 0 && (unsigned)req.method < svc->n_methods);
		FUZZ_CHECK(req.payload != NULL);
		FUZZ_CHECK(
		    req.payload->descriptor == svc->methods[req.method].input);
	} else {
		FUZZ_CHECK(
		    fuzz_terminated(msg, sizeof(msg)) && msg[0] != '\0');
		if (code == CODE_UNIMPLEMENTED) {
			FUZZ_CHECK(req.method == -1);
		}
	}
	dispatch_request_fini(&req);
	FUZZ_CHECK(req.env == NULL && req.payload == NULL);
	*verdict = code;
}

/* Whether the server's walk of the raw bytes (wire_check.c) lets them
 * through: protobuf-c accepts some bytes it refuses (a field number 0). */
static bool
walk_passes(const uint8_t *data, size_t size)
{
	struct wire_check wc;
	char              msg[256];
	enum code walk = wire_check_request(data, size, &wc, msg, sizeof(msg));

	wire_check_fini(&wc);
	return walk == CODE_OK;
}

/* A batch frame protobuf-c unpacks: refused whole, with no entries, when
 * the walk of its raw bytes refuses it (entries nested deeper than one
 * batch), when it carries a call of its own or a NUL in its token (then
 * INVALID_ARGUMENT, or RESOURCE_EXHAUSTED if it is also too long);
 * otherwise one answer per entry, or RESOURCE_EXHAUSTED for too many. */
static void
check_batch_frame(const uint8_t *data, size_t size,
    const Inventory__V1__Request *env, const Inventory__V1__Response *resp)
{
	struct wire_check wc;
	char              msg[256];
	enum code walk = wire_check_request(data, size, &wc, msg, sizeof(msg));
	bool      own  = env->method != NULL || env->request_id != NULL ||
	           env->has_payload || env->has_timeout_ms || wc.nul;

	wire_check_fini(&wc);
	if (walk != CODE_OK) {
		FUZZ_CHECK(resp->code == (uint32_t)walk && resp->n_batch == 0);
	} else if (own) {
		FUZZ_CHECK((resp->code == CODE_INVALID_ARGUMENT ||
		               resp->code == CODE_RESOURCE_EXHAUSTED) &&
		           resp->n_batch == 0);
	} else {
		FUZZ_CHECK(
		    (resp->code == CODE_OK && resp->n_batch == env->n_batch) ||
		    (resp->code == CODE_RESOURCE_EXHAUSTED &&
		        resp->n_batch == 0));
	}
	FUZZ_CHECK(resp->code == CODE_OK ||
	           (resp->message != NULL && resp->message[0] != '\0'));
}

static void
check_handle(const uint8_t *data, size_t size, enum code verdict)
{
	uint8_t                  reply[DISPATCH_REPLY_MAX];
	Inventory__V1__Response *resp;
	Inventory__V1__Request  *env;
	size_t                   n;

	n = dispatch_handle(
	    NULL, data, size, clock_now_ns(), reply, sizeof(reply));
	FUZZ_CHECK(n > 0 && n <= sizeof(reply));
	resp = inventory__v1__response__unpack(NULL, n, reply);
	FUZZ_CHECK(resp != NULL);
	FUZZ_CHECK(resp->has_code);
	env = size <= FUZZ_MAX_REQUEST
	          ? inventory__v1__request__unpack(NULL, size, data)
	          : NULL;
	if (env != NULL && env->n_batch > 0) {
		/* A batch frame (fuzz_batch checks its entries): one answer
		 * per entry, or one refusal of the whole frame. */
		check_batch_frame(data, size, env, resp);
		inventory__v1__request__free_unpacked(env, NULL);
		inventory__v1__response__free_unpacked(resp, NULL);
		return;
	}
	if (env != NULL && fuzz_is_probe(env) && walk_passes(data, size)) {
		/* A liveness probe: OK, its code alone. */
		FUZZ_CHECK(resp->code == CODE_OK && resp->message == NULL &&
		           !resp->has_payload && resp->details == NULL &&
		           resp->request_id == NULL);
		inventory__v1__request__free_unpacked(env, NULL);
		inventory__v1__response__free_unpacked(resp, NULL);
		return;
	}
	if (env != NULL)
		inventory__v1__request__free_unpacked(env, NULL);
	FUZZ_CHECK(resp->message != NULL && resp->message[0] != '\0');
	FUZZ_CHECK(!resp->has_payload);
	FUZZ_CHECK(resp->details == NULL);
	if (size > FUZZ_MAX_REQUEST) {
		FUZZ_CHECK(resp->code == CODE_RESOURCE_EXHAUSTED);
	} else if (verdict != CODE_OK) {
		FUZZ_CHECK(resp->code == (uint32_t)verdict);
	} else {
		/* Decoded: the handler validates its fields first (no I/O),
		 * then the missing store makes it UNAVAILABLE. */
		FUZZ_CHECK(resp->code == CODE_UNAVAILABLE ||
		           resp->code == CODE_DEADLINE_EXCEEDED ||
		           resp->code == CODE_INVALID_ARGUMENT ||
		           resp->code == CODE_RESOURCE_EXHAUSTED);
	}
	if (resp->request_id != NULL) {
		size_t len = strlen(resp->request_id);
		FUZZ_CHECK(len >= 1 && len <= REQUEST_ID_MAX);
		/* The contract's rule (validate_request_id): printable
		 * ASCII, space included. */
		for (size_t i = 0; i < len; i++) {
			FUZZ_CHECK(resp->request_id[i] >= 0x20 &&
			           resp->request_id[i] < 0x7f);
		}
		env = inventory__v1__request__unpack(NULL, size, data);
		FUZZ_CHECK(env != NULL && env->request_id != NULL &&
		           strcmp(env->request_id, resp->request_id) == 0);
		inventory__v1__request__free_unpacked(env, NULL);
	}
	inventory__v1__response__free_unpacked(resp, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	enum code verdict;

	check_decode(data, size, &verdict);
	check_handle(data, size, verdict);
	return 0;
}
