/* SPDX-License-Identifier: MIT */
/*
 * retry: the retry policy libinventory's helpers share (back-off,
 * deadline, attempts, the handle's budget), the synchronous
 * inventory_update_with_retry() (which runs the state machine of
 * retry_async.c and waits for it), and inventory_reserve_with_retry(),
 * which finishes a reservation the same way in the caller's thread.
 *
 * One read, then up to max_attempts conditional writes.  A conflict
 * (ABORTED) carries the latest product, so the change is re-applied to it
 * without another read.  Between writes the caller sleeps a random time
 * in [0, min(max_backoff, initial * 2^retry)] ms ("full jitter"), which
 * spreads competing writers apart instead of letting them collide again
 * in lock step.  Every write based on a new version gets a fresh request
 * id (the first one the caller's, if given).  A write whose outcome is
 * unknown (UNAVAILABLE or DEADLINE_EXCEEDED: it may or may not have been
 * applied) is resent after the same back-off with the SAME request id, so
 * the server either applies it now or returns the outcome it already had:
 * never twice.  A read that fails that way is simply read again.  Each
 * send counts as an attempt.
 *
 * Three things stop the retries: max_attempts; the overall deadline
 * (every call's timeout is cut to what is left of it, and no back-off
 * sleeps past it); and, for unknown outcomes only, the handle's retry
 * budget (retry_budget.h), so an outage does not multiply the load on a
 * struggling server by max_attempts.  The last write sent is reported in
 * inventory_retry_info, so its caller can resolve an unknown outcome by
 * resending it with the same id.
 *
 * A reservation needs no read: it is sent as given, resent with the same
 * id while its outcome is unknown, and after a conflict the caller's fn
 * re-bases the conflicting items on the products the conflict returned;
 * the re-based reservation is a new call with a fresh id.
 *
 * Invariants: the caller's status is reset once and ends up describing
 * the returned code; nothing is leaked on any path.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <inventory/client.h>

#include "internal.h"
#include "retry.h"
#include "rng.h"
#include "rpc.h"

#define RETRY_MAX_ATTEMPTS 10
#define RETRY_INITIAL_MS   2
#define RETRY_MAX_MS       200

/* Whole milliseconds left before the overall deadline (INT_MAX if
 * none; 0 or less when it has passed). */
static int64_t
retry_left_ms(const struct retry_run *r)
{
	if (r->deadline_ns == 0)
		return INT_MAX;
	return (r->deadline_ns - client_now_ns()) / 1000000;
}

int
retry_call_timeout(const struct retry_run *r)
{
	int64_t t    = r->policy.timeout_ms > 0 ? r->policy.timeout_ms
	                                        : client_timeout_ms(r->c);
	int64_t left = retry_left_ms(r);

	if (left < t)
		t = left;
	return t > 0 ? (int)t : 0;
}

