/* SPDX-License-Identifier: MIT */
/*
 * Concurrency: the last items.  A product has stock 5; 32 threads each try
 * to buy one with inventory_update_with_retry() and a callback that
 * refuses (FAILED_PRECONDITION) when the stock is 0 and otherwise writes
 * stock - 1.  Exactly 5 purchases succeed, the other 27 get
 * FAILED_PRECONDITION, nothing else happens, and the product ends at
 * stock 0, version 6: no oversell, no lost sale.  The five successful
 * writes are exactly versions 2..6 with stocks 4..0.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"

enum { BUYERS = 32, STOCK = 5, ROUNDS = 3 };

struct buyer {
	pthread_t          thread;
	const char        *id;
	pthread_barrier_t *go;
	inventory_code     rv;
	inventory_product  got;
	int                attempts;
	int                negative_seen; /* the callback saw stock < 0 */
	char               msg[300];
};

static inventory_code
buy_one(const inventory_product *cur, int64_t *new_stock, void *arg)
{
	struct buyer *b = arg;

	if (cur->stock < 0) {
		b->negative_seen = 1;
	}
	if (cur->stock <= 0) {
		return INVENTORY_FAILED_PRECONDITION;
	}
	*new_stock = cur->stock - 1;
	return INVENTORY_OK;
}

static void *
buyer_run(void *p)
{
	struct buyer              *b   = p;
	const inventory_retry_opts ro  = { .max_attempts = 50,
		 .initial_backoff_ms                     = 1,
		 .max_backoff_ms                         = 10 };
	inventory_product         *out = NULL;
	inventory_status           st;
	inventory_retry_info       info;

	memset(&st, 0, sizeof(st));
	pthread_barrier_wait(b->go);
	b->rv = inventory_update_with_retry(
	    contract_client, b->id, buy_one, b, &ro, &out, &st, &info);
	b->attempts = info.attempts;
	if (out != NULL) {
		b->got = *out;
	}
	snprintf(b->msg, sizeof(b->msg), "%s", st.message);
	inventory_product_free(out);
	inventory_status_fini(&st);
	return NULL;
}

static void
one_round(int round)
{
	struct buyer      *b = calloc(BUYERS, sizeof(*b));
	pthread_barrier_t  go;
	inventory_product *p, *final;
	int                ok = 0, refused = 0;
	int                seen[STOCK + 2] = { 0 };
	char               name[64];

	assert_non_null(b);
	snprintf(name, sizeof(name), "last-items-%d", round);
	p = contract_create(name, STOCK, "9.99");
	pthread_barrier_init(&go, NULL, BUYERS);
	for (int i = 0; i < BUYERS; i++) {
		b[i].id = p->id;
		b[i].go = &go;
		assert_int_equal(
		    pthread_create(&b[i].thread, NULL, buyer_run, &b[i]), 0);
	}
	for (int i = 0; i < BUYERS; i++) {
		pthread_join(b[i].thread, NULL);
	}
	pthread_barrier_destroy(&go);
	for (int i = 0; i < BUYERS; i++) {
		assert_false(b[i].negative_seen);
		switch (b[i].rv) {
		case INVENTORY_OK:
			ok++;
			/* A sale is version v with stock 6 - v. */
			if (b[i].got.version < 2 ||
			    b[i].got.version > STOCK + 1 ||
			    b[i].got.stock != STOCK + 1 - b[i].got.version) {
				fail_msg(
				    "buyer %d: sale at version %lld stock "
				    "%lld",
				    i, (long long)b[i].got.version,
				    (long long)b[i].got.stock);
			}
			seen[b[i].got.version]++;
			break;
		case INVENTORY_FAILED_PRECONDITION:
			refused++;
			break;
		default:
			fail_msg("buyer %d: %s after %d attempts: %s", i,
			    inventory_code_name(b[i].rv), b[i].attempts,
			    b[i].msg);
		}
	}
	assert_int_equal(ok, STOCK);
	assert_int_equal(refused, BUYERS - STOCK);
	for (int v = 2; v <= STOCK + 1; v++) {
		if (seen[v] != 1) {
			fail_msg("version %d was sold %d times", v, seen[v]);
		}
	}
	final = contract_get(p->id);
	assert_int_equal(final->stock, 0);
	assert_int_equal(final->version, STOCK + 1);
	inventory_product_free(final);
	inventory_product_free(p);
	free(b);
}

static void
test_last_items(void **state)
{
	(void)state;
	for (int r = 0; r < ROUNDS; r++) {
		one_round(r);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_last_items),
	};

	return cmocka_run_group_tests_name("concurrency.last_items", tests,
	    contract_setup, contract_teardown);
}
