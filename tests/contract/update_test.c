/* SPDX-License-Identifier: MIT */
/*
 * Contract: UpdateStock through libinventory.  Each row of the table runs
 * against a fresh product that has already been updated twice (version 3,
 * stock 8), so "stale" versions exist:
 *   OK         version exactly +1, the new stock, updated_at advances,
 *              created_at, name and price unchanged;
 *   ABORTED    a stale version: status->current_version is the latest
 *              (> expected) and status->current the latest product;
 *   NOT_FOUND, INVALID_ARGUMENT (negative/too large stock, version <= 0,
 *              bad uuid).
 * After every failed call the product must be exactly as before.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "contract.h"

enum id_kind { ID_PRODUCT, ID_RANDOM, ID_LITERAL };
enum ver_kind { VER_CURRENT, VER_ABS, VER_REL }; /* REL: current + v */

static const struct update_case {
	const char    *what;
	enum id_kind   id_kind;
	const char    *id;
	int64_t        stock;
	enum ver_kind  ver_kind;
	int64_t        ver;
	inventory_code want;
} cases[] = {
	{ "set stock", ID_PRODUCT, NULL, 7, VER_CURRENT, 0, INVENTORY_OK },
	{ "set stock to 0", ID_PRODUCT, NULL, 0, VER_CURRENT, 0,
	    INVENTORY_OK },
	{ "same stock again", ID_PRODUCT, NULL, 8, VER_CURRENT, 0,
	    INVENTORY_OK },
	{ "max stock", ID_PRODUCT, NULL, 2147483647, VER_CURRENT, 0,
	    INVENTORY_OK },
	{ "stale by one", ID_PRODUCT, NULL, 1, VER_REL, -1,
	    INVENTORY_ABORTED },
	{ "stale: version 1", ID_PRODUCT, NULL, 1, VER_ABS, 1,
	    INVENTORY_ABORTED },
	{ "unknown product", ID_RANDOM, NULL, 1, VER_ABS, 1,
	    INVENTORY_NOT_FOUND },
	{ "negative stock", ID_PRODUCT, NULL, -1, VER_CURRENT, 0,
	    INVENTORY_INVALID_ARGUMENT },
	{ "stock > 2147483647", ID_PRODUCT, NULL, 2147483648LL, VER_CURRENT, 0,
	    INVENTORY_INVALID_ARGUMENT },
	{ "version 0", ID_PRODUCT, NULL, 1, VER_ABS, 0,
	    INVENTORY_INVALID_ARGUMENT },
	{ "negative version", ID_PRODUCT, NULL, 1, VER_ABS, -3,
	    INVENTORY_INVALID_ARGUMENT },
	{ "bad uuid", ID_LITERAL, "not-a-uuid", 1, VER_ABS, 1,
	    INVENTORY_INVALID_ARGUMENT },
	{ "empty id", ID_LITERAL, "", 1, VER_ABS, 1,
	    INVENTORY_INVALID_ARGUMENT },
	{ "version from the future", ID_PRODUCT, NULL, 1, VER_REL, 5,
	    INVENTORY_INVALID_ARGUMENT },
};

/* A product at version 3, stock 8. */
static inventory_product *
fresh_product(const char *what)
{
	inventory_product *p, *q;
	inventory_status   st;
	char               name[128];

	memset(&st, 0, sizeof(st));
	contract_name(name, sizeof(name), what);
	p = contract_create(name, 10, "3.30");
	for (int64_t stock = 9; stock >= 8; stock--) {
		assert_code(inventory_update_stock(contract_client, p->id,
		                stock, p->version, NULL, &q, &st),
		    INVENTORY_OK, &st);
		assert_int_equal(q->version, p->version + 1);
		inventory_product_free(p);
		p = q;
	}
	assert_int_equal(p->version, 3);
	assert_int_equal(p->stock, 8);
	return p;
}

