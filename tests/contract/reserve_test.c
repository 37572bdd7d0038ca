/* SPDX-License-Identifier: MIT */
/*
 * Contract: ReserveStock through libinventory.
 *  - OK: every item applied, the products after the change in item order,
 *    each version +1; takes and sets (at expected_version) mixed;
 *  - any item failing: nothing applied, the call's code is the first
 *    failing item's (in request order, not id order), *errors names every
 *    failing item (index, code, message, the product as it is; version 0
 *    for NOT_FOUND);
 *  - INVALID_ARGUMENT: 0 or 101 items, duplicate ids, an item with both or
 *    neither of quantity and (expected_version, stock) (through the
 *    library, and on the wire as raw ReserveItems), a bad quantity, a bad
 *    id, a set stock out of range, a version from the future;
 *  - request ids: a repeat answers the first outcome (applied once, also
 *    after another write), the same id for other items ALREADY_EXISTS.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_wire.h"
#include "contract.h"

enum { MAXP = 101 };

/* Products for one test: created with the given stocks, version 1. */
struct fixture {
	size_t             n;
	inventory_product *p[MAXP];
};

static void
fixture_make(struct fixture *f, const char *what, size_t n,
    const int64_t *stocks, int64_t stock_all)
{
	char name[128];

	assert_true(n <= MAXP);
	f->n = n;
	for (size_t i = 0; i < n; i++) {
		contract_name(name, sizeof(name), what);
		f->p[i] = contract_create(
		    name, stocks != NULL ? stocks[i] : stock_all, "1.25");
	}
}

static void
fixture_free(struct fixture *f)
{
	for (size_t i = 0; i < f->n; i++) {
		inventory_product_free(f->p[i]);
	}
	f->n = 0;
}

/* Fail unless every product of f is as created (version 1, its stock). */
static void
fixture_unchanged(const struct fixture *f, const char *what)
{
	for (size_t i = 0; i < f->n; i++) {
		inventory_product *now = contract_get(f->p[i]->id);

		if (now->version != f->p[i]->version ||
		    now->stock != f->p[i]->stock) {
			fail_msg("%s: product %zu changed by a failed "
			         "reservation: version %lld -> %lld, stock "
			         "%lld -> %lld",
			    what, i, (long long)f->p[i]->version,
			    (long long)now->version, (long long)f->p[i]->stock,
			    (long long)now->stock);
		}
		inventory_product_free(now);
	}
}

static inventory_reserve_item
take(const inventory_product *p, int64_t qty)
{
	return (inventory_reserve_item) { .id = p->id, .quantity = qty };
}

static inventory_reserve_item
set(const inventory_product *p, int64_t ver, int64_t stock)
{
	return (inventory_reserve_item) {
		.id = p->id, .expected_version = ver, .stock = stock
	};
}

struct outcome {
	inventory_code        rv;
	inventory_product    *out;
	inventory_status      st;
	inventory_item_error *errs;
	size_t                nerrs;
};

static void
reserve(const char *rid, const inventory_reserve_item *items, size_t n,
    struct outcome *o)
{
	inventory_call_opts opts = { .request_id = rid };

	memset(o, 0, sizeof(*o));
	o->nerrs = 12345;
	o->errs  = (inventory_item_error *)&opts; /* must be overwritten */
	o->rv    = inventory_reserve(contract_client, items, n,
            rid != NULL ? &opts : NULL, &o->out, &o->st, &o->errs, &o->nerrs);
	if (o->rv == INVENTORY_OK) {
		assert_null(o->errs);
		assert_int_equal(o->nerrs, 0);
	} else {
		assert_true(o->errs != (inventory_item_error *)&opts);
	}
}

static void
outcome_fini(struct outcome *o)
{
	inventory_product_free(o->out);
	free(o->errs);
	inventory_status_fini(&o->st);
	memset(o, 0, sizeof(*o));
}

static void
expect(struct outcome *o, inventory_code want, const char *what)
{
	if (o->rv != want) {
		fail_msg("%s: got %s, want %s: %s", what,
		    inventory_code_name(o->rv), inventory_code_name(want),
		    o->st.message);
	}
	if (want != INVENTORY_OK) {
		assert_null(o->out);
		assert_int_equal(o->st.code, want);
		assert_true(o->st.message[0] != '\0');
	}
}

