/* SPDX-License-Identifier: MIT */
/*
 * Private to src/store: what conn.c (the per-worker connection), exec.c
 * (one statement with a deadline), pipeline.c (several in one round
 * trip), sqlstate.c (what an error means), rows.c (reading results),
 * product.c and reserve.c (the RPCs' statements), janitor.c (the
 * request-log pruning) and migrate.c (the one-shot schema migration)
 * share.  Includes libpq, so it must never be included from outside
 * src/store.
 *
 * Invariants shared by those files:
 * - st->prepared is true only while every statement of every table in
 *   store_stmt_tables[] is prepared on st->conn; whatever leaves the
 *   connection bad or in an unknown protocol state clears it (or drops
 *   the connection), and store_ready() reconnects and re-prepares.
 * - Every PGresult is PQclear()ed on every path.
 * - Autocommit, READ COMMITTED: every statement outside a pipeline is its
 *   own transaction, and every statement (in a pipeline too) takes a fresh
 *   snapshot, so a read after a failed conditional UPDATE sees the latest
 *   committed row, never the failed statement's view.
 */
#ifndef INVENTORY_STORE_INTERNAL_H
#define INVENTORY_STORE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "base/clock.h"
#include "base/code.h"
#include "base/product.h"

enum {
	INT64_TEXT_MAX = 24, /* INT64_MIN as text, NUL, rounded */
};

struct store {
	PGconn *conn;           /* NULL after libpq ran out of memory or
	                           after store_drop() */
	bool     prepared;      /* every statement prepared on conn */
	char    *conninfo;      /* owned copy of the options' conninfo */
	int      request_ttl_s; /* request ids older than this are pruned */
	unsigned maintain_interval_ms; /* between pruning passes (0: the
	                                  janitor's default) */
	unsigned backoff_ms;           /* cap of the next jittered wait */
	uint64_t rng;                  /* xorshift state for the jitter */
	uint64_t next_attempt_ns;  /* no reconnect before this (monotonic) */
	uint64_t next_maintain_ns; /* no pruning before this (monotonic) */
	uint64_t deadline_ns;      /* the current call's deadline, 0: none;
	                              set only between store_req_begin() and
	                              store_req_end() */
	const char *caller;      /* the current call's caller (borrowed), NULL:
	                            none; recorded as updated_by; as above */
	unsigned long connects;  /* connections established (tests read
	                            it: one more after a reconnect) */
	unsigned long retries;   /* statements or pipelines run a second
	                            time after a retryable error (tests) */
	bool unknown;            /* the last pipeline failed after its
	                            commit was sent, without the server's
	                            word: it may have committed */
	bool cancel_sent;        /* the running statement or pipeline got
	                            our deadline's cancel */
	bool commit_unconfirmed; /* ... and a WARNING after it: committed
	                            locally while PostgreSQL waited for a
	                            synchronous standby (conn.c) */
};

/* One prepared statement.  Every product-returning statement yields the
 * same seven product columns, read by row_product(): id, name, stock,
 * price, version, created_at and updated_at (as µs since the epoch). */
struct stmt {
	const char *name;    /* prepared statement name, unique in the store */
	int         nparams; /* all parameters are sent as text */
	const char *sql;
};

/* The statements a file owns, prepared by conn.c on every connection. */
struct stmt_table {
	const struct stmt *stmts; /* the file's statements */
	size_t             count; /* how many */
};

extern const struct stmt_table store_product_stmts; /* product.c */
extern const struct stmt_table store_janitor_stmts; /* janitor.c */
extern const struct stmt_table store_reserve_stmts; /* reserve.c */

