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

static inventory_code
op_get(struct bench_thread *t, struct bench_product *p)
{
	inventory_product *out = NULL;
	inventory_status   st  = { 0 };
	inventory_code     rc;

	rc = inventory_get_product(t->b->client, p->id, NULL, &out, &st);
	t->rpcs++;
	if (rc == INVENTORY_OK) {
		check_product(t, out);
		inventory_product_free(out);
	}
	inventory_status_fini(&st);
	return rc;
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

/* Read, then write stock +-1 at the read version: one attempt, a conflict
 * is an outcome. */
static inventory_code
op_update(struct bench_thread *t, struct bench_product *p)
{
	inventory_product *cur = NULL;
	inventory_product *out = NULL;
	inventory_status   st  = { 0 };
	inventory_code     rc;
	int64_t            delta;

	rc = inventory_get_product(t->b->client, p->id, NULL, &cur, &st);
	t->rpcs++;
	if (rc != INVENTORY_OK) {
		goto out_status;
	}
	check_product(t, cur);
	delta = (bench_rng_next(&t->rng) & 1) ? 1 : -1;
	if (cur->stock <= 0) {
		delta = 1;
	} else if (cur->stock >= INVENTORY_STOCK_MAX) {
		delta = -1;
	}
	rc = inventory_update_stock(t->b->client, p->id, cur->stock + delta,
	    cur->version, NULL, &out, &st);
	t->rpcs++;
	t->writes++;
	record_write(p, rc, delta);
	switch (rc) {
	case INVENTORY_OK:
		check_product(t, out);
		if (out->version != cur->version + 1) {
			violation(t,
			    "%s: UpdateStock OK at version %lld, "
			    "expected %lld",
			    p->id, (long long)out->version,
			    (long long)cur->version + 1);
		}
		if (out->stock != cur->stock + delta) {
			violation(t,
			    "%s: UpdateStock OK with stock %lld, "
			    "asked for %lld",
			    p->id, (long long)out->stock,
			    (long long)cur->stock + delta);
		}
		inventory_product_free(out);
		break;
	case INVENTORY_ABORTED:
		t->conflicts++;
		atomic_fetch_add_explicit(
		    &t->live_conflicts, 1, memory_order_relaxed);
		check_product(t, st.current);
		if (st.current_version <= cur->version) {
			violation(t,
			    "%s: conflict reports version %lld, "
			    "not newer than the expected %lld",
			    p->id, (long long)st.current_version,
			    (long long)cur->version);
		}
		break;
	default:
		break;
	}
	inventory_product_free(cur);
out_status:
	inventory_status_fini(&st);
	return rc;
}

/* What the retry/buy callback needs and what it reports back. */
struct change {
	struct bench_thread *t;
	int                  dir;   /* retry: +1 or -1; buy: 0 */
	int64_t              delta; /* the delta of the last attempt */
};

static inventory_code
change_retry(const inventory_product *cur, int64_t *new_stock, void *arg)
{
	struct change *c = arg;
	int64_t        d = c->dir;

	check_product(c->t, cur);
	if (cur->stock <= 0) {
		d = 1;
	} else if (cur->stock >= INVENTORY_STOCK_MAX) {
		d = -1;
	}
	c->delta   = d;
	*new_stock = cur->stock + d;
	return INVENTORY_OK;
}

static inventory_code
change_buy(const inventory_product *cur, int64_t *new_stock, void *arg)
{
	struct change *c = arg;

	check_product(c->t, cur);
	if (cur->stock <= 0) {
		return INVENTORY_FAILED_PRECONDITION;
	}
	c->delta   = -1;
	*new_stock = cur->stock - 1;
	return INVENTORY_OK;
}

/* Read-modify-write through the library's retry loop.  A conflicted
 * attempt was not applied; only the last attempt can be acknowledged or
 * of unknown outcome (the loop stops at the first other error). */
static inventory_code
op_rmw(struct bench_thread *t, struct bench_product *p, bool buy)
{
	inventory_retry_opts ro = {
		.max_attempts = t->b->cfg.max_attempts,
		.timeout_ms   = t->b->cfg.timeout_ms,
	};
	struct change      c        = { .t = t };
	inventory_product *out      = NULL;
	inventory_status   st       = { 0 };
	int                attempts = 0;
	uint64_t           lost     = 0; /* attempts rejected as conflicts */
	inventory_code     rc;

	inventory_retry_info info;

	c.dir    = buy ? 0 : ((bench_rng_next(&t->rng) & 1) ? 1 : -1);
	rc       = inventory_update_with_retry(t->b->client, p->id,
            buy ? change_buy : change_retry, &c, &ro, &out, &st, &info);
	attempts = info.attempts;
	if (attempts < 0) {
		attempts = 0;
	}
	t->rpcs += 1 + (uint64_t)attempts;
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
			record_write(p, rc, c.delta);
		}
	}
	if (lost > 0) {
		t->conflicts += lost;
		atomic_fetch_add_explicit(
		    &t->live_conflicts, lost, memory_order_relaxed);
	}
	if (rc == INVENTORY_OK) {
		check_product(t, out);
		if (buy) {
			atomic_fetch_add_explicit(
			    &p->purchases, 1, memory_order_relaxed);
		}
		inventory_product_free(out);
	} else if (rc == INVENTORY_ABORTED) {
		check_product(t, st.current);
	}
	inventory_status_fini(&st);
	return rc;
}

