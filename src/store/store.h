/* SPDX-License-Identifier: MIT */
/*
 * The PostgreSQL store: the only module that includes <libpq-fe.h> and the
 * only one that speaks SQL.
 *
 * A struct store is one libpq connection and is owned by exactly one
 * worker thread (libpq forbids two threads on one PGconn), so nothing here
 * locks.  Every statement is parameterised and prepared once per
 * connection.  A lost connection is re-established lazily by
 * store_ready(), with a short back-off, and re-prepared; meanwhile calls
 * return CODE_UNAVAILABLE.  Raw libpq error text is logged here and
 * mapped to an enum code; it never reaches the wire.
 *
 * Idempotency: mutating calls take the request id (NULL: none).  The
 * write, the check and the record of the request id are one statement; the
 * product row remembers the request id that produced its current version
 * and which call that was (method, arguments: last_request_call; caller:
 * updated_by), and a request_log table (pruned by store_maintain) answers
 * repeats.  A repeat gets the first outcome only when it is the same call
 * by the same caller, proven by the log or, once the log row is pruned,
 * by the row; any other call under a used request id, another caller's
 * included, is ALREADY_EXISTS (it learns nothing of the first outcome, and
 * PERMISSION_DENIED would mean a role's refusal, which this is not).
 */
#ifndef INVENTORY_STORE_H
#define INVENTORY_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/code.h"
#include "base/product.h"

struct store;

/* Tunables of a connection. */
struct store_options {
	const char *conninfo; /* libpq connection string or URI; "" uses PG*
	                         variables */
	int request_ttl_s;    /* how long request ids are remembered */
	int maintain_interval_ms; /* least time between two pruning passes
	                             of store_maintain(); 0: 60 s.  Tests set
	                             it short to prune on demand. */
};

/* Allocate a store and try to connect.  Returns 0 and *out even when the
 * database is down (the store reconnects later); -1 only when out of
 * memory.  The options are copied. */
int store_create(struct store **out, const struct store_options *opts);

/* Close the connection and free.  NULL is a no-op. */
void store_destroy(struct store *st);

/* Make sure the connection is up and prepared: returns true if it is (or
 * could be re-established now), false if the database is unreachable
 * (rate-limited: at most one connection attempt per back-off period). */
bool store_ready(struct store *st);

/* Housekeeping for an idle worker: prune expired request ids in bounded
 * batches, at most once per interval.  Cheap to call often. */
void store_maintain(struct store *st);

/* What bounds one call and who made it, an argument of every single
 * call below (NULL: no deadline, no caller).  Batches take their deadline
 * as an argument and each item its own caller.  Borrowed for the length
 * of the call; nothing of it stays in the store afterwards.
 *   deadline_ns  CLOCK_MONOTONIC nanoseconds, 0: none.  A statement still
 *                running at the deadline is cancelled in PostgreSQL and
 *                the call returns DEADLINE_EXCEEDED; a write cancelled
 *                that way was not applied.
 *   caller       recorded as the product's updated_by and in the request
 *                log by every write; NULL: none. */
struct store_req {
	uint64_t    deadline_ns;
	const char *caller;
};

/* Database connections the executors established again after losing one
 * (their first connections not counted), since start; for /metrics.
 * Thread-safe. */
uint64_t store_reconnects(void);

/* ---- readiness (health.c) ----------------------------------------------
 * A probe owns one connection of its own, opened on the first check and
 * again after a failure; one thread at a time may use a probe. */
struct store_probe;

enum { STORE_PROBE_WHY_MAX = 160 }; /* a reason's buffer, with the NUL */

/* 0 and *out, or -1 when out of memory.  Does not connect. */
int store_probe_create(struct store_probe **out, const char *conninfo);

/* Close and free.  NULL is a no-op. */
void store_probe_destroy(struct store_probe *p);

/* What a check found. */
enum store_probe_result {
	STORE_PROBE_READY  = 0,  /* reachable, schema current: "ok" */
	STORE_PROBE_DOWN   = -1, /* unreachable, or the query failed */
	STORE_PROBE_SCHEMA = -2, /* reachable; schema missing or behind */
};

/* Whether the database is reachable and its schema is at least the newest
 * migration embedded in this binary, with a one-line reason in why ("ok"
 * when ready; no libpq text: that is logged, once per change of reason).
 * Blocks up to the connect timeout (3 s) plus a 2 s statement_timeout:
 * call it off the request path. */
enum store_probe_result store_probe_check(
    struct store_probe *p, char *why, size_t cap);

/* Apply the SQL migrations idempotently (serialised across replicas with an
 * advisory lock).  Returns 0 on success, -1 after logging the error. */
int store_migrate(const char *conninfo);

/* GetProduct.  OK with *out; NOT_FOUND; INVALID_ARGUMENT for a malformed
 * id; UNAVAILABLE/INTERNAL for database trouble. */
enum code store_product_get(struct store *st, const struct store_req *req,
    const char *id, struct product *out);

/* CreateProduct with arguments already validated.  OK with *out at
 * version 1.  A repeated request_id returns OK with the product that
 * request created (as it was then); ALREADY_EXISTS if that id was used by a
 * different call. */
enum code store_product_create(struct store *st, const struct store_req *req,
    const char *request_id, const char *name, int64_t stock, const char *price,
    struct product *out);

