/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/core/wire_check.c, the walk of a frame's raw bytes before
 * protobuf-c unpacks it: well-formed frames at the depths the contract
 * allows pass (and agree with protobuf-c), deeper nesting and malformed
 * bytes are refused without recursion, and NUL bytes in the strings that
 * unpacking would cut short are marked per call.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/wire_check.h"
#include "inventory/v1/service.pb-c.h"

enum {
	TAG_METHOD = (1 << 3) | 2,
	TAG_RID    = (2 << 3) | 2,
	TAG_TMO    = (3 << 3) | 0,
	TAG_BATCH  = (5 << 3) | 2,
	TAG_TOKEN  = (6 << 3) | 2,
};

static enum code
check(const uint8_t *buf, size_t len, struct wire_check *wc)
{
	char msg[160];

	return wire_check_request(buf, len, wc, msg, sizeof(msg));
}

/* n levels of empty Requests nested in batch. */
static uint8_t *
nested(size_t depth, size_t *len)
{
	size_t   cap = depth * 6 + 16, start = cap, inner = 0;
	uint8_t *buf = malloc(cap);

	assert_non_null(buf);
	for (size_t i = 0; i < depth; i++) {
		uint8_t hdr[12];
		size_t  h = 0, v = inner;

		hdr[h++] = TAG_BATCH;
		do {
			hdr[h++] =
			    (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
			v >>= 7;
		} while (v != 0);
		start -= h;
		memcpy(buf + start, hdr, h);
		inner += h;
	}
	memmove(buf, buf + start, inner);
	*len = inner;
	return buf;
}

static void
test_depths(void **state)
{
	static const size_t ok[]  = { 0, 1, 2 };
	static const size_t bad[] = { 3, 4, 1000, 100000 };
	struct wire_check   wc;
	uint8_t            *buf;
	size_t              len;

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		Inventory__V1__Request *r;

		buf = nested(ok[i], &len);
		assert_int_equal(check(buf, len, &wc), CODE_OK);
		assert_int_equal(wc.nentries, ok[i] > 0 ? 1 : 0);
		wire_check_fini(&wc);
		/* protobuf-c agrees these are messages. */
		r = inventory__v1__request__unpack(NULL, len, buf);
		assert_non_null(r);
		inventory__v1__request__free_unpacked(r, NULL);
		free(buf);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		buf = nested(bad[i], &len);
		assert_int_equal(check(buf, len, &wc), CODE_INVALID_ARGUMENT);
		wire_check_fini(&wc);
		free(buf);
	}
}

static void
test_malformed(void **state)
{
	static const struct {
		uint8_t bytes[8];
		size_t  len;
	} cases[] = {
		{ { TAG_BATCH }, 1 },             /* length missing */
		{ { TAG_BATCH, 5, 0 }, 3 },       /* length past the end */
		{ { 0x80 }, 1 },                  /* truncated tag */
		{ { 0x00, 0x00 }, 2 },            /* field 0 */
		{ { (7 << 3) | 3 }, 1 },          /* a group */
		{ { (7 << 3) | 1, 1, 2, 3 }, 4 }, /* short fixed64 */
		{ { TAG_TMO, 0xff, 0xff }, 3 },   /* unterminated varint */
		{ { TAG_BATCH, 2, TAG_BATCH, 9 }, 4 }, /* entry overruns */
	};
	struct wire_check wc;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(check(cases[i].bytes, cases[i].len, &wc),
		    CODE_INVALID_ARGUMENT);
		wire_check_fini(&wc);
	}
}

static void
test_nul(void **state)
{
	/* [entry: method "a", token "x\0y"], [entry: rid "ok"], frame
	 * request id "r\0". */
	static const uint8_t frame[] = {
		TAG_BATCH,
		8,
		TAG_METHOD,
		1,
		'a',
		TAG_TOKEN,
		3,
		'x',
		0,
		'y',
		TAG_BATCH,
		4,
		TAG_RID,
		2,
		'o',
		'k',
		TAG_RID,
		2,
		'r',
		0,
	};
	static const uint8_t clean[] = { TAG_METHOD, 2, 'a', 'b', TAG_TMO, 7 };
	struct wire_check    wc;

	(void)state;
	assert_int_equal(check(frame, sizeof(frame), &wc), CODE_OK);
	assert_true(wc.nul);
	assert_int_equal(wc.nentries, 2);
	assert_non_null(wc.entry_nul);
	assert_true(wc.entry_nul[0]);
	assert_false(wc.entry_nul[1]);
	wire_check_fini(&wc);

	assert_int_equal(check(clean, sizeof(clean), &wc), CODE_OK);
	assert_false(wc.nul);
	assert_null(wc.entry_nul);
	wire_check_fini(&wc);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_depths),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
