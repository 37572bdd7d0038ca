/* SPDX-License-Identifier: MIT */
/*
 * The store tests' side door into PostgreSQL: a plain libpq connection of
 * the test's own, to look at (and disturb) what the store under test did.
 * Shared by the store suites.  Every helper fails the running cmocka test
 * on a database error.
 */
#ifndef INVENTORY_TESTS_STORE_DB_H
#define INVENTORY_TESTS_STORE_DB_H

#include <stdint.h>

#include <libpq-fe.h>

#include "base/product.h"

struct store;

/* A cmocka group's state: the store under test and a plain connection. */
struct store_env {
	struct store *st; /* the store under test */
	PGconn       *db; /* a plain connection, to look behind its back */
};

/* The fixture's conninfo (INVENTORY_DB); fails the test without one. */
const char *store_db_conninfo(void);

/* A store on the fixture's database, connected and prepared. */
struct store *store_db_open_store(void);

/* cmocka group setup/teardown: migrate, then a struct store_env in
 * *state; and its release. */
int store_db_setup(void **state);
int store_db_teardown(void **state);

/* A new product named `name` with `stock`, at version 1. */
void store_db_new_product(
    struct store *st, const char *name, int64_t stock, struct product *out);

/* Run sql with up to two text parameters (NULL: fewer).  Returns the first
 * column of the first row as an integer ("t"/"on" are 1, "f"/"off" 0),
 * or -1 when there is none. */
long long store_db_exec2(
    PGconn *db, const char *sql, const char *p1, const char *p2);

/* store_db_exec2 with at most one parameter. */
long long store_db_exec(PGconn *db, const char *sql, const char *p1);

/* The stored version of product id, -1 if there is no such product. */
long long store_db_version(PGconn *db, const char *id);

/* How many request_log rows carry request_id (0 or 1). */
long long store_db_logged(PGconn *db, const char *request_id);

#endif
