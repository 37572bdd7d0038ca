/* SPDX-License-Identifier: MIT */
/*
 * async_libevent: GetProduct CALLS times with IN_FLIGHT calls in flight,
 * on one libevent event_base thread (no thread of the program's own).
 *
 *   inventory-example-libevent URL PRODUCT_ID [CALLS [IN_FLIGHT]]
 *
 * Each callback starts the next call until CALLS were started; the last
 * one detaches the handle from the base, so the dispatch returns.
 */
#include <stdio.h>
#include <stdlib.h>

#include <inventory/adapters/libevent.h>
#include <inventory/client.h>

struct run {
	inventory_client *client;
	inventory_event   watch;
	const char       *id;
	long              calls, started, done, ok;
};

static void on_product(inventory_result *r, void *arg);

static void
start_one(struct run *run)
{
	run->started++;
	if (inventory_get_product_async(run->client, run->id, NULL, on_product,
	        run, NULL) != INVENTORY_OK)
		run->done++; /* never started: no callback will come */
}

static void
on_product(inventory_result *r, void *arg)
{
	struct run *run = arg;

	if (r->code == INVENTORY_OK)
		run->ok++;
	else if (run->ok == 0 && run->done == 0)
		fprintf(stderr, "get: %s: %s\n", inventory_code_name(r->code),
		    r->status.message);
	run->done++;
	if (run->started < run->calls)
		start_one(run);
	else if (run->done == run->calls)
		inventory_event_detach(&run->watch);
}

int
main(int argc, char **argv)
{
	inventory_client_opts o   = { .completion = INVENTORY_COMPLETE_LOOP };
	struct run            run = { 0 };
	struct event_base    *base;
	long                  window;

	if (argc < 3 || argc > 5) {
		fprintf(stderr,
		    "usage: inventory-example-libevent URL PRODUCT_ID [CALLS "
		    "[IN_FLIGHT]]\n");
		return 2;
	}
	run.id    = argv[2];
	run.calls = argc > 3 ? strtol(argv[3], NULL, 10) : 1000;
	window    = argc > 4 ? strtol(argv[4], NULL, 10) : 100;
	if (run.calls <= 0 || window <= 0) {
		fprintf(stderr, "CALLS and IN_FLIGHT must be positive\n");
		return 2;
	}
	if ((base = event_base_new()) == NULL)
		return 1;
	if (inventory_client_open_opts(&run.client, argv[1], &o) !=
	        INVENTORY_OK ||
	    inventory_event_attach(&run.watch, base, run.client) != 0) {
		fprintf(stderr, "cannot open %s\n", argv[1]);
		inventory_client_close(run.client);
		event_base_free(base);
		return 1;
	}
	for (long i = 0; i < window && run.started < run.calls; i++)
		start_one(&run);
	if (run.done == run.calls) /* every start failed */
		inventory_event_detach(&run.watch);
	event_base_dispatch(base);
	printf("%ld of %ld calls OK\n", run.ok, run.calls);
	inventory_client_close(run.client);
	event_base_free(base);
	return run.ok == run.calls ? 0 : 1;
}
