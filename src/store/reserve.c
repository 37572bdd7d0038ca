/* SPDX-License-Identifier: MIT */
/*
 * ReserveStock in the store (see store.h): several items, all or nothing,
 * in one statement.
 *
 * Invariants:
 * - The rows are locked in id order by a first statement (SELECT ...
 *   ORDER BY id FOR UPDATE, waiting), so two reservations never deadlock
 *   on each other.  The reservation itself is a second statement of the
 *   same transaction (one pipeline, one round trip): its snapshot is taken
 *   after every lock was granted, so it judges every item on the rows as
 *   they are and will stay until the commit, and writes exactly what it
 *   judged.  (Locking in the same statement would not do: its UPDATE
 *   reads the rows through the statement's older snapshot and re-reads
 *   only the ones changed meanwhile, so judgement and write could see two
 *   versions of a row.)
 * - The statement writes every item or none: the UPDATE runs only when no
 *   item failed and the request id is not logged yet, and the log row is
 *   written in the same statement, so the two commit or vanish together.
 *   A request id logged concurrently raises 23505 and rolls it all back.
 * - A repeated request id answers the logged outcome (the products after
 *   the first call) when the items are the same, ALREADY_EXISTS when not;
 *   nothing is applied twice.
 * - Array parameters hold only canonical UUIDs and decimal numbers (the
 *   handler validated them), so they need no quoting.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "store/store.h"
#include "store/store_internal.h"

enum {
	RESERVE_ATTEMPTS = 3, /* a repeat whose log row was pruned between
	                       * the write and the lookup runs again */
};

enum reserve_stmt_id {
	STMT_RESERVE_LOCK,
	STMT_RESERVE,
	STMT_RESERVE_LOOKUP,
	RESERVE_STMT_COUNT,
};

/* The seven product columns as JSON keys of request_log.result. */
#define RESERVE_RESULT_COLUMNS                                                \
	"ord int8, id text, name text, stock int8, price text, version int8," \
	" created_us int8, updated_us int8"

