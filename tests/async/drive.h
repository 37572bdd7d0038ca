/* SPDX-License-Identifier: MIT */
/*
 * drive: keeps a window of asynchronous calls in flight on a handle in
 * INVENTORY_COMPLETE_LOOP mode, from whatever loop runs its completions;
 * shared by the tests of tests/async.  Each completion records its
 * outcome and starts the next call, so the calls stay `window` in flight
 * until `calls` were started; then `finished` (the loop's detach) runs.
 * Every tenth call is an AdjustStock(+1) on the product, the rest are
 * GetProducts, so the test can check the writes afterwards.
 */
#ifndef INVENTORY_TEST_DRIVE_H
#define INVENTORY_TEST_DRIVE_H

#include <pthread.h>
#include <stddef.h>

#include <inventory/client.h>

struct drive {
	inventory_client *client;
	const char       *id;     /* the product */
	long              calls;  /* to make in all */
	long              window; /* in flight at most */
	void (*finished)(struct drive *d);
	void     *loop;        /* the adapter's, for finished() */
	pthread_t loop_thread; /* where every callback must run */
	long      started, done, ok, adjusts_ok, start_failed;
	long      wrong_thread; /* callbacks on another thread */
	size_t    max_pending;  /* inventory_client_pending() seen */
	long      codes[17];    /* outcomes by code */
};

/* Fill the window; call from the loop's thread before running it. */
void drive_start(struct drive *d);

/* Print the outcome counts to stdout. */
void drive_report(const struct drive *d, const char *what);

#endif
