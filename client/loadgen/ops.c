/* SPDX-License-Identifier: MIT */
/*
 * ops: the operations a workload mixes, one function each, and the
 * outcome accounting verify.c relies on: every write the bench issues
 * (UpdateStock, AdjustStock, each item of a ReserveStock) is either
 * acknowledged (OK: counted in the product's `acked` with its stock
 * delta), definitely not applied (ABORTED, FAILED_PRECONDITION and the
 * other rejections), or of unknown outcome (timeout, lost connection,
 * internal error: counted in `unknown` with the direction of its delta).
 * A reply that breaks the contract is recorded as a violation, which
 * fails the run.
 *
 * Each operation is a chain of asynchronous calls on the session's
 * thread's handle (LOOP mode: every callback runs on that thread, so the
 * thread's counters need no lock): its first call is started here, each
 * callback accounts for its call and starts the next, and the last one
 * ends the operation with bench_op_done().  A call that cannot start
 * ends the operation with the start's code.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "bench.h"

static void violation(struct bench_thread *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
violation(struct bench_thread *t, const char *fmt, ...)
{
	va_list ap;

	if (t->contract_violations++ == 0) {
		va_start(ap, fmt);
		vsnprintf(t->violation, sizeof(t->violation), fmt, ap);
		va_end(ap);
	}
}

static void
check_product(struct bench_thread *t, const inventory_product *p)
{
	if (p != NULL && p->stock < 0) {
		t->negative_seen++;
	}
}

static void
record_write(struct bench_product *p, inventory_code rc, int64_t delta)
{
	if (rc == INVENTORY_OK) {
		atomic_fetch_add_explicit(&p->acked, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(
		    &p->acked_delta, delta, memory_order_relaxed);
	} else if (inventory_code_outcome_unknown(rc)) {
		atomic_fetch_add_explicit(
		    &p->unknown, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(
		    delta < 0 ? &p->unknown_neg : &p->unknown_pos, 1,
		    memory_order_relaxed);
	}
}

/* A call could not start: the operation ends with that code. */
static void
start_failed(struct bench_session *s, inventory_code rc)
{
	bench_op_done(s, rc);
}

/* --- get ----------------------------------------------------------------- */

static void
get_cb(inventory_result *r, void *arg)
{
	struct bench_session *s = arg;

	s->t->rpcs++;
	if (r->code == INVENTORY_OK)
		check_product(s->t, r->product);
	bench_op_done(s, r->code);
}

static void
op_get(struct bench_session *s)
{
	inventory_code rc;

	rc = inventory_get_product_async(
	    s->t->client, s->p->id, NULL, get_cb, s, NULL);
	if (rc != INVENTORY_OK)
		start_failed(s, rc);
}

/* --- update: read, then write stock +-1 at the read version; one attempt,
 * a conflict is an outcome ------------------------------------------------ */

static void
update_write_cb(inventory_result *r, void *arg)
{
	struct bench_session    *s   = arg;
	struct bench_thread     *t   = s->t;
	struct bench_product    *p   = s->p;
	const inventory_product *cur = &s->cur;

	t->rpcs++;
	t->writes++;
	record_write(p, r->code, s->delta);
	switch (r->code) {
	case INVENTORY_OK:
		check_product(t, r->product);
		if (r->product->version != cur->version + 1) {
			violation(t,
			    "%s: UpdateStock OK at version %lld, "
			    "expected %lld",
			    p->id, (long long)r->product->version,
			    (long long)cur->version + 1);
		}
		if (r->product->stock != cur->stock + s->delta) {
			violation(t,
			    "%s: UpdateStock OK with stock %lld, "
			    "asked for %lld",
			    p->id, (long long)r->product->stock,
			    (long long)cur->stock + s->delta);
		}
		break;
	case INVENTORY_ABORTED:
		t->conflicts++;
		atomic_fetch_add_explicit(
		    &t->live_conflicts, 1, memory_order_relaxed);
		check_product(t, r->status.current);
		if (r->status.current_version <= cur->version) {
			violation(t,
			    "%s: conflict reports version %lld, "
			    "not newer than the expected %lld",
			    p->id, (long long)r->status.current_version,
			    (long long)cur->version);
		}
		break;
	default:
		break;
	}
	bench_op_done(s, r->code);
}

