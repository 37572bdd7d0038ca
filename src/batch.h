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

#include "op.h"

/* Plan the mutating calls ops[0..n) (those op_kind_writes(), in arrival
 * order) into rounds; round r runs after round r - 1 has committed:
 *  - a call repeating an earlier call's request id with the same
 *    arguments gets ->leader = that call and no round: it is not run, it
 *    takes the leader's outcome (the id applies once, both get the first
 *    outcome);
 *  - every other call gets the smallest ->round after the rounds of all
 *    earlier calls that write the same product or carry the same request
 *    id (a reservation writes each of its items' products).  So one
 *    round writes each product at most once and uses each
 *    request id at most once, later calls run after earlier ones, and a
 *    request id reused for a different call is judged by the database
 *    after the first call ran, exactly as if the two had come one after
 *    the other: ALREADY_EXISTS if the first applied.
 * Returns the number of rounds (0 when there is nothing to run). */
int batch_plan_writes(struct op **ops, size_t n);

/* Whether two mutating calls are the same call (kind and arguments). */
bool batch_same_call(const struct op *a, const struct op *b);

#endif
