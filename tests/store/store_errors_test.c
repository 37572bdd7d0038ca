/* SPDX-License-Identifier: MIT */
/*
 * Store error handling against the real PostgreSQL of the `db` fixture:
 * every class of database error the store meets in operation is provoked
 * for real, and the call after the disruption succeeds (or fails once with
 * UNAVAILABLE, then succeeds), never INTERNAL, and applies nothing twice
 * (versions and request_log rows are counted on a second connection).
 *   - read-only: default_transaction_read_only on the store's session
 *     (reconnect and retry inside the call) and cluster-wide by ALTER
 *     SYSTEM + pg_reload_conf() (UNAVAILABLE, then OK once it is off);
 *   - 57P01: pg_terminate_backend() of the store's backend (found by its
 *     application_name), idle and in the middle of a statement that waits
 *     on a row lock, for single calls and both batch calls;
 *   - 26000: DEALLOCATE ALL run on the store's own connection (the test
 *     reaches it through struct store, declared in store_internal.h);
 *   - 0A000: ALTER TABLE changing a returned column's type ("cached plan
 *     must not change result type"), plus ADD/DROP COLUMN;
 *   - 40001: a SERIALIZABLE session whose row was updated concurrently;
 *   - and the one case never retried: the connection breaking under a
 *     statement without an error from the server (outcome unknown);
 * and: the janitor prunes expired request ids under a steady write load
 * with a stale request deadline set, the reconnect back-off is jittered,
 * and no password of the conninfo reaches the log.
 *
 * Everything runs in a private database created here, so schema changes
 * and pruning touch no other test.  ALTER SYSTEM is cluster-wide, so the
 * test is RUN_SERIAL, and default_transaction_read_only is reset after
 * every test, at group teardown and at exit, whatever happened.
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
#include <unistd.h>

#include <sys/socket.h>

#include <cmocka.h>

#include "store_db.h"
#include <libpq-fe.h>
#include <pthread.h>

#include "base/log.h"
#include "store/store.h"
#include "store/store_internal.h"
#include "testenv.h"

#define NS_PER_MS 1000000ull

enum {
	WAIT_MS      = 10000, /* for the database to reach a state */
	OLD_REQUESTS = 40,    /* request ids logged before they expire */
};

struct env {
	char         *base; /* the fixtures' conninfo */
	char          dbname[64];
	char          app[64]; /* the store's application_name */
	char         *ci;      /* conninfo of the private database */
	struct store *st;      /* the store under test */
	PGconn       *db;      /* a plain connection, to look behind it */
	PGconn       *watch;   /* another, never in a transaction (activity
	                          is a snapshot per transaction) */
};

static char *atexit_base; /* for the read-only reset at exit */

/* `base` with dbname, application_name and (if not NULL) options
 * replaced, as a key=value string (malloc'd). */
static char *
conninfo_with(
    const char *base, const char *dbname, const char *app, const char *options)
{
	PQconninfoOption *opts = PQconninfoParse(base, NULL), *o;
	size_t            cap = 4096, len = 0;
	char             *out = malloc(cap);

	assert_non_null(opts);
	assert_non_null(out);
	out[0] = '\0';
	for (o = opts; o->keyword != NULL; o++) {
		const char *v = o->val;

		if (strcmp(o->keyword, "dbname") == 0)
			v = dbname;
		else if (strcmp(o->keyword, "application_name") == 0)
			v = app;
		else if (strcmp(o->keyword, "options") == 0 && options)
			v = options;
		if (v == NULL)
			continue;
		len += (size_t)snprintf(
		    out + len, cap - len, " %s='", o->keyword);
		for (; *v != '\0' && len + 4 < cap; v++) {
			if (*v == '\'' || *v == '\\')
				out[len++] = '\\';
			out[len++] = *v;
		}
		len += (size_t)snprintf(out + len, cap - len, "'");
		assert_true(len + 64 < cap);
	}
	PQconninfoFree(opts);
	return out;
}