static void
update_read_cb(inventory_result *r, void *arg)
{
	struct bench_session *s = arg;
	struct bench_thread  *t = s->t;
	inventory_code        rc;

	t->rpcs++;
	if (r->code != INVENTORY_OK) {
		bench_op_done(s, r->code);
		return;
	}
	check_product(t, r->product);
	s->cur   = *r->product;
	s->delta = (bench_rng_next(&t->rng) & 1) ? 1 : -1;
	if (s->cur.stock <= 0) {
		s->delta = 1;
	} else if (s->cur.stock >= INVENTORY_STOCK_MAX) {
		s->delta = -1;
	}
	rc = inventory_update_stock_async(t->client, s->p->id,
	    s->cur.stock + s->delta, s->cur.version, NULL, update_write_cb, s,
	    NULL);
	if (rc != INVENTORY_OK)
		start_failed(s, rc);
}

static void
op_update(struct bench_session *s)
{
	inventory_code rc;

	rc = inventory_get_product_async(
	    s->t->client, s->p->id, NULL, update_read_cb, s, NULL);
	if (rc != INVENTORY_OK)
		start_failed(s, rc);
}

/* --- retry / buy: the library's read-modify-write state machine --------- */

static inventory_code
change_retry(const inventory_product *cur, int64_t *new_stock, void *arg)
{
	struct bench_session *s = arg;
	int64_t               d = s->dir;

	check_product(s->t, cur);
	if (cur->stock <= 0) {
		d = 1;
	} else if (cur->stock >= INVENTORY_STOCK_MAX) {
		d = -1;
	}
	s->rmw_delta = d;
	*new_stock   = cur->stock + d;
	return INVENTORY_OK;
}

static inventory_code
change_buy(const inventory_product *cur, int64_t *new_stock, void *arg)
{
	struct bench_session *s = arg;

	check_product(s->t, cur);
	if (cur->stock <= 0) {
		return INVENTORY_FAILED_PRECONDITION;
	}
	s->rmw_delta = -1;
	*new_stock   = cur->stock - 1;
	return INVENTORY_OK;
}

/* A conflicted attempt was not applied; only the last attempt can be
 * acknowledged or of unknown outcome (the loop stops at the first other
 * error). */
static void
rmw_cb(inventory_result *r, void *arg)
{
	struct bench_session *s        = arg;
	struct bench_thread  *t        = s->t;
	struct bench_product *p        = s->p;
	int                   attempts = r->info.attempts;
	uint64_t              lost     = 0; /* attempts lost to conflicts */
	inventory_code        rc       = r->code;

	if (attempts < 0) {
		attempts = 0;
	}
	t->rpcs += (uint64_t)r->info.reads + (uint64_t)attempts;
	t->writes += (uint64_t)attempts;
	if (attempts > 0) {
		/* Every attempt but the last was a conflict; the last one is
		 * a conflict too if the loop gave up or fn stopped it. */
		lost = (uint64_t)attempts - 1;
		if (rc == INVENTORY_ABORTED ||
		    rc == INVENTORY_FAILED_PRECONDITION) {
			lost++;
		}
		if (rc == INVENTORY_OK || inventory_code_outcome_unknown(rc)) {
			record_write(p, rc, s->rmw_delta);
		}
	}
	if (lost > 0) {
		t->conflicts += lost;
		atomic_fetch_add_explicit(
		    &t->live_conflicts, lost, memory_order_relaxed);
	}
	if (rc == INVENTORY_OK) {
		check_product(t, r->product);
		if (s->op == OP_BUY) {
			atomic_fetch_add_explicit(
			    &p->purchases, 1, memory_order_relaxed);
		}
	} else if (rc == INVENTORY_ABORTED) {
		check_product(t, r->status.current);
	}
	bench_op_done(s, rc);
}

static void
op_rmw(struct bench_session *s, bool buy)
{
	struct bench_thread *t = s->t;
	/* --timeout is also the operation's deadline: the helper's
	 * back-offs then never keep a caller past it (a contended hot key
	 * otherwise costs up to max_attempts back-offs). */
	const inventory_retry_opts ro = {
		.max_attempts = t->b->cfg.max_attempts,
		.timeout_ms   = t->b->cfg.timeout_ms,
		.deadline_ms  = t->b->cfg.timeout_ms,
	};
	inventory_code rc;

	s->dir       = buy ? 0 : ((bench_rng_next(&t->rng) & 1) ? 1 : -1);
	s->rmw_delta = 0;
	rc           = inventory_update_with_retry_async(t->client, s->p->id,
            buy ? change_buy : change_retry, s, &ro, rmw_cb, s, NULL);
	if (rc != INVENTORY_OK)
		start_failed(s, rc);
}

/* --- batchget: batch_size ids, one call, one request --------------------- */

