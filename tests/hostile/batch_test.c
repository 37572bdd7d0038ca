/* SPDX-License-Identifier: MIT */
/*
 * Oversized batch frames against a live inventoryd (the `server`
 * fixture's tcp:// URL, --max-frame 65536): a frame of 1001 calls small
 * enough for the size limit gets one frame-level RESOURCE_EXHAUSTED (no
 * per-call answers, nothing run); a batch frame over --max-frame gets
 * RESOURCE_EXHAUSTED too; a call that is itself a batch of 1200 calls is
 * refused as one INVALID_ARGUMENT entry, not expanded; and a frame of
 * exactly 1000 calls within the size limit is answered in full, every
 * call by position with its own status.  After every frame the same
 * socket must still be served.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "hostile.h"
#include "testenv.h"

enum {
	MAX_FRAME = 65536, /* the fixture's --max-frame (the default) */
	BATCH_MAX = 1000,  /* the proto's limit on Request.batch */
};

static char product_id[37];

/* A GetProduct call: id NULL means no payload at all (INVALID_ARGUMENT
 * when run, the smallest call there is). */
static Inventory__V1__Request *
get_call(const char *id, const char *rid)
{
	Inventory__V1__Request          *r = calloc(1, sizeof(*r));
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;

	if (r == NULL)
		abort();
	inventory__v1__request__init(r);
	r->method     = HOSTILE_PREFIX "GetProduct";
	r->request_id = (char *)rid;
	if (id != NULL) {
		g.id           = (char *)id;
		r->payload.len = protobuf_c_message_get_packed_size(&g.base);
		if ((r->payload.data = malloc(r->payload.len)) == NULL)
			abort();
		protobuf_c_message_pack(&g.base, r->payload.data);
		r->has_payload = 1;
	}
	return r;
}

static void
calls_free(Inventory__V1__Request **calls, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(calls[i]->payload.data);
		free(calls[i]);
	}
	free(calls);
}

static uint8_t *
pack_batch(Inventory__V1__Request **calls, size_t n, size_t *len)
{
	Inventory__V1__Request top = INVENTORY__V1__REQUEST__INIT;
	uint8_t               *buf;

	top.n_batch = n;
	top.batch   = calls;
	*len        = inventory__v1__request__get_packed_size(&top);
	if ((buf = malloc(*len)) == NULL)
		abort();
	inventory__v1__request__pack(&top, buf);
	return buf;
}

static void
still_served(nng_socket s, const char *after)
{
	int code = hostile_get(s, product_id, NULL);

	if (code != 0) {
		fprintf(stderr, "after %s: GetProduct got %d\n", after, code);
		hostile_failures++;
	}
}

/* A frame refused as a whole: one code, no entries. */
static void
expect_refused(nng_socket s, const uint8_t *buf, size_t len, uint32_t code,
    const char *what)
{
	Inventory__V1__Response *resp;
	int                      rv = hostile_call(s, buf, len, &resp);

	printf("%s (%zu bytes): %s\n", what, len,
	    rv == 0 ? hostile_code_name(resp->code) : nng_strerror(rv));
	CHECK(rv == 0);
	if (rv != 0)
		return;
	CHECK(resp->has_code && resp->code == code);
	CHECK(resp->n_batch == 0);
	CHECK(resp->message != NULL && resp->message[0] != '\0');
	inventory__v1__response__free_unpacked(resp, NULL);
	still_served(s, what);
}

static void
too_many_calls(nng_socket s)
{
	size_t                   n     = BATCH_MAX + 1, len;
	Inventory__V1__Request **calls = calloc(n, sizeof(*calls));
	uint8_t                 *buf;

	for (size_t i = 0; i < n; i++)
		calls[i] = get_call(NULL, NULL);
	buf = pack_batch(calls, n, &len);
	/* The count, not the size, is what is over the limit. */
	CHECK(len <= MAX_FRAME);
	expect_refused(s, buf, len, 8, "a batch of 1001 calls");
	free(buf);
	calls_free(calls, n);
}

static void
too_many_bytes(nng_socket s)
{
	size_t                   n     = 800, len;
	Inventory__V1__Request **calls = calloc(n, sizeof(*calls));
	uint8_t                 *buf;

	for (size_t i = 0; i < n; i++)
		calls[i] = get_call(product_id, NULL);
	buf = pack_batch(calls, n, &len);
	CHECK(len > MAX_FRAME);
	CHECK(len < 1u << 20); /* answered, not dropped: under the hard cap */
	expect_refused(
	    s, buf, len, 8, "a batch of 800 calls over --max-frame");
	free(buf);
	calls_free(calls, n);
}

