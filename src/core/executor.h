/* SPDX-License-Identifier: MIT */
/*
 * Executors: the only threads that wait on the database.
 *
 * A few executors (one PostgreSQL connection each) share one queue of
 * pending calls in arrival order.  An executor takes everything queued (up
 * to EXECUTOR_BATCH_MAX calls, but never part of a frame: the calls of one
 * frame always run in one batch, in their order) and runs it in as few
 * statements and round trips as it can, without changing what any call
 * means (the calls of a frame take effect as if sent one after another):
 * in segments whose reads share one SELECT and see every write ahead of
 * them, the writes in rounds of one set-based transaction each (batch.c
 * decides segments and rounds), creates one by one.  Nothing waits on
 * purpose for a batch to fill: a batch is whatever queued while the
 * previous one ran.  A batch that fails as a whole is run again call by
 * call, so one bad call never fails its neighbours (unless its outcome is
 * unknown: then UNAVAILABLE); a call stuck on a row lock runs after the
 * others.  Every call it takes is answered with dispatch_op_done().  No
 * nng.
 */
#ifndef INVENTORY_EXECUTOR_H
#define INVENTORY_EXECUTOR_H

#include "core/op.h"

struct executor;
struct store;
struct store_options;

#include "core/dispatch.h"

/* Calls one executor takes from the queue at once: it stops taking at
 * EXECUTOR_BATCH_MAX, after the frame it is in the middle of, so a batch
 * holds at most EXECUTOR_TAKE_MAX calls. */
enum {
	EXECUTOR_BATCH_MAX = 256,
	EXECUTOR_TAKE_MAX  = EXECUTOR_BATCH_MAX + DISPATCH_BATCH_MAX,
};

/* Start `count` executors, each connecting with opts (copied; connecting
 * happens on the executor's thread, a database that is down is fine).
 * Returns 0, or -1 with nothing left running. */
int executor_start(
    struct executor **out, int count, const struct store_options *opts);

/* Cap the calls queued or being run (0, the default: no cap).  Set once
 * before the first executor_submit(). */
void executor_set_max_pending(struct executor *ex, size_t max_pending);

/* Queue the calls of list (linked by op->next, arrival order).  Calls
 * that would take the pending count over the cap are answered
 * RESOURCE_EXHAUSTED at once (dispatch_op_done(), on this thread), the
 * earlier calls of the list are queued.  Never blocks on the database;
 * thread-safe. */
void executor_submit(struct executor *ex, struct op *list);

/* The calls queued and not yet taken, and the calls an executor is
 * running (or has run and not yet answered), for /metrics.  Two relaxed
 * reads: a consistent snapshot is not needed.  Thread-safe, lock-free. */
void executor_load(struct executor *ex, size_t *queued, size_t *running);

/* Run what is queued, then stop the threads and close the connections.
 * Nothing may be submitted afterwards.  NULL is a no-op. */
void executor_stop(struct executor *ex);

/* Run one call alone on st (NULL: database unavailable), on the calling
 * thread: sets op's outcome, does not call dispatch_op_done().  The
 * fallback path of a batch, and the whole path of dispatch_handle(). */
void executor_run_one(struct store *st, struct op *op);

#endif
