/*
 * The store's connection (see store.h and store_internal.h): one libpq
 * connection per worker, every statement of every file's table prepared
 * once per connection, the round trips on it (one statement, or a
 * pipeline of several in one transaction), both bounded by a deadline,
 * and the one place where libpq failures become enum code.
 *
 * Invariants:
 * - A lost connection is re-established by store_ready(), rate-limited by
 *   a back-off of 100 ms doubling to 2 s (reset on success), and then
 *   re-prepared; until then calls return UNAVAILABLE.
 * - A deadline never leaves a statement running behind the caller's
 *   back: past it the statement is cancelled in PostgreSQL and its result
 *   (57014, or what really happened if the cancel came too late) is still
 *   read, so the connection is idle again when the call returns.
 * - A pipeline ends out of pipeline mode, in blocking mode, with every
 *   result read; if that cannot be guaranteed the connection is dropped.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "log.h"
#include "store/store.h"
#include "store/store_internal.h"

enum {
	BACKOFF_MIN_MS      = 100,   /* first wait after a failed connect */
	BACKOFF_MAX_MS      = 2000,  /* the wait doubles up to this */
	REQUEST_TTL_DEFAULT = 86400, /* seconds, when the option is 0 */
};

/* Every file's statements, prepared in this order on each connection. */
static const struct stmt_table *const store_stmt_tables[] = {
	&store_product_stmts,
	&store_janitor_stmts,
};

/* ---- shared with migrate.c ---------------------------------------- */

uint64_t
store_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void
store_pq_log(const char *what, const PGconn *conn, const PGresult *res)
{
	const char *msg = res != NULL ? PQresultErrorMessage(res) : "";
	char        line[512];
	size_t      len;

	if (msg[0] == '\0')
		msg = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	/* One event, one line: libpq ends its messages with a newline and
	 * puts DETAIL and HINT on lines of their own. */
	snprintf(line, sizeof(line), "%s", msg);
	len = strlen(line);
	while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == ' '))
		line[--len] = '\0';
	for (char *p = line; *p != '\0'; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	log_warn("store: %s: %s", what, line);
}

/* Notices (e.g. "relation already exists, skipping") are not errors. */
static void
store_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("store: notice: %s", message);
}

PGconn *
store_pq_connect(const char *conninfo)
{
	const char *keys[10];
	const char *vals[10];
	int         n = 0;
	PGconn     *conn;

	if (getenv("PGCONNECT_TIMEOUT") == NULL) {
		keys[n]   = "connect_timeout";
		vals[n++] = "3";
	}
	if (getenv("PGAPPNAME") == NULL) {
		keys[n]   = "application_name";
		vals[n++] = "inventoryd";
	}
	if (getenv("PGCLIENTENCODING") == NULL) {
		keys[n]   = "client_encoding";
		vals[n++] = "UTF8";
	}
	keys[n]   = "keepalives_idle";
	vals[n++] = "5";
	keys[n]   = "keepalives_interval";
	vals[n++] = "2";
	keys[n]   = "keepalives_count";
	vals[n++] = "3";
	keys[n]   = "tcp_user_timeout";
	vals[n++] = "10000";
	/* Last, so that what it expands to overrides the defaults above. */
	keys[n]   = "dbname";
	vals[n++] = conninfo != NULL ? conninfo : "";
	keys[n]   = NULL;
	vals[n]   = NULL;

	conn = PQconnectdbParams(keys, vals, 1);
	if (conn != NULL)
		PQsetNoticeProcessor(conn, store_notice, NULL);
	return conn;
}

/* ---- connection ------------------------------------------------------ */

/* Run once per connection, before the statements are prepared. */
static const char *const session_setup[] = {
	"DEALLOCATE ALL",
	"SET plan_cache_mode = force_generic_plan",
};

/* Prepare every statement on st->conn.  0 on success. */
static int
store_prepare(struct store *st)
{
	PGresult *res;
	size_t    t, i;

	/* Statements may survive from an earlier, partial attempt on a
	 * connection that stayed up (e.g. before the schema existed).
	 * Generic plans: PostgreSQL otherwise re-plans the array (batch)
	 * statements on every call, and measured, planning them cost more
	 * than running them; their plans do not depend on the values. */
	for (i = 0; i < sizeof(session_setup) / sizeof(*session_setup); i++) {
		res = PQexec(st->conn, session_setup[i]);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			store_pq_log(session_setup[i], st->conn, res);
			PQclear(res);
			return -1;
		}
		PQclear(res);
	}

	for (t = 0; t < sizeof(store_stmt_tables) / sizeof(*store_stmt_tables);
	     t++) {
		const struct stmt_table *tab = store_stmt_tables[t];

		for (i = 0; i < tab->count; i++) {
			const struct stmt *s = &tab->stmts[i];

			res = PQprepare(
			    st->conn, s->name, s->sql, s->nparams, NULL);
			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				store_pq_log(s->name, st->conn, res);
				PQclear(res);
				return -1;
			}
			PQclear(res);
		}
	}
	return 0;
}

