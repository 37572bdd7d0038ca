/*
 * retry: inventory_update_with_retry(), optimistic read-modify-write
 * built on the public calls only.
 *
 * One read, then up to max_attempts conditional writes.  A conflict
 * (ABORTED) carries the latest product, so the change is re-applied to it
 * without another read.  Between writes the caller sleeps a random time
 * in [0, min(max_backoff, initial * 2^retry)] ms ("full jitter"), which
 * spreads competing writers apart instead of letting them collide again
 * in lock step.  Every write based on a new version gets a fresh request
 * id.  A write whose outcome is unknown (UNAVAILABLE or DEADLINE_EXCEEDED:
 * it may or may not have been applied) is resent after the same back-off
 * with the SAME request id, so the server either applies it now or returns
 * the outcome it already had: never twice.  Each send counts as an
 * attempt.
 *
 * Invariants: the caller's status is reset once and ends up describing
 * the returned code; nothing is leaked on any path.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <inventory/client.h>

#include "rng.h"

#define RETRY_MAX_ATTEMPTS 10
#define RETRY_INITIAL_MS   2
#define RETRY_MAX_MS       200

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

/* Move the status src into dst (dst's old contents released). */
static void
status_move(inventory_status *dst, inventory_status *src)
{
	if (dst == NULL) {
		inventory_status_fini(src);
		return;
	}
	inventory_status_fini(dst);
	*dst = *src;
	memset(src, 0, sizeof(*src));
}

inventory_code
inventory_update_with_retry(inventory_client *c, const char *id,
    inventory_update_fn fn, void *arg, const inventory_retry_opts *opts,
    inventory_product **out, inventory_status *status, int *attempts)
{
	inventory_retry_opts policy = { 0 };
	inventory_call_opts  call   = { 0 };
	inventory_status     st     = { 0 };
	inventory_product   *cur    = NULL, *written;
	inventory_product    latest;
	char                 request_id[RNG_REQUEST_ID_LEN + 1];
	int                  tried = 0;
	int64_t              new_stock;
	inventory_code       code;

	if (attempts != NULL)
		*attempts = 0;
	if (c == NULL || id == NULL || fn == NULL || out == NULL) {
		st.code = INVENTORY_INVALID_ARGUMENT;
		snprintf(st.message, sizeof(st.message),
		    "client, id, fn and out must not be NULL");
		code = st.code;
		goto out_status;
	}
	if (opts != NULL)
		policy = *opts;
	if (policy.max_attempts <= 0)
		policy.max_attempts = RETRY_MAX_ATTEMPTS;
	if (policy.initial_backoff_ms <= 0)
		policy.initial_backoff_ms = RETRY_INITIAL_MS;
	if (policy.max_backoff_ms <= 0)
		policy.max_backoff_ms = RETRY_MAX_MS;
	call.timeout_ms = policy.timeout_ms > 0 ? policy.timeout_ms : 0;

	if ((code = inventory_get_product(c, id, &call, &cur, &st)) !=
	    INVENTORY_OK)
		goto out_status;
	latest = *cur;
	inventory_product_free(cur);

	for (;;) {
		code = fn(&latest, &new_stock, arg);
		if (code != INVENTORY_OK) {
			/* The caller's function stopped: its code, no
			 * conflict detail (that belongs to ABORTED only). */
			inventory_status_fini(&st);
			st.code = code;
			snprintf(st.message, sizeof(st.message),
			    "update function stopped with %s at version %lld",
			    inventory_code_name(code),
			    (long long)latest.version);
			goto out_status;
		}
		rng_request_id(request_id);
		call.request_id = request_id;
		for (;;) {
			tried++;
			code = inventory_update_stock(c, id, new_stock,
			    latest.version, &call, &written, &st);
			if ((code != INVENTORY_UNAVAILABLE &&
			        code != INVENTORY_DEADLINE_EXCEEDED) ||
			    tried >= policy.max_attempts)
				break;
			/* Outcome unknown: resend the same write. */
			retry_sleep_ms(rng_between0(
			    retry_backoff_cap(policy.initial_backoff_ms,
			        policy.max_backoff_ms, tried - 1)));
		}
		if (code == INVENTORY_OK) {
			*out = written;
			goto out_status;
		}
		if (code != INVENTORY_ABORTED || tried >= policy.max_attempts)
			goto out_status;
		if (st.current != NULL) {
			latest = *st.current;
		} else {
			/* A conflict without the latest product (not per
			 * contract): fall back to reading it. */
			code = inventory_get_product(c, id, &call, &cur, &st);
			if (code != INVENTORY_OK)
				goto out_status;
			latest = *cur;
			inventory_product_free(cur);
		}
		retry_sleep_ms(
		    rng_between0(retry_backoff_cap(policy.initial_backoff_ms,
		        policy.max_backoff_ms, tried - 1)));
	}

out_status:
	if (attempts != NULL)
		*attempts = tried;
	status_move(status, &st);
	return code;
}
