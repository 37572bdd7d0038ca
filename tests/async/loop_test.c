/* SPDX-License-Identifier: MIT */
/*
 * loop_test: the shared body of the adapter tests (loop_test.h).
 *
 * The handle is in INVENTORY_COMPLETE_LOOP mode; the product is created
 * and read back with synchronous calls on the same handle, which must
 * work there (their waits never go through the loop).  Passes only if
 * every call completed OK, on the loop's thread, with the whole window
 * in flight at once, and the product's stock and version show exactly
 * the adjustments that were acknowledged.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

#include "contract.h"
#include "loop_test.h"

void
loop_test_run(const struct loop_ops *ops, long calls, long window)
{
	inventory_client_opts o = { .completion = INVENTORY_COMPLETE_LOOP };
	inventory_client     *c = NULL;
	inventory_product    *p = NULL, *after = NULL;
	inventory_status      st = { 0 };
	struct drive          d  = { .calls = calls, .window = window };
	char                  name[64];

	assert_int_equal(
	    inventory_client_open_opts(&c, testenv_server(), &o), 0);
	assert_true(inventory_client_fd(c) >= 0);
	inventory_client_set_timeout(c, 60000);
	contract_name(name, sizeof(name), ops->name);
	assert_code(
	    inventory_create_product(c, name, 0, "1.00", NULL, &p, &st),
	    INVENTORY_OK, &st);

	d.client = c;
	d.id     = p->id;
	assert_int_equal(ops->run(&d), 0);
	drive_report(&d, ops->name);
	assert_int_equal(d.done, calls);
	assert_int_equal(d.start_failed, 0);
	assert_int_equal(d.ok, calls);
	assert_int_equal(d.wrong_thread, 0);
	/* The window was really in flight at once. */
	assert_true(d.max_pending >= (size_t)window);
	assert_int_equal(inventory_client_pending(c), 0);

	assert_code(inventory_get_product(c, p->id, NULL, &after, &st),
	    INVENTORY_OK, &st);
	assert_int_equal(after->stock, d.adjusts_ok);
	assert_int_equal(after->version, 1 + d.adjusts_ok);
	assert_int_equal(d.adjusts_ok, calls / 10);
	inventory_product_free(after);
	inventory_product_free(p);
	inventory_status_fini(&st);
	inventory_client_close(c);
}
