/* SPDX-License-Identifier: MIT */
/*
 * Store tests against the private PostgreSQL of the `db` fixture: the
 * batch calls (store_product_get_many, store_product_update_many) give
 * every item the outcome the single call would give it, apply nothing when
 * the batch fails as a whole, honour their deadline while a row is locked
 * elsewhere, and never deadlock when two stores write the same products in
 * opposite orders.  The database is checked directly (a second libpq
 * connection), never only through the store's own answers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "store_db.h"
#include <libpq-fe.h>
#include <pthread.h>

#include <sys/socket.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_internal.h" /* st->conn: to cut it mid-batch */
#include "testenv.h"

enum {
	BULK_N        = 1000, /* the batch size the store must handle */
	RACE_PRODUCTS = 8,    /* products both threads write */
	RACE_ROUNDS   = 200,  /* batches per thread */
};

#define NS_PER_MS 1000000ull

/* An item code the store never gives: the item was not touched. */
#define UNTOUCHED CODE_UNAUTHENTICATED

/* One UpdateStock through the single path, which must apply. */
static void
update_one(struct store *st, const char *rid, struct product *p, int64_t stock)
{
	struct product out;
	char           id[PRODUCT_ID_LEN + 1];

	memcpy(id, p->id, sizeof(id));
	assert_int_equal(store_product_update_stock(
	                     st, NULL, rid, id, stock, p->version, &out),
	    CODE_OK);
	*p = out;
}

/* ---- get_many --------------------------------------------------------- */

static void
test_get_many_duplicates_and_missing(void **state)
{
	struct store_env *e = *state;
	struct product    a, b;
	char              missing[PRODUCT_ID_LEN + 1];
	struct store_read items[6];
	size_t            i;

	store_db_new_product(e->st, "store-test", 3, &a);
	store_db_new_product(e->st, "store-test", 4, &b);
	testenv_uuid(missing);
	memset(items, 0, sizeof(items));
	items[0].id = a.id;
	items[1].id = missing;
	items[2].id = b.id;
	items[3].id = a.id;
	items[4].id = missing;
	items[5].id = b.id;
	for (i = 0; i < 6; i++)
		items[i].code = UNTOUCHED;

	assert_int_equal(store_product_get_many(e->st, items, 6, 0), CODE_OK);
	for (i = 0; i < 6; i++) {
		const struct product *want = i % 3 == 0   ? &a
		                             : i % 3 == 2 ? &b
		                                          : NULL;

		if (want == NULL) {
			assert_int_equal(items[i].code, CODE_NOT_FOUND);
			continue;
		}
		assert_int_equal(items[i].code, CODE_OK);
		assert_string_equal(items[i].product.id, want->id);
		assert_string_equal(items[i].product.name, "store-test");
		assert_int_equal(items[i].product.stock, want->stock);
		assert_string_equal(items[i].product.price, "1.50");
		assert_int_equal(items[i].product.version, 1);
		assert_int_equal(
		    items[i].product.created_at_us, want->created_at_us);
	}
	/* An empty batch is no work. */
	assert_int_equal(store_product_get_many(e->st, items, 0, 0), CODE_OK);
}

/* BULK_N products, inserted directly; ids into ids[]. */
static void
bulk_products(PGconn *db, char (*ids)[PRODUCT_ID_LEN + 1], int n)
{
	char      n_s[16];
	PGresult *res;
	int       i;

	snprintf(n_s, sizeof(n_s), "%d", n);
	{
		const char *params[1] = { n_s };

		res = PQexecParams(db,
		    "INSERT INTO products (name, stock, price)"
		    " SELECT 'bulk', 10, 2 FROM generate_series(1, $1::int4)"
		    " RETURNING id::text",
		    1, NULL, params, NULL, NULL, 0);
	}
	assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
	assert_int_equal(PQntuples(res), n);
	for (i = 0; i < n; i++)
		snprintf(
		    ids[i], PRODUCT_ID_LEN + 1, "%s", PQgetvalue(res, i, 0));
	PQclear(res);
}

