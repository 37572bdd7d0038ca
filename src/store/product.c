/* SPDX-License-Identifier: MIT */
/*
 * The product statements of the store (see store.h): GetProduct,
 * CreateProduct and UpdateStock one by one, and the batch forms the
 * executor uses (store_product_get_many, store_product_update_many).
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
#include "store/store.h"
#include "store/store_internal.h"

enum {
	WRITE_ATTEMPTS = 3, /* a write is re-run when a race makes its
	                     * outcome undecidable (see below) */
};

/* request_log.method: which RPC wrote a row (see deploy/sql/001_init.sql). */
enum request_method {
	REQUEST_METHOD_UPDATE_STOCK   = 1,
	REQUEST_METHOD_CREATE_PRODUCT = 2,
	REQUEST_METHOD_ADJUST_STOCK =
	    3, /* deploy/sql/002_adjust_reserve.sql */
};

enum product_stmt_id {
	STMT_PRODUCT_GET,
	STMT_PRODUCT_CREATE,
	STMT_PRODUCT_CREATE_LOOKUP,
	STMT_PRODUCT_UPDATE_STOCK,
	STMT_PRODUCT_UPDATE_LOOKUP,
	STMT_PRODUCT_GET_MANY,
	STMT_PRODUCT_LOCK_MANY,
	STMT_PRODUCT_UPDATE_MANY,
	STMT_PRODUCT_UPDATE_LOOKUP_MANY,
	STMT_PRODUCT_ADJUST,
	STMT_PRODUCT_ADJUST_LOOKUP,
	STMT_PRODUCT_LIST_FIRST,
	STMT_PRODUCT_LIST_AFTER,
	PRODUCT_STMT_COUNT,
};

