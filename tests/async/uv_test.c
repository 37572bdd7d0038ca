/* SPDX-License-Identifier: MIT */
/*
 * async.libuv: libinventory on a libuv loop through
 * <inventory/adapters/libuv.h>: 10,000 calls, 1,000 in flight, one loop
 * thread, the fixtures' server (loop_test.c says what passes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <inventory/adapters/libuv.h>

#include "loop_test.h"
#include "testenv.h"

static void
uv_finished(struct drive *d)
{
	inventory_uv_detach(d->loop, NULL);
}

static int
uv_run_drive(struct drive *d)
{
	uv_loop_t    loop;
	inventory_uv watch;

	if (uv_loop_init(&loop) != 0)
		return -1;
	if (inventory_uv_attach(&watch, &loop, d->client) != 0) {
		uv_loop_close(&loop);
		return -1;
	}
	d->loop     = &watch;
	d->finished = uv_finished;
	drive_start(d);
	uv_run(&loop, UV_RUN_DEFAULT);
	return uv_loop_close(&loop) == 0 ? 0 : -1;
}

static void
test_window(void **state)
{
	static const struct loop_ops ops = { "async-uv", uv_run_drive };

	(void)state;
	loop_test_run(&ops, 10000, 1000);
}

static void
test_thread_mode_refused(void **state)
{
	inventory_client *c = NULL;
	inventory_uv      watch;
	uv_loop_t         loop;

	(void)state;
	assert_int_equal(inventory_client_open(&c, testenv_server()), 0);
	assert_int_equal(inventory_client_fd(c), -1);
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(inventory_uv_attach(&watch, &loop, c), UV_EINVAL);
	assert_int_equal(uv_loop_close(&loop), 0);
	inventory_client_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
		cmocka_unit_test(test_thread_mode_refused),
	};

	return cmocka_run_group_tests_name("async.libuv", tests, NULL, NULL);
}