/* Takes and sets on five products, in an order that is not id order. */
static void
test_reserve_ok(void **state)
{
	static const int64_t   stocks[] = { 10, 5, 1, 7, 0 };
	struct fixture         f;
	struct outcome         o;
	inventory_reserve_item items[5];

	(void)state;
	fixture_make(&f, "reserve-ok", 5, stocks, 0);
	items[0] = take(f.p[3], 7);    /* 7 -> 0 */
	items[1] = take(f.p[0], 3);    /* 10 -> 7 */
	items[2] = set(f.p[4], 1, 20); /* 0 -> 20 */
	items[3] = take(f.p[2], 1);    /* 1 -> 0 */
	items[4] = set(f.p[1], 1, 0);  /* 5 -> 0 */
	reserve(NULL, items, 5, &o);
	expect(&o, INVENTORY_OK, "reserve ok");
	{
		static const int64_t want[] = { 0, 7, 20, 0, 0 };
		for (size_t i = 0; i < 5; i++) {
			inventory_product *now = contract_get(items[i].id);

			assert_string_equal(o.out[i].id, items[i].id);
			assert_int_equal(o.out[i].stock, want[i]);
			assert_int_equal(o.out[i].version, 2);
			assert_int_equal(now->stock, want[i]);
			assert_int_equal(now->version, 2);
			assert_int_equal(
			    now->updated_at_us, o.out[i].updated_at_us);
			inventory_product_free(now);
		}
	}
	outcome_fini(&o);
	fixture_free(&f);
}

/* The most items a reservation may carry. */
static void
test_reserve_100(void **state)
{
	struct fixture         f;
	struct outcome         o;
	inventory_reserve_item items[INVENTORY_RESERVE_MAX];

	(void)state;
	fixture_make(&f, "reserve-100", INVENTORY_RESERVE_MAX, NULL, 3);
	for (size_t i = 0; i < INVENTORY_RESERVE_MAX; i++) {
		items[i] = take(f.p[i], 1 + (int64_t)(i % 3));
	}
	reserve(NULL, items, INVENTORY_RESERVE_MAX, &o);
	expect(&o, INVENTORY_OK, "100 items");
	for (size_t i = 0; i < INVENTORY_RESERVE_MAX; i++) {
		assert_string_equal(o.out[i].id, f.p[i]->id);
		assert_int_equal(o.out[i].stock, 3 - (1 + (int64_t)(i % 3)));
		assert_int_equal(o.out[i].version, 2);
	}
	outcome_fini(&o);
	fixture_free(&f);
}

/* One item short: FAILED_PRECONDITION, nothing applied, the item named
 * with the product as it is. */
static void
test_reserve_one_short(void **state)
{
	static const int64_t   stocks[] = { 10, 2, 10 };
	struct fixture         f;
	struct outcome         o;
	inventory_reserve_item items[3];

	(void)state;
	fixture_make(&f, "reserve-short", 3, stocks, 0);
	items[0] = take(f.p[0], 1);
	items[1] = take(f.p[1], 3);
	items[2] = take(f.p[2], 10);
	reserve(NULL, items, 3, &o);
	expect(&o, INVENTORY_FAILED_PRECONDITION, "one short");
	assert_int_equal(o.nerrs, 1);
	assert_non_null(o.errs);
	assert_int_equal(o.errs[0].index, 1);
	assert_int_equal(o.errs[0].code, INVENTORY_FAILED_PRECONDITION);
	assert_true(o.errs[0].message[0] != '\0');
	assert_string_equal(o.errs[0].current.id, f.p[1]->id);
	assert_int_equal(o.errs[0].current.stock, 2);
	assert_int_equal(o.errs[0].current.version, 1);
	/* ErrorDetails.current is the first failing item's product. */
	assert_non_null(o.st.current);
	assert_string_equal(o.st.current->id, f.p[1]->id);
	assert_int_equal(o.st.current->stock, 2);
	fixture_unchanged(&f, "one short");
	outcome_fini(&o);
	fixture_free(&f);
}