bool
store_ready(struct store *st)
{
	if (st->conn != NULL && st->prepared &&
	    PQstatus(st->conn) == CONNECTION_OK)
		return true;
	if (store_now_ns() < st->next_attempt_ns)
		return false;

	st->prepared = false;
	if (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK) {
		PQfinish(st->conn);
		st->conn = store_pq_connect(st->conninfo);
		if (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK) {
			store_pq_log("connect", st->conn, NULL);
			goto out_backoff;
		}
	}
	if (store_prepare(st) != 0)
		goto out_backoff;

	st->prepared        = true;
	st->backoff_ms      = BACKOFF_MIN_MS;
	st->next_attempt_ns = 0;
	log_info("store: connected to %s:%s/%s", PQhost(st->conn),
	    PQport(st->conn), PQdb(st->conn));
	return true;

out_backoff:
	/* Counted from the end of the attempt: a connect can take seconds. */
	st->next_attempt_ns =
	    store_now_ns() + (uint64_t)st->backoff_ms * 1000000u;
	st->backoff_ms *= 2;
	if (st->backoff_ms > BACKOFF_MAX_MS)
		st->backoff_ms = BACKOFF_MAX_MS;
	return false;
}

int
store_create(struct store **out, const struct store_options *opts)
{
	struct store *st;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL)
		return -1;
	st->conninfo = strdup(
	    opts != NULL && opts->conninfo != NULL ? opts->conninfo : "");
	if (st->conninfo == NULL) {
		free(st);
		return -1;
	}
	st->request_ttl_s = opts != NULL && opts->request_ttl_s > 0
	                        ? opts->request_ttl_s
	                        : REQUEST_TTL_DEFAULT;
	st->backoff_ms    = BACKOFF_MIN_MS;

	(void)store_ready(st); /* down is fine: we reconnect later */
	*out = st;
	return 0;
}

void
store_destroy(struct store *st)
{
	if (st == NULL)
		return;
	PQfinish(st->conn);
	free(st->conninfo);
	free(st);
}

bool
store_usable(struct store *st)
{
	if (st->conn != NULL && st->prepared &&
	    PQstatus(st->conn) == CONNECTION_OK)
		return true;
	return store_ready(st);
}

void
store_drop(struct store *st)
{
	log_warn("store: connection left in an unknown state: reconnecting");
	PQfinish(st->conn);
	st->conn     = NULL;
	st->prepared = false;
}

void
store_set_deadline(struct store *st, uint64_t deadline_ns)
{
	st->deadline_ns = deadline_ns;
}

/* ---- errors ----------------------------------------------------------- */

enum code
store_code_sqlstate(const char *state)
{
	if (state == NULL)
		return CODE_INTERNAL;
	if (strcmp(state, "22P02") == 0 || /* invalid_text_representation */
	    strcmp(state, "23514") == 0 || /* check_violation */
	    strcmp(state, "22003") == 0 || /* numeric_value_out_of_range */
	    strcmp(state, "22021") == 0)   /* character_not_in_repertoire */
		return CODE_INVALID_ARGUMENT;
	/* query_canceled: statement_timeout or a cancel request */
	if (strcmp(state, "57014") == 0)
		return CODE_DEADLINE_EXCEEDED;
	if (strcmp(state, "40001") == 0 ||  /* serialization_failure */
	    strcmp(state, "40P01") == 0 ||  /* deadlock_detected */
	    strncmp(state, "08", 2) == 0 || /* connection exception */
	    strncmp(state, "53", 2) == 0 || /* insufficient resources */
	    strcmp(state, "57P01") == 0 ||  /* admin_shutdown */
	    strcmp(state, "57P02") == 0 ||  /* crash_shutdown */
	    strcmp(state, "57P03") == 0)    /* cannot_connect_now */
		return CODE_UNAVAILABLE;
	return CODE_INTERNAL;
}

