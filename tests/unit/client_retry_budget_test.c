/* SPDX-License-Identifier: MIT */
/*
 * The retry budget of a client handle (client/retry_budget.h), as a pure
 * struct: no sockets.  gRPC's retry throttling numbers: a bucket of 10
 * tokens, 1 token per UNAVAILABLE or DEADLINE_EXCEEDED, 0.1 back per OK,
 * retries only while more than half the bucket is left; conflicts and
 * other answers of a healthy server change nothing; the calls of one
 * failed frame share one token; the count stays in
 * [0, max] also when many threads update it at once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "retry_budget.h"

static void
test_defaults(void **state)
{
	struct retry_budget b;

	(void)state;
	retry_budget_init(&b, 0, 0, 0);
	assert_int_equal(b.max_milli, 10000);
	assert_int_equal(b.ratio_milli, 100);
	assert_int_equal(retry_budget_milli(&b), 10000);
	assert_true(retry_budget_allows(&b));
	/* Capped, not refused. */
	retry_budget_init(&b, 5000, 0, 0);
	assert_int_equal(b.max_milli, 1000 * 1000);
}

static void
test_failures_spend_successes_refill(void **state)
{
	struct retry_budget b;

	(void)state;
	retry_budget_init(&b, 0, 0, 0);
	/* 10 -> 6: still more than half. */
	for (int i = 0; i < 4; i++)
		retry_budget_record(&b, INVENTORY_UNAVAILABLE);
	assert_int_equal(retry_budget_milli(&b), 6000);
	assert_true(retry_budget_allows(&b));
	/* 5 is not more than half: retries stop. */
	retry_budget_record(&b, INVENTORY_DEADLINE_EXCEEDED);
	assert_int_equal(retry_budget_milli(&b), 5000);
	assert_false(retry_budget_allows(&b));
	/* Answers of a healthy server that are not OK change nothing. */
	retry_budget_record(&b, INVENTORY_ABORTED);
	retry_budget_record(&b, INVENTORY_NOT_FOUND);
	retry_budget_record(&b, INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(retry_budget_milli(&b), 5000);
	/* One OK returns 0.1: 5.1 > 5, retries allowed again. */
	retry_budget_record(&b, INVENTORY_OK);
	assert_int_equal(retry_budget_milli(&b), 5100);
	assert_true(retry_budget_allows(&b));
	/* Never below 0 ... */
	for (int i = 0; i < 100; i++)
		retry_budget_record(&b, INVENTORY_UNAVAILABLE);
	assert_int_equal(retry_budget_milli(&b), 0);
	assert_false(retry_budget_allows(&b));
	/* ... and 51 OKs bring it from 0 back above half (5.1). */
	for (int i = 0; i < 50; i++)
		retry_budget_record(&b, INVENTORY_OK);
	assert_false(retry_budget_allows(&b));
	retry_budget_record(&b, INVENTORY_OK);
	assert_true(retry_budget_allows(&b));
	/* ... and never above the bucket. */
	for (int i = 0; i < 1000; i++)
		retry_budget_record(&b, INVENTORY_OK);
	assert_int_equal(retry_budget_milli(&b), 10000);
}

/* The calls of one failed frame share one token. */
static void
test_shared_frame(void **state)
{
	struct retry_budget b;

	(void)state;
	retry_budget_init(&b, 0, 0, 0);
	for (int i = 0; i < 8; i++)
		retry_budget_record_shared(&b, INVENTORY_UNAVAILABLE, 8);
	assert_int_equal(retry_budget_milli(&b), 9000);
	for (int i = 0; i < 3; i++)
		retry_budget_record_shared(&b, INVENTORY_DEADLINE_EXCEEDED, 3);
	assert_int_equal(retry_budget_milli(&b), 8001);
	/* 0 (never sent) is alone; OK is per call whatever the frame. */
	retry_budget_record_shared(&b, INVENTORY_UNAVAILABLE, 0);
	assert_int_equal(retry_budget_milli(&b), 7001);
	retry_budget_record_shared(&b, INVENTORY_OK, 8);
	assert_int_equal(retry_budget_milli(&b), 7101);
	/* Never free: a frame of more than 1000 calls still costs. */
	retry_budget_record_shared(&b, INVENTORY_UNAVAILABLE, 5000);
	assert_int_equal(retry_budget_milli(&b), 7100);
}

static void
test_configured_and_off(void **state)
{
	struct retry_budget b;

	(void)state;
	retry_budget_init(&b, 4, 500, 0);
	retry_budget_record(&b, INVENTORY_UNAVAILABLE);
	assert_true(retry_budget_allows(&b)); /* 3 > 2 */
	retry_budget_record(&b, INVENTORY_UNAVAILABLE);
	assert_false(retry_budget_allows(&b)); /* 2 */
	retry_budget_record(&b, INVENTORY_OK);
	assert_int_equal(retry_budget_milli(&b), 2500);
	assert_true(retry_budget_allows(&b));

	retry_budget_init(&b, 0, 0, 1);
	for (int i = 0; i < 20; i++)
		retry_budget_record(&b, INVENTORY_UNAVAILABLE);
	assert_int_equal(retry_budget_milli(&b), 0);
	assert_true(retry_budget_allows(&b)); /* throttling off */
}

static void *
hammer(void *arg)
{
	struct retry_budget *b = arg;

	for (int i = 0; i < 2000; i++)
		retry_budget_record(b, INVENTORY_OK);
	for (int i = 0; i < 50; i++)
		retry_budget_record(b, INVENTORY_UNAVAILABLE);
	return NULL;
}

/* No update is lost when threads race: from an empty bucket of 1000
 * tokens, 4 × (2000 OKs at 0.1 - 50 failures) is exactly 600 (each
 * thread's share never goes below 0 nor the sum above 1000: no clamp). */
static void
test_threads_lose_nothing(void **state)
{
	struct retry_budget b;
	pthread_t           th[4];

	(void)state;
	retry_budget_init(&b, 1000, 0, 0);
	atomic_store(&b.milli, 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, hammer, &b), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	assert_int_equal(retry_budget_milli(&b), 600 * 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_failures_spend_successes_refill),
		cmocka_unit_test(test_shared_frame),
		cmocka_unit_test(test_configured_and_off),
		cmocka_unit_test(test_threads_lose_nothing),
	};

	return cmocka_run_group_tests_name(
	    "client_retry_budget", tests, NULL, NULL);
}