static const struct stmt reserve_stmts[RESERVE_STMT_COUNT] = {
	/* $1 ids: lock the rows in id order, waiting for each (bounded by
	 * the call's deadline). */
	[STMT_RESERVE_LOCK] = { "reserve_lock", 1,
	    "SELECT p.id FROM products p WHERE p.id = ANY($1::uuid[])"
	    " ORDER BY p.id FOR UPDATE" },

	/* After STMT_RESERVE_LOCK, in the same transaction (so `locked` is
	 * the rows as locked).  $1 ids, $2 quantities (NULL: a set item), $3
	 * expected versions and
	 * $4 stocks (NULL: a take item), item i at index i; $5 request id or
	 * NULL, $6 the items as canonical text, $7 the caller or NULL.  One
	 * row per item, in item order: ord (0), the item's code (1: 0 OK,
	 * else the gRPC code), whether the request id is new (2), whether it
	 * was applied (3), the product (4-10): after the change when applied,
	 * else as locked (NULL: no such product), its stock as locked (11),
	 * whether the request id is in the log (12), and whether the row's
	 * last write was this very reservation by this caller (13).  An id
	 * that is on any of the rows is not new either: its log row was
	 * pruned, but it applied, and while it is still a row's latest
	 * write it must not apply again. */
	[STMT_RESERVE] = { "reserve", 7,
	    "WITH input AS ("
	    " SELECT * FROM unnest($1::uuid[], $2::int8[], $3::int8[],"
	    " $4::int8[]) WITH ORDINALITY"
	    " AS i(id, quantity, expected_version, stock, ord)"
	    "), locked AS MATERIALIZED ("
	    " SELECT p.id, p.name, p.stock, p.price, p.version, p.created_at,"
	    " p.updated_at, (p.last_request_id = $5::text) IS TRUE AS mine,"
	    " (p.last_request_id = $5::text"
	    " AND p.last_request_call = '4:' || $6::text"
	    " AND p.updated_by IS NOT DISTINCT FROM $7::text) IS TRUE AS same"
	    " FROM products p WHERE p.id = ANY($1::uuid[])"
	    "), verdict AS MATERIALIZED ("
	    " SELECT i.ord, i.id, i.quantity, i.stock AS new_stock,"
	    " CASE WHEN k.id IS NULL THEN 5"
	    " WHEN i.quantity IS NULL AND k.version > i.expected_version"
	    " THEN 10"
	    " WHEN i.quantity IS NULL AND k.version < i.expected_version"
	    " THEN 3"
	    " WHEN i.quantity IS NOT NULL AND k.stock < i.quantity THEN 9"
	    " ELSE 0 END AS code"
	    " FROM input i LEFT JOIN locked k ON k.id = i.id"
	    "), seen AS MATERIALIZED ("
	    " SELECT EXISTS (SELECT 1 FROM request_log l"
	    " WHERE l.request_id = $5::text) AS logged,"
	    " EXISTS (SELECT 1 FROM locked k WHERE k.mine) AS mine"
	    "), go AS MATERIALIZED ("
	    " SELECT NOT s.logged AND NOT s.mine AS fresh, s.logged,"
	    " NOT EXISTS (SELECT 1 FROM verdict v WHERE v.code <> 0) AS fits"
	    " FROM seen s"
	    "), upd AS ("
	    " UPDATE products p"
	    " SET stock = COALESCE(p.stock - v.quantity, v.new_stock),"
	    " version = p.version + 1, updated_at = now(),"
	    " last_request_id = $5::text,"
	    " last_request_call = CASE WHEN $5::text IS NOT NULL"
	    " THEN '4:' || $6::text END,"
	    " updated_by = $7::text"
	    " FROM verdict v, go"
	    " WHERE go.fresh AND go.fits AND p.id = v.id"
	    " RETURNING v.ord, p.id, p.name, p.stock, p.price, p.version,"
	    " p.created_at, p.updated_at"
	    "), logged AS ("
	    " INSERT INTO request_log (request_id, method, items, result,"
	    " caller)"
	    " SELECT $5::text, 4, $6::text, jsonb_agg(jsonb_build_object("
	    "'ord', u.ord, 'id', u.id, 'name', u.name, 'stock', u.stock,"
	    " 'price', u.price::text, 'version', u.version,"
	    " 'created_us',"
	    " (extract(epoch FROM u.created_at) * 1000000)::int8,"
	    " 'updated_us',"
	    " (extract(epoch FROM u.updated_at) * 1000000)::int8)"
	    " ORDER BY u.ord), $7::text"
	    " FROM upd u WHERE $5::text IS NOT NULL HAVING count(*) > 0"
	    ")"
	    " SELECT v.ord, v.code, go.fresh, u.ord IS NOT NULL,"
	    " COALESCE(u.id, k.id)::text, COALESCE(u.name, k.name),"
	    " COALESCE(u.stock, k.stock), COALESCE(u.price, k.price)::text,"
	    " COALESCE(u.version, k.version),"
	    " (extract(epoch FROM COALESCE(u.created_at, k.created_at))"
	    " * 1000000)::int8,"
	    " (extract(epoch FROM COALESCE(u.updated_at, k.updated_at))"
	    " * 1000000)::int8,"
	    " k.stock, go.logged, k.same IS TRUE"
	    " FROM verdict v CROSS JOIN go"
	    " LEFT JOIN upd u ON u.ord = v.ord"
	    " LEFT JOIN locked k ON k.id = v.id"
	    " ORDER BY v.ord" },

	/* $1 request id, $2 the items as canonical text, $3 caller or NULL:
	 * whether the logged call is this one by this caller (0), then its
	 * products in item order (1: ord, 2-8: the product; NULL when it is
	 * not a reservation).  No row: not logged (pruned meanwhile). */
	[STMT_RESERVE_LOOKUP] = { "reserve_lookup", 3,
	    "SELECT (l.method = 4 AND l.items = $2::text"
	    " AND l.caller IS NOT DISTINCT FROM $3::text) IS TRUE, r.ord,"
	    " r.id, r.name, r.stock, r.price, r.version, r.created_us,"
	    " r.updated_us"
	    " FROM request_log l LEFT JOIN LATERAL jsonb_to_recordset("
	    "CASE WHEN l.method = 4 THEN l.result END)"
	    " AS r(" RESERVE_RESULT_COLUMNS ") ON true"
	    " WHERE l.request_id = $1::text ORDER BY r.ord" },
};

