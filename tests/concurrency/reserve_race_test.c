/* SPDX-License-Identifier: MIT */
/*
 * Concurrency: multi-item reservations over overlapping products.  8
 * products start at stock STOCK; 8 threads (half on the shared coalescing
 * handle, half on a handle that sends every call alone) each send ORDERS
 * reservations of 1..4 distinct products, 1..5 units each, until the
 * stock runs out, while 4 more threads AdjustStock the same products by
 * -2..+2.  Every call is OK or FAILED_PRECONDITION (takes and adjustments
 * only: no conflict, and never another code), and:
 *  - per product, final stock = STOCK - sum of acknowledged quantities
 *    (and adjustments) and final version = 1 + number of acknowledged
 *    orders and adjustments on it (a refused
 *    order that was half applied, or an acknowledged one that was not,
 *    breaks one of the two);
 *  - the acknowledged orders are a serial history: per product, their
 *    versions are exactly 2..final, each once, and the stock an order
 *    returns at version v is the stock at v-1 minus its quantity;
 *  - a refused order names at least one item whose current stock is
 *    below its quantity, and never an item with enough.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"

enum {
	PRODUCTS  = 8,
	THREADS   = 8,
	ADJUSTERS = 4,
	ORDERS    = 60,
	STOCK     = 150,
	MAXITEMS  = 4,
	MAXVER    = (THREADS + ADJUSTERS) * ORDERS + 2,
};

static inventory_product *prod[PRODUCTS];

/* Per product and version: the stock an acknowledged order left and the
 * quantity it took; filled under `mu`. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static int             ver_seen[PRODUCTS][MAXVER];
static int64_t         ver_stock[PRODUCTS][MAXVER];
static int64_t         ver_qty[PRODUCTS][MAXVER];
static int64_t         taken[PRODUCTS];
static int             acked[PRODUCTS];

struct worker {
	pthread_t          thread;
	int                n;
	inventory_client  *client;
	pthread_barrier_t *go;
	unsigned           seed;
	int                ok, refused;
	char               failure[512]; /* first broken invariant */
	int                unexpected;   /* calls answered another code */
	char               first_unexpected[512];
};

static void *
worker_run(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->go);
	for (int o = 0; o < ORDERS && w->failure[0] == '\0'; o++) {
		inventory_reserve_item items[MAXITEMS];
		int                    which[MAXITEMS];
		int                n = 1 + (int)(rand_r(&w->seed) % MAXITEMS);
		int                first = (int)(rand_r(&w->seed) % PRODUCTS);
		int                step  = 1 + (int)(rand_r(&w->seed) % 3);
		inventory_product *out   = NULL;
		inventory_item_error *errs  = NULL;
		size_t                nerrs = 0;
		inventory_status      st;
		inventory_code        rv;

		memset(&st, 0, sizeof(st));
		/* Distinct products: first + i * step (mod 8) with step 1
		 * or 3, odd and so coprime with 8. */
		for (int i = 0; i < n; i++) {
			which[i] =
			    (first + i * (step == 2 ? 1 : step)) % PRODUCTS;
			items[i] = (inventory_reserve_item) {
				.id = prod[which[i]]->id,
				.quantity =
				    1 + (int64_t)(rand_r(&w->seed) % 5),
			};
		}
		rv = inventory_reserve(w->client, items, (size_t)n, NULL, &out,
		    &st, &errs, &nerrs);
		if (rv == INVENTORY_OK) {
			w->ok++;
			pthread_mutex_lock(&mu);
			for (int i = 0; i < n; i++) {
				int     p = which[i];
				int64_t v = out[i].version;

				if (strcmp(out[i].id, items[i].id) != 0 ||
				    v < 2 || v >= MAXVER || out[i].stock < 0) {
					snprintf(w->failure,
					    sizeof(w->failure),
					    "order %d item %d: product %s "
					    "version %lld stock %lld",
					    o, i, out[i].id, (long long)v,
					    (long long)out[i].stock);
					break;
				}
				ver_seen[p][v]++;
				ver_stock[p][v] = out[i].stock;
				ver_qty[p][v]   = items[i].quantity;
				taken[p] += items[i].quantity;
				acked[p]++;
			}
			pthread_mutex_unlock(&mu);
		} else if (rv == INVENTORY_FAILED_PRECONDITION) {
			w->refused++;
			if (nerrs == 0) {
				snprintf(w->failure, sizeof(w->failure),
				    "order %d refused with no failing item",
				    o);
			}
			for (size_t k = 0; k < nerrs; k++) {
				const inventory_item_error *e = &errs[k];

				if (e->index >= (size_t)n ||
				    e->code != INVENTORY_FAILED_PRECONDITION ||
				    e->current.stock >=
				        items[e->index].quantity) {
					snprintf(w->failure,
					    sizeof(w->failure),
					    "order %d: item %zu %s with stock "
					    "%lld for %lld",
					    o, e->index,
					    inventory_code_name(e->code),
					    (long long)e->current.stock,
					    e->index < (size_t)n
					        ? (long long)items[e->index]
					              .quantity
					        : -1LL);
					break;
				}
			}
		} else if (w->unexpected++ == 0) {
			/* Nothing applied either (checked at the end); keep
			 * going so the final tallies are checked too. */
			snprintf(w->first_unexpected,
			    sizeof(w->first_unexpected),
			    "order %d (%d items): %s: %s", o, n,
			    inventory_code_name(rv), st.message);
		}
		inventory_product_free(out);
		free(errs);
		inventory_status_fini(&st);
	}
	return NULL;
}