/* Several items failing for different reasons: every one named, the
 * call's code the first failing item's in request order. */
static void
test_reserve_every_failure_named(void **state)
{
	static const int64_t   stocks[] = { 10, 10, 1, 10, 10 };
	struct fixture         f;
	struct outcome         o;
	inventory_reserve_item items[6];
	inventory_product     *moved;
	inventory_status       st;
	char                   unknown[40];
	static const struct {
		size_t         index;
		inventory_code code;
	} want[] = {
		{ 1, INVENTORY_ABORTED },
		{ 2, INVENTORY_FAILED_PRECONDITION },
		{ 4, INVENTORY_NOT_FOUND },
	};

	(void)state;
	memset(&st, 0, sizeof(st));
	fixture_make(&f, "reserve-many-fail", 5, stocks, 0);
	/* Product 1 moves to version 2: a set at version 1 is stale. */
	assert_code(inventory_update_stock(
	                contract_client, f.p[1]->id, 9, 1, NULL, &moved, &st),
	    INVENTORY_OK, &st);
	inventory_product_free(f.p[1]);
	f.p[1] = moved;
	testenv_uuid(unknown);
	items[0] = take(f.p[0], 10);  /* would apply */
	items[1] = set(f.p[1], 1, 3); /* stale: ABORTED */
	items[2] = take(f.p[2], 2);   /* 1 < 2: FAILED_PRECONDITION */
	items[3] = set(f.p[3], 1, 0); /* would apply */
	items[4] = (inventory_reserve_item) { .id = unknown, .quantity = 1 };
	items[5] = take(f.p[4], 10); /* would apply */
	reserve(NULL, items, 6, &o);
	expect(&o, INVENTORY_ABORTED, "three failures");
	if (o.nerrs != 3) {
		fail_msg("want 3 failing items, got %zu", o.nerrs);
	}
	for (size_t k = 0; k < 3; k++) {
		const inventory_item_error *e = &o.errs[k];

		if (e->index != want[k].index || e->code != want[k].code) {
			fail_msg("error %zu: item %zu %s, want item %zu %s", k,
			    e->index, inventory_code_name(e->code),
			    want[k].index, inventory_code_name(want[k].code));
		}
		assert_true(e->message[0] != '\0');
		if (e->code == INVENTORY_NOT_FOUND) {
			assert_int_equal(e->current.version, 0);
		} else {
			assert_string_equal(e->current.id, items[e->index].id);
		}
	}
	assert_int_equal(o.errs[0].current.version, 2);
	assert_int_equal(o.errs[0].current.stock, 9);
	assert_int_equal(o.errs[1].current.version, 1);
	assert_int_equal(o.errs[1].current.stock, 1);
	/* ABORTED: the conflicting product, as UpdateStock reports it. */
	assert_non_null(o.st.current);
	assert_string_equal(o.st.current->id, f.p[1]->id);
	assert_int_equal(o.st.current->version, 2);
	fixture_unchanged(&f, "three failures");
	outcome_fini(&o);

	/* The same failures with NOT_FOUND first in request order. */
	items[0] = items[4];
	items[4] = take(f.p[0], 10);
	reserve(NULL, items, 6, &o);
	expect(&o, INVENTORY_NOT_FOUND, "NOT_FOUND first");
	assert_int_equal(o.nerrs, 3);
	assert_int_equal(o.errs[0].index, 0);
	assert_int_equal(o.errs[0].code, INVENTORY_NOT_FOUND);
	fixture_unchanged(&f, "NOT_FOUND first");
	outcome_fini(&o);
	inventory_status_fini(&st);
	fixture_free(&f);
}

/* The first failing item is the first in request order even when the
 * rows are locked and checked in id order. */
