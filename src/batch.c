/*
 * Batch planning (see batch.h).  Quadratic in the batch size on purpose:
 * a batch is bounded (EXECUTOR_BATCH_MAX) and usually small, and plain
 * loops over a few hundred entries beat building hash tables per batch.
 */
#include "batch.h"

#include <string.h>

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
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case OP_WRITE:
		return strcmp(a->id, b->id) == 0 && a->stock == b->stock &&
		       a->expected_version == b->expected_version;
	case OP_CREATE:
		return a->stock == b->stock && same_str(a->name, b->name) &&
		       same_str(a->price, b->price);
	case OP_ADJUST:
		return strcmp(a->id, b->id) == 0 && a->delta == b->delta &&
		       a->expected_version == b->expected_version;
	case OP_RESERVE:
		return same_str(a->items_key, b->items_key);
	default:
		return false;
	}
}

/* Whether op writes the product `id`. */
static bool
writes_product(const struct op *op, const char *id)
{
	switch (op->kind) {
	case OP_WRITE:
	case OP_ADJUST:
		return strcmp(op->id, id) == 0;
	case OP_RESERVE:
		for (size_t i = 0; i < op->nitems; i++) {
			if (strcmp(op->items[i].id, id) == 0)
				return true;
		}
		return false;
	default:
		return false;
	}
}

/* Whether a and b write a product in common. */
static bool
share_product(const struct op *a, const struct op *b)
{
	if (b->kind == OP_RESERVE) {
		for (size_t i = 0; i < b->nitems; i++) {
			if (writes_product(a, b->items[i].id))
				return true;
		}
		return false;
	}
	return (b->kind == OP_WRITE || b->kind == OP_ADJUST) &&
	       writes_product(a, b->id);
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
			    prev->leader != NULL || !conflicts(prev, op))
				continue;
			if (op->request_id != NULL &&
			    same_str(prev->request_id, op->request_id) &&
			    batch_same_call(prev, op)) {
				op->leader = (struct op *)prev;
				break;
			}
			if (prev->round >= op->round)
				op->round = prev->round + 1;
		}
		if (op->leader == NULL && op->round + 1 > rounds)
			rounds = op->round + 1;
	}
	return rounds;
}
