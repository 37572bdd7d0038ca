/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/core/batch.c: how an executor plans the mutating calls it
 * took from its queue (batch_plan_writes) and when two calls are the same
 * call (batch_same_call).  These are the batching rules of DESIGN.md and
 * the batching rules that need no database: writes to one product run one per
 * round in arrival order while other products share round 0; a request id seen
 * twice for the same call applies once (the repeat follows its leader, and
 * still has a round of its own after it, where it runs when the leader
 * did not apply); a request id reused for a different call runs in a
 * later round than the first, so the database judges it as if the two
 * had come one after the other; calls without a request id are never
 * merged; another caller's call is never the same call; a read of a
 * product written earlier in the batch starts a new segment.  The ops are
 * built by hand as dispatch would leave them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/code.h"
#include "core/batch.h"
#include "core/executor.h"
#include "handlers/rpc.h"

#define ID_A "0b7e8a52-1a2b-4c3d-8e9f-0123456789aa"
#define ID_B "0b7e8a52-1a2b-4c3d-8e9f-0123456789bb"
#define ID_C "0b7e8a52-1a2b-4c3d-8e9f-0123456789cc"

/* Fail with both codes' names, not two numbers. */
#define ASSERT_CODE(got, want)                                               \
	do {                                                                 \
		int got_ = (int)(got), want_ = (int)(want);                  \
		if (got_ != want_)                                           \
			fail_msg("%s is %s, want %s", #got, code_name(got_), \
			    code_name(want_));                               \
	} while (0)

static void
write_op(struct op *op, const char *id, const char *request_id, int64_t stock,
    int64_t expected_version)
{
	memset(op, 0, sizeof(*op));
	op->method           = 1;
	op->rpc              = rpc_find("UpdateStock");
	op->work             = true;
	op->request_id       = request_id;
	op->stock            = stock;
	op->expected_version = expected_version;
	op->round            = -1; /* the plan must set it */
	snprintf(op->id, sizeof(op->id), "%s", id);
}

static void
create_op(struct op *op, const char *request_id, const char *name,
    int64_t stock, const char *price)
{
	memset(op, 0, sizeof(*op));
	op->method     = 2;
	op->rpc        = rpc_find("CreateProduct");
	op->work       = true;
	op->request_id = request_id;
	op->name       = name;
	op->stock      = stock;
	op->price      = price;
	op->round      = -1;
}

/* Untouched by the plan: still to run, no leader, no outcome yet. */
static void
assert_runs(const struct op *op, const struct rpc *rpc, int round)
{
	assert_ptr_equal(op->rpc, rpc);
	assert_null(op->leader);
	assert_int_equal(op->round, round);
	ASSERT_CODE(op->code, CODE_OK);
	assert_string_equal(op->message, "");
}

/* Three writes to A interleaved with one to B: A gets rounds 0, 1, 2 in
 * arrival order, B shares round 0. */
static void
test_rounds_per_product(void **state)
{
	struct op  o[4];
	struct op *ops[] = { &o[0], &o[1], &o[2], &o[3] };

	(void)state;
	write_op(&o[0], ID_A, NULL, 10, 1);
	write_op(&o[1], ID_A, NULL, 9, 2);
	write_op(&o[2], ID_B, NULL, 4, 1);
	write_op(&o[3], ID_A, NULL, 8, 3);
	assert_int_equal(batch_plan_writes(ops, 4), 3);
	assert_runs(&o[0], rpc_find("UpdateStock"), 0);
	assert_runs(&o[1], rpc_find("UpdateStock"), 1);
	assert_runs(&o[2], rpc_find("UpdateStock"), 0);
	assert_runs(&o[3], rpc_find("UpdateStock"), 2);
}

/* A product's first write in the batch takes round 0 even when another
 * product already needs several rounds. */
static void
test_rounds_independent(void **state)
{
	struct op  o[5];
	struct op *ops[] = { &o[0], &o[1], &o[2], &o[3], &o[4] };

	(void)state;
	write_op(&o[0], ID_A, NULL, 1, 1);
	write_op(&o[1], ID_A, NULL, 2, 2);
	write_op(&o[2], ID_A, NULL, 3, 3);
	write_op(&o[3], ID_B, NULL, 1, 1);
	write_op(&o[4], ID_B, NULL, 2, 2);
	assert_int_equal(batch_plan_writes(ops, 5), 3);
	assert_int_equal(o[3].round, 0);
	assert_int_equal(o[4].round, 1);
}

