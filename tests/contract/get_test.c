/* SPDX-License-Identifier: MIT */
/*
 * Contract: GetProduct through libinventory against the real server.  One
 * table of cases: an existing product comes back exactly as created; a
 * well-formed unknown id is NOT_FOUND; malformed ids are INVALID_ARGUMENT.
 * Failed calls leave *out untouched and fill the status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"

enum id_kind {
	ID_EXISTING, /* the product created by the test */
	ID_UPPER,    /* the same, in upper case */
	ID_RANDOM,   /* a fresh UUID nobody created */
	ID_LITERAL,  /* the case's literal */
};

static const struct get_case {
	const char    *what;
	enum id_kind   kind;
	const char    *id;
	inventory_code want;
} cases[] = {
	{ "existing product", ID_EXISTING, NULL, INVENTORY_OK },
	{ "upper-case id of an existing product", ID_UPPER, NULL,
	    INVENTORY_OK },
	{ "unknown id", ID_RANDOM, NULL, INVENTORY_NOT_FOUND },
	{ "nil uuid", ID_LITERAL, "00000000-0000-0000-0000-000000000000",
	    INVENTORY_NOT_FOUND },
	{ "bad uuid", ID_LITERAL, "not-a-uuid", INVENTORY_INVALID_ARGUMENT },
	{ "empty id", ID_LITERAL, "", INVENTORY_INVALID_ARGUMENT },
	{ "uuid too long", ID_LITERAL, "123e4567-e89b-12d3-a456-4266141740001",
	    INVENTORY_INVALID_ARGUMENT },
	{ "uuid too short", ID_LITERAL, "123e4567-e89b-12d3-a456-42661417400",
	    INVENTORY_INVALID_ARGUMENT },
	{ "uuid without dashes", ID_LITERAL,
	    "123e4567e89b12d3a456426614174000", INVENTORY_INVALID_ARGUMENT },
	{ "sql in the id", ID_LITERAL, "'; DROP TABLE products; --",
	    INVENTORY_INVALID_ARGUMENT },
	{ "non-hex uuid", ID_LITERAL, "zzzzzzzz-e89b-12d3-a456-426614174000",
	    INVENTORY_INVALID_ARGUMENT },
};

static void
assert_same_product(const inventory_product *a, const inventory_product *b)
{
	assert_string_equal(a->id, b->id);
	assert_string_equal(a->name, b->name);
	assert_int_equal(a->stock, b->stock);
	assert_string_equal(a->price, b->price);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->created_at_us, b->created_at_us);
	assert_int_equal(a->updated_at_us, b->updated_at_us);
}

static void
test_get_table(void **state)
{
	inventory_product *created;
	char               name[128];

	(void)state;
	contract_name(name, sizeof(name), "get");
	created = contract_create(name, 3, "4.50");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct get_case *c        = &cases[i];
		inventory_product     *sentinel = (inventory_product *)&cases;
		inventory_product     *p        = sentinel;
		inventory_status       st;
		char                   id[64];
		inventory_code         rv;

		memset(&st, 0, sizeof(st));
		switch (c->kind) {
		case ID_EXISTING:
			snprintf(id, sizeof(id), "%s", created->id);
			break;
		case ID_UPPER:
			snprintf(id, sizeof(id), "%s", created->id);
			for (char *q = id; *q; q++) {
				if (*q >= 'a' && *q <= 'f') {
					*q = (char)(*q - 'a' + 'A');
				}
			}
			break;
		case ID_RANDOM:
			testenv_uuid(id);
			break;
		case ID_LITERAL:
			snprintf(id, sizeof(id), "%s", c->id);
			break;
		}
		rv = inventory_get_product(contract_client, id, NULL, &p, &st);
		if (rv != c->want) {
			fail_msg("case '%s' (id '%s'): got %s, want %s: %s",
			    c->what, id, inventory_code_name(rv),
			    inventory_code_name(c->want), st.message);
		}
		if (rv == INVENTORY_OK) {
			assert_true(p != sentinel && p != NULL);
			assert_same_product(p, created);
			inventory_product_free(p);
		} else {
			/* *out untouched, status filled, no conflict detail.
			 */
			assert_ptr_equal(p, sentinel);
			assert_int_equal(st.code, rv);
			assert_true(st.message[0] != '\0');
			assert_null(st.current);
			assert_int_equal(st.current_version, 0);
		}
		inventory_status_fini(&st);
	}
	inventory_product_free(created);
}

/* The fixture server listens on tcp too: the same answers there. */
static void
test_get_over_tcp(void **state)
{
	inventory_client  *tcp = NULL;
	inventory_product *created, *p = NULL;
	inventory_status   st;
	char               name[128], id[37];

	(void)state;
	memset(&st, 0, sizeof(st));
	contract_name(name, sizeof(name), "tcp");
	created = contract_create(name, 1, "1.00");
	assert_code(inventory_client_open(&tcp, testenv_server_tcp()),
	    INVENTORY_OK, &st);
	assert_code(inventory_get_product(tcp, created->id, NULL, &p, &st),
	    INVENTORY_OK, &st);
	assert_string_equal(p->id, created->id);
	assert_int_equal(p->version, 1);
	inventory_product_free(p);
	testenv_uuid(id);
	assert_code(inventory_get_product(tcp, id, NULL, &p, &st),
	    INVENTORY_NOT_FOUND, &st);
	inventory_status_fini(&st);
	inventory_client_close(tcp);
	inventory_product_free(created);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_table),
		cmocka_unit_test(test_get_over_tcp),
	};

	return cmocka_run_group_tests_name(
	    "contract.get", tests, contract_setup, contract_teardown);
}
