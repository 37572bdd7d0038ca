/* SPDX-License-Identifier: MIT */
/*
 * Envelopes an attacker without a token can send, against a private
 * inventoryd (hostile_spawn):
 *
 *   deep      frames of Requests nested in `batch` 3, 4, 100, 9,000 and
 *             16,000 deep (2-4 bytes a level; 9,000 killed the server
 *             with SIGSEGV when protobuf-c unpacked it whole): each is
 *             refused INVALID_ARGUMENT as a frame, and depth 2 (an entry
 *             that is itself a batch) stays one bad call among good ones
 *   mixed     a frame with both its own call and a batch: refused
 *             INVALID_ARGUMENT (it used to drop the outer call and
 *             answer OK)
 *   nul       a token, a request id or a method with a NUL byte and junk
 *             after it: INVALID_ARGUMENT (unpacked, the string would have
 *             ended at the NUL); in a batch only that entry fails
 *   dash      a request id of "-" (what the logs print for none):
 *             INVALID_ARGUMENT
 *
 * After each case a good call is served, and the server ends on SIGTERM
 * within 15 s with exit 0 (leaks fail under ASan).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "hostile.h"

enum {
	CODE_OK               = 0,
	CODE_INVALID_ARGUMENT = 3,
	CODE_NOT_FOUND        = 5,
	TAG_BATCH      = (5 << 3) | 2, /* Request.batch, length-delimited */
	TAG_METHOD     = (1 << 3) | 2,
	TAG_REQUEST_ID = (2 << 3) | 2,
	TAG_TOKEN      = (6 << 3) | 2,
};

#define UNKNOWN_ID "00000000-0000-4000-8000-000000000000"

static size_t
varint_put(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	do {
		p[n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v != 0);
	return n;
}

/* A frame of `depth` Requests each holding the next in `batch`, the
 * innermost empty: built from the inside out at the end of a buffer. */
static uint8_t *
nested_frame(size_t depth, size_t *len)
{
	size_t   cap = depth * 6 + 16, start = cap, inner = 0;
	uint8_t *buf = malloc(cap), hdr[12];

	if (buf == NULL)
		abort();
	for (size_t i = 0; i < depth; i++) {
		size_t h = 0;

		hdr[h++] = TAG_BATCH;
		h += varint_put(hdr + h, inner);
		start -= h;
		memcpy(buf + start, hdr, h);
		inner += h;
	}
	memmove(buf, buf + start, inner);
	*len = inner;
	return buf;
}

/* The packed bytes of a GetProduct call for id, with rid (NULL: none). */
static uint8_t *
get_call(const char *id, const char *rid, size_t *len)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;

	g.id = (char *)id;
	return hostile_envelope(
	    HOSTILE_PREFIX "GetProduct", rid, &g.base, len);
}

/* Append a length-delimited field to buf at *n. */
static void
put_field(uint8_t *buf, size_t *n, uint8_t tag, const void *data, size_t len)
{
	buf[(*n)++] = tag;
	*n += varint_put(buf + *n, len);
	memcpy(buf + *n, data, len);
	*n += len;
}

/* Send len bytes, expect a frame-level reply with code want. */
static void
expect_code(nng_socket s, const uint8_t *buf, size_t len, uint32_t want,
    const char *what)
{
	Inventory__V1__Response *r = NULL;
	int                      rv;

	rv = hostile_call(s, buf, len, &r);
	CHECK(rv == 0);
	if (rv != 0) {
		fprintf(stderr, "%s: no reply: %s\n", what, nng_strerror(rv));
		return;
	}
	printf("%-28s %s: %s\n", what, hostile_code_name(r->code),
	    r->message != NULL ? r->message : "");
	CHECK(r->code == want);
	inventory__v1__response__free_unpacked(r, NULL);
}

static void
check_served(const char *url)
{
	CHECK(hostile_served(url, 5000));
}