/* A connection that stays writable whatever the cluster's default. */
static PGconn *
connect_plain(const char *ci)
{
	PGconn   *c = PQconnectdb(ci);
	PGresult *res;

	assert_int_equal(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, "SET default_transaction_read_only = off");
	assert_int_equal(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	return c;
}

/* Reset default_transaction_read_only cluster-wide and wait until new
 * sessions see it off.  Safe to call in any state. */
static void
read_only_reset(const char *base)
{
	PGconn   *c = PQconnectdb(base);
	PGresult *res;
	uint64_t  end = testenv_mono_ns() + WAIT_MS * NS_PER_MS;

	if (PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		return;
	}
	PQclear(PQexec(c, "SET default_transaction_read_only = off"));
	PQclear(PQexec(c, "ALTER SYSTEM RESET default_transaction_read_only"));
	PQclear(PQexec(c, "SELECT pg_reload_conf()"));
	PQfinish(c);
	while (testenv_mono_ns() < end) {
		bool off;

		c   = PQconnectdb(base);
		res = PQexec(c, "SHOW default_transaction_read_only");
		off = PQresultStatus(res) == PGRES_TUPLES_OK &&
		      strcmp(PQgetvalue(res, 0, 0), "off") == 0;
		PQclear(res);
		PQfinish(c);
		if (off)
			return;
		testenv_sleep_ms(20);
	}
}

static void
read_only_reset_at_exit(void)
{
	if (atexit_base != NULL)
		read_only_reset(atexit_base);
}

static struct store *
open_store(const struct env *e, const char *ci, int ttl_s, int interval_ms)
{
	struct store_options opts = { .conninfo = ci,
		.request_ttl_s                  = ttl_s,
		.maintain_interval_ms           = interval_ms };
	struct store        *st;

	assert_int_equal(store_create(&st, &opts), 0);
	assert_true(store_ready(st));
	(void)e;
	return st;
}

static int
group_setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	const char *base;
	PGconn     *admin;
	char        sql[256];

	assert_non_null(e);
	base = testenv_get("INVENTORY_DB");
	if (base == NULL)
		fail_msg("INVENTORY_DB is not set by the fixtures");
	assert_non_null(e->base = strdup(base));
	atexit_base = e->base;
	atexit(read_only_reset_at_exit);
	read_only_reset(e->base); /* a crashed earlier run, say */

	snprintf(e->dbname, sizeof(e->dbname), "inv_store_errors_%d",
	    (int)getpid());
	snprintf(e->app, sizeof(e->app), "store_errors_%d", (int)getpid());
	admin = connect_plain(e->base);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
	    e->dbname);
	store_db_exec(admin, sql, NULL);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", e->dbname);
	store_db_exec(admin, sql, NULL);
	PQfinish(admin);

	e->ci = conninfo_with(e->base, e->dbname, e->app, NULL);
	assert_int_equal(store_migrate(e->ci), 0);
	e->st = open_store(e, e->ci, 0, 0);
	{
		char *ci = conninfo_with(
		    e->base, e->dbname, "store_errors_check", NULL);

		e->db    = connect_plain(ci);
		e->watch = connect_plain(ci);
		free(ci);
	}
	*state = e;
	return 0;
}

static int
group_teardown(void **state)
{
	struct env *e = *state;
	PGconn     *admin;
	char        sql[256];

	store_destroy(e->st);
	PQfinish(e->db);
	PQfinish(e->watch);
	read_only_reset(e->base);
	admin = PQconnectdb(e->base);
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)",
	    e->dbname);
	PQclear(PQexec(admin, "SET default_transaction_read_only = off"));
	PQclear(PQexec(admin, sql));
	PQfinish(admin);
	free(e->ci);
	atexit_base = NULL;
	free(e->base);
	free(e);
	return 0;
}

/* After every test, whatever it left: writable again. */
static int
test_teardown(void **state)
{
	struct env *e = *state;

	read_only_reset(e->base);
	return 0;
}

/* A new product at version 1, made by the store. */
static void
new_product(struct store *st, struct product *out)
{
	assert_int_equal(store_product_create(
	                     st, NULL, NULL, "errors-test", 10, "2.00", out),
	    CODE_OK);
	assert_int_equal(out->version, 1);
}

/* The store's backend, found by its application_name; it must be the
 * one connection of the store. */
static int
store_backend(struct env *e)
{
	long long pid = store_db_exec(e->db,
	    "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
	    e->app);

	assert_true(pid > 0);
	assert_int_equal(pid, PQbackendPID(e->st->conn));
	return (int)pid;
}

