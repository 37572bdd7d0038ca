/* SPDX-License-Identifier: MIT */
/*
 * rpc: what rpc.c lends the retry helpers, private to libinventory.
 *
 * A start names where the outcome goes (cb, arg), whether it completes
 * directly (a synchronous caller waits: never through the loop queue),
 * the helper it is a step of (parent, for cancellation) and where a
 * failure to start is described (st, may be NULL).
 */
#ifndef INVENTORY_CLIENT_RPC_H
#define INVENTORY_CLIENT_RPC_H

#include <pthread.h>

#include "internal.h"

struct rpc_start {
	inventory_client          *c;
	const inventory_call_opts *opts;   /* may be NULL */
	inventory_status          *st;     /* a failed start's why; NULL */
	struct waiter             *waiter; /* see struct call */
	inventory_callback         cb;
	void                      *arg;
	struct call               *parent; /* the helper's OP, or NULL */
	inventory_call_id         *idp;    /* gets the id; may be NULL */
};

inventory_code rpc_get_start(const struct rpc_start *s, const char *id);
inventory_code rpc_update_start(const struct rpc_start *s, const char *id,
    int64_t stock, int64_t expected_version);
/* A back-off: the callback runs with OK after ms, or CANCELLED. */
inventory_code rpc_sleep_start(const struct rpc_start *s, int64_t ms);
void           rpc_result_fini(inventory_result *r);

#endif /* INVENTORY_CLIENT_RPC_H */