static const struct stmt product_stmts[PRODUCT_STMT_COUNT] = {
	/* $1 id */
	[STMT_PRODUCT_GET] = { "product_get", 1,
	    "SELECT p.id::text, p.name, p.stock, p.price::text, p.version,"
	    " (extract(epoch FROM p.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM p.updated_at) * 1000000)::int8"
	    " FROM products p WHERE p.id = $1::uuid" },

	/* $1 name, $2 stock, $3 price, $4 request id or NULL.  The log row
	 * is written only with a request id; a used one raises 23505 on
	 * request_log_pkey and the product insert rolls back with it. */
	[STMT_PRODUCT_CREATE] = { "product_create", 5,
	    "WITH ins AS ("
	    " INSERT INTO products (name, stock, price, last_request_id,"
	    " last_request_call, updated_by)"
	    " VALUES ($1::text, $2::int4, $3::numeric, $4::text,"
	    " CASE WHEN $4::text IS NOT NULL THEN '2:' END, $5::text)"
	    " RETURNING id, name, stock, price, version, created_at,"
	    " updated_at"
	    "), logged AS ("
	    " INSERT INTO request_log (request_id, method, product_id, stock,"
	    " name, price, result_version, result_stock, result_updated_at,"
	    " caller)"
	    " SELECT $4::text, 2, ins.id, ins.stock, ins.name, ins.price,"
	    " ins.version, ins.stock, ins.updated_at, $5::text"
	    " FROM ins WHERE $4::text IS NOT NULL"
	    ")"
	    " SELECT ins.id::text, ins.name, ins.stock, ins.price::text,"
	    " ins.version,"
	    " (extract(epoch FROM ins.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM ins.updated_at) * 1000000)::int8"
	    " FROM ins" },

	/* $1 request id, $2 name, $3 stock, $4 price, $5 caller or NULL: the
	 * product as the logged create made it, and whether this is the
	 * same call (by the same caller). */
	[STMT_PRODUCT_CREATE_LOOKUP] = { "product_create_lookup", 5,
	    "SELECT l.product_id::text, l.name, l.result_stock,"
	    " l.price::text, l.result_version,"
	    " (extract(epoch FROM l.result_updated_at) * 1000000)::int8,"
	    " (extract(epoch FROM l.result_updated_at) * 1000000)::int8,"
	    " (l.method = 2 AND l.name = $2::text AND l.stock = $3::int4"
	    " AND l.price = $4::numeric"
	    " AND l.caller IS NOT DISTINCT FROM $5::text) IS TRUE"
	    " FROM request_log l WHERE l.request_id = $1::text" },

	/* $1 id, $2 expected version, $3 stock, $4 request id or NULL: the
	 * one conditional write.  No row back: conflict, repeat or no such
	 * product (STMT_PRODUCT_UPDATE_LOOKUP decides); 23505: the request
	 * id was used before, nothing was written. */
	[STMT_PRODUCT_UPDATE_STOCK] = { "product_update_stock", 5,
	    "WITH upd AS ("
	    " UPDATE products p"
	    " SET stock = $3::int4, version = p.version + 1,"
	    " updated_at = now(), last_request_id = $4::text,"
	    " last_request_call = CASE WHEN $4::text IS NOT NULL"
	    " THEN '1:' || $2::int8 || ':' || $3::int4 END,"
	    " updated_by = $5::text"
	    " FROM products o"
	    " WHERE p.id = $1::uuid AND p.version = $2::int8 AND o.id = p.id"
	    " RETURNING p.id, p.name, p.stock, p.price, p.version,"
	    " p.created_at, p.updated_at, o.stock AS prev_stock"
	    "), logged AS ("
	    " INSERT INTO request_log (request_id, method, product_id,"
	    " expected_version, stock, result_version, result_stock,"
	    " result_updated_at, caller)"
	    " SELECT $4::text, 1, upd.id, $2::int8, upd.stock, upd.version,"
	    " upd.stock, upd.updated_at, $5::text"
	    " FROM upd WHERE $4::text IS NOT NULL"
	    ")"
	    " SELECT upd.id::text, upd.name, upd.stock, upd.price::text,"
	    " upd.version,"
	    " (extract(epoch FROM upd.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM upd.updated_at) * 1000000)::int8,"
	    " upd.prev_stock"
	    " FROM upd" },

	/* $1 id, $2 request id or NULL, $3 expected version, $4 stock, $5
	 * caller or NULL: in a new snapshot, the latest committed row
	 * (columns 0-6), whether it was produced by this request id (7),
	 * whether the request id is logged (8) for this very call by this
	 * caller (9), the logged outcome: version (10), stock (11),
	 * updated_at (12), and whether the row's last write was this very
	 * call by this caller (13).  No row: not found. */
	[STMT_PRODUCT_UPDATE_LOOKUP] = { "product_update_lookup", 5,
	    "SELECT p.id::text, p.name, p.stock, p.price::text, p.version,"
	    " (extract(epoch FROM p.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM p.updated_at) * 1000000)::int8,"
	    " (p.last_request_id = $2::text) IS TRUE,"
	    " l.request_id IS NOT NULL,"
	    " (l.method = 1 AND l.product_id = p.id"
	    " AND l.expected_version = $3::int8 AND l.stock = $4::int4"
	    " AND l.caller IS NOT DISTINCT FROM $5::text) IS TRUE,"
	    " l.result_version, l.result_stock,"
	    " (extract(epoch FROM l.result_updated_at) * 1000000)::int8,"
	    " (p.last_request_id = $2::text AND p.last_request_call ="
	    " '1:' || $3::int8 || ':' || $4::int4"
	    " AND p.updated_by IS NOT DISTINCT FROM $5::text) IS TRUE"
	    " FROM products p"
	    " LEFT JOIN request_log l ON l.request_id = $2::text"
	    " WHERE p.id = $1::uuid" },

	/* $1 distinct ids: the rows that exist, in id order (uuid order is
	 * the order of the canonical text, on which get_many merges). */
	[STMT_PRODUCT_GET_MANY] = { "product_get_many", 1,
	    "SELECT p.id::text, p.name, p.stock, p.price::text, p.version,"
	    " (extract(epoch FROM p.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM p.updated_at) * 1000000)::int8"
	    " FROM products p WHERE p.id = ANY($1::uuid[])"
	    " ORDER BY p.id" },

	/* $1 ids: lock the batch's rows in id order, skipping rows another
	 * transaction holds, and return the ids locked (in id order).  A
	 * batch therefore never waits on a row lock, so executors never
	 * deadlock and one busy row never holds up its neighbours: an item
	 * whose row was busy is run again alone, where it may wait within
	 * its own deadline. */
	[STMT_PRODUCT_LOCK_MANY] = { "product_lock_many", 1,
	    "SELECT p.id::text FROM products p WHERE p.id = ANY($1::uuid[])"
	    " ORDER BY p.id FOR UPDATE SKIP LOCKED" },

	/* $1 ids, $2 expected versions, $3 stocks, $4 request ids (NULL:
	 * none), item i at index i.  Every item whose version matches and
	 * whose request id is not logged yet and whose row is not held by
	 * another transaction is written and logged, in one statement; the
	 * rows back are the applied items: ord (i + 1), then the new product,
	 * in item order.  A request id logged concurrently raises 23505 and
	 * the whole batch rolls back.  The request-log test is a scalar
	 * subquery, run per item through the primary key, never turned into
	 * a join whose plan (a hash of the whole log) depends on statistics
	 * that may be stale. */
	[STMT_PRODUCT_UPDATE_MANY] = { "product_update_many", 5,
	    "WITH input AS ("
	    " SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int4[],"
	    " $4::text[], $5::text[]) WITH ORDINALITY"
	    " AS i(id, expected_version, stock, request_id, caller, ord)"
	    "), locked AS MATERIALIZED ("
	    " SELECT k.id FROM products k WHERE k.id = ANY($1::uuid[])"
	    " ORDER BY k.id FOR UPDATE SKIP LOCKED"
	    "), upd AS ("
	    " UPDATE products p"
	    " SET stock = i.stock, version = p.version + 1,"
	    " updated_at = now(), last_request_id = i.request_id,"
	    " last_request_call = CASE WHEN i.request_id IS NOT NULL"
	    " THEN '1:' || i.expected_version || ':' || i.stock END,"
	    " updated_by = i.caller"
	    " FROM input i JOIN locked k ON k.id = i.id"
	    " JOIN products o ON o.id = i.id"
	    " WHERE p.id = i.id AND p.version = i.expected_version"
	    " AND (SELECT true FROM request_log l"
	    " WHERE l.request_id = i.request_id) IS NULL"
	    " RETURNING i.ord, i.expected_version, i.request_id, i.caller,"
	    " p.id, p.name, p.stock, p.price, p.version, p.created_at,"
	    " p.updated_at, o.stock AS prev_stock"
	    "), logged AS ("
	    " INSERT INTO request_log (request_id, method, product_id,"
	    " expected_version, stock, result_version, result_stock,"
	    " result_updated_at, caller)"
	    " SELECT upd.request_id, 1, upd.id, upd.expected_version,"
	    " upd.stock, upd.version, upd.stock, upd.updated_at, upd.caller"
	    " FROM upd WHERE upd.request_id IS NOT NULL"
	    ")"
	    " SELECT upd.ord, upd.id::text, upd.name, upd.stock,"
	    " upd.price::text, upd.version,"
	    " (extract(epoch FROM upd.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM upd.updated_at) * 1000000)::int8,"
	    " upd.prev_stock"
	    " FROM upd ORDER BY upd.ord" },

	/* The same parameters, in a new statement (a fresh snapshot, after
	 * the write).  Each item looks its rows up through a LATERAL ...
	 * LIMIT 1, a parameterised index lookup whatever the statistics say:
	 * a generic plan made while request_log was empty (never analyzed)
	 * would otherwise hash the whole log on every batch, a cost that
	 * grows with the log until autovacuum's first ANALYZE.  One row per
	 * item, in item order, with ord (0), the
	 * latest row (1-7, NULL: no such product) and what the request id
	 * says (8-14), as STMT_PRODUCT_UPDATE_LOOKUP gives for one item. */
	[STMT_PRODUCT_UPDATE_LOOKUP_MANY] = { "product_update_lookup_many", 5,
	    "SELECT i.ord, p.id::text, p.name, p.stock, p.price::text,"
	    " p.version,"
	    " (extract(epoch FROM p.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM p.updated_at) * 1000000)::int8,"
	    " (p.last_request_id = i.request_id) IS TRUE,"
	    " l.request_id IS NOT NULL,"
	    " (l.method = 1 AND l.product_id = p.id"
	    " AND l.expected_version = i.expected_version"
	    " AND l.stock = i.stock"
	    " AND l.caller IS NOT DISTINCT FROM i.caller) IS TRUE,"
	    " l.result_version, l.result_stock,"
	    " (extract(epoch FROM l.result_updated_at) * 1000000)::int8,"
	    " (p.last_request_id = i.request_id AND p.last_request_call ="
	    " '1:' || i.expected_version || ':' || i.stock"
	    " AND p.updated_by IS NOT DISTINCT FROM i.caller) IS TRUE"
	    " FROM unnest($1::uuid[], $2::int8[], $3::int4[], $4::text[],"
	    " $5::text[]) WITH ORDINALITY"
	    " AS i(id, expected_version, stock, request_id, caller, ord)"
	    " LEFT JOIN LATERAL (SELECT * FROM products p0"
	    " WHERE p0.id = i.id LIMIT 1) p ON true"
	    " LEFT JOIN LATERAL (SELECT * FROM request_log l0"
	    " WHERE l0.request_id = i.request_id LIMIT 1) l ON true"
	    " ORDER BY i.ord" },

	/* $1 id, $2 delta, $3 expected version or NULL, $4 request id or
	 * NULL: the one adjustment, which re-reads the row after waiting for
	 * its lock (READ COMMITTED), so concurrent adjustments queue instead
	 * of conflicting.  No row back: not found, a version or stock
	 * bound, or a repeat (STMT_PRODUCT_ADJUST_LOOKUP decides); 23505:
	 * the request id was used before, nothing was written.  The
	 * last_request_id test keeps a repeat whose log row was pruned from
	 * applying twice while it is still the row's latest write.  The
	 * row back: the product, then the stock before (column 7). */
	[STMT_PRODUCT_ADJUST] = { "product_adjust", 5,
	    "WITH upd AS ("
	    " UPDATE products"
	    " SET stock = stock + $2::int8, version = version + 1,"
	    " updated_at = now(), last_request_id = $4::text,"
	    " last_request_call = CASE WHEN $4::text IS NOT NULL"
	    " THEN '3:' || $2::int8 || ':' || COALESCE($3::int8::text, '')"
	    " END,"
	    " updated_by = $5::text"
	    " WHERE id = $1::uuid"
	    " AND ($3::int8 IS NULL OR version = $3::int8)"
	    " AND stock + $2::int8 BETWEEN 0 AND 2147483647"
	    " AND ($4::text IS NULL"
	    " OR last_request_id IS DISTINCT FROM $4::text)"
	    " RETURNING id, name, stock, price, version, created_at,"
	    " updated_at"
	    "), logged AS ("
	    " INSERT INTO request_log (request_id, method, product_id,"
	    " expected_version, delta, result_version, result_stock,"
	    " result_updated_at, caller)"
	    " SELECT $4::text, 3, upd.id, $3::int8, $2::int8, upd.version,"
	    " upd.stock, upd.updated_at, $5::text"
	    " FROM upd WHERE $4::text IS NOT NULL"
	    ")"
	    " SELECT upd.id::text, upd.name, upd.stock, upd.price::text,"
	    " upd.version,"
	    " (extract(epoch FROM upd.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM upd.updated_at) * 1000000)::int8,"
	    " upd.stock - $2::int8"
	    " FROM upd" },

	/* $1 id, $2 request id or NULL, $3 expected version or NULL, $4
	 * delta, $5 caller or NULL: in a new snapshot, the latest row (0-6),
	 * whether this request id produced it (7), whether the id is logged
	 * (8) for this very call by this caller (9), the logged outcome
	 * (10-12), and whether the row's last write was this very call by
	 * this caller (13), as STMT_PRODUCT_UPDATE_LOOKUP.  No row: not
	 * found. */
	[STMT_PRODUCT_ADJUST_LOOKUP] = { "product_adjust_lookup", 5,
	    "SELECT p.id::text, p.name, p.stock, p.price::text, p.version,"
	    " (extract(epoch FROM p.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM p.updated_at) * 1000000)::int8,"
	    " (p.last_request_id = $2::text) IS TRUE,"
	    " l.request_id IS NOT NULL,"
	    " (l.method = 3 AND l.product_id = p.id AND l.delta = $4::int8"
	    " AND l.expected_version IS NOT DISTINCT FROM $3::int8"
	    " AND l.caller IS NOT DISTINCT FROM $5::text) IS TRUE,"
	    " l.result_version, l.result_stock,"
	    " (extract(epoch FROM l.result_updated_at) * 1000000)::int8,"
	    " (p.last_request_id = $2::text AND p.last_request_call ="
	    " '3:' || $4::int8 || ':' || COALESCE($3::int8::text, '')"
	    " AND p.updated_by IS NOT DISTINCT FROM $5::text) IS TRUE"
	    " FROM products p"
	    " LEFT JOIN request_log l ON l.request_id = $2::text"
	    " WHERE p.id = $1::uuid" },

	/* $1 limit: the first products in id order (an index scan). */
	[STMT_PRODUCT_LIST_FIRST] = { "product_list_first", 1,
	    "SELECT p.id::text, p.name, p.stock, p.price::text, p.version,"
	    " (extract(epoch FROM p.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM p.updated_at) * 1000000)::int8"
	    " FROM products p ORDER BY p.id LIMIT $1::int4" },

	/* $1 the last id of the previous page, $2 limit. */
	[STMT_PRODUCT_LIST_AFTER] = { "product_list_after", 2,
	    "SELECT p.id::text, p.name, p.stock, p.price::text, p.version,"
	    " (extract(epoch FROM p.created_at) * 1000000)::int8,"
	    " (extract(epoch FROM p.updated_at) * 1000000)::int8"
	    " FROM products p WHERE p.id > $1::uuid ORDER BY p.id"
	    " LIMIT $2::int4" },
};