/* pg_terminate_backend() of the store's backend, waiting until it is
 * gone (57P01 for the store's next statement). */
static void
terminate_store(struct env *e)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", store_backend(e));
	assert_int_equal(
	    store_db_exec(
	        e->db, "SELECT pg_terminate_backend($1::int4, 5000)", pid),
	    1);
}

/* Run sql on the store's own connection (the test-only way in). */
static void
on_store_conn(struct env *e, const char *sql)
{
	PGresult *res = PQexec(e->st->conn, sql);

	assert_int_not_equal(PQresultStatus(res), PGRES_FATAL_ERROR);
	PQclear(res);
}

/* UpdateStock must apply exactly once: OK at version + 1, in the
 * database too, and its request id logged once. */
static void
update_applies(struct env *e, struct store *st, struct product *p)
{
	char           rid[48];
	char           id[PRODUCT_ID_LEN + 1];
	struct product out;
	enum code      rc;

	testenv_request_id(rid, sizeof(rid));
	memcpy(id, p->id, sizeof(id));
	rc = store_product_update_stock(
	    st, NULL, rid, id, p->stock + 1, p->version, &out);
	assert_string_equal(code_name(rc), code_name(CODE_OK));
	assert_int_equal(out.version, p->version + 1);
	assert_int_equal(store_db_version(e->db, id), p->version + 1);
	assert_int_equal(store_db_logged(e->db, rid), 1);
	*p = out;
}

/* The same through the batch path: a one-item update_many must apply
 * exactly once. */
static void
batch_update_applies(struct env *e, struct product *p, int64_t stock)
{
	struct store_write write;
	char               rid[48];

	memset(&write, 0, sizeof(write));
	testenv_request_id(rid, sizeof(rid));
	write.id               = p->id;
	write.request_id       = rid;
	write.stock            = stock;
	write.expected_version = p->version;
	assert_int_equal(
	    store_product_update_many(e->st, &write, 1, 0), CODE_OK);
	assert_string_equal(code_name(write.code), code_name(CODE_OK));
	assert_int_equal(store_db_version(e->db, p->id), p->version + 1);
	assert_int_equal(store_db_logged(e->db, rid), 1);
	*p = write.product;
}

/* ---- read-only -------------------------------------------------------- */

static void
test_read_only_session(void **state)
{
	struct env    *e = *state;
	struct product p;
	unsigned long  connects, retries;

	new_product(e->st, &p);
	/* This session now answers writes with 25006, as a primary demoted
	 * under it would; a new session would not. */
	on_store_conn(e, "SET default_transaction_read_only = on");
	connects = e->st->connects;
	retries  = e->st->retries;
	update_applies(e, e->st, &p);
	assert_int_equal(e->st->connects, connects + 1);
	assert_int_equal(e->st->retries, retries + 1);
}

static void
test_read_only_cluster(void **state)
{
	struct env    *e = *state;
	struct product p, out;
	char           rid[48];
	uint64_t       end;
	unsigned long  connects;
	enum code      rc;

	new_product(e->st, &p);
	store_db_exec(e->db,
	    "ALTER SYSTEM SET default_transaction_read_only = on", NULL);
	store_db_exec(e->db, "SELECT pg_reload_conf()", NULL);
	/* Until the store's own session has taken the reload. */
	for (end = testenv_mono_ns() + WAIT_MS * NS_PER_MS;;
	     testenv_sleep_ms(20)) {
		PGresult *res =
		    PQexec(e->st->conn, "SHOW default_transaction_read_only");
		bool on = PQresultStatus(res) == PGRES_TUPLES_OK &&
		          strcmp(PQgetvalue(res, 0, 0), "on") == 0;

		PQclear(res);
		if (on)
			break;
		assert_true(testenv_mono_ns() < end);
	}

	/* Reconnected and retried once, read-only still: UNAVAILABLE. */
	connects = e->st->connects;
	testenv_request_id(rid, sizeof(rid));
	rc = store_product_update_stock(e->st, NULL, rid, p.id, 3, 1, &out);
	assert_string_equal(code_name(rc), code_name(CODE_UNAVAILABLE));
	assert_int_equal(e->st->connects, connects + 1);
	assert_int_equal(store_db_version(e->db, p.id), 1);
	assert_int_equal(store_db_logged(e->db, rid), 0);

	read_only_reset(e->base);
	/* The back-off after a failed retry is at most 200 ms. */
	testenv_sleep_ms(250);
	rc = store_product_update_stock(e->st, NULL, rid, p.id, 3, 1, &out);
	assert_string_equal(code_name(rc), code_name(CODE_OK));
	assert_int_equal(out.version, 2);
	assert_int_equal(store_db_version(e->db, p.id), 2);
	assert_int_equal(store_db_logged(e->db, rid), 1);
}

