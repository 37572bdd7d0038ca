/* SPDX-License-Identifier: MIT */
/*
 * Batch planning (see batch.h).  Quadratic in the batch size on purpose:
 * a batch is bounded (EXECUTOR_BATCH_MAX) and usually small, and plain
 * loops over a few hundred entries beat building hash tables per batch.
 */
#include "core/batch.h"

#include <string.h>

#include "core/op_kind.h"

static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

bool
batch_same_call(const struct op *a, const struct op *b)
{
	/* Another caller's call is never the same call: it must not learn
	 * (or take) the first caller's outcome. */
	if (a->kind != b->kind || strcmp(a->caller, b->caller) != 0 ||
	    op_kinds[a->kind].same_call == NULL)
		return false;
	return op_kinds[a->kind].same_call(a, b);
}

bool
batch_writes_product(const struct op *op, const char *id)
{
	const char *w;

	if (op_kinds[op->kind].written == NULL)
		return false;
	for (size_t i = 0; (w = op_kinds[op->kind].written(op, i)) != NULL;
	     i++) {
		if (strcmp(w, id) == 0)
			return true;
	}
	return false;
}

/* Whether a and b write a product in common. */
static bool
share_product(const struct op *a, const struct op *b)
{
	const char *w;

	if (op_kinds[b->kind].written == NULL)
		return false;
	for (size_t i = 0; (w = op_kinds[b->kind].written(b, i)) != NULL;
	     i++) {
		if (batch_writes_product(a, w))
			return true;
	}
	return false;
}

/* Whether b must run in a later round than a. */
static bool
conflicts(const struct op *a, const struct op *b)
{
	if (a->request_id != NULL && same_str(a->request_id, b->request_id))
		return true;
	return share_product(a, b);
}

int
batch_plan_writes(struct op **ops, size_t n)
{
	int rounds = 0;

	for (size_t i = 0; i < n; i++) {
		struct op *op = ops[i];

		op->leader = NULL;
		op->round  = 0;
		if (!op_kind_writes(op->kind))
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct op *prev = ops[j];

			if (!op_kind_writes(prev->kind) ||
			    !conflicts(prev, op))
				continue;
			/* The leader is the first call (not itself a
			 * follower) with this request id and arguments. */
			if (op->leader == NULL && prev->leader == NULL &&
			    op->request_id != NULL &&
			    same_str(prev->request_id, op->request_id) &&
			    batch_same_call(prev, op))
				op->leader = (struct op *)prev;
			/* A follower still has a round: it runs there when
			 * its leader did not apply. */
			if (prev->round >= op->round)
				op->round = prev->round + 1;
		}
		if (op->round + 1 > rounds)
			rounds = op->round + 1;
	}
	return rounds;
}

/* Whether a read or a listing must wait for a write among ops[0..nw). */
static bool
reads_after(const struct op *op, struct op *const *writes, size_t nw)
{
	for (size_t w = 0; w < nw; w++) {
		const struct op *wr = writes[w];

		const char *id;

		if (!op_kind_writes(wr->kind))
			continue;
		if (op_kinds[op->kind].reads_any)
			return true; /* it may show any product */
		if (op_kinds[op->kind].read == NULL)
			continue;
		for (size_t i = 0;
		     (id = op_kinds[op->kind].read(op, i)) != NULL; i++) {
			if (batch_writes_product(wr, id))
				return true;
		}
	}
	return false;
}

bool
batch_depends(const struct op *later, const struct op *earlier)
{
	struct op *const one[1] = { (struct op *)earlier };

	if (!op_kind_writes(earlier->kind))
		return false;
	if (op_kind_writes(later->kind))
		return conflicts(earlier, later);
	return reads_after(later, one, 1);
}

size_t
batch_segment(struct op *const *ops, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct op *op = ops[i];

		if (op->kind == OP_NONE || op_kind_writes(op->kind))
			continue;
		if (reads_after(op, ops, i))
			break; /* i > 0: there is a write before it */
	}
	return i;
}