const struct stmt_table store_product_stmts = {
	product_stmts,
	PRODUCT_STMT_COUNT,
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
static enum code
applied_code(const PGresult *res, int r, int col, struct product *row)
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
static bool
update_decide(const PGresult *res, int r, int col, const char *request_id,
    int64_t stock, int64_t expected_version, struct product *row,
    enum code *rv)
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

	res = store_exec(st, &product_stmts[STMT_PRODUCT_GET], params);
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
		    st, &product_stmts[STMT_PRODUCT_CREATE], wparams);
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

		res = store_exec(
		    st, &product_stmts[STMT_PRODUCT_CREATE_LOOKUP], lparams);
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
				rv = applied_code(res, 0, 0, &row);
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
	return update_decide(
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
		.what             = "product_update_stock",
		.id               = id,
		.request_id       = request_id,
		.write            = &product_stmts[STMT_PRODUCT_UPDATE_STOCK],
		.wparams          = wparams,
		.lookup           = &product_stmts[STMT_PRODUCT_UPDATE_LOOKUP],
		.lparams          = lparams,
		.decide           = update_decide_one,
		.value            = stock,
		.expected_version = expected_version,
	};

	snprintf(stock_s, sizeof(stock_s), "%" PRId64, stock);
	snprintf(expected_s, sizeof(expected_s), "%" PRId64, expected_version);
	return single_write_run(st, &w, out);
}