static void
test_many_bulk(void **state)
{
	struct store_env *e = *state;
	char(*ids)[PRODUCT_ID_LEN + 1];
	struct store_read  *reads;
	struct store_write *writes;
	char(*rids)[48];
	int i;

	ids    = calloc(BULK_N, sizeof(*ids));
	rids   = calloc(BULK_N, sizeof(*rids));
	reads  = calloc(2 * BULK_N, sizeof(*reads));
	writes = calloc(BULK_N, sizeof(*writes));
	assert_true(ids && rids && reads && writes);
	bulk_products(e->db, ids, BULK_N);

	for (i = 0; i < 2 * BULK_N; i++)
		reads[i].id = ids[(i * 7) % BULK_N]; /* each id twice */
	assert_int_equal(
	    store_product_get_many(e->st, reads, 2 * BULK_N, 0), CODE_OK);
	for (i = 0; i < 2 * BULK_N; i++) {
		assert_int_equal(reads[i].code, CODE_OK);
		assert_string_equal(reads[i].product.id, reads[i].id);
	}

	for (i = 0; i < BULK_N; i++) {
		testenv_request_id(rids[i], sizeof(rids[i]));
		writes[i].id               = ids[BULK_N - 1 - i];
		writes[i].request_id       = i % 2 ? rids[i] : NULL;
		writes[i].stock            = i;
		writes[i].expected_version = 1;
	}
	assert_int_equal(
	    store_product_update_many(e->st, writes, BULK_N, 0), CODE_OK);
	for (i = 0; i < BULK_N; i++) {
		assert_int_equal(writes[i].code, CODE_OK);
		assert_int_equal(writes[i].product.version, 2);
		assert_int_equal(writes[i].product.stock, i);
		assert_string_equal(writes[i].product.id, writes[i].id);
	}
	assert_int_equal(store_db_exec(e->db,
	                     "SELECT count(*) FROM products WHERE name = "
	                     "'bulk' AND version = 2",
	                     NULL),
	    BULK_N);
	assert_int_equal(store_db_logged(e->db, rids[1]), 1);
	assert_int_equal(store_db_logged(e->db, rids[0]), 0);

	free(ids);
	free(rids);
	free(reads);
	free(writes);
}

/* ---- update_many: every outcome in one batch -------------------------- */

