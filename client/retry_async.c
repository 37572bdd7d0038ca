/* SPDX-License-Identifier: MIT */
/*
 * retry_async: inventory_update_with_retry_async(), the optimistic
 * read-modify-write loop as a state machine driven by completions, so no
 * thread sleeps or waits for it; the synchronous helper runs it too.
 *
 * States: READ (a GetProduct in flight), WRITE (an UpdateStock in
 * flight), and the back-offs between them, which are timers
 * (rpc_sleep_start) rather than sleeps.  The policy is retry.c's, the
 * same as every helper's: after a conflict the change is re-applied to
 * the product the conflict returned (no extra read) after a jittered
 * back-off; a write whose outcome is unknown is resent with the SAME
 * request id after the back-off; a read that fails that way is read
 * again; max_attempts, the overall deadline (a back-off takes at most
 * half of what is left) and, for unknown outcomes only, the handle's
 * retry budget stop it.
 *
 * The helper is an OP call in the handle's id table, so
 * inventory_cancel() reaches it: the cancel marks it and cancels its
 * step in flight, whose CANCELLED ends it; a step started after the mark
 * is refused by the pump.  At most one step is in flight at a time, so
 * the state is touched by one thread at a time (each step's completion
 * starts the next, with the pump's mutex ordering them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "retry.h"
#include "rng.h"
#include "rpc.h"

/* One run of the helper. */
struct rmw {
	inventory_client    *c;
	struct call         *op;     /* its OP call: id, completion */
	struct retry_run     r;      /* policy and deadline */
	char                *id;     /* the product, a copy */
	inventory_update_fn  fn;     /* the caller's change */
	void                *fnarg;  /* ... and its argument */
	inventory_retry_info info;   /* what it did */
	inventory_status     st;     /* the last call's status */
	inventory_product    latest; /* the product the next write bases on */
	int64_t              new_stock;
	char                 wid[INVENTORY_REQUEST_ID_MAX + 1]; /* write id */
	inventory_product   *written; /* OK: the written product */
	inventory_code       code;    /* the outcome, once finished */
	int                  reread;  /* after the back-off: read first */
};

static void rmw_read(struct rmw *m);
static void rmw_write(struct rmw *m);
static void rmw_apply(struct rmw *m);

/* The OP's completion: the outcome to the caller's callback. */
static void
rmw_done(struct call *op)
{
	struct rmw      *m = op->arg;
	inventory_result r;

	memset(&r, 0, sizeof(r));
	r.code = m->code;
	if (m->code != INVENTORY_OK) {
		r.status = m->st;
		memset(&m->st, 0, sizeof(m->st));
		r.status.code = m->code;
	}
	r.product  = m->written;
	m->written = NULL;
	r.info     = m->info;
	op->cb(&r, op->cb_arg);
	rpc_result_fini(&r);
	inventory_status_fini(&m->st);
	free(m->written);
	free(m->id);
	free(m);
}

/* End the run with code (its status in m->st). */
static void
rmw_finish(struct rmw *m, inventory_code code)
{
	m->code = code;
	pump_op_finish(m->c, m->op);
}

/* A start that failed (closing, cancelled, out of memory): end with it. */
static void
rmw_start_failed(struct rmw *m, inventory_code code)
{
	if (code == INVENTORY_CANCELLED)
		(void)retry_fail(&m->st, code, "cancelled by the caller");
	rmw_finish(m, code);
}

/* The step's start options: this run's direct flag, cb, and OP. */
static struct rpc_start
rmw_step(struct rmw *m, const inventory_call_opts *opts, inventory_callback cb)
{
	struct rpc_start s = {
		.c      = m->c,
		.opts   = opts,
		.st     = &m->st,
		.waiter = m->op->waiter,
		.cb     = cb,
		.arg    = m,
		.parent = m->op,
	};

	return s;
}

/* Take a step's status as the run's last. */
static void
rmw_take_status(struct rmw *m, inventory_result *res)
{
	inventory_status_fini(&m->st);
	if (res->code != INVENTORY_OK) {
		m->st = res->status;
		memset(&res->status, 0, sizeof(res->status));
		m->st.code = res->code;
	}
}

