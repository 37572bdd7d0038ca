/* SPDX-License-Identifier: MIT */
/*
 * One statement on a store's connection, bounded by a deadline (see
 * store_internal.h: store_exec(), store_exec_until(), store_await()).
 *
 * Invariants:
 * - A deadline never leaves a statement running behind the caller's
 *   back: past it the statement is cancelled in PostgreSQL and its result
 *   (57014, or what really happened if the cancel came too late) is still
 *   read, so the connection is idle again when the call returns.  A
 *   write whose wait for a synchronous standby that cancel cut short
 *   (PostgreSQL then reports success, with a WARNING) is UNAVAILABLE,
 *   outcome unknown: it may be on no standby.
 * - A statement is run at most twice, the second time only after a
 *   failure the server reported (sqlstate.c).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "store/store.h"
#include "store/store_internal.h"

/*
 * Wait until everything queued is sent and PQgetResult() would not block.
 * Past `deadline_ns` (0: none) ask the server, once, to cancel what runs:
 * it then fails with 57014 (nothing written); a cancel that arrives after
 * the work finished is ignored, so the results are whatever really
 * happened.  After the cancel, wait without a limit, as PQexecPrepared
 * would.  Returns false when the connection failed (PQgetResult() then
 * reports it).
 */
bool
store_await(struct store *st, uint64_t deadline_ns, bool *cancelled)
{
	for (;;) {
		struct pollfd pfd = { .fd = PQsocket(st->conn),
			.events           = POLLIN };
		uint64_t      now;
		int           flush, wait_ms, rv;

		/* Pending output exists only in non-blocking mode (in a
		 * pipeline); a blocking send has already been flushed. */
		if ((flush = PQflush(st->conn)) < 0)
			return false;
		if (flush == 0 && !PQisBusy(st->conn))
			return true;
		if (flush == 1)
			pfd.events |= POLLOUT;

		now = clock_now_ns();
		if (*cancelled || deadline_ns == 0)
			wait_ms = -1;
		else if (now >= deadline_ns)
			wait_ms = 0;
		else if (deadline_ns - now >= (uint64_t)INT_MAX * 1000000u)
			wait_ms =
			    INT_MAX; /* woken again before the deadline */
		else
			wait_ms =
			    (int)((deadline_ns - now + 999999u) / 1000000u);
		rv = poll(&pfd, 1, wait_ms);
		if (rv == 0 && !*cancelled) {
			PGcancel *c = PQgetCancel(st->conn);
			char      err[256];

			if (c == NULL || !PQcancel(c, err, sizeof(err))) {
				log_warn(
				    "store: cancel at deadline failed: %s",
				    c == NULL ? "no cancel handle" : err);
			}
			PQfreeCancel(c);
			*cancelled      = true;
			st->cancel_sent = true;
			continue;
		}
		if (rv < 0 && errno == EINTR)
			continue;
		if (rv < 0)
			return false;
		if ((pfd.revents & (POLLIN | POLLERR | POLLHUP)) != 0 &&
		    !PQconsumeInput(st->conn))
			return false;
	}
}

bool
store_result_ok(const PGresult *res)
{
	ExecStatusType status = PQresultStatus(res);

	return status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK;
}

/* One statement, one try.  Keeps the first error: after a FATAL error
 * from the server (with its SQLSTATE) libpq adds one of its own, without
 * one, when it sees the connection close. */
static PGresult *
exec_once(struct store *st, const struct stmt *s, const char *const *params,
    uint64_t deadline_ns)
{
	PGresult *res, *keep = NULL;
	bool      cancelled = false;

	st->cancel_sent        = false;
	st->commit_unconfirmed = false;
	if (st->conn == NULL || !PQsendQueryPrepared(st->conn, s->name,
	                            s->nparams, params, NULL, NULL, 0))
		return NULL;
	(void)store_await(st, deadline_ns, &cancelled);
	while ((res = PQgetResult(st->conn)) != NULL) {
		if (keep != NULL && !store_result_ok(keep)) {
			PQclear(res);
			continue;
		}
		PQclear(keep);
		keep = res;
	}
	if (store_result_ok(keep) && st->commit_unconfirmed) {
		log_warn("store: %s: %s", s->name, UNCONFIRMED_COMMIT);
		PQclear(keep);
		keep = NULL; /* store_classify(): UNAVAILABLE, no retry */
	}
	return keep;
}

PGresult *
store_exec_until(struct store *st, const struct stmt *s,
    const char *const *params, uint64_t deadline_ns)
{
	enum store_action act;
	PGresult         *res = exec_once(st, s, params, deadline_ns);

	if (store_result_ok(res)) {
		store_backoff_reset(st);
		return res;
	}
	(void)store_classify(st, res, &act);
	if (act == ACT_NONE)
		return res; /* the caller's store_fail() logs and maps it */
	store_pq_log_suffix(s->name, st->conn, res, " (retrying once)");
	if (!store_may_retry(st, act, deadline_ns))
		return res;
	PQclear(res);
	res = exec_once(st, s, params, deadline_ns);
	if (store_result_ok(res)) {
		store_backoff_reset(st);
		return res;
	}
	(void)store_classify(st, res, &act);
	store_retry_failed(st, act);
	return res;
}

PGresult *
store_exec(struct store *st, const struct stmt *s, const char *const *params)
{
	return store_exec_until(st, s, params, st->deadline_ns);
}
