/*
 * The PostgreSQL store (see store.h): one libpq connection per worker,
 * every statement prepared once per connection, libpq failures mapped to
 * enum code here and nowhere else.
 *
 * Invariants:
 * - st->prepared is true only while every statement of stmts[] is
 *   prepared on st->conn; any failure that leaves the connection bad
 *   clears it, and store_ready() reconnects (rate-limited by a back-off of
 *   100 ms doubling to 2 s, reset on success) and re-prepares.
 * - Every PGresult is PQclear()ed on every path (goto out_clear).
 * - Autocommit, READ COMMITTED: every statement is its own transaction and
 *   takes a fresh snapshot, so the read after a failed conditional UPDATE
 *   sees the latest committed row, never the failed statement's view.
 * - A write and the record of its request id are one statement, so they
 *   commit or vanish together.  A request id already in request_log makes
 *   the write fail with a unique violation (23505) and roll back: it is
 *   never applied twice, and the lookup that follows tells a repeat (first
 *   outcome returned) from a reuse by a different call (ALREADY_EXISTS).
 * - ABORTED is returned only with a version strictly greater than the one
 *   expected.
 */
#include <errno.h>
#include <poll.h>
#include <inttypes.h>
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
	MAINTAIN_INTERVAL_S = 60,    /* seconds between prunes, at least */
	PRUNE_BATCH         = 1000,  /* rows per DELETE (the SQL's LIMIT) */
	PRUNE_BATCHES_MAX   = 100,   /* DELETEs per store_maintain, at most */
	REQUEST_TTL_DEFAULT = 86400, /* seconds, when the option is 0 */
	WRITE_ATTEMPTS      = 3,     /* a write is re-run when a race makes
	                              * its outcome undecidable (see below) */
	INT64_TEXT_MAX = 24,         /* INT64_MIN as text, NUL, rounded */
};

/* request_log.method: which RPC wrote a row (see deploy/sql/001_init.sql). */
enum request_method {
	REQUEST_METHOD_UPDATE_STOCK   = 1,
	REQUEST_METHOD_CREATE_PRODUCT = 2,
};

struct store {
	PGconn  *conn;            /* NULL only after libpq ran out of memory */
	bool     prepared;        /* all of stmts[] prepared on conn */
	char    *conninfo;        /* owned copy of the options' conninfo */
	int      request_ttl_s;   /* request ids older than this are pruned */
	unsigned backoff_ms;      /* wait after the next failed attempt */
	uint64_t next_attempt_ns; /* no reconnect before this (monotonic) */
	uint64_t next_maintain_ns; /* no pruning before this (monotonic) */
	uint64_t deadline_ns;      /* the current call's deadline, 0: none */
};

/*
 * The statements.  Every product-returning statement yields the same
 * seven leading columns, read by row_product(): id, name, stock, price,
 * version, created_at and updated_at (as µs since the epoch).
 */
enum stmt_id {
	STMT_PRODUCT_GET,
	STMT_PRODUCT_CREATE,
	STMT_PRODUCT_CREATE_LOOKUP,
	STMT_PRODUCT_UPDATE_STOCK,
	STMT_PRODUCT_UPDATE_LOOKUP,
	STMT_REQUEST_LOG_PRUNE,
	STMT_COUNT,
};

struct stmt {
	const char *name;    /* prepared statement name */
	int         nparams; /* all parameters are sent as text */
	const char *sql;
};

