/* SPDX-License-Identifier: MIT */
/*
 * The SQL of the product RPCs' prepared statements (GetProduct,
 * CreateProduct, UpdateStock, AdjustStock, ListProducts, one by one and
 * in batches), prepared on every new connection (store_product_stmts).
 * Only text lives here; product.c and product_batch.c run them.
 *
 * Invariants: SQL text is never built from input; a write and the record
 * of its request id are one statement (see product.c).
 */
#include <stddef.h>

#include "store/product_internal.h"

/* request_log.method: which RPC wrote a row (see deploy/sql/001_init.sql). */
enum request_method {
	REQUEST_METHOD_UPDATE_STOCK   = 1,
	REQUEST_METHOD_CREATE_PRODUCT = 2,
	REQUEST_METHOD_ADJUST_STOCK =
	    3, /* deploy/sql/002_adjust_reserve.sql */
};

const struct stmt store_product_sql[PRODUCT_STMT_COUNT] = {
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
	store_product_sql,
	PRODUCT_STMT_COUNT,
};