static void
test_update_many_mix(void **state)
{
	struct store_env *e = *state;
	enum {
		APPLIED,
		CONFLICT,
		MISSING,
		FUTURE,
		REPEAT_LAST,
		REPEAT_OLD,
		REUSED_SAME_PRODUCT,
		REUSED_OTHER_PRODUCT,
		WEIRD_RID,
		NO_RID,
		N,
	};
	struct product     p[N], other;
	struct store_write w[N];
	char               rid[N][48], rid_old2[48], rid_other[48];
	char               missing[PRODUCT_ID_LEN + 1];
	const char        *weird = "a\"b\\c,{d} NULL";
	int                i;

	memset(w, 0, sizeof(w));
	for (i = 0; i < N; i++) {
		if (i != MISSING)
			store_db_new_product(
			    e->st, "store-test", 10 + i, &p[i]);
		testenv_request_id(rid[i], sizeof(rid[i]));
		w[i].request_id       = rid[i];
		w[i].expected_version = 1;
		w[i].stock            = 100 + i;
		w[i].code             = UNTOUCHED;
	}
	testenv_uuid(missing);
	testenv_request_id(rid_old2, sizeof(rid_old2));
	testenv_request_id(rid_other, sizeof(rid_other));

	/* CONFLICT: now at version 3, the item expects 1. */
	update_one(e->st, NULL, &p[CONFLICT], 1);
	update_one(e->st, NULL, &p[CONFLICT], 2);
	/* FUTURE: the item expects version 5 of a version-1 row. */
	w[FUTURE].expected_version = 5;
	/* REPEAT_LAST: the item's request id produced the current version. */
	update_one(
	    e->st, rid[REPEAT_LAST], &p[REPEAT_LAST], w[REPEAT_LAST].stock);
	/* REPEAT_OLD: its request id produced version 2, now at 3. */
	update_one(
	    e->st, rid[REPEAT_OLD], &p[REPEAT_OLD], w[REPEAT_OLD].stock);
	update_one(e->st, rid_old2, &p[REPEAT_OLD], 55);
	/* REUSED_SAME_PRODUCT: its request id wrote version 2 with another
	 * stock; the item, based on version 2, is a different call. */
	update_one(
	    e->st, rid[REUSED_SAME_PRODUCT], &p[REUSED_SAME_PRODUCT], 7);
	w[REUSED_SAME_PRODUCT].expected_version = 2;
	/* REUSED_OTHER_PRODUCT: its request id was used on another product;
	 * its own version matches, yet it must not be written. */
	store_db_new_product(e->st, "store-test", 1, &other);
	update_one(e->st, rid_other, &other, 2);
	w[REUSED_OTHER_PRODUCT].request_id = rid_other;
	w[WEIRD_RID].request_id            = weird;
	w[NO_RID].request_id               = NULL;

	for (i = 0; i < N; i++)
		w[i].id = i == MISSING ? missing : p[i].id;

	assert_int_equal(store_product_update_many(e->st, w, N, 0), CODE_OK);

	assert_int_equal(w[APPLIED].code, CODE_OK);
	assert_int_equal(w[APPLIED].product.version, 2);
	assert_int_equal(w[APPLIED].product.stock, w[APPLIED].stock);
	assert_int_equal(store_db_version(e->db, p[APPLIED].id), 2);
	assert_int_equal(store_db_logged(e->db, rid[APPLIED]), 1);

	assert_int_equal(w[CONFLICT].code, CODE_ABORTED);
	assert_int_equal(w[CONFLICT].product.version, 3);
	assert_int_equal(w[CONFLICT].product.stock, 2);
	assert_string_equal(w[CONFLICT].product.id, p[CONFLICT].id);
	assert_int_equal(store_db_version(e->db, p[CONFLICT].id), 3);
	assert_int_equal(store_db_logged(e->db, rid[CONFLICT]), 0);

	assert_int_equal(w[MISSING].code, CODE_NOT_FOUND);
	assert_int_equal(store_db_logged(e->db, rid[MISSING]), 0);

	assert_int_equal(w[FUTURE].code, CODE_INVALID_ARGUMENT);
	assert_int_equal(w[FUTURE].product.version, 1);
	assert_int_equal(store_db_version(e->db, p[FUTURE].id), 1);

	assert_int_equal(w[REPEAT_LAST].code, CODE_OK);
	assert_int_equal(w[REPEAT_LAST].product.version, 2);
	assert_int_equal(w[REPEAT_LAST].product.stock, w[REPEAT_LAST].stock);
	assert_int_equal(w[REPEAT_LAST].product.updated_at_us,
	    p[REPEAT_LAST].updated_at_us);
	assert_int_equal(store_db_version(e->db, p[REPEAT_LAST].id), 2);

	assert_int_equal(w[REPEAT_OLD].code, CODE_OK);
	assert_int_equal(w[REPEAT_OLD].product.version, 2);
	assert_int_equal(w[REPEAT_OLD].product.stock, w[REPEAT_OLD].stock);
	assert_int_equal(store_db_version(e->db, p[REPEAT_OLD].id), 3);

	assert_int_equal(w[REUSED_SAME_PRODUCT].code, CODE_ALREADY_EXISTS);
	assert_int_equal(
	    store_db_version(e->db, p[REUSED_SAME_PRODUCT].id), 2);

	assert_int_equal(w[REUSED_OTHER_PRODUCT].code, CODE_ALREADY_EXISTS);
	assert_int_equal(
	    store_db_version(e->db, p[REUSED_OTHER_PRODUCT].id), 1);
	assert_int_equal(store_db_version(e->db, other.id), 2);

	assert_int_equal(w[WEIRD_RID].code, CODE_OK);
	assert_int_equal(w[WEIRD_RID].product.version, 2);
	assert_int_equal(store_db_logged(e->db, weird), 1);
	assert_int_equal(store_db_exec(e->db,
	                     "SELECT count(*) FROM products WHERE "
	                     "last_request_id = $1::text",
	                     weird),
	    1);

	assert_int_equal(w[NO_RID].code, CODE_OK);
	assert_int_equal(w[NO_RID].product.version, 2);
	assert_int_equal(store_db_version(e->db, p[NO_RID].id), 2);

	/* The same batch again: now every write is a repeat or a conflict,
	 * and nothing is applied twice. */
	for (i = 0; i < N; i++)
		w[i].code = UNTOUCHED;
	assert_int_equal(store_product_update_many(e->st, w, N, 0), CODE_OK);
	assert_int_equal(w[APPLIED].code, CODE_OK);
	assert_int_equal(w[APPLIED].product.version, 2);
	assert_int_equal(w[WEIRD_RID].code, CODE_OK);
	assert_int_equal(w[NO_RID].code, CODE_ABORTED);
	assert_int_equal(w[NO_RID].product.version, 2);
	assert_int_equal(store_db_version(e->db, p[APPLIED].id), 2);
	assert_int_equal(store_db_version(e->db, p[WEIRD_RID].id), 2);
	assert_int_equal(store_db_version(e->db, p[NO_RID].id), 2);

	/* The single path agrees with the batch on a repeat. */
	{
		struct product out;

		assert_int_equal(
		    store_product_update_stock(e->st, NULL, rid[REPEAT_OLD],
		        p[REPEAT_OLD].id, w[REPEAT_OLD].stock, 1, &out),
		    CODE_OK);
		assert_int_equal(out.version, 2);
	}
}

