/*
 * A request's deadline bounds its work in PostgreSQL too.
 *
 * The product row is locked from a libpq connection (SELECT ... FOR
 * UPDATE in an open transaction), so an UpdateStock with a 300 ms budget
 * waits on the lock.  Once the budget is spent the server must cancel the
 * statement: no inventoryd backend may still be blocked by the holder
 * shortly after, although the lock is still held, and the cancelled write
 * must not have been applied.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "contract.h"
#include "contract_db.h"

enum {
	BUDGET_MS = 300,  /* the request's timeout */
	SETTLE_MS = 2000, /* how long the server may take to let go */
};

/* inventoryd backends currently blocked by the backend `holder`. */
static long long
blocked_by(PGconn *monitor, int holder)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", holder);
	return contract_db_exec(monitor,
	    "SELECT count(*) FROM pg_stat_activity"
	    " WHERE application_name = 'inventoryd'"
	    " AND $1::int = ANY (pg_blocking_pids(pid))",
	    pid);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static void
test_deadline_cancels_lock_wait(void **state)
{
	inventory_product  *p = contract_create("deadline widget", 10, "2.00");
	inventory_product  *out = NULL, *after;
	inventory_status    st  = { 0 };
	inventory_call_opts opt = { .timeout_ms = BUDGET_MS };
	PGconn             *holder, *monitor;
	inventory_code      code;
	long long           blocked = -1;
	int                 waited;

	(void)state;
	holder  = contract_db_connect();
	monitor = contract_db_connect();
	contract_db_lock_product(holder, p->id);

	code = inventory_update_stock(
	    contract_client, p->id, 9, 1, &opt, &out, &st);
	assert_code(code, INVENTORY_DEADLINE_EXCEEDED, &st);

	/* The lock is still held: only a cancel can free the backend. */
	for (waited = 0; waited <= SETTLE_MS; waited += 50) {
		blocked = blocked_by(monitor, PQbackendPID(holder));
		if (blocked == 0)
			break;
		sleep_ms(50);
	}
	printf("inventoryd backends still blocked %d ms after the deadline: "
	       "%lld\n",
	    waited, blocked);
	assert_int_equal(blocked, 0);

	contract_db_exec(holder, "COMMIT", NULL);
	/* The cancelled write was not applied. */
	after = contract_get(p->id);
	assert_int_equal(after->version, 1);
	assert_int_equal(after->stock, 10);

	PQfinish(monitor);
	PQfinish(holder);
	inventory_product_free(after);
	inventory_product_free(out);
	inventory_product_free(p);
	inventory_status_fini(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadline_cancels_lock_wait),
	};

	return cmocka_run_group_tests_name(
	    "contract.deadline", tests, contract_setup, contract_teardown);
}
