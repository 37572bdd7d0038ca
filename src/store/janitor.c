/*
 * Housekeeping of the store (store_maintain): pruning request ids older
 * than the store's TTL from request_log, for an idle worker.
 *
 * Invariants: it has its own budget and never borrows a request's: at most
 * one pass per MAINTAIN_INTERVAL_S, at most PRUNE_BATCHES_MAX bounded
 * DELETEs of PRUNE_BATCH rows each (short transactions, so writers that
 * log request ids never wait long behind it).  A pruned request id only
 * loses the "older repeat" answer; the write path treats a log row that
 * vanishes under it as undecidable and re-runs the write.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "log.h"
#include "store/store.h"
#include "store/store_internal.h"

enum {
	MAINTAIN_INTERVAL_S = 60,   /* seconds between prunes, at least */
	PRUNE_BATCH         = 1000, /* rows per DELETE (the SQL's LIMIT) */
	PRUNE_BATCHES_MAX   = 100,  /* DELETEs per store_maintain, at most */
	PRUNE_BUDGET_MS     = 5000, /* per DELETE: cancelled past this */
};

enum janitor_stmt_id {
	STMT_REQUEST_LOG_PRUNE,
	JANITOR_STMT_COUNT,
};

static const struct stmt janitor_stmts[JANITOR_STMT_COUNT] = {
	/* $1 TTL in seconds: one bounded batch of expired request ids. */
	[STMT_REQUEST_LOG_PRUNE] = { "request_log_prune", 1,
	    "DELETE FROM request_log WHERE ctid IN ("
	    " SELECT ctid FROM request_log"
	    " WHERE created_at < now() - make_interval(secs => $1::float8)"
	    " LIMIT 1000)" },
};

const struct stmt_table store_janitor_stmts = {
	janitor_stmts,
	JANITOR_STMT_COUNT,
};

void
store_maintain(struct store *st)
{
	char        ttl_s[INT64_TEXT_MAX];
	const char *params[1] = { ttl_s };
	uint64_t    now       = store_now_ns();
	long        total     = 0;
	int         i;

	if (now < st->next_maintain_ns)
		return;
	st->next_maintain_ns =
	    now + (uint64_t)MAINTAIN_INTERVAL_S * 1000000000u;
	if (!store_usable(st))
		return;
	snprintf(ttl_s, sizeof(ttl_s), "%d", st->request_ttl_s);

	for (i = 0; i < PRUNE_BATCHES_MAX; i++) {
		/* Its own deadline: st->deadline_ns belongs to the last
		 * request and has usually passed by now. */
		PGresult *res = store_exec_until(st,
		    &janitor_stmts[STMT_REQUEST_LOG_PRUNE], params,
		    store_now_ns() + (uint64_t)PRUNE_BUDGET_MS * 1000000u);
		long      n;

		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			(void)store_fail(st, "request_log_prune", res);
			PQclear(res);
			break;
		}
		n = strtol(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		total += n;
		if (n < PRUNE_BATCH)
			break;
	}
	if (total > 0)
		log_debug("store: pruned %ld request ids older than %d s",
		    total, st->request_ttl_s);
}