static void
test_reserve_first_in_request_order(void **state)
{
	struct fixture         f;
	struct outcome         o;
	inventory_reserve_item items[2];
	size_t                 lo, hi;

	(void)state;
	fixture_make(&f, "reserve-order", 2, NULL, 1);
	lo = strcmp(f.p[0]->id, f.p[1]->id) < 0 ? 0 : 1;
	hi = 1 - lo;
	/* The lower id moves to version 2. */
	{
		inventory_product *m = NULL;
		inventory_status   st;

		memset(&st, 0, sizeof(st));
		assert_code(inventory_adjust_stock(contract_client,
		                f.p[lo]->id, 1, 0, NULL, &m, &st),
		    INVENTORY_OK, &st);
		inventory_product_free(f.p[lo]);
		f.p[lo] = m;
		inventory_status_fini(&st);
	}
	/* The higher id first, short of stock; the lower id second,
	 * stale. */
	items[0] = take(f.p[hi], 2);
	items[1] = set(f.p[lo], 1, 0);
	reserve(NULL, items, 2, &o);
	expect(&o, INVENTORY_FAILED_PRECONDITION, "request order");
	assert_int_equal(o.nerrs, 2);
	assert_int_equal(o.errs[0].index, 0);
	assert_int_equal(o.errs[0].code, INVENTORY_FAILED_PRECONDITION);
	assert_int_equal(o.errs[1].index, 1);
	assert_int_equal(o.errs[1].code, INVENTORY_ABORTED);
	assert_int_equal(o.errs[1].current.version, 2);
	fixture_unchanged(&f, "request order");
	outcome_fini(&o);
	fixture_free(&f);
}

/* A set at a version the product never had: INVALID_ARGUMENT, nothing
 * applied. */
static void
test_reserve_future_version(void **state)
{
	struct fixture         f;
	struct outcome         o;
	inventory_reserve_item items[2];

	(void)state;
	fixture_make(&f, "reserve-future", 2, NULL, 5);
	items[0] = take(f.p[0], 1);
	items[1] = set(f.p[1], 7, 1);
	reserve(NULL, items, 2, &o);
	expect(&o, INVENTORY_INVALID_ARGUMENT, "future version");
	fixture_unchanged(&f, "future version");
	outcome_fini(&o);
	fixture_free(&f);
}

static void
test_reserve_invalid(void **state)
{
	struct fixture         f;
	struct outcome         o;
	inventory_reserve_item items[INVENTORY_RESERVE_MAX + 1];

	(void)state;
	fixture_make(
	    &f, "reserve-invalid", INVENTORY_RESERVE_MAX + 1, NULL, 5);
	/* 0 items. */
	reserve(NULL, items, 0, &o);
	expect(&o, INVENTORY_INVALID_ARGUMENT, "0 items");
	outcome_fini(&o);
	/* 101 items on distinct products. */
	for (size_t i = 0; i <= INVENTORY_RESERVE_MAX; i++) {
		items[i] = take(f.p[i], 1);
	}
	reserve(NULL, items, INVENTORY_RESERVE_MAX + 1, &o);
	expect(&o, INVENTORY_INVALID_ARGUMENT, "101 items");
	outcome_fini(&o);
	/* Duplicate ids, adjacent and apart. */
	items[0] = take(f.p[0], 1);
	items[1] = take(f.p[0], 1);
	reserve(NULL, items, 2, &o);
	expect(&o, INVENTORY_INVALID_ARGUMENT, "duplicate ids");
	outcome_fini(&o);
	items[0] = take(f.p[0], 1);
	items[1] = take(f.p[1], 1);
	items[2] = set(f.p[0], 1, 3);
	reserve(NULL, items, 3, &o);
	expect(&o, INVENTORY_INVALID_ARGUMENT, "duplicate take and set");
	outcome_fini(&o);
	/* Both a quantity and a version. */
	items[0] = take(f.p[0], 1);
	items[1] = (inventory_reserve_item) { .id = f.p[1]->id,
		.quantity                         = 1,
		.expected_version                 = 1,
		.stock                            = 2 };
	reserve(NULL, items, 2, &o);
	expect(&o, INVENTORY_INVALID_ARGUMENT, "both");
	outcome_fini(&o);
	/* Neither. */
	items[1] = (inventory_reserve_item) { .id = f.p[1]->id };
	reserve(NULL, items, 2, &o);
	expect(&o, INVENTORY_INVALID_ARGUMENT, "neither");
	outcome_fini(&o);
	/* Bad quantities, stocks, versions and ids. */
	{
		const inventory_reserve_item bads[] = {
			take(f.p[1], -1),
			take(f.p[1], 2147483648LL),
			set(f.p[1], 1, -1),
			set(f.p[1], 1, 2147483648LL),
			set(f.p[1], -1, 1),
			{ .id = "not-a-uuid", .quantity = 1 },
			{ .id = "", .quantity = 1 },
		};
		for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
			char what[64];

			items[1] = bads[i];
			snprintf(what, sizeof(what), "bad item %zu", i);
			reserve(NULL, items, 2, &o);
			expect(&o, INVENTORY_INVALID_ARGUMENT, what);
			outcome_fini(&o);
		}
	}
	fixture_unchanged(&f, "invalid");
	fixture_free(&f);
}

