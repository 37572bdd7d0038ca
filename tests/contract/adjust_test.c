/* SPDX-License-Identifier: MIT */
/*
 * Contract: AdjustStock through libinventory.
 *  - OK: stock + delta, version exactly +1, updated_at advances, name,
 *    price and created_at unchanged, stored as returned;
 *  - a delta that would take the stock below 0: FAILED_PRECONDITION with
 *    the current product in status->current, nothing changed;
 *  - past 2147483647: OUT_OF_RANGE, nothing changed;
 *  - delta 0, |delta| > 2147483647, a bad id, a version <= 0 or from the
 *    future: INVALID_ARGUMENT; an unknown product: NOT_FOUND;
 *  - with expected_version: OK at the current version, ABORTED with the
 *    latest product at a stale one;
 *  - request ids: a repeat answers the first outcome (applied once, also
 *    after another write), the same id for another call ALREADY_EXISTS.
 * After every failed call the product must be exactly as before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contract.h"

enum id_kind { ID_PRODUCT, ID_RANDOM, ID_LITERAL };
enum ver_kind { VER_NONE, VER_CURRENT, VER_ABS, VER_REL }; /* REL: cur + v */

static const struct adjust_case {
	const char    *what;
	int64_t        stock; /* the fresh product's stock */
	enum id_kind   id_kind;
	const char    *id;
	int64_t        delta;
	enum ver_kind  ver_kind;
	int64_t        ver;
	inventory_code want;
} cases[] = {
	{ "take 3", 10, ID_PRODUCT, NULL, -3, VER_NONE, 0, INVENTORY_OK },
	{ "add 5", 10, ID_PRODUCT, NULL, 5, VER_NONE, 0, INVENTORY_OK },
	{ "take all", 10, ID_PRODUCT, NULL, -10, VER_NONE, 0, INVENTORY_OK },
	{ "take one too many", 10, ID_PRODUCT, NULL, -11, VER_NONE, 0,
	    INVENTORY_FAILED_PRECONDITION },
	{ "take from 0", 0, ID_PRODUCT, NULL, -1, VER_NONE, 0,
	    INVENTORY_FAILED_PRECONDITION },
	{ "take the most", 10, ID_PRODUCT, NULL, -2147483647LL, VER_NONE, 0,
	    INVENTORY_FAILED_PRECONDITION },
	{ "up to the max", 2147483600LL, ID_PRODUCT, NULL, 47, VER_NONE, 0,
	    INVENTORY_OK },
	{ "one past the max", 2147483600LL, ID_PRODUCT, NULL, 48, VER_NONE, 0,
	    INVENTORY_OUT_OF_RANGE },
	{ "add the most to 10", 10, ID_PRODUCT, NULL, 2147483647LL, VER_NONE,
	    0, INVENTORY_OUT_OF_RANGE },
	{ "delta 0", 10, ID_PRODUCT, NULL, 0, VER_NONE, 0,
	    INVENTORY_INVALID_ARGUMENT },
	{ "delta 2^31", 10, ID_PRODUCT, NULL, 2147483648LL, VER_NONE, 0,
	    INVENTORY_INVALID_ARGUMENT },
	{ "delta -2^31", 10, ID_PRODUCT, NULL, -2147483648LL, VER_NONE, 0,
	    INVENTORY_INVALID_ARGUMENT },
	{ "delta INT64_MIN", 10, ID_PRODUCT, NULL, INT64_MIN, VER_NONE, 0,
	    INVENTORY_INVALID_ARGUMENT },
	{ "at the current version", 10, ID_PRODUCT, NULL, -2, VER_CURRENT, 0,
	    INVENTORY_OK },
	{ "stale by one", 10, ID_PRODUCT, NULL, -2, VER_REL, -1,
	    INVENTORY_ABORTED },
	{ "stale: version 1", 10, ID_PRODUCT, NULL, 4, VER_ABS, 1,
	    INVENTORY_ABORTED },
	{ "version from the future", 10, ID_PRODUCT, NULL, -1, VER_REL, 1,
	    INVENTORY_INVALID_ARGUMENT },
	{ "negative version", 10, ID_PRODUCT, NULL, -1, VER_ABS, -1,
	    INVENTORY_INVALID_ARGUMENT },
	{ "unknown product", 10, ID_RANDOM, NULL, -1, VER_NONE, 0,
	    INVENTORY_NOT_FOUND },
	{ "bad uuid", 10, ID_LITERAL, "not-a-uuid", -1, VER_NONE, 0,
	    INVENTORY_INVALID_ARGUMENT },
	{ "empty id", 10, ID_LITERAL, "", -1, VER_NONE, 0,
	    INVENTORY_INVALID_ARGUMENT },
};

