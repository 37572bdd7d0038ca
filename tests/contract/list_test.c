/* SPDX-License-Identifier: MIT */
/*
 * Contract: ListProducts through libinventory.
 *  - paging through every product, a small page at a time, yields ids in
 *    strictly increasing order (no duplicate), and every one of the N
 *    products this test created exactly once (no miss), as created;
 *  - the last page's next_page_token is "", every other page's is not;
 *  - page_size 0 is 50, above 1000 is 1000, negative INVALID_ARGUMENT;
 *  - a token that no call returned is INVALID_ARGUMENT;
 *  - a token used again still starts after the page it came from.
 * Other tests may create products meanwhile: the checks hold whatever
 * else the table holds.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"

enum { N = 83, PAGE = 7 };

static inventory_product *mine[N];

static int
by_id(const void *a, const void *b)
{
	const inventory_product *const *x = a, *const *y = b;

	return strcmp((*x)->id, (*y)->id);
}

static int
setup(void **state)
{
	char name[128];

	if (contract_setup(state) != 0) {
		return -1;
	}
	for (int i = 0; i < N; i++) {
		contract_name(name, sizeof(name), "list");
		mine[i] = contract_create(name, i, "2.50");
	}
	qsort(mine, N, sizeof(mine[0]), by_id);
	return 0;
}

static int
teardown(void **state)
{
	for (int i = 0; i < N; i++) {
		inventory_product_free(mine[i]);
		mine[i] = NULL;
	}
	return contract_teardown(state);
}

struct page {
	inventory_code     rv;
	inventory_product *p;
	size_t             n;
	char              *next;
	inventory_status   st;
};

static void
list(int size, const char *token, struct page *pg)
{
	memset(pg, 0, sizeof(*pg));
	pg->n  = 999999;
	pg->rv = inventory_list_products(contract_client, size, token, NULL,
	    &pg->p, &pg->n, &pg->next, &pg->st);
	if (pg->rv == INVENTORY_OK) {
		assert_non_null(pg->next);
		assert_true(pg->n <= INVENTORY_LIST_MAX);
		assert_true(pg->n == 0 ? pg->p == NULL : pg->p != NULL);
	}
}

static void
page_fini(struct page *pg)
{
	inventory_product_free(pg->p);
	free(pg->next);
	inventory_status_fini(&pg->st);
	memset(pg, 0, sizeof(*pg));
}

/* Every product, PAGE at a time: strictly increasing ids across pages,
 * each of mine exactly once and as created. */
static void
test_page_through(void **state)
{
	struct page pg;
	char        last[INVENTORY_ID_LEN + 1] = "";
	char       *token                      = NULL;
	size_t      pages = 0, total = 0, found = 0;

	(void)state;
	for (;;) {
		list(PAGE, token, &pg);
		assert_code(pg.rv, INVENTORY_OK, &pg.st);
		pages++;
		assert_true(pages < 100000);
		if (pg.next[0] != '\0' && pg.n != PAGE) {
			fail_msg("page %zu: %zu products and a next token",
			    pages, pg.n);
		}
		for (size_t i = 0; i < pg.n; i++) {
			const inventory_product *p = &pg.p[i];

			assert_true(contract_is_uuid(p->id));
			if (strcmp(p->id, last) <= 0) {
				fail_msg("page %zu item %zu: id %s after %s "
				         "(duplicate or out of order)",
				    pages, i, p->id, last);
			}
			snprintf(last, sizeof(last), "%s", p->id);
			total++;
			/* mine is sorted and listing is in id order: the
			 * next of mine is the only one that can match. */
			if (found < N && strcmp(p->id, mine[found]->id) == 0) {
				assert_int_equal(p->stock, mine[found]->stock);
				assert_int_equal(
				    p->version, mine[found]->version);
				assert_string_equal(
				    p->name, mine[found]->name);
				assert_string_equal(
				    p->price, mine[found]->price);
				found++;
			} else if (found < N &&
			           strcmp(p->id, mine[found]->id) > 0) {
				fail_msg("product %s was skipped (next seen "
				         "%s)",
				    mine[found]->id, p->id);
			}
		}
		free(token);
		token   = pg.next;
		pg.next = NULL;
		if (token[0] == '\0') {
			page_fini(&pg);
			break;
		}
		page_fini(&pg);
	}
	free(token);
	if (found != N) {
		fail_msg("%zu of my %d products listed (first missing %s)",
		    found, N, mine[found]->id);
	}
	assert_true(total >= N);
	assert_true(pages >= (size_t)(N + PAGE - 1) / PAGE);
}