static const struct stmt stmts[STMT_COUNT] = {
	/* $1 id */
	[STMT_PRODUCT_GET] = { "product_get", 1,
	    "SELECT p.id::text, p.name, p.stock, p.price::text, p.version,"
	    " (extract(epoch FROM p.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM p.updated_at) * 1000000)::int8"
	    " FROM products p WHERE p.id = $1::uuid" },

	/* $1 name, $2 stock, $3 price, $4 request id or NULL.  The log row
	 * is written only with a request id; a used one raises 23505 on
	 * request_log_pkey and the product insert rolls back with it. */
	[STMT_PRODUCT_CREATE] = { "product_create", 4,
	    "WITH ins AS ("
	    " INSERT INTO products (name, stock, price, last_request_id)"
	    " VALUES ($1::text, $2::int4, $3::numeric, $4::text)"
	    " RETURNING id, name, stock, price, version, created_at,"
	    " updated_at"
	    "), logged AS ("
	    " INSERT INTO request_log (request_id, method, product_id, stock,"
	    " name, price, result_version, result_stock, result_updated_at)"
	    " SELECT $4::text, 2, ins.id, ins.stock, ins.name, ins.price,"
	    " ins.version, ins.stock, ins.updated_at"
	    " FROM ins WHERE $4::text IS NOT NULL"
	    ")"
	    " SELECT ins.id::text, ins.name, ins.stock, ins.price::text,"
	    " ins.version,"
	    " (extract(epoch FROM ins.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM ins.updated_at) * 1000000)::int8"
	    " FROM ins" },

	/* $1 request id, $2 name, $3 stock, $4 price: the product as the
	 * logged create made it, and whether this is the same call. */
	[STMT_PRODUCT_CREATE_LOOKUP] = { "product_create_lookup", 4,
	    "SELECT l.product_id::text, l.name, l.result_stock,"
	    " l.price::text, l.result_version,"
	    " (extract(epoch FROM l.result_updated_at) * 1000000)::int8,"
	    " (extract(epoch FROM l.result_updated_at) * 1000000)::int8,"
	    " (l.method = 2 AND l.name = $2::text AND l.stock = $3::int4"
	    " AND l.price = $4::numeric) IS TRUE"
	    " FROM request_log l WHERE l.request_id = $1::text" },

	/* $1 id, $2 expected version, $3 stock, $4 request id or NULL: the
	 * one conditional write.  No row back: conflict, repeat or no such
	 * product (STMT_PRODUCT_UPDATE_LOOKUP decides); 23505: the request
	 * id was used before, nothing was written. */
	[STMT_PRODUCT_UPDATE_STOCK] = { "product_update_stock", 4,
	    "WITH upd AS ("
	    " UPDATE products"
	    " SET stock = $3::int4, version = version + 1, updated_at = now(),"
	    " last_request_id = $4::text"
	    " WHERE id = $1::uuid AND version = $2::int8"
	    " RETURNING id, name, stock, price, version, created_at,"
	    " updated_at"
	    "), logged AS ("
	    " INSERT INTO request_log (request_id, method, product_id,"
	    " expected_version, stock, result_version, result_stock,"
	    " result_updated_at)"
	    " SELECT $4::text, 1, upd.id, $2::int8, upd.stock, upd.version,"
	    " upd.stock, upd.updated_at"
	    " FROM upd WHERE $4::text IS NOT NULL"
	    ")"
	    " SELECT upd.id::text, upd.name, upd.stock, upd.price::text,"
	    " upd.version,"
	    " (extract(epoch FROM upd.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM upd.updated_at) * 1000000)::int8"
	    " FROM upd" },

	/* $1 id, $2 request id or NULL, $3 expected version, $4 stock: in a
	 * new snapshot, the latest committed row (columns 0-6), whether it
	 * was produced by this request id (7), whether the request id is
	 * logged (8) for this very call (9), and the logged outcome:
	 * version (10), stock (11), updated_at (12).  No row: not found. */
	[STMT_PRODUCT_UPDATE_LOOKUP] = { "product_update_lookup", 4,
	    "SELECT p.id::text, p.name, p.stock, p.price::text, p.version,"
	    " (extract(epoch FROM p.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM p.updated_at) * 1000000)::int8,"
	    " (p.last_request_id = $2::text) IS TRUE,"
	    " l.request_id IS NOT NULL,"
	    " (l.method = 1 AND l.product_id = p.id"
	    " AND l.expected_version = $3::int8 AND l.stock = $4::int4)"
	    " IS TRUE,"
	    " l.result_version, l.result_stock,"
	    " (extract(epoch FROM l.result_updated_at) * 1000000)::int8"
	    " FROM products p"
	    " LEFT JOIN request_log l ON l.request_id = $2::text"
	    " WHERE p.id = $1::uuid" },

	/* $1 TTL in seconds: one bounded batch of expired request ids. */
	[STMT_REQUEST_LOG_PRUNE] = { "request_log_prune", 1,
	    "DELETE FROM request_log WHERE ctid IN ("
	    " SELECT ctid FROM request_log"
	    " WHERE created_at < now() - make_interval(secs => $1::float8)"
	    " LIMIT 1000)" },
};

