/* SPDX-License-Identifier: MIT */
/*
 * Direct PostgreSQL access for contract tests (see contract_db.h).
 */
#include "contract_db.h"

#include <stdio.h>
#include <stdlib.h>

#include "contract.h"

PGconn *
contract_db_connect(void)
{
	const char *conninfo = testenv_get("INVENTORY_DB");
	PGconn     *db;

	if (conninfo == NULL)
		fail_msg("INVENTORY_DB is not set by the fixtures");
	db = PQconnectdb(conninfo);
	if (PQstatus(db) != CONNECTION_OK)
		fail_msg("connect: %s", PQerrorMessage(db));
	return db;
}

long long
contract_db_exec(PGconn *db, const char *sql, const char *param)
{
	const char *params[1] = { param };
	PGresult   *res       = PQexecParams(
	            db, sql, param != NULL ? 1 : 0, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);
	long long      v  = -1;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		PQclear(res);
		fail_msg("%s: %s", sql, PQerrorMessage(db));
	}
	if (st == PGRES_TUPLES_OK && PQntuples(res) == 1 &&
	    !PQgetisnull(res, 0, 0))
		v = atoll(PQgetvalue(res, 0, 0));
	PQclear(res);
	return v;
}

void
contract_db_lock_product(PGconn *db, const char *id)
{
	contract_db_exec(db, "BEGIN", NULL);
	contract_db_exec(
	    db, "SELECT 1 FROM products WHERE id = $1::uuid FOR UPDATE", id);
}

long long
contract_db_blocked_by(PGconn *db, PGconn *holder, bool inventoryd_only)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%d", PQbackendPID(holder));
	return contract_db_exec(db,
	    inventoryd_only ? "SELECT count(*) FROM pg_stat_activity"
	                      " WHERE application_name = 'inventoryd'"
	                      " AND $1::int = ANY (pg_blocking_pids(pid))"
	                    : "SELECT count(*) FROM pg_stat_activity"
	                      " WHERE $1::int = ANY (pg_blocking_pids(pid))",
	    pid);
}