/* An adjuster: AdjustStock of -2..+2 (not 0) on one product at a time,
 * concurrently with the reservations; its acknowledged adjustments are
 * part of each product's serial history like the orders. */
static void *
adjuster_run(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(w->go);
	for (int o = 0; o < ORDERS && w->failure[0] == '\0'; o++) {
		int                p     = (int)(rand_r(&w->seed) % PRODUCTS);
		int64_t            delta = 1 + (int64_t)(rand_r(&w->seed) % 2);
		inventory_product *out   = NULL;
		inventory_status   st;
		inventory_code     rv;

		if (rand_r(&w->seed) % 3 != 0)
			delta = -delta;
		memset(&st, 0, sizeof(st));
		rv = inventory_adjust_stock(
		    w->client, prod[p]->id, delta, 0, NULL, &out, &st);
		if (rv == INVENTORY_OK) {
			int64_t v = out->version;

			w->ok++;
			pthread_mutex_lock(&mu);
			if (v < 2 || v >= MAXVER || out->stock < 0) {
				snprintf(w->failure, sizeof(w->failure),
				    "adjust %d: version %lld stock %lld", o,
				    (long long)v, (long long)out->stock);
			} else {
				ver_seen[p][v]++;
				ver_stock[p][v] = out->stock;
				ver_qty[p][v]   = -delta;
				taken[p] -= delta;
				acked[p]++;
			}
			pthread_mutex_unlock(&mu);
		} else if (rv == INVENTORY_FAILED_PRECONDITION) {
			w->refused++;
			if (delta > 0 || st.current == NULL ||
			    st.current->stock + delta >= 0)
				snprintf(w->failure, sizeof(w->failure),
				    "adjust %d of %lld refused with stock "
				    "%lld",
				    o, (long long)delta,
				    st.current != NULL
				        ? (long long)st.current->stock
				        : -1LL);
		} else if (w->unexpected++ == 0) {
			snprintf(w->first_unexpected,
			    sizeof(w->first_unexpected),
			    "adjust %d of %lld: %s: %s", o, (long long)delta,
			    inventory_code_name(rv), st.message);
		}
		inventory_product_free(out);
		inventory_status_fini(&st);
	}
	return NULL;
}