/* Columns of STMT_PRODUCT_UPDATE_LOOKUP after the product's seven. */
enum {
	COL_LAST_IS_RID = 7,
	COL_LOGGED      = 8,
	COL_LOG_SAME    = 9,
	COL_LOG_VERSION = 10,
	COL_LOG_STOCK   = 11,
	COL_LOG_UPDATED = 12,
	COL_CREATE_SAME = 7, /* of STMT_PRODUCT_CREATE_LOOKUP */
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
	size_t      len;

	if (msg[0] == '\0')
		msg = conn != NULL ? PQerrorMessage(conn) : "out of memory";
	len = strlen(msg);
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == ' '))
		len--; /* libpq ends its messages with a newline */
	log_warn("store: %s: %.*s", what, (int)len, msg);
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

/* Prepare every statement on st->conn.  0 on success. */
static int
store_prepare(struct store *st)
{
	PGresult *res;
	int       i;

	/* Statements may survive from an earlier, partial attempt on a
	 * connection that stayed up (e.g. before the schema existed). */
	res = PQexec(st->conn, "DEALLOCATE ALL");
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		store_pq_log("DEALLOCATE ALL", st->conn, res);
		PQclear(res);
		return -1;
	}
	PQclear(res);

	for (i = 0; i < STMT_COUNT; i++) {
		res = PQprepare(st->conn, stmts[i].name, stmts[i].sql,
		    stmts[i].nparams, NULL);
		if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			store_pq_log(stmts[i].name, st->conn, res);
			PQclear(res);
			return -1;
		}
		PQclear(res);
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

/* ---- results ---------------------------------------------------------- */

/* Map a SQLSTATE to a code.  NULL (no state: e.g. out of memory) is
 * INTERNAL. */
static enum code
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

/* A statement failed: log libpq's text and map it.  A connection that is
 * now bad is UNAVAILABLE whatever the SQLSTATE, and store_ready() will
 * reconnect. */
static enum code
store_fail(struct store *st, const char *what, const PGresult *res)
{
	store_pq_log(what, st->conn, res);
	if (PQstatus(st->conn) == CONNECTION_BAD) {
		st->prepared = false;
		return CODE_UNAVAILABLE;
	}
	return store_code_sqlstate(PQresultErrorField(res, PG_DIAG_SQLSTATE));
}

/* Whether res is the unique violation of a request id already logged. */
static bool
store_request_id_used(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *cons  = PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME);

	return state != NULL && strcmp(state, "23505") == 0 && cons != NULL &&
	       strcmp(cons, "request_log_pkey") == 0;
}

/* The connection is up and prepared, or could be made so now. */
static bool
store_usable(struct store *st)
{
	if (st->conn != NULL && st->prepared &&
	    PQstatus(st->conn) == CONNECTION_OK)
		return true;
	return store_ready(st);
}

static PGresult *
store_exec(struct store *st, enum stmt_id id, const char *const *params)
{
	PGresult *res, *last = NULL;
	bool      cancelled = false;

	if (st->deadline_ns == 0) {
		return PQexecPrepared(st->conn, stmts[id].name,
		    stmts[id].nparams, params, NULL, NULL, 0);
	}
	/* With a deadline: send, then wait for the result no longer than
	 * the deadline.  Past it, ask the server to cancel the statement:
	 * it then fails with 57014 (DEADLINE_EXCEEDED, nothing written); a
	 * cancel that arrives after the statement finished is ignored, so
	 * the result is whatever really happened.  After the cancel we wait
	 * for that result without a limit, as PQexecPrepared would. */
	if (!PQsendQueryPrepared(st->conn, stmts[id].name, stmts[id].nparams,
	        params, NULL, NULL, 0)) {
		return NULL;
	}
	while (PQisBusy(st->conn)) {
		struct pollfd pfd = { .fd = PQsocket(st->conn),
			.events           = POLLIN };
		uint64_t      now = store_now_ns();
		int           wait_ms, rv;

		wait_ms =
		    cancelled ? -1
		    : now >= st->deadline_ns
		        ? 0
		        : (int)((st->deadline_ns - now + 999999u) / 1000000u);
		rv = poll(&pfd, 1, wait_ms);
		if (rv == 0 && !cancelled) {
			PGcancel *c = PQgetCancel(st->conn);
			char      err[256];

			if (c == NULL || !PQcancel(c, err, sizeof(err))) {
				log_warn(
				    "store: cancel at deadline failed: %s",
				    c == NULL ? "no cancel handle" : err);
			}
			PQfreeCancel(c);
			cancelled = true;
			continue;
		}
		if (rv < 0 && errno == EINTR) {
			continue;
		}
		if (rv < 0 || !PQconsumeInput(st->conn)) {
			break; /* PQgetResult reports the failure */
		}
	}
	while ((res = PQgetResult(st->conn)) != NULL) {
		PQclear(last);
		last = res;
	}
	return last;
}