/* ---- 57P01: the backend terminated ------------------------------------ */

static void
test_terminate_idle(void **state)
{
	struct env        *e = *state;
	struct product     p, q;
	struct store_read  reads[2];
	struct store_write writes[2];
	char               rids[2][48];
	unsigned long      connects = e->st->connects;
	int                i;

	new_product(e->st, &p);
	new_product(e->st, &q);

	terminate_store(e);
	update_applies(e, e->st, &p);
	assert_int_equal(e->st->connects, connects + 1);

	terminate_store(e);
	{
		struct product out;

		assert_int_equal(
		    store_product_get(e->st, NULL, p.id, &out), CODE_OK);
		assert_int_equal(out.version, p.version);
	}
	assert_int_equal(e->st->connects, connects + 2);

	/* The batch calls: one statement, and a pipeline. */
	terminate_store(e);
	memset(reads, 0, sizeof(reads));
	reads[0].id = p.id;
	reads[1].id = q.id;
	assert_int_equal(store_product_get_many(e->st, reads, 2, 0), CODE_OK);
	assert_int_equal(reads[0].code, CODE_OK);
	assert_int_equal(reads[1].code, CODE_OK);
	assert_int_equal(e->st->connects, connects + 3);

	terminate_store(e);
	memset(writes, 0, sizeof(writes));
	for (i = 0; i < 2; i++) {
		const struct product *x = i == 0 ? &p : &q;

		testenv_request_id(rids[i], sizeof(rids[i]));
		writes[i].id               = x->id;
		writes[i].request_id       = rids[i];
		writes[i].stock            = 7;
		writes[i].expected_version = x->version;
	}
	assert_int_equal(
	    store_product_update_many(e->st, writes, 2, 0), CODE_OK);
	for (i = 0; i < 2; i++) {
		assert_string_equal(
		    code_name(writes[i].code), code_name(CODE_OK));
		assert_int_equal(store_db_version(e->db, writes[i].id),
		    writes[i].expected_version + 1);
		assert_int_equal(store_db_logged(e->db, rids[i]), 1);
	}
	assert_int_equal(e->st->connects, connects + 4);
}

struct blocked_call {
	struct store  *st;
	char           id[PRODUCT_ID_LEN + 1];
	char           rid[48];
	int64_t        expected;
	enum code      rc;
	struct product out;
};

static void *
blocked_update(void *arg)
{
	struct blocked_call *c = arg;

	struct store_req req = { testenv_mono_ns() + 20000 * NS_PER_MS, NULL };

	c->rc = store_product_update_stock(
	    c->st, &req, c->rid, c->id, 5, c->expected, &c->out);
	return NULL;
}

/* Until a backend named `app`, other than pid `not`, waits on a lock. */
static void
wait_lock_waiter(PGconn *watch, const char *app, const char * not )
{
	uint64_t end = testenv_mono_ns() + WAIT_MS * NS_PER_MS;

	while (store_db_exec2(watch,
	           "SELECT count(*) FROM pg_stat_activity"
	           " WHERE application_name = $1 AND wait_event_type = 'Lock'"
	           " AND pid <> $2::int4",
	           app, not ) < 1) {
		assert_true(testenv_mono_ns() < end);
		testenv_sleep_ms(10);
	}
}