static void
test_reserve_race(void **state)
{
	struct worker         w[THREADS + ADJUSTERS];
	pthread_barrier_t     go;
	inventory_client     *alone    = NULL;
	inventory_client_opts co       = { .no_coalesce = 1 };
	int                   total_ok = 0, total_refused = 0;

	(void)state;
	assert_int_equal(
	    inventory_client_open_opts(&alone, testenv_server(), &co),
	    INVENTORY_OK);
	inventory_client_set_timeout(alone, 20000);
	inventory_client_set_timeout(contract_client, 20000);
	for (int p = 0; p < PRODUCTS; p++) {
		char name[64];

		contract_name(name, sizeof(name), "reserve-race");
		prod[p] = contract_create(name, STOCK, "3.00");
	}
	pthread_barrier_init(&go, NULL, THREADS + ADJUSTERS);
	memset(w, 0, sizeof(w));
	for (int i = 0; i < THREADS + ADJUSTERS; i++) {
		w[i].n      = i;
		w[i].client = i % 2 == 0 ? contract_client : alone;
		w[i].go     = &go;
		w[i].seed   = 7919u * (unsigned)(i + 1);
		assert_int_equal(
		    pthread_create(&w[i].thread, NULL,
		        i < THREADS ? worker_run : adjuster_run, &w[i]),
		    0);
	}
	for (int i = 0; i < THREADS + ADJUSTERS; i++) {
		pthread_join(w[i].thread, NULL);
	}
	pthread_barrier_destroy(&go);
	for (int i = 0; i < THREADS + ADJUSTERS; i++) {
		if (w[i].failure[0] != '\0') {
			fail_msg("worker %d: %s", i, w[i].failure);
		}
		total_ok += w[i].ok;
		total_refused += w[i].refused;
	}
	print_message("reserve_race: %d orders acknowledged, %d refused\n",
	    total_ok, total_refused);
	/* The setup must make both outcomes happen. */
	assert_true(total_ok > 0);
	assert_true(total_refused > 0);
	for (int p = 0; p < PRODUCTS; p++) {
		inventory_product *now = contract_get(prod[p]->id);
		int64_t            s   = STOCK;

		if (now->stock != STOCK - taken[p]) {
			fail_msg("product %d: stock %lld, but %d - %lld "
			         "acknowledged = %lld",
			    p, (long long)now->stock, STOCK,
			    (long long)taken[p],
			    (long long)(STOCK - taken[p]));
		}
		if (now->version != 1 + acked[p]) {
			fail_msg("product %d: version %lld after %d "
			         "acknowledged orders",
			    p, (long long)now->version, acked[p]);
		}
		for (int64_t v = 2; v <= now->version; v++) {
			if (ver_seen[p][v] != 1) {
				fail_msg("product %d version %lld "
				         "acknowledged %d times",
				    p, (long long)v, ver_seen[p][v]);
			}
			s -= ver_qty[p][v];
			if (ver_stock[p][v] != s) {
				fail_msg("product %d version %lld: stock "
				         "%lld, serial history says %lld",
				    p, (long long)v,
				    (long long)ver_stock[p][v], (long long)s);
			}
		}
		inventory_product_free(now);
		inventory_product_free(prod[p]);
	}
	inventory_client_close(alone);
	/* The tallies hold; now the codes: only OK and FAILED_PRECONDITION
	 * are right for these calls. */
	for (int i = 0; i < THREADS + ADJUSTERS; i++) {
		if (w[i].unexpected > 0) {
			int all = 0;

			for (int j = 0; j < THREADS + ADJUSTERS; j++)
				all += w[j].unexpected;
			fail_msg("%d calls answered neither OK nor "
			         "FAILED_PRECONDITION; worker %d first: %s",
			    all, i, w[i].first_unexpected);
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserve_race),
	};

	return cmocka_run_group_tests_name("concurrency.reserve_race", tests,
	    contract_setup, contract_teardown);
}