/* ---- the batch fails as a whole --------------------------------------- */

static void
test_update_many_fails_whole(void **state)
{
	struct store_env  *e = *state;
	struct product     a, b, got;
	struct store_write w[2];
	char               rid[48];

	store_db_new_product(e->st, "store-test", 1, &a);
	store_db_new_product(e->st, "store-test", 1, &b);
	testenv_request_id(rid, sizeof(rid));
	memset(w, 0, sizeof(w));
	w[0].id               = a.id;
	w[1].id               = b.id;
	w[0].request_id       = rid;
	w[1].request_id       = rid; /* breaks the caller's promise: 23505 */
	w[0].stock            = 5;
	w[1].stock            = 6;
	w[0].expected_version = 1;
	w[1].expected_version = 1;
	w[0].code             = UNTOUCHED;
	w[1].code             = UNTOUCHED;

	assert_int_not_equal(
	    store_product_update_many(e->st, w, 2, 0), CODE_OK);
	assert_int_equal(w[0].code, UNTOUCHED);
	assert_int_equal(w[1].code, UNTOUCHED);
	assert_int_equal(w[0].product.version, 0);
	assert_int_equal(w[1].product.version, 0);
	assert_int_equal(store_db_version(e->db, a.id), 1);
	assert_int_equal(store_db_version(e->db, b.id), 1);
	assert_int_equal(store_db_logged(e->db, rid), 0);

	/* The connection is usable right away. */
	assert_int_equal(store_product_get(e->st, NULL, a.id, &got), CODE_OK);
	w[1].request_id = NULL;
	assert_int_equal(store_product_update_many(e->st, w, 2, 0), CODE_OK);
	assert_int_equal(w[0].code, CODE_OK);
	assert_int_equal(w[1].code, CODE_OK);
	assert_int_equal(store_db_version(e->db, a.id), 2);
	assert_int_equal(store_db_version(e->db, b.id), 2);
}

/* The notice of the trigger below arrives while the batch's commit is
 * still to come: cut the connection from our side, as a network failure
 * would.  (A receiver, not a processor: the store has its own receiver,
 * so libpq's default one, which calls processors, is not in the way.) */
static void
cut_on_notice(void *arg, const PGresult *res)
{
	PGconn *conn = arg;

	(void)res;
	(void)shutdown(PQsocket(conn), SHUT_RDWR);
}