/* The same rules on the wire, where an item can carry both a quantity and
 * (expected_version, stock), only part of a set, or nothing: the server
 * answers INVALID_ARGUMENT and applies nothing. */
static void
test_reserve_wire_item_shapes(void **state)
{
	struct fixture f;
	nng_socket     sock;
	static const struct {
		const char *what;
		int         hq, hv, hs; /* which fields the item carries */
	} shapes[] = {
		{ "both", 1, 1, 1 },
		{ "quantity and stock", 1, 0, 1 },
		{ "quantity and version", 1, 1, 0 },
		{ "neither", 0, 0, 0 },
		{ "version without stock", 0, 1, 0 },
		{ "stock without version", 0, 0, 1 },
	};

	(void)state;
	fixture_make(&f, "reserve-wire", 2, NULL, 5);
	assert_int_equal(bw_open(testenv_server(), 10000, &sock), 0);
	for (size_t k = 0; k < sizeof(shapes) / sizeof(shapes[0]); k++) {
		Inventory__V1__ReserveItem it[2] = {
			INVENTORY__V1__RESERVE_ITEM__INIT,
			INVENTORY__V1__RESERVE_ITEM__INIT
		};
		Inventory__V1__ReserveItem        *pit[2] = { &it[0], &it[1] };
		Inventory__V1__ReserveStockRequest req =
		    INVENTORY__V1__RESERVE_STOCK_REQUEST__INIT;
		Inventory__V1__Request  *call;
		Inventory__V1__Response *resp = NULL;
		uint8_t                 *buf;
		size_t                   len;
		char                     rid[64];

		it[0].id                   = f.p[0]->id;
		it[0].has_quantity         = 1;
		it[0].quantity             = 1;
		it[1].id                   = f.p[1]->id;
		it[1].has_quantity         = shapes[k].hq;
		it[1].quantity             = 1;
		it[1].has_expected_version = shapes[k].hv;
		it[1].expected_version     = 1;
		it[1].has_stock            = shapes[k].hs;
		it[1].stock                = 2;
		req.n_items                = 2;
		req.items                  = pit;
		testenv_request_id(rid, sizeof(rid));
		call = bw_call("ReserveStock", rid, 5000, &req.base);
		buf  = bw_single_pack(call, &len);
		assert_int_equal(bw_exchange(sock, buf, len, &resp), 0);
		if (!resp->has_code ||
		    resp->code != INVENTORY_INVALID_ARGUMENT)
			fail_msg("wire item '%s': code %u, want "
			         "INVALID_ARGUMENT: %s",
			    shapes[k].what, resp->has_code ? resp->code : 0,
			    resp->message != NULL ? resp->message : "");
		inventory__v1__response__free_unpacked(resp, NULL);
		free(buf);
		bw_call_free(call);
		fixture_unchanged(&f, shapes[k].what);
	}
	nng_close(sock);
	fixture_free(&f);
}

