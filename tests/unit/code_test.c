/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/base/code.c: status code numbers and names.  The numbers
 * are gRPC's (DESIGN.md) and must never drift; every name must be the
 * spelling clients see ("ABORTED"), and numbers outside the enum are
 * "UNKNOWN", never NULL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/code.h"

static const struct {
	int         code;
	int         number;
	const char *name;
} table[] = {
	{ CODE_OK, 0, "OK" },
	{ CODE_CANCELLED, 1, "CANCELLED" },
	{ CODE_INVALID_ARGUMENT, 3, "INVALID_ARGUMENT" },
	{ CODE_DEADLINE_EXCEEDED, 4, "DEADLINE_EXCEEDED" },
	{ CODE_NOT_FOUND, 5, "NOT_FOUND" },
	{ CODE_ALREADY_EXISTS, 6, "ALREADY_EXISTS" },
	{ CODE_RESOURCE_EXHAUSTED, 8, "RESOURCE_EXHAUSTED" },
	{ CODE_FAILED_PRECONDITION, 9, "FAILED_PRECONDITION" },
	{ CODE_ABORTED, 10, "ABORTED" },
	{ CODE_UNIMPLEMENTED, 12, "UNIMPLEMENTED" },
	{ CODE_INTERNAL, 13, "INTERNAL" },
	{ CODE_UNAVAILABLE, 14, "UNAVAILABLE" },
	{ CODE_UNAUTHENTICATED, 16, "UNAUTHENTICATED" },
};

static void
test_numbers_are_grpc(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (table[i].code != table[i].number) {
			fail_msg("%s is %d, want %d", table[i].name,
			    table[i].code, table[i].number);
		}
	}
}

static void
test_names(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		assert_string_equal(code_name(table[i].code), table[i].name);
	}
	/* The ones without a CODE_ constant still have their gRPC names. */
	assert_string_equal(code_name(2), "UNKNOWN");
	assert_string_equal(code_name(7), "PERMISSION_DENIED");
	assert_string_equal(code_name(11), "OUT_OF_RANGE");
	assert_string_equal(code_name(15), "DATA_LOSS");
}

static void
test_out_of_range_is_unknown(void **state)
{
	static const int bad[] = { -1, 17, 100, 65536, -2147483647 - 1,
		2147483647 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *n = code_name(bad[i]);
		assert_non_null(n);
		assert_string_equal(n, "UNKNOWN");
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_numbers_are_grpc),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_out_of_range_is_unknown),
	};

	return cmocka_run_group_tests_name("code", tests, NULL, NULL);
}
