/* SPDX-License-Identifier: MIT */
/*
 * libinventory on a libuv loop: header-only, like hiredis's
 * adapters/libuv.h.
 *
 * Open the handle with inventory_client_opts.completion =
 * INVENTORY_COMPLETE_LOOP, attach it to a loop, and start asynchronous
 * calls from anywhere: their callbacks run on the loop's thread, from a
 * uv_poll_t watching inventory_client_fd().  To finish: detach, let the
 * loop run until the close callback (uv_run), then close the handle
 * (inventory_client_close() runs whatever is still pending, with
 * CANCELLED, in the closing thread).
 *
 *   inventory_uv a;
 *   inventory_uv_attach(&a, uv_default_loop(), client);
 *   inventory_get_product_async(client, id, NULL, on_product, NULL, NULL);
 *   uv_run(uv_default_loop(), UV_RUN_DEFAULT);  // until you detach
 *
 * The struct is the caller's and must stay put while attached.  Not
 * thread-safe: attach and detach on the loop's thread.
 */
#ifndef INVENTORY_ADAPTERS_LIBUV_H
#define INVENTORY_ADAPTERS_LIBUV_H

#include <uv.h>

#include <inventory/client.h>

typedef struct inventory_uv {
	uv_poll_t         poll; /* watches inventory_client_fd() */
	inventory_client *c;    /* the handle, in LOOP mode */
} inventory_uv;

static inline void
inventory_uv__on_ready(uv_poll_t *poll, int status, int events)
{
	inventory_uv *a = (inventory_uv *)poll->data;

	(void)status; /* an error on an eventfd cannot happen: run anyway */
	(void)events;
	(void)inventory_client_process(a->c);
}

/* Watch c (a handle in INVENTORY_COMPLETE_LOOP mode) on loop.  Returns 0
 * or a libuv error (UV_EINVAL for a handle in THREAD mode). */
static inline int
inventory_uv_attach(inventory_uv *a, uv_loop_t *loop, inventory_client *c)
{
	int fd = inventory_client_fd(c);
	int rv;

	if (fd < 0)
		return UV_EINVAL;
	a->c = c;
	if ((rv = uv_poll_init(loop, &a->poll, fd)) != 0)
		return rv;
	a->poll.data = a;
	if ((rv = uv_poll_start(
	         &a->poll, UV_READABLE, inventory_uv__on_ready)) != 0)
		uv_close((uv_handle_t *)&a->poll, NULL);
	return rv;
}

/* Stop watching; on_closed (may be NULL) runs from the loop once libuv
 * is done with the struct. */
static inline void
inventory_uv_detach(inventory_uv *a, uv_close_cb on_closed)
{
	(void)uv_poll_stop(&a->poll);
	uv_close((uv_handle_t *)&a->poll, on_closed);
}

#endif /* INVENTORY_ADAPTERS_LIBUV_H */
