/* SPDX-License-Identifier: MIT */
/*
 * The store's connection (see store.h and store_internal.h): one libpq
 * connection per worker, every statement of every file's table prepared
 * once per connection, the round trips on it (one statement, or a
 * pipeline of several in one transaction), both bounded by a deadline,
 * and the one place where libpq failures become enum code.
 *
 * Invariants:
 * - A lost connection is re-established by store_ready(), rate-limited by
 *   a back-off whose cap doubles from 100 ms to 2 s (reset when a
 *   statement succeeds) with full jitter (a wait drawn uniformly from 0
 *   to the cap, so executors and replicas do not reconnect in step), and
 *   then re-prepared; until then calls return UNAVAILABLE.
 * - Every database error is classified by one table (sqlstate_rules[]):
 *   the code the caller gets, and what the connection needs (nothing, one
 *   more try, re-preparing, reconnecting).  A statement the server failed
 *   did not commit, so a retryable one is run once more, on a mended
 *   connection, if the deadline allows; a connection lost without the
 *   server's word leaves the outcome unknown and is never retried.
 * - No log line carries a password or a URI's user-info (store_scrub()).
 * - A deadline never leaves a statement running behind the caller's
 *   back: past it the statement is cancelled in PostgreSQL and its result
 *   (57014, or what really happened if the cancel came too late) is still
 *   read, so the connection is idle again when the call returns.  A
 *   write whose wait for a synchronous standby that cancel cut short
 *   (PostgreSQL then reports success, with a WARNING) is UNAVAILABLE,
 *   outcome unknown: it may be on no standby (store_notice_receiver()).
 * - A pipeline ends out of pipeline mode, in blocking mode, with every
 *   result read; if that cannot be guaranteed the connection is dropped.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "store/store.h"
#include "store/store_internal.h"

enum {
	BACKOFF_MIN_MS = 100,        /* cap of the first wait after a failed
	                                connect */
	BACKOFF_MAX_MS      = 2000,  /* the cap doubles up to this */
	REQUEST_TTL_DEFAULT = 86400, /* seconds, when the option is 0 */
	LOG_LINE_MAX        = 512,   /* libpq text kept in one log line */
};

/* Logged when a write's commit was cut short by our cancel. */
#define UNCONFIRMED_COMMIT                                                \
	"the deadline's cancel reached it while PostgreSQL waited for a " \
	"synchronous standby: committed locally, maybe on no standby, "   \
	"outcome unknown (UNAVAILABLE)"

/* What a failed statement needs before the next one can run. */
enum store_action {
	ACT_NONE,      /* final: the caller gets the code */
	ACT_RETRY,     /* transient: run it once more as it is */
	ACT_REPREPARE, /* statements gone or stale: prepare again, run once
	                  more */
	ACT_RECONNECT, /* the session is unfit or ended: a new connection,
	                  then run once more */
};

/*
 * SQLSTATE -> code and action, the one place that decides what a database
 * error means.  An entry of two characters is a whole class.  The first
 * match wins; a state not listed is INTERNAL (a bug or a schema the code
 * does not know).  The code is what the caller gets when no retry is made
 * or the one retry failed too.
 */
static const struct sqlstate_rule {
	const char       *state;  /* SQLSTATE or class */
	enum code         code;   /* answer if not (or no longer) retried */
	enum store_action action; /* what the connection needs */
} sqlstate_rules[] = {
	/* The caller's values, refused by a constraint or a cast. */
	{ "22P02", CODE_INVALID_ARGUMENT, ACT_NONE }, /* invalid text */
	{ "22003", CODE_INVALID_ARGUMENT, ACT_NONE }, /* out of range */
	{ "22021", CODE_INVALID_ARGUMENT, ACT_NONE }, /* bad encoding */
	{ "23514", CODE_INVALID_ARGUMENT, ACT_NONE }, /* check violation */
	/* Our deadline's cancel, or statement_timeout. */
	{ "57014", CODE_DEADLINE_EXCEEDED, ACT_NONE },
	/* Lost the race with another transaction: rolled back. */
	{ "40001", CODE_UNAVAILABLE, ACT_RETRY }, /* serialization */
	{ "40P01", CODE_UNAVAILABLE, ACT_RETRY }, /* deadlock victim */
	/* Our prepared statements are gone (DEALLOCATE, a pooler) or their
	 * plans no longer fit the schema ("cached plan must not change
	 * result type" after a migration). */
	{ "26000", CODE_UNAVAILABLE, ACT_REPREPARE },
	{ "0A000", CODE_UNAVAILABLE, ACT_REPREPARE },
	/* A read-only session: a standby after a failover, or
	 * default_transaction_read_only.  A new connection lets a multi-host
	 * conninfo with target_session_attrs=read-write find the primary. */
	{ "25006", CODE_UNAVAILABLE, ACT_RECONNECT },
	/* The server ended or refuses the session. */
	{ "57P01", CODE_UNAVAILABLE, ACT_RECONNECT }, /* admin shutdown */
	{ "57P02", CODE_UNAVAILABLE, ACT_RECONNECT }, /* crash shutdown */
	{ "57P03", CODE_UNAVAILABLE, ACT_RECONNECT }, /* cannot connect now */
	{ "57P05", CODE_UNAVAILABLE,
	    ACT_RECONNECT }, /* idle session timeout */
	{ "25P03", CODE_UNAVAILABLE, ACT_RECONNECT }, /* idle in transaction
	                                                  timeout */
	{ "08", CODE_UNAVAILABLE, ACT_RECONNECT }, /* connection exception */
	/* Out of connections, memory or disk: retrying now only adds load. */
	{ "53", CODE_UNAVAILABLE, ACT_NONE },
};

