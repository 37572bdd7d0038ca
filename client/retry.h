/* SPDX-License-Identifier: MIT */
/*
 * retry: the retry policy libinventory's helpers share, private to the
 * library (retry.c implements it; retry_async.c and the synchronous
 * helpers use it).
 *
 * One run of a helper holds its policy (the caller's options with the
 * defaults filled in) and the overall deadline's clock.  The decision
 * after a failed attempt is pure bookkeeping (retry_decide): the caller
 * sleeps or arms a timer for the back-off it returns.
 */
#ifndef INVENTORY_CLIENT_RETRY_H
#define INVENTORY_CLIENT_RETRY_H

#include <stdint.h>

#include <inventory/client.h>

#include "internal.h"

/* Why the loop may not go on. */
enum retry_stop {
	RETRY_GO,       /* the next attempt may be sent */
	RETRY_ATTEMPTS, /* max_attempts reached */
	RETRY_DEADLINE, /* the overall deadline leaves no room */
	RETRY_BUDGET,   /* the handle's retry budget is spent */
};

/* One run of a helper: its policy and clock. */
struct retry_run {
	inventory_client    *c;
	inventory_retry_opts policy;
	int64_t              deadline_ns; /* CLOCK_MONOTONIC; 0: none */
};

/* Take the caller's policy (NULL: the defaults) into r and start the
 * overall deadline's clock.  Returns OK, or INVALID_ARGUMENT in st. */
inventory_code retry_run_init(struct retry_run *r, inventory_client *c,
    const inventory_retry_opts *opts, inventory_status *st);

/* The timeout of the next call: the policy's (or the handle's), cut to
 * what is left of the deadline.  0: no time left for a call. */
int retry_call_timeout(const struct retry_run *r);

/* After a failed attempt (code; sent: attempts of this kind so far,
 * retry: index of the back-off), whether to go on and, if so, the
 * jittered back-off in *sleep_ms (never more than half of what is left
 * of the deadline). */
enum retry_stop retry_decide(struct retry_run *r, inventory_code code,
    int sent, int retry, uint64_t *sleep_ms);

/* Say in st why the retries stopped (keeping the last call's message). */
void retry_explain(inventory_status *st, const struct retry_run *r,
    enum retry_stop why, int sent);

/* Fail st with code and a message; returns code. */
inventory_code retry_fail(
    inventory_status *st, inventory_code code, const char *msg);

/* Move the status src into dst (dst's old contents released; dst NULL:
 * src is released). */
void retry_status_move(inventory_status *dst, inventory_status *src);

/* The id of a new write: the caller's for the first, else fresh. */
void retry_new_id(const struct retry_run *r, const inventory_retry_info *info,
    char wid[INVENTORY_REQUEST_ID_MAX + 1]);

/* Start the read-modify-write state machine (retry_async.c): waiter for
 * a synchronous caller (its steps then run in the caller's thread), cb(r, arg)
 * at the end, *idp its id; a failed start is described in st (may be NULL) and
 * never calls cb. */
inventory_code retry_update_start(inventory_client *c, const char *id,
    inventory_update_fn fn, void *fnarg, const inventory_retry_opts *opts,
    struct waiter *waiter, inventory_callback cb, void *arg,
    inventory_call_id *idp, inventory_status *st);

#endif /* INVENTORY_CLIENT_RETRY_H */