void
store_set_deadline(struct store *st, uint64_t deadline_ns)
{
	st->deadline_ns = deadline_ns;
}

static int
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

static int
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

static bool
get_bool(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) &&
	       PQgetvalue(res, row, col)[0] == 't';
}

/* Read the seven product columns starting at `col`.  0, or -1 if a value
 * is NULL, malformed or too long for struct product. */
static int
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

/* The product in row 0 of res, as a code: OK, or INTERNAL if a column
 * does not parse. */
static enum code
row_code(const PGresult *res, struct product *row)
{
	return row_product(res, 0, 0, row) == 0 ? CODE_OK : CODE_INTERNAL;
}

/* The common end of every product call: release res, then fill *out
 * only if a row was read, and only now, because the caller's arguments
 * (the id, say) may point into *out. */
static enum code
finish(PGresult *res, const struct product *row, struct product *out,
    enum code rv)
{
	PQclear(res);
	if (row->version != 0)
		*out = *row;
	return rv;
}

/* ---- products --------------------------------------------------------- */

enum code
store_product_get(struct store *st, const char *id, struct product *out)
{
	const char    *params[1] = { id };
	struct product row;
	PGresult      *res;
	enum code      rv;

	memset(&row, 0, sizeof(row));
	if (!store_usable(st))
		return CODE_UNAVAILABLE;

	res = store_exec(st, STMT_PRODUCT_GET, params);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rv = store_fail(st, "product_get", res);
		goto out_clear;
	}
	if (PQntuples(res) == 0) {
		rv = CODE_NOT_FOUND;
		goto out_clear;
	}
	rv = row_code(res, &row);
out_clear:
	return finish(res, &row, out, rv);
}

enum code
store_product_create(struct store *st, const char *request_id,
    const char *name, int64_t stock, const char *price, struct product *out)
{
	char           stock_s[INT64_TEXT_MAX];
	const char    *wparams[4] = { name, stock_s, price, request_id };
	const char    *lparams[4] = { request_id, name, stock_s, price };
	PGresult      *res        = NULL;
	struct product row;
	enum code      rv;
	int            attempt;

	memset(&row, 0, sizeof(row));
	if (!store_usable(st))
		return CODE_UNAVAILABLE;
	snprintf(stock_s, sizeof(stock_s), "%" PRId64, stock);

	for (attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
		res = store_exec(st, STMT_PRODUCT_CREATE, wparams);
		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    PQntuples(res) == 1) {
			rv = row_code(res, &row);
			goto out_clear;
		}
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			log_warn("store: product_create returned no row");
			rv = CODE_INTERNAL;
			goto out_clear;
		}
		if (request_id == NULL || !store_request_id_used(res)) {
			rv = store_fail(st, "product_create", res);
			goto out_clear;
		}
		/* The request id is taken: a repeat, or a reuse. */
		log_debug("store: product_create: request id %s seen before",
		    request_id);
		PQclear(res);

		res = store_exec(st, STMT_PRODUCT_CREATE_LOOKUP, lparams);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			rv = store_fail(st, "product_create_lookup", res);
			goto out_clear;
		}
		if (PQntuples(res) == 1) {
			if (!get_bool(res, 0, COL_CREATE_SAME)) {
				rv = CODE_ALREADY_EXISTS;
				goto out_clear;
			}
			rv = row_code(res, &row);
			goto out_clear;
		}
		/* Pruned since the insert collided with it: try again. */
		PQclear(res);
		res = NULL;
	}
	log_warn("store: product_create: request id %s: no stable outcome "
	         "after %d attempts",
	    request_id, WRITE_ATTEMPTS);
	rv = CODE_UNAVAILABLE;