/* The connection is lost after the batch's commit was sent and before its
 * results are read: the batch may have committed (here it did), so the
 * store must say so (every item `unknown`), never "nothing applied", for
 * the executor would then run each write again alone and answer a write
 * that did apply with a definite failure of its own check. */
static void
test_update_many_lost_after_commit(void **state)
{
	struct store_env  *e = *state;
	struct product     a, b;
	struct store_write w[2];
	char               name[64];

	snprintf(name, sizeof(name), "store-lost-commit-%d", (int)getpid());
	store_db_exec(e->db,
	    "CREATE OR REPLACE FUNCTION store_test_notice() RETURNS trigger"
	    " LANGUAGE plpgsql AS $$ BEGIN RAISE NOTICE 'cut here';"
	    " PERFORM pg_sleep(0.5); RETURN NEW; END $$",
	    NULL);
	store_db_exec(
	    e->db, "DROP TRIGGER IF EXISTS store_test_cut ON products", NULL);
	/* The name is a literal in a trigger's WHEN: no parameters in DDL;
	 * it is ours (digits and letters only). */
	{
		char ddl[256];

		snprintf(ddl, sizeof(ddl),
		    "CREATE TRIGGER store_test_cut AFTER UPDATE ON products"
		    " FOR EACH ROW WHEN (NEW.name = '%s')"
		    " EXECUTE FUNCTION store_test_notice()",
		    name);
		store_db_exec(e->db, ddl, NULL);
	}
	store_db_new_product(e->st, name, 1, &a);
	store_db_new_product(e->st, "store-test", 1, &b);
	memset(w, 0, sizeof(w));
	w[0].id               = a.id;
	w[1].id               = b.id;
	w[0].stock            = 5;
	w[1].stock            = 6;
	w[0].expected_version = 1;
	w[1].expected_version = 1;
	w[0].code             = UNTOUCHED;
	w[1].code             = UNTOUCHED;

	PQsetNoticeReceiver(e->st->conn, cut_on_notice, e->st->conn);
	assert_int_equal(
	    store_product_update_many(e->st, w, 2, 0), CODE_UNAVAILABLE);
	store_db_exec(e->db, "DROP TRIGGER store_test_cut ON products", NULL);
	assert_true(w[0].unknown);
	assert_true(w[1].unknown);
	assert_int_equal(w[0].code, UNTOUCHED);
	assert_int_equal(w[1].code, UNTOUCHED);
	/* It did commit: "nothing applied" would have been false. */
	assert_int_equal(store_db_version(e->db, a.id), 2);
	assert_int_equal(store_db_version(e->db, b.id), 2);
	/* The store reconnects for the next call. */
	assert_true(store_ready(e->st));
}

/* ---- a busy row, and the deadline ----------------------------------------
 */

/* A row another session holds does not hold up the batch: its item comes
 * back UNAVAILABLE (the executor runs it alone, where it waits within its
 * own deadline) and every other item applies at once. */
static void
test_update_many_busy_row(void **state)
{
	struct store_env *e = *state;
	enum { N = BULK_N };
	char(*ids)[PRODUCT_ID_LEN + 1] = calloc(N, sizeof(*ids));
	struct store_write *w          = calloc(N, sizeof(*w));
	PGconn             *locker;
	int                 i;

	assert_true(ids && w);
	bulk_products(e->db, ids, N);
	for (i = 0; i < N; i++) {
		w[i].id               = ids[i];
		w[i].stock            = 1;
		w[i].expected_version = 1;
		w[i].code             = UNTOUCHED;
	}
	locker = PQconnectdb(store_db_conninfo());
	assert_int_equal(PQstatus(locker), CONNECTION_OK);
	store_db_exec(locker, "BEGIN", NULL);
	store_db_exec(locker,
	    "SELECT 1 FROM products WHERE id = $1::uuid FOR UPDATE",
	    ids[N / 2]);

	/* Were the batch to wait for the lock, the 10 s deadline would end
	 * it with DEADLINE_EXCEEDED and nothing applied. */
	assert_int_equal(store_product_update_many(e->st, w, N,
	                     testenv_mono_ns() + 10000 * NS_PER_MS),
	    CODE_OK);
	for (i = 0; i < N; i++)
		assert_int_equal(
		    w[i].code, i == N / 2 ? CODE_UNAVAILABLE : CODE_OK);
	store_db_exec(locker, "ROLLBACK", NULL);
	PQfinish(locker);
	for (i = 0; i < N; i += 97)
		assert_int_equal(
		    store_db_version(e->db, ids[i]), i == N / 2 ? 1 : 2);
	assert_int_equal(store_db_version(e->db, ids[N / 2]), 1);
	free(ids);
	free(w);
}

