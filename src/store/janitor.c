/* SPDX-License-Identifier: MIT */
/*
 * Housekeeping of the store (store_maintain): pruning request ids older
 * than the store's TTL from request_log, for an idle worker.
 *
 * Invariants: it has its own budget and never borrows a request's: each
 * DELETE gets its own deadline (PRUNE_BUDGET_MS from its start, never the
 * last request's), a pass starts no new DELETE after PASS_BUDGET_MS (the
 * executor's queue waits meanwhile) and does at most PRUNE_BATCHES_MAX;
 * passes are at least the store's maintain interval apart
 * (store_options.maintain_interval_ms, default MAINTAIN_INTERVAL_MS),
 * except that a pass which stopped with expired rows left runs again
 * after MAINTAIN_AGAIN_MS, so pruning keeps up under steady load.  Each
 * DELETE is a short transaction of at most PRUNE_BATCH rows and skips rows
 * another executor's janitor is deleting, so neither writers that log
 * request ids nor other janitors wait behind it.  A pruned request id only
 * loses the "older repeat" answer; the write path treats a log row that
 * vanishes under it as undecidable and re-runs the write.
 */
#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "store/store.h"
#include "store/store_internal.h"

enum {
	MAINTAIN_INTERVAL_MS = 60000, /* between passes, unless the options
	                                 say otherwise */
	MAINTAIN_AGAIN_MS = 1000,     /* after a pass that left expired rows */
	PRUNE_BATCH       = 1000,     /* rows per DELETE (the SQL's LIMIT) */
	PRUNE_BATCHES_MAX = 100,      /* DELETEs per pass, at most */
	PRUNE_BUDGET_MS   = 5000,     /* per DELETE: cancelled past this */
	PASS_BUDGET_MS    = 200,      /* no new DELETE after this long */
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
	    " LIMIT 1000 FOR UPDATE SKIP LOCKED)" },
};

const struct stmt_table store_janitor_stmts = {
	janitor_stmts,
	JANITOR_STMT_COUNT,
};

void
store_maintain(struct store *st)
{
	char        ttl_s[INT64_TEXT_MAX];
	const char *params[1]   = { ttl_s };
	uint64_t    now         = clock_now_ns();
	uint64_t    interval_ms = st->maintain_interval_ms != 0
	                              ? st->maintain_interval_ms
	                              : MAINTAIN_INTERVAL_MS;
	uint64_t    pass_end    = now + (uint64_t)PASS_BUDGET_MS * 1000000u;
	long        total       = 0;
	long        n           = 0;
	int         i;

	if (now < st->next_maintain_ns)
		return;
	st->next_maintain_ns = now + interval_ms * 1000000u;
	if (!store_usable(st))
		return;
	snprintf(ttl_s, sizeof(ttl_s), "%d", st->request_ttl_s);

	for (i = 0; i < PRUNE_BATCHES_MAX && clock_now_ns() < pass_end; i++) {
		/* Its own deadline: st->deadline_ns belongs to the last
		 * request and has usually passed by now. */
		PGresult *res = store_exec_until(st,
		    &janitor_stmts[STMT_REQUEST_LOG_PRUNE], params,
		    clock_now_ns() + (uint64_t)PRUNE_BUDGET_MS * 1000000u);

		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			(void)store_fail(st, "request_log_prune", res);
			PQclear(res);
			n = 0;
			break;
		}
		n = strtol(PQcmdTuples(res), NULL, 10);
		PQclear(res);
		total += n;
		if (n < PRUNE_BATCH)
			break;
	}
	if (n >= PRUNE_BATCH && interval_ms > MAINTAIN_AGAIN_MS) {
		/* Out of budget with expired rows left: soon again. */
		st->next_maintain_ns =
		    clock_now_ns() + (uint64_t)MAINTAIN_AGAIN_MS * 1000000u;
	}
	if (total > 0)
		log_debug("store: pruned %ld request ids older than %d s",
		    total, st->request_ttl_s);
}