out_clear:
	return finish(res, &row, out, rv);
}

enum code
store_product_update_stock(struct store *st, const char *request_id,
    const char *id, int64_t stock, int64_t expected_version,
    struct product *out)
{
	char           stock_s[INT64_TEXT_MAX];
	char           expected_s[INT64_TEXT_MAX];
	const char    *wparams[4] = { id, expected_s, stock_s, request_id };
	const char    *lparams[4] = { id, request_id, expected_s, stock_s };
	PGresult      *res        = NULL;
	struct product row;
	enum code      rv;
	int            attempt;

	memset(&row, 0, sizeof(row));
	if (!store_usable(st))
		return CODE_UNAVAILABLE;
	snprintf(stock_s, sizeof(stock_s), "%" PRId64, stock);
	snprintf(expected_s, sizeof(expected_s), "%" PRId64, expected_version);

	for (attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
		res = store_exec(st, STMT_PRODUCT_UPDATE_STOCK, wparams);
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			if (PQntuples(res) == 1) {
				rv = row_code(res, &row);
				goto out_clear;
			}
			/* No row: conflict, repeat or no such product. */
		} else if (request_id != NULL && store_request_id_used(res)) {
			/* The version matched but the request id is taken:
			 * nothing was written. */
			log_debug("store: product_update_stock: request id "
			          "%s seen before",
			    request_id);
		} else {
			rv = store_fail(st, "product_update_stock", res);
			goto out_clear;
		}
		PQclear(res);

		/* A new statement, so a new snapshot: the latest commit. */
		res = store_exec(st, STMT_PRODUCT_UPDATE_LOOKUP, lparams);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			rv = store_fail(st, "product_update_lookup", res);
			goto out_clear;
		}
		if (PQntuples(res) == 0) {
			rv = CODE_NOT_FOUND;
			goto out_clear;
		}
		if (row_product(res, 0, 0, &row) != 0) {
			rv = CODE_INTERNAL;
			goto out_clear;
		}
		if (request_id != NULL && get_bool(res, 0, COL_LAST_IS_RID)) {
			/* This request id produced the current version: the
			 * same call iff it was based on the version before
			 * and set this stock. */
			rv = row.version - 1 ==
			                 expected_version && /* no overflow:
			                                        version >= 1 */
			             row.stock == stock
			         ? CODE_OK
			         : CODE_ALREADY_EXISTS;
			goto out_clear;
		}
		if (get_bool(res, 0, COL_LOGGED)) {
			if (!get_bool(res, 0, COL_LOG_SAME)) {
				rv = CODE_ALREADY_EXISTS;
				goto out_clear;
			}
			/* An older repeat: the first call's outcome. */
			if (get_i64(res, 0, COL_LOG_VERSION, &row.version) ||
			    get_i64(res, 0, COL_LOG_STOCK, &row.stock) ||
			    get_i64(
			        res, 0, COL_LOG_UPDATED, &row.updated_at_us)) {
				rv = CODE_INTERNAL;
				goto out_clear;
			}
			rv = CODE_OK;
			goto out_clear;
		}
		if (row.version > expected_version) {
			rv = CODE_ABORTED;
			goto out_clear;
		}
		if (row.version < expected_version) {
			rv = CODE_INVALID_ARGUMENT; /* a version from the
			                               future */
			goto out_clear;
		}
		/* Equal: the expected version was committed after the
		 * UPDATE's snapshot was taken (a caller guessing ahead), or
		 * the request id's log row was pruned in between.  Neither
		 * ABORTED nor INVALID_ARGUMENT is true: write again. */
		PQclear(res);
		res = NULL;
	}
	log_warn("store: product_update_stock %s: no stable outcome after %d "
	         "attempts",
	    id, WRITE_ATTEMPTS);
	rv = CODE_UNAVAILABLE;
out_clear:
	return finish(res, &row, out, rv);
}

/* ---- housekeeping ----------------------------------------------------- */

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
		PGresult *res = store_exec(st, STMT_REQUEST_LOG_PRUNE, params);
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
