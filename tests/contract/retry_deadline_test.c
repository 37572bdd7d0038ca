/* SPDX-License-Identifier: MIT */
/*
 * inventory_update_with_retry(): the caller's request id, the overall
 * deadline, and finishing a write of unknown outcome after the helper
 * gave up, against the real server.
 *
 * - A caller-supplied request id is the id of the write, reported back in
 *   the info; resending that write with it returns the first outcome.
 * - With the product row locked from libpq (SELECT ... FOR UPDATE in an
 *   open transaction) every write times out behind the lock.  The helper
 *   must stop at its overall deadline (plus a little slack), not at
 *   max_attempts, and report DEADLINE_EXCEEDED with outcome_unknown and
 *   the last write (the caller's id, stock, version).  Once the lock is
 *   released, resending exactly that write resolves it: OK, and the
 *   product moved by exactly one version however many copies of the
 *   write reached the server.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "contract.h"
#include "contract_db.h"

enum {
	DEADLINE_MS = 500, /* the helper's overall deadline */
	TIMEOUT_MS  = 150, /* per call, so several writes fit */
	SLACK_MS    = 300, /* scheduling (and sanitizers) */
};

static inventory_code
minus_one(const inventory_product *current, int64_t *new_stock, void *arg)
{
	(void)arg;
	*new_stock = current->stock - 1;
	return INVENTORY_OK;
}

static long long
ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000LL +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
test_caller_request_id(void **state)
{
	inventory_product   *p = contract_create("own id widget", 10, "1.00");
	inventory_product   *out = NULL, *again = NULL, *after;
	inventory_status     st = { 0 };
	inventory_retry_opts ro = { 0 };
	inventory_retry_info info;
	inventory_call_opts  co = { 0 };
	char                 rid[INVENTORY_REQUEST_ID_MAX + 1];

	(void)state;
	testenv_request_id(rid, sizeof(rid));
	ro.request_id = rid;
	assert_code(inventory_update_with_retry(contract_client, p->id,
	                minus_one, NULL, &ro, &out, &st, &info),
	    INVENTORY_OK, &st);
	assert_string_equal(info.request_id, rid);
	assert_int_equal(info.attempts, 1);
	assert_int_equal(info.reads, 1);
	assert_false(info.outcome_unknown);
	assert_int_equal(info.new_stock, 9);
	assert_int_equal(info.expected_version, 1);
	assert_int_equal(out->version, 2);

	/* The same write with the same id: the first outcome, not applied
	 * again. */
	co.request_id = info.request_id;
	assert_code(
	    inventory_update_stock(contract_client, p->id, info.new_stock,
	        info.expected_version, &co, &again, &st),
	    INVENTORY_OK, &st);
	assert_int_equal(again->version, 2);
	assert_int_equal(again->stock, 9);
	after = contract_get(p->id);
	assert_int_equal(after->version, 2);
	assert_int_equal(after->stock, 9);

	inventory_product_free(after);
	inventory_product_free(again);
	inventory_product_free(out);
	inventory_product_free(p);
	inventory_status_fini(&st);
}

static void
test_deadline_then_resolve(void **state)
{
	inventory_product *p = contract_create("deadline widget", 10, "1.00");
	inventory_product *out = NULL, *res = NULL, *after;
	inventory_status   st    = { 0 };
	inventory_client_opts o  = { .no_retry_throttle = 1 };
	inventory_retry_opts  ro = { .max_attempts = 1000,
		 .initial_backoff_ms               = 5,
		 .max_backoff_ms                   = 20,
		 .timeout_ms                       = TIMEOUT_MS,
		 .deadline_ms                      = DEADLINE_MS };
	inventory_retry_info  info;
	inventory_call_opts   co = { .timeout_ms = 10000 };
	inventory_client     *c  = NULL;
	struct timespec       t0;
	char                  rid[INVENTORY_REQUEST_ID_MAX + 1];
	PGconn               *db;
	inventory_code        code;
	long long             ms;

	(void)state;
	/* Its own handle, throttling off: this test is about the deadline,
	 * and the writes timing out behind the lock would spend the
	 * budget of a shared one. */
	assert_code(inventory_client_open_opts(&c, testenv_server(), &o),
	    INVENTORY_OK, (inventory_status *)NULL);
	testenv_request_id(rid, sizeof(rid));
	ro.request_id = rid;
	db            = contract_db_connect();
	contract_db_lock_product(db, p->id);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	code = inventory_update_with_retry(
	    c, p->id, minus_one, NULL, &ro, &out, &st, &info);
	ms = ms_since(&t0);

	assert_code(code, INVENTORY_DEADLINE_EXCEEDED, &st);
	assert_null(out);
	if (ms > DEADLINE_MS + SLACK_MS)
		fail_msg(
		    "deadline %d ms, returned after %lld ms", DEADLINE_MS, ms);
	assert_true(info.attempts >= 2); /* resent, then stopped */
	assert_true(info.attempts < 1000);
	assert_true(info.outcome_unknown);
	assert_false(info.throttled);
	assert_string_equal(info.request_id, rid);
	assert_int_equal(info.new_stock, 9);
	assert_int_equal(info.expected_version, 1);
	assert_non_null(strstr(st.message, "overall deadline"));
	print_message("deadline %d ms: returned after %lld ms, %d writes\n",
	    DEADLINE_MS, ms, info.attempts);

	/* Release the lock, then finish the write of unknown outcome:
	 * the same write, the same id. */
	contract_db_exec(db, "COMMIT", NULL);
	PQfinish(db);
	co.request_id = info.request_id;
	assert_code(inventory_update_stock(c, p->id, info.new_stock,
	                info.expected_version, &co, &res, &st),
	    INVENTORY_OK, &st);
	assert_int_equal(res->version, 2);
	assert_int_equal(res->stock, 9);
	inventory_product_free(res);
	res = NULL;
	/* Resolving twice changes nothing either. */
	assert_code(inventory_update_stock(c, p->id, info.new_stock,
	                info.expected_version, &co, &res, &st),
	    INVENTORY_OK, &st);
	assert_int_equal(res->version, 2);
	after = contract_get(p->id);
	assert_int_equal(after->version, 2); /* applied exactly once */
	assert_int_equal(after->stock, 9);

	inventory_product_free(after);
	inventory_product_free(res);
	inventory_product_free(p);
	inventory_status_fini(&st);
	inventory_client_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caller_request_id),
		cmocka_unit_test(test_deadline_then_resolve),
	};

	return cmocka_run_group_tests_name("contract.retry_deadline", tests,
	    contract_setup, contract_teardown);
}