enum code
store_fail(struct store *st, const char *what, const PGresult *res)
{
	store_pq_log(what, st->conn, res);
	if (st->conn == NULL || PQstatus(st->conn) == CONNECTION_BAD) {
		st->prepared = false;
		return CODE_UNAVAILABLE;
	}
	return store_code_sqlstate(PQresultErrorField(res, PG_DIAG_SQLSTATE));
}

bool
store_request_id_used(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *cons  = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

	return state != NULL && strcmp(state, "23505") == 0 && cons != NULL &&
	       strcmp(cons, "request_log_pkey") == 0;
}

/* ---- round trips ------------------------------------------------------ */

/*
 * Wait until everything queued is sent and PQgetResult() would not block.
 * Past `deadline_ns` (0: none) ask the server, once, to cancel what runs:
 * it then fails with 57014 (nothing written); a cancel that arrives after
 * the work finished is ignored, so the results are whatever really
 * happened.  After the cancel, wait without a limit, as PQexecPrepared
 * would.  Returns false when the connection failed (PQgetResult() then
 * reports it).
 */
static bool
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

		now = store_now_ns();
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
			*cancelled = true;
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

PGresult *
store_exec_until(struct store *st, const struct stmt *s,
    const char *const *params, uint64_t deadline_ns)
{
	PGresult *res, *last = NULL;
	bool      cancelled = false;

	if (deadline_ns == 0) {
		return PQexecPrepared(
		    st->conn, s->name, s->nparams, params, NULL, NULL, 0);
	}
	if (!PQsendQueryPrepared(
	        st->conn, s->name, s->nparams, params, NULL, NULL, 0))
		return NULL;
	(void)store_await(st, deadline_ns, &cancelled);
	while ((res = PQgetResult(st->conn)) != NULL) {
		PQclear(last);
		last = res;
	}
	return last;
}

PGresult *
store_exec(struct store *st, const struct stmt *s, const char *const *params)
{
	return store_exec_until(st, s, params, st->deadline_ns);
}

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

enum code
store_pipeline(struct store *st, const struct store_call *calls, size_t n,
    uint64_t deadline_ns, PGresult **out)
{
	PGresult *err = NULL;
	enum code rv  = CODE_OK;
	bool      intact;
	size_t    i;

	for (i = 0; i < n; i++)
		out[i] = NULL;
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

	intact = pipeline_read(st, n, deadline_ns, out, &err);
	if (err != NULL) {
		if (store_request_id_used(err)) {
			/* Two writers raced on one request id: expected, the
			 * caller re-runs the items one by one. */
			log_debug("store: pipeline: request id logged "
			          "concurrently");
			rv = store_code_sqlstate(
			    PQresultErrorField(err, PG_DIAG_SQLSTATE));
		} else {
			rv = store_fail(st, "pipeline", err);
		}
		PQclear(err);
	} else if (!intact) {
		rv = store_fail(st, "pipeline: results", NULL);
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
		for (i = 0; i < n; i++) {
			PQclear(out[i]);
			out[i] = NULL;
		}
	}
	return rv;
}

/* ---- results ---------------------------------------------------------- */

int
get_text(const PGresult *res, int row, int col, char *dst, size_t cap)
{
	int len;

	if (PQgetisnull(res, row, col))
		return -1;
	len = PQgetlength(res, row, col);
	if (len < 0 || (size_t)len >= cap)
		return -1;
	memcpy(dst, PQgetvalue(res, row, col), (size_t)len);
	dst[len] = '\0';
	return 0;
}

int
get_i64(const PGresult *res, int row, int col, int64_t *out)
{
	const char *s;
	char       *end;
	long long   v;

	if (PQgetisnull(res, row, col))
		return -1;
	s     = PQgetvalue(res, row, col);
	errno = 0;
	v     = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = (int64_t)v;
	return 0;
}

bool
get_bool(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) &&
	       PQgetvalue(res, row, col)[0] == 't';
}

int
row_product(const PGresult *res, int row, int col, struct product *out)
{
	if (get_text(res, row, col + 0, out->id, sizeof(out->id)) != 0 ||
	    get_text(res, row, col + 1, out->name, sizeof(out->name)) != 0 ||
	    get_i64(res, row, col + 2, &out->stock) != 0 ||
	    get_text(res, row, col + 3, out->price, sizeof(out->price)) != 0 ||
	    get_i64(res, row, col + 4, &out->version) != 0 ||
	    get_i64(res, row, col + 5, &out->created_at_us) != 0 ||
	    get_i64(res, row, col + 6, &out->updated_at_us) != 0) {
		log_warn("store: malformed product row from the database");
		return -1;
	}
	return 0;
}