/* Decide an adjustment that did not apply from its lookup row (see
 * update_decide(); the row exists). */
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
		.what             = "product_adjust",
		.id               = id,
		.request_id       = request_id,
		.write            = &product_stmts[STMT_PRODUCT_ADJUST],
		.wparams          = wparams,
		.lookup           = &product_stmts[STMT_PRODUCT_ADJUST_LOOKUP],
		.lparams          = lparams,
		.decide           = adjust_decide,
		.value            = delta,
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
		    st, &product_stmts[STMT_PRODUCT_LIST_FIRST], first);
	else
		res = store_exec(
		    st, &product_stmts[STMT_PRODUCT_LIST_AFTER], next);
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

/* ---- batches ---------------------------------------------------------- */

/* Bytes `s` takes in a text array literal, with its separator: quoted,
 * `"` and `\` escaped; NULL is an unquoted NULL. */
static size_t
array_elem_len(const char *s)
{
	size_t len = 3; /* two quotes and the separator */

	if (s == NULL)
		return sizeof("NULL,") - 1;
	for (; *s != '\0'; s++)
		len += *s == '"' || *s == '\\' ? 2 : 1;
	return len;
}

/* Append `s` and a separator at p (array_elem_len(s) bytes); returns the
 * end. */
static char *
array_put(char *p, const char *s)
{
	if (s == NULL) {
		memcpy(p, "NULL,", sizeof("NULL,") - 1);
		return p + sizeof("NULL,") - 1;
	}
	*p++ = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p++ = '"';
	*p++ = ',';
	return p;
}

