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

static int
check_product(const struct history *h, int pi, struct pstate *s,
    const struct check_opts *opts, struct check_report *r)
{
	const struct hist_product *p  = &h->products[pi];
	size_t                     nw = 0, nk, maxobs_i = 0;
	int64_t                    reach, maxobs;
	char                       who[96], who2[96];

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
			memcpy(
			    s.ops, byprod + count[p], s.nops * sizeof(*s.ops));
			if (check_product(h, p, &s, opts, r) != 0)
				rv = -2;
		}
		pstate_fini(&s);
	}
	free(count);
	free(byprod);
	if (rv == -2)
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
	fprintf(f, "reads:            %zu\n", r->reads);
	fprintf(f, "  reads checked:  %zu\n", r->reads_checked);
	fprintf(f, "  reads failed:   %zu\n", r->other_reads);
	fprintf(f, "final states:     %zu\n", r->finals_checked);
	fprintf(f, "violations:       %zu\n", r->violations);
	if (r->violations > 0)
		fprintf(f, "first violation:  %s\n", r->first);
	fprintf(
	    f, "verdict:          %s\n", r->violations == 0 ? "PASS" : "FAIL");
}
