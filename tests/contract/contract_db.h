/* SPDX-License-Identifier: MIT */
/*
 * Direct PostgreSQL access for the contract tests that must stage
 * something behind the server's back (a row lock held by another
 * session) or look at the database itself (pg_stat_activity).
 */
#ifndef INVENTORY_CONTRACT_DB_H
#define INVENTORY_CONTRACT_DB_H

#include <stdbool.h>

#include <libpq-fe.h>

/* A new connection to the fixtures' database (INVENTORY_DB); fails the
 * test if it cannot connect.  Close with PQfinish(). */
PGconn *contract_db_connect(void);

/* Run sql with at most one text parameter (NULL: none); fail the test on
 * error.  Returns the first column of a one-row result as an integer, or
 * -1 when there is no such value. */
long long contract_db_exec(PGconn *db, const char *sql, const char *param);

/* Begin a transaction on db and lock the product row id FOR UPDATE, so
 * the server's writes to it wait until contract_db_exec(db, "COMMIT"). */
void contract_db_lock_product(PGconn *db, const char *id);

/* How many backends wait on a lock that holder's backend holds; with
 * inventoryd_only, only the server's (application_name 'inventoryd'). */
long long contract_db_blocked_by(
    PGconn *db, PGconn *holder, bool inventoryd_only);

#endif