/* Every file's statements, prepared in this order on each connection. */
static const struct stmt_table *const store_stmt_tables[] = {
	&store_product_stmts,
	&store_reserve_stmts,
	&store_janitor_stmts,
};

/* ---- shared with migrate.c ---------------------------------------- */

/* Whether `s` starts with `word`, ignoring case. */
static bool
starts_with_ci(const char *s, const char *word)
{
	return strncasecmp(s, word, strlen(word)) == 0;
}

void
store_scrub(char *dst, size_t cap, const char *msg, const char *secret)
{
	const char *secrets[2] = { secret, getenv("PGPASSWORD") };
	size_t      o = 0, i = 0, k;

	if (cap == 0)
		return;
#define PUT(c)                          \
	do {                            \
		if (o + 1 < cap)        \
			dst[o++] = (c); \
	} while (0)
#define PUTS(str)                                       \
	do {                                            \
		for (const char *q_ = (str); *q_; q_++) \
			PUT(*q_);                       \
	} while (0)
	while (msg[i] != '\0') {
		bool hit = false;

		/* A password the store knows, wherever libpq echoes it. */
		for (k = 0; k < 2 && !hit; k++) {
			size_t len =
			    secrets[k] != NULL ? strlen(secrets[k]) : 0;

			if (len > 0 &&
			    strncmp(msg + i, secrets[k], len) == 0) {
				PUTS("***");
				i += len;
				hit = true;
			}
		}
		if (hit)
			continue;
		if (strncmp(msg + i, "://", 3) == 0) {
			/* URI user-info: everything up to the last '@' (more
			 * than needed, never less, whatever the password
			 * holds). */
			const char *at = strrchr(msg + i + 3, '@');

			PUTS("://");
			i += 3;
			if (at != NULL) {
				PUTS("***");
				i = (size_t)(at - msg);
			}
			continue;
		}
		if (starts_with_ci(msg + i, "password")) {
			size_t j = i + sizeof("password") - 1;

			while (msg[j] == ' ')
				j++;
			if (msg[j] == '=') {
				PUTS("password=***");
				j++;
				while (msg[j] == ' ')
					j++;
				if (msg[j] == '\'') { /* quoted, \-escaped */
					for (j++;
					     msg[j] != '\0' && msg[j] != '\'';
					     j++)
						if (msg[j] == '\\' &&
						    msg[j + 1] != '\0')
							j++;
					if (msg[j] == '\'')
						j++;
				} else {
					while (msg[j] != '\0' &&
					       msg[j] != '&' &&
					       !isspace((unsigned char)msg[j]))
						j++;
				}
				i = j;
				continue;
			}
		}
		/* One event, one line: libpq ends its messages with a
		 * newline and puts DETAIL and HINT on lines of their own. */
		PUT(msg[i] == '\n' || msg[i] == '\r' || msg[i] == '\t'
		        ? ' '
		        : msg[i]);
		i++;
	}
#undef PUTS
#undef PUT
	while (o > 0 && dst[o - 1] == ' ')
		o--;
	dst[o] = '\0';
}

/* store_pq_log() with a suffix ("" or " (retrying once)"). */
static void
pq_log(const char *what, const PGconn *conn, const PGresult *res,
    const char *suffix)
{
	const char *msg = res != NULL ? PQresultErrorMessage(res) : "";
	char        line[LOG_LINE_MAX];

	if (msg[0] == '\0')
		msg = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	store_scrub(
	    line, sizeof(line), msg, conn != NULL ? PQpass(conn) : NULL);
	log_warn("store: %s: %s%s", what, line, suffix);
}

void
store_pq_log(const char *what, const PGconn *conn, const PGresult *res)
{
	pq_log(what, conn, res, "");
}

