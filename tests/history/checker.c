/* SPDX-License-Identifier: MIT */
/*
 * checker.c: judge a history against the model of a versioned register per
 * product.
 *
 * The model: each product holds (version, stock), starting at (v0, s0).
 * UpdateStock(stock, e) atomically sets (e+1, stock) if the version is e,
 * otherwise it changes nothing and reports the current version.  Versions
 * only ever grow, one at a time.  An update is OK (it applied), ABORTED (it
 * did not) or indeterminate (any other outcome, or none at all: it may or
 * may not have applied, and the checker accepts both and nothing else).
 *
 * What is checked, per product:
 *  - every OK update returned exactly e+1 and the stock it wrote, and at
 *    most one update is OK per (product, e) (no lost update, no double
 *    success);
 *  - every ABORTED update reports a current version > e;
 *  - every observed state (a read, a conflict's current product, an OK
 *    update's result, the final state) is one some write could have
 *    produced: version v0 with stock s0, or version v written by an OK or
 *    indeterminate update with expected v-1 that had been invoked before
 *    the observation completed, with that update's stock; every version
 *    between v0 and v has such a candidate, no more than
 *    (updates invoked before the reply) versions exist, and one version
 *    never shows two different stocks;
 *  - real-time order (linearizability of the register): an operation
 *    invoked after another completed must see a version at least the one
 *    that one saw; for an OK update that means its expected version is
 *    at least that (a stale write must not succeed); for the final state,
 *    that no acknowledged write is missing.
 * Together with one producer per version, the last two mean the final
 * version is v0 + (OK updates) + (some subset of the indeterminate ones)
 * and the final stock is the one the producing update wrote.
 *
 * The checker is pure: it reads the history only, never the clock or the
 * network, so hand-made histories test it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* qsort_r */
#endif
#include "history.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

enum outcome { O_OK, O_ABORTED, O_INDET };

/* An observed state of a product. */
struct obs {
	int64_t t_invoke; /* when the observer started */
	int64_t t_done;   /* when it learned the state */
	int64_t version;  /* the state seen */
	int64_t stock;    /* -1: not known */
	long    op;       /* op index, or -1 - final index */
	int     okwrite;  /* an OK update: its own result */
};

