/* SPDX-License-Identifier: MIT */
/*
 * watch: a probe per server URL, so that a silent server's connections
 * are closed and their frames resent elsewhere (see watch.c).
 *
 * Ownership: the watch belongs to the handle (c->watch); made by open,
 * freed by close after the handle's socket is closed (its pipe events
 * reach the watch until then).
 */
#ifndef INVENTORY_CLIENT_WATCH_H
#define INVENTORY_CLIENT_WATCH_H

#include <stddef.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include <inventory/client.h>

/* Make c's watch from o's probe settings (none when they turn probes
 * off).  0, or -1 when out of memory. */
int watch_create(inventory_client *c, const inventory_client_opts *o);
/* url's dialers are c->dialers[first .. first + n); tls is held when not
 * NULL.  0, or -1 when out of memory. */
int watch_add_url(inventory_client *c, const char *url, nng_tls_config *tls,
    size_t first, size_t n);
/* Start probing (with the first call), when there are two URLs or more. */
void watch_start(inventory_client *c);
/* A reply reached the handle through connection p: its server is not
 * silent (never taken down meanwhile). */
void watch_heard(inventory_client *c, nng_pipe p);
/* A connection of the handle came (ADD_POST) or went (REM_POST). */
void watch_pipe_event(inventory_client *c, nng_pipe p, nng_pipe_ev ev);
/* Stop the probes and close their sockets; waits for their callbacks. */
void watch_stop(inventory_client *c);
/* watch_stop(), then free; c->watch becomes NULL. */
void watch_free(inventory_client *c);

#endif
