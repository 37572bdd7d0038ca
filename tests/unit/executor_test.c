/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/core/executor.c without a database: the executors are
 * started on a connection string that cannot connect, so every call that
 * reaches them must still be answered (UNAVAILABLE), exactly once, through
 * its frame's `done`; a call whose deadline passed while it was queued is
 * DEADLINE_EXCEEDED, never UNAVAILABLE (it must not reach the database);
 * executor_stop() answers everything still queued (SIGTERM answers
 * everything received); executor_run_one() checks the deadline before the
 * store.  The database paths themselves are tests/store and
 * tests/contract.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/dispatch.h"
#include "core/executor.h"
#include "store/store.h"
#include "handlers/rpc.h"
#include "testenv.h"

#define PREFIX "/inventory.v1.InventoryService/"
#define UUID_A "123e4567-e89b-12d3-a456-426614174000"

/* Nothing listens there: store_ready() fails at once. */
static const struct store_options nodb = {
	.conninfo      = "host=/nonexistent-inventory-executor-test port=1 "
	                 "connect_timeout=1",
	.request_ttl_s = 60,
};

/* A GetProduct frame (timeout_ms < 0: none). */
static uint8_t *
get_frame(const char *request_id, int timeout_ms, size_t *len)
{
	Inventory__V1__Request           env = INVENTORY__V1__REQUEST__INIT;
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	uint8_t body[64], *out;

	g.id             = UUID_A;
	env.method       = PREFIX "GetProduct";
	env.request_id   = (char *)request_id;
	env.has_payload  = 1;
	env.payload.data = body;
	env.payload.len  = inventory__v1__get_product_request__pack(&g, body);
	if (timeout_ms >= 0) {
		env.has_timeout_ms = 1;
		env.timeout_ms     = (uint32_t)timeout_ms;
	}
	*len = inventory__v1__request__get_packed_size(&env);
	out  = malloc(*len);
	assert_non_null(out);
	inventory__v1__request__pack(&env, out);
	return out;
}

/* An UpdateStock batch frame of n entries (the writes path). */
static uint8_t *
update_batch(size_t n, size_t *len)
{
	Inventory__V1__Request            frame = INVENTORY__V1__REQUEST__INIT;
	Inventory__V1__Request           *envs;
	Inventory__V1__Request          **ptrs;
	Inventory__V1__UpdateStockRequest u =
	    INVENTORY__V1__UPDATE_STOCK_REQUEST__INIT;
	uint8_t body[96], *out;
	size_t  blen;

	u.id                   = UUID_A;
	u.has_stock            = 1;
	u.stock                = 1;
	u.has_expected_version = 1;
	u.expected_version     = 1;
	blen = inventory__v1__update_stock_request__pack(&u, body);
	envs = calloc(n, sizeof(*envs));
	ptrs = calloc(n, sizeof(*ptrs));
	assert_true(envs != NULL && ptrs != NULL);
	for (size_t i = 0; i < n; i++) {
		inventory__v1__request__init(&envs[i]);
		envs[i].method       = PREFIX "UpdateStock";
		envs[i].request_id   = "same-id"; /* repeats: one leader */
		envs[i].has_payload  = 1;
		envs[i].payload.data = body;
		envs[i].payload.len  = blen;
		ptrs[i]              = &envs[i];
	}
	frame.n_batch = n;
	frame.batch   = ptrs;
	*len          = inventory__v1__request__get_packed_size(&frame);
	out           = malloc(*len);
	assert_non_null(out);
	inventory__v1__request__pack(&frame, out);
	free(ptrs);
	free(envs);
	return out;
}

struct counter {
	atomic_int done;
};

static void
on_done(struct frame *f, void *arg)
{
	(void)f;
	atomic_fetch_add(&((struct counter *)arg)->done, 1);
}

/* Open a frame, hand its pending calls to ex (if any) and release it. */
static struct frame *
submit(struct executor *ex, const uint8_t *buf, size_t len, struct counter *c,
    long sleep_before_submit_ms)
{
	struct frame *f;
	struct op    *pending;

	f = dispatch_frame_open(
	    buf, len, clock_now_ns(), on_done, c, &pending);
	assert_non_null(f);
	assert_non_null(pending);
	if (sleep_before_submit_ms > 0)
		testenv_sleep_ms(sleep_before_submit_ms);
	executor_submit(ex, pending);
	dispatch_frame_release(f);
	return f;
}

static void
wait_done(struct counter *c, int want)
{
	for (int i = 0; i < 500 && atomic_load(&c->done) < want; i++)
		testenv_sleep_ms(10);
	assert_int_equal(atomic_load(&c->done), want);
}