/* One statement of a pipeline. */
struct store_call {
	const struct stmt *stmt;   /* prepared statement to run */
	const char *const *params; /* stmt->nparams text values (or NULL) */
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

/* ---- conn.c: connecting (also used by migrate.c) --------------------- */

/* Connect with our defaults (connect_timeout=3, application_name=
 * inventoryd, TCP keepalives, tcp_user_timeout=10000, client_encoding=
 * UTF8) placed before `conninfo`, which libpq expands (expand_dbname), so
 * every value the user gives wins.  A default whose PG* environment
 * variable is set (PGCONNECT_TIMEOUT, PGAPPNAME, PGCLIENTENCODING) is left
 * out, so the environment keeps working as libpq documents.  NULL or ""
 * conninfo: libpq's PG* variables alone.  Blocks up to the connect
 * timeout.  Returns NULL only when out of memory; otherwise check
 * PQstatus() and PQfinish() the result in every case. */
PGconn *store_pq_connect(const char *conninfo);

/* log_warn() one line "<what>: <libpq's text>", taken from `res` if it
 * has an error message, else from the connection.  `res` may be NULL. */
void store_pq_log(const char *what, const PGconn *conn, const PGresult *res);
/* The same with `suffix` ("" or " (retrying once)") at the end. */
void store_pq_log_suffix(const char *what, const PGconn *conn,
    const PGresult *res, const char *suffix);

/* ---- conn.c: the connection's state ----------------------------------- */

/* Close the connection on purpose (its session is unfit); the next
 * store_ready() opens a new one. */
void store_disconnect(struct store *st);
/* No reconnect before a jittered wait; the wait's cap doubles. */
void store_backoff(struct store *st);
/* A statement succeeded: the next wait's cap is the smallest again. */
void store_backoff_reset(struct store *st);

/* ---- exec.c, pipeline.c: round trips on a store's connection ---------- */

/* The connection is up and prepared, or could be made so now. */
bool store_usable(struct store *st);

/* Close the connection because its protocol state is unknown; the next
 * store_ready() opens a new one. */
void store_drop(struct store *st);

/* A public single call's bounds (`req`, NULL: none) as the state its
 * statements read (store_exec() the deadline, the writes the caller), for
 * the length of that call only: every public call that takes a
 * store_req brackets its work with these two, so no deadline or caller
 * outlives its call (the janitor and the next call's prepare never run
 * under a stale one). */
void store_req_begin(struct store *st, const struct store_req *req);
void store_req_end(struct store *st);

/* Run one prepared statement, bounded by st->deadline_ns (the current
 * call's, see store_req_begin()).  A statement the server failed with a
 * retryable SQLSTATE (see the table in sqlstate.c: serialization failure,
 * deadlock, lost or stale prepared statement, read-only or shut-down
 * connection) is certain not to have committed: the connection is mended
 * (re-prepared or reconnected) and the statement run once more, if the
 * deadline allows; never after a connection lost without the server's word.
 * The caller PQclear()s the result; NULL means out of memory or a lost
 * connection (store_fail() maps both). */
PGresult *store_exec(
    struct store *st, const struct stmt *s, const char *const *params);

/* The same, bounded by `deadline_ns` (0: none) instead. */
PGresult *store_exec_until(struct store *st, const struct stmt *s,
    const char *const *params, uint64_t deadline_ns);

/* Wait until everything queued on st's connection is sent and
 * PQgetResult() would not block; past `deadline_ns` (0: none) cancel
 * what runs, once (*cancelled, st->cancel_sent), then wait without a
 * limit.  false when the connection failed. */
bool store_await(struct store *st, uint64_t deadline_ns, bool *cancelled);

/* A result that is rows or a completed command. */
bool store_result_ok(const PGresult *res);

/* Run `n` statements in one round trip and one implicit transaction
 * (pipeline mode, one sync at the end), bounded by `deadline_ns` (0:
 * none), retried once as store_exec() is.  OK: out[i] is call i's
 * PGRES_TUPLES_OK result, for the caller to PQclear().  Otherwise nothing was
 * committed, every out[i] is NULL, and the code (already logged) is that of
 * the first failure; the connection is left out of pipeline mode and idle, or
 * dropped. */
enum code store_pipeline(struct store *st, const struct store_call *calls,
    size_t n, uint64_t deadline_ns, PGresult **out);

/* ---- sqlstate.c: what an error means ---------------------------------- */

/* The code for a failed statement (res may be NULL) and, in *act, what
 * its connection needs; only an error the server sent (a SQLSTATE) gives
 * an action other than ACT_NONE. */
enum code store_classify(
    const struct store *st, const PGresult *res, enum store_action *act);
/* Leave the connection fit for the next statement after `act`. */
void store_mend(struct store *st, enum store_action act);
/* Whether a retry of a call bounded by deadline_ns may start now (the
 * action asks for one, the deadline has not passed, the connection is
 * or could be made usable); mends the connection first. */
bool store_may_retry(
    struct store *st, enum store_action act, uint64_t deadline_ns);
/* The retry failed as well: after a reconnect, back off. */
void store_retry_failed(struct store *st, enum store_action act);

/* A statement failed: log libpq's text, map it to a code with the
 * SQLSTATE table in sqlstate.c, and leave the connection fit for the next call
 * (forget the prepared statements after 26000/0A000, drop the connection
 * after 25006, 57P0x, 08xxx or any error that ended the session, so that
 * store_ready() re-prepares or reconnects).  A connection lost without an
 * error from the server (outcome unknown) is UNAVAILABLE.  `res` may be
 * NULL. */
enum code store_fail(struct store *st, const char *what, const PGresult *res);

/* Map a SQLSTATE to the code the caller gets when it is not (or no
 * longer) retried.  NULL (no state: e.g. out of memory) is INTERNAL. */
enum code store_code_sqlstate(const char *state);

/* Copy libpq's text `msg` into dst (cap bytes with the NUL, truncated)
 * with credentials redacted: the user-info of any URI ("://" up to the
 * last '@'), every password=... value (quoted or not, also sslpassword and
 * URI query parameters), and every literal occurrence of `secret` (NULL or
 * "": none) and of $PGPASSWORD.  Line breaks become spaces and trailing
 * blanks are dropped, so the result is one log line. */
void store_scrub(char *dst, size_t cap, const char *msg, const char *secret);

/* Whether res is the unique violation of a request id already logged. */
bool store_request_id_used(const PGresult *res);

/* ---- rows.c: reading results ------------------------------------------ */

/* Copy a text value into dst (cap bytes with the NUL).  0, or -1 if it is
 * NULL or too long. */
int get_text(const PGresult *res, int row, int col, char *dst, size_t cap);

/* A decimal int8 value.  0, or -1 if NULL or malformed. */
int get_i64(const PGresult *res, int row, int col, int64_t *out);

/* A boolean value; NULL is false. */
bool get_bool(const PGresult *res, int row, int col);

/* Read the seven product columns starting at `col`.  0, or -1 (logged) if
 * a value is NULL, malformed or too long for struct product. */
int row_product(const PGresult *res, int row, int col, struct product *out);

#endif