/* The same request id for the same call: the repeat follows the first
 * call (not a later repeat) and has no outcome of its own yet; it still
 * gets a round after it (it runs there if the first did not apply), so a
 * write of the same product after it comes after that round. */
static void
test_repeat(void **state)
{
	struct op  o[5];
	struct op *ops[] = { &o[0], &o[1], &o[2], &o[3], &o[4] };

	(void)state;
	write_op(&o[0], ID_A, "r1", 10, 1);
	write_op(&o[1], ID_B, "r2", 5, 1);
	write_op(&o[2], ID_A, "r1", 10, 1); /* repeat of o[0] */
	write_op(&o[3], ID_A, "r1", 10, 1); /* again */
	write_op(&o[4], ID_A, "r3", 11, 2);
	assert_int_equal(batch_plan_writes(ops, 5), 4);
	assert_runs(&o[0], rpc_find("UpdateStock"), 0);
	assert_runs(&o[1], rpc_find("UpdateStock"), 0);
	assert_ptr_equal(o[2].leader, &o[0]);
	assert_ptr_equal(o[3].leader, &o[0]);
	assert_int_equal(o[2].round, 1);
	assert_int_equal(o[3].round, 2);
	for (int i = 2; i <= 3; i++) {
		assert_ptr_equal(o[i].rpc, rpc_find("UpdateStock"));
		ASSERT_CODE(o[i].code, CODE_OK);
		assert_string_equal(o[i].message, "");
	}
	/* After the repeats: if o[0] failed, they are writes of their own. */
	assert_runs(&o[4], rpc_find("UpdateStock"), 3);
}

/* A repeated create follows its first call too, a round later. */
static void
test_repeat_create(void **state)
{
	struct op  o[3];
	struct op *ops[] = { &o[0], &o[1], &o[2] };

	(void)state;
	create_op(&o[0], "c1", "widget", 5, "19.90");
	create_op(&o[1], "c2", "widget", 5, "19.90"); /* other id: runs */
	create_op(&o[2], "c1", "widget", 5, "19.90");
	/* Creates of no shared request id share round 0. */
	assert_int_equal(batch_plan_writes(ops, 3), 2);
	assert_null(o[0].leader);
	assert_null(o[1].leader);
	assert_ptr_equal(o[2].leader, &o[0]);
	assert_int_equal(o[1].round, 0);
	assert_int_equal(o[2].round, 1);
	assert_ptr_equal(o[1].rpc, rpc_find("CreateProduct"));
	assert_ptr_equal(o[2].rpc, rpc_find("CreateProduct"));
}

/* Another caller's call with the same request id and arguments is not a
 * repeat: it never takes the first caller's outcome, the database judges
 * it a round later. */
static void
test_repeat_other_caller(void **state)
{
	struct op  o[2];
	struct op *ops[] = { &o[0], &o[1] };

	(void)state;
	write_op(&o[0], ID_A, "r1", 10, 1);
	write_op(&o[1], ID_A, "r1", 10, 1);
	snprintf(o[0].caller, sizeof(o[0].caller), "alice");
	snprintf(o[1].caller, sizeof(o[1].caller), "mallory");
	assert_false(batch_same_call(&o[0], &o[1]));
	assert_int_equal(batch_plan_writes(ops, 2), 2);
	assert_runs(&o[1], rpc_find("UpdateStock"), 1);
}

/* The same request id for a different call: the reuse runs in a round
 * after the first call (the database then answers ALREADY_EXISTS if the
 * first applied, as it would for two calls one after the other); the
 * first and every other call are untouched. */
static void
test_reuse(void **state)
{
	struct op  o[6];
	struct op *ops[] = { &o[0], &o[1], &o[2], &o[3], &o[4], &o[5] };

	(void)state;
	write_op(&o[0], ID_A, "r1", 10, 1);
	write_op(&o[1], ID_A, "r1", 11, 1); /* other stock */
	write_op(&o[2], ID_C, "r2", 3, 1);
	write_op(&o[3], ID_B, "r1", 10, 1); /* other product */
	write_op(&o[4], ID_A, "r1", 10, 2); /* other version */
	write_op(&o[5], ID_A, NULL, 12, 2);
	assert_int_equal(batch_plan_writes(ops, 6), 5);
	assert_runs(&o[0], rpc_find("UpdateStock"), 0);
	assert_runs(&o[1], rpc_find("UpdateStock"), 1);
	assert_runs(&o[2], rpc_find("UpdateStock"), 0);
	assert_runs(
	    &o[3], rpc_find("UpdateStock"), 2); /* after r1's o[0] and o[1] */
	assert_runs(&o[4], rpc_find("UpdateStock"), 3);
	assert_runs(
	    &o[5], rpc_find("UpdateStock"), 4); /* after every write of A */
}