/* Close an array literal whose elements end at p (at least one, so p[-1]
 * is a separator); returns the byte after its NUL. */
static char *
array_close(char *p)
{
	p[-1] = '}';
	*p    = '\0';
	return p + 1;
}

static int
read_cmp(const void *a, const void *b)
{
	const struct store_read *x = *(const struct store_read *const *)a;
	const struct store_read *y = *(const struct store_read *const *)b;

	return strcasecmp(x->id, y->id);
}

/* A batch past its deadline never reaches the database. */
static bool
expired(uint64_t deadline_ns)
{
	return deadline_ns != 0 && clock_now_ns() >= deadline_ns;
}

enum code
store_product_get_many(
    struct store *st, struct store_read *items, size_t n, uint64_t deadline_ns)
{
	struct store_read **sorted;
	const char         *params[1];
	struct product      row;
	PGresult           *res = NULL;
	char               *lit, *p;
	size_t              len, i, k;
	int                 rows, r;
	enum code           rv;

	if (n == 0)
		return CODE_OK;
	if (n > INT_MAX)
		return CODE_INVALID_ARGUMENT;
	if (expired(deadline_ns))
		return CODE_DEADLINE_EXCEEDED;
	if (!store_usable(st))
		return CODE_UNAVAILABLE;

	/* Sorted, so that each distinct id is sent once and the rows, which
	 * come back in the same order, are merged in one pass. */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	if ((sorted = malloc(n * sizeof(*sorted))) == NULL)
		return CODE_INTERNAL;
	for (i = 0; i < n; i++)
		sorted[i] = &items[i];
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	qsort(sorted, n, sizeof(*sorted), read_cmp);