const struct stmt_table store_reserve_stmts = {
	reserve_stmts,
	RESERVE_STMT_COUNT,
};

/* Columns of STMT_RESERVE. */
enum {
	COL_CODE    = 1,
	COL_FRESH   = 2,
	COL_APPLIED = 3,
	COL_PRODUCT = 4,
	COL_LOGGED  = 12,
	COL_SAME    = 13,
};

/* The four array literals of a reservation, in one allocation. */
struct reserve_params {
	char       *buf; /* owns all four */
	const char *values[4];
};

/* Append one number (or NULL when !has) and a separator. */
static char *
put_num(char *p, int has, int64_t v)
{
	if (!has)
		return p + sprintf(p, "NULL,");
	return p + sprintf(p, "%" PRId64 ",", v);
}

static int
reserve_params_init(
    struct reserve_params *rp, const struct reserve_item *items, size_t n)
{
	/* Per item: a UUID and three numbers, each with a separator; per
	 * array: a brace and the NUL. */
	size_t len = n * (PRODUCT_ID_LEN + 1 + (size_t)3 * INT64_TEXT_MAX) +
	             (size_t)4 * 2;
	char  *p;
	size_t i;

	if ((rp->buf = malloc(len)) == NULL)
		return -1;
	p             = rp->buf;
	rp->values[0] = p;
	*p++          = '{';
	for (i = 0; i < n; i++)
		p += sprintf(p, "%s,", items[i].id);
	p[-1] = '}';
	*p++  = '\0';

	rp->values[1] = p;
	*p++          = '{';
	for (i = 0; i < n; i++)
		p = put_num(p, items[i].quantity > 0, items[i].quantity);
	p[-1] = '}';
	*p++  = '\0';

	rp->values[2] = p;
	*p++          = '{';
	for (i = 0; i < n; i++)
		p = put_num(
		    p, items[i].quantity == 0, items[i].expected_version);
	p[-1] = '}';
	*p++  = '\0';

	rp->values[3] = p;
	*p++          = '{';
	for (i = 0; i < n; i++)
		p = put_num(p, items[i].quantity == 0, items[i].stock);
	p[-1] = '}';
	*p    = '\0';
	return 0;
}

/* Read the reservation's rows into items (and out when applied).  Returns
 * OK when applied, the first failing item's code when some item failed,
 * or -1 when the request id is logged (a repeat: the caller looks it up).
 */
static int
reserve_read(const PGresult *res, struct reserve_item *items, size_t n,
    struct product *out)
{
	enum code first = CODE_OK;
	int       code;

	if ((size_t)PQntuples(res) != n) {
		log_warn("store: reserve returned %d rows for %zu items",
		    PQntuples(res), n);
		return CODE_INTERNAL;
	}
	if (!get_bool(res, 0, COL_FRESH)) {
		if (get_bool(res, 0, COL_LOGGED))
			return -1; /* the log answers */
		/* Pruned from the log, but still on a row: the rows as
		 * they are are its outcome only if every one of them was
		 * last written by this very reservation (the guard kept it
		 * from applying twice); else the id was another call's or
		 * its rows moved on: nothing to answer from. */
		for (size_t i = 0; i < n; i++) {
			if (!get_bool(res, (int)i, COL_SAME))
				return CODE_ALREADY_EXISTS;
		}
		for (size_t i = 0; i < n; i++) {
			items[i].code = CODE_OK;
			if (row_product(res, (int)i, COL_PRODUCT,
			        &items[i].product) != 0)
				return CODE_INTERNAL;
			items[i].product.prev_stock = -1; /* applied before */
			out[i]                      = items[i].product;
		}
		return CODE_OK;
	}
	for (size_t i = 0; i < n; i++) {
		int64_t c;

		memset(&items[i].product, 0, sizeof(items[i].product));
		if (get_i64(res, (int)i, COL_CODE, &c) != 0)
			return CODE_INTERNAL;
		code          = (int)c;
		items[i].code = code;
		if (!PQgetisnull(res, (int)i, COL_PRODUCT) &&
		    row_product(res, (int)i, COL_PRODUCT, &items[i].product) !=
		        0)
			return CODE_INTERNAL;
		if (code != CODE_OK && first == CODE_OK)
			first = (enum code)code;
	}
	if (first != CODE_OK)
		return first;
	for (size_t i = 0; i < n; i++) {
		if (!get_bool(res, (int)i, COL_APPLIED)) {
			log_warn("store: reserve: item %zu fits but was not "
			         "applied",
			    i);
			return CODE_INTERNAL;
		}
		if (get_i64(res, (int)i, COL_PRODUCT + 7,
		        &items[i].product.prev_stock) != 0)
			return CODE_INTERNAL;
		out[i] = items[i].product;
	}
	return CODE_OK;
}