/* A back-off ended: go on where the run left off. */
static void
rmw_after_sleep(inventory_result *res, void *arg)
{
	struct rmw *m = arg;

	if (res->code != INVENTORY_OK) { /* cancelled, or closing */
		/* A write waiting for its resend stays unknown. */
		rmw_take_status(m, res);
		rmw_finish(m, res->code);
		return;
	}
	if (m->reread) {
		m->reread = 0;
		rmw_read(m);
	} else if (m->info.outcome_unknown) {
		/* Resend the same write.  It stays unknown until a resend
		 * gets a definite answer: a deadline that leaves no time
		 * to resend must still report it (rmw_write). */
		rmw_write(m);
	} else if (m->info.attempts == 0) {
		rmw_read(m); /* a read that failed, again */
	} else {
		rmw_apply(m);
	}
}

/* Sleep ms, then rmw_after_sleep(). */
static void
rmw_sleep(struct rmw *m, uint64_t ms)
{
	struct rpc_start s = rmw_step(m, NULL, rmw_after_sleep);
	inventory_code   code;

	if ((code = rpc_sleep_start(&s, (int64_t)ms)) != INVENTORY_OK)
		rmw_start_failed(m, code);
}

static void
rmw_on_read(inventory_result *res, void *arg)
{
	struct rmw     *m = arg;
	enum retry_stop why;
	uint64_t        ms = 0;

	rmw_take_status(m, res);
	if (res->code == INVENTORY_OK) {
		m->latest = *res->product;
		rmw_apply(m);
		return;
	}
	if (!retry_budget_costly(res->code)) {
		rmw_finish(m, res->code);
		return;
	}
	why = retry_decide(
	    &m->r, res->code, m->info.reads, m->info.reads - 1, &ms);
	if (why != RETRY_GO) {
		m->info.throttled = why == RETRY_BUDGET;
		retry_explain(&m->st, &m->r, why, m->info.reads);
		rmw_finish(m, res->code);
		return;
	}
	m->reread = 1;
	rmw_sleep(m, ms);
}

static void
rmw_read(struct rmw *m)
{
	inventory_call_opts call = { 0 };
	struct rpc_start    s    = rmw_step(m, &call, rmw_on_read);
	inventory_code      code;

	if ((call.timeout_ms = retry_call_timeout(&m->r)) == 0) {
		rmw_finish(m, retry_fail(&m->st, INVENTORY_DEADLINE_EXCEEDED,
		                  "overall deadline reached before the read"));
		return;
	}
	m->info.reads++;
	if ((code = rpc_get_start(&s, m->id)) != INVENTORY_OK)
		rmw_start_failed(m, code);
}

/* Apply the caller's change to m->latest and write it with a new id. */
static void
rmw_apply(struct rmw *m)
{
	inventory_code code = m->fn(&m->latest, &m->new_stock, m->fnarg);

	if (code != INVENTORY_OK) {
		/* The caller's function stopped: its code, no conflict
		 * detail (that belongs to ABORTED only). */
		inventory_status_fini(&m->st);
		m->st.code = code;
		snprintf(m->st.message, sizeof(m->st.message),
		    "update function stopped with %s at version %lld",
		    inventory_code_name(code), (long long)m->latest.version);
		rmw_finish(m, code);
		return;
	}
	retry_new_id(&m->r, &m->info, m->wid);
	rmw_write(m);
}

static void
rmw_on_write(inventory_result *res, void *arg)
{
	struct rmw     *m    = arg;
	inventory_code  code = res->code;
	enum retry_stop why;
	uint64_t        ms = 0;

	rmw_take_status(m, res);
	if (retry_budget_costly(code)) {
		/* Outcome unknown: resend the same write after a back-off. */
		m->info.outcome_unknown = 1;
		why                     = retry_decide(
		                        &m->r, code, m->info.attempts, m->info.attempts - 1, &ms);
		if (why != RETRY_GO) {
			m->info.throttled = why == RETRY_BUDGET;
			retry_explain(&m->st, &m->r, why, m->info.attempts);
			rmw_finish(m, code);
			return;
		}
		rmw_sleep(m, ms);
		return;
	}
	/* A definite answer to this write (same id) settles every earlier
	 * send of it; a cancelled one may have been sent. */
	m->info.outcome_unknown = code == INVENTORY_CANCELLED;
	if (code == INVENTORY_OK) {
		m->written   = res->product;
		res->product = NULL;
		rmw_finish(m, code);
		return;
	}
	if (code != INVENTORY_ABORTED) {
		rmw_finish(m, code);
		return;
	}
	if (m->info.attempts >= m->r.policy.max_attempts) {
		retry_explain(&m->st, &m->r, RETRY_ATTEMPTS, m->info.attempts);
		rmw_finish(m, code);
		return;
	}
	if (m->st.current != NULL)
		m->latest = *m->st.current;
	else
		m->reread = 1; /* a conflict without the product (not per
		                * contract): read it after the back-off */
	/* Conflicts are the normal path: never throttled. */
	why = retry_decide(
	    &m->r, code, m->info.attempts, m->info.attempts - 1, &ms);
	if (why != RETRY_GO) {
		retry_explain(&m->st, &m->r, why, m->info.attempts);
		rmw_finish(m, code);
		return;
	}
	rmw_sleep(m, ms);
}

