/* SPDX-License-Identifier: MIT */
/*
 * The product calls of the store, one by one (see store.h): GetProduct,
 * CreateProduct, UpdateStock, AdjustStock and ListProducts, and how a
 * write that did not apply is decided (shared with the batch forms in
 * product_batch.c).  Their SQL is in product_sql.c.
 *
 * Invariants:
 * - A write and the record of its request id are one statement, so they
 *   commit or vanish together.  A request id already in request_log is
 *   never applied twice: the single write fails with a unique violation
 *   (23505) and rolls back, the batch write skips the item (NOT EXISTS);
 *   a lookup in a new statement (a fresh snapshot) then tells a repeat
 *   (first outcome returned) from a reuse by a different call
 *   (ALREADY_EXISTS).
 * - ABORTED is returned only with a version strictly greater than the one
 *   expected, read in a snapshot taken after the failed write.
 * - A batch either returns OK, with every item decided on its own exactly
 *   as the single call would decide it, or a code for the whole batch
 *   with every item untouched and nothing committed.
 * - Array parameters are text array literals with every element quoted
 *   and escaped, so no input can change their shape; SQL text is never
 *   built from input.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "store/product_internal.h"
enum {
	WRITE_ATTEMPTS = 3, /* a write is re-run when a race makes its
	                     * outcome undecidable (see below) */
};

/* Columns of the update lookups after the product's seven, counted from
 * the product's first column. */
enum {
	COL_LAST_IS_RID = 7,
	COL_LOGGED      = 8,
	COL_LOG_SAME    = 9,
	COL_LOG_VERSION = 10,
	COL_LOG_STOCK   = 11,
	COL_LOG_UPDATED = 12,
	COL_LAST_SAME   = 13, /* the row's last write was this very call */
	COL_CREATE_SAME = 7,  /* of STMT_PRODUCT_CREATE_LOOKUP */
};

/* The product in row 0 of res, as a code: OK, or INTERNAL if a column
 * does not parse. */
static enum code
row_code(const PGresult *res, struct product *row)
{
	return row_product(res, 0, 0, row) == 0 ? CODE_OK : CODE_INTERNAL;
}

/* A write's row `r` from column `col`: the product, then the stock
 * before the write.  OK, or INTERNAL if a column does not parse. */