/* A batch statement that waits (here: on a request id another session is
 * inserting) is cancelled at the deadline: DEADLINE_EXCEEDED, nothing
 * applied, items untouched, and the store works right after. */
static void
test_update_many_deadline(void **state)
{
	struct store_env  *e = *state;
	struct product     a, b;
	struct store_write w[2];
	PGconn            *locker;
	uint64_t           start, took_ms;
	const char        *held = "store-test-held-request-id";

	store_db_new_product(e->st, "store-test", 5, &a);
	store_db_new_product(e->st, "store-test", 5, &b);
	memset(w, 0, sizeof(w));
	w[0].id         = a.id;
	w[0].request_id = held;
	w[1].id         = b.id;
	for (int i = 0; i < 2; i++) {
		w[i].stock            = 1;
		w[i].expected_version = 1;
		w[i].code             = UNTOUCHED;
	}
	locker = PQconnectdb(store_db_conninfo());
	assert_int_equal(PQstatus(locker), CONNECTION_OK);
	store_db_exec(locker, "BEGIN", NULL);
	store_db_exec(locker,
	    "INSERT INTO request_log (request_id, method, product_id,"
	    " expected_version, stock, result_version, result_stock,"
	    " result_updated_at) VALUES ($1, 1, gen_random_uuid(), 1, 1, 2,"
	    " 1, now())",
	    held);

	start = testenv_mono_ns();
	assert_int_equal(
	    store_product_update_many(e->st, w, 2, start + 200 * NS_PER_MS),
	    CODE_DEADLINE_EXCEEDED);
	took_ms = (testenv_mono_ns() - start) / NS_PER_MS;
	print_message("deadline 200 ms: returned after %llu ms\n",
	    (unsigned long long)took_ms);
	assert_true(took_ms >= 150);
	assert_int_equal(w[0].code, UNTOUCHED);
	assert_int_equal(w[1].code, UNTOUCHED);
	assert_int_equal(store_db_version(e->db, a.id), 1);
	assert_int_equal(store_db_version(e->db, b.id), 1);

	/* A spent deadline never reaches the database. */
	assert_int_equal(
	    store_product_update_many(e->st, w, 2, testenv_mono_ns() - 1),
	    CODE_DEADLINE_EXCEEDED);

	store_db_exec(locker, "ROLLBACK", NULL);
	PQfinish(locker);
	/* Released: the same batch applies, on the same store. */
	assert_int_equal(store_product_update_many(e->st, w, 2,
	                     testenv_mono_ns() + 10000 * NS_PER_MS),
	    CODE_OK);
	assert_int_equal(w[0].code, CODE_OK);
	assert_int_equal(w[1].code, CODE_OK);
}

/* ---- two stores, same products, opposite orders ----------------------- */

struct racer {
	const char (*ids)[PRODUCT_ID_LEN + 1]; /* the shared products */
	bool reverse;            /* write them in the opposite order */
	long busy;               /* items skipped: row busy elsewhere */
	long oks[RACE_PRODUCTS]; /* OK per product */
	long aborted;            /* ABORTED items */
	long failures;           /* anything else */
	char what[128];          /* the first failure */
};