/* A call that repeats the first use of a request id follows it, even
 * after a reuse of that id; a call that repeats the reuse follows the
 * reuse (alone, one after the other, it would get the reuse's answer:
 * ALREADY_EXISTS if the first applied, else the reuse's first
 * outcome). */
static void
test_reuse_then_repeat(void **state)
{
	struct op  o[3];
	struct op *ops[] = { &o[0], &o[1], &o[2] };

	(void)state;
	write_op(&o[0], ID_A, "r1", 10, 1);
	write_op(&o[1], ID_A, "r1", 11, 1);
	write_op(&o[2], ID_A, "r1", 11, 1); /* same as the reuse o[1] */
	assert_int_equal(batch_plan_writes(ops, 3), 3);
	assert_runs(&o[1], rpc_find("UpdateStock"), 1);
	assert_ptr_equal(o[2].leader, &o[1]);
	assert_int_equal(o[2].round, 2);

	write_op(&o[0], ID_A, "r1", 10, 1);
	write_op(&o[1], ID_A, "r1", 11, 1);
	write_op(&o[2], ID_A, "r1", 10, 1); /* same as o[0] */
	assert_int_equal(batch_plan_writes(ops, 3), 3);
	assert_runs(&o[1], rpc_find("UpdateStock"), 1);
	assert_ptr_equal(o[2].leader, &o[0]);
	assert_int_equal(o[2].round, 2); /* after the reuse too */
	ASSERT_CODE(o[2].code, CODE_OK);
}

/* A create and a write sharing a request id are different calls, in
 * either order: the later one runs a round after the first. */
static void
test_create_and_write_share_id(void **state)
{
	struct op  o[2];
	struct op *ops[] = { &o[0], &o[1] };

	(void)state;
	create_op(&o[0], "x", "widget", 5, "19.90");
	write_op(&o[1], ID_A, "x", 5, 1);
	assert_int_equal(batch_plan_writes(ops, 2), 2);
	assert_runs(&o[0], rpc_find("CreateProduct"), 0);
	assert_runs(&o[1], rpc_find("UpdateStock"), 1);

	write_op(&o[0], ID_A, "x", 5, 1);
	create_op(&o[1], "x", "widget", 5, "19.90");
	assert_int_equal(batch_plan_writes(ops, 2), 2);
	assert_runs(&o[0], rpc_find("UpdateStock"), 0);
	assert_runs(&o[1], rpc_find("CreateProduct"), 1);
}

/* Without request ids nothing is merged: two identical writes both run,
 * one after the other (the second will likely conflict, as it would
 * alone). */
static void
test_no_request_ids(void **state)
{
	struct op  o[4];
	struct op *ops[] = { &o[0], &o[1], &o[2], &o[3] };

	(void)state;
	write_op(&o[0], ID_A, NULL, 10, 1);
	write_op(&o[1], ID_A, NULL, 10, 1);
	create_op(&o[2], NULL, "widget", 5, "1.00");
	create_op(&o[3], NULL, "widget", 5, "1.00");
	assert_int_equal(batch_plan_writes(ops, 4), 2);
	assert_runs(&o[0], rpc_find("UpdateStock"), 0);
	assert_runs(&o[1], rpc_find("UpdateStock"), 1);
	assert_null(o[2].leader);
	assert_null(o[3].leader);
	assert_ptr_equal(o[3].rpc, rpc_find("CreateProduct"));
}

/* A plan resets what an earlier plan of the same ops left behind. */
static void
test_replan(void **state)
{
	struct op  o[2];
	struct op *ops[] = { &o[0], &o[1] };

	(void)state;
	write_op(&o[0], ID_A, "r1", 10, 1);
	write_op(&o[1], ID_A, "r1", 10, 1);
	assert_int_equal(batch_plan_writes(ops, 2), 2);
	assert_ptr_equal(o[1].leader, &o[0]);
	/* o[1] alone: it runs itself now. */
	assert_int_equal(batch_plan_writes(&ops[1], 1), 1);
	assert_null(o[1].leader);
	assert_int_equal(o[1].round, 0);
}

static void
test_empty(void **state)
{
	struct op  o;
	struct op *ops[] = { &o };

	(void)state;
	write_op(&o, ID_A, "r1", 10, 1);
	assert_int_equal(batch_plan_writes(ops, 0), 0);
	/* n = 0 touches nothing. */
	assert_int_equal(o.round, -1);
	assert_int_equal(batch_plan_writes(NULL, 0), 0);
}