/* UpdateStock with arguments already validated: one conditional UPDATE.
 *   OK          *out is the product at expected_version + 1 (for a repeated
 *               request_id: the outcome of the first call)
 *   ABORTED     conflict: *out is the latest committed product, whose
 *               version is strictly greater than expected_version
 *   NOT_FOUND   no such product
 *   INVALID_ARGUMENT  expected_version is newer than the stored version
 *   ALREADY_EXISTS    request_id was used by a different call
 *   UNAVAILABLE, INTERNAL  database trouble */
enum code store_product_update_stock(struct store *st,
    const struct store_req *req, const char *request_id, const char *id,
    int64_t stock, int64_t expected_version, struct product *out);

/* AdjustStock with arguments already validated: one UPDATE adding delta
 * (non-zero) to the stock, with no read and, without an expected version
 * (0), no conflict: concurrent adjustments of one row queue on its lock.
 *   OK          *out is the product after the change (for a repeated
 *               request_id: the first call's outcome)
 *   FAILED_PRECONDITION  the stock would go below 0; *out is the product
 *   OUT_OF_RANGE the stock would pass PRODUCT_STOCK_MAX; *out as above
 *   ABORTED, INVALID_ARGUMENT  as store_product_update_stock() when
 *               expected_version (>= 1) is given
 *   NOT_FOUND, ALREADY_EXISTS, UNAVAILABLE, INTERNAL  as above */
enum code store_product_adjust(struct store *st, const struct store_req *req,
    const char *request_id, const char *id, int64_t delta,
    int64_t expected_version, struct product *out);

/* ReserveStock with items already validated (1..RESERVE_MAX, distinct
 * ids): one statement that locks the rows in id order (waiting for them),
 * checks every item and applies all of them or none.  `key` is the items
 * as canonical text: a repeated request id with the same key answers the
 * first outcome, with another key ALREADY_EXISTS.
 *   OK          out[0..n) are the products after the change, item order
 *   ABORTED, FAILED_PRECONDITION, NOT_FOUND, INVALID_ARGUMENT (a future
 *               version)  nothing applied; every item's code says how it
 *               fared (OK: it would have applied) with its product as it
 *               is; the return is the first failing item's code
 *   ALREADY_EXISTS, UNAVAILABLE, INTERNAL, DEADLINE_EXCEEDED  nothing
 *               applied (UNAVAILABLE: outcome unknown if the connection
 *               was lost mid-statement) */
enum code store_reserve(struct store *st, const struct store_req *req,
    const char *request_id, const char *key, struct reserve_item *items,
    size_t n, struct product *out);

/* ListProducts: up to `limit` products with an id greater than `after`
 * ("" : from the first), in id order, into out[0..*n); *more tells
 * whether another product follows. */
enum code store_product_list(struct store *st, const struct store_req *req,
    const char *after, int limit, struct product *out, size_t *n, int *more);

/* ---- batches: several calls, one round trip ----------------------------
 *
 * The executor hands the store whole batches.  A batch call returns OK when
 * its statements ran (each item then holds its own code), or a code for
 * the whole batch (UNAVAILABLE, DEADLINE_EXCEEDED, INTERNAL, ...) when they
 * did not: then nothing was applied and every item is untouched, except
 * that a write batch whose connection was lost after its commit was sent
 * (UNAVAILABLE, no error from the server) may have committed: it sets
 * every item's `unknown`, and the caller must answer them UNAVAILABLE,
 * never run them again (a write that did apply would then fail its own
 * check and get a definite code it does not deserve).  `deadline_ns`
 * (monotonic, 0: none) bounds the round trip: past it the statements are
 * cancelled in PostgreSQL and the call returns DEADLINE_EXCEEDED.
 */

/* One GetProduct of a batch. */
struct store_read {
	const char    *id;      /* in: canonical lower-case UUID */
	enum code      code;    /* out: OK or NOT_FOUND */
	struct product product; /* out: on OK */
};

/* All reads with one `SELECT ... WHERE id = ANY($1::uuid[])`; ids may
 * repeat (each distinct id is read once). */
enum code store_product_get_many(struct store *st, struct store_read *items,
    size_t n, uint64_t deadline_ns);

/* One UpdateStock of a batch. */
struct store_write {
	const char *id;               /* in: canonical lower-case UUID */
	const char *request_id;       /* in: NULL: none */
	const char *caller;           /* in: updated_by; NULL: none */
	int64_t     stock;            /* in: validated */
	int64_t     expected_version; /* in: >= 1 */
	enum code   code;       /* out: as store_product_update_stock() */
	bool        unknown;    /* out: the batch failed as a whole after
	                           its commit was sent: it may have applied
	                           (the caller sets it false before) */
	struct product product; /* out: new row on OK, latest on ABORTED
	                           and on INVALID_ARGUMENT (future version) */
};

/* All writes in one transaction and one round trip (pipeline mode): lock
 * the rows in id order, skipping rows another transaction holds (so a
 * batch never waits on a row lock and executors never deadlock), one
 * set-based conditional UPDATE of the locked rows that also writes the
 * request log, then one lookup in a fresh snapshot that decides every
 * item that did not apply (conflict, repeat, reuse, not found) exactly as
 * store_product_update_stock() would.  The caller guarantees that no two
 * items name the same product or the same request id.  An item whose row
 * was busy, or whose outcome the lookup cannot decide, gets UNAVAILABLE:
 * nothing was applied for it, and the caller re-runs it alone. */
enum code store_product_update_many(struct store *st,
    struct store_write *items, size_t n, uint64_t deadline_ns);

#endif