/* page_size 0 is 50; above 1000 is 1000; a page is never larger. */
static void
test_page_sizes(void **state)
{
	struct page pg;
	size_t      total = 0;
	char       *token = NULL;

	(void)state;
	/* How many products there are, at least (1000 at a time). */
	for (;;) {
		list(1000, token, &pg);
		assert_code(pg.rv, INVENTORY_OK, &pg.st);
		total += pg.n;
		free(token);
		token   = pg.next;
		pg.next = NULL;
		page_fini(&pg);
		if (token[0] == '\0') {
			break;
		}
	}
	free(token);
	assert_true(total >= N);

	list(0, NULL, &pg);
	assert_code(pg.rv, INVENTORY_OK, &pg.st);
	assert_int_equal(pg.n, INVENTORY_LIST_DEFAULT);
	assert_true(pg.next[0] != '\0'); /* at least N > 50 exist */
	page_fini(&pg);

	list(1, NULL, &pg);
	assert_code(pg.rv, INVENTORY_OK, &pg.st);
	assert_int_equal(pg.n, 1);
	assert_true(pg.next[0] != '\0');
	page_fini(&pg);

	for (int size = 1001; size != 0;
	     size     = size == 1001 ? 2147483647 : 0) {
		list(size, NULL, &pg);
		assert_code(pg.rv, INVENTORY_OK, &pg.st);
		if (total > INVENTORY_LIST_MAX) {
			assert_int_equal(pg.n, INVENTORY_LIST_MAX);
			assert_true(pg.next[0] != '\0');
		} else {
			/* Others may have created more meanwhile. */
			assert_true(pg.n >= total);
			if (pg.n < INVENTORY_LIST_MAX) {
				assert_string_equal(pg.next, "");
			}
		}
		page_fini(&pg);
	}
}

static void
test_negative_size(void **state)
{
	struct page pg;

	(void)state;
	for (int size = -1; size != 0;
	     size     = size == -1 ? -2147483647 - 1 : 0) {
		list(size, NULL, &pg);
		assert_code(pg.rv, INVENTORY_INVALID_ARGUMENT, &pg.st);
		assert_int_equal(pg.st.code, INVENTORY_INVALID_ARGUMENT);
		assert_true(pg.st.message[0] != '\0');
		page_fini(&pg);
	}
}

static void
test_bad_tokens(void **state)
{
	static char long_token[4096];
	const char *bad[] = { "x", "not a token", "%%%%", "AAAA",
		"====", long_token };
	struct page pg;

	(void)state;
	memset(long_token, 'A', sizeof(long_token) - 1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		list(5, bad[i], &pg);
		if (pg.rv != INVENTORY_INVALID_ARGUMENT) {
			fail_msg("token '%.40s': got %s, want "
			         "INVALID_ARGUMENT",
			    bad[i], inventory_code_name(pg.rv));
		}
		page_fini(&pg);
	}
}

/* A token is a position, not a session: used twice it starts after the
 * page it came from both times. */
static void
test_token_reused(void **state)
{
	struct page first, a, b;

	(void)state;
	list(3, NULL, &first);
	assert_code(first.rv, INVENTORY_OK, &first.st);
	assert_int_equal(first.n, 3);
	assert_true(first.next[0] != '\0');
	list(3, first.next, &a);
	assert_code(a.rv, INVENTORY_OK, &a.st);
	list(3, first.next, &b);
	assert_code(b.rv, INVENTORY_OK, &b.st);
	assert_true(a.n > 0 && b.n > 0);
	assert_true(strcmp(a.p[0].id, first.p[2].id) > 0);
	assert_true(strcmp(b.p[0].id, first.p[2].id) > 0);
	/* A page size may change between pages (AIP-158). */
	page_fini(&a);
	list(10, first.next, &a);
	assert_code(a.rv, INVENTORY_OK, &a.st);
	assert_true(a.n > 0);
	assert_true(strcmp(a.p[0].id, first.p[2].id) > 0);
	page_fini(&first);
	page_fini(&a);
	page_fini(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_page_through),
		cmocka_unit_test(test_page_sizes),
		cmocka_unit_test(test_negative_size),
		cmocka_unit_test(test_bad_tokens),
		cmocka_unit_test(test_token_reused),
	};

	return cmocka_run_group_tests_name(
	    "contract.list", tests, setup, teardown);
}