enum code
store_product_applied(const PGresult *res, int r, int col, struct product *row)
{
	if (row_product(res, r, col, row) != 0 ||
	    get_i64(res, r, col + 7, &row->prev_stock) != 0)
		return CODE_INTERNAL;
	return CODE_OK;
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

/* A repeat of a logged request id, from lookup row `r`: the first call's
 * outcome into *row (over the latest product) if the log says it was the
 * same call, else ALREADY_EXISTS. */
static enum code
logged_outcome(const PGresult *res, int r, int col, struct product *row)
{
	if (!get_bool(res, r, col + COL_LOG_SAME))
		return CODE_ALREADY_EXISTS;
	if (get_i64(res, r, col + COL_LOG_VERSION, &row->version) ||
	    get_i64(res, r, col + COL_LOG_STOCK, &row->stock) ||
	    get_i64(res, r, col + COL_LOG_UPDATED, &row->updated_at_us))
		return CODE_INTERNAL;
	return CODE_OK;
}

/*
 * Decide a write that did not apply from its lookup row `r` (the product
 * from column `col`, then the request id's columns): false when the
 * lookup cannot tell (the expected version is the current one: it was
 * committed after the write's snapshot, or the request id's log row was
 * pruned in between), else true with *rv and, when read, *row.
 */
bool
store_product_update_decide(const PGresult *res, int r, int col,
    const char *request_id, int64_t stock, int64_t expected_version,
    struct product *row, enum code *rv)
{
	(void)stock; /* the lookup compares it (COL_LOG_SAME, COL_LAST_SAME) */
	if (PQgetisnull(res, r, col)) {
		*rv = CODE_NOT_FOUND;
		return true;
	}
	if (row_product(res, r, col, row) != 0) {
		*rv = CODE_INTERNAL;
		return true;
	}
	/* The log first: it knows the method, the arguments and the caller
	 * of the id's call, whatever wrote the row since. */
	if (get_bool(res, r, col + COL_LOGGED)) {
		*rv = logged_outcome(res, r, col, row);
		return true;
	}
	if (request_id != NULL && get_bool(res, r, col + COL_LAST_IS_RID)) {
		/* Its log row was pruned, but this request id produced the
		 * current version: the current row is the first outcome if
		 * the row says it was this very call (method, arguments,
		 * caller; deploy/sql/004_last_call.sql), else the id was
		 * another call's. */
		*rv = get_bool(res, r, col + COL_LAST_SAME)
		          ? CODE_OK
		          : CODE_ALREADY_EXISTS;
		return true;
	}
	if (row->version > expected_version) {
		*rv = CODE_ABORTED;
		return true;
	}
	if (row->version < expected_version) {
		*rv = CODE_INVALID_ARGUMENT; /* a version from the future */
		return true;
	}
	return false;
}

/* ---- one by one ------------------------------------------------------- */

static enum code
product_get(struct store *st, const char *id, struct product *out)
{
	const char    *params[1] = { id };
	struct product row;
	PGresult      *res;
	enum code      rv;

	memset(&row, 0, sizeof(row));
	if (!store_usable(st))
		return CODE_UNAVAILABLE;

	res = store_exec(st, &store_product_sql[STMT_PRODUCT_GET], params);
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

static enum code
product_create(struct store *st, const char *request_id, const char *name,
    int64_t stock, const char *price, struct product *out)
{
	char           stock_s[INT64_TEXT_MAX];
	const char    *wparams[5] = { name, stock_s, price, request_id,
		   st->caller };
	const char    *lparams[5] = { request_id, name, stock_s, price,
		   st->caller };
	PGresult      *res        = NULL;
	struct product row;
	enum code      rv;
	int            attempt;

	memset(&row, 0, sizeof(row));
	if (!store_usable(st))
		return CODE_UNAVAILABLE;
	snprintf(stock_s, sizeof(stock_s), "%" PRId64, stock);

	for (attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
		res = store_exec(
		    st, &store_product_sql[STMT_PRODUCT_CREATE], wparams);
		if (PQresultStatus(res) == PGRES_TUPLES_OK &&
		    PQntuples(res) == 1) {
			rv             = row_code(res, &row);
			row.prev_stock = 0; /* applied now, from nothing */
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

		res = store_exec(st,
		    &store_product_sql[STMT_PRODUCT_CREATE_LOOKUP], lparams);
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

/* A single conditional write (UpdateStock, AdjustStock): the statement
 * that writes and logs, and, when it wrote nothing, the lookup in a new
 * snapshot that decides why. */
struct single_write {
	const char        *what;       /* for the logs */
	const char        *id;         /* the product */
	const char        *request_id; /* NULL: none */
	const struct stmt *write;      /* product and prior stock, or no row */
	const char *const *wparams;
	const struct stmt *lookup; /* one row, or none: not found */
	const char *const *lparams;
	/* Decide from the lookup row: false when it cannot tell (run the
	 * write again). */
	bool (*decide)(const PGresult *res, const struct single_write *w,
	    struct product *row, enum code *rv);
	int64_t value;            /* UpdateStock: the stock; AdjustStock: the
	                             delta */
	int64_t expected_version; /* 0: none (AdjustStock only) */
};

static enum code
single_write_run(
    struct store *st, const struct single_write *w, struct product *out)
{
	PGresult      *res = NULL;
	struct product row;
	enum code      rv;

	memset(&row, 0, sizeof(row));
	if (!store_usable(st))
		return CODE_UNAVAILABLE;
	for (int attempt = 0; attempt < WRITE_ATTEMPTS; attempt++) {
		res = store_exec(st, w->write, w->wparams);
		if (PQresultStatus(res) == PGRES_TUPLES_OK) {
			if (PQntuples(res) == 1) {
				rv = store_product_applied(res, 0, 0, &row);
				goto out_clear;
			}
			/* No row: conflict, bound, repeat or no product. */
		} else if (w->request_id != NULL &&
		           store_request_id_used(res)) {
			/* It matched but the request id is taken: nothing
			 * was written. */
			log_debug("store: %s: request id %s seen before",
			    w->what, w->request_id);
		} else {
			rv = store_fail(st, w->what, res);
			goto out_clear;
		}
		PQclear(res);

		/* A new statement, so a new snapshot: the latest commit. */
		res = store_exec(st, w->lookup, w->lparams);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			rv = store_fail(st, w->what, res);
			goto out_clear;
		}
		if (PQntuples(res) == 0) {
			rv = CODE_NOT_FOUND;
			goto out_clear;
		}
		if (w->decide(res, w, &row, &rv))
			goto out_clear;
		/* Committed meanwhile, the other way: write again. */
		PQclear(res);
		res = NULL;
	}
	log_warn("store: %s %s: no stable outcome after %d attempts", w->what,
	    w->id, WRITE_ATTEMPTS);
	rv = CODE_UNAVAILABLE;
out_clear:
	return finish(res, &row, out, rv);
}

static bool
update_decide_one(const PGresult *res, const struct single_write *w,
    struct product *row, enum code *rv)
{
	return store_product_update_decide(
	    res, 0, 0, w->request_id, w->value, w->expected_version, row, rv);
}

static enum code
product_update_stock(struct store *st, const char *request_id, const char *id,
    int64_t stock, int64_t expected_version, struct product *out)
{
	char        stock_s[INT64_TEXT_MAX];
	char        expected_s[INT64_TEXT_MAX];
	const char *wparams[5]      = { id, expected_s, stock_s, request_id,
		     st->caller };
	const char *lparams[5]      = { id, request_id, expected_s, stock_s,
		     st->caller };
	const struct single_write w = {
		.what       = "product_update_stock",
		.id         = id,
		.request_id = request_id,
		.write      = &store_product_sql[STMT_PRODUCT_UPDATE_STOCK],
		.wparams    = wparams,
		.lookup     = &store_product_sql[STMT_PRODUCT_UPDATE_LOOKUP],
		.lparams    = lparams,
		.decide     = update_decide_one,
		.value      = stock,
		.expected_version = expected_version,
	};

	snprintf(stock_s, sizeof(stock_s), "%" PRId64, stock);
	snprintf(expected_s, sizeof(expected_s), "%" PRId64, expected_version);
	return single_write_run(st, &w, out);
}

/* Decide an adjustment that did not apply from its lookup row (see
 * store_product_update_decide(); the row exists). */
static bool
adjust_decide(const PGresult *res, const struct single_write *w,
    struct product *row, enum code *rv)
{
	const char *request_id       = w->request_id;
	int64_t     delta            = w->value;
	int64_t     expected_version = w->expected_version;

	if (row_product(res, 0, 0, row) != 0) {
		*rv = CODE_INTERNAL;
		return true;
	}
	if (request_id != NULL && get_bool(res, 0, COL_LOGGED)) {
		*rv = logged_outcome(res, 0, 0, row);
		return true;
	}
	if (request_id != NULL && get_bool(res, 0, COL_LAST_IS_RID)) {
		/* Its log row was pruned, but the latest write is this
		 * request id's (so the statement's guard kept it from
		 * applying twice): the current row is the first outcome
		 * only if the row says it was this very call, else the id
		 * was another call's. */
		*rv = get_bool(res, 0, COL_LAST_SAME) ? CODE_OK
		                                      : CODE_ALREADY_EXISTS;
		return true;
	}
	if (expected_version != 0 && row->version != expected_version) {
		*rv = row->version > expected_version ? CODE_ABORTED
		                                      : CODE_INVALID_ARGUMENT;
		return true;
	}
	/* No overflow: |delta| and the stock are within int32. */
	if (row->stock + delta < 0) {
		*rv = CODE_FAILED_PRECONDITION;
		return true;
	}
	if (row->stock + delta > PRODUCT_STOCK_MAX) {
		*rv = CODE_OUT_OF_RANGE;
		return true;
	}
	return false;
}

static enum code
product_adjust(struct store *st, const char *request_id, const char *id,
    int64_t delta, int64_t expected_version, struct product *out)
{
	char        delta_s[INT64_TEXT_MAX];
	char        expected_s[INT64_TEXT_MAX];
	const char *ev         = expected_version != 0 ? expected_s : NULL;
	const char *wparams[5] = { id, delta_s, ev, request_id, st->caller };
	const char *lparams[5] = { id, request_id, ev, delta_s, st->caller };
	const struct single_write w = {
		.what       = "product_adjust",
		.id         = id,
		.request_id = request_id,
		.write      = &store_product_sql[STMT_PRODUCT_ADJUST],
		.wparams    = wparams,
		.lookup     = &store_product_sql[STMT_PRODUCT_ADJUST_LOOKUP],
		.lparams    = lparams,
		.decide     = adjust_decide,
		.value      = delta,
		.expected_version = expected_version,
	};

	snprintf(delta_s, sizeof(delta_s), "%" PRId64, delta);
	snprintf(expected_s, sizeof(expected_s), "%" PRId64, expected_version);
	return single_write_run(st, &w, out);
}

static enum code
product_list(struct store *st, const char *after, int limit,
    struct product *out, size_t *n, int *more)
{
	char        limit_s[INT64_TEXT_MAX];
	const char *first[1] = { limit_s };
	const char *next[2]  = { after, limit_s };
	PGresult   *res;
	enum code   rv = CODE_OK;
	int         rows;

	*n    = 0;
	*more = 0;
	if (!store_usable(st))
		return CODE_UNAVAILABLE;
	/* One more than asked tells whether a next page exists. */
	snprintf(limit_s, sizeof(limit_s), "%d", limit + 1);
	if (after == NULL || after[0] == '\0')
		res = store_exec(
		    st, &store_product_sql[STMT_PRODUCT_LIST_FIRST], first);
	else
		res = store_exec(
		    st, &store_product_sql[STMT_PRODUCT_LIST_AFTER], next);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rv = store_fail(st, "product_list", res);
		goto out_clear;
	}
	rows = PQntuples(res);
	if (rows > limit) {
		*more = 1;
		rows  = limit;
	}
	for (int r = 0; r < rows; r++) {
		if (row_product(res, r, 0, &out[r]) != 0) {
			rv = CODE_INTERNAL;
			goto out_clear;
		}
	}
	*n = (size_t)rows;
out_clear:
	PQclear(res);
	return rv;
}

/* ---- the public calls: each bracketed by its store_req ---------------- */

enum code
store_product_get(struct store *st, const struct store_req *req,
    const char *id, struct product *out)
{
	enum code rc;

	store_req_begin(st, req);
	rc = product_get(st, id, out);
	store_req_end(st);
	return rc;
}

enum code
store_product_create(struct store *st, const struct store_req *req,
    const char *request_id, const char *name, int64_t stock, const char *price,
    struct product *out)
{
	enum code rc;

	store_req_begin(st, req);
	rc = product_create(st, request_id, name, stock, price, out);
	store_req_end(st);
	return rc;
}

enum code
store_product_update_stock(struct store *st, const struct store_req *req,
    const char *request_id, const char *id, int64_t stock,
    int64_t expected_version, struct product *out)
{
	enum code rc;

	store_req_begin(st, req);
	rc = product_update_stock(
	    st, request_id, id, stock, expected_version, out);
	store_req_end(st);
	return rc;
}

enum code
store_product_adjust(struct store *st, const struct store_req *req,
    const char *request_id, const char *id, int64_t delta,
    int64_t expected_version, struct product *out)
{
	enum code rc;

	store_req_begin(st, req);
	rc = product_adjust(st, request_id, id, delta, expected_version, out);
	store_req_end(st);
	return rc;
}

enum code
store_product_list(struct store *st, const struct store_req *req,
    const char *after, int limit, struct product *out, size_t *n, int *more)
{
	enum code rc;

	store_req_begin(st, req);
	rc = product_list(st, after, limit, out, n, more);
	store_req_end(st);
	return rc;
}
