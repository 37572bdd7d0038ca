/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for AdjustStock, ReserveStock and ListProducts before any I/O:
 * AdjustStock's, ReserveStock's and ListProducts' validation through
 * dispatch_handle() with no store (a bad field is INVALID_ARGUMENT naming it;
 * a valid call reaches the store and, with none, is UNAVAILABLE), the
 * ListProducts page token (round trip, and nothing else accepted), and the
 * batch planner's rules for the new writes (a reservation runs after every
 * earlier write of any of its products; a repeat takes its leader's outcome).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/product.h"
#include "core/batch.h"
#include "core/dispatch_testing.h"
#include "handlers/handlers.h"
#include "handlers/rpc.h"

#define PREFIX "/inventory.v1.InventoryService/"
#define ID_A   "0b7e8a52-1a2b-4c3d-8e9f-0123456789aa"
#define ID_B   "0b7e8a52-1a2b-4c3d-8e9f-0123456789bb"
#define ID_C   "0b7e8a52-1a2b-4c3d-8e9f-0123456789cc"

/* Send one call through dispatch_handle() with no store; return the code
 * and copy the message (may be NULL) into msg. */
static int
call(
    const char *method, const ProtobufCMessage *payload, char *msg, size_t cap)
{
	Inventory__V1__Request   env = INVENTORY__V1__REQUEST__INIT;
	uint8_t                  reply[DISPATCH_REPLY_MAX];
	Inventory__V1__Response *resp;
	size_t   n    = protobuf_c_message_get_packed_size(payload);
	uint8_t *body = malloc(n + 1), *buf;
	size_t   len;
	int      code;

	assert_non_null(body);
	protobuf_c_message_pack(payload, body);
	env.method       = (char *)method;
	env.request_id   = "unit-rid";
	env.has_payload  = 1;
	env.payload.data = body;
	env.payload.len  = n;
	len              = inventory__v1__request__get_packed_size(&env);
	assert_non_null(buf = malloc(len));
	inventory__v1__request__pack(&env, buf);
	n = dispatch_handle(
	    NULL, buf, len, clock_now_ns(), reply, sizeof(reply));
	assert_true(n > 0 && n <= sizeof(reply));
	assert_non_null(
	    resp = inventory__v1__response__unpack(NULL, n, reply));
	code = (int)resp->code;
	snprintf(msg, cap, "%s", resp->message != NULL ? resp->message : "");
	inventory__v1__response__free_unpacked(resp, NULL);
	free(buf);
	free(body);
	return code;
}

/* The call is refused before the store with a message containing want. */
static void
assert_invalid(const char *method, const ProtobufCMessage *m, const char *want)
{
	char msg[256];
	int  code = call(method, m, msg, sizeof(msg));

	if (code != CODE_INVALID_ARGUMENT || strstr(msg, want) == NULL)
		fail_msg("%s: got %s \"%s\", want INVALID_ARGUMENT \"%s\"",
		    method, code_name(code), msg, want);
}

static void
assert_reaches_store(const char *method, const ProtobufCMessage *m)
{
	char msg[256];
	int  code = call(method, m, msg, sizeof(msg));

	if (code != CODE_UNAVAILABLE)
		fail_msg("%s: got %s \"%s\", want UNAVAILABLE (no store)",
		    method, code_name(code), msg);
}