static void viol(struct check_report *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
viol(struct check_report *r, const char *fmt, ...)
{
	va_list ap;

	if (r->violations++ == 0) {
		va_start(ap, fmt);
		vsnprintf(r->first, sizeof(r->first), fmt, ap);
		va_end(ap);
	}
}

static enum outcome
outcome(const struct hist_op *op)
{
	if (op->code == HIST_OK)
		return O_OK;
	if (op->code == HIST_ABORTED)
		return O_ABORTED;
	return O_INDET;
}

static const char *
obs_name(const struct obs *o, const struct history *h, char *buf, size_t len)
{
	if (o->op < 0) {
		snprintf(buf, len, "final state");
	} else {
		const struct hist_op *op = &h->ops[o->op];
		snprintf(buf, len, "op #%ld (client %d, %s)", o->op,
		    op->client,
		    op->type == HIST_READ ? "GetProduct"
		    : op->code == HIST_OK ? "UpdateStock OK"
		                          : "UpdateStock ABORTED");
	}
	return buf;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return (x > y) - (x < y);
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static int
cmp_obs_done(const void *a, const void *b)
{
	const struct obs *x = a, *y = b;
	return (x->t_done > y->t_done) - (x->t_done < y->t_done);
}

static int
cmp_obs_invoke(const void *a, const void *b)
{
	const struct obs *x = a, *y = b;
	return (x->t_invoke > y->t_invoke) - (x->t_invoke < y->t_invoke);
}

/* Number of values in sorted v[0..n) strictly less than t. */
static size_t
count_before(const int64_t *v, size_t n, int64_t t)
{
	size_t lo = 0, hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (v[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Scratch space for one product. */
struct pstate {
	long       *ops; /* indices of the product's ops */
	size_t      nops;
	size_t      nw;     /* updates on the product (W) */
	long       *okprod; /* [k]: the OK update producing v0+k, or -1 */
	size_t     *cstart; /* [k]..[k+1]: candidates for version v0+k */
	long       *cands;  /* OK and indeterminate updates, by version */
	int64_t    *fixed;  /* [k]: the stock version v0+k showed, or -1 */
	int64_t    *winv;   /* invoke times of OK+indeterminate updates */
	size_t      nwinv;
	struct obs *obs; /* every observation */
	size_t      nobs;
	struct obs *byinv; /* copies sorted by invoke time */
};

static void
pstate_fini(struct pstate *s)
{
	free(s->ops);
	free(s->okprod);
	free(s->cstart);
	free(s->cands);
	free(s->fixed);
	free(s->winv);
	free(s->obs);
	free(s->byinv);
	memset(s, 0, sizeof(*s));
}

/* Check one observed state against what writes could have produced. */
static void
check_obs(const struct history *h, const struct hist_product *p,
    struct pstate *s, int64_t reach, const struct obs *o,
    struct check_report *r)
{
	char    who[96];
	int64_t v = o->version;
	size_t  k, invoked;

	if (v < p->v0) {
		viol(r,
		    "product %s: %s shows version %" PRId64
		    " below the initial version %" PRId64,
		    p->id, obs_name(o, h, who, sizeof(who)), v, p->v0);
		return;
	}
	if (v == p->v0) {
		if (o->stock != -1 && o->stock != p->s0)
			viol(r,
			    "product %s: %s shows version %" PRId64
			    " with stock %" PRId64
			    ", but the initial stock was %" PRId64,
			    p->id, obs_name(o, h, who, sizeof(who)), v,
			    o->stock, p->s0);
		return;
	}
	if (v > reach) {
		viol(r,
		    "product %s: %s shows version %" PRId64
		    ", which no write could have produced (no OK or "
		    "indeterminate update had expected version %" PRId64 ")",
		    p->id, obs_name(o, h, who, sizeof(who)), v, reach);
		return;
	}
	invoked = count_before(s->winv, s->nwinv, o->t_done);
	if ((uint64_t)(v - p->v0) > invoked) {
		viol(r,
		    "product %s: %s shows version %" PRId64
		    " but only %zu updates that could apply had been "
		    "invoked by then (highest possible version %" PRId64 ")",
		    p->id, obs_name(o, h, who, sizeof(who)), v, invoked,
		    p->v0 + (int64_t)invoked);
		return;
	}
	k = (size_t)(v - p->v0);
	if (s->okprod[k] >= 0) {
		const struct hist_op *w = &h->ops[s->okprod[k]];
		if (w->t_invoke < o->t_done &&
		    (o->stock == -1 || o->stock == w->stock))
			return;
		/* Not the acknowledged writer's: did another write land on
		 * the same version (a lost update)? */
		for (size_t i = s->cstart[k]; i < s->cstart[k + 1]; i++) {
			const struct hist_op *x = &h->ops[s->cands[i]];
			if (s->cands[i] == s->okprod[k] ||
			    (o->stock != -1 && x->stock != o->stock) ||
			    x->t_invoke >= o->t_done)
				continue;
			viol(r,
			    "product %s: version %" PRId64
			    " was produced twice: op #%ld (client %d) was "
			    "acknowledged writing stock %" PRId64
			    ", and %s saw stock %" PRId64
			    " written by op #%ld (client %d)",
			    p->id, v, s->okprod[k], w->client, w->stock,
			    obs_name(o, h, who, sizeof(who)), o->stock,
			    s->cands[i], x->client);
			return;
		}
		if (w->t_invoke >= o->t_done)
			viol(r,
			    "product %s: %s shows version %" PRId64
			    " before op #%ld that wrote it was invoked",
			    p->id, obs_name(o, h, who, sizeof(who)), v,
			    s->okprod[k]);
		else
			viol(r,
			    "product %s: %s shows version %" PRId64
			    " with stock %" PRId64
			    ", but op #%ld (client %d) wrote that version "
			    "with stock %" PRId64,
			    p->id, obs_name(o, h, who, sizeof(who)), v,
			    o->stock, s->okprod[k], w->client, w->stock);
		return;
	}
	if (o->stock == -1)
		return;
	if (s->fixed[k] != -1 && s->fixed[k] != o->stock) {
		viol(r,
		    "product %s: version %" PRId64
		    " shows two stocks: %" PRId64 " and then %" PRId64
		    " (%s): two writes applied at the same version",
		    p->id, v, s->fixed[k], o->stock,
		    obs_name(o, h, who, sizeof(who)));
		return;
	}
	for (size_t i = s->cstart[k]; i < s->cstart[k + 1]; i++) {
		const struct hist_op *w = &h->ops[s->cands[i]];
		if (w->stock == o->stock && w->t_invoke < o->t_done) {
			s->fixed[k] = o->stock;
			return;
		}
	}
	viol(r,
	    "product %s: %s shows version %" PRId64 " with stock %" PRId64
	    ", which no update with expected version %" PRId64
	    " invoked before it wrote",
	    p->id, obs_name(o, h, who, sizeof(who)), v, o->stock, v - 1);
}

/* ---- the counter model: products that adjustments or reservations touch
 *
 * Each product holds (version, stock) from (v0, s0); every write that
 * applies bumps the version by exactly one: an AdjustStock adds its delta,
 * a reservation item takes its quantity, an UpdateStock sets its stock (at
 * its expected version).  The stock is never negative.  An adjustment or
 * reservation is OK (applied), refused (INVALID_ARGUMENT, NOT_FOUND,
 * ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE: not applied)
 * or indeterminate.  What is checked, per product:
 *  - no two OK writes returned the same version (a lost update);
 *  - the OK writes, ordered by the version they returned, form a serial
 *    history: the stock at version v is the stock at v-1 plus the delta
 *    (minus the quantity, or the stock set) of the write at v, wherever
 *    v-1 is known; a gap between known versions needs as many
 *    indeterminate writes;
 *  - every observed state (a read, a refusal's current product) is one
 *    the serial history holds, and no stock is ever negative;
 *  - a FAILED_PRECONDITION names a product whose stock was too low, and
 *    an OUT_OF_RANGE one whose stock would pass 2147483647;
 *  - real time: an operation invoked after another completed sees at
 *    least the version that one saw (an OK write: a greater one);
 *  - the final state: its version is v0 + (OK writes) + (at most the
 *    indeterminate ones), it reaches every acknowledged write, and its
 *    stock is the one the serial history gives (across indeterminate
 *    writes: some subset of their deltas, when few enough to try).
 * Reservations add, across products (history_check): every item of one
 * call has the call's code, on distinct products. */

static int
is_counter_op(const struct hist_op *op)
{
	return op->type == HIST_ADJUST || op->type == HIST_RESERVE;
}

static enum outcome
counter_outcome(const struct hist_op *op)
{
	switch (op->code) {
	case HIST_OK:
		return O_OK;
	case HIST_INVALID_ARGUMENT:
	case HIST_NOT_FOUND:
	case HIST_ALREADY_EXISTS:
	case HIST_FAILED_PRECONDITION:
	case HIST_ABORTED:
	case HIST_OUT_OF_RANGE:
		return O_ABORTED; /* refused: nothing applied */
	default:
		return O_INDET;
	}
}

static enum outcome
any_outcome(const struct hist_op *op)
{
	return op->type == HIST_UPDATE ? outcome(op) : counter_outcome(op);
}

static const char *
type_name(const struct hist_op *op)
{
	switch (op->type) {
	case HIST_READ:
		return "GetProduct";
	case HIST_UPDATE:
		return "UpdateStock";
	case HIST_ADJUST:
		return "AdjustStock";
	case HIST_RESERVE:
		return "ReserveStock";
	}
	return "?";
}

/* The change a write makes to the stock, as a delta (UpdateStock: none). */
static int64_t
op_delta(const struct hist_op *op)
{
	return op->type == HIST_ADJUST ? op->stock : -op->stock;
}

/* The stock after write w applied on top of `before`. */
static int64_t
apply(const struct hist_op *w, int64_t before)
{
	return w->type == HIST_UPDATE ? w->stock : before + op_delta(w);
}

static int
cmp_op_version(const void *a, const void *b, void *h)
{
	const struct hist_op *x =
	    &((const struct history *)h)->ops[*(const long *)a];
	const struct hist_op *y =
	    &((const struct history *)h)->ops[*(const long *)b];
	return (x->ret_version > y->ret_version) -
	       (x->ret_version < y->ret_version);
}

/* Whether some k of the n deltas sum to want (n small). */
static int
subset_sums_to(const int64_t *d, size_t n, size_t k, int64_t want)
{
	if (k == 0)
		return want == 0;
	if (n < k)
		return 0;
	return subset_sums_to(d + 1, n - 1, k - 1, want - d[0]) ||
	       subset_sums_to(d + 1, n - 1, k, want);
}

enum { SUBSET_MAX = 18 };

static int
check_counter(const struct history *h, int pi, struct pstate *s,
    const struct check_opts *opts, struct check_report *r)
{
	const struct hist_product *p = &h->products[pi];
	long                      *okw;
	int64_t                   *kstock; /* [k]: stock at v0 + k, or -1 */
	long                      *kop;    /* [k]: the OK write at v0 + k */
	int64_t                   *indelta;
	size_t                     nok = 0, nindet = 0, nw = 0, nk, gaps = 0;
	int64_t                    vmax = p->v0, prev_v, prev_s;

	for (size_t i = 0; i < s->nops; i++)
		if (h->ops[s->ops[i]].type != HIST_READ)
			nw++;
	nk       = nw + 2;
	okw      = malloc((nw + 1) * sizeof(*okw));
	kstock   = malloc(nk * sizeof(*kstock));
	kop      = malloc(nk * sizeof(*kop));
	indelta  = malloc((nw + 1) * sizeof(*indelta));
	s->winv  = malloc((nw + 1) * sizeof(*s->winv));
	s->obs   = malloc((s->nops + HIST_FINAL_MAX + 1) * sizeof(*s->obs));
	s->byinv = malloc((s->nops + HIST_FINAL_MAX + 1) * sizeof(*s->byinv));
	if (!okw || !kstock || !kop || !indelta || !s->winv || !s->obs ||
	    !s->byinv) {
		free(okw);
		free(kstock);
		free(kop);
		free(indelta);
		return -1;
	}
	for (size_t k = 0; k < nk; k++) {
		kstock[k] = -1;
		kop[k]    = -1;
	}
	kstock[0] = p->s0;

	/* Pass 1: the writes' outcomes. */
	for (size_t i = 0; i < s->nops; i++) {
		long                  oi = s->ops[i];
		const struct hist_op *op = &h->ops[oi];

		if (op->type == HIST_READ)
			continue;
		if (op->type == HIST_UPDATE)
			r->updates++;
		else if (op->type == HIST_ADJUST)
			r->adjusts++;
		switch (any_outcome(op)) {
		case O_OK:
			if (op->type == HIST_UPDATE)
				r->ok++;
			okw[nok++]          = oi;
			s->winv[s->nwinv++] = op->t_invoke;
			break;
		case O_ABORTED:
			if (op->type == HIST_UPDATE)
				r->conflicts++;
			else if (op->type == HIST_ADJUST)
				r->refused++;
			break;
		case O_INDET:
			r->indeterminate++;
			if (op->type != HIST_UPDATE)
				indelta[nindet] = op_delta(op);
			else
				indelta[nindet] = INT64_MIN; /* a set */
			nindet++;
			s->winv[s->nwinv++] = op->t_invoke;
			break;
		}
	}
	qsort(s->winv, s->nwinv, sizeof(*s->winv), cmp_i64);
	qsort_r(okw, nok, sizeof(*okw), cmp_op_version, (void *)h);

	/* Pass 2: the OK writes in version order form a serial history. */
	prev_v = p->v0;
	prev_s = p->s0;
	for (size_t i = 0; i < nok; i++) {
		const struct hist_op *w = &h->ops[okw[i]];
		int64_t               v = w->ret_version;

		if (w->ret_stock < 0)
			viol(r,
			    "product %s: op #%ld (client %d) %s OK left "
			    "stock %" PRId64,
			    p->id, okw[i], w->client, type_name(w),
			    w->ret_stock);
		if (v <= p->v0 || (uint64_t)(v - p->v0) > nok + nindet) {
			viol(r,
			    "product %s: op #%ld (client %d) %s OK returned "
			    "version %" PRId64
			    ", which %zu acknowledged and %zu indeterminate "
			    "writes from version %" PRId64 " cannot reach",
			    p->id, okw[i], w->client, type_name(w), v, nok,
			    nindet, p->v0);
			continue;
		}
		if (v == prev_v && i > 0) {
			viol(r,
			    "product %s: version %" PRId64
			    " acknowledged twice: op #%ld (client %d) and "
			    "op #%ld (client %d)",
			    p->id, v, okw[i - 1], h->ops[okw[i - 1]].client,
			    okw[i], w->client);
			continue;
		}
		if (w->type == HIST_UPDATE && w->expected != v - 1)
			viol(r,
			    "product %s: op #%ld (client %d) UpdateStock"
			    "(expected %" PRId64 ") OK at version %" PRId64,
			    p->id, okw[i], w->client, w->expected, v);
		if (w->type == HIST_ADJUST && w->expected != 0 &&
		    w->expected != v - 1)
			viol(r,
			    "product %s: op #%ld (client %d) AdjustStock"
			    "(expected %" PRId64 ") OK at version %" PRId64,
			    p->id, okw[i], w->client, w->expected, v);
		if (v == prev_v + 1) {
			int64_t want = apply(w, prev_s);
			if (w->ret_stock != want)
				viol(r,
				    "product %s: op #%ld (client %d) %s of "
				    "%" PRId64 " OK at version %" PRId64
				    " returned stock %" PRId64
				    ", but version %" PRId64
				    " had stock %" PRId64 " (want %" PRId64
				    ")",
				    p->id, okw[i], w->client, type_name(w),
				    w->type == HIST_UPDATE ? w->stock
				                           : op_delta(w),
				    v, w->ret_stock, prev_v, prev_s, want);
		} else {
			gaps += (size_t)(v - prev_v - 1);
		}
		kstock[v - p->v0] = w->ret_stock;
		kop[v - p->v0]    = okw[i];
		prev_v            = v;
		prev_s            = w->ret_stock;
		vmax              = v;
	}
	if (gaps > nindet)
		viol(r,
		    "product %s: %zu versions between acknowledged writes "
		    "were produced by no write (only %zu indeterminate "
		    "ones)",
		    p->id, gaps, nindet);

	/* Pass 3: every observation. */
	for (size_t i = 0; i < s->nops; i++) {
		long                  oi = s->ops[i];
		const struct hist_op *op = &h->ops[oi];
		struct obs o = { op->t_invoke, op->t_complete, op->ret_version,
			op->ret_stock, oi, 0 };
		enum outcome oc;
		size_t       invoked;
		int64_t      v;

		if (op->type == HIST_READ) {
			r->reads++;
			if (op->code != HIST_OK) {
				r->other_reads++;
				continue;
			}
			r->reads_checked++;
		} else {
			oc = any_outcome(op);
			if (oc == O_INDET)
				continue;
			if (oc == O_OK) {
				o.okwrite         = 1;
				s->obs[s->nobs++] = o;
				continue;
			}
			if (op->ret_version <= 0)
				continue; /* refused without a product */
			if (op->code == HIST_FAILED_PRECONDITION &&
			    op->type != HIST_UPDATE &&
			    op->ret_stock + op_delta(op) >= 0)
				viol(r,
				    "product %s: op #%ld (client %d) %s of "
				    "%" PRId64
				    " refused FAILED_PRECONDITION with stock "
				    "%" PRId64 " (enough)",
				    p->id, oi, op->client, type_name(op),
				    op_delta(op), op->ret_stock);
			if (op->code == HIST_OUT_OF_RANGE &&
			    op->type != HIST_UPDATE &&
			    op->ret_stock + op_delta(op) <= 2147483647)
				viol(r,
				    "product %s: op #%ld (client %d) %s of "
				    "%" PRId64 " refused OUT_OF_RANGE with "
				    "stock %" PRId64,
				    p->id, oi, op->client, type_name(op),
				    op_delta(op), op->ret_stock);
		}
		s->obs[s->nobs++] = o;
		v                 = o.version;
		if (o.stock < -1) {
			viol(r, "product %s: op #%ld shows stock %" PRId64,
			    p->id, oi, o.stock);
			continue;
		}
		invoked = count_before(s->winv, s->nwinv, o.t_done);
		if (v < p->v0 || (uint64_t)(v - p->v0) > invoked) {
			viol(r,
			    "product %s: op #%ld (client %d) %s shows "
			    "version %" PRId64
			    ", but only %zu writes that could apply had "
			    "been invoked by then",
			    p->id, oi, op->client, type_name(op), v, invoked);
			continue;
		}
		if ((size_t)(v - p->v0) < nk && kstock[v - p->v0] != -1 &&
		    o.stock != -1 && o.stock != kstock[v - p->v0]) {
			viol(r,
			    "product %s: op #%ld (client %d) %s shows "
			    "version %" PRId64 " with stock %" PRId64
			    ", but the serial history has stock %" PRId64,
			    p->id, oi, op->client, type_name(op), v, o.stock,
			    kstock[v - p->v0]);
			if (op->type == HIST_READ)
				r->stray_reads++;
		}
	}

	/* The final state. */
	if (p->nfinal == 0 && opts != NULL && opts->require_final)
		viol(r, "product %s: no final state was read", p->id);
	for (int f = 0; f < p->nfinal; f++) {
		int64_t    vf = p->final[f].version, sf = p->final[f].stock;
		struct obs o = { HIST_NO_TIME, HIST_NO_TIME, vf, sf, -1 - f,
			0 };

		r->finals_checked++;
		s->obs[s->nobs++] = o;
		if (vf < vmax) {
			viol(r,
			    "product %s: acknowledged write missing: the "
			    "final state (%s) has version %" PRId64
			    ", but op #%ld was acknowledged at version "
			    "%" PRId64,
			    p->id, p->final[f].src, vf, kop[vmax - p->v0],
			    vmax);
			continue;
		}
		if (sf < 0)
			viol(r, "product %s: final stock %" PRId64, p->id, sf);
		if ((uint64_t)(vf - p->v0) > nok + nindet) {
			viol(r,
			    "product %s: final version %" PRId64
			    " (%s) is more than %zu acknowledged and %zu "
			    "indeterminate writes from version %" PRId64
			    " can produce (a refused write applied?)",
			    p->id, vf, p->final[f].src, nok, nindet, p->v0);
			continue;
		}
		if (vf == vmax) {
			if (sf != kstock[vmax - p->v0])
				viol(r,
				    "product %s: final state (%s) version "
				    "%" PRId64 " has stock %" PRId64
				    ", but the serial history gives %" PRId64,
				    p->id, p->final[f].src, vf, sf,
				    kstock[vmax - p->v0]);
		} else {
			/* Produced by vf - vmax indeterminate writes. */
			size_t need = (size_t)(vf - vmax);
			int    sets = 0;
			for (size_t i = 0; i < nindet; i++)
				if (indelta[i] == INT64_MIN)
					sets = 1;
			if (f == 0 && need <= nindet)
				r->indet_applied += need;
			if (!sets && nindet <= SUBSET_MAX &&
			    !subset_sums_to(indelta, nindet, need,
			        sf - kstock[vmax - p->v0]))
				viol(r,
				    "product %s: final state (%s) version "
				    "%" PRId64 " stock %" PRId64
				    ": no %zu of the %zu indeterminate "
				    "writes take version %" PRId64
				    " (stock %" PRId64 ") there",
				    p->id, p->final[f].src, vf, sf, need,
				    nindet, vmax, kstock[vmax - p->v0]);
		}
	}

	/* Real time: sweep by invoke time, keeping the highest version seen
	 * by an operation that completed before. */
	{
		int64_t maxobs   = p->v0;
		size_t  maxobs_i = 0;
		char    who[96], who2[96];

		memcpy(s->byinv, s->obs, s->nobs * sizeof(*s->obs));
		qsort(s->obs, s->nobs, sizeof(*s->obs), cmp_obs_done);
		qsort(s->byinv, s->nobs, sizeof(*s->byinv), cmp_obs_invoke);
		for (size_t i = 0, j = 0; i < s->nobs; i++) {
			const struct obs *q = &s->byinv[i];
			int64_t           need;

			while (j < s->nobs && s->obs[j].t_done < q->t_invoke) {
				if (s->obs[j].version > maxobs) {
					maxobs   = s->obs[j].version;
					maxobs_i = j;
				}
				j++;
			}
			need = q->okwrite ? q->version - 1 : q->version;
			if (maxobs == p->v0 || need >= maxobs || q->op < 0)
				continue; /* the final state: checked above */
			snprintf(who, sizeof(who), "op #%ld (client %d, %s)",
			    q->op, h->ops[q->op].client,
			    type_name(&h->ops[q->op]));
			if (s->obs[maxobs_i].op >= 0)
				snprintf(who2, sizeof(who2), "op #%ld",
				    s->obs[maxobs_i].op);
			else
				snprintf(who2, sizeof(who2), "final state");
			viol(r,
			    "product %s: %s returned version %" PRId64
			    " but was invoked after %s completed having "
			    "seen version %" PRId64,
			    p->id, who, q->version, who2, maxobs);
		}
	}
	free(okw);
	free(kstock);
	free(kop);
	free(indelta);
	return 0;
}

static int
check_product(const struct history *h, int pi, struct pstate *s,
    const struct check_opts *opts, struct check_report *r)
{
	const struct hist_product *p  = &h->products[pi];
	size_t                     nw = 0, nk, maxobs_i = 0;
	int64_t                    reach, maxobs;
	char                       who[96], who2[96];

	for (size_t i = 0; i < s->nops; i++)
		if (is_counter_op(&h->ops[s->ops[i]]))
			return check_counter(h, pi, s, opts, r);

	/* Updates on this product, and the range of versions they span. */
	for (size_t i = 0; i < s->nops; i++)
		if (h->ops[s->ops[i]].type == HIST_UPDATE)
			nw++;
	s->nw     = nw;
	nk        = nw + 2;
	s->okprod = malloc(nk * sizeof(*s->okprod));
	s->cstart = calloc(nk + 1, sizeof(*s->cstart));
	s->cands  = malloc((nw + 1) * sizeof(*s->cands));
	s->fixed  = malloc(nk * sizeof(*s->fixed));
	s->winv   = malloc((nw + 1) * sizeof(*s->winv));
	s->obs    = malloc((s->nops + HIST_FINAL_MAX + 1) * sizeof(*s->obs));
	s->byinv  = malloc((s->nops + HIST_FINAL_MAX + 1) * sizeof(*s->byinv));
	if (!s->okprod || !s->cstart || !s->cands || !s->fixed || !s->winv ||
	    !s->obs || !s->byinv)
		return -1;
	for (size_t k = 0; k < nk; k++) {
		s->okprod[k] = -1;
		s->fixed[k]  = -1;
	}

	/* Pass 1: the updates' own answers; count candidates per version. */
	for (size_t i = 0; i < s->nops; i++) {
		long                  oi = s->ops[i];
		const struct hist_op *op = &h->ops[oi];
		enum outcome          oc;
		int64_t               k;

		if (op->type != HIST_UPDATE)
			continue;
		oc = outcome(op);
		if (oc == O_ABORTED) {
			if (op->ret_version <= op->expected)
				viol(r,
				    "product %s: op #%ld (client %d) "
				    "UpdateStock(expected %" PRId64
				    ") ABORTED reports current version "
				    "%" PRId64 ", not greater than expected",
				    p->id, oi, op->client, op->expected,
				    op->ret_version);
			continue;
		}
		k = op->expected + 1 - p->v0;
		if (oc == O_OK) {
			if (op->ret_version != op->expected + 1)
				viol(r,
				    "product %s: op #%ld (client %d) "
				    "UpdateStock(expected %" PRId64
				    ") OK returned version %" PRId64
				    " (want %" PRId64 ")",
				    p->id, oi, op->client, op->expected,
				    op->ret_version, op->expected + 1);
			if (op->ret_stock != op->stock)
				viol(r,
				    "product %s: op #%ld (client %d) "
				    "UpdateStock(stock %" PRId64
				    ") OK returned stock %" PRId64,
				    p->id, oi, op->client, op->stock,
				    op->ret_stock);
			if (k < 1 || (size_t)k > nw) {
				viol(r,
				    "product %s: op #%ld (client %d) "
				    "UpdateStock(expected %" PRId64
				    ") OK, but version %" PRId64
				    " can never have existed",
				    p->id, oi, op->client, op->expected,
				    op->expected);
				continue;
			}
			if (s->okprod[k] >= 0)
				viol(r,
				    "product %s: two UpdateStock calls "
				    "succeeded with expected version %" PRId64
				    ": op #%ld (client %d) and op #%ld "
				    "(client %d)",
				    p->id, op->expected, s->okprod[k],
				    h->ops[s->okprod[k]].client, oi,
				    op->client);
			else
				s->okprod[k] = oi;
		}
		s->winv[s->nwinv++] = op->t_invoke;
		if (k >= 1 && (size_t)k <= nw)
			s->cstart[k + 1]++;
	}
	qsort(s->winv, s->nwinv, sizeof(*s->winv), cmp_i64);
	for (size_t k = 1; k <= nk; k++)
		s->cstart[k] += s->cstart[k - 1];
	{
		size_t *fill = malloc((nk + 1) * sizeof(*fill));
		if (fill == NULL)
			return -1;
		memcpy(fill, s->cstart, (nk + 1) * sizeof(*fill));
		for (size_t i = 0; i < s->nops; i++) {
			const struct hist_op *op = &h->ops[s->ops[i]];
			int64_t               k  = op->expected + 1 - p->v0;
			if (op->type != HIST_UPDATE ||
			    outcome(op) == O_ABORTED || k < 1 ||
			    (size_t)k > nw)
				continue;
			s->cands[fill[k]++] = s->ops[i];
		}
		free(fill);
	}
	/* Highest version reachable by a chain of candidate writes. */
	reach = p->v0;
	for (size_t k = 1; k <= nw && s->cstart[k + 1] > s->cstart[k]; k++)
		reach = p->v0 + (int64_t)k;

	/* Pass 2: every observed state. */
	for (size_t i = 0; i < s->nops; i++) {
		long                  oi = s->ops[i];
		const struct hist_op *op = &h->ops[oi];
		struct obs o = { op->t_invoke, op->t_complete, op->ret_version,
			op->ret_stock, oi, 0 };

		if (op->type == HIST_READ) {
			r->reads++;
			if (op->code != HIST_OK) {
				r->other_reads++;
				continue;
			}
			r->reads_checked++;
		} else {
			r->updates++;
			switch (outcome(op)) {
			case O_OK:
				r->ok++;
				o.okwrite = 1;
				break;
			case O_ABORTED:
				r->conflicts++;
				break;
			case O_INDET:
				r->indeterminate++;
				continue;
			}
		}
		s->obs[s->nobs++] = o;
		if (!o.okwrite)
			check_obs(h, p, s, reach, &o, r);
	}
	if (p->nfinal == 0 && opts != NULL && opts->require_final)
		viol(r, "product %s: no final state was read", p->id);
	for (int f = 0; f < p->nfinal; f++) {
		struct obs o = { HIST_NO_TIME, HIST_NO_TIME,
			p->final[f].version, p->final[f].stock, -1 - f, 0 };
		r->finals_checked++;
		if (f > 0 && (p->final[f].version != p->final[0].version ||
		                 p->final[f].stock != p->final[0].stock))
			viol(r,
			    "product %s: final state differs: %s says "
			    "version %" PRId64 " stock %" PRId64
			    ", %s says version %" PRId64 " stock %" PRId64,
			    p->id, p->final[0].src, p->final[0].version,
			    p->final[0].stock, p->final[f].src,
			    p->final[f].version, p->final[f].stock);
		s->obs[s->nobs++] = o;
		check_obs(h, p, s, reach, &o, r);
	}
	if (p->nfinal > 0) {
		int64_t vf  = p->final[0].version;
		size_t  oks = 0;
		for (size_t k = 1; k <= nw; k++)
			if (s->okprod[k] >= 0 && p->v0 + (int64_t)k <= vf)
				oks++;
		if (vf > p->v0 && (uint64_t)(vf - p->v0) >= oks)
			r->indet_applied += (size_t)(vf - p->v0) - oks;
	}

	/* Pass 3: real-time order.  Sweep the operations by invoke time,
	 * keeping the highest version seen by any that completed before. */
	memcpy(s->byinv, s->obs, s->nobs * sizeof(*s->obs));
	qsort(s->obs, s->nobs, sizeof(*s->obs), cmp_obs_done);
	qsort(s->byinv, s->nobs, sizeof(*s->byinv), cmp_obs_invoke);
	maxobs = p->v0;
	for (size_t i = 0, j = 0; i < s->nobs; i++) {
		const struct obs *q = &s->byinv[i];
		int64_t           need;

		while (j < s->nobs && s->obs[j].t_done < q->t_invoke) {
			if (s->obs[j].version > maxobs) {
				maxobs   = s->obs[j].version;
				maxobs_i = j;
			}
			j++;
		}
		if (maxobs == p->v0)
			continue;
		/* An OK update saw version expected = version - 1. */
		need = q->okwrite ? q->version - 1 : q->version;
		if (need >= maxobs)
			continue;
		obs_name(&s->obs[maxobs_i], h, who2, sizeof(who2));
		if (q->op < 0)
			viol(r,
			    "product %s: acknowledged write missing: the "
			    "final state has version %" PRId64
			    ", but %s had seen version %" PRId64,
			    p->id, q->version, who2, maxobs);
		else if (q->okwrite)
			viol(r,
			    "product %s: stale write succeeded: %s with "
			    "expected version %" PRId64
			    " was invoked after %s completed having seen "
			    "version %" PRId64,
			    p->id, obs_name(q, h, who, sizeof(who)), need,
			    who2, maxobs);
		else
			viol(r,
			    "product %s: stale read: %s returned version "
			    "%" PRId64 " but was invoked after %s completed "
			    "having seen version %" PRId64,
			    p->id, obs_name(q, h, who, sizeof(who)),
			    q->version, who2, maxobs);
	}
	return 0;
}

static int
cmp_group(const void *a, const void *b, void *hp)
{
	const struct history *h = hp;
	const struct hist_op *x = &h->ops[*(const long *)a];
	const struct hist_op *y = &h->ops[*(const long *)b];

	if (x->group != y->group)
		return (x->group > y->group) - (x->group < y->group);
	return (x->product > y->product) - (x->product < y->product);
}

/* Reservations across products: one code per call, distinct products;
 * counts the calls. */
static int
check_groups(const struct history *h, struct check_report *r)
{
	long  *v;
	size_t n = 0;

	if ((v = malloc((h->nops + 1) * sizeof(*v))) == NULL)
		return -1;
	for (size_t i = 0; i < h->nops; i++)
		if (h->ops[i].type == HIST_RESERVE)
			v[n++] = (long)i;
	qsort_r(v, n, sizeof(*v), cmp_group, (void *)h);
	for (size_t i = 0; i < n; i++) {
		const struct hist_op *x = &h->ops[v[i]];
		const struct hist_op *y = i > 0 ? &h->ops[v[i - 1]] : NULL;

		if (y == NULL || y->group != x->group) {
			r->reserves++;
			if (counter_outcome(x) == O_ABORTED)
				r->refused++;
			continue;
		}
		if (x->code != y->code)
			viol(r,
			    "reservation %" PRId64
			    ": items with different outcomes (op #%ld %d, "
			    "op #%ld %d): not all or nothing",
			    x->group, v[i - 1], y->code, v[i], x->code);
		if (x->product == y->product)
			viol(r,
			    "reservation %" PRId64
			    ": two items on product %s (op #%ld, op #%ld)",
			    x->group, h->products[x->product].id, v[i - 1],
			    v[i]);
	}
	free(v);
	return 0;
}

int
history_check(const struct history *h, const struct check_opts *opts,
    struct check_report *r)
{
	size_t *count;
	long   *byprod;
	int    *clients;
	int     rv = 0;

	memset(r, 0, sizeof(*r));
	r->ops = h->nops;

	/* Distinct clients. */
	if ((clients = malloc((h->nops + 1) * sizeof(*clients))) == NULL)
		goto nomem;
	for (size_t i = 0; i < h->nops; i++)
		clients[i] = h->ops[i].client;
	qsort(clients, h->nops, sizeof(*clients), cmp_int);
	for (size_t i = 0; i < h->nops; i++)
		if (i == 0 || clients[i] != clients[i - 1])
			r->clients++;
	free(clients);

	/* Bucket the operations by product (stable: invoke order kept). */
	count  = calloc((size_t)h->nproducts + 1, sizeof(*count));
	byprod = malloc((h->nops + 1) * sizeof(*byprod));
	if (count == NULL || byprod == NULL) {
		free(count);
		free(byprod);
		goto nomem;
	}
	for (size_t i = 0; i < h->nops; i++) {
		int p = h->ops[i].product;
		if (p < 0 || p >= h->nproducts) {
			viol(r,
			    "op #%zu names product index %d, not in the "
			    "history",
			    i, p);
			continue;
		}
		count[p + 1]++;
	}
	for (int p = 0; p < h->nproducts; p++)
		count[p + 1] += count[p];
	{
		size_t *fill =
		    malloc(((size_t)h->nproducts + 1) * sizeof(*fill));
		if (fill == NULL) {
			free(count);
			free(byprod);
			goto nomem;
		}
		memcpy(
		    fill, count, ((size_t)h->nproducts + 1) * sizeof(*fill));
		for (size_t i = 0; i < h->nops; i++) {
			int p = h->ops[i].product;
			if (p >= 0 && p < h->nproducts)
				byprod[fill[p]++] = (long)i;
		}
		free(fill);
	}
	for (int p = 0; p < h->nproducts && rv == 0; p++) {
		struct pstate s;
		memset(&s, 0, sizeof(s));
		s.nops = count[p + 1] - count[p];
		s.ops  = malloc((s.nops + 1) * sizeof(*s.ops));
		if (s.ops == NULL) {
			rv = -2;
		} else {
			size_t v0 = r->violations, s0 = r->stray_reads;

			memcpy(
			    s.ops, byprod + count[p], s.nops * sizeof(*s.ops));
			if (check_product(h, p, &s, opts, r) != 0)
				rv = -2;
			/* A stray read's product: whatever else failed there
			 * may follow from the read (a later write "stale"
			 * against the version it showed). */
			if (r->stray_reads > s0)
				r->stray_product_violations +=
				    r->violations - v0;
		}
		pstate_fini(&s);
	}
	free(count);
	free(byprod);
	if (rv == -2)
		goto nomem;
	if (check_groups(h, r) != 0)
		goto nomem;
	return r->violations == 0 ? 0 : -1;
nomem:
	viol(r, "checker out of memory");
	return -1;
}

void
history_report_print(FILE *f, const char *title, const struct check_report *r)
{
	fprintf(f, "== %s ==\n", title);
	fprintf(f, "clients:          %d\n", r->clients);
	fprintf(f, "ops:              %zu\n", r->ops);
	fprintf(f, "updates:          %zu\n", r->updates);
	fprintf(f, "  ok:             %zu\n", r->ok);
	fprintf(f, "  conflicts:      %zu\n", r->conflicts);
	fprintf(f,
	    "  indeterminate:  %zu (of which the final state shows "
	    "%zu applied)\n",
	    r->indeterminate, r->indet_applied);
	fprintf(f, "adjusts:          %zu\n", r->adjusts);
	fprintf(f, "reservations:     %zu\n", r->reserves);
	fprintf(f, "  refused:        %zu\n", r->refused);
	fprintf(f, "reads:            %zu\n", r->reads);
	fprintf(f, "  reads checked:  %zu\n", r->reads_checked);
	fprintf(f, "  reads failed:   %zu\n", r->other_reads);
	fprintf(f, "final states:     %zu\n", r->finals_checked);
	fprintf(f, "violations:       %zu\n", r->violations);
	if (r->violations > 0) {
		fprintf(f,
		    "  stray reads:    %zu (reads of a state, at a version "
		    "the serial history has, that it does not have); "
		    "violations on their products: %zu\n",
		    r->stray_reads, r->stray_product_violations);
		fprintf(f, "first violation:  %s\n", r->first);
	}
	fprintf(
	    f, "verdict:          %s\n", r->violations == 0 ? "PASS" : "FAIL");
}