/* A product at version 3 with the given stock (two updates before, so
 * that stale versions exist). */
static inventory_product *
fresh_product(const char *what, int64_t stock)
{
	inventory_product *p, *q;
	inventory_status   st;
	char               name[128];

	memset(&st, 0, sizeof(st));
	contract_name(name, sizeof(name), what);
	p = contract_create(name, 1, "4.40");
	for (int i = 0; i < 2; i++) {
		assert_code(inventory_update_stock(contract_client, p->id,
		                stock, p->version, NULL, &q, &st),
		    INVENTORY_OK, &st);
		inventory_product_free(p);
		p = q;
	}
	assert_int_equal(p->version, 3);
	assert_int_equal(p->stock, stock);
	inventory_status_fini(&st);
	return p;
}

static void
assert_unchanged(const inventory_product *before, const char *what)
{
	inventory_product *after = contract_get(before->id);

	if (after->version != before->version ||
	    after->stock != before->stock ||
	    after->updated_at_us != before->updated_at_us) {
		fail_msg("case '%s': product changed by a failed call: "
		         "version %lld -> %lld, stock %lld -> %lld",
		    what, (long long)before->version,
		    (long long)after->version, (long long)before->stock,
		    (long long)after->stock);
	}
	inventory_product_free(after);
}

static void
test_adjust_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct adjust_case *c = &cases[i];
		inventory_product *sentinel = (inventory_product *)&cases;
		inventory_product *before   = fresh_product(c->what, c->stock);
		inventory_product *p        = sentinel, *after;
		inventory_status   st;
		char               id[64];
		int64_t            ver = 0;
		inventory_code     rv;

		memset(&st, 0, sizeof(st));
		switch (c->id_kind) {
		case ID_PRODUCT:
			snprintf(id, sizeof(id), "%s", before->id);
			break;
		case ID_RANDOM:
			testenv_uuid(id);
			break;
		case ID_LITERAL:
			snprintf(id, sizeof(id), "%s", c->id);
			break;
		}
		switch (c->ver_kind) {
		case VER_NONE:
			ver = 0;
			break;
		case VER_CURRENT:
			ver = before->version;
			break;
		case VER_ABS:
			ver = c->ver;
			break;
		case VER_REL:
			ver = before->version + c->ver;
			break;
		}
		usleep(2000); /* updated_at must move within one tick */
		rv = inventory_adjust_stock(
		    contract_client, id, c->delta, ver, NULL, &p, &st);
		if (rv != c->want) {
			fail_msg("case '%s' (delta %lld, version %lld): got "
			         "%s, want %s: %s",
			    c->what, (long long)c->delta, (long long)ver,
			    inventory_code_name(rv),
			    inventory_code_name(c->want), st.message);
		}
		if (rv == INVENTORY_OK) {
			after = contract_get(before->id);
			assert_true(p != sentinel && p != NULL);
			assert_string_equal(p->id, before->id);
			assert_int_equal(p->version, before->version + 1);
			assert_int_equal(p->stock, before->stock + c->delta);
			assert_string_equal(p->name, before->name);
			assert_string_equal(p->price, before->price);
			assert_int_equal(
			    p->created_at_us, before->created_at_us);
			assert_true(p->updated_at_us > before->updated_at_us);
			assert_int_equal(after->version, p->version);
			assert_int_equal(after->stock, p->stock);
			assert_int_equal(
			    after->updated_at_us, p->updated_at_us);
			inventory_product_free(after);
			inventory_product_free(p);
		} else {
			assert_ptr_equal(p, sentinel);
			assert_int_equal(st.code, rv);
			assert_true(st.message[0] != '\0');
			if (rv == INVENTORY_ABORTED ||
			    rv == INVENTORY_FAILED_PRECONDITION ||
			    rv == INVENTORY_OUT_OF_RANGE) {
				/* The product as it is, in the details. */
				if (st.current == NULL) {
					fail_msg("case '%s': %s without "
					         "status->current",
					    c->what, inventory_code_name(rv));
				}
				assert_string_equal(
				    st.current->id, before->id);
				assert_int_equal(
				    st.current->version, before->version);
				assert_int_equal(
				    st.current_version, before->version);
				assert_int_equal(
				    st.current->stock, before->stock);
				assert_int_equal(st.current->updated_at_us,
				    before->updated_at_us);
			}
			if (rv == INVENTORY_ABORTED) {
				assert_true(st.current_version > ver);
			}
			assert_unchanged(before, c->what);
		}
		inventory_product_free(before);
		inventory_status_fini(&st);
	}
}

