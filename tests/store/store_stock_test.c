/* SPDX-License-Identifier: MIT */
/*
 * Store tests of the stock calls against the private PostgreSQL of the
 * `db` fixture: store_product_adjust (conflict-free, never below 0 or
 * above the int4 range, idempotent), store_reserve (all or nothing, every
 * failing item named, idempotent, deadlock-free across opposite orders)
 * and store_product_list (id order, pages that neither skip nor repeat).
 * The database is checked directly through a second connection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store_db.h"
#include <libpq-fe.h>
#include <pthread.h>

#include "store/store.h"
#include "testenv.h"

enum {
	RACE_THREADS = 4,   /* stores reserving at once */
	RACE_ORDERS  = 150, /* reservations per thread */
	RACE_ITEMS   = 3,   /* products per reservation */
	RACE_STOCK   = 400, /* initial stock of each raced product */
	PAGE_N       = 23,  /* products the list test creates */
};

static long long
db_stock(PGconn *db, const char *id)
{
	return store_db_exec(
	    db, "SELECT stock FROM products WHERE id = $1::uuid", id);
}

/* ---- AdjustStock -------------------------------------------------------- */

static void
test_adjust_rules(void **state)
{
	struct store_env *e = *state;
	struct product    p, q;

	store_db_new_product(e->st, "stock-test", 5, &p);
	assert_int_equal(
	    store_product_adjust(e->st, NULL, NULL, p.id, -3, 0, &q), CODE_OK);
	assert_int_equal(q.stock, 2);
	assert_int_equal(q.version, 2);

	/* Below zero: refused with the product as it is, nothing changes. */
	memset(&q, 0, sizeof(q));
	assert_int_equal(
	    store_product_adjust(e->st, NULL, NULL, p.id, -3, 0, &q),
	    CODE_FAILED_PRECONDITION);
	assert_int_equal(q.stock, 2);
	assert_int_equal(q.version, 2);
	assert_int_equal(db_stock(e->db, p.id), 2);

	/* Past the int4 range: OUT_OF_RANGE, nothing changes. */
	assert_int_equal(store_product_adjust(e->st, NULL, NULL, p.id,
	                     PRODUCT_STOCK_MAX - 1, 0, &q),
	    CODE_OUT_OF_RANGE);
	assert_int_equal(store_db_version(e->db, p.id), 2);

	/* With an expected version: UpdateStock's check. */
	assert_int_equal(
	    store_product_adjust(e->st, NULL, NULL, p.id, 1, 1, &q),
	    CODE_ABORTED);
	assert_int_equal(q.version, 2);
	assert_int_equal(
	    store_product_adjust(e->st, NULL, NULL, p.id, 1, 9, &q),
	    CODE_INVALID_ARGUMENT);
	assert_int_equal(
	    store_product_adjust(e->st, NULL, NULL, p.id, 4, 2, &q), CODE_OK);
	assert_int_equal(q.stock, 6);
	assert_int_equal(q.version, 3);

	assert_int_equal(store_product_adjust(e->st, NULL, NULL,
	                     "00000000-0000-4000-8000-000000000000", 1, 0, &q),
	    CODE_NOT_FOUND);
}

static void
test_adjust_idempotent(void **state)
{
	struct store_env *e = *state;
	struct product    p, q, r;

	store_db_new_product(e->st, "stock-test", 10, &p);
	assert_int_equal(
	    store_product_adjust(e->st, NULL, "adj-rid-1", p.id, -4, 0, &q),
	    CODE_OK);
	assert_int_equal(q.stock, 6);
	/* The repeat answers the first outcome and applies nothing. */
	assert_int_equal(
	    store_product_adjust(e->st, NULL, "adj-rid-1", p.id, -4, 0, &r),
	    CODE_OK);
	assert_int_equal(r.stock, 6);
	assert_int_equal(r.version, q.version);
	assert_int_equal(db_stock(e->db, p.id), 6);
	/* Another change after it, then the repeat again: still the first
	 * outcome, from the log. */
	assert_int_equal(
	    store_product_adjust(e->st, NULL, NULL, p.id, 1, 0, &r), CODE_OK);
	assert_int_equal(
	    store_product_adjust(e->st, NULL, "adj-rid-1", p.id, -4, 0, &r),
	    CODE_OK);
	assert_int_equal(r.stock, 6);
	assert_int_equal(db_stock(e->db, p.id), 7);
	/* The same id for another call. */
	assert_int_equal(
	    store_product_adjust(e->st, NULL, "adj-rid-1", p.id, -5, 0, &r),
	    CODE_ALREADY_EXISTS);
	assert_int_equal(db_stock(e->db, p.id), 7);
}