static void
test_terminate_mid_statement(void **state)
{
	struct env         *e = *state;
	struct product      p;
	struct blocked_call c;
	pthread_t           th;
	char                pid[16];

	new_product(e->st, &p);
	memset(&c, 0, sizeof(c));
	c.st = e->st;
	memcpy(c.id, p.id, sizeof(c.id));
	testenv_request_id(c.rid, sizeof(c.rid));
	c.expected = 1;
	snprintf(pid, sizeof(pid), "%d", store_backend(e));

	store_db_exec(e->db, "BEGIN", NULL);
	store_db_exec(e->db,
	    "SELECT 1 FROM products WHERE id = $1::uuid FOR UPDATE", p.id);
	assert_int_equal(pthread_create(&th, NULL, blocked_update, &c), 0);
	wait_lock_waiter(e->watch, e->app, "0");
	/* Terminated while its UPDATE waits: the server answers 57P01 and
	 * the statement rolls back, so the store may run it again. */
	assert_int_equal(
	    store_db_exec(
	        e->db, "SELECT pg_terminate_backend($1::int4, 5000)", pid),
	    1);
	wait_lock_waiter(
	    e->watch, e->app, pid); /* the retry, on a new backend */
	store_db_exec(e->db, "COMMIT", NULL);
	assert_int_equal(pthread_join(th, NULL), 0);

	assert_string_equal(code_name(c.rc), code_name(CODE_OK));
	assert_int_equal(c.out.version, 2);
	assert_int_equal(store_db_version(e->db, p.id), 2);
	assert_int_equal(store_db_logged(e->db, c.rid), 1);
}

/* The connection breaks under a waiting UPDATE without a word from the
 * server: the outcome is unknown, so the store answers UNAVAILABLE and
 * does not retry; the orphaned statement still commits, once. */
static void
test_lost_mid_statement_not_retried(void **state)
{
	struct env         *e = *state;
	struct product      p;
	struct blocked_call c;
	pthread_t           th;
	unsigned long       retries = e->st->retries;
	uint64_t            end;

	new_product(e->st, &p);
	memset(&c, 0, sizeof(c));
	c.st = e->st;
	memcpy(c.id, p.id, sizeof(c.id));
	testenv_request_id(c.rid, sizeof(c.rid));
	c.expected = 1;

	store_db_exec(e->db, "BEGIN", NULL);
	store_db_exec(e->db,
	    "SELECT 1 FROM products WHERE id = $1::uuid FOR UPDATE", p.id);
	assert_int_equal(pthread_create(&th, NULL, blocked_update, &c), 0);
	wait_lock_waiter(e->watch, e->app, "0");
	assert_int_equal(shutdown(PQsocket(e->st->conn), SHUT_RDWR), 0);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_string_equal(code_name(c.rc), code_name(CODE_UNAVAILABLE));
	assert_int_equal(e->st->retries, retries);
	store_db_exec(e->db, "COMMIT", NULL);

	/* The server ran the orphaned UPDATE when the lock was freed. */
	for (end = testenv_mono_ns() + WAIT_MS * NS_PER_MS;
	     store_db_version(e->db, p.id) != 2; testenv_sleep_ms(10))
		assert_true(testenv_mono_ns() < end);
	assert_int_equal(store_db_logged(e->db, c.rid), 1);
	p.version = 2;
	p.stock   = 5;
	update_applies(e, e->st, &p); /* and the store reconnects */
}

/* ---- 26000: prepared statements gone ------------------------------------ */

static void
test_deallocate(void **state)
{
	struct env       *e = *state;
	struct product    p, out;
	struct store_read read;
	unsigned long     connects = e->st->connects;
	unsigned long     retries  = e->st->retries;

	new_product(e->st, &p);

	on_store_conn(e, "DEALLOCATE ALL");
	update_applies(e, e->st, &p);

	on_store_conn(e, "DEALLOCATE ALL");
	assert_int_equal(store_product_get(e->st, NULL, p.id, &out), CODE_OK);

	on_store_conn(e, "DEALLOCATE ALL");
	memset(&read, 0, sizeof(read));
	read.id = p.id;
	assert_int_equal(store_product_get_many(e->st, &read, 1, 0), CODE_OK);
	assert_int_equal(read.code, CODE_OK);

	on_store_conn(e, "DEALLOCATE ALL");
	batch_update_applies(e, &p, 1);

	/* Re-prepared on the same connection, each call retried once. */
	assert_int_equal(e->st->connects, connects);
	assert_int_equal(e->st->retries, retries + 4);
}

