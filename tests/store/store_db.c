/* SPDX-License-Identifier: MIT */
/*
 * The store tests' own libpq connection helpers (see store_db.h).
 */
#include "store_db.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "store/store.h"
#include "testenv.h"

const char *
store_db_conninfo(void)
{
	const char *ci = testenv_get("INVENTORY_DB");

	if (ci == NULL)
		fail_msg("INVENTORY_DB is not set by the fixtures");
	return ci;
}

struct store *
store_db_open_store(void)
{
	struct store_options opts = { .conninfo = store_db_conninfo() };
	struct store        *st;

	assert_int_equal(store_create(&st, &opts), 0);
	assert_true(store_ready(st));
	return st;
}

int
store_db_setup(void **state)
{
	struct store_env *e = calloc(1, sizeof(*e));

	assert_non_null(e);
	assert_int_equal(store_migrate(store_db_conninfo()), 0);
	e->st = store_db_open_store();
	e->db = PQconnectdb(store_db_conninfo());
	assert_int_equal(PQstatus(e->db), CONNECTION_OK);
	*state = e;
	return 0;
}

int
store_db_teardown(void **state)
{
	struct store_env *e = *state;

	store_destroy(e->st);
	PQfinish(e->db);
	free(e);
	return 0;
}

void
store_db_new_product(
    struct store *st, const char *name, int64_t stock, struct product *out)
{
	assert_int_equal(
	    store_product_create(st, NULL, NULL, name, stock, "1.50", out),
	    CODE_OK);
	assert_int_equal(out->version, 1);
}

long long
store_db_exec2(PGconn *db, const char *sql, const char *p1, const char *p2)
{
	const char *params[2] = { p1, p2 };
	int         n         = p2 != NULL ? 2 : p1 != NULL ? 1 : 0;
	PGresult *res = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType s = PQresultStatus(res);
	long long      v = -1;

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		print_error("%s: %s", sql, PQerrorMessage(db));
		PQclear(res);
		fail();
	}
	if (s == PGRES_TUPLES_OK && PQntuples(res) >= 1 &&
	    !PQgetisnull(res, 0, 0)) {
		const char *t = PQgetvalue(res, 0, 0);

		v = strcmp(t, "t") == 0 || strcmp(t, "on") == 0    ? 1
		    : strcmp(t, "f") == 0 || strcmp(t, "off") == 0 ? 0
		                                                   : atoll(t);
	}
	PQclear(res);
	return v;
}

long long
store_db_exec(PGconn *db, const char *sql, const char *p1)
{
	return store_db_exec2(db, sql, p1, NULL);
}

long long
store_db_version(PGconn *db, const char *id)
{
	return store_db_exec(
	    db, "SELECT version FROM products WHERE id = $1::uuid", id);
}

long long
store_db_logged(PGconn *db, const char *request_id)
{
	return store_db_exec(db,
	    "SELECT count(*) FROM request_log WHERE request_id = $1::text",
	    request_id);
}