static void
test_adjust_validation(void **state)
{
	Inventory__V1__AdjustStockRequest r =
	    INVENTORY__V1__ADJUST_STOCK_REQUEST__INIT;
	const char *m = PREFIX "AdjustStock";

	(void)state;
	r.has_delta = 1;
	r.delta     = -1;
	assert_invalid(m, &r.base, "id: required");
	r.id = "not-a-uuid";
	assert_invalid(m, &r.base, "id: not a valid UUID");
	r.id        = ID_A;
	r.has_delta = 0;
	assert_invalid(m, &r.base, "delta: required");
	r.has_delta = 1;
	r.delta     = 0;
	assert_invalid(m, &r.base, "delta: must be non-zero");
	r.delta = (int64_t)PRODUCT_STOCK_MAX + 1;
	assert_invalid(m, &r.base, "delta");
	r.delta = -(int64_t)PRODUCT_STOCK_MAX - 1;
	assert_invalid(m, &r.base, "delta");
	r.delta                = -(int64_t)PRODUCT_STOCK_MAX;
	r.has_expected_version = 1;
	r.expected_version     = 0;
	assert_invalid(m, &r.base, "expected_version");
	r.expected_version = 3;
	assert_reaches_store(m, &r.base);
	r.has_expected_version = 0;
	assert_reaches_store(m, &r.base);
}

static void
test_reserve_validation(void **state)
{
	Inventory__V1__ReserveStockRequest r =
	    INVENTORY__V1__RESERVE_STOCK_REQUEST__INIT;
	Inventory__V1__ReserveItem  it[RESERVE_MAX + 1];
	Inventory__V1__ReserveItem *ptrs[RESERVE_MAX + 1];
	char                        ids[RESERVE_MAX + 1][PRODUCT_ID_LEN + 1];
	const char                 *m = PREFIX "ReserveStock";

	(void)state;
	for (int i = 0; i <= RESERVE_MAX; i++) {
		inventory__v1__reserve_item__init(&it[i]);
		snprintf(ids[i], sizeof(ids[i]),
		    "0b7e8a52-1a2b-4c3d-8e9f-%012d", i);
		it[i].id           = ids[i];
		it[i].has_quantity = 1;
		it[i].quantity     = 1;
		ptrs[i]            = &it[i];
	}
	r.items = ptrs;
	assert_invalid(m, &r.base, "items: between 1 and 100 items, not 0");
	r.n_items = RESERVE_MAX + 1;
	assert_invalid(m, &r.base, "not 101");
	r.n_items = RESERVE_MAX;
	assert_reaches_store(m, &r.base);

	r.n_items = 3;
	it[1].id  = ids[0];
	assert_invalid(m, &r.base, "items[1]: product");
	it[1].id = "nope";
	assert_invalid(m, &r.base, "items[1]: id: not a valid UUID");
	it[1].id       = ids[1];
	it[2].quantity = 0;
	assert_invalid(m, &r.base, "items[2]: quantity");
	it[2].has_expected_version = 1;
	it[2].expected_version     = 4;
	it[2].quantity             = 1;
	assert_invalid(m, &r.base, "items[2]: either quantity");
	it[2].has_quantity = 0;
	assert_invalid(m, &r.base, "items[2]: quantity, or expected_version");
	it[2].has_stock = 1;
	it[2].stock     = -1;
	assert_invalid(m, &r.base, "items[2]: stock");
	it[2].stock            = 10;
	it[2].expected_version = 0;
	assert_invalid(m, &r.base, "items[2]: expected_version");
	it[2].expected_version = 4;
	assert_reaches_store(m, &r.base);
}

static void
test_list_validation(void **state)
{
	Inventory__V1__ListProductsRequest r =
	    INVENTORY__V1__LIST_PRODUCTS_REQUEST__INIT;
	const char *m = PREFIX "ListProducts";
	char        token[PAGE_TOKEN_MAX + 1];

	(void)state;
	assert_reaches_store(m, &r.base);
	r.has_page_size = 1;
	r.page_size     = -1;
	assert_invalid(m, &r.base, "page_size");
	r.page_size = 100000; /* cut to 1000, not refused */
	assert_reaches_store(m, &r.base);
	r.page_token = "garbage";
	assert_invalid(m, &r.base, "page_token");
	page_token_encode(ID_A, token);
	r.page_token = token;
	assert_reaches_store(m, &r.base);
}