	len = 2;
	for (i = 0; i < n; i++) {
		if (i == 0 || read_cmp(&sorted[i - 1], &sorted[i]) != 0)
			len += array_elem_len(sorted[i]->id);
	}
	if ((lit = malloc(len)) == NULL) {
		rv = CODE_INTERNAL;
		goto out_free_sorted;
	}
	p    = lit;
	*p++ = '{';
	for (i = 0; i < n; i++) {
		if (i == 0 || read_cmp(&sorted[i - 1], &sorted[i]) != 0)
			p = array_put(p, sorted[i]->id);
	}
	(void)array_close(p);
	params[0] = lit;

	res = store_exec_until(
	    st, &product_stmts[STMT_PRODUCT_GET_MANY], params, deadline_ns);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rv = store_fail(st, "product_get_many", res);
		goto out_clear;
	}
	/* Every row must parse before any item is touched. */
	rows = PQntuples(res);
	for (r = 0; r < rows; r++) {
		if (row_product(res, r, 0, &row) != 0) {
			rv = CODE_INTERNAL;
			goto out_clear;
		}
	}
	for (k = 0, r = 0; k < n; k++) {
		struct store_read *it = sorted[k];

		while (
		    r < rows && strcasecmp(PQgetvalue(res, r, 0), it->id) < 0)
			r++;
		if (r < rows &&
		    strcasecmp(PQgetvalue(res, r, 0), it->id) == 0) {
			(void)row_product(res, r, 0, &row);
			it->code    = CODE_OK;
			it->product = row; /* it->id may point here: same id */
		} else {
			it->code = CODE_NOT_FOUND;
		}
	}
	rv = CODE_OK;
out_clear:
	PQclear(res);
	free(lit);
out_free_sorted:
	free(sorted);
	return rv;
}

/* The five array literals of a write batch, in one allocation. */
struct write_params {
	char       *buf;       /* owns all five */
	const char *values[5]; /* ids, expected versions, stocks, request
	                          ids, callers */
};

static int
write_params_init(
    struct write_params *wp, const struct store_write *items, size_t n)
{
	size_t len = (size_t)5 * 2; /* braces, or the last separator and a
	                               NUL */
	char   num[INT64_TEXT_MAX];
	char  *p;
	size_t i;

	for (i = 0; i < n; i++) {
		len += array_elem_len(items[i].id) +
		       array_elem_len(items[i].request_id) +
		       array_elem_len(items[i].caller) +
		       (size_t)2 * (INT64_TEXT_MAX + 3);
	}
	if ((wp->buf = malloc(len)) == NULL)
		return -1;

	p             = wp->buf;
	wp->values[0] = p;
	*p++          = '{';
	for (i = 0; i < n; i++)
		p = array_put(p, items[i].id);
	p = array_close(p);