/* Adjustments compose: each OK moves the version by one and the stock by
 * its delta, whatever came before. */
static void
test_adjust_sequence(void **state)
{
	static const int64_t deltas[] = { -1, -2, 7, -14, 3, -3 };
	inventory_product   *p = fresh_product("adjust-seq", 10), *q, *now;
	inventory_status     st;
	int64_t              stock = 10, ver = 3;

	(void)state;
	memset(&st, 0, sizeof(st));
	for (size_t i = 0; i < sizeof(deltas) / sizeof(deltas[0]); i++) {
		assert_code(inventory_adjust_stock(contract_client, p->id,
		                deltas[i], 0, NULL, &q, &st),
		    INVENTORY_OK, &st);
		stock += deltas[i];
		ver++;
		assert_int_equal(q->stock, stock);
		assert_int_equal(q->version, ver);
		inventory_product_free(q);
	}
	assert_int_equal(stock, 0);
	now = contract_get(p->id);
	assert_int_equal(now->stock, 0);
	assert_int_equal(now->version, ver);
	inventory_product_free(now);
	inventory_product_free(p);
	inventory_status_fini(&st);
}

static inventory_code
adjust(const char *rid, const char *id, int64_t delta, int64_t ver,
    inventory_product **out, inventory_status *st)
{
	inventory_call_opts opts = { .request_id = rid };

	*out = NULL;
	return inventory_adjust_stock(
	    contract_client, id, delta, ver, &opts, out, st);
}