/* BatchGetProducts of batch_size ids: p and batch_size - 1 more picked
 * the same way; one call, one request.  The id array is the thread's,
 * made before the run, so the only allocation is the library's result. */
static inventory_code
op_batchget(struct bench_thread *t, struct bench_product *p)
{
	struct bench      *b   = t->b;
	size_t             n   = (size_t)b->cfg.batch_size;
	inventory_product *out = NULL;
	inventory_status   st  = { 0 };
	inventory_code     rc;
	size_t             i;

	t->ids[0] = p->id;
	for (i = 1; i < n; i++) {
		struct bench_product *q = &b->products[bench_pick_product(t)];

		atomic_fetch_add_explicit(&q->ops, 1, memory_order_relaxed);
		t->ids[i] = q->id;
	}
	rc = inventory_batch_get_products(
	    b->client, t->ids, n, NULL, &out, &st);
	t->rpcs++;
	if (rc == INVENTORY_OK && out != NULL) {
		for (i = 0; i < n; i++) {
			check_product(t, &out[i]);
			if (strcmp(out[i].id, t->ids[i]) != 0) {
				violation(t,
				    "BatchGetProducts: product %zu is %s, "
				    "asked for %s",
				    i, out[i].id, t->ids[i]);
				break;
			}
		}
		inventory_product_free(out);
	}
	inventory_status_fini(&st);
	return rc;
}

/* Put bench_restock_units() back on p with one AdjustStock, accounted
 * like every write.  Part of the operation that found p sold out; its
 * status is not the operation's. */
static void
restock(struct bench_thread *t, struct bench_product *p)
{
	int64_t            units = bench_restock_units(t->b);
	inventory_product *out   = NULL;
	inventory_status   st    = { 0 };
	inventory_code     rc;

	rc = inventory_adjust_stock(
	    t->b->client, p->id, units, 0, NULL, &out, &st);
	t->rpcs++;
	t->writes++;
	t->restocks++;
	record_write(p, rc, units);
	if (rc == INVENTORY_OK) {
		check_product(t, out);
		inventory_product_free(out);
	}
	/* OUT_OF_RANGE: others restocked it already, far enough. */
	inventory_status_fini(&st);
}

/* Take one unit with AdjustStock(-1): one statement on the server, so no
 * read and no conflict however hot the key.  Selling the last unit, or
 * finding none (FAILED_PRECONDITION, counted as a refusal), restocks. */
static inventory_code
op_adjust(struct bench_thread *t, struct bench_product *p)
{
	inventory_product *out = NULL;
	inventory_status   st  = { 0 };
	inventory_code     rc;
	bool               sold_out = false;

	rc = inventory_adjust_stock(
	    t->b->client, p->id, -1, 0, NULL, &out, &st);
	t->rpcs++;
	t->writes++;
	record_write(p, rc, -1);
	switch (rc) {
	case INVENTORY_OK:
		check_product(t, out);
		atomic_fetch_add_explicit(
		    &p->purchases, 1, memory_order_relaxed);
		sold_out = out->stock == 0;
		inventory_product_free(out);
		break;
	case INVENTORY_FAILED_PRECONDITION:
		t->refusals++;
		check_product(t, st.current);
		if (st.current != NULL && st.current->stock > 0) {
			/* Refused for too little stock yet showing some: only
			 * a restock that landed in between explains it, and
			 * AdjustStock(-1) needs just one unit. */
			break;
		}
		sold_out = true;
		break;
	case INVENTORY_ABORTED:
		/* No expected_version was sent: nothing to conflict with. */
		violation(
		    t, "%s: AdjustStock without a version: ABORTED", p->id);
		break;
	default:
		break;
	}
	inventory_status_fini(&st);
	if (sold_out)
		restock(t, p);
	return rc;
}