static void take(struct reserve_item *it, const char *id, int64_t qty);

/* Every write names its caller in updated_by and the request log, and
 * reports the stock before it when it applied now (the audit trail). */
static void
test_caller_and_prev_stock(void **state)
{
	struct store_env   *e  = *state;
	struct store_req    as = { 0, NULL }; /* who makes the next calls */
	struct product      p, q, out[1];
	struct reserve_item it[1];

	as.caller = "alice";
	store_db_new_product(e->st, "stock-test", 9, &p);
	assert_int_equal(p.prev_stock, 0);
	assert_int_equal(
	    store_product_update_stock(e->st, &as, "aud-1", p.id, 7, 1, &q),
	    CODE_OK);
	assert_int_equal(q.prev_stock, 9);
	as.caller = "bob";
	assert_int_equal(
	    store_product_adjust(e->st, &as, "aud-2", p.id, -2, 0, &q),
	    CODE_OK);
	assert_int_equal(q.prev_stock, 7);
	assert_int_equal(q.stock, 5);
	assert_int_equal(store_db_exec(e->db,
	                     "SELECT (updated_by = 'bob')::int FROM products "
	                     "WHERE id = $1::uuid",
	                     p.id),
	    1);
	assert_int_equal(store_db_exec(e->db,
	                     "SELECT (caller = 'alice')::int FROM request_log "
	                     "WHERE request_id = $1",
	                     "aud-1"),
	    1);
	/* A repeat applies nothing now: no stock before it to report. */
	assert_int_equal(
	    store_product_adjust(e->st, &as, "aud-2", p.id, -2, 0, &q),
	    CODE_OK);
	assert_int_equal(q.prev_stock, -1);
	take(&it[0], p.id, 1);
	as.caller = "carol";
	assert_int_equal(
	    store_reserve(e->st, &as, "aud-3", "aud-key", it, 1, out),
	    CODE_OK);
	assert_int_equal(out[0].prev_stock, 5);
	assert_int_equal(out[0].stock, 4);
	assert_int_equal(
	    store_db_exec(e->db,
	        "SELECT (updated_by = 'carol')::int FROM products "
	        "WHERE id = $1::uuid",
	        p.id),
	    1);
	as.caller = NULL;
	assert_int_equal(
	    store_product_adjust(e->st, &as, NULL, p.id, 1, 0, &q), CODE_OK);
	assert_int_equal(store_db_exec(e->db,
	                     "SELECT (updated_by IS NULL)::int FROM products "
	                     "WHERE id = $1::uuid",
	                     p.id),
	    1);
}

/* ---- ReserveStock --------------------------------------------------------
 */

static void
take(struct reserve_item *it, const char *id, int64_t qty)
{
	memset(it, 0, sizeof(*it));
	memcpy(it->id, id, PRODUCT_ID_LEN + 1);
	it->quantity = qty;
}

static void
set(struct reserve_item *it, const char *id, int64_t version, int64_t stock)
{
	memset(it, 0, sizeof(*it));
	memcpy(it->id, id, PRODUCT_ID_LEN + 1);
	it->expected_version = version;
	it->stock            = stock;
}