/* Send the write m->wid (new or resent). */
static void
rmw_write(struct rmw *m)
{
	inventory_call_opts call = { .request_id = m->wid };
	struct rpc_start    s    = rmw_step(m, &call, rmw_on_write);
	inventory_code      code;

	if ((call.timeout_ms = retry_call_timeout(&m->r)) == 0) {
		/* The deadline left no time to send this write. */
		if (m->st.code == INVENTORY_ABORTED) {
			retry_explain(
			    &m->st, &m->r, RETRY_DEADLINE, m->info.attempts);
			rmw_finish(m, INVENTORY_ABORTED);
		} else {
			rmw_finish(
			    m, retry_fail(&m->st, INVENTORY_DEADLINE_EXCEEDED,
			           "overall deadline reached before the write "
			           "was sent"));
		}
		return;
	}
	/* info names the last write sent. */
	memcpy(m->info.request_id, m->wid, sizeof(m->wid));
	m->info.new_stock        = m->new_stock;
	m->info.expected_version = m->latest.version;
	m->info.attempts++;
	if ((code = rpc_update_start(
	         &s, m->id, m->new_stock, m->latest.version)) != INVENTORY_OK)
		rmw_start_failed(m, code);
}

inventory_code
retry_update_start(inventory_client *c, const char *id, inventory_update_fn fn,
    void *fnarg, const inventory_retry_opts *opts, struct waiter *waiter,
    inventory_callback cb, void *arg, inventory_call_id *idp,
    inventory_status *st)
{
	struct rmw    *m;
	inventory_code code;

	if (c == NULL || id == NULL || fn == NULL || cb == NULL)
		return client_status_set(st, INVENTORY_INVALID_ARGUMENT,
		    "client, id, fn and out must not be NULL");
	if ((m = calloc(1, sizeof(*m))) == NULL)
		return client_status_set(
		    st, INVENTORY_RESOURCE_EXHAUSTED, "out of memory");
	m->c     = c;
	m->fn    = fn;
	m->fnarg = fnarg;
	if ((code = retry_run_init(&m->r, c, opts, &m->st)) != INVENTORY_OK)
		goto out_fail;
	code = INVENTORY_RESOURCE_EXHAUSTED;
	if ((m->id = strdup(id)) == NULL ||
	    (m->op = call_alloc(c, CALL_OP, 0)) == NULL) {
		(void)retry_fail(&m->st, code, "out of memory");
		goto out_fail;
	}
	m->op->waiter = waiter;
	m->op->done   = rmw_done;
	m->op->cb     = cb;
	m->op->cb_arg = arg;
	m->op->arg    = m;
	if ((code = pump_start(c, m->op)) != INVENTORY_OK) {
		(void)retry_fail(&m->st, code, "the handle is closing");
		goto out_fail;
	}
	if (idp != NULL)
		*idp = m->op->id;
	/* From here the run ends only through rmw_finish(). */
	rmw_read(m);
	return INVENTORY_OK;

out_fail:
	if (st != NULL) {
		inventory_status_fini(st);
		*st = m->st;
	} else {
		inventory_status_fini(&m->st);
	}
	free(m->op);
	free(m->id);
	free(m);
	return code;
}

inventory_code
inventory_update_with_retry_async(inventory_client *c, const char *id,
    inventory_update_fn fn, void *fnarg, const inventory_retry_opts *opts,
    inventory_callback cb, void *arg, inventory_call_id *idp)
{
	return retry_update_start(
	    c, id, fn, fnarg, opts, NULL, cb, arg, idp, NULL);
}