/* Notices (e.g. "relation already exists, skipping") are not errors. */
static void
store_notice(void *arg, const char *message)
{
	(void)arg;
	log_debug("store: notice: %s", message);
}

/*
 * A store's notices.  One matters: when our deadline's cancel reaches a
 * backend that has committed locally and waits for a synchronous standby,
 * PostgreSQL stops waiting, sends a WARNING ("canceling wait for
 * synchronous replication due to user request", SQLSTATE 01000, no code
 * of its own) and then reports the statement as if it had succeeded.  The
 * write may be on no standby, so a failover can lose it: the caller must
 * not be told OK.  A WARNING after our cancel is taken as that one (the
 * message itself may be translated); exec_once() and pipeline_once() then
 * answer UNAVAILABLE, outcome unknown.
 */
static void
store_notice_receiver(void *arg, const PGresult *res)
{
	struct store *st = arg;
	const char   *severity =
	    PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	if (st->cancel_sent && severity != NULL &&
	    strcmp(severity, "WARNING") == 0 && state != NULL &&
	    strcmp(state, "01000") == 0)
		st->commit_unconfirmed = true;
	log_debug("store: notice: %s", PQresultErrorMessage(res));
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

	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
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

/* xorshift64*: enough to spread reconnects, no system call per draw. */
static uint64_t
store_random(struct store *st)
{
	uint64_t x = st->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	st->rng = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* No reconnect for a wait drawn uniformly from [0, cap] ("full
 * jitter"), counted from now (a connect can take seconds); the cap then
 * doubles up to BACKOFF_MAX_MS. */
static void
store_backoff(struct store *st)
{
	uint64_t wait_ms = store_random(st) % ((uint64_t)st->backoff_ms + 1);

	st->next_attempt_ns = clock_now_ns() + wait_ms * 1000000u;
	st->backoff_ms *= 2;
	if (st->backoff_ms > BACKOFF_MAX_MS)
		st->backoff_ms = BACKOFF_MAX_MS;
}

/* Connections established again, by every store of the process: the
 * count /metrics reports as inventory_db_reconnects_total. */
static _Atomic uint64_t reconnects;

uint64_t
store_reconnects(void)
{
	return atomic_load_explicit(&reconnects, memory_order_relaxed);
}

/* Close the connection on purpose (its session is unfit); the next
 * store_ready() opens a new one. */
static void
store_disconnect(struct store *st)
{
	PQfinish(st->conn);
	st->conn     = NULL;
	st->prepared = false;
}

bool
store_ready(struct store *st)
{
	bool fresh = false; /* a new connection, not just re-prepared */

	if (st->conn != NULL && st->prepared &&
	    PQstatus(st->conn) == CONNECTION_OK)
		return true;
	if (clock_now_ns() < st->next_attempt_ns)
		return false;

	st->prepared = false;
	if (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK) {
		PQfinish(st->conn);
		st->conn = store_pq_connect(st->conninfo);
		if (st->conn != NULL)
			PQsetNoticeReceiver(
			    st->conn, store_notice_receiver, st);
		if (st->conn == NULL || PQstatus(st->conn) != CONNECTION_OK) {
			store_pq_log("connect", st->conn, NULL);
			goto out_backoff;
		}
		fresh = true;
	}
	if (store_prepare(st) != 0)
		goto out_backoff;

	/* The back-off cap is reset by the first statement that succeeds,
	 * not here: a server that accepts connections but fails every
	 * statement (read-only, say) must not be reconnected to in a loop. */
	st->prepared        = true;
	st->next_attempt_ns = 0;
	if (fresh) {
		st->connects++;
		if (st->connects > 1)
			atomic_fetch_add_explicit(
			    &reconnects, 1, memory_order_relaxed);
		log_info("store: connected to %s:%s/%s", PQhost(st->conn),
		    PQport(st->conn), PQdb(st->conn));
	} else {
		log_info("store: statements prepared again");
	}
	return true;

out_backoff:
	store_backoff(st);
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
	st->maintain_interval_ms =
	    opts != NULL && opts->maintain_interval_ms > 0
	        ? (unsigned)opts->maintain_interval_ms
	        : 0;
	st->backoff_ms = BACKOFF_MIN_MS;
	st->rng =
	    clock_now_ns() ^ (uint64_t)(uintptr_t)st ^ 0x9E3779B97F4A7C15ull;
	if (st->rng == 0) /* NEVER: xorshift would stay at 0 */
		st->rng = 1;

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

void
store_set_caller(struct store *st, const char *caller)
{
	st->caller = caller;
}

/* ---- errors ----------------------------------------------------------- */

static const struct sqlstate_rule *
sqlstate_rule(const char *state)
{
	size_t i;

	for (i = 0; i < sizeof(sqlstate_rules) / sizeof(*sqlstate_rules);
	     i++) {
		const char *r = sqlstate_rules[i].state;

		if (strncmp(state, r, strlen(r)) == 0)
			return &sqlstate_rules[i];
	}
	return NULL;
}

enum code
store_code_sqlstate(const char *state)
{
	const struct sqlstate_rule *rule;

	if (state == NULL || (rule = sqlstate_rule(state)) == NULL)
		return CODE_INTERNAL;
	return rule->code;
}

/*
 * The code for a failed statement and what its connection needs.  Only an
 * error the server sent (it has a SQLSTATE) proves the statement did not
 * commit, and only then is an action other than ACT_NONE returned.  A
 * session the server ended with an error (FATAL: 57P01, say, when the
 * backend was terminated) needs a reconnect whatever the SQLSTATE; a
 * connection lost without the server's word (no SQLSTATE) leaves the
 * outcome unknown: UNAVAILABLE, never retried.
 */
static enum code
store_classify(
    const struct store *st, const PGresult *res, enum store_action *act)
{
	const char *state =
	    res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	bool lost = st->conn == NULL || PQstatus(st->conn) == CONNECTION_BAD;
	const struct sqlstate_rule *rule;

	*act = ACT_NONE;
	if (state == NULL)
		return lost || st->commit_unconfirmed ? CODE_UNAVAILABLE
		                                      : CODE_INTERNAL;
	if (lost) {
		*act = ACT_RECONNECT;
		return CODE_UNAVAILABLE;
	}
	if ((rule = sqlstate_rule(state)) == NULL)
		return CODE_INTERNAL;
	*act = rule->action;
	return rule->code;
}

/* Leave the connection fit for the next statement after `act`. */
static void
store_mend(struct store *st, enum store_action act)
{
	switch (act) {
	case ACT_REPREPARE:
		st->prepared = false; /* store_prepare() deallocates first */
		break;
	case ACT_RECONNECT:
		store_disconnect(st);
		break;
	case ACT_NONE:
	case ACT_RETRY:
		break;
	}
}

enum code
store_fail(struct store *st, const char *what, const PGresult *res)
{
	enum store_action act;
	enum code         code;

	store_pq_log(what, st->conn, res);
	code = store_classify(st, res, &act);
	store_mend(st, act);
	if (st->conn != NULL && PQstatus(st->conn) == CONNECTION_BAD)
		st->prepared = false; /* store_ready() reconnects */
	return code;
}

/* Whether a retry of a call bounded by deadline_ns may start now: the
 * action asks for one, the deadline has not passed, and the connection
 * is (or could now be made) usable. */
static bool
store_may_retry(struct store *st, enum store_action act, uint64_t deadline_ns)
{
	if (act == ACT_NONE)
		return false;
	store_mend(st, act);
	if (deadline_ns != 0 && clock_now_ns() >= deadline_ns)
		return false;
	if (!store_usable(st))
		return false;
	st->retries++;
	return true;
}

/* The retry failed as well and asks for a new connection again: the
 * server accepts sessions that cannot do the work (read-only, shutting
 * down), so wait (jittered) before the next one. */
static void
store_retry_failed(struct store *st, enum store_action act)
{
	if (act == ACT_RECONNECT)
		store_backoff(st);
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

static bool
result_ok(const PGresult *res)
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
		if (keep != NULL && !result_ok(keep)) {
			PQclear(res);
			continue;
		}
		PQclear(keep);
		keep = res;
	}
	if (result_ok(keep) && st->commit_unconfirmed) {
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

	if (result_ok(res)) {
		st->backoff_ms = BACKOFF_MIN_MS;
		return res;
	}
	(void)store_classify(st, res, &act);
	if (act == ACT_NONE)
		return res; /* the caller's store_fail() logs and maps it */
	pq_log(s->name, st->conn, res, " (retrying once)");
	if (!store_may_retry(st, act, deadline_ns))
		return res;
	PQclear(res);
	res = exec_once(st, s, params, deadline_ns);
	if (result_ok(res)) {
		st->backoff_ms = BACKOFF_MIN_MS;
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
			pq_log("pipeline", st->conn, err,
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
		st->backoff_ms = BACKOFF_MIN_MS;
		return rv;
	}
	/* The server failed the transaction before its commit (the sync):
	 * nothing of it was applied, so it may run once more. */
	if (!store_may_retry(st, act, deadline_ns))
		return rv;
	rv = pipeline_once(st, calls, n, deadline_ns, out, &act);
	if (rv == CODE_OK) {
		st->backoff_ms = BACKOFF_MIN_MS;
		return rv;
	}
	store_mend(st, act);
	store_retry_failed(st, act);
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
	out->prev_stock = -1;
	return 0;
}
