/* SPDX-License-Identifier: MIT */
/*
 * Concurrency: no lost update.  THREADS threads share one client and, on
 * ONE product, each loop ATTEMPTS times: read it, then write stock =
 * read.stock + 1 with expected_version = read.version.  Every write the
 * server acknowledged (OK) must be visible at the end:
 *   final.version == 1 + acknowledged  and
 *   final.stock   == initial + acknowledged,
 * every conflict must report a version newer than the one expected, and
 * no other code may appear.  A second test does the same increments with
 * inventory_update_with_retry() and checks none is lost or doubled.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"

enum { THREADS = 16, ATTEMPTS = 40, RETRY_INCREMENTS = 10 };

static const char *product_id;

struct worker {
	pthread_t thread;
	int       ok;           /* acknowledged writes */
	int       aborted;      /* conflicts */
	int       bad_conflict; /* conflicts without a newer version */
	int       other;        /* any other code */
	char      other_msg[300];
	int64_t   last_version;  /* highest version this thread got back */
	int       non_monotonic; /* OK versions not increasing per thread */
};

static void *
read_modify_write(void *p)
{
	struct worker *w = p;

	for (int i = 0; i < ATTEMPTS; i++) {
		inventory_product *cur = NULL, *out = NULL;
		inventory_status   st;
		inventory_code     rv;

		memset(&st, 0, sizeof(st));
		rv = inventory_get_product(
		    contract_client, product_id, NULL, &cur, &st);
		if (rv != INVENTORY_OK) {
			w->other++;
			snprintf(w->other_msg, sizeof(w->other_msg),
			    "get: %s: %s", inventory_code_name(rv),
			    st.message);
			inventory_status_fini(&st);
			continue;
		}
		rv = inventory_update_stock(contract_client, product_id,
		    cur->stock + 1, cur->version, NULL, &out, &st);
		switch (rv) {
		case INVENTORY_OK:
			w->ok++;
			if (out->version != cur->version + 1 ||
			    out->stock != cur->stock + 1 ||
			    out->version <= w->last_version) {
				w->non_monotonic++;
			}
			w->last_version = out->version;
			inventory_product_free(out);
			break;
		case INVENTORY_ABORTED:
			w->aborted++;
			if (st.current == NULL ||
			    st.current_version <= cur->version ||
			    st.current->version != st.current_version) {
				w->bad_conflict++;
			}
			break;
		default:
			w->other++;
			snprintf(w->other_msg, sizeof(w->other_msg),
			    "update: %s: %s", inventory_code_name(rv),
			    st.message);
			break;
		}
		inventory_product_free(cur);
		inventory_status_fini(&st);
	}
	return NULL;
}

static void
test_no_lost_update(void **state)
{
	struct worker     *w = calloc(THREADS, sizeof(*w));
	inventory_product *p, *final;
	int                ok = 0, aborted = 0;
	const int64_t      initial = 100;

	(void)state;
	assert_non_null(w);
	p          = contract_create("lost-update", initial, "1.00");
	product_id = p->id;
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_create(&w[i].thread, NULL,
		                     read_modify_write, &w[i]),
		    0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(w[i].thread, NULL);
	}
	for (int i = 0; i < THREADS; i++) {
		if (w[i].other != 0) {
			fail_msg("thread %d: %d unexpected results, last %s",
			    i, w[i].other, w[i].other_msg);
		}
		if (w[i].bad_conflict != 0) {
			fail_msg("thread %d: %d conflicts without a newer "
			         "current version",
			    i, w[i].bad_conflict);
		}
		if (w[i].non_monotonic != 0) {
			fail_msg("thread %d: %d OK replies not at read+1", i,
			    w[i].non_monotonic);
		}
		ok += w[i].ok;
		aborted += w[i].aborted;
	}
	assert_int_equal(ok + aborted, THREADS * ATTEMPTS);
	assert_true(ok >= ATTEMPTS); /* progress: someone always wins */
	final = contract_get(p->id);
	print_message("lost_update: %d acknowledged, %d conflicts, final "
	              "version %lld stock %lld\n",
	    ok, aborted, (long long) final->version, (long long) final->stock);
	assert_int_equal(final->version, 1 + ok);
	assert_int_equal(final->stock, initial + ok);
	inventory_product_free(final);
	inventory_product_free(p);
	free(w);
}

static inventory_code
increment(const inventory_product *cur, int64_t *new_stock, void *arg)
{
	(void)arg;
	*new_stock = cur->stock + 1;
	return INVENTORY_OK;
}

struct retry_worker {
	pthread_t thread;
	int       ok;
	int       attempts;
	int       other;
	char      msg[300];
};

static void *
retry_increments(void *p)
{
	struct retry_worker       *w  = p;
	const inventory_retry_opts ro = { .max_attempts = 1000,
		.initial_backoff_ms                     = 1,
		.max_backoff_ms                         = 20 };

	for (int i = 0; i < RETRY_INCREMENTS; i++) {
		inventory_product   *out = NULL;
		inventory_status     st;
		int                  attempts = 0;
		inventory_retry_info info;
		inventory_code       rv;

		memset(&st, 0, sizeof(st));
		rv = inventory_update_with_retry(contract_client, product_id,
		    increment, NULL, &ro, &out, &st, &info);
		attempts = info.attempts;
		if (rv == INVENTORY_OK) {
			w->ok++;
		} else {
			w->other++;
			snprintf(w->msg, sizeof(w->msg), "%s: %s",
			    inventory_code_name(rv), st.message);
		}
		w->attempts += attempts;
		inventory_product_free(out);
		inventory_status_fini(&st);
	}
	return NULL;
}

static void
test_retry_increments(void **state)
{
	struct retry_worker *w = calloc(THREADS, sizeof(*w));
	inventory_product   *p, *final;
	int                  ok = 0, attempts = 0;

	(void)state;
	assert_non_null(w);
	p          = contract_create("retry-increments", 0, "1.00");
	product_id = p->id;
	for (int i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_create(&w[i].thread, NULL,
		                     retry_increments, &w[i]),
		    0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(w[i].thread, NULL);
	}
	for (int i = 0; i < THREADS; i++) {
		if (w[i].other != 0) {
			fail_msg("thread %d: %d increments failed, last %s", i,
			    w[i].other, w[i].msg);
		}
		ok += w[i].ok;
		attempts += w[i].attempts;
	}
	assert_int_equal(ok, THREADS * RETRY_INCREMENTS);
	assert_true(attempts >= ok);
	final = contract_get(p->id);
	print_message("retry: %d increments in %d writes\n", ok, attempts);
	assert_int_equal(final->stock, THREADS * RETRY_INCREMENTS);
	assert_int_equal(final->version, 1 + THREADS * RETRY_INCREMENTS);
	inventory_product_free(final);
	inventory_product_free(p);
	free(w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_lost_update),
		cmocka_unit_test(test_retry_increments),
	};

	return cmocka_run_group_tests_name("concurrency.lost_update", tests,
	    contract_setup, contract_teardown);
}
