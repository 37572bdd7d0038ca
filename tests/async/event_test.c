/* SPDX-License-Identifier: MIT */
/*
 * async.libevent: libinventory on a libevent event_base through
 * <inventory/adapters/libevent.h>: 10,000 calls, 1,000 in flight, one
 * loop thread, the fixtures' server (loop_test.c says what passes).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <inventory/adapters/libevent.h>

#include "loop_test.h"

static void
event_finished(struct drive *d)
{
	inventory_event_detach(d->loop);
}

static int
event_run_drive(struct drive *d)
{
	struct event_base *base;
	inventory_event    watch;

	if ((base = event_base_new()) == NULL)
		return -1;
	if (inventory_event_attach(&watch, base, d->client) != 0) {
		event_base_free(base);
		return -1;
	}
	d->loop     = &watch;
	d->finished = event_finished;
	drive_start(d);
	event_base_dispatch(base);
	inventory_event_detach(&watch); /* a no-op after finished() */
	event_base_free(base);
	return 0;
}

static void
test_window(void **state)
{
	static const struct loop_ops ops = { "async-libevent",
		event_run_drive };

	(void)state;
	loop_test_run(&ops, 10000, 1000);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_window),
	};

	return cmocka_run_group_tests_name(
	    "async.libevent", tests, NULL, NULL);
}
