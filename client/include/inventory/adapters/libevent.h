/* SPDX-License-Identifier: MIT */
/*
 * libinventory on a libevent 2 event_base: header-only, like hiredis's
 * adapters/libevent.h.
 *
 * Open the handle with inventory_client_opts.completion =
 * INVENTORY_COMPLETE_LOOP, attach it to a base, and start asynchronous
 * calls from anywhere: their callbacks run on the base's thread, from a
 * persistent read event on inventory_client_fd().  To finish: detach
 * (the event is freed at once), then close the handle.
 *
 *   inventory_event a;
 *   inventory_event_attach(&a, base, client);
 *   inventory_get_product_async(client, id, NULL, on_product, NULL, NULL);
 *   event_base_dispatch(base);  // until you detach
 *
 * Not thread-safe: attach and detach on the base's thread.
 */
#ifndef INVENTORY_ADAPTERS_LIBEVENT_H
#define INVENTORY_ADAPTERS_LIBEVENT_H

#include <event2/event.h>

#include <inventory/client.h>

typedef struct inventory_event {
	struct event     *ev; /* EV_READ | EV_PERSIST on the handle's fd */
	inventory_client *c;  /* the handle, in LOOP mode */
} inventory_event;

static inline void
inventory_event__on_ready(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)inventory_client_process((inventory_client *)arg);
}

/* Watch c (a handle in INVENTORY_COMPLETE_LOOP mode) on base.  Returns 0,
 * or -1 (a handle in THREAD mode, or libevent could not make the
 * event). */
static inline int
inventory_event_attach(
    inventory_event *a, struct event_base *base, inventory_client *c)
{
	int fd = inventory_client_fd(c);

	a->ev = NULL;
	a->c  = c;
	if (fd < 0)
		return -1;
	a->ev = event_new(
	    base, fd, EV_READ | EV_PERSIST, inventory_event__on_ready, c);
	if (a->ev == NULL)
		return -1;
	if (event_add(a->ev, NULL) != 0) {
		event_free(a->ev);
		a->ev = NULL;
		return -1;
	}
	return 0;
}

/* Stop watching and free the event.  Safe on a struct never attached
 * successfully. */
static inline void
inventory_event_detach(inventory_event *a)
{
	if (a->ev != NULL)
		event_free(a->ev);
	a->ev = NULL;
}

#endif /* INVENTORY_ADAPTERS_LIBEVENT_H */
