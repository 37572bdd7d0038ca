/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: raw bytes as a batch frame (Request.batch)
 * into dispatch_handle() with the fake store (fake_store.c), the whole
 * server path of a frame short of the sockets and the database.
 *
 * A batch is an execution detail, never a change of meaning (DESIGN.md,
 * "Batching rules"), so beyond "no crash" the target checks the rule
 * itself, entry by entry.  Invariants on every input:
 *  - the reply always unpacks as a Response with a code;
 *  - bytes over the size limit, bytes that are not a Request, entries
 *    nested deeper than one batch, frames of more than DISPATCH_BATCH_MAX
 *    entries and frames with a call of their own or a NUL in their token
 *    get one frame-level refusal (RESOURCE_EXHAUSTED, INVALID_ARGUMENT,
 *    INVALID_ARGUMENT, RESOURCE_EXHAUSTED, INVALID_ARGUMENT) with an
 *    empty batch; a single (non-batch) frame gets a reply with no batch;
 *  - a frame of 1..DISPATCH_BATCH_MAX entries within the limit gets
 *    exactly that many Responses, in order, each echoing its entry's
 *    request_id when it is well-formed (and none otherwise), each with a
 *    message when not OK, a payload only when OK, details only when
 *    ABORTED, and no batch of its own;
 *  - each entry (that is not itself a batch) sent alone, re-packed as a
 *    single frame, gets the same Response: code, message, request_id,
 *    payload bytes and details.  The fake store answers from the
 *    arguments alone, so this is deterministic, except that a deadline of
 *    a few milliseconds may pass between the two runs (then a
 *    DEADLINE_EXCEEDED on either side is not compared);
 *  - no crash, leak, overflow or undefined behaviour (ASan/UBSan/LSan).
 */
#include <stdbool.h>
#include <string.h>

#include "base/log.h"
#include "core/dispatch_testing.h"
#include "core/wire_check.h"
#include "fake_store.h"
#include "fuzz.h"
#include "handlers/validate.h"

/* Below fuzz.sh's -max_len (4096) and above the smallest frame of
 * DISPATCH_BATCH_MAX + 1 entries (2 bytes each), so that the fuzzer
 * reaches both refusals. */
enum { FUZZ_MAX_REQUEST = 3072 };

/* Room for any reply to a frame within the limit: at most
 * DISPATCH_BATCH_MAX entries, each at most a few hundred bytes plus what
 * its own bytes expand to. */
enum { REPLY_CAP = 4 << 20 };

static uint8_t reply_batch[REPLY_CAP];
static uint8_t reply_alone[REPLY_CAP];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_threshold = LOG_LEVEL_ERR;
	dispatch_set_max_request(FUZZ_MAX_REQUEST);
	return 0;
}

static Inventory__V1__Response *
handle(const uint8_t *data, size_t size, uint8_t *reply)
{
	Inventory__V1__Response *resp;
	size_t                   n;

	n = dispatch_handle(
	    fake_store_get(), data, size, clock_now_ns(), reply, REPLY_CAP);
	FUZZ_CHECK(n > 0 && n < REPLY_CAP);
	resp = inventory__v1__response__unpack(NULL, n, reply);
	FUZZ_CHECK(resp != NULL);
	FUZZ_CHECK(resp->has_code);
	return resp;
}

static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* The shape of one entry's Response, whatever its code. */
static void
check_entry_reply(
    const Inventory__V1__Request *e, const Inventory__V1__Response *r)
{
	FUZZ_CHECK(r->has_code);
	FUZZ_CHECK(r->n_batch == 0);
	if (e->request_id != NULL && validate_request_id(e->request_id)) {
		FUZZ_CHECK(same_str(r->request_id, e->request_id));
	} else {
		FUZZ_CHECK(r->request_id == NULL);
	}
	if (r->code == CODE_OK) {
		FUZZ_CHECK(r->has_payload && r->payload.len > 0);
		FUZZ_CHECK(r->message == NULL);
	} else {
		FUZZ_CHECK(!r->has_payload);
		FUZZ_CHECK(r->message != NULL && r->message[0] != '\0');
	}
	if (r->code == CODE_ABORTED && r->details != NULL &&
	    r->details->n_items > 0) {
		/* ReserveStock: the conflicting items are named. */
		FUZZ_CHECK(r->details->items[0]->has_code &&
		           r->details->items[0]->code == CODE_ABORTED);
	} else if (r->code == CODE_ABORTED) {
		FUZZ_CHECK(r->details != NULL &&
		           r->details->has_current_version &&
		           r->details->current != NULL);
	} else if (r->details != NULL) {
		/* Only refusals with a product to show carry details:
		 * AdjustStock's FAILED_PRECONDITION and OUT_OF_RANGE (the
		 * current product), a ReserveStock's failing items. */
		FUZZ_CHECK(r->code == CODE_FAILED_PRECONDITION ||
		           r->code == CODE_OUT_OF_RANGE ||
		           r->details->n_items > 0);
		FUZZ_CHECK(
		    r->details->current != NULL || r->details->n_items > 0);
	}
	/* A batch entry may not be a batch: refused alone, in place. */
	if (e->n_batch > 0) {
		FUZZ_CHECK(r->code == CODE_INVALID_ARGUMENT);
	}
	/* The fake store can answer nothing else. */
	FUZZ_CHECK(r->code == CODE_OK || r->code == CODE_INVALID_ARGUMENT ||
	           r->code == CODE_UNIMPLEMENTED ||
	           r->code == CODE_DEADLINE_EXCEEDED ||
	           r->code == CODE_NOT_FOUND || r->code == CODE_ABORTED ||
	           r->code == CODE_ALREADY_EXISTS ||
	           r->code == CODE_FAILED_PRECONDITION ||
	           r->code == CODE_OUT_OF_RANGE);
}

