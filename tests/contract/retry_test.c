/* SPDX-License-Identifier: MIT */
/*
 * inventory_update_with_retry() when a write's outcome is unknown.
 *
 * The product row is locked from a libpq connection (SELECT ... FOR UPDATE
 * in an open transaction), so the server's UpdateStock blocks and the
 * client's 150 ms timeout expires: DEADLINE_EXCEEDED, the write may or may
 * not apply.  The helper must resend the SAME write (same request id) and,
 * once the lock is released, report OK with the version advanced by exactly
 * one although several copies of the write reached the server.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "contract.h"
#include "contract_db.h"

enum {
	HOLD_MS    = 700, /* how long the row stays locked */
	TIMEOUT_MS = 150, /* per call, well under HOLD_MS */
};

struct lock_holder {
	PGconn *db;
};

static void *
release_later(void *arg)
{
	struct lock_holder *h = arg;
	struct timespec ts = { HOLD_MS / 1000, (HOLD_MS % 1000) * 1000000L };

	nanosleep(&ts, NULL);
	contract_db_exec(h->db, "COMMIT", NULL);
	return NULL;
}

static inventory_code
minus_one(const inventory_product *current, int64_t *new_stock, void *arg)
{
	(void)arg;
	*new_stock = current->stock - 1;
	return INVENTORY_OK;
}

static void
test_unknown_outcome_resent_once(void **state)
{
	inventory_product    *p = contract_create("locked widget", 10, "1.00");
	inventory_product    *out = NULL, *after;
	inventory_status      st  = { 0 };
	inventory_retry_opts  opt = { .max_attempts = 50,
		 .initial_backoff_ms                = 5,
		 .max_backoff_ms                    = 20,
		 .timeout_ms                        = TIMEOUT_MS };
	inventory_client_opts o   = { .retry_max_tokens = 100 };
	inventory_client     *c   = NULL;
	struct lock_holder    h;
	pthread_t             t;
	inventory_code        code;
	int                   attempts = 0;
	inventory_retry_info  info;

	(void)state;
	/* Its own handle with a big retry budget: 4 or 5 timeouts behind
	 * the lock would leave the default bucket (10, retries while > 5)
	 * too close to empty for this test's point. */
	assert_int_equal(inventory_client_open_opts(&c, testenv_server(), &o),
	    INVENTORY_OK);
	h.db = contract_db_connect();
	contract_db_lock_product(h.db, p->id);
	assert_int_equal(pthread_create(&t, NULL, release_later, &h), 0);

	code = inventory_update_with_retry(
	    c, p->id, minus_one, NULL, &opt, &out, &st, &info);
	attempts = info.attempts;
	pthread_join(t, NULL);
	PQfinish(h.db);
	inventory_client_close(c);

	assert_code(code, INVENTORY_OK, &st);
	/* The first sends timed out behind the lock: the write was resent. */
	assert_true(attempts >= 2);
	assert_int_equal(out->version, 2);
	assert_int_equal(out->stock, 9);
	after = contract_get(p->id);
	assert_int_equal(after->version, 2);
	assert_int_equal(after->stock, 9);

	inventory_product_free(after);
	inventory_product_free(out);
	inventory_product_free(p);
	inventory_status_fini(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unknown_outcome_resent_once),
	};

	return cmocka_run_group_tests_name(
	    "contract.retry", tests, contract_setup, contract_teardown);
}
