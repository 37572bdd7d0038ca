/* SPDX-License-Identifier: MIT */
/*
 * Contract: CreateProduct through libinventory.  One table: valid products
 * come back at version 1 with a fresh lower-case UUID, the exact name and
 * stock, the exact price ("19.90" stays "19.90", "0.10" stays "0.10"),
 * created_at == updated_at (give or take a statement) and close to now,
 * and GetProduct returns the same; invalid stock, names and prices are
 * INVALID_ARGUMENT.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"

static char name_200[INVENTORY_NAME_MAX + 1];
static char name_201[INVENTORY_NAME_MAX + 2];
static char name_200_utf8[INVENTORY_NAME_MAX + 1]; /* 100 x "é" */

static const struct create_case {
	const char    *what;
	const char    *name; /* NULL: a unique generated name */
	int64_t        stock;
	const char    *price;
	inventory_code want;
	const char
	    *want_price; /* exact text expected back; NULL: same cents */
} cases[] = {
	{ "plain", NULL, 10, "19.90", INVENTORY_OK, "19.90" },
	{ "ten cents", NULL, 1, "0.10", INVENTORY_OK, "0.10" },
	{ "one cent", NULL, 1, "0.01", INVENTORY_OK, "0.01" },
	{ "free", NULL, 0, "0", INVENTORY_OK, NULL },
	{ "whole price", NULL, 5, "7", INVENTORY_OK, NULL },
	{ "one fraction digit", NULL, 5, "19.9", INVENTORY_OK, NULL },
	{ "max stock", NULL, 2147483647, "1.00", INVENTORY_OK, "1.00" },
	{ "max price", NULL, 1, "9999999999.99", INVENTORY_OK,
	    "9999999999.99" },
	{ "utf-8 name", "Café crème ☕ 日本", 1, "2.50", INVENTORY_OK, "2.50" },
	{ "200-byte name", name_200, 1, "1.00", INVENTORY_OK, NULL },
	{ "200-byte utf-8 name", name_200_utf8, 1, "1.00", INVENTORY_OK,
	    NULL },

	{ "negative stock", NULL, -1, "1.00", INVENTORY_INVALID_ARGUMENT,
	    NULL },
	{ "very negative stock", NULL, INT64_MIN, "1.00",
	    INVENTORY_INVALID_ARGUMENT, NULL },
	{ "stock > 2147483647", NULL, 2147483648LL, "1.00",
	    INVENTORY_INVALID_ARGUMENT, NULL },
	{ "empty name", "", 1, "1.00", INVENTORY_INVALID_ARGUMENT, NULL },
	{ "201-byte name", name_201, 1, "1.00", INVENTORY_INVALID_ARGUMENT,
	    NULL },
	{ "invalid utf-8 name", "bad \xff\xfe name", 1, "1.00",
	    INVENTORY_INVALID_ARGUMENT, NULL },
	{ "truncated utf-8 name", "cut \xc3", 1, "1.00",
	    INVENTORY_INVALID_ARGUMENT, NULL },
	{ "overlong utf-8 name", "overlong \xc0\xaf", 1, "1.00",
	    INVENTORY_INVALID_ARGUMENT, NULL },
	{ "control character in name", "tab\there", 1, "1.00",
	    INVENTORY_INVALID_ARGUMENT, NULL },
	{ "price -1", NULL, 1, "-1", INVENTORY_INVALID_ARGUMENT, NULL },
	{ "price 1.234", NULL, 1, "1.234", INVENTORY_INVALID_ARGUMENT, NULL },
	{ "price abc", NULL, 1, "abc", INVENTORY_INVALID_ARGUMENT, NULL },
	{ "empty price", NULL, 1, "", INVENTORY_INVALID_ARGUMENT, NULL },
	{ "price 1e3", NULL, 1, "1e3", INVENTORY_INVALID_ARGUMENT, NULL },
	{ "price NaN", NULL, 1, "NaN", INVENTORY_INVALID_ARGUMENT, NULL },
	{ "price too big", NULL, 1, "10000000000", INVENTORY_INVALID_ARGUMENT,
	    NULL },
	{ "price with space", NULL, 1, " 1.00", INVENTORY_INVALID_ARGUMENT,
	    NULL },
};

static void
build_names(void)
{
	memset(name_200, 'n', INVENTORY_NAME_MAX);
	memset(name_201, 'n', INVENTORY_NAME_MAX + 1);
	for (int i = 0; i < INVENTORY_NAME_MAX / 2; i++) {
		memcpy(name_200_utf8 + 2 * i, "\xc3\xa9", 2);
	}
}

static void
test_create_table(void **state)
{
	(void)state;
	build_names();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct create_case *c = &cases[i];
		inventory_product *sentinel = (inventory_product *)&cases;
		inventory_product *p        = sentinel, *got;
		inventory_status   st;
		char               gen[128];
		const char        *name = c->name;
		long long          before, after;
		inventory_code     rv;

		memset(&st, 0, sizeof(st));
		if (name == NULL) {
			contract_name(gen, sizeof(gen), c->what);
			name = gen;
		}
		before = testenv_now_us();
		rv     = inventory_create_product(
		        contract_client, name, c->stock, c->price, NULL, &p, &st);
		after = testenv_now_us();
		if (rv != c->want) {
			fail_msg("case '%s': got %s, want %s: %s", c->what,
			    inventory_code_name(rv),
			    inventory_code_name(c->want), st.message);
		}
		if (rv != INVENTORY_OK) {
			assert_ptr_equal(p, sentinel);
			assert_int_equal(st.code, rv);
			assert_true(st.message[0] != '\0');
			inventory_status_fini(&st);
			continue;
		}
		if (!contract_is_uuid(p->id)) {
			fail_msg("case '%s': id '%s' is not a lower-case UUID",
			    c->what, p->id);
		}
		assert_string_equal(p->name, name);
		assert_int_equal(p->stock, c->stock);
		assert_int_equal(p->version, 1);
		if (c->want_price != NULL) {
			assert_string_equal(p->price, c->want_price);
		} else if (contract_cents(p->price) !=
		           contract_cents(c->price)) {
			fail_msg("case '%s': price '%s' came back as '%s'",
			    c->what, c->price, p->price);
		}
		/* Same statement: equal, or at most a hair apart. */
		assert_in_range(p->updated_at_us - p->created_at_us, 0, 1000);
		/* The server's clock is this machine's. */
		assert_in_range(
		    p->created_at_us, before - 5000000, after + 5000000);

		got = contract_get(p->id);
		assert_string_equal(got->name, p->name);
		assert_string_equal(got->price, p->price);
		assert_int_equal(got->stock, p->stock);
		assert_int_equal(got->version, 1);
		assert_int_equal(got->created_at_us, p->created_at_us);
		assert_int_equal(got->updated_at_us, p->updated_at_us);
		inventory_product_free(got);
		inventory_product_free(p);
		inventory_status_fini(&st);
	}
}

/* The same arguments twice (no request id reuse): two products. */
static void
test_create_twice_two_products(void **state)
{
	inventory_product *a, *b;

	(void)state;
	a = contract_create("twin", 1, "1.00");
	b = contract_create("twin", 1, "1.00");
	assert_string_not_equal(a->id, b->id);
	inventory_product_free(a);
	inventory_product_free(b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_table),
		cmocka_unit_test(test_create_twice_two_products),
	};

	return cmocka_run_group_tests_name(
	    "contract.create", tests, contract_setup, contract_teardown);
}
