/* SPDX-License-Identifier: MIT */
/*
 * Contract: request ids make writes safe to repeat.
 *  - an UpdateStock repeated with the same request id right after returns
 *    OK with the same product, and the version moved by exactly one;
 *  - repeated after another write intervened: still the first outcome;
 *  - the same id reused for a different call: ALREADY_EXISTS;
 *  - a CreateProduct repeated with the same id: the same product;
 *  - the same request sent by many threads at once: applied once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "contract.h"

static inventory_product *
update(const char *rid, const char *id, int64_t stock, int64_t ver,
    inventory_code want)
{
	inventory_call_opts opts = { .request_id = rid };
	inventory_product  *p    = NULL;
	inventory_status    st;

	memset(&st, 0, sizeof(st));
	assert_code(inventory_update_stock(
	                contract_client, id, stock, ver, &opts, &p, &st),
	    want, &st);
	inventory_status_fini(&st);
	return p;
}

static void
assert_same(const inventory_product *a, const inventory_product *b)
{
	assert_string_equal(a->id, b->id);
	assert_int_equal(a->stock, b->stock);
	assert_int_equal(a->version, b->version);
	assert_int_equal(a->updated_at_us, b->updated_at_us);
	assert_string_equal(a->price, b->price);
}

static void
test_repeat_right_after(void **state)
{
	inventory_product *p = contract_create("idem-1", 10, "1.00");
	inventory_product *a, *b, *now;
	char               rid[64];

	(void)state;
	testenv_request_id(rid, sizeof(rid));
	a = update(rid, p->id, 9, 1, INVENTORY_OK);
	assert_int_equal(a->version, 2);
	b = update(rid, p->id, 9, 1, INVENTORY_OK);
	assert_same(a, b);
	now = contract_get(p->id);
	assert_int_equal(now->version, 2); /* applied once */
	assert_int_equal(now->stock, 9);
	inventory_product_free(a);
	inventory_product_free(b);
	inventory_product_free(now);
	inventory_product_free(p);
}

static void
test_repeat_after_other_write(void **state)
{
	inventory_product *p = contract_create("idem-2", 10, "1.00");
	inventory_product *a, *b, *c, *now;
	char               r1[64], r2[64];

	(void)state;
	testenv_request_id(r1, sizeof(r1));
	testenv_request_id(r2, sizeof(r2));
	a = update(r1, p->id, 9, 1, INVENTORY_OK);
	b = update(r2, p->id, 4, 2, INVENTORY_OK);
	assert_int_equal(b->version, 3);
	/* The repeat of r1 is answered from the request log: version 2,
	 * stock 9, not a conflict and not a new write. */
	c = update(r1, p->id, 9, 1, INVENTORY_OK);
	assert_same(a, c);
	now = contract_get(p->id);
	assert_int_equal(now->version, 3);
	assert_int_equal(now->stock, 4);
	inventory_product_free(a);
	inventory_product_free(b);
	inventory_product_free(c);
	inventory_product_free(now);
	inventory_product_free(p);
}

static void
test_reuse_for_different_call(void **state)
{
	inventory_product  *p = contract_create("idem-3", 10, "1.00");
	inventory_product  *q = contract_create("idem-3b", 10, "1.00");
	inventory_product  *a, *x = NULL, *now;
	inventory_status    st;
	inventory_call_opts opts;
	char                rid[64];

	(void)state;
	memset(&st, 0, sizeof(st));
	testenv_request_id(rid, sizeof(rid));
	a = update(rid, p->id, 5, 1, INVENTORY_OK);
	/* Same id, different stock. */
	assert_null(update(rid, p->id, 6, 1, INVENTORY_ALREADY_EXISTS));
	/* Same id, different product. */
	assert_null(update(rid, q->id, 5, 1, INVENTORY_ALREADY_EXISTS));
	/* Same id, different method. */
	opts = (inventory_call_opts) { .request_id = rid };
	assert_code(inventory_create_product(
	                contract_client, "idem-3c", 1, "1.00", &opts, &x, &st),
	    INVENTORY_ALREADY_EXISTS, &st);
	assert_null(x);
	now = contract_get(p->id);
	assert_int_equal(now->version, 2);
	assert_int_equal(now->stock, 5);
	inventory_product_free(now);
	now = contract_get(q->id);
	assert_int_equal(now->version, 1); /* untouched */
	inventory_product_free(now);
	inventory_product_free(a);
	inventory_product_free(p);
	inventory_product_free(q);
	inventory_status_fini(&st);
}