static void
test_update_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct update_case *c = &cases[i];
		inventory_product *sentinel = (inventory_product *)&cases;
		inventory_product *before   = fresh_product(c->what);
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
		/* updated_at must move even within one clock tick. */
		usleep(2000);
		rv = inventory_update_stock(
		    contract_client, id, c->stock, ver, NULL, &p, &st);
		if (rv != c->want) {
			fail_msg(
			    "case '%s' (version %lld): got %s, want %s: %s",
			    c->what, (long long)ver, inventory_code_name(rv),
			    inventory_code_name(c->want), st.message);
		}
		after = contract_get(before->id);
		if (rv == INVENTORY_OK) {
			assert_true(p != sentinel && p != NULL);
			assert_string_equal(p->id, before->id);
			assert_int_equal(p->version, ver + 1);
			assert_int_equal(p->stock, c->stock);
			assert_string_equal(p->name, before->name);
			assert_string_equal(p->price, before->price);
			assert_int_equal(
			    p->created_at_us, before->created_at_us);
			if (p->updated_at_us <= before->updated_at_us) {
				fail_msg(
				    "case '%s': updated_at did not advance "
				    "(%lld -> %lld)",
				    c->what, (long long)before->updated_at_us,
				    (long long)p->updated_at_us);
			}
			/* Stored as returned. */
			assert_int_equal(after->version, p->version);
			assert_int_equal(after->stock, p->stock);
			assert_int_equal(
			    after->updated_at_us, p->updated_at_us);
			inventory_product_free(p);
		} else {
			assert_ptr_equal(p, sentinel);
			assert_int_equal(st.code, rv);
			assert_true(st.message[0] != '\0');
			if (rv == INVENTORY_ABORTED) {
				assert_non_null(st.current);
				assert_int_equal(
				    st.current_version, before->version);
				assert_true(st.current_version > ver);
				assert_int_equal(
				    st.current->version, st.current_version);
				assert_string_equal(
				    st.current->id, before->id);
				assert_int_equal(
				    st.current->stock, before->stock);
				assert_string_equal(
				    st.current->price, before->price);
				assert_int_equal(st.current->updated_at_us,
				    before->updated_at_us);
			} else {
				assert_null(st.current);
			}
			/* Nothing changed. */
			assert_int_equal(after->version, before->version);
			assert_int_equal(after->stock, before->stock);
			assert_int_equal(
			    after->updated_at_us, before->updated_at_us);
		}
		inventory_product_free(after);
		inventory_product_free(before);
		inventory_status_fini(&st);
	}
}

/* A conflict's latest product is the latest committed one, even when the
 * version moved several times since the caller's read. */
static void
test_conflict_reports_latest(void **state)
{
	inventory_product *p = fresh_product("latest"), *q = NULL;
	inventory_status   st;
	int64_t            v = p->version;

	(void)state;
	memset(&st, 0, sizeof(st));
	for (int i = 0; i < 5; i++) {
		assert_code(inventory_update_stock(contract_client, p->id,
		                100 + i, v, NULL, &q, &st),
		    INVENTORY_OK, &st);
		v = q->version;
		inventory_product_free(q);
	}
	assert_code(inventory_update_stock(
	                contract_client, p->id, 1, p->version, NULL, &q, &st),
	    INVENTORY_ABORTED, &st);
	assert_int_equal(st.current_version, p->version + 5);
	assert_non_null(st.current);
	assert_int_equal(st.current->stock, 104);
	/* Retrying with the reported version succeeds. */
	assert_code(inventory_update_stock(contract_client, p->id, 1,
	                st.current_version, NULL, &q, &st),
	    INVENTORY_OK, &st);
	assert_int_equal(q->version, p->version + 6);
	assert_null(st.current); /* reset by the successful call */
	inventory_product_free(q);
	inventory_product_free(p);
	inventory_status_fini(&st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_update_table),
		cmocka_unit_test(test_conflict_reports_latest),
	};

	return cmocka_run_group_tests_name(
	    "contract.update", tests, contract_setup, contract_teardown);
}