static void *
race(void *arg)
{
	struct racer        *r    = arg;
	struct store        *st   = NULL;
	struct store_options opts = { .conninfo = store_db_conninfo() };
	int                  round, i;

	if (store_create(&st, &opts) != 0) {
		r->failures++;
		return NULL;
	}
	for (round = 0; round < RACE_ROUNDS; round++) {
		struct store_read  reads[RACE_PRODUCTS];
		struct store_write w[RACE_PRODUCTS];
		char               rids[RACE_PRODUCTS][48];
		enum code          rv;

		memset(reads, 0, sizeof(reads));
		memset(w, 0, sizeof(w));
		for (i = 0; i < RACE_PRODUCTS; i++)
			reads[i].id = r->ids[i];
		rv = store_product_get_many(st, reads, RACE_PRODUCTS, 0);
		if (rv != CODE_OK) {
			r->failures++;
			snprintf(r->what, sizeof(r->what), "get_many: %d", rv);
			continue;
		}
		for (i = 0; i < RACE_PRODUCTS; i++) {
			int k = r->reverse ? RACE_PRODUCTS - 1 - i : i;

			testenv_request_id(rids[i], sizeof(rids[i]));
			w[i].id               = r->ids[k];
			w[i].request_id       = rids[i];
			w[i].stock            = round;
			w[i].expected_version = reads[k].product.version;
		}
		rv = store_product_update_many(st, w, RACE_PRODUCTS,
		    testenv_mono_ns() + 10000 * NS_PER_MS);
		if (rv != CODE_OK) {
			r->failures++;
			snprintf(
			    r->what, sizeof(r->what), "update_many: %d", rv);
			continue;
		}
		for (i = 0; i < RACE_PRODUCTS; i++) {
			int k = r->reverse ? RACE_PRODUCTS - 1 - i : i;

			if (w[i].code == CODE_OK) {
				r->oks[k]++;
			} else if (w[i].code == CODE_ABORTED &&
			           w[i].product.version >
			               w[i].expected_version) {
				r->aborted++;
			} else if (w[i].code == CODE_UNAVAILABLE) {
				/* Its row was busy in the other racer's
				 * batch: skipped, for the caller to run
				 * alone; nothing was applied. */
				r->busy++;
			} else {
				r->failures++;
				snprintf(r->what, sizeof(r->what),
				    "item %d: code %d", i, w[i].code);
			}
		}
	}
	store_destroy(st);
	return NULL;
}

static void
test_update_many_no_deadlock(void **state)
{
	struct store_env *e = *state;
	char              ids[RACE_PRODUCTS][PRODUCT_ID_LEN + 1];
	struct racer      r[2];
	pthread_t         t[2];
	struct product    p;
	int               i, k;

	for (i = 0; i < RACE_PRODUCTS; i++) {
		store_db_new_product(e->st, "store-test", 1, &p);
		memcpy(ids[i], p.id, sizeof(ids[i]));
	}
	memset(r, 0, sizeof(r));
	for (k = 0; k < 2; k++) {
		r[k].ids     = (const char(*)[PRODUCT_ID_LEN + 1]) ids;
		r[k].reverse = k == 1;
		assert_int_equal(pthread_create(&t[k], NULL, race, &r[k]), 0);
	}
	for (k = 0; k < 2; k++)
		assert_int_equal(pthread_join(t[k], NULL), 0);

	for (k = 0; k < 2; k++) {
		if (r[k].failures != 0)
			fail_msg("racer %d: %ld failures, first: %s", k,
			    r[k].failures, r[k].what);
	}
	print_message("racers: %ld ABORTED items, %ld skipped as busy\n",
	    r[0].aborted + r[1].aborted, r[0].busy + r[1].busy);
	for (i = 0; i < RACE_PRODUCTS; i++) {
		assert_int_equal(store_db_version(e->db, ids[i]),
		    1 + r[0].oks[i] + r[1].oks[i]);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_many_duplicates_and_missing),
		cmocka_unit_test(test_many_bulk),
		cmocka_unit_test(test_update_many_mix),
		cmocka_unit_test(test_update_many_fails_whole),
		cmocka_unit_test(test_update_many_lost_after_commit),
		cmocka_unit_test(test_update_many_busy_row),
		cmocka_unit_test(test_update_many_deadline),
		cmocka_unit_test(test_update_many_no_deadlock),
	};

	return cmocka_run_group_tests(
	    tests, store_db_setup, store_db_teardown);
}