	wp->values[1] = p;
	*p++          = '{';
	for (i = 0; i < n; i++) {
		snprintf(
		    num, sizeof(num), "%" PRId64, items[i].expected_version);
		p = array_put(p, num);
	}
	p = array_close(p);

	wp->values[2] = p;
	*p++          = '{';
	for (i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%" PRId64, items[i].stock);
		p = array_put(p, num);
	}
	p = array_close(p);

	wp->values[3] = p;
	*p++          = '{';
	for (i = 0; i < n; i++)
		p = array_put(p, items[i].request_id);
	p = array_close(p);

	wp->values[4] = p;
	*p++          = '{';
	for (i = 0; i < n; i++)
		p = array_put(p, items[i].caller);
	(void)array_close(p);
	return 0;
}

/* Whether the lock statement's result (ids in order) holds id. */
static bool
row_locked(const PGresult *locked, const char *id)
{
	int lo = 0, hi = PQntuples(locked) - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int c   = strcmp(PQgetvalue(locked, mid, 0), id);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

enum code
store_product_update_many(struct store *st, struct store_write *items,
    size_t n, uint64_t deadline_ns)
{
	struct write_params wp;
	struct store_call   calls[3];
	PGresult           *res[3];
	const PGresult     *upd, *look;
	int                 nupd, j;
	size_t              i;
	enum code           rv;

	if (n == 0)
		return CODE_OK;
	if (n > INT_MAX)
		return CODE_INVALID_ARGUMENT;
	if (expired(deadline_ns))
		return CODE_DEADLINE_EXCEEDED;
	if (!store_usable(st))
		return CODE_UNAVAILABLE;
	if (write_params_init(&wp, items, n) != 0)
		return CODE_INTERNAL;

	/* Lock, write, look up: one transaction, one round trip. */
	calls[0].stmt   = &product_stmts[STMT_PRODUCT_LOCK_MANY];
	calls[0].params = wp.values;
	calls[1].stmt   = &product_stmts[STMT_PRODUCT_UPDATE_MANY];
	calls[1].params = wp.values;
	calls[2].stmt   = &product_stmts[STMT_PRODUCT_UPDATE_LOOKUP_MANY];
	calls[2].params = wp.values;
	rv              = store_pipeline(st, calls, 3, deadline_ns, res);
	if (rv != CODE_OK) {
		for (i = 0; st->unknown && i < n; i++)
			items[i].unknown = true;
		goto out_free;
	}

	upd  = res[1];
	look = res[2];
	nupd = PQntuples(upd);
	if (PQntuples(look) != (int)n) { /* NEVER: one row per item */
		log_warn("store: product_update_lookup_many: %d rows for %zu "
		         "items",
		    PQntuples(look), n);
	}

	/* Both results are in item order: merge the applied rows in. */
	for (i = 0, j = 0; i < n; i++) {
		struct store_write *it  = &items[i];
		int64_t             ord = 0;
		struct product      row;
		enum code           code;

		memset(&row, 0, sizeof(row));
		if (j < nupd && get_i64(upd, j, 0, &ord) == 0 &&
		    ord == (int64_t)i + 1) {
			j++;
			code = applied_code(upd, j - 1, 1, &row);
		} else if ((int)i >= PQntuples(look) ||
		           get_i64(look, (int)i, 0, &ord) != 0 ||
		           ord != (int64_t)i + 1) {
			code = CODE_INTERNAL; /* NEVER */
		} else if (!PQgetisnull(look, (int)i, 1) &&
		           !row_locked(res[0], it->id)) {
			/* Its row was busy in another transaction: what it
			 * sees now may be stale; alone, it waits its turn. */
			code = CODE_UNAVAILABLE;
		} else if (!update_decide(look, (int)i, 1, it->request_id,
		               it->stock, it->expected_version, &row, &code)) {
			/* Undecidable here; alone, the item retries. */
			code        = CODE_UNAVAILABLE;
			row.version = 0;
		}
		it->code = code;
		if (row.version != 0)
			it->product = row;
	}
	if (j != nupd) /* NEVER: every applied row belongs to an item */
		log_warn("store: product_update_many: %d of %d applied rows "
		         "not matched to an item",
		    nupd - j, nupd);

	for (i = 0; i < 3; i++)
		PQclear(res[i]);
out_free:
	free(wp.buf);
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
