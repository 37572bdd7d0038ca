/* SPDX-License-Identifier: MIT */
/*
 * drive: the window of asynchronous calls of tests/async (drive.h).
 */
#include <stdio.h>

#include "drive.h"

static void drive_get_done(inventory_result *r, void *arg);
static void drive_adjust_done(inventory_result *r, void *arg);

static void
drive_one(struct drive *d)
{
	long           n = d->started++;
	inventory_code rv;
	size_t         pending;

	if (n % 10 == 9)
		rv = inventory_adjust_stock_async(
		    d->client, d->id, 1, 0, NULL, drive_adjust_done, d, NULL);
	else
		rv = inventory_get_product_async(
		    d->client, d->id, NULL, drive_get_done, d, NULL);
	if (rv != INVENTORY_OK) {
		d->start_failed++;
		d->done++;
	}
	if ((pending = inventory_client_pending(d->client)) > d->max_pending)
		d->max_pending = pending;
}

/* One call's outcome; then the next call. */
static void
drive_done(struct drive *d, inventory_result *r)
{
	if (!pthread_equal(pthread_self(), d->loop_thread))
		d->wrong_thread++;
	if ((unsigned)r->code < 17)
		d->codes[r->code]++;
	/* OK always carries the product (a missing one counts as an
	 * error, INTERNAL). */
	if (r->code == INVENTORY_OK && r->product != NULL &&
	    r->product->version >= 1)
		d->ok++;
	else if (r->code == INVENTORY_OK)
		d->codes[INVENTORY_INTERNAL]++;
	d->done++;
	if (d->started < d->calls)
		drive_one(d);
	if (d->done == d->calls)
		d->finished(d);
}

static void
drive_get_done(inventory_result *r, void *arg)
{
	drive_done(arg, r);
}

static void
drive_adjust_done(inventory_result *r, void *arg)
{
	struct drive *d = arg;

	if (r->code == INVENTORY_OK)
		d->adjusts_ok++;
	drive_done(d, r);
}

void
drive_start(struct drive *d)
{
	d->loop_thread = pthread_self();
	while (d->started < d->window && d->started < d->calls)
		drive_one(d);
	if (d->done == d->calls)
		d->finished(d);
}

void
drive_report(const struct drive *d, const char *what)
{
	printf("%s: %ld calls, %ld OK, max %zu pending, %ld on another "
	       "thread",
	    what, d->done, d->ok, d->max_pending, d->wrong_thread);
	for (int i = 0; i < 17; i++)
		if (d->codes[i] > 0 && i != INVENTORY_OK)
			printf(", %s %ld",
			    inventory_code_name((inventory_code)i),
			    d->codes[i]);
	printf("\n");
}