/* A full batch of writes to one product: EXECUTOR_BATCH_MAX rounds, in
 * arrival order. */
static void
test_full_batch_one_product(void **state)
{
	static struct op  o[EXECUTOR_BATCH_MAX];
	static struct op *ops[EXECUTOR_BATCH_MAX];
	static char       rid[EXECUTOR_BATCH_MAX][16];

	(void)state;
	for (int i = 0; i < EXECUTOR_BATCH_MAX; i++) {
		snprintf(rid[i], sizeof(rid[i]), "w-%d", i);
		write_op(&o[i], ID_A, rid[i], i, i + 1);
		ops[i] = &o[i];
	}
	assert_int_equal(
	    batch_plan_writes(ops, EXECUTOR_BATCH_MAX), EXECUTOR_BATCH_MAX);
	for (int i = 0; i < EXECUTOR_BATCH_MAX; i++)
		assert_runs(&o[i], rpc_find("UpdateStock"), i);
}

/* A full batch over 16 products, round-robin, every request id used
 * twice in a row for the same call: 16 writes per round, each repeat
 * follows its leader in the round after it. */
static void
test_full_batch_many_products(void **state)
{
	enum { NPROD = 16 };
	static struct op  o[EXECUTOR_BATCH_MAX];
	static struct op *ops[EXECUTOR_BATCH_MAX];
	static char       ids[NPROD][PRODUCT_ID_LEN + 1];
	static char       rid[EXECUTOR_BATCH_MAX][16];
	int               leaders = 0;

	(void)state;
	for (int p = 0; p < NPROD; p++)
		snprintf(ids[p], sizeof(ids[p]),
		    "0b7e8a52-1a2b-4c3d-8e9f-0123456789%02x", p);
	for (int i = 0; i < EXECUTOR_BATCH_MAX; i++) {
		int call = i / 2; /* i and i + 1 are the same call */

		snprintf(rid[i], sizeof(rid[i]), "w-%d", call);
		write_op(&o[i], ids[call % NPROD], rid[i], call, call + 1);
		ops[i] = &o[i];
	}
	/* 128 distinct calls over 16 products, each followed by its
	 * repeat: 16 rounds. */
	assert_int_equal(batch_plan_writes(ops, EXECUTOR_BATCH_MAX),
	    EXECUTOR_BATCH_MAX / NPROD);
	for (int i = 0; i < EXECUTOR_BATCH_MAX; i++) {
		int call = i / 2;

		if (i % 2 == 1) {
			assert_ptr_equal(o[i].leader, &o[i - 1]);
			assert_int_equal(o[i].round, o[i - 1].round + 1);
			continue;
		}
		assert_runs(
		    &o[i], rpc_find("UpdateStock"), 2 * (call / NPROD));
		leaders++;
	}
	assert_int_equal(leaders, EXECUTOR_BATCH_MAX / 2);
}

static void
test_same_call_write(void **state)
{
	struct op a, b;

	(void)state;
	write_op(&a, ID_A, "r1", 10, 3);
	write_op(&b, ID_A, "other", 10, 3);
	/* The request id is not part of the call. */
	assert_true(batch_same_call(&a, &b));
	assert_true(batch_same_call(&b, &a));
	assert_true(batch_same_call(&a, &a));
	b.stock = 11;
	assert_false(batch_same_call(&a, &b));
	b.stock            = 10;
	b.expected_version = 4;
	assert_false(batch_same_call(&a, &b));
	write_op(&b, ID_B, "r1", 10, 3);
	assert_false(batch_same_call(&a, &b));
}

static void
test_same_call_create(void **state)
{
	struct op a, b, w;
	char      name[] = "widget"; /* equal text, other storage */

	(void)state;
	create_op(&a, "c1", "widget", 5, "19.90");
	create_op(&b, "c1", name, 5, "19.90");
	assert_true(batch_same_call(&a, &b));
	b.stock = 6;
	assert_false(batch_same_call(&a, &b));
	b.stock = 5;
	b.price = "19.9"; /* the same amount, but not the same call text */
	assert_false(batch_same_call(&a, &b));
	b.price = "19.90";
	b.name  = "widget ";
	assert_false(batch_same_call(&a, &b));
	b.name = NULL;
	assert_false(batch_same_call(&a, &b));
	assert_false(batch_same_call(&b, &a));
	a.name = NULL;
	assert_true(batch_same_call(&a, &b));

	/* Different rows are different calls, whatever the fields. */
	create_op(&a, "c1", "widget", 5, "19.90");
	write_op(&w, ID_A, "c1", 5, 1);
	assert_false(batch_same_call(&a, &w));
	assert_false(batch_same_call(&w, &a));
	/* Reads are never "the same call" (they are not deduplicated by
	 * request id). */
	w.rpc  = rpc_find("GetProduct");
	w.work = true;
	b      = w;
	assert_false(batch_same_call(&w, &b));
}