static void
test_reserve_idempotent(void **state)
{
	struct fixture         f;
	struct outcome         a, b, c, x;
	inventory_reserve_item items[3], other[3];
	inventory_product     *m = NULL, *now;
	inventory_status       st;
	inventory_call_opts    opts;
	char                   rid[64];

	(void)state;
	memset(&st, 0, sizeof(st));
	fixture_make(&f, "reserve-idem", 3, NULL, 10);
	testenv_request_id(rid, sizeof(rid));
	items[0] = take(f.p[0], 2);
	items[1] = take(f.p[1], 3);
	items[2] = set(f.p[2], 1, 4);
	reserve(rid, items, 3, &a);
	expect(&a, INVENTORY_OK, "first");
	reserve(rid, items, 3, &b);
	expect(&b, INVENTORY_OK, "repeat");
	for (size_t i = 0; i < 3; i++) {
		assert_string_equal(b.out[i].id, a.out[i].id);
		assert_int_equal(b.out[i].stock, a.out[i].stock);
		assert_int_equal(b.out[i].version, a.out[i].version);
		assert_int_equal(
		    b.out[i].updated_at_us, a.out[i].updated_at_us);
	}
	/* Another write intervenes: still the first outcome, not applied
	 * again (a second take would leave 6, and the set would be
	 * stale). */
	assert_code(inventory_adjust_stock(
	                contract_client, f.p[0]->id, -1, 0, NULL, &m, &st),
	    INVENTORY_OK, &st);
	inventory_product_free(m);
	reserve(rid, items, 3, &c);
	expect(&c, INVENTORY_OK, "repeat after another write");
	assert_int_equal(c.out[0].stock, 8);
	assert_int_equal(c.out[0].version, 2);
	assert_int_equal(c.out[2].stock, 4);
	now = contract_get(f.p[0]->id);
	assert_int_equal(now->stock, 7);
	assert_int_equal(now->version, 3);
	inventory_product_free(now);
	now = contract_get(f.p[1]->id);
	assert_int_equal(now->stock, 7);
	assert_int_equal(now->version, 2);
	inventory_product_free(now);
	/* The same id for other items. */
	memcpy(other, items, sizeof(other));
	other[1].quantity = 4;
	reserve(rid, other, 3, &x);
	expect(&x, INVENTORY_ALREADY_EXISTS, "other quantity");
	outcome_fini(&x);
	reserve(rid, items, 2, &x);
	expect(&x, INVENTORY_ALREADY_EXISTS, "fewer items");
	outcome_fini(&x);
	/* ... for another method. */
	opts = (inventory_call_opts) { .request_id = rid };
	m    = NULL;
	assert_code(inventory_adjust_stock(
	                contract_client, f.p[0]->id, -2, 0, &opts, &m, &st),
	    INVENTORY_ALREADY_EXISTS, &st);
	assert_null(m);
	now = contract_get(f.p[1]->id);
	assert_int_equal(now->stock, 7);
	assert_int_equal(now->version, 2);
	inventory_product_free(now);
	outcome_fini(&a);
	outcome_fini(&b);
	outcome_fini(&c);
	inventory_status_fini(&st);
	fixture_free(&f);
}

/* A reservation refused for too little stock, repeated with the same id
 * while nothing changed: the same refusal, never applied. */
static void
test_reserve_refused_repeat(void **state)
{
	struct fixture         f;
	struct outcome         o;
	inventory_reserve_item items[2];
	char                   rid[64];

	(void)state;
	fixture_make(&f, "reserve-refused", 2, NULL, 2);
	testenv_request_id(rid, sizeof(rid));
	items[0] = take(f.p[0], 1);
	items[1] = take(f.p[1], 3);
	for (int i = 0; i < 2; i++) {
		reserve(rid, items, 2, &o);
		expect(&o, INVENTORY_FAILED_PRECONDITION, "refused");
		assert_int_equal(o.nerrs, 1);
		assert_int_equal(o.errs[0].index, 1);
		assert_int_equal(o.errs[0].current.stock, 2);
		outcome_fini(&o);
	}
	fixture_unchanged(&f, "refused repeat");
	fixture_free(&f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reserve_ok),
		cmocka_unit_test(test_reserve_100),
		cmocka_unit_test(test_reserve_one_short),
		cmocka_unit_test(test_reserve_every_failure_named),
		cmocka_unit_test(test_reserve_first_in_request_order),
		cmocka_unit_test(test_reserve_future_version),
		cmocka_unit_test(test_reserve_invalid),
		cmocka_unit_test(test_reserve_wire_item_shapes),
		cmocka_unit_test(test_reserve_idempotent),
		cmocka_unit_test(test_reserve_refused_repeat),
	};

	return cmocka_run_group_tests_name(
	    "contract.reserve", tests, contract_setup, contract_teardown);
}