static void
case_deep(nng_socket s, const char *url)
{
	static const size_t      depths[] = { 3, 4, 100, 9000, 16000 };
	Inventory__V1__Response *r        = NULL;
	uint8_t                 *buf, *call, frame[256];
	size_t                   len, clen, n = 0, inner = 0;
	char                     what[64];

	for (size_t i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		buf = nested_frame(depths[i], &len);
		snprintf(what, sizeof(what), "deep: %zu levels, %zu bytes",
		    depths[i], len);
		expect_code(s, buf, len, CODE_INVALID_ARGUMENT, what);
		free(buf);
		check_served(url);
	}

	/* Depth 2: [GetProduct(unknown), [ [] ] ]: the first entry runs, the
	 * second is one bad call. */
	call = get_call(UNKNOWN_ID, NULL, &clen);
	put_field(frame, &n, TAG_BATCH, call, clen);
	frame[n++] = TAG_BATCH;
	frame[n++] = 2;
	frame[n++] = TAG_BATCH;
	frame[n++] = (uint8_t)inner;
	free(call);
	CHECK(hostile_call(s, frame, n, &r) == 0);
	if (r != NULL) {
		CHECK(r->code == CODE_OK && r->n_batch == 2);
		if (r->n_batch == 2) {
			printf("deep: depth 2 entries %s, %s\n",
			    hostile_code_name(r->batch[0]->code),
			    hostile_code_name(r->batch[1]->code));
			CHECK(r->batch[0]->code == CODE_NOT_FOUND);
			CHECK(r->batch[1]->code == CODE_INVALID_ARGUMENT);
		}
		inventory__v1__response__free_unpacked(r, NULL);
	}
}

static void
case_mixed(nng_socket s)
{
	uint8_t frame[512], *call;
	size_t  n = 0, clen;

	/* The outer call's method, then one entry. */
	call = get_call(UNKNOWN_ID, NULL, &clen);
	put_field(frame, &n, TAG_METHOD, HOSTILE_PREFIX "GetProduct",
	    strlen(HOSTILE_PREFIX "GetProduct"));
	put_field(frame, &n, TAG_BATCH, call, clen);
	free(call);
	expect_code(s, frame, n, CODE_INVALID_ARGUMENT, "mixed: method+batch");
}

static void
case_nul(nng_socket s)
{
	Inventory__V1__Response *r            = NULL;
	static const char        junk_token[] = "good\0junk";
	static const char        junk_rid[]   = "r1\0xyz";
	uint8_t                  frame[1024], *call;
	size_t                   n, clen;

	/* A single call whose token holds a NUL. */
	call = get_call(UNKNOWN_ID, NULL, &clen);
	memcpy(frame, call, clen);
	n = clen;
	put_field(frame, &n, TAG_TOKEN, junk_token, sizeof(junk_token) - 1);
	expect_code(s, frame, n, CODE_INVALID_ARGUMENT, "nul: token");

	/* A single call whose request id holds one. */
	n = clen;
	memcpy(frame, call, clen);
	put_field(frame, &n, TAG_REQUEST_ID, junk_rid, sizeof(junk_rid) - 1);
	expect_code(s, frame, n, CODE_INVALID_ARGUMENT, "nul: request_id");

	/* A batch: a good entry, then the same call with a NUL in its
	 * token: only the second fails. */
	{
		uint8_t bad[512];
		size_t  b = clen;

		memcpy(bad, call, clen);
		put_field(
		    bad, &b, TAG_TOKEN, junk_token, sizeof(junk_token) - 1);
		n = 0;
		put_field(frame, &n, TAG_BATCH, call, clen);
		put_field(frame, &n, TAG_BATCH, bad, b);
	}
	CHECK(hostile_call(s, frame, n, &r) == 0);
	if (r != NULL) {
		CHECK(r->code == CODE_OK && r->n_batch == 2);
		if (r->n_batch == 2) {
			printf("nul: batch entries %s, %s\n",
			    hostile_code_name(r->batch[0]->code),
			    hostile_code_name(r->batch[1]->code));
			CHECK(r->batch[0]->code == CODE_NOT_FOUND);
			CHECK(r->batch[1]->code == CODE_INVALID_ARGUMENT);
		}
		inventory__v1__response__free_unpacked(r, NULL);
	}

	/* The frame's own token with a NUL, in a batch: the whole frame. */
	n = 0;
	put_field(frame, &n, TAG_BATCH, call, clen);
	put_field(frame, &n, TAG_TOKEN, junk_token, sizeof(junk_token) - 1);
	expect_code(
	    s, frame, n, CODE_INVALID_ARGUMENT, "nul: batch frame token");
	free(call);
}

static void
case_dash(nng_socket s)
{
	uint8_t *call;
	size_t   clen;

	call = get_call(UNKNOWN_ID, "-", &clen);
	expect_code(s, call, clen, CODE_INVALID_ARGUMENT, "dash: request_id");
	free(call);
}

int
main(void)
{
	struct hostile_server srv;
	nng_socket            s;

	hostile_spawn(&srv, NULL);
	s = hostile_open(srv.url, 10000);
	case_deep(s, srv.url);
	case_mixed(s);
	case_nul(s);
	case_dash(s);
	check_served(srv.url);
	nng_close(s);
	return hostile_finish(&srv);
}
