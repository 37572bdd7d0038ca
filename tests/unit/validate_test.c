/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/handlers/validate.c: one table per validator, each row a
 * value and whether the contract accepts it.  The edges are the contract's:
 * names 1..200 bytes of well-formed UTF-8, prices with at most two
 * fraction digits that fit numeric(12,2), stock 0..2147483647, request ids
 * 1..64 printable ASCII bytes without space, '=', '"' or '\\',
 * versions >= 1.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "handlers/validate.h"

struct str_case {
	const char *in;
	bool        ok;
};

#define CHECK_STR_TABLE(fn, cases)                                          \
	do {                                                                \
		for (size_t i_ = 0; i_ < sizeof(cases) / sizeof(cases[0]);  \
		     i_++) {                                                \
			bool got_ = fn(cases[i_].in);                       \
			if (got_ != cases[i_].ok) {                         \
				fail_msg("%s(\"%s\") = %d, want %d", #fn,   \
				    cases[i_].in ? cases[i_].in : "(null)", \
				    got_, cases[i_].ok);                    \
			}                                                   \
		}                                                           \
	} while (0)

static bool
uuid_check(const char *s)
{
	return validate_uuid(s, NULL);
}

static void
test_uuid(void **state)
{
	static const struct str_case cases[] = {
		{ "123e4567-e89b-12d3-a456-426614174000", true },
		{ "00000000-0000-0000-0000-000000000000", true },
		{ "ffffffff-ffff-ffff-ffff-ffffffffffff", true },
		{ "FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF", true },
		{ "", false },
		{ NULL, false },
		{ "not-a-uuid", false },
		{ "123e4567-e89b-12d3-a456-42661417400", false },   /* short */
		{ "123e4567-e89b-12d3-a456-4266141740000", false }, /* long */
		{ "123e4567e89b-12d3-a456-4266141740000",
		    false }, /* dash moved */
		{ "123e4567-e89b-12d3-a456_426614174000", false },
		{ "g23e4567-e89b-12d3-a456-426614174000", false },
		{ " 123e4567-e89b-12d3-a456-42661417400", false },
		{ "123e4567-e89b-12d3-a456-426614174000 ", false },
		{ "{123e4567-e89b-12d3-a456-426614174000}", false },
		{ "123e4567e89b12d3a456426614174000", false },
	};

	(void)state;
	CHECK_STR_TABLE(uuid_check, cases);
}

static void
test_uuid_lowercases(void **state)
{
	char out[PRODUCT_ID_LEN + 1];

	(void)state;
	memset(out, 'x', sizeof(out));
	assert_true(
	    validate_uuid("ABCDEF01-2345-6789-ABCD-EF0123456789", out));
	assert_string_equal(out, "abcdef01-2345-6789-abcd-ef0123456789");
}

static void
test_name(void **state)
{
	static char max[PRODUCT_NAME_MAX + 1];
	static char over[PRODUCT_NAME_MAX + 2];
	static char max_utf8[PRODUCT_NAME_MAX + 1]; /* 100 x "é" */
	static char over_utf8[PRODUCT_NAME_MAX + 3];
	static const struct str_case cases[] = {
		{ "Widget", true },
		{ "a", true },
		{ "Café crème", true },
		{ "日本語", true },
		{ "emoji \xf0\x9f\x98\x80", true },
		{ "U+10FFFF \xf4\x8f\xbf\xbf", true },
		{ "", false },
		{ NULL, false },
		{ "bad \xff byte", false },
		{ "lone continuation \x80", false },
		{ "truncated \xc3", false },
		{ "truncated3 \xe6\x97", false },
		{ "overlong \xc0\xaf", false },
		{ "overlong3 \xe0\x80\xaf", false },
		{ "overlong4 \xf0\x80\x80\xaf", false },
		{ "surrogate \xed\xa0\x80", false },
		{ "above max \xf4\x90\x80\x80", false },
		{ "f5 \xf5\x80\x80\x80", false },
		{ "tab\there", false },
		{ "newline\n", false },
		{ "del \x7f", false },
		{ "C1 \xc2\x85", false },
	};

	(void)state;
	CHECK_STR_TABLE(validate_name, cases);

	memset(max, 'n', PRODUCT_NAME_MAX);
	assert_true(validate_name(max));
	memset(over, 'n', PRODUCT_NAME_MAX + 1);
	assert_false(validate_name(over));
	for (int i = 0; i < PRODUCT_NAME_MAX / 2; i++) {
		memcpy(max_utf8 + 2 * i, "\xc3\xa9", 2);
	}
	assert_true(validate_name(max_utf8));
	/* 201 bytes, 101 characters: the limit counts bytes. */
	memcpy(over_utf8, max_utf8, PRODUCT_NAME_MAX);
	over_utf8[PRODUCT_NAME_MAX] = 'x';
	assert_false(validate_name(over_utf8));
}