static void
test_adjust_idempotent(void **state)
{
	inventory_product  *p = fresh_product("adjust-idem", 10);
	inventory_product  *q = fresh_product("adjust-idem-b", 10);
	inventory_product  *a, *b, *c, *x, *now;
	inventory_status    st;
	inventory_call_opts opts;
	char                rid[64], rid2[64];

	(void)state;
	memset(&st, 0, sizeof(st));
	testenv_request_id(rid, sizeof(rid));
	testenv_request_id(rid2, sizeof(rid2));
	assert_code(adjust(rid, p->id, -4, 0, &a, &st), INVENTORY_OK, &st);
	assert_int_equal(a->stock, 6);
	assert_int_equal(a->version, 4);
	/* Repeat right after: the first outcome, applied once. */
	assert_code(adjust(rid, p->id, -4, 0, &b, &st), INVENTORY_OK, &st);
	assert_int_equal(b->stock, a->stock);
	assert_int_equal(b->version, a->version);
	assert_int_equal(b->updated_at_us, a->updated_at_us);
	now = contract_get(p->id);
	assert_int_equal(now->stock, 6);
	assert_int_equal(now->version, 4);
	inventory_product_free(now);
	/* Another write intervenes; the repeat is still the first outcome
	 * and does not take 4 more. */
	assert_code(adjust(rid2, p->id, -1, 0, &x, &st), INVENTORY_OK, &st);
	inventory_product_free(x);
	assert_code(adjust(rid, p->id, -4, 0, &c, &st), INVENTORY_OK, &st);
	assert_int_equal(c->stock, 6);
	assert_int_equal(c->version, 4);
	assert_int_equal(c->updated_at_us, a->updated_at_us);
	now = contract_get(p->id);
	assert_int_equal(now->stock, 5);
	assert_int_equal(now->version, 5);
	inventory_product_free(now);
	/* The same id for another call: another delta, another product,
	 * with a version, another method. */
	assert_code(
	    adjust(rid, p->id, -3, 0, &x, &st), INVENTORY_ALREADY_EXISTS, &st);
	assert_null(x);
	assert_code(
	    adjust(rid, q->id, -4, 0, &x, &st), INVENTORY_ALREADY_EXISTS, &st);
	assert_null(x);
	assert_code(
	    adjust(rid, p->id, -4, 5, &x, &st), INVENTORY_ALREADY_EXISTS, &st);
	assert_null(x);
	opts = (inventory_call_opts) { .request_id = rid };
	x    = NULL;
	assert_code(inventory_update_stock(
	                contract_client, p->id, 6, 5, &opts, &x, &st),
	    INVENTORY_ALREADY_EXISTS, &st);
	assert_null(x);
	/* An UpdateStock's id reused for an AdjustStock. */
	assert_code(inventory_update_stock(
	                contract_client, q->id, 9, 3, &opts, &x, &st),
	    INVENTORY_ALREADY_EXISTS, &st);
	assert_null(x);
	testenv_request_id(rid2, sizeof(rid2));
	opts = (inventory_call_opts) { .request_id = rid2 };
	assert_code(inventory_update_stock(
	                contract_client, q->id, 9, 3, &opts, &x, &st),
	    INVENTORY_OK, &st);
	inventory_product_free(x);
	assert_code(adjust(rid2, q->id, -1, 0, &x, &st),
	    INVENTORY_ALREADY_EXISTS, &st);
	assert_null(x);
	now = contract_get(p->id);
	assert_int_equal(now->stock, 5);
	assert_int_equal(now->version, 5);
	inventory_product_free(now);
	now = contract_get(q->id);
	assert_int_equal(now->stock, 9);
	assert_int_equal(now->version, 4);
	inventory_product_free(now);
	inventory_product_free(a);
	inventory_product_free(b);
	inventory_product_free(c);
	inventory_product_free(p);
	inventory_product_free(q);
	inventory_status_fini(&st);
}

/* An adjustment refused for too little stock, repeated with the same id
 * while nothing changed: refused again, with the product in the details,
 * and never applied. */
static void
test_adjust_refused_repeat(void **state)
{
	inventory_product *p = fresh_product("adjust-refused", 2), *x, *now;
	inventory_status   st;
	char               rid[64];

	(void)state;
	memset(&st, 0, sizeof(st));
	testenv_request_id(rid, sizeof(rid));
	for (int i = 0; i < 2; i++) {
		assert_code(adjust(rid, p->id, -3, 0, &x, &st),
		    INVENTORY_FAILED_PRECONDITION, &st);
		assert_null(x);
		assert_non_null(st.current);
		assert_int_equal(st.current->stock, 2);
		assert_int_equal(st.current->version, 3);
	}
	now = contract_get(p->id);
	assert_int_equal(now->stock, 2);
	assert_int_equal(now->version, 3);
	inventory_product_free(now);
	inventory_product_free(p);
	inventory_status_fini(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_adjust_table),
		cmocka_unit_test(test_adjust_sequence),
		cmocka_unit_test(test_adjust_idempotent),
		cmocka_unit_test(test_adjust_refused_repeat),
	};

	return cmocka_run_group_tests_name(
	    "contract.adjust", tests, contract_setup, contract_teardown);
}