/* Sleep ms milliseconds, resuming after signals. */
static void
retry_sleep_ms(uint64_t ms)
{
	struct timespec ts = {
		.tv_sec  = (time_t)(ms / 1000),
		.tv_nsec = (long)(ms % 1000) * 1000000L,
	};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* The cap on the sleep before retry number `retry` (0 for the first). */
static uint64_t
retry_backoff_cap(int initial_ms, int max_ms, int retry)
{
	uint64_t cap = (uint64_t)initial_ms;

	while (retry-- > 0 && cap < (uint64_t)max_ms)
		cap *= 2;
	return cap < (uint64_t)max_ms ? cap : (uint64_t)max_ms;
}

enum retry_stop
retry_decide(struct retry_run *r, inventory_code code, int sent, int retry,
    uint64_t *sleep_ms)
{
	int64_t left;

	if (sent >= r->policy.max_attempts)
		return RETRY_ATTEMPTS;
	if (retry_budget_costly(code) &&
	    !retry_budget_allows(client_retry_budget(r->c)))
		return RETRY_BUDGET;
	*sleep_ms = rng_between0(retry_backoff_cap(
	    r->policy.initial_backoff_ms, r->policy.max_backoff_ms, retry));
	/* A back-off takes at most half of what is left, so the next
	 * attempt still has time: the deadline bounds the wait instead of
	 * the draw ending the retries early.  Below 2 ms nothing fits. */
	left = retry_left_ms(r);
	if (left < 2)
		return RETRY_DEADLINE;
	if ((int64_t)*sleep_ms > left / 2)
		*sleep_ms = (uint64_t)(left / 2);
	return RETRY_GO;
}

/* retry_decide(), then sleep the back-off in this thread (the
 * synchronous reservation helper). */
static enum retry_stop
retry_next(struct retry_run *r, inventory_code code, int sent, int retry)
{
	uint64_t        sleep_ms = 0;
	enum retry_stop why = retry_decide(r, code, sent, retry, &sleep_ms);

	if (why == RETRY_GO)
		retry_sleep_ms(sleep_ms);
	return why;
}

/* Say in st why the retries stopped (keeping the last call's message). */
void
retry_explain(inventory_status *st, const struct retry_run *r,
    enum retry_stop why, int sent)
{
	char last[sizeof(st->message)];

	memcpy(last, st->message, sizeof(last));
	switch (why) {
	case RETRY_ATTEMPTS:
		snprintf(st->message, sizeof(st->message),
		    "%.200s (gave up after %d attempts)", last, sent);
		break;
	case RETRY_DEADLINE:
		snprintf(st->message, sizeof(st->message),
		    "%.180s (gave up: overall deadline of %d ms reached after "
		    "%d attempts)",
		    last, r->policy.deadline_ms, sent);
		break;
	case RETRY_BUDGET:
		snprintf(st->message, sizeof(st->message),
		    "%.180s (gave up after %d attempts: the handle's retry "
		    "budget is spent)",
		    last, sent);
		break;
	case RETRY_GO:
		break;
	}
}

/* Move the status src into dst (dst's old contents released). */
void
retry_status_move(inventory_status *dst, inventory_status *src)
{
	if (dst == NULL) {
		inventory_status_fini(src);
		return;
	}
	inventory_status_fini(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

/* Fail st with code and a message; returns code. */
inventory_code
retry_fail(inventory_status *st, inventory_code code, const char *msg)
{
	inventory_status_fini(st);
	st->code = code;
	snprintf(st->message, sizeof(st->message), "%s", msg);
	return code;
}

/* Take the caller's policy (NULL: the defaults) into r and start the
 * overall deadline's clock.  Returns OK, or INVALID_ARGUMENT in st. */
inventory_code
retry_run_init(struct retry_run *r, inventory_client *c,
    const inventory_retry_opts *opts, inventory_status *st)
{
	size_t idlen;

	memset(r, 0, sizeof(*r));
	r->c = c;
	if (opts != NULL)
		r->policy = *opts;
	if (r->policy.request_id != NULL &&
	    ((idlen = strlen(r->policy.request_id)) == 0 ||
	        idlen > INVENTORY_REQUEST_ID_MAX))
		return retry_fail(st, INVENTORY_INVALID_ARGUMENT,
		    "request_id must be 1..64 bytes");
	if (r->policy.deadline_ms < 0 || r->policy.timeout_ms < 0)
		return retry_fail(st, INVENTORY_INVALID_ARGUMENT,
		    "deadline_ms and timeout_ms must not be negative");
	if (r->policy.max_attempts <= 0)
		r->policy.max_attempts = RETRY_MAX_ATTEMPTS;
	if (r->policy.initial_backoff_ms <= 0)
		r->policy.initial_backoff_ms = RETRY_INITIAL_MS;
	if (r->policy.max_backoff_ms <= 0)
		r->policy.max_backoff_ms = RETRY_MAX_MS;
	if (r->policy.deadline_ms > 0)
		r->deadline_ns =
		    client_now_ns() + (int64_t)r->policy.deadline_ms * 1000000;
	return INVENTORY_OK;
}

/* The id of a new write: the caller's for the first, else fresh. */
void
retry_new_id(const struct retry_run *r, const inventory_retry_info *info,
    char wid[INVENTORY_REQUEST_ID_MAX + 1])
{
	if (info->attempts == 0 && r->policy.request_id != NULL)
		snprintf(wid, INVENTORY_REQUEST_ID_MAX + 1, "%s",
		    r->policy.request_id);
	else
		rng_request_id(wid);
}

/* Send the reservation items (n) with the request id wid until its
 * outcome is known or the policy stops the resends.  Returns the last
 * code; *stopped is set when the policy (deadline, attempts, budget)
 * ended the resends with the outcome unknown, or no time was left to
 * send at all (code DEADLINE_EXCEEDED, nothing sent). */
static inventory_code
reserve_send(struct retry_run *r, const inventory_reserve_item *items,
    size_t n, const char *wid, inventory_product **out, inventory_status *st,
    inventory_item_error **errs, size_t *nerrs, inventory_retry_info *info,
    int *stopped)
{
	inventory_call_opts call = { .request_id = wid };
	inventory_code      code;
	enum retry_stop     why;
	int                 unknown = 0; /* a send of wid is still unknown */

	*stopped = 0;
	for (;;) {
		if ((call.timeout_ms = retry_call_timeout(r)) == 0) {
			*stopped = 1;
			/* The resend could not leave, but the send before it
			 * (same id) may still be applied. */
			info->outcome_unknown = unknown;
			if (st->code == INVENTORY_ABORTED) {
				retry_explain(
				    st, r, RETRY_DEADLINE, info->attempts);
				return INVENTORY_ABORTED;
			}
			return retry_fail(st, INVENTORY_DEADLINE_EXCEEDED,
			    "overall deadline reached before the reservation "
			    "was sent");
		}
		snprintf(
		    info->request_id, sizeof(info->request_id), "%s", wid);
		info->attempts++;
		code = inventory_reserve(
		    r->c, items, n, &call, out, st, errs, nerrs);
		if (!retry_budget_costly(code))
			return code;
		unknown = 1;
		/* Outcome unknown: resend the same reservation. */
		why = retry_next(r, code, info->attempts, info->attempts - 1);
		if (why != RETRY_GO) {
			*stopped              = 1;
			info->outcome_unknown = 1;
			info->throttled       = why == RETRY_BUDGET;
			retry_explain(st, r, why, info->attempts);
			return code;
		}
	}
}

inventory_code
inventory_reserve_with_retry(inventory_client *c,
    const inventory_reserve_item *items, size_t n, inventory_reserve_fn fn,
    void *arg, const inventory_retry_opts *opts, inventory_product **out,
    inventory_status *status, inventory_retry_info *infop)
{
	struct retry_run        r;
	inventory_status        st   = { 0 };
	inventory_retry_info    info = { 0 };
	inventory_reserve_item *mine = NULL; /* the copy fn may change */
	inventory_item_error   *errs = NULL;
	size_t                  nerrs;
	char                    wid[INVENTORY_REQUEST_ID_MAX + 1];
	inventory_code          code;
	enum retry_stop         why;
	int                     stopped;

	if (c == NULL || items == NULL || out == NULL || n == 0 ||
	    n > INVENTORY_RESERVE_MAX) {
		code = retry_fail(&st, INVENTORY_INVALID_ARGUMENT,
		    "client, items and out must not be NULL, and items "
		    "1..100");
		goto out_status;
	}
	if ((code = retry_run_init(&r, c, opts, &st)) != INVENTORY_OK)
		goto out_status;
	if ((mine = malloc(n * sizeof(*mine))) == NULL) {
		code = retry_fail(
		    &st, INVENTORY_RESOURCE_EXHAUSTED, "out of memory");
		goto out_status;
	}
	memcpy(mine, items, n * sizeof(*mine));

	for (;;) {
		retry_new_id(&r, &info, wid);
		code = reserve_send(&r, mine, n, wid, out, &st, &errs, &nerrs,
		    &info, &stopped);
		if (stopped || code != INVENTORY_ABORTED)
			goto out_free;
		if (info.attempts >= r.policy.max_attempts) {
			retry_explain(&st, &r, RETRY_ATTEMPTS, info.attempts);
			goto out_free;
		}
		if (fn == NULL)
			goto out_free; /* the caller re-bases by itself */
		code = fn(mine, n, errs, nerrs, arg);
		free(errs);
		errs = NULL;
		if (code != INVENTORY_OK) {
			inventory_status_fini(&st);
			st.code = code;
			snprintf(st.message, sizeof(st.message),
			    "reserve function stopped with %s after a "
			    "conflict",
			    inventory_code_name(code));
			goto out_free;
		}
		/* Conflicts are the normal path: never throttled. */
		if ((why = retry_next(&r, INVENTORY_ABORTED, info.attempts,
		         info.attempts - 1)) != RETRY_GO) {
			retry_explain(&st, &r, why, info.attempts);
			code = INVENTORY_ABORTED;
			goto out_free;
		}
	}

out_free:
	free(errs);
	free(mine);
out_status:
	if (infop != NULL)
		*infop = info;
	retry_status_move(status, &st);
	return code;
}

inventory_code
inventory_update_with_retry(inventory_client *c, const char *id,
    inventory_update_fn fn, void *arg, const inventory_retry_opts *opts,
    inventory_product **out, inventory_status *status,
    inventory_retry_info *info)
{
	struct waiter  w;
	inventory_code code;

	inventory_status_fini(status);
	if (info != NULL)
		memset(info, 0, sizeof(*info));
	if (out == NULL)
		return client_status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "client, id, fn and out must not be NULL");
	waiter_init(&w);
	code = retry_update_start(
	    c, id, fn, arg, opts, &w, waiter_cb, &w, NULL, status);
	if (code != INVENTORY_OK) {
		waiter_fini(&w);
		return code;
	}
	if ((code = waiter_wait(c, &w, status)) == INVENTORY_OK) {
		*out        = w.r.product;
		w.r.product = NULL;
	}
	if (info != NULL)
		*info = w.r.info;
	rpc_result_fini(&w.r);
	return code;
}