static void
test_create_repeated(void **state)
{
	inventory_call_opts opts;
	inventory_product  *a = NULL, *b = NULL, *c = NULL, *up;
	inventory_status    st;
	char                rid[64];

	(void)state;
	memset(&st, 0, sizeof(st));
	testenv_request_id(rid, sizeof(rid));
	opts = (inventory_call_opts) { .request_id = rid };
	assert_code(inventory_create_product(contract_client, "idem-create", 7,
	                "2.20", &opts, &a, &st),
	    INVENTORY_OK, &st);
	assert_code(inventory_create_product(contract_client, "idem-create", 7,
	                "2.20", &opts, &b, &st),
	    INVENTORY_OK, &st);
	assert_string_equal(a->id, b->id);
	assert_int_equal(b->version, 1);
	assert_int_equal(b->created_at_us, a->created_at_us);
	/* After the product changed, the repeat still names the same
	 * product (as created). */
	up = update(NULL, a->id, 1, 1, INVENTORY_OK);
	assert_code(inventory_create_product(contract_client, "idem-create", 7,
	                "2.20", &opts, &c, &st),
	    INVENTORY_OK, &st);
	assert_string_equal(c->id, a->id);
	assert_int_equal(c->version, 1);
	assert_int_equal(c->stock, 7);
	/* A different create under that id is not the same call. */
	inventory_product_free(b);
	b = NULL;
	assert_code(inventory_create_product(contract_client, "other name", 7,
	                "2.20", &opts, &b, &st),
	    INVENTORY_ALREADY_EXISTS, &st);
	assert_null(b);
	inventory_product_free(a);
	inventory_product_free(c);
	inventory_product_free(up);
	inventory_status_fini(&st);
}

/* Many threads send the very same request at once (a client retrying
 * aggressively through several paths): one write, one outcome. */
enum { DUP_THREADS = 8 };

struct dup_arg {
	const char        *rid;
	const char        *id;
	pthread_barrier_t *go;
	inventory_code     rv;
	inventory_product  out;
	char               message[256];
};

static void *
dup_worker(void *p)
{
	struct dup_arg     *a    = p;
	inventory_call_opts opts = { .request_id = a->rid };
	inventory_product  *out  = NULL;
	inventory_status    st;

	memset(&st, 0, sizeof(st));
	pthread_barrier_wait(a->go);
	a->rv = inventory_update_stock(
	    contract_client, a->id, 3, 1, &opts, &out, &st);
	if (out != NULL) {
		a->out = *out;
	}
	snprintf(a->message, sizeof(a->message), "%s", st.message);
	inventory_product_free(out);
	inventory_status_fini(&st);
	return NULL;
}

static void
test_concurrent_duplicates(void **state)
{
	inventory_product *p = contract_create("idem-dup", 10, "1.00"), *now;
	pthread_t          t[DUP_THREADS];
	struct dup_arg     args[DUP_THREADS];
	pthread_barrier_t  go;
	char               rid[64];

	(void)state;
	testenv_request_id(rid, sizeof(rid));
	pthread_barrier_init(&go, NULL, DUP_THREADS);
	for (int i = 0; i < DUP_THREADS; i++) {
		args[i] =
		    (struct dup_arg) { .rid = rid, .id = p->id, .go = &go };
		assert_int_equal(
		    pthread_create(&t[i], NULL, dup_worker, &args[i]), 0);
	}
	for (int i = 0; i < DUP_THREADS; i++) {
		pthread_join(t[i], NULL);
	}
	pthread_barrier_destroy(&go);
	for (int i = 0; i < DUP_THREADS; i++) {
		/* Every copy gets the first outcome: OK at version 2. */
		if (args[i].rv != INVENTORY_OK) {
			fail_msg("duplicate %d: %s: %s", i,
			    inventory_code_name(args[i].rv), args[i].message);
		}
		assert_int_equal(args[i].out.version, 2);
		assert_int_equal(args[i].out.stock, 3);
		assert_int_equal(
		    args[i].out.updated_at_us, args[0].out.updated_at_us);
	}
	now = contract_get(p->id);
	assert_int_equal(now->version, 2);
	inventory_product_free(now);
	inventory_product_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_repeat_right_after),
		cmocka_unit_test(test_repeat_after_other_write),
		cmocka_unit_test(test_reuse_for_different_call),
		cmocka_unit_test(test_create_repeated),
		cmocka_unit_test(test_concurrent_duplicates),
	};

	return cmocka_run_group_tests_name(
	    "contract.idempotency", tests, contract_setup, contract_teardown);
}