/* ---- 0A000: plans invalidated by a migration ------------------------------
 */

static void
test_schema_change(void **state)
{
	struct env    *e = *state;
	struct product p, out;
	unsigned long  retries;

	new_product(e->st, &p);

	/* A new and a dropped column: plans are rebuilt, nothing fails. */
	store_db_exec(
	    e->db, "ALTER TABLE products ADD COLUMN errors_test int", NULL);
	update_applies(e, e->st, &p);
	store_db_exec(
	    e->db, "ALTER TABLE products DROP COLUMN errors_test", NULL);
	update_applies(e, e->st, &p);

	/* A returned column changes type: "cached plan must not change
	 * result type" (0A000) for every statement returning it. */
	retries = e->st->retries;
	store_db_exec(
	    e->db, "ALTER TABLE products ALTER COLUMN stock TYPE int8", NULL);
	assert_int_equal(store_product_get(e->st, NULL, p.id, &out), CODE_OK);
	assert_int_equal(out.version, p.version);
	assert_int_equal(e->st->retries, retries + 1);
	update_applies(e, e->st, &p);

	/* Back to the real schema; the batch write meets it first. */
	store_db_exec(e->db,
	    "ALTER TABLE products ALTER COLUMN stock TYPE integer", NULL);
	batch_update_applies(e, &p, 4);
	assert_int_equal(e->st->retries, retries + 2);
	update_applies(e, e->st, &p);
}

/* ---- 40001: serialization failure --------------------------------------- */

static void
test_serialization_failure(void **state)
{
	struct env         *e = *state;
	struct product      p;
	struct blocked_call c;
	pthread_t           th;
	char                app[80];
	char               *ci;

	/* A store whose transactions are SERIALIZABLE: an UPDATE of a row
	 * that another transaction changed after its snapshot fails with
	 * 40001 (rolled back), and runs again in a new one. */
	snprintf(app, sizeof(app), "%s_ser", e->app);
	ci = conninfo_with(e->base, e->dbname, app,
	    "-c default_transaction_isolation=serializable");
	memset(&c, 0, sizeof(c));
	c.st = open_store(e, ci, 0, 0);
	new_product(e->st, &p);
	memcpy(c.id, p.id, sizeof(c.id));
	testenv_request_id(c.rid, sizeof(c.rid));
	c.expected = 1;

	store_db_exec(e->db, "BEGIN", NULL);
	store_db_exec(e->db,
	    "UPDATE products SET updated_at = updated_at WHERE id = $1::uuid",
	    p.id);
	assert_int_equal(pthread_create(&th, NULL, blocked_update, &c), 0);
	wait_lock_waiter(e->watch, app, "0");
	store_db_exec(e->db, "COMMIT", NULL);
	assert_int_equal(pthread_join(th, NULL), 0);

	assert_string_equal(code_name(c.rc), code_name(CODE_OK));
	assert_int_equal(c.out.version, 2);
	assert_int_equal(c.st->retries, 1);
	assert_int_equal(store_db_version(e->db, p.id), 2);
	assert_int_equal(store_db_logged(e->db, c.rid), 1);
	store_destroy(c.st);
	free(ci);
}

/* ---- the janitor under load --------------------------------------------- */

struct writer {
	struct store  *st;
	struct product p;
	volatile bool  stop;
	int            ok, other;
};

static void *
write_stream(void *arg)
{
	struct writer *w = arg;

	while (!w->stop) {
		char           rid[48];
		char           id[PRODUCT_ID_LEN + 1];
		struct product out;
		enum code      rc;

		testenv_request_id(rid, sizeof(rid));
		memcpy(id, w->p.id, sizeof(id));
		rc = store_product_update_stock(w->st, NULL, rid, id,
		    (w->p.stock + 1) % 100, w->p.version, &out);
		if (rc == CODE_OK) {
			w->p = out;
			w->ok++;
		} else {
			w->other++;
		}
	}
	return NULL;
}

