/*
 * Batch planning (see batch.h).  Quadratic in the batch size on purpose:
 * a batch is bounded (EXECUTOR_BATCH_MAX) and usually small, and plain
 * loops over a few hundred entries beat building hash tables per batch.
 */
#include "batch.h"

#include <stdio.h>
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
	default:
		return false;
	}
}

int
batch_plan_writes(struct op **ops, size_t n)
{
	int rounds = 0;

	for (size_t i = 0; i < n; i++) {
		struct op *op = ops[i];

		op->leader = NULL;
		op->round  = 0;
		if (op->request_id != NULL) {
			struct op *first = NULL;

			for (size_t j = 0; j < i && first == NULL; j++) {
				if (ops[j]->kind != OP_NONE &&
				    ops[j]->leader == NULL &&
				    same_str(ops[j]->request_id,
				        op->request_id))
					first = ops[j];
			}
			if (first != NULL && batch_same_call(first, op)) {
				op->leader = first;
				continue;
			}
			if (first != NULL) {
				op->kind = OP_NONE;
				op->code = CODE_ALREADY_EXISTS;
				snprintf(op->message, sizeof(op->message),
				    "request_id %s was already used for a "
				    "different call",
				    op->request_id);
				continue;
			}
		}
		if (op->kind != OP_WRITE)
			continue;
		for (size_t j = 0; j < i; j++) {
			const struct op *prev = ops[j];

			if (prev->kind == OP_WRITE && prev->leader == NULL &&
			    strcmp(prev->id, op->id) == 0 &&
			    prev->round >= op->round)
				op->round = prev->round + 1;
		}
		if (op->round + 1 > rounds)
			rounds = op->round + 1;
	}
	return rounds;
}