static void
test_reserve_all_or_nothing(void **state)
{
	struct store_env   *e = *state;
	struct product      a, b, c, out[3];
	struct reserve_item it[3];

	store_db_new_product(e->st, "stock-test", 5, &a);
	store_db_new_product(e->st, "stock-test", 1, &b);
	store_db_new_product(e->st, "stock-test", 9, &c);

	/* b has too little, c's version moved on: nothing applies, both
	 * are named, a is fine. */
	take(&it[0], a.id, 2);
	take(&it[1], b.id, 2);
	set(&it[2], c.id, 7, 0);
	assert_int_equal(store_reserve(e->st, NULL, NULL, "k1", it, 3, out),
	    CODE_FAILED_PRECONDITION);
	assert_int_equal(it[0].code, CODE_OK);
	assert_int_equal(it[1].code, CODE_FAILED_PRECONDITION);
	assert_int_equal(it[1].product.stock, 1);
	assert_int_equal(it[2].code, CODE_INVALID_ARGUMENT);
	assert_int_equal(it[2].product.version, 1);
	assert_int_equal(db_stock(e->db, a.id), 5);
	assert_int_equal(db_stock(e->db, b.id), 1);
	assert_int_equal(db_stock(e->db, c.id), 9);

	/* A missing product fails the call too. */
	take(&it[1], "00000000-0000-4000-8000-000000000001", 1);
	set(&it[2], c.id, 1, 4);
	assert_int_equal(store_reserve(e->st, NULL, NULL, "k2", it, 3, out),
	    CODE_NOT_FOUND);
	assert_int_equal(it[1].code, CODE_NOT_FOUND);
	assert_int_equal(it[1].product.version, 0);
	assert_int_equal(db_stock(e->db, a.id), 5);

	/* All fit: all apply, each version + 1. */
	take(&it[1], b.id, 1);
	assert_int_equal(
	    store_reserve(e->st, NULL, NULL, "k3", it, 3, out), CODE_OK);
	assert_int_equal(out[0].stock, 3);
	assert_int_equal(out[1].stock, 0);
	assert_int_equal(out[2].stock, 4);
	assert_int_equal(out[2].version, 2);
	assert_string_equal(out[1].id, b.id);
	assert_int_equal(db_stock(e->db, a.id), 3);
	assert_int_equal(db_stock(e->db, b.id), 0);

	/* A stale version is ABORTED with the latest product. */
	set(&it[0], c.id, 1, 8);
	assert_int_equal(
	    store_reserve(e->st, NULL, NULL, "k4", it, 1, out), CODE_ABORTED);
	assert_int_equal(it[0].product.version, 2);
	assert_int_equal(db_stock(e->db, c.id), 4);
}

static void
test_reserve_idempotent(void **state)
{
	struct store_env   *e = *state;
	struct product      a, b, out[2], again[2];
	struct reserve_item it[2];
	const char         *key = "test-key-a2-b3";

	store_db_new_product(e->st, "stock-test", 5, &a);
	store_db_new_product(e->st, "stock-test", 5, &b);
	take(&it[0], a.id, 2);
	take(&it[1], b.id, 3);
	assert_int_equal(
	    store_reserve(e->st, NULL, "res-rid-1", key, it, 2, out), CODE_OK);
	/* The repeat: the first outcome, nothing taken twice, even though
	 * b could no longer give 3. */
	assert_int_equal(
	    store_reserve(e->st, NULL, "res-rid-1", key, it, 2, again),
	    CODE_OK);
	assert_int_equal(again[0].stock, 3);
	assert_int_equal(again[1].stock, 2);
	assert_int_equal(again[1].version, out[1].version);
	assert_string_equal(again[0].id, a.id);
	assert_int_equal(db_stock(e->db, a.id), 3);
	assert_int_equal(db_stock(e->db, b.id), 2);
	/* Other items under the same id. */
	assert_int_equal(
	    store_reserve(e->st, NULL, "res-rid-1", "other", it, 1, again),
	    CODE_ALREADY_EXISTS);
	assert_int_equal(db_stock(e->db, a.id), 3);
	/* An UpdateStock's id reused for a reservation. */
	assert_int_equal(store_product_adjust(
	                     e->st, NULL, "res-rid-2", a.id, 1, 0, &out[0]),
	    CODE_OK);
	assert_int_equal(
	    store_reserve(e->st, NULL, "res-rid-2", key, it, 2, again),
	    CODE_ALREADY_EXISTS);
	assert_int_equal(db_stock(e->db, a.id), 4);
}