static void
test_prune_under_load(void **state)
{
	struct env    *e = *state;
	struct store  *janitor;
	struct writer  w;
	struct product p;
	pthread_t      th;
	char           t0[64];
	int            i;

	/* TTL 1 s, passes at most 50 ms apart. */
	janitor = open_store(e, e->ci, 1, 50);
	new_product(e->st, &p);
	for (i = 0; i < OLD_REQUESTS; i++)
		update_applies(e, e->st, &p);
	assert_true(store_db_exec(e->db,
	                "SELECT count(*) FROM request_log"
	                " WHERE created_at >= now() - interval '10 s'",
	                NULL) >= OLD_REQUESTS);
	testenv_sleep_ms(1300); /* they expire */

	memset(&w, 0, sizeof(w));
	w.st = open_store(e, e->ci, 0, 0);
	new_product(w.st, &w.p);
	assert_int_equal(pthread_create(&th, NULL, write_stream, &w), 0);
	testenv_sleep_ms(300);

	/* The last call on this store had a deadline long past, as an idle
	 * executor's last call has: the janitor must not run under it. */
	{
		struct store_req stale = {
			testenv_mono_ns() - 1000 * NS_PER_MS, NULL
		};
		struct product got;
		enum code rc = store_product_get(janitor, &stale, p.id, &got);

		/* Cancelled, or done before the cancel reached it. */
		assert_true(rc == CODE_DEADLINE_EXCEEDED || rc == CODE_OK);
	}
	{
		PGresult *res =
		    PQexec(e->db, "SELECT clock_timestamp()::text");

		assert_int_equal(PQresultStatus(res), PGRES_TUPLES_OK);
		snprintf(t0, sizeof(t0), "%s", PQgetvalue(res, 0, 0));
		PQclear(res);
	}
	store_maintain(janitor);
	testenv_sleep_ms(200); /* the stream goes on after the pass */
	w.stop = true;
	assert_int_equal(pthread_join(th, NULL), 0);

	print_message("stream: %d writes OK, %d other during the prune\n",
	    w.ok, w.other);
	assert_true(w.ok > 10);
	assert_int_equal(w.other, 0);
	/* Nothing older than the TTL at the pass is left ... */
	assert_int_equal(store_db_exec(e->db,
	                     "SELECT count(*) FROM request_log"
	                     " WHERE created_at < $1::timestamptz"
	                     " - interval '1 s'",
	                     t0),
	    0);
	/* ... and the stream's fresh ids are kept. */
	assert_true(store_db_exec(e->db,
	                "SELECT count(*) FROM request_log"
	                " WHERE created_at > $1::timestamptz",
	                t0) > 0);

	/* The next pass, one interval later, prunes what expired since. */
	store_db_exec(e->db,
	    "UPDATE request_log SET created_at = now() - interval '1 h'"
	    " WHERE request_id IN (SELECT request_id FROM request_log"
	    " ORDER BY created_at DESC LIMIT 1)",
	    NULL);
	testenv_sleep_ms(60);
	store_maintain(janitor);
	assert_int_equal(store_db_exec(e->db,
	                     "SELECT count(*) FROM request_log"
	                     " WHERE created_at < now() - interval '30 min'",
	                     NULL),
	    0);
	store_destroy(w.st);
	store_destroy(janitor);
}

/* ---- reconnect back-off ------------------------------------------------- */

/* conn.c's BACKOFF_MAX_MS: the back-off doubles from 100 ms up to it. */
enum { CAP_MS = 500 };

static void
test_backoff_jitter(void **state)
{
	struct store        *st;
	struct store_options opts = {
		.conninfo = "host=127.0.0.1 port=1 connect_timeout=1",
	};
	uint64_t waits[24];
	uint64_t lo = UINT64_MAX, hi = 0;
	unsigned cap_want = 100;
	int      i;

	(void)state;
	assert_int_equal(store_create(&st, &opts), 0); /* one failure */
	cap_want = 200;
	for (i = 0; i < 24; i++) {
		unsigned cap = st->backoff_ms;
		uint64_t after;

		assert_int_equal(cap, cap_want);
		st->next_attempt_ns = 0;
		assert_false(store_ready(st));
		after = testenv_mono_ns();
		assert_true(st->next_attempt_ns <= after + cap * NS_PER_MS);
		waits[i] = st->next_attempt_ns > after
		               ? (st->next_attempt_ns - after) / NS_PER_MS
		               : 0;
		if (cap == CAP_MS) {
			lo = waits[i] < lo ? waits[i] : lo;
			hi = waits[i] > hi ? waits[i] : hi;
		}
		cap_want = cap * 2 > CAP_MS ? CAP_MS : cap * 2;
	}
	/* Full jitter at the 500 ms cap: spread over [0, 500] ms. */
	print_message("waits at the cap: %llu..%llu ms\n",
	    (unsigned long long)lo, (unsigned long long)hi);
	assert_true(hi <= CAP_MS);
	assert_true(hi - lo >= 200);
	store_destroy(st);
}

