/* SPDX-License-Identifier: MIT */
/*
 * The store's connection (see store.h and store_internal.h): one libpq
 * connection per worker, opened with our defaults, every statement of
 * every file's table prepared on it, and re-established after a loss,
 * rate-limited; the scrubbed logging of libpq's text; the notices.
 *
 * Invariants:
 * - A lost connection is re-established by store_ready(), rate-limited by
 *   a back-off whose cap doubles from 100 ms to 500 ms (reset when a
 *   statement succeeds: store_backoff_reset()) with full jitter (a wait
 *   drawn uniformly from 0 to the cap, so executors and replicas do not
 *   reconnect in step), and then re-prepared; until then calls return
 *   UNAVAILABLE.
 * - No log line carries a password or a URI's user-info (store_scrub()).
 * - A WARNING after our deadline's cancel marks the statement's commit
 *   unconfirmed (store_notice_receiver(); exec.c and pipeline.c answer
 *   it UNAVAILABLE).
 */
#include <ctype.h>
#include <errno.h>
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
	BACKOFF_MIN_MS = 100, /* cap of the first wait after a failed
	                         connect */
	/* The cap doubles up to this.  It bounds what a failover costs on
	 * top of the database's own switch: after a planned one the new
	 * primary stays read-only for ~1 s and a worker then waits out
	 * what is left of its draw.  2 s cost up to 2 s (a CI run: 3,074 ms
	 * against the 3 s target); 500 ms means about 4 attempts a second
	 * per worker against a database that is down, cheap for it. */
	BACKOFF_MAX_MS      = 500,
	REQUEST_TTL_DEFAULT = 86400, /* seconds, when the option is 0 */
	LOG_LINE_MAX        = 512,   /* libpq text kept in one log line */
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
void
store_pq_log_suffix(const char *what, const PGconn *conn, const PGresult *res,
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
	store_pq_log_suffix(what, conn, res, "");
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
void
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
void
store_disconnect(struct store *st)
{
	PQfinish(st->conn);
	st->conn     = NULL;
	st->prepared = false;
}

void
store_backoff_reset(struct store *st)
{
	st->backoff_ms = BACKOFF_MIN_MS;
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
	store_backoff_reset(st);
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
store_req_begin(struct store *st, const struct store_req *req)
{
	st->deadline_ns = req != NULL ? req->deadline_ns : 0;
	st->caller      = req != NULL ? req->caller : NULL;
}

void
store_req_end(struct store *st)
{
	st->deadline_ns = 0;
	st->caller      = NULL;
}
