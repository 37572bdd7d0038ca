/* SPDX-License-Identifier: MIT */
/*
 * Several statements in one round trip and one implicit transaction:
 * libpq's pipeline mode with one sync at the end (see store_internal.h:
 * store_pipeline()).
 *
 * Invariants:
 * - A pipeline ends out of pipeline mode, in blocking mode, with every
 *   result read; if that cannot be guaranteed the connection is dropped.
 * - A pipeline whose commit (the sync) was sent and that failed without
 *   an error from the server sets st->unknown: it may have committed.
 */
#include <stdio.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "store/store.h"
#include "store/store_internal.h"

/* Read every result of a pipeline up to its sync point.  Keeps call i's
 * rows in out[i] and the first error in *err; false if the stream broke
 * off (connection lost, or not the shape pipeline mode promises). */
static bool
pipeline_read(struct store *st, size_t n, uint64_t deadline_ns, PGresult **out,
    PGresult **err)
{
	bool   cancelled = false;
	size_t call      = 0; /* whose results come next */

	for (;;) {
		PGresult      *res;
		ExecStatusType status;

		if (!store_await(st, deadline_ns, &cancelled) &&
		    PQstatus(st->conn) == CONNECTION_BAD)
			return false;
		res = PQgetResult(st->conn);
		if (res == NULL) {
			/* The end of one call's results. */
			if (++call > n || PQstatus(st->conn) == CONNECTION_BAD)
				return false;
			continue;
		}
		status = PQresultStatus(res);
		if (status == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			return call == n;
		}
		if (status == PGRES_TUPLES_OK && call < n &&
		    out[call] == NULL) {
			out[call] = res;
			continue;
		}
		if (status != PGRES_PIPELINE_ABORTED && *err == NULL) {
			*err = res; /* the failure that aborted the rest */
			continue;
		}
		PQclear(res);
		if (PQstatus(st->conn) == CONNECTION_BAD)
			return false;
	}
}

/* One try of store_pipeline().  *act says what the connection needs
 * (see store_classify()); it is not applied yet, for the pipeline must be
 * wound down first. */
static enum code
pipeline_once(struct store *st, const struct store_call *calls, size_t n,
    uint64_t deadline_ns, PGresult **out, enum store_action *act)
{
	PGresult *err      = NULL;
	enum code rv       = CODE_OK;
	bool      synced   = false; /* the commit was sent */
	bool      err_seen = false; /* the server failed the transaction */
	bool      intact;
	size_t    i;

	*act                   = ACT_NONE;
	st->unknown            = false;
	st->cancel_sent        = false;
	st->commit_unconfirmed = false;
	for (i = 0; i < n; i++)
		out[i] = NULL;
	if (st->conn == NULL)
		return CODE_UNAVAILABLE;
	/* Non-blocking, so that a large batch never blocks in send() while
	 * the server waits for a lock: the deadline bounds the whole trip. */
	if (PQsetnonblocking(st->conn, 1) != 0 ||
	    !PQenterPipelineMode(st->conn)) {
		rv = store_fail(st, "pipeline: enter", NULL);
		goto out_restore;
	}
	for (i = 0; i < n; i++) {
		if (!PQsendQueryPrepared(st->conn, calls[i].stmt->name,
		        calls[i].stmt->nparams, calls[i].params, NULL, NULL,
		        0)) {
			/* Nothing reached the server without a sync: the
			 * queued calls are discarded on exit. */
			rv = store_fail(st, calls[i].stmt->name, NULL);
			goto out_broken;
		}
	}
	if (!PQpipelineSync(st->conn)) {
		rv = store_fail(st, "pipeline: sync", NULL);
		goto out_broken;
	}
	synced = true;

	intact = pipeline_read(st, n, deadline_ns, out, &err);
	if (err != NULL) {
		err_seen = true;
		if (store_request_id_used(err)) {
			/* Two writers raced on one request id: expected, the
			 * caller re-runs the items one by one. */
			log_debug("store: pipeline: request id logged "
			          "concurrently");
			rv = store_code_sqlstate(
			    PQresultErrorField(err, PG_DIAG_SQLSTATE));
		} else {
			rv = store_classify(st, err, act);
			store_pq_log_suffix("pipeline", st->conn, err,
			    *act != ACT_NONE ? " (retrying once)" : "");
		}
		PQclear(err);
	} else if (!intact) {
		rv = store_fail(st, "pipeline: results", NULL);
	} else if (st->commit_unconfirmed) {
		log_warn("store: pipeline: %s", UNCONFIRMED_COMMIT);
		rv = CODE_UNAVAILABLE; /* synced, no error: st->unknown */
	} else {
		for (i = 0; i < n; i++) {
			if (out[i] == NULL) { /* NEVER: each call is a query */
				log_warn("store: pipeline: call %zu returned "
				         "no rows",
				    i);
				rv = CODE_INTERNAL;
			}
		}
	}
	if (!intact)
		goto out_broken;
	if (!PQexitPipelineMode(st->conn)) {
		rv = rv != CODE_OK ? rv
		                   : store_fail(st, "pipeline: exit", NULL);
		goto out_broken;
	}
	goto out_restore;

out_broken:
	/* Results or queued calls may be left over: this connection cannot
	 * be trusted for the next statement. */
	if (rv == CODE_OK)
		rv = CODE_UNAVAILABLE;
	store_drop(st);
out_restore:
	if (st->conn != NULL && PQsetnonblocking(st->conn, 0) != 0) {
		if (rv == CODE_OK)
			rv = CODE_UNAVAILABLE;
		store_drop(st);
	}
	if (rv != CODE_OK) {
		/* The sync (the commit) was sent and no error from the
		 * server says the transaction aborted: it may have
		 * committed, whatever was lost after. */
		st->unknown = err_seen ? false : synced;
		for (i = 0; i < n; i++) {
			PQclear(out[i]);
			out[i] = NULL;
		}
	}
	return rv;
}

enum code
store_pipeline(struct store *st, const struct store_call *calls, size_t n,
    uint64_t deadline_ns, PGresult **out)
{
	enum store_action act;
	enum code         rv;

	rv = pipeline_once(st, calls, n, deadline_ns, out, &act);
	if (rv == CODE_OK) {
		store_backoff_reset(st);
		return rv;
	}
	/* The server failed the transaction before its commit (the sync):
	 * nothing of it was applied, so it may run once more. */
	if (!store_may_retry(st, act, deadline_ns))
		return rv;
	rv = pipeline_once(st, calls, n, deadline_ns, out, &act);
	if (rv == CODE_OK) {
		store_backoff_reset(st);
		return rv;
	}
	store_mend(st, act);
	store_retry_failed(st, act);
	return rv;
}
