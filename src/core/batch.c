/* SPDX-License-Identifier: MIT */
/*
 * Batch planning (see batch.h).  Quadratic in the batch size on purpose:
 * a batch is bounded (EXECUTOR_BATCH_MAX) and usually small, and plain
 * loops over a few hundred entries beat building hash tables per batch.
 * What a call reads, writes and repeats comes from its row (op->rpc).
 */
#include "core/batch.h"

#include <string.h>

#include "handlers/rpc.h"

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
	if (a->rpc != b->rpc || strcmp(a->caller, b->caller) != 0 ||
	    a->rpc->same_call == NULL)
		return false;
	return a->rpc->same_call(a, b);
}

bool
batch_writes_product(const struct op *op, const char *id)
{
	const char *w;

	if (op->rpc->written == NULL)
		return false;
	for (size_t i = 0; (w = op->rpc->written(op, i)) != NULL; i++) {
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

	if (b->rpc->written == NULL)
		return false;
	for (size_t i = 0; (w = b->rpc->written(b, i)) != NULL; i++) {
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
		if (!op->rpc->writes)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct op *prev = ops[j];

			if (!prev->rpc->writes || !conflicts(prev, op))
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

		if (!wr->rpc->writes)
			continue;
		if (op->rpc->reads_any)
			return true; /* it may show any product */
		if (op->rpc->read == NULL)
			continue;
		for (size_t i = 0; (id = op->rpc->read(op, i)) != NULL; i++) {
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

	if (!earlier->rpc->writes)
		return false;
	if (later->rpc->writes)
		return conflicts(earlier, later);
	return reads_after(later, one, 1);
}

size_t
batch_segment(struct op *const *ops, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct op *op = ops[i];

		if (!op->work || op->rpc->writes)
			continue;
		if (reads_after(op, ops, i))
			break; /* i > 0: there is a write before it */
	}
	return i;
}