/* Forget a request id as the janitor would once its TTL passed. */
static void
prune(PGconn *db, const char *rid)
{
	store_db_exec(
	    db, "DELETE FROM request_log WHERE request_id = $1", rid);
	assert_int_equal(store_db_logged(db, rid), 0);
}

/* A request id whose log row was pruned but which is still the row's
 * latest write answers OK only for the very call that wrote it (method,
 * arguments, caller: products.last_request_call); any other call under it
 * is ALREADY_EXISTS, as it is before the prune, and nothing applies
 * twice. */
static void
test_pruned_repeats(void **state)
{
	struct store_env   *e = *state;
	struct product      p, q, r;
	struct reserve_item it[1];
	char                rid[4][48];

	for (int i = 0; i < 4; i++)
		testenv_request_id(rid[i], sizeof(rid[i]));
	store_db_new_product(e->st, "stock-test", 5, &p);

	/* UpdateStock under rid 0, then AdjustStock under it. */
	assert_int_equal(
	    store_product_update_stock(e->st, NULL, rid[0], p.id, 8, 1, &q),
	    CODE_OK);
	assert_int_equal(
	    store_product_adjust(e->st, NULL, rid[0], p.id, -3, 0, &r),
	    CODE_ALREADY_EXISTS);
	prune(e->db, rid[0]);
	assert_int_equal(
	    store_product_adjust(e->st, NULL, rid[0], p.id, -3, 0, &r),
	    CODE_ALREADY_EXISTS);
	assert_int_equal(db_stock(e->db, p.id), 8);
	/* The very UpdateStock again: its outcome, from the row. */
	assert_int_equal(
	    store_product_update_stock(e->st, NULL, rid[0], p.id, 8, 1, &r),
	    CODE_OK);
	assert_int_equal(r.version, 2);
	assert_int_equal(r.stock, 8);
	/* The same id, other arguments: not that call. */
	assert_int_equal(
	    store_product_update_stock(e->st, NULL, rid[0], p.id, 9, 1, &r),
	    CODE_ALREADY_EXISTS);

	/* AdjustStock under rid 1, then an UpdateStock under it whose
	 * version and stock happen to match what the adjustment did. */
	assert_int_equal(
	    store_product_adjust(e->st, NULL, rid[1], p.id, 5, 0, &q),
	    CODE_OK);
	assert_int_equal(q.stock, 13);
	assert_int_equal(store_product_update_stock(
	                     e->st, NULL, rid[1], p.id, 13, q.version - 1, &r),
	    CODE_ALREADY_EXISTS);
	prune(e->db, rid[1]);
	assert_int_equal(store_product_update_stock(
	                     e->st, NULL, rid[1], p.id, 13, q.version - 1, &r),
	    CODE_ALREADY_EXISTS);
	/* The very adjustment again: its outcome, nothing added. */
	assert_int_equal(
	    store_product_adjust(e->st, NULL, rid[1], p.id, 5, 0, &r),
	    CODE_OK);
	assert_int_equal(r.version, q.version);
	assert_int_equal(db_stock(e->db, p.id), 13);

	/* ReserveStock under rid 2, pruned, sent again while it is still
	 * the row's latest write: nothing taken twice. */
	take(&it[0], p.id, 4);
	assert_int_equal(
	    store_reserve(e->st, NULL, rid[2], "key-p4", it, 1, &q), CODE_OK);
	assert_int_equal(q.stock, 9);
	prune(e->db, rid[2]);
	assert_int_equal(
	    store_reserve(e->st, NULL, rid[2], "key-p4", it, 1, &r), CODE_OK);
	assert_int_equal(r.stock, 9);
	assert_int_equal(r.version, q.version);
	assert_int_equal(db_stock(e->db, p.id), 9);
	assert_int_equal(store_db_version(e->db, p.id), q.version);
	/* Other items under it: not that call. */
	assert_int_equal(
	    store_reserve(e->st, NULL, rid[2], "key-p5", it, 1, &r),
	    CODE_ALREADY_EXISTS);
	assert_int_equal(db_stock(e->db, p.id), 9);
}

