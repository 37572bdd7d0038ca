/* SPDX-License-Identifier: MIT */
/*
 * Batch planning: pure functions that decide how the calls an executor
 * took from its queue share statements, without changing what any call
 * means (DESIGN.md, "Batching rules").  No I/O, no locks, no allocation,
 * so every rule is unit-testable on its own (tests/unit/batch_test.c).
 */
#ifndef INVENTORY_BATCH_H
#define INVENTORY_BATCH_H

#include <stdbool.h>
#include <stddef.h>

#include "core/op.h"

/* Plan the mutating calls ops[0..n) (those whose row writes, in arrival
 * order) into rounds; round r runs after round r - 1 has committed:
 *  - every call gets the smallest ->round after the rounds of all
 *    earlier calls that write the same product or carry the same request
 *    id (a reservation writes each of its items' products).  So one
 *    round writes each product at most once and uses each request id at
 *    most once, later calls run after earlier ones, and a request id
 *    reused for a different call is judged by the database after the
 *    first call ran, exactly as if the two had come one after the other:
 *    ALREADY_EXISTS if the first applied;
 *  - a call repeating an earlier call's request id with the same
 *    arguments and caller also gets ->leader = that first call.  When its
 *    round comes, it takes the leader's outcome only if that outcome is
 *    one the repeat would get alone: OK (the id applied once, both get
 *    the first outcome) or ALREADY_EXISTS (the id was another call's).
 *    Any other outcome (a conflict, a failed check, an expired deadline,
 *    an unknown outcome) logged nothing, so the repeat runs itself, as
 *    it would alone.
 * Returns the number of rounds (0 when there is nothing to run). */
int batch_plan_writes(struct op **ops, size_t n);

/* Whether two mutating calls are the same call (row, arguments and
 * caller). */
bool batch_same_call(const struct op *a, const struct op *b);

/* Whether the mutating call op writes the product `id`. */
bool batch_writes_product(const struct op *op, const char *id);

/* Whether `later` must run after `earlier` (arrival order) for the two
 * to take effect as if sent one after the other: `earlier` writes and
 * `later` writes a product of it or carries its request id, reads one of
 * its products, or lists products.  Otherwise they commute. */
bool batch_depends(const struct op *later, const struct op *earlier);

/* The length of the first segment of ops[0..n) (arrival order) that may
 * run as reads first, then writes, without a read seeing the database
 * before a write that came ahead of it: it ends before the first read
 * (GetProduct, BatchGetProducts) of a product written earlier in the
 * segment and before the first listing that follows any write.  At least
 * 1 when n > 0. */
size_t batch_segment(struct op *const *ops, size_t n);

#endif
