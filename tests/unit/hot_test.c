/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/ops/hot.c, the hot-product monitor: its memory does not
 * move while 100,000 distinct products conflict (the structure is fixed
 * at creation) and it still names the one product a storm hit, first and
 * with a count never under the truth; small sets are counted exactly, in
 * order; the view forgets what is older than a minute.
 */
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "ops/hot.h"

#define SEC 1000000000ull

/* A canonical-looking UUID for product i. */
static void
make_id(char *out, unsigned long i)
{
	snprintf(out, PRODUCT_ID_LEN + 1, "%08lx-0000-4000-8000-%012lx",
	    i & 0xffffffffUL, i * 2654435761UL & 0xffffffffffffUL);
}

static void
test_flat_memory_finds_hot(void **state)
{
	struct hot      *h;
	struct hot_entry top[HOT_TOP];
	char             id[PRODUCT_ID_LEN + 1], hot_id[PRODUCT_ID_LEN + 1];
	uint64_t         now = 1000 * SEC, total;
	size_t           before, after, n;
	const unsigned   distinct = 100000, every = 10;

	(void)state;
	h = hot_create();
	assert_non_null(h);
	/* Fixed and small: six windows of HOT_SLOTS counters. */
	assert_true(hot_size() < 256 * 1024);
	make_id(hot_id, 999999999);

	/* Warm up what the warning line allocates once per process (the
	 * C library's time zone data) on a throw-away monitor. */
	{
		struct hot *w = hot_create();
		assert_non_null(w);
		for (int k = 0; k < HOT_WARN_PER_MINUTE + 1; k++)
			hot_record(w, hot_id, 1, 2, now);
		hot_record(w, hot_id, 1, 2, now + 2 * SEC);
		hot_destroy(w);
	}
	before = mallinfo2().uordblks;
	for (unsigned long i = 0; i < distinct; i++) {
		make_id(id, i);
		/* 100,000 products over 5 s of one 10 s window */
		hot_record(h, id, 7, 2, now + i * (5 * SEC / distinct));
		if (i % every == 0)
			hot_record(h, hot_id, (int64_t)i + 2, 2,
			    now + i * (5 * SEC / distinct));
	}
	after = mallinfo2().uordblks;
	/* Nothing allocated that stayed: the memory is flat. */
	assert_int_equal(before, after);

	n = hot_top(h, now + 6 * SEC, top, HOT_TOP, &total, NULL);
	assert_true(n >= 1);
	assert_string_equal(top[0].id, hot_id);
	/* Never under the truth; the error bounds the overcount. */
	assert_true(top[0].conflicts >= distinct / every);
	assert_true(top[0].conflicts - top[0].error <= distinct / every);
	assert_int_equal(top[0].last_version, (int64_t)(distinct - every) + 2);
	assert_int_equal(total, distinct + distinct / every);
	hot_destroy(h);
}

static void
test_exact_order(void **state)
{
	struct hot      *h = hot_create();
	struct hot_entry top[HOT_TOP];
	char             id[PRODUCT_ID_LEN + 1];
	uint64_t         now = 5000 * SEC, total;
	size_t           n;

	(void)state;
	assert_non_null(h);
	/* product i gets i conflicts, i = 1..30 */
	for (unsigned long i = 1; i <= 30; i++) {
		make_id(id, i);
		for (unsigned long k = 0; k < i; k++)
			hot_record(h, id, (int64_t)k + 2, 1, now);
	}
	n = hot_top(h, now + SEC, top, HOT_TOP, &total, NULL);
	assert_int_equal(n, HOT_TOP);
	assert_int_equal(total, 30 * 31 / 2);
	for (size_t j = 0; j < n; j++) {
		make_id(id, 30 - j);
		assert_string_equal(top[j].id, id);
		assert_int_equal(top[j].conflicts, 30 - j);
		assert_int_equal(top[j].error, 0);
		assert_int_equal(top[j].last_version, (int64_t)(30 - j) + 1);
	}
	hot_destroy(h);
}

static void
test_sliding_minute(void **state)
{
	struct hot      *h = hot_create();
	struct hot_entry top[HOT_TOP];
	char             a[PRODUCT_ID_LEN + 1], b[PRODUCT_ID_LEN + 1];
	uint64_t         t = 9000 * SEC, total;
	double           span;
	size_t           n;

	(void)state;
	assert_non_null(h);
	make_id(a, 1);
	make_id(b, 2);
	hot_record(h, a, 3, 1, t);
	hot_record(h, a, 4, 1, t + 1 * SEC);
	hot_record(h, b, 9, 1, t + 30 * SEC);
	/* At t + 35 s both are in the minute, a first. */
	n = hot_top(h, t + 35 * SEC, top, HOT_TOP, &total, &span);
	assert_int_equal(n, 2);
	assert_string_equal(top[0].id, a);
	assert_int_equal(top[0].conflicts, 2);
	assert_int_equal(top[0].last_version, 4);
	assert_int_equal(total, 3);
	assert_true(span >= 50.0 && span <= 60.0);
	/* At t + 75 s only b's window is left. */
	n = hot_top(h, t + 75 * SEC, top, HOT_TOP, &total, NULL);
	assert_int_equal(n, 1);
	assert_string_equal(top[0].id, b);
	/* At t + 100 s nothing. */
	n = hot_top(h, t + 100 * SEC, top, HOT_TOP, &total, NULL);
	assert_int_equal(n, 0);
	assert_int_equal(total, 0);
	hot_destroy(h);
}

static void
test_json(void **state)
{
	struct hot *h   = hot_create();
	char       *buf = NULL;
	size_t      len = 0;
	FILE       *out;
	char        id[PRODUCT_ID_LEN + 1];
	json_t     *o, *p;

	(void)state;
	assert_non_null(h);
	make_id(id, 42);
	hot_record(h, id, 5, 1, 100 * SEC);
	out = open_memstream(&buf, &len);
	assert_non_null(out);
	assert_int_equal(hot_write_json(h, 101 * SEC, out), 0);
	fclose(out);
	assert_non_null(strstr(buf, id));
	assert_non_null(strstr(buf, "\"conflicts\":1,"));
	assert_non_null(strstr(buf, "\"last_version\":5"));
	assert_int_equal(buf[0], '{');
	/* One object and a newline: the fields in the page's order, the
	 * figures as their rounded decimals (1 conflict over the 51 s since
	 * the first window began). */
	assert_int_equal(buf[len - 1], '\n');
	assert_non_null(
	    strstr(buf, "{\"window_seconds\":51.0,\"conflicts\":1,"
	                "\"tracked_per_window\":128,\"products\":[{"));
	assert_non_null(strstr(buf, "\"conflicts_per_second\":0.02,"
	                            "\"share\":1.0,"));
	o = json_loadb(buf, len, 0, NULL);
	assert_non_null(o);
	p = json_array_get(json_object_get(o, "products"), 0);
	assert_string_equal(json_string_value(json_object_get(p, "id")), id);
	assert_int_equal(json_integer_value(json_object_get(p, "error")), 0);
	assert_non_null(json_string_value(json_object_get(p, "method")));
	json_decref(o);
	free(buf);
	hot_destroy(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_flat_memory_finds_hot),
		cmocka_unit_test(test_exact_order),
		cmocka_unit_test(test_sliding_minute),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