/* [GetProduct, a batch of 1200 calls as one call, GetProduct]. */
static void
nested_batch(nng_socket s)
{
	size_t                   n     = 1200, len;
	Inventory__V1__Request **inner = calloc(n, sizeof(*inner));
	Inventory__V1__Request  *outer[3], nest = INVENTORY__V1__REQUEST__INIT;
	Inventory__V1__Response *resp;
	uint8_t                 *buf;
	int                      rv;

	for (size_t i = 0; i < n; i++)
		inner[i] = get_call(NULL, NULL);
	nest.n_batch    = n;
	nest.batch      = inner;
	nest.request_id = "nested";
	outer[0]        = get_call(product_id, "before");
	outer[1]        = &nest;
	outer[2]        = get_call(product_id, "after");
	buf             = pack_batch(outer, 3, &len);
	CHECK(len <= MAX_FRAME);
	rv = hostile_call(s, buf, len, &resp);
	CHECK(rv == 0);
	if (rv == 0) {
		printf("a batch nested in a batch: %zu answers, the nested "
		       "one %s\n",
		    resp->n_batch,
		    resp->n_batch == 3
		        ? hostile_code_name(resp->batch[1]->code)
		        : "-");
		CHECK(resp->n_batch == 3);
		if (resp->n_batch == 3) {
			CHECK(resp->batch[0]->code == 0);
			CHECK(resp->batch[1]->code == 3);
			CHECK(resp->batch[1]->n_batch == 0);
			CHECK(resp->batch[2]->code == 0);
			CHECK(
			    resp->batch[1]->request_id != NULL &&
			    strcmp(resp->batch[1]->request_id, "nested") == 0);
		}
		inventory__v1__response__free_unpacked(resp, NULL);
	}
	free(buf);
	calls_free(inner, n);
	free(outer[0]->payload.data);
	free(outer[0]);
	free(outer[2]->payload.data);
	free(outer[2]);
	still_served(s, "a nested batch");
}

/* 1000 calls: every third a GetProduct of the test's product (OK), every
 * thirtieth of a random id (NOT_FOUND), the rest without a payload
 * (INVALID_ARGUMENT), so that it fits in --max-frame (a GetProduct of a
 * real id takes 87 bytes); the first and the last carry request ids. */
static void
full_batch(nng_socket s)
{
	size_t                   n     = BATCH_MAX, len;
	Inventory__V1__Request **calls = calloc(n, sizeof(*calls));
	Inventory__V1__Response *resp;
	char(*ids)[37] = calloc(n, sizeof(*ids));
	uint8_t *buf;
	int      rv, wrong = 0;

	for (size_t i = 0; i < n; i++) {
		const char *rid = i == 0       ? "first"
		                  : i == n - 1 ? "last"
		                               : NULL;

		if (i % 3 == 0) {
			calls[i] = get_call(product_id, rid);
		} else if (i % 30 == 1) {
			testenv_uuid(ids[i]);
			calls[i] = get_call(ids[i], rid);
		} else {
			calls[i] = get_call(NULL, rid);
		}
	}
	buf = pack_batch(calls, n, &len);
	CHECK(len <= MAX_FRAME);
	rv = hostile_call(s, buf, len, &resp);
	printf("a batch of 1000 calls (%zu bytes): %s, %zu answers\n", len,
	    rv == 0 ? "answered" : nng_strerror(rv),
	    rv == 0 ? resp->n_batch : 0);
	CHECK(rv == 0);
	if (rv == 0) {
		CHECK(resp->n_batch == n);
		for (size_t i = 0; i < resp->n_batch && i < n; i++) {
			uint32_t want = i % 3 == 0 ? 0 : i % 30 == 1 ? 5 : 3;
			if (resp->batch[i]->code != want) {
				if (wrong++ == 0)
					fprintf(stderr,
					    "call %zu: %s, want %s\n", i,
					    hostile_code_name(
					        resp->batch[i]->code),
					    hostile_code_name(want));
			}
		}
		CHECK(wrong == 0);
		CHECK(resp->batch[0]->request_id != NULL &&
		      strcmp(resp->batch[0]->request_id, "first") == 0);
		CHECK(resp->batch[n - 1]->request_id != NULL &&
		      strcmp(resp->batch[n - 1]->request_id, "last") == 0);
		inventory__v1__response__free_unpacked(resp, NULL);
	}
	free(buf);
	free(ids);
	calls_free(calls, n);
	still_served(s, "a batch of 1000 calls");
}

int
main(void)
{
	const char *url = testenv_server_tcp();
	nng_socket  s;

	if (url == NULL) {
		fprintf(stderr, "hostile.batch: no server URL\n");
		return 1;
	}
	s = hostile_open(url, 20000);
	if (hostile_create(s, "hostile batch", 5, "1.00", product_id) != 0) {
		fprintf(stderr, "hostile.batch: cannot create a product\n");
		return 1;
	}
	too_many_calls(s);
	too_many_bytes(s);
	nested_batch(s);
	full_batch(s);
	nng_close(s);
	nng_fini();
	printf("%s\n", hostile_failures == 0 ? "PASS" : "FAIL");
	return hostile_failures == 0 ? 0 : 1;
}