/* ---- secrets ------------------------------------------------------------ */

static void
test_scrub(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{ "IPv6 host address may not be empty in URI: "
		  "\"postgresql://user:s3cret@[]:5/db\"",
		    "IPv6 host address may not be empty in URI: "
		    "\"postgresql://***@[]:5/db\"" },
		{ "postgresql://u:p@ss@h/db", "postgresql://***@h/db" },
		{ "x postgres://h/db?password=s3cret&a=b",
		    "x postgres://h/db?password=***&a=b" },
		{ "host=h password = 'a b\\' c' port=1",
		    "host=h password=*** port=1" },
		{ "sslpassword=s3cret", "sslpassword=***" },
		{ "FATAL:  bad\nDETAIL:  more\n",
		    "FATAL:  bad DETAIL:  more" },
		{ "leak s3cret here", "leak *** here" },
	};
	char   out[256];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		store_scrub(
		    out, sizeof(out), cases[i].in, i == 6 ? "s3cret" : NULL);
		assert_string_equal(out, cases[i].out);
	}
	store_scrub(out, 8, "postgresql://u:s3cret@h", NULL);
	assert_string_equal(out, "postgre"); /* 7 bytes and the NUL */
}

static void
test_secret_not_logged(void **state)
{
	static const char *const bad[] = {
		"postgresql://user:Pw0rdXYZ@[::1",
		"postgresql://user:Pw0rdXYZ@[]:5/db",
		"postgresql://user:Pw0rdXYZ@host:bad/db",
		"host=127.0.0.1 port=1 password=Pw0rdXYZ connect_timeout=1",
		"host=127.0.0.1 port=bad password='Pw0rdXYZ'",
	};
	char           path[] = "/tmp/store_errors_log.XXXXXX";
	char           buf[16384];
	int            fd, saved;
	ssize_t        len;
	enum log_level level = log_threshold;
	size_t         i;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	log_threshold = LOG_LEVEL_DEBUG;
	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		struct store_options opts = { .conninfo = bad[i] };
		struct store        *st;
		struct product       out;

		if (store_create(&st, &opts) == 0) {
			st->next_attempt_ns = 0;
			(void)store_product_get(st, NULL,
			    "00000000-0000-0000-0000-000000000000", &out);
			store_destroy(st);
		}
		(void)store_migrate(bad[i]);
	}
	log_threshold = level;
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	len = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	unlink(path);
	assert_true(len > 0);
	buf[len] = '\0';
	print_message("captured log:\n%s", buf);
	assert_null(strstr(buf, "Pw0rdXYZ"));
	assert_non_null(strstr(buf, "store: connect:"));
	assert_non_null(strstr(buf, "store: migrate: connect:"));
	assert_non_null(strstr(buf, "***"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scrub),
		cmocka_unit_test(test_secret_not_logged),
		cmocka_unit_test(test_backoff_jitter),
		cmocka_unit_test_teardown(
		    test_read_only_session, test_teardown),
		cmocka_unit_test_teardown(
		    test_read_only_cluster, test_teardown),
		cmocka_unit_test_teardown(test_terminate_idle, test_teardown),
		cmocka_unit_test_teardown(
		    test_terminate_mid_statement, test_teardown),
		cmocka_unit_test_teardown(
		    test_lost_mid_statement_not_retried, test_teardown),
		cmocka_unit_test_teardown(test_deallocate, test_teardown),
		cmocka_unit_test_teardown(test_schema_change, test_teardown),
		cmocka_unit_test_teardown(
		    test_serialization_failure, test_teardown),
		cmocka_unit_test_teardown(
		    test_prune_under_load, test_teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
