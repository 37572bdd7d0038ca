/* SPDX-License-Identifier: MIT */
/*
 * One row per RPC: everything the server knows about a method of
 * InventoryService, in one place.  Its name and role, how a call is
 * validated into an op (prepare) and its reply packed (finish), how it runs
 * alone on a store, what its reply may cost, what the batch planner needs
 * (the products it reads or writes, when two calls are the same call) and,
 * when it has one, the set-based form it joins inside a batch.
 *
 * Dispatch, the executor and the batch planner (core/) read a call's row
 * through op->rpc and nothing else about it: no code outside the rows'
 * own files asks which RPC a call is.  The rows live with their RPC family
 * (product_read.c, product_write.c, orders.c); rpc_table.c lists them in
 * the order of the proto's `service InventoryService`.  rpc_check() fails
 * the start-up (and unit.dispatch) when a row is incomplete.
 */
#ifndef INVENTORY_HANDLERS_RPC_H
#define INVENTORY_HANDLERS_RPC_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "base/code.h"
#include "core/op.h"

struct store;
struct store_req;
struct store_read;
struct store_write;

/* The set-based form a call joins when it runs in a batch (executor.c). */
enum rpc_batch {
	/* None: it runs on its own (a write in its round, keeping order
	 * with the batch's other writes of its products). */
	RPC_BATCH_NONE,
	/* The reads of a segment share one multi-row SELECT
	 * (store_product_get_many()): it contributes the ids read() yields
	 * and takes its results back with reads_take. */
	RPC_BATCH_READS,
	/* The calls of a write round share one transaction of conditional
	 * updates (store_product_update_many()): it fills its entry with
	 * update_fill and takes the entry's code and product back. */
	RPC_BATCH_UPDATES,
};

struct rpc {
	/* The proto's method name, e.g. "GetProduct" (checked against
	 * protoc-c's descriptor at start-up). */
	const char *name;
	/* Changes the database: writers only (auth.h), and the planner
	 * keeps it in order with the other writes of its products. */
	bool writes;
	/* Validate req (of the method's input type) into op; OK, or
	 * INVALID_ARGUMENT with op->message set.  No I/O. */
	enum code (*prepare)(const ProtobufCMessage *req, struct op *op);
	/* Pack the reply on OK; otherwise make sure op->message says why.
	 * No I/O. */
	void (*finish)(struct op *op, ProtobufCBuffer *reply);

	/* Run it alone on st within req (its deadline, its caller);
	 * returns the call's code, its outcome in op.  NULL: the call needs
	 * no database and is answered by dispatch at once. */
	enum code (*run)(
	    struct store *st, struct op *op, const struct store_req *req);
	/* The most products its reply may carry (its reply memory is
	 * reserved from this before any I/O). */
	size_t (*reply_products)(const struct op *op);

	/* Writes only: whether b (same row, same caller) is the same call
	 * as a, so that a repeat of a request id takes a's outcome. */
	bool (*same_call)(const struct op *a, const struct op *b);
	/* Writes only: the i-th product id it writes, NULL past the last
	 * (a creation writes no existing product: NULL at once). */
	const char *(*written)(const struct op *op, size_t i);
	/* Writes only, optional: copy what a repeat takes from its leader
	 * beyond code, message and product (a reservation's items and
	 * products); out of memory, op's code says so. */
	void (*repeat_take)(struct op *op, const struct op *leader);
	/* Reads only: the i-th product id it reads, NULL past the last, so
	 * that it runs after a write of one of them earlier in its frame
	 * (and, in RPC_BATCH_READS, the ids it adds to the SELECT). */
	const char *(*read)(const struct op *op, size_t i);
	/* Reads only, instead of read: it may show any product (a
	 * listing), so it runs after every write ahead of it. */
	bool reads_any;

	/* Its batch form (RPC_BATCH_NONE: none). */
	enum rpc_batch batch;
	/* RPC_BATCH_READS: take the results of the ids read() gave, in that
	 * order (reads[i] for read(op, i)), into op's outcome. */
	void (*reads_take)(struct op *op, const struct store_read *reads);
	/* RPC_BATCH_READS: alone in its segment and reading one product,
	 * it runs its own run (a plain one-row SELECT is cheaper than the
	 * set form). */
	bool single_alone;
	/* RPC_BATCH_UPDATES: its entry's product and arguments (the
	 * executor fills request id, caller and deadline). */
	void (*update_fill)(const struct op *op, struct store_write *w);
};

/* The rows, indexed like the service descriptor's methods[]
 * (rpc_table.c). */
extern const struct rpc *const rpc_table[];
extern const size_t            rpc_count;

/* The row named name (the proto's method name), or NULL: for tests and
 * tools; the server indexes rpc_table by method. */
const struct rpc *rpc_find(const char *name);

/* NULL if row is complete, else what it lacks (for the log and tests). */
const char *rpc_row_gap(const struct rpc *row);

/* 0 if every row of rpc_table is complete, else -1 after logging the
 * first gap. */
int rpc_check(void);

/* ---- small pieces several rows share (rpc_table.c) -------------------- */

/* reply_products of a call that replies one product. */
size_t rpc_one_product(const struct op *op);

/* read or written of a call on one product: op->id. */
const char *rpc_the_id(const struct op *op, size_t i);

#endif