/* Most items one reserve operation takes. */
enum { RESERVE_ITEMS_MAX = 5 };

/* Reserve one unit each of 1..5 distinct products (p and others picked
 * the same way), all or nothing.  Items whose product ran out, by this
 * reservation or before it (FAILED_PRECONDITION names them), restock. */
static inventory_code
op_reserve(struct bench_thread *t, struct bench_product *p)
{
	struct bench          *b = t->b;
	struct bench_product  *prods[RESERVE_ITEMS_MAX];
	inventory_reserve_item items[RESERVE_ITEMS_MAX];
	inventory_product     *out  = NULL;
	inventory_item_error  *errs = NULL;
	inventory_status       st   = { 0 };
	size_t                 want, n = 0, nerrs = 0, i;
	inventory_code         rc;

	want = 1 + bench_rng_below(&t->rng, RESERVE_ITEMS_MAX);
	if (want > b->nproducts)
		want = b->nproducts;
	prods[n++] = p;
	/* Distinct products: a few draws per slot, then give up on it (a
	 * hot skew may keep drawing the same product). */
	for (int tries = 0; n < want && tries < 8 * RESERVE_ITEMS_MAX;
	     tries++) {
		struct bench_product *q = &b->products[bench_pick_product(t)];
		bool                  dup = false;

		for (i = 0; i < n; i++)
			dup = dup || prods[i] == q;
		if (dup)
			continue;
		atomic_fetch_add_explicit(&q->ops, 1, memory_order_relaxed);
		prods[n++] = q;
	}
	memset(items, 0, sizeof(items));
	for (i = 0; i < n; i++) {
		items[i].id       = prods[i]->id;
		items[i].quantity = 1;
	}
	rc = inventory_reserve(
	    b->client, items, n, NULL, &out, &st, &errs, &nerrs);
	t->rpcs++;
	t->writes++;
	/* All or nothing: every item shares the reservation's outcome. */
	for (i = 0; i < n; i++)
		record_write(prods[i], rc, -1);
	switch (rc) {
	case INVENTORY_OK:
		if (out == NULL) { /* never on OK: NEVER() */
			violation(t, "ReserveStock: OK without products");
			break;
		}
		for (i = 0; i < n; i++) {
			check_product(t, &out[i]);
			if (strcmp(out[i].id, prods[i]->id) != 0) {
				violation(t,
				    "ReserveStock: product %zu is %s, "
				    "reserved %s",
				    i, out[i].id, prods[i]->id);
				break;
			}
			atomic_fetch_add_explicit(
			    &prods[i]->purchases, 1, memory_order_relaxed);
		}
		for (i = 0; i < n; i++)
			if (out[i].stock == 0)
				restock(t, prods[i]);
		inventory_product_free(out);
		break;
	case INVENTORY_FAILED_PRECONDITION:
		t->refusals++;
		if (nerrs == 0)
			violation(t,
			    "ReserveStock: FAILED_PRECONDITION without "
			    "items");
		for (i = 0; i < nerrs; i++) {
			check_product(t, &errs[i].current);
			/* The library checked index < n. */
			if (errs[i].code == INVENTORY_FAILED_PRECONDITION &&
			    errs[i].current.stock == 0)
				restock(t, prods[errs[i].index]);
		}
		break;
	case INVENTORY_ABORTED:
		/* Takes carry no version: nothing to conflict with. */
		violation(t, "ReserveStock of takes only: ABORTED");
		break;
	default:
		break;
	}
	free(errs);
	inventory_status_fini(&st);
	return rc;
}

inventory_code
bench_run_op(struct bench_thread *t, enum bench_op op, struct bench_product *p)
{
	switch (op) {
	case OP_GET:
		return op_get(t, p);
	case OP_BATCHGET:
		return op_batchget(t, p);
	case OP_UPDATE:
		return op_update(t, p);
	case OP_RETRY:
		return op_rmw(t, p, false);
	case OP_ADJUST:
		return op_adjust(t, p);
	case OP_RESERVE:
		return op_reserve(t, p);
	case OP_BUY:
	default:
		return op_rmw(t, p, true);
	}
}