static void
batchget_cb(inventory_result *r, void *arg)
{
	struct bench_session *s = arg;
	struct bench_thread  *t = s->t;
	size_t                i;

	t->rpcs++;
	if (r->code == INVENTORY_OK && r->products != NULL) {
		for (i = 0; i < r->nproducts; i++) {
			check_product(t, &r->products[i]);
			if (strcmp(r->products[i].id, s->ids[i]) != 0) {
				violation(t,
				    "BatchGetProducts: product %zu is %s, "
				    "asked for %s",
				    i, r->products[i].id, s->ids[i]);
				break;
			}
		}
	}
	bench_op_done(s, r->code);
}

/* p and batch_size - 1 more picked the same way.  The id array is the
 * session's, made before the run. */
static void
op_batchget(struct bench_session *s)
{
	struct bench_thread *t = s->t;
	struct bench        *b = t->b;
	size_t               n = (size_t)b->cfg.batch_size;
	inventory_code       rc;

	s->ids[0] = s->p->id;
	for (size_t i = 1; i < n; i++) {
		struct bench_product *q = &b->products[bench_pick_product(t)];

		atomic_fetch_add_explicit(&q->ops, 1, memory_order_relaxed);
		s->ids[i] = q->id;
	}
	rc = inventory_batch_get_products_async(
	    t->client, s->ids, n, NULL, batchget_cb, s, NULL);
	if (rc != INVENTORY_OK)
		start_failed(s, rc);
}

/* --- restocks: part of the operation that found a product sold out ------ */

/* One restock ended; the last one ends the operation with its code. */
static void
restock_cb(inventory_result *r, void *arg)
{
	struct bench_restock *rs = arg;
	struct bench_session *s  = rs->s;
	struct bench_thread  *t  = s->t;

	t->rpcs++;
	t->writes++;
	t->restocks++;
	record_write(rs->p, r->code, bench_restock_units(t->b));
	if (r->code == INVENTORY_OK)
		check_product(t, r->product);
	/* OUT_OF_RANGE: others restocked it already, far enough. */
	if (--s->restocks == 0)
		bench_op_done(s, s->rc);
}

/* Put bench_restock_units() back on p with one AdjustStock, accounted
 * like every write; its status is not the operation's.  The caller ends
 * the operation once s->restocks drops to 0 (after starting them all). */
static void
restock(struct bench_session *s, struct bench_product *p)
{
	struct bench_restock *rs = &s->rs[s->restocks];
	struct bench_thread  *t  = s->t;

	rs->s = s;
	rs->p = p;
	s->restocks++;
	if (inventory_adjust_stock_async(t->client, p->id,
	        bench_restock_units(t->b), 0, NULL, restock_cb, rs,
	        NULL) != INVENTORY_OK)
		s->restocks--; /* not sent: nothing to account */
}

/* Start the restocks of the n products in need, or end the operation
 * now if none went out.  Their callbacks run from the thread's loop,
 * never inside a start, so none ends the operation before all started. */
static void
restock_then_done(struct bench_session *s, inventory_code rc,
    struct bench_product *const *need, size_t n)
{
	s->rc       = rc;
	s->restocks = 0;
	for (size_t i = 0; i < n; i++)
		restock(s, need[i]);
	if (s->restocks == 0)
		bench_op_done(s, rc);
}

/* --- adjust: AdjustStock(-1), no read and no conflict however hot ------- */

static void
adjust_cb(inventory_result *r, void *arg)
{
	struct bench_session *s        = arg;
	struct bench_thread  *t        = s->t;
	struct bench_product *p        = s->p;
	bool                  sold_out = false;

	t->rpcs++;
	t->writes++;
	record_write(p, r->code, -1);
	switch (r->code) {
	case INVENTORY_OK:
		check_product(t, r->product);
		atomic_fetch_add_explicit(
		    &p->purchases, 1, memory_order_relaxed);
		sold_out = r->product->stock == 0;
		break;
	case INVENTORY_FAILED_PRECONDITION:
		t->refusals++;
		check_product(t, r->status.current);
		/* Refused for too little stock yet showing some: only a
		 * restock that landed in between explains it, and
		 * AdjustStock(-1) needs just one unit. */
		sold_out = !(
		    r->status.current != NULL && r->status.current->stock > 0);
		break;
	case INVENTORY_ABORTED:
		/* No expected_version was sent: nothing to conflict with. */
		violation(
		    t, "%s: AdjustStock without a version: ABORTED", p->id);
		break;
	default:
		break;
	}
	restock_then_done(s, r->code, &s->p, sold_out ? 1 : 0);
}

