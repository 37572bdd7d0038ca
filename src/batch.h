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

/* Plan the mutating calls ops[0..n) (OP_WRITE and OP_CREATE, in arrival
 * order):
 *  - a call repeating an earlier call's request id with the same
 *    arguments gets ->leader = that call and no round: it is not run, it
 *    takes the leader's outcome (the id applies once, both get the first
 *    outcome);
 *  - a call reusing an earlier call's request id with other arguments is
 *    completed here with ALREADY_EXISTS;
 *  - every other write gets the smallest ->round after the rounds of all
 *    earlier writes of the same product, so one round writes each product
 *    at most once and later writes run after earlier ones.
 * Returns the number of rounds (0 when there is no write to run). */
int batch_plan_writes(struct op **ops, size_t n);

/* Whether two mutating calls are the same call (kind and arguments). */
bool batch_same_call(const struct op *a, const struct op *b);

#endif