static void
test_price(void **state)
{
	static const struct str_case cases[] = {
		{ "0", true },
		{ "19.90", true },
		{ "19.9", true },
		{ "0.10", true },
		{ "0.01", true },
		{ "9999999999.99", true },
		{ "9999999999", true },
		{ "", false },
		{ NULL, false },
		{ "-1", false },
		{ "+1", false },
		{ "1.234", false },
		{ "abc", false },
		{ "1e3", false },
		{ "1.", false },
		{ ".5", false },
		{ "1,50", false },
		{ " 1", false },
		{ "1 ", false },
		{ "NaN", false },
		{ "Infinity", false },
		{ "10000000000", false }, /* 11 integer digits */
		{ "1.2.3", false },
		{ "0x10", false },
	};

	(void)state;
	CHECK_STR_TABLE(validate_price, cases);
}

static void
test_stock(void **state)
{
	(void)state;
	assert_true(validate_stock(0));
	assert_true(validate_stock(1));
	assert_true(validate_stock(2147483647));
	assert_false(validate_stock(-1));
	assert_false(validate_stock(2147483648LL));
	assert_false(validate_stock(INT64_MIN));
	assert_false(validate_stock(INT64_MAX));
}

static void
test_request_id(void **state)
{
	static char                  max[REQUEST_ID_MAX + 1];
	static char                  over[REQUEST_ID_MAX + 2];
	static const struct str_case cases[] = {
		{ "r1", true },
		{ "0b1f3c2e-0000-4000-8000-000000000000", true },
		{ "~!@#$%^&*()", true },
		{ "0123456789abcdef0123456789abcdef",
		    true }, /* the client's */
		{ "t-1234-5-abcdef", true },
		{ "", false },
		{ "-", false }, /* what the logs print for none */
		{ "--", true },
		{ "has space", false },
		{ " ", false },
		{ "a=b", false },
		{ "code=OK", false },
		{ "quote\"", false },
		{ "back\\slash", false },
		{ "cr\r", false },
		{ "esc\x1b[2J", false },
		{ "nul-free\x01", false },
		{ NULL, false },
		{ "tab\t", false },
		{ "new\nline", false },
		{ "caf\xc3\xa9", false },
		{ "del\x7f", false },
	};

	(void)state;
	CHECK_STR_TABLE(validate_request_id, cases);
	memset(max, 'r', REQUEST_ID_MAX);
	assert_true(validate_request_id(max));
	memset(over, 'r', REQUEST_ID_MAX + 1);
	assert_false(validate_request_id(over));
}

static void
test_expected_version(void **state)
{
	(void)state;
	assert_true(validate_expected_version(1));
	assert_true(validate_expected_version(INT64_MAX));
	assert_false(validate_expected_version(0));
	assert_false(validate_expected_version(-1));
	assert_false(validate_expected_version(INT64_MIN));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid),
		cmocka_unit_test(test_uuid_lowercases),
		cmocka_unit_test(test_name),
		cmocka_unit_test(test_price),
		cmocka_unit_test(test_stock),
		cmocka_unit_test(test_request_id),
		cmocka_unit_test(test_expected_version),
	};

	return cmocka_run_group_tests_name("validate", tests, NULL, NULL);
}
