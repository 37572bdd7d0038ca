/* SPDX-License-Identifier: MIT */
/*
 * retry_budget: the retry budget of a client handle, gRPC-style retry
 * throttling (gRFC A6), private to libinventory.
 *
 * A token bucket shared by every call on one handle.  It starts full
 * (max tokens).  Each call that fails in a way that says the service is
 * unwell (UNAVAILABLE, or DEADLINE_EXCEEDED: the outcome is unknown)
 * takes one token (shared among the calls of one frame); each OK returns
 * `ratio` of a token; other answers
 * (a conflict, NOT_FOUND, ...) come from a healthy server and change
 * nothing.  A retry of such a failure is allowed only while more than
 * half the tokens are left, so during an outage every caller's first
 * attempt still goes out but retries stop after about max/2 failures,
 * and traffic is not multiplied by max_attempts.  Conflicts (ABORTED)
 * are the normal optimistic-concurrency path and are never throttled.
 *
 * Tokens are kept in thousandths in one atomic int, so the bucket needs
 * no lock; every update is a compare-and-swap that keeps the count in
 * [0, max].  Header-only (static inline) so unit tests use it as is.
 */
#ifndef INVENTORY_CLIENT_RETRY_BUDGET_H
#define INVENTORY_CLIENT_RETRY_BUDGET_H

#include <stdatomic.h>
#include <stddef.h>

#include <inventory/client.h>

#define RETRY_BUDGET_MAX_TOKENS  10  /* default bucket size, tokens */
#define RETRY_BUDGET_RATIO_MILLI 100 /* default refill per OK: 0.1 */
#define RETRY_BUDGET_TOKENS_CAP  1000

struct retry_budget {
	atomic_int milli;       /* tokens × 1000, in [0, max_milli] */
	int        max_milli;   /* bucket size × 1000 */
	int        ratio_milli; /* what one OK returns, × 1000 */
	int        off;         /* non-zero: never throttle */
};

/* Fill the bucket: max_tokens (0: 10, capped at 1000), ratio_milli
 * thousandths of a token per OK (0: 100), off non-zero disables it. */
static inline void
retry_budget_init(
    struct retry_budget *b, int max_tokens, int ratio_milli, int off)
{
	if (max_tokens <= 0)
		max_tokens = RETRY_BUDGET_MAX_TOKENS;
	if (max_tokens > RETRY_BUDGET_TOKENS_CAP)
		max_tokens = RETRY_BUDGET_TOKENS_CAP;
	if (ratio_milli <= 0)
		ratio_milli = RETRY_BUDGET_RATIO_MILLI;
	b->max_milli   = max_tokens * 1000;
	b->ratio_milli = ratio_milli;
	b->off         = off != 0;
	atomic_init(&b->milli, b->max_milli);
}

/* Add delta thousandths (may be negative), clamped to [0, max]. */
static inline void
retry_budget_add(struct retry_budget *b, int delta)
{
	int old = atomic_load_explicit(&b->milli, memory_order_relaxed);
	int nv;

	do {
		nv = old + delta;
		if (nv < 0)
			nv = 0;
		if (nv > b->max_milli)
			nv = b->max_milli;
		if (nv == old)
			return;
	} while (!atomic_compare_exchange_weak_explicit(
	    &b->milli, &old, nv, memory_order_relaxed, memory_order_relaxed));
}

/* True for the outcomes that cost a token (and may be retried). */
static inline int
retry_budget_costly(inventory_code code)
{
	return code == INVENTORY_UNAVAILABLE ||
	       code == INVENTORY_DEADLINE_EXCEEDED;
}

/* Account for the outcome of one call that travelled in a frame of
 * `shared` calls (1: alone; 0 counts as 1): OK returns ratio, UNAVAILABLE
 * and DEADLINE_EXCEEDED take 1/shared of a token, anything else changes
 * nothing.  A failed frame thus costs one token however many calls it
 * carried, as its retry costs about one frame: a connection reset under
 * a coalescing handle is one event, not one per caller. */
static inline void
retry_budget_record_shared(
    struct retry_budget *b, inventory_code code, size_t shared)
{
	int cost;

	if (code == INVENTORY_OK) {
		retry_budget_add(b, b->ratio_milli);
	} else if (retry_budget_costly(code)) {
		cost = shared > 1 ? (int)(1000 / shared) : 1000;
		retry_budget_add(b, cost > 0 ? -cost : -1);
	}
}

/* The outcome of a call that travelled alone. */
static inline void
retry_budget_record(struct retry_budget *b, inventory_code code)
{
	retry_budget_record_shared(b, code, 1);
}

/* True if a retry of a costly failure may be sent now: more than half
 * the tokens are left (or throttling is off). */
static inline int
retry_budget_allows(struct retry_budget *b)
{
	return b->off || atomic_load_explicit(&b->milli,
	                     memory_order_relaxed) > b->max_milli / 2;
}

/* Tokens left, in thousandths (for messages and tests). */
static inline int
retry_budget_milli(struct retry_budget *b)
{
	return atomic_load_explicit(&b->milli, memory_order_relaxed);
}

/* What client.c lends the retry helper (both thread-safe). */
struct retry_budget *client_retry_budget(inventory_client *c);
int                  client_timeout_ms(inventory_client *c);

#endif /* INVENTORY_CLIENT_RETRY_BUDGET_H */