static Inventory__V1__Response *
pack(struct frame *f)
{
	uint8_t                  scratch[64];
	ProtobufCBufferSimple    out = PROTOBUF_C_BUFFER_SIMPLE_INIT(scratch);
	Inventory__V1__Response *resp;
	size_t                   n = dispatch_frame_pack(f, &out.base);

	resp = inventory__v1__response__unpack(NULL, n, out.data);
	PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&out);
	assert_non_null(resp);
	assert_true(resp->has_code);
	return resp;
}

static void
expect_code(const Inventory__V1__Response *r, enum code want)
{
	if (r->code != (uint32_t)want)
		fail_msg("%s (%s), want %s", code_name((int)r->code),
		    r->message ? r->message : "-", code_name(want));
}

/* Every call answered once; a deadline spent in the queue is
 * DEADLINE_EXCEEDED even though the database is down. */
static void
test_answers_without_database(void **state)
{
	struct executor         *ex = NULL;
	struct counter           c  = { 0 };
	struct frame            *f[3];
	Inventory__V1__Response *resp;
	uint8_t                 *buf;
	size_t                   len;

	(void)state;
	assert_int_equal(executor_start(&ex, 2, &nodb), 0);
	assert_non_null(ex);

	buf  = get_frame("live", 60000, &len);
	f[0] = submit(ex, buf, len, &c, 0);
	free(buf);
	/* 20 ms to live, 100 ms asleep before it is queued. */
	buf  = get_frame("late", 20, &len);
	f[1] = submit(ex, buf, len, &c, 100);
	free(buf);
	buf  = update_batch(5, &len);
	f[2] = submit(ex, buf, len, &c, 0);
	free(buf);
	wait_done(&c, 3);

	resp = pack(f[0]);
	expect_code(resp, CODE_UNAVAILABLE);
	assert_string_equal(resp->request_id, "live");
	inventory__v1__response__free_unpacked(resp, NULL);
	resp = pack(f[1]);
	expect_code(resp, CODE_DEADLINE_EXCEEDED);
	inventory__v1__response__free_unpacked(resp, NULL);
	resp = pack(f[2]);
	assert_int_equal(resp->n_batch, 5);
	for (size_t i = 0; i < 5; i++)
		expect_code(resp->batch[i], CODE_UNAVAILABLE);
	inventory__v1__response__free_unpacked(resp, NULL);
	for (int i = 0; i < 3; i++)
		dispatch_frame_free(f[i]);
	executor_stop(ex);
	/* Nothing is answered twice, even after the stop. */
	assert_int_equal(atomic_load(&c.done), 3);
}

/* executor_stop() runs what is queued before it returns. */
static void
test_stop_answers_queued(void **state)
{
	enum { N = 300 }; /* more than one EXECUTOR_BATCH_MAX */
	struct executor     *ex = NULL;
	struct counter       c  = { 0 };
	static struct frame *f[N];
	uint8_t             *buf;
	size_t               len;

	(void)state;
	assert_int_equal(executor_start(&ex, 1, &nodb), 0);
	buf = get_frame(NULL, -1, &len);
	for (int i = 0; i < N; i++)
		f[i] = submit(ex, buf, len, &c, 0);
	free(buf);
	executor_stop(ex);
	assert_int_equal(atomic_load(&c.done), N);
	for (int i = 0; i < N; i++) {
		Inventory__V1__Response *resp = pack(f[i]);

		expect_code(resp, CODE_UNAVAILABLE);
		inventory__v1__response__free_unpacked(resp, NULL);
		dispatch_frame_free(f[i]);
	}
	executor_stop(NULL);
}

/* executor_run_one(): nothing to do, the deadline first, then the
 * store. */
static void
test_run_one(void **state)
{
	struct op op;

	(void)state;
	memset(&op, 0, sizeof(op));
	op.work = false;
	op.code = CODE_INVALID_ARGUMENT;
	executor_run_one(NULL, &op);
	assert_int_equal(op.code, CODE_INVALID_ARGUMENT); /* untouched */

	memset(&op, 0, sizeof(op));
	op.rpc  = rpc_find("GetProduct");
	op.work = true;
	snprintf(op.id, sizeof(op.id), "%s", UUID_A);
	executor_run_one(NULL, &op);
	assert_int_equal(op.code, CODE_UNAVAILABLE);
	assert_true(op.message[0] != '\0');

	memset(&op, 0, sizeof(op));
	op.rpc         = rpc_find("UpdateStock");
	op.work        = true;
	op.deadline_ns = clock_now_ns() - 1;
	executor_run_one(NULL, &op);
	assert_int_equal(op.code, CODE_DEADLINE_EXCEEDED);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_answers_without_database),
		cmocka_unit_test(test_stop_answers_queued),
		cmocka_unit_test(test_run_one),
	};

	return cmocka_run_group_tests_name("executor", tests, NULL, NULL);
}