static void
op_adjust(struct bench_session *s)
{
	inventory_code rc;

	rc = inventory_adjust_stock_async(
	    s->t->client, s->p->id, -1, 0, NULL, adjust_cb, s, NULL);
	if (rc != INVENTORY_OK)
		start_failed(s, rc);
}

/* --- reserve: one unit each of 1..5 distinct products, all or nothing;
 * items whose product ran out restock ----------------------------------- */

static void
reserve_cb(inventory_result *r, void *arg)
{
	struct bench_session *s = arg;
	struct bench_thread  *t = s->t;
	struct bench_product *need[BENCH_RESERVE_ITEMS_MAX];
	size_t                n = s->nprods, nneed = 0, i;

	t->rpcs++;
	t->writes++;
	/* All or nothing: every item shares the reservation's outcome. */
	for (i = 0; i < n; i++)
		record_write(s->prods[i], r->code, -1);
	switch (r->code) {
	case INVENTORY_OK:
		if (r->products == NULL) { /* never on OK: NEVER() */
			violation(t, "ReserveStock: OK without products");
			break;
		}
		for (i = 0; i < n; i++) {
			check_product(t, &r->products[i]);
			if (strcmp(r->products[i].id, s->prods[i]->id) != 0) {
				violation(t,
				    "ReserveStock: product %zu is %s, "
				    "reserved %s",
				    i, r->products[i].id, s->prods[i]->id);
				break;
			}
			atomic_fetch_add_explicit(
			    &s->prods[i]->purchases, 1, memory_order_relaxed);
		}
		for (i = 0; i < n; i++)
			if (r->products[i].stock == 0)
				need[nneed++] = s->prods[i];
		break;
	case INVENTORY_FAILED_PRECONDITION:
		t->refusals++;
		if (r->nerrors == 0)
			violation(t,
			    "ReserveStock: FAILED_PRECONDITION without "
			    "items");
		for (i = 0; i < r->nerrors && nneed < n; i++) {
			check_product(t, &r->errors[i].current);
			/* The library checked index < n. */
			if (r->errors[i].code ==
			        INVENTORY_FAILED_PRECONDITION &&
			    r->errors[i].current.stock == 0)
				need[nneed++] = s->prods[r->errors[i].index];
		}
		break;
	case INVENTORY_ABORTED:
		/* Takes carry no version: nothing to conflict with. */
		violation(t, "ReserveStock of takes only: ABORTED");
		break;
	default:
		break;
	}
	restock_then_done(s, r->code, need, nneed);
}

static void
op_reserve(struct bench_session *s)
{
	struct bench_thread   *t = s->t;
	struct bench          *b = t->b;
	inventory_reserve_item items[BENCH_RESERVE_ITEMS_MAX];
	size_t                 want, n = 0, i;
	inventory_code         rc;

	want = 1 + bench_rng_below(&t->rng, BENCH_RESERVE_ITEMS_MAX);
	if (want > b->nproducts)
		want = b->nproducts;
	s->prods[n++] = s->p;
	/* Distinct products: a few draws per slot, then give up on it (a
	 * hot skew may keep drawing the same product). */
	for (int tries = 0; n < want && tries < 8 * BENCH_RESERVE_ITEMS_MAX;
	     tries++) {
		struct bench_product *q = &b->products[bench_pick_product(t)];
		bool                  dup = false;

		for (i = 0; i < n; i++)
			dup = dup || s->prods[i] == q;
		if (dup)
			continue;
		atomic_fetch_add_explicit(&q->ops, 1, memory_order_relaxed);
		s->prods[n++] = q;
	}
	s->nprods = n;
	memset(items, 0, sizeof(items));
	for (i = 0; i < n; i++) {
		items[i].id       = s->prods[i]->id;
		items[i].quantity = 1;
	}
	/* The items are copied (encoded) before the start returns. */
	rc = inventory_reserve_async(
	    t->client, items, n, NULL, reserve_cb, s, NULL);
	if (rc != INVENTORY_OK)
		start_failed(s, rc);
}

void
bench_start_op(struct bench_session *s)
{
	switch (s->op) {
	case OP_GET:
		op_get(s);
		return;
	case OP_BATCHGET:
		op_batchget(s);
		return;
	case OP_UPDATE:
		op_update(s);
		return;
	case OP_RETRY:
		op_rmw(s, false);
		return;
	case OP_ADJUST:
		op_adjust(s);
		return;
	case OP_RESERVE:
		op_reserve(s);
		return;
	case OP_BUY:
	default:
		op_rmw(s, true);
		return;
	}
}
