/* SPDX-License-Identifier: MIT */
/*
 * Concurrency: AdjustStock under contention.  A product has stock 20; 16
 * threads each send ATTEMPTS adjustments of -1 at once (32 in all, more
 * than the stock).  Exactly 20 succeed and 12 get FAILED_PRECONDITION with
 * a current product of stock 0; no conflict and no other code (no
 * expected_version: the adjustments queue on the row lock).  The 20
 * successes are exactly versions 2..21 with stocks 19..0, each once, and
 * the product ends at stock 0, version 21.  Meanwhile a reader polls the
 * product and must never see a negative stock.  Six rounds, half with
 * coalesced calls, half with every call in its own frame.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"

enum { CALLERS = 16, ATTEMPTS = 2, STOCK = 20, ROUNDS = 3 };

struct result {
	inventory_code rv;
	int64_t        stock;   /* OK: after; FAILED_PRECONDITION: current */
	int64_t        version; /* likewise */
	char           msg[256];
};

struct caller {
	pthread_t          thread;
	inventory_client  *client;
	const char        *id;
	pthread_barrier_t *go;
	struct result      r[ATTEMPTS];
};

static void *
caller_run(void *arg)
{
	struct caller *c = arg;

	pthread_barrier_wait(c->go);
	for (int k = 0; k < ATTEMPTS; k++) {
		inventory_product *out = NULL;
		inventory_status   st;

		memset(&st, 0, sizeof(st));
		c->r[k].rv = inventory_adjust_stock(
		    c->client, c->id, -1, 0, NULL, &out, &st);
		if (out != NULL) {
			c->r[k].stock   = out->stock;
			c->r[k].version = out->version;
		} else if (st.current != NULL) {
			c->r[k].stock   = st.current->stock;
			c->r[k].version = st.current->version;
		} else {
			c->r[k].stock = c->r[k].version = -1;
		}
		snprintf(c->r[k].msg, sizeof(c->r[k].msg), "%s", st.message);
		inventory_product_free(out);
		inventory_status_fini(&st);
	}
	return NULL;
}

struct reader {
	pthread_t   thread;
	const char *id;
	atomic_int  stop;
	int64_t     min_stock;
	int         reads;
	int         errors;
};

static void *
reader_run(void *arg)
{
	struct reader *r = arg;

	while (!atomic_load(&r->stop)) {
		inventory_product *p = NULL;

		if (inventory_get_product(contract_client, r->id, NULL, &p,
		        NULL) != INVENTORY_OK) {
			r->errors++;
			continue;
		}
		if (p->stock < r->min_stock) {
			r->min_stock = p->stock;
		}
		r->reads++;
		inventory_product_free(p);
	}
	return NULL;
}

/* Rounds alternate: calls coalesced into shared frames (the executor
 * plans them), then every call in its own frame (separate executors, the
 * row lock decides). */
static void
one_round(int round, inventory_client *client)
{
	struct caller     *c = calloc(CALLERS, sizeof(*c));
	struct reader      rd;
	pthread_barrier_t  go;
	inventory_product *p, *final;
	int                ok = 0, refused = 0;
	int                seen[STOCK + 2] = { 0 };
	char               name[64];

	assert_non_null(c);
	snprintf(name, sizeof(name), "adjust-race-%d", round);
	p = contract_create(name, STOCK, "1.00");
	memset(&rd, 0, sizeof(rd));
	rd.id        = p->id;
	rd.min_stock = STOCK;
	atomic_init(&rd.stop, 0);
	assert_int_equal(pthread_create(&rd.thread, NULL, reader_run, &rd), 0);
	pthread_barrier_init(&go, NULL, CALLERS);
	for (int i = 0; i < CALLERS; i++) {
		c[i].id     = p->id;
		c[i].go     = &go;
		c[i].client = client;
		assert_int_equal(
		    pthread_create(&c[i].thread, NULL, caller_run, &c[i]), 0);
	}
	for (int i = 0; i < CALLERS; i++) {
		pthread_join(c[i].thread, NULL);
	}
	atomic_store(&rd.stop, 1);
	pthread_join(rd.thread, NULL);
	pthread_barrier_destroy(&go);
	for (int i = 0; i < CALLERS; i++) {
		for (int k = 0; k < ATTEMPTS; k++) {
			const struct result *r = &c[i].r[k];

			switch (r->rv) {
			case INVENTORY_OK:
				ok++;
				/* Sale number v-1 leaves STOCK + 1 - v. */
				if (r->version < 2 || r->version > STOCK + 1 ||
				    r->stock != STOCK + 1 - r->version) {
					fail_msg("caller %d/%d: OK at version "
					         "%lld stock %lld",
					    i, k, (long long)r->version,
					    (long long)r->stock);
				}
				seen[r->version]++;
				break;
			case INVENTORY_FAILED_PRECONDITION:
				refused++;
				/* Refused only once the stock is gone. */
				if (r->stock != 0) {
					fail_msg("caller %d/%d: refused with "
					         "current stock %lld: %s",
					    i, k, (long long)r->stock, r->msg);
				}
				break;
			default:
				fail_msg("caller %d/%d: %s: %s", i, k,
				    inventory_code_name(r->rv), r->msg);
			}
		}
	}
	assert_int_equal(ok, STOCK);
	assert_int_equal(refused, CALLERS * ATTEMPTS - STOCK);
	for (int v = 2; v <= STOCK + 1; v++) {
		if (seen[v] != 1) {
			fail_msg(
			    "version %d acknowledged %d times", v, seen[v]);
		}
	}
	if (rd.min_stock < 0) {
		fail_msg("a read saw stock %lld", (long long)rd.min_stock);
	}
	assert_int_equal(rd.errors, 0);
	final = contract_get(p->id);
	assert_int_equal(final->stock, 0);
	assert_int_equal(final->version, STOCK + 1);
	inventory_product_free(final);
	inventory_product_free(p);
	free(c);
}

static void
test_adjust_race(void **state)
{
	inventory_client     *alone = NULL;
	inventory_client_opts co    = { .no_coalesce = 1 };

	(void)state;
	assert_int_equal(
	    inventory_client_open_opts(&alone, testenv_server(), &co),
	    INVENTORY_OK);
	inventory_client_set_timeout(alone, 10000);
	for (int r = 0; r < ROUNDS * 2; r++) {
		one_round(r, r % 2 == 0 ? contract_client : alone);
	}
	inventory_client_close(alone);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adjust_race),
	};

	return cmocka_run_group_tests_name("concurrency.adjust_race", tests,
	    contract_setup, contract_teardown);
}
