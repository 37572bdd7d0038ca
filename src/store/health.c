/* SPDX-License-Identifier: MIT */
/*
 * The readiness probe's connection (see store.h, store_probe_*): one
 * PGconn of its own, never an executor's, so a health check never waits
 * behind requests and requests never wait behind it.
 *
 * Ready means: a connection is up, and schema_migrations' highest version
 * is at least the newest migration embedded in this binary (a newer
 * schema is fine: migrations only add, and replicas of the next release
 * migrate before the older ones stop).  Every statement is bounded by a
 * short statement_timeout; a failed one drops the connection, so the next
 * check reconnects.  The reason text never carries libpq's message (it
 * may name hosts and users): that goes to the log, once per change.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "store/migrations.h"
#include "store/store.h"
#include "store/store_internal.h"

struct store_probe {
	char   *conninfo;                  /* owned copy */
	PGconn *conn;                      /* NULL: not connected */
	char    last[STORE_PROBE_WHY_MAX]; /* last reason, to log changes */
};

int
store_probe_create(struct store_probe **out, const char *conninfo)
{
	struct store_probe *p;

	*out = NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL)
		return -1;
	if ((p->conninfo = strdup(conninfo != NULL ? conninfo : "")) == NULL) {
		free(p);
		return -1;
	}
	*out = p;
	return 0;
}

void
store_probe_destroy(struct store_probe *p)
{
	if (p == NULL)
		return;
	PQfinish(p->conn);
	free(p->conninfo);
	free(p);
}

static void
probe_drop(struct store_probe *p)
{
	PQfinish(p->conn);
	p->conn = NULL;
}

/* The newest migration this binary carries (0: none). */
static int
schema_wanted(void)
{
	return store_migrations_count > 0
	           ? store_migrations[store_migrations_count - 1].version
	           : 0;
}

static int
probe_connect(struct store_probe *p)
{
	PGresult *res;

	p->conn = store_pq_connect(p->conninfo);
	if (p->conn == NULL || PQstatus(p->conn) != CONNECTION_OK) {
		if (strcmp(p->last, "database unreachable") != 0)
			store_pq_log("readiness: connect", p->conn, NULL);
		probe_drop(p);
		return -1;
	}
	res = PQexecParams(p->conn, "SET statement_timeout = 2000", 0, NULL,
	    NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		store_pq_log("readiness: statement_timeout", p->conn, res);
		PQclear(res);
		probe_drop(p);
		return -1;
	}
	PQclear(res);
	return 0;
}

enum store_probe_result
store_probe_check(struct store_probe *p, char *why, size_t cap)
{
	PGresult               *res = NULL;
	const char             *state;
	int64_t                 have;
	int                     want = schema_wanted();
	enum store_probe_result rv   = STORE_PROBE_DOWN;

	if (p->conn != NULL && PQstatus(p->conn) != CONNECTION_OK)
		probe_drop(p);
	if (p->conn == NULL && probe_connect(p) != 0) {
		snprintf(why, cap, "database unreachable");
		goto out;
	}
	res = PQexecParams(p->conn,
	    "SELECT coalesce(max(version), 0) FROM schema_migrations", 0, NULL,
	    NULL, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		if (state != NULL && strcmp(state, "42P01") == 0) {
			snprintf(why, cap,
			    "schema not migrated: no schema_migrations table "
			    "(run inventoryd --migrate)");
			rv = STORE_PROBE_SCHEMA;
		} else {
			snprintf(why, cap, "%s",
			    PQstatus(p->conn) != CONNECTION_OK
			        ? "database unreachable: connection lost"
			        : "database query failed");
			if (strcmp(p->last, why) != 0) /* once per change */
				store_pq_log("readiness: schema_migrations",
				    p->conn, res);
			probe_drop(p); /* a fresh session next time */
		}
		goto out;
	}
	if (PQntuples(res) != 1 || get_i64(res, 0, 0, &have) != 0) {
		snprintf(why, cap, "database query failed");
		goto out;
	}
	if (have < want) {
		snprintf(why, cap,
		    "schema at version %" PRId64
		    ", this inventoryd needs %d (run inventoryd --migrate)",
		    have, want);
		rv = STORE_PROBE_SCHEMA;
		goto out;
	}
	snprintf(why, cap, "ok");
	rv = STORE_PROBE_READY;
out:
	PQclear(res);
	if (strcmp(p->last, why) != 0) {
		if (rv == STORE_PROBE_READY)
			log_info(
			    "readiness: ready (schema version %d or newer)",
			    want);
		else
			log_warn("readiness: not ready: %s", why);
		snprintf(p->last, sizeof(p->last), "%s", why);
	}
	return rv;
}