/* The logged outcome of a repeated request id: OK with out[], or
 * ALREADY_EXISTS; -1 when the log row is gone (pruned meanwhile). */
static int
reserve_lookup_read(const PGresult *res, size_t n, struct product *out)
{
	int rows = PQntuples(res);

	if (rows == 0)
		return -1;
	if (!get_bool(res, 0, 0))
		return CODE_ALREADY_EXISTS;
	if ((size_t)rows != n) {
		log_warn("store: reserve_lookup: %d products logged for %zu "
		         "items",
		    rows, n);
		return CODE_INTERNAL;
	}
	for (int r = 0; r < rows; r++) {
		if (row_product(res, r, 2, &out[r]) != 0)
			return CODE_INTERNAL;
	}
	return CODE_OK;
}

static enum code
reserve(struct store *st, const char *request_id, const char *key,
    struct reserve_item *items, size_t n, struct product *out)
{
	struct reserve_params rp;
	const char           *wparams[7];
	struct store_call     calls[2];
	const char           *lparams[3] = { request_id, key, st->caller };
	PGresult             *res        = NULL;
	int                   rv         = CODE_UNAVAILABLE;

	if (!store_usable(st))
		return CODE_UNAVAILABLE;
	if (reserve_params_init(&rp, items, n) != 0)
		return CODE_RESOURCE_EXHAUSTED;
	memcpy(wparams, rp.values, sizeof(rp.values));
	wparams[4] = request_id;
	wparams[5] = key;
	wparams[6] = st->caller;
	calls[0] =
	    (struct store_call) { &reserve_stmts[STMT_RESERVE_LOCK], wparams };
	calls[1] =
	    (struct store_call) { &reserve_stmts[STMT_RESERVE], wparams };

	for (int attempt = 0; attempt < RESERVE_ATTEMPTS; attempt++) {
		PGresult *out2[2] = { NULL, NULL };
		enum code pc;

		pc = store_pipeline(st, calls, 2, st->deadline_ns, out2);
		PQclear(out2[0]);
		res = out2[1];
		if (pc == CODE_OK) {
			if ((rv = reserve_read(res, items, n, out)) >= 0)
				goto out_clear;
		} else if (request_id == NULL || pc == CODE_UNAVAILABLE ||
		           pc == CODE_DEADLINE_EXCEEDED) {
			/* Nothing applied (UNAVAILABLE: maybe, if the
			 * connection was lost during the commit). */
			rv = pc;
			goto out_clear;
		}
		/* Logged already (a repeat), or logged concurrently by a call
		 * with the same id (23505 rolled this one back). */
		PQclear(res);
		res = store_exec(
		    st, &reserve_stmts[STMT_RESERVE_LOOKUP], lparams);
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			rv = store_fail(st, "reserve_lookup", res);
			goto out_clear;
		}
		if ((rv = reserve_lookup_read(res, n, out)) >= 0)
			goto out_clear;
		if (pc != CODE_OK) {
			rv = pc; /* not a request id race after all */
			goto out_clear;
		}
		PQclear(res);
		res = NULL;
	}
	log_warn("store: reserve: request id %s: no stable outcome after %d "
	         "attempts",
	    request_id != NULL ? request_id : "-", RESERVE_ATTEMPTS);
	rv = CODE_UNAVAILABLE;
out_clear:
	PQclear(res);
	free(rp.buf);
	return (enum code)rv;
}

/* ---- the public calls: each bracketed by its store_req ---------------- */

enum code
store_reserve(struct store *st, const struct store_req *req,
    const char *request_id, const char *key, struct reserve_item *items,
    size_t n, struct product *out)
{
	enum code rc;

	store_req_begin(st, req);
	rc = reserve(st, request_id, key, items, n, out);
	store_req_end(st);
	return rc;
}