/* A request id replayed by another caller never gets the first caller's
 * outcome (OK with nothing applied, no audit line): ALREADY_EXISTS, from
 * the log and, once the log row is pruned, from the row. */
static void
test_other_caller_repeat(void **state)
{
	struct store_env   *e  = *state;
	struct store_req    as = { 0, NULL }; /* who makes the next calls */
	struct product      p, q, r;
	struct reserve_item it[1];
	char                rid[3][48];

	for (int i = 0; i < 3; i++)
		testenv_request_id(rid[i], sizeof(rid[i]));
	store_db_new_product(e->st, "stock-test", 5, &p);
	as.caller = "alice";
	assert_int_equal(
	    store_product_update_stock(e->st, &as, rid[0], p.id, 8, 1, &q),
	    CODE_OK);
	assert_int_equal(
	    store_product_adjust(e->st, &as, rid[1], p.id, -1, 0, &q),
	    CODE_OK);
	take(&it[0], p.id, 1);
	assert_int_equal(
	    store_reserve(e->st, &as, rid[2], "key-p1", it, 1, &q), CODE_OK);
	/* Alice's own repeats: her outcomes. */
	assert_int_equal(
	    store_product_update_stock(e->st, &as, rid[0], p.id, 8, 1, &r),
	    CODE_OK);
	assert_int_equal(
	    store_reserve(e->st, &as, rid[2], "key-p1", it, 1, &r), CODE_OK);

	as.caller = "mallory";
	assert_int_equal(
	    store_product_update_stock(e->st, &as, rid[0], p.id, 8, 1, &r),
	    CODE_ALREADY_EXISTS);
	assert_int_equal(
	    store_product_adjust(e->st, &as, rid[1], p.id, -1, 0, &r),
	    CODE_ALREADY_EXISTS);
	assert_int_equal(
	    store_reserve(e->st, &as, rid[2], "key-p1", it, 1, &r),
	    CODE_ALREADY_EXISTS);
	assert_int_equal(store_product_create(
	                     e->st, &as, rid[0], "stock-test", 1, "1.00", &r),
	    CODE_ALREADY_EXISTS);
	/* Pruned, the reservation still the row's latest write. */
	prune(e->db, rid[2]);
	assert_int_equal(
	    store_reserve(e->st, &as, rid[2], "key-p1", it, 1, &r),
	    CODE_ALREADY_EXISTS);
	assert_int_equal(db_stock(e->db, p.id), 6);
}

struct race {
	char    ids[RACE_ITEMS * 2][PRODUCT_ID_LEN + 1];
	int     thread;
	int64_t taken[RACE_ITEMS * 2]; /* acknowledged, per product */
	int     failed;                /* FAILED_PRECONDITION answers */
	int     errors;                /* any other non-OK answer */
};

/* Orders over overlapping products, in both orders, so that a store that
 * locked in request order instead of id order would deadlock. */
static void *
race_main(void *arg)
{
	struct race        *r  = arg;
	struct store       *st = store_db_open_store();
	struct reserve_item it[RACE_ITEMS];
	struct product      out[RACE_ITEMS];

	for (int o = 0; o < RACE_ORDERS; o++) {
		int first = (o + r->thread) % (RACE_ITEMS + 1);

		for (int i = 0; i < RACE_ITEMS; i++) {
			int k = (r->thread % 2 == 0)
			            ? first + i
			            : first + RACE_ITEMS - 1 - i;

			take(&it[i], r->ids[k], 1 + (o + i) % 3);
		}
		switch (store_reserve(
		    st, NULL, NULL, "race", it, RACE_ITEMS, out)) {
		case CODE_OK:
			for (int i = 0; i < RACE_ITEMS; i++) {
				for (int k = 0; k < RACE_ITEMS * 2; k++)
					if (strcmp(r->ids[k], it[i].id) == 0)
						r->taken[k] += it[i].quantity;
			}
			break;
		case CODE_FAILED_PRECONDITION:
			r->failed++;
			break;
		default:
			r->errors++;
			break;
		}
	}
	store_destroy(st);
	return NULL;
}