static void
read_op(struct op *op, const char *id)
{
	memset(op, 0, sizeof(*op));
	op->rpc  = rpc_find("GetProduct");
	op->work = true;
	snprintf(op->id, sizeof(op->id), "%s", id);
}

/* Segments: a read runs after the writes ahead of it that touch its
 * product, so it starts a new segment; reads of other products, reads
 * before the write and writes after reads stay in one segment; a listing
 * after any write starts a new one. */
static void
test_segments(void **state)
{
	struct op  o[6];
	struct op *ops[] = { &o[0], &o[1], &o[2], &o[3], &o[4], &o[5] };
	char       many[2][PRODUCT_ID_LEN + 1];

	(void)state;
	read_op(&o[0], ID_A);
	write_op(&o[1], ID_A, NULL, 5, 1);
	read_op(&o[2], ID_B); /* another product: same segment */
	write_op(&o[3], ID_B, NULL, 5, 1);
	read_op(&o[4], ID_A); /* after o[1]: a new segment */
	write_op(&o[5], ID_A, NULL, 6, 2);
	assert_int_equal(batch_segment(ops, 6), 4);
	assert_int_equal(batch_segment(&ops[4], 2), 2);
	assert_int_equal(batch_segment(ops, 0), 0);

	/* BatchGetProducts: any of its ids. */
	snprintf(many[0], sizeof(many[0]), "%s", ID_C);
	snprintf(many[1], sizeof(many[1]), "%s", ID_B);
	read_op(&o[4], ID_A);
	o[4].rpc  = rpc_find("BatchGetProducts");
	o[4].work = true;
	o[4].ids  = many;
	o[4].nids = 2;
	assert_int_equal(batch_segment(ops, 6), 4);
	o[4].nids = 1; /* only C: not written */
	assert_int_equal(batch_segment(ops, 6), 6);

	/* A listing after a write. */
	read_op(&o[2], ID_C);
	o[2].rpc  = rpc_find("ListProducts");
	o[2].work = true;
	assert_int_equal(batch_segment(ops, 6), 2);
	assert_int_equal(batch_segment(&ops[2], 4), 4);
}

/* What must wait for a deferred write: writes of its products or with
 * its request id, reads of its products, listings; nothing else. */
static void
test_depends(void **state)
{
	struct op w, later;

	(void)state;
	write_op(&w, ID_A, "r1", 5, 1);
	write_op(&later, ID_B, NULL, 5, 1);
	assert_false(batch_depends(&later, &w));
	write_op(&later, ID_A, NULL, 5, 2);
	assert_true(batch_depends(&later, &w));
	write_op(&later, ID_B, "r1", 5, 1);
	assert_true(batch_depends(&later, &w));
	read_op(&later, ID_A);
	assert_true(batch_depends(&later, &w));
	read_op(&later, ID_B);
	assert_false(batch_depends(&later, &w));
	later.rpc  = rpc_find("ListProducts");
	later.work = true;
	assert_true(batch_depends(&later, &w));
	/* Nothing waits for a read. */
	read_op(&w, ID_A);
	write_op(&later, ID_A, NULL, 5, 1);
	assert_false(batch_depends(&later, &w));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rounds_per_product),
		cmocka_unit_test(test_rounds_independent),
		cmocka_unit_test(test_repeat),
		cmocka_unit_test(test_repeat_create),
		cmocka_unit_test(test_repeat_other_caller),
		cmocka_unit_test(test_segments),
		cmocka_unit_test(test_depends),
		cmocka_unit_test(test_reuse),
		cmocka_unit_test(test_reuse_then_repeat),
		cmocka_unit_test(test_create_and_write_share_id),
		cmocka_unit_test(test_no_request_ids),
		cmocka_unit_test(test_replan),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_full_batch_one_product),
		cmocka_unit_test(test_full_batch_many_products),
		cmocka_unit_test(test_same_call_write),
		cmocka_unit_test(test_same_call_create),
	};

	return cmocka_run_group_tests_name("batch", tests, NULL, NULL);
}