static void
test_page_token(void **state)
{
	char token[PAGE_TOKEN_MAX + 1], id[PRODUCT_ID_LEN + 1];

	(void)state;
	page_token_encode(ID_B, token);
	assert_null(strstr(token, ID_B)); /* opaque, not the id itself */
	assert_true(page_token_decode(token, id));
	assert_string_equal(id, ID_B);
	for (size_t i = 0; token[i] != '\0'; i++) {
		char bad[PAGE_TOKEN_MAX + 1];

		/* Any one character changed: refused or another valid id,
		 * never a crash or a non-canonical id. */
		memcpy(bad, token, sizeof(bad));
		bad[i] = bad[i] == 'A' ? '*' : 'A';
		if (page_token_decode(bad, id))
			assert_int_equal(strlen(id), PRODUCT_ID_LEN);
		bad[i] = '*';
		assert_false(page_token_decode(bad, id));
	}
	token[strlen(token) - 1] = '\0';
	assert_false(page_token_decode(token, id));
	assert_false(page_token_decode("", id));
}

/* ---- the planner ---------------------------------------------------- */

static void
adjust_op(struct op *op, const char *id, const char *rid, int64_t delta)
{
	memset(op, 0, sizeof(*op));
	op->rpc        = rpc_find("AdjustStock");
	op->work       = true;
	op->request_id = rid;
	op->delta      = delta;
	op->round      = -1;
	snprintf(op->id, sizeof(op->id), "%s", id);
}

static void
reserve_op(struct op *op, const char *rid, struct reserve_item *items,
    size_t n, char *key)
{
	memset(op, 0, sizeof(*op));
	op->rpc        = rpc_find("ReserveStock");
	op->work       = true;
	op->request_id = rid;
	op->items      = items;
	op->nitems     = n;
	op->items_key  = key;
	op->round      = -1;
}

static void
test_plan_stock_writes(void **state)
{
	struct reserve_item ab[2], c[1];
	char                key_ab[] = "ab", key_ab2[] = "ab", key_c[] = "c";
	struct op           op[6];
	struct op          *ops[6];
	int                 rounds;

	(void)state;
	memset(ab, 0, sizeof(ab));
	memset(c, 0, sizeof(c));
	snprintf(ab[0].id, sizeof(ab[0].id), "%s", ID_A);
	snprintf(ab[1].id, sizeof(ab[1].id), "%s", ID_B);
	snprintf(c[0].id, sizeof(c[0].id), "%s", ID_C);
	adjust_op(&op[0], ID_B, "r0", -1);        /* B */
	reserve_op(&op[1], "r1", ab, 2, key_ab);  /* A, B: after op 0 */
	adjust_op(&op[2], ID_C, "r2", 5);         /* C: free */
	reserve_op(&op[3], "r3", c, 1, key_c);    /* C: after op 2 */
	reserve_op(&op[4], "r1", ab, 2, key_ab2); /* op 1 again: after it */
	adjust_op(&op[5], ID_A, NULL, 2);         /* A: after op 4 */
	for (int i = 0; i < 6; i++)
		ops[i] = &op[i];
	rounds = batch_plan_writes(ops, 6);
	assert_int_equal(op[0].round, 0);
	assert_int_equal(op[1].round, 1);
	assert_int_equal(op[2].round, 0);
	assert_int_equal(op[3].round, 1);
	/* The repeat follows op 1, in a round of its own where it runs if
	 * op 1 did not apply. */
	assert_ptr_equal(op[4].leader, &op[1]);
	assert_int_equal(op[4].round, 2);
	assert_int_equal(op[5].round, 3);
	assert_int_equal(rounds, 4);
	assert_true(batch_same_call(&op[1], &op[4]));
	assert_false(batch_same_call(&op[1], &op[3]));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adjust_validation),
		cmocka_unit_test(test_reserve_validation),
		cmocka_unit_test(test_list_validation),
		cmocka_unit_test(test_page_token),
		cmocka_unit_test(test_plan_stock_writes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
