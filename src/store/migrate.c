/* SPDX-License-Identifier: MIT */
/*
 * Schema migration (store_migrate, `inventoryd --migrate`): applies the SQL
 * files of deploy/sql, embedded at build time (migrations.h), that the
 * database has not seen yet.
 *
 * Invariants: migrations run under a session advisory lock, so replicas
 * starting together apply each file once; each file runs in its own
 * transaction together with its row in schema_migrations, so a file is
 * either fully applied and recorded or not at all; a recorded version is
 * never run again, so running this twice is a no-op.
 */
#include <inttypes.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "store/migrations.h"
#include "store/store.h"
#include "store/store_internal.h"

/* pg_advisory_lock key: "inv-migr" as a big-endian int8, so it cannot be
 * mistaken for another application's lock. */
#define MIGRATE_LOCK_SQL   "SELECT pg_advisory_lock(7597139558901835634)"
#define MIGRATE_UNLOCK_SQL "SELECT pg_advisory_unlock(7597139558901835634)"

static int
exec_ok(PGconn *conn, const char *what, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	int       rv  = 0;

	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		store_pq_log(what, conn, res);
		rv = -1;
	}
	PQclear(res);
	return rv;
}

/* 1 if `version` is recorded, 0 if not, -1 on error. */
static int
migration_applied(PGconn *conn, int version)
{
	char        version_s[16];
	const char *params[1] = { version_s };
	PGresult   *res;
	int         rv;

	snprintf(version_s, sizeof(version_s), "%d", version);
	res = PQexecParams(conn,
	    "SELECT 1 FROM schema_migrations WHERE version = $1::int4", 1,
	    NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		store_pq_log("migrate: schema_migrations", conn, res);
		rv = -1;
		goto out_clear;
	}
	rv = PQntuples(res) > 0;
out_clear:
	PQclear(res);
	return rv;
}

static int
migration_apply(PGconn *conn, const struct store_migration *m)
{
	char        version_s[16];
	const char *params[1] = { version_s };
	PGresult   *res;

	if (exec_ok(conn, "migrate: BEGIN", "BEGIN") != 0)
		return -1;
	/* One file may hold many statements: the simple query protocol
	 * runs them all, stopping at the first error. */
	if (exec_ok(conn, m->name, m->sql) != 0)
		goto out_rollback;

	snprintf(version_s, sizeof(version_s), "%d", m->version);
	res = PQexecParams(conn,
	    "INSERT INTO schema_migrations (version) VALUES ($1::int4)", 1,
	    NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		store_pq_log("migrate: record version", conn, res);
		PQclear(res);
		goto out_rollback;
	}
	PQclear(res);

	if (exec_ok(conn, "migrate: COMMIT", "COMMIT") != 0)
		goto out_rollback;
	log_info("store: migrate: applied %s", m->name);
	return 0;

out_rollback:
	(void)exec_ok(conn, "migrate: ROLLBACK", "ROLLBACK");
	return -1;
}

int
store_migrate(const char *conninfo)
{
	PGconn *conn;
	size_t  i;
	int     rv      = -1;
	int     applied = 0;

	conn = store_pq_connect(conninfo);
	if (conn == NULL || PQstatus(conn) != CONNECTION_OK) {
		store_pq_log("migrate: connect", conn, NULL);
		goto out_finish;
	}
	if (exec_ok(conn, "migrate: lock", MIGRATE_LOCK_SQL) != 0)
		goto out_finish;
	if (exec_ok(conn, "migrate: schema_migrations",
	        "CREATE TABLE IF NOT EXISTS schema_migrations ("
	        " version integer PRIMARY KEY,"
	        " applied_at timestamptz NOT NULL DEFAULT now())") != 0)
		goto out_unlock;

	for (i = 0; i < store_migrations_count; i++) {
		const struct store_migration *m = &store_migrations[i];
		int                           done;

		if ((done = migration_applied(conn, m->version)) < 0)
			goto out_unlock;
		if (done)
			continue;
		if (migration_apply(conn, m) != 0)
			goto out_unlock;
		applied++;
	}
	log_info("store: migrate: %d applied, schema at version %d", applied,
	    store_migrations[store_migrations_count - 1].version);
	rv = 0;

out_unlock:
	(void)exec_ok(conn, "migrate: unlock", MIGRATE_UNLOCK_SQL);
out_finish:
	PQfinish(conn);
	return rv;
}