/* The entry alone, re-packed as a single frame, must get the same
 * Response. */
static void
check_alone(const Inventory__V1__Request *e, const Inventory__V1__Response *r)
{
	Inventory__V1__Request  *again;
	Inventory__V1__Response *a;
	uint8_t                 *buf;
	size_t                   len;

	len = inventory__v1__request__get_packed_size(e);
	buf = malloc(len + 1);
	FUZZ_CHECK(buf != NULL);
	inventory__v1__request__pack(e, buf);
	FUZZ_CHECK(len <= FUZZ_MAX_REQUEST);
	/* An entry protobuf-c cannot re-pack into the same message has no
	 * "alone" to compare with: a string field holding a NUL byte is a C
	 * string cut at the NUL once decoded, and re-packed it no longer
	 * decodes (found by this target in CI). */
	if ((again = inventory__v1__request__unpack(NULL, len, buf)) == NULL) {
		free(buf);
		return;
	}
	inventory__v1__request__free_unpacked(again, NULL);
	a = handle(buf, len, reply_alone);
	free(buf);
	FUZZ_CHECK(a->n_batch == 0);
	if (e->has_timeout_ms && e->timeout_ms > 0 &&
	    (a->code == CODE_DEADLINE_EXCEEDED ||
	        r->code == CODE_DEADLINE_EXCEEDED)) {
		/* Time passed between the two runs. */
		inventory__v1__response__free_unpacked(a, NULL);
		return;
	}
	FUZZ_CHECK(a->code == r->code);
	FUZZ_CHECK(same_str(a->message, r->message));
	FUZZ_CHECK(same_str(a->request_id, r->request_id));
	FUZZ_CHECK(a->has_payload == r->has_payload);
	FUZZ_CHECK(a->payload.len == r->payload.len);
	if (a->payload.len > 0) {
		FUZZ_CHECK(memcmp(a->payload.data, r->payload.data,
		               a->payload.len) == 0);
	}
	FUZZ_CHECK((a->details == NULL) == (r->details == NULL));
	if (a->details != NULL) {
		FUZZ_CHECK(a->details->current_version ==
		           r->details->current_version);
	}
	inventory__v1__response__free_unpacked(a, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Inventory__V1__Request  *env = NULL;
	Inventory__V1__Response *resp;
	struct wire_check        wc   = { 0 };
	enum code                walk = CODE_OK;
	char                     msg[256];

	fake_store_reset();
	resp = handle(data, size, reply_batch);
	if (size <= FUZZ_MAX_REQUEST) {
		/* The server's first look, before protobuf-c (wire_check.c):
		 * it refuses entries nested deeper than one batch and finds
		 * NUL bytes in the frame's own method, id or token. */
		walk = wire_check_request(data, size, &wc, msg, sizeof(msg));
		env  = inventory__v1__request__unpack(NULL, size, data);
	}
	if (size > FUZZ_MAX_REQUEST || walk != CODE_OK || env == NULL ||
	    env->n_batch > DISPATCH_BATCH_MAX) {
		FUZZ_CHECK(resp->code ==
		           (size > FUZZ_MAX_REQUEST ? CODE_RESOURCE_EXHAUSTED
		               : walk != CODE_OK    ? walk
		               : env == NULL        ? CODE_INVALID_ARGUMENT
		                             : CODE_RESOURCE_EXHAUSTED));
		FUZZ_CHECK(resp->n_batch == 0);
		FUZZ_CHECK(resp->message != NULL && resp->message[0] != '\0');
		FUZZ_CHECK(resp->request_id == NULL);
		FUZZ_CHECK(!resp->has_payload);
	} else if (env->n_batch == 0) {
		/* A single frame: one reply, not a batch (fuzz_envelope
		 * checks the rest). */
		FUZZ_CHECK(resp->n_batch == 0);
	} else if (env->method != NULL || env->request_id != NULL ||
	           env->has_payload || env->has_timeout_ms || wc.nul) {
		/* A frame with a call of its own, or a token it cannot mean:
		 * refused whole rather than answered in part. */
		FUZZ_CHECK(resp->code == CODE_INVALID_ARGUMENT);
		FUZZ_CHECK(resp->n_batch == 0);
		FUZZ_CHECK(resp->message != NULL && resp->message[0] != '\0');
	} else {
		FUZZ_CHECK(resp->code == CODE_OK);
		FUZZ_CHECK(resp->n_batch == env->n_batch);
		FUZZ_CHECK(!resp->has_payload && resp->details == NULL);
		for (size_t i = 0; i < env->n_batch; i++) {
			check_entry_reply(env->batch[i], resp->batch[i]);
			if (wc.entry_nul != NULL && i < wc.nentries &&
			    wc.entry_nul[i]) {
				/* Unpacked, its strings end at the NUL: alone
				 * it would be another call.  Refused. */
				FUZZ_CHECK(resp->batch[i]->code ==
				           CODE_INVALID_ARGUMENT);
			} else if (fuzz_is_probe(env->batch[i])) {
				/* Alone, an empty request is a liveness probe;
				 * in a batch, a call with no method. */
				FUZZ_CHECK(resp->batch[i]->code ==
				           CODE_INVALID_ARGUMENT);
			} else if (env->batch[i]->n_batch == 0) {
				check_alone(env->batch[i], resp->batch[i]);
			}
		}
	}
	if (env != NULL) {
		inventory__v1__request__free_unpacked(env, NULL);
	}
	wire_check_fini(&wc);
	inventory__v1__response__free_unpacked(resp, NULL);
	return 0;
}
