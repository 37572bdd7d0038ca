/* SPDX-License-Identifier: MIT */
/*
 * loop_test: the test both adapter tests run (uv_test.c, event_test.c),
 * parameterised by the loop: 10,000 calls with 1,000 in flight on one
 * loop thread against the fixtures' server.
 */
#ifndef INVENTORY_TEST_LOOP_TEST_H
#define INVENTORY_TEST_LOOP_TEST_H

#include "drive.h"

/* How a test runs its loop: attach d->client, run until d->finished()
 * detaches it, and tidy up.  0, or -1 when the loop could not start. */
struct loop_ops {
	const char *name;
	int (*run)(struct drive *d);
};

/* Create a product, drive calls/window through ops' loop, and check
 * every outcome, the thread, the window and the writes. */
void loop_test_run(const struct loop_ops *ops, long calls, long window);

#endif
