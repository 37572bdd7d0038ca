/*
 * The store tests' side door into PostgreSQL: a plain libpq connection of
 * the test's own, to look at (and disturb) what the store under test did.
 * Shared by store_test.c and store_errors_test.c.  Every helper fails the
 * running cmocka test on a database error.
 */
#ifndef INVENTORY_TESTS_STORE_DB_H
#define INVENTORY_TESTS_STORE_DB_H

#include <libpq-fe.h>

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