static void
test_reserve_race(void **state)
{
	struct store_env *e = *state;
	struct race       r[RACE_THREADS];
	pthread_t         th[RACE_THREADS];
	struct product    p;

	memset(r, 0, sizeof(r));
	for (int k = 0; k < RACE_ITEMS * 2; k++) {
		store_db_new_product(e->st, "stock-test", RACE_STOCK, &p);
		for (int t = 0; t < RACE_THREADS; t++)
			memcpy(r[t].ids[k], p.id, sizeof(p.id));
	}
	for (int t = 0; t < RACE_THREADS; t++) {
		r[t].thread = t;
		assert_int_equal(
		    pthread_create(&th[t], NULL, race_main, &r[t]), 0);
	}
	for (int t = 0; t < RACE_THREADS; t++)
		assert_int_equal(pthread_join(th[t], NULL), 0);
	/* Every product lost exactly what was acknowledged for it. */
	for (int k = 0; k < RACE_ITEMS * 2; k++) {
		int64_t taken = 0;

		for (int t = 0; t < RACE_THREADS; t++)
			taken += r[t].taken[k];
		assert_int_equal(
		    db_stock(e->db, r[0].ids[k]), RACE_STOCK - taken);
		assert_true(db_stock(e->db, r[0].ids[k]) >= 0);
	}
	for (int t = 0; t < RACE_THREADS; t++)
		assert_int_equal(r[t].errors, 0);
}

/* ---- ListProducts --------------------------------------------------------
 */

static void
test_list_pages(void **state)
{
	struct store_env *e = *state;
	struct product    page[7], p;
	char              after[PRODUCT_ID_LEN + 1] = "";
	size_t            n, total = 0, mine = 0;
	int               more, pages = 0;
	long long         before;

	for (int i = 0; i < PAGE_N; i++)
		store_db_new_product(e->st, "stock-test", i, &p);
	/* Other tests share this database and create and delete their own
	 * products while the pages are read, so the whole count proves
	 * nothing; this file's products ("stock-test", touched by nobody
	 * else) must each come exactly once. */
	before = store_db_exec(e->db,
	    "SELECT count(*) FROM products WHERE name = 'stock-test'", NULL);
	do {
		assert_int_equal(
		    store_product_list(e->st, NULL, after, 7, page, &n, &more),
		    CODE_OK);
		for (size_t i = 0; i < n; i++) {
			/* Strictly increasing: nothing twice. */
			assert_true(strcmp(after, page[i].id) < 0);
			memcpy(after, page[i].id, sizeof(after));
			mine += strcmp(page[i].name, "stock-test") == 0;
		}
		total += n;
		pages++;
		assert_true(more == 0 || n == 7);
	} while (more);
	assert_true(before >= PAGE_N);
	assert_int_equal((long long)mine, before);
	assert_int_equal(pages, (int)(total > 0 ? (total + 6) / 7 : 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adjust_rules),
		cmocka_unit_test(test_adjust_idempotent),
		cmocka_unit_test(test_reserve_all_or_nothing),
		cmocka_unit_test(test_reserve_idempotent),
		cmocka_unit_test(test_reserve_race),
		cmocka_unit_test(test_list_pages),
		cmocka_unit_test(test_caller_and_prev_stock),
		cmocka_unit_test(test_pruned_repeats),
		cmocka_unit_test(test_other_caller_repeat),
	};

	return cmocka_run_group_tests(
	    tests, store_db_setup, store_db_teardown);
}
