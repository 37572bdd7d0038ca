/* SPDX-License-Identifier: MIT */
/*
 * inventory-history: record a concurrent history against a live
 * inventoryd and check it (see history.h and checker.c).
 *
 *   inventory-history run   [common] [--clients N] (--ops N | --duration S)
 *                           (--products K [--skew hot|uniform|zipf:S]
 *                            | --ids FILE) [--read-ratio R]
 *                           [--history FILE] [--client-base B]
 *                           [--write-ids FILE] [--check]
 *                           [--workload rw|retry|stock] [--retry-attempts N]
 *                           [--retry-max-backoff-ms MS]
 *   inventory-history setup [common] --products K --write-ids FILE
 *   inventory-history check [common] [--no-final] FILE...
 *   inventory-history probe [common] --id ID [--until-ok MS]
 *   common: [--server URL] [--db CONNINFO] [--timeout-ms T]
 *           [--probe-interval-ms P] (the handle's server probes; -1: none)
 *           [--final-wait-ms T]
 *
 * run: N client threads share one inventory_client.  Each loops: pick a
 * product (one hot product, uniform, or Zipf), then either read it or
 * UpdateStock it with the version it last learned (from a read, its own
 * write, or a conflict) and a stock value unique to this call
 * (client * 1000000 + call number), so the final stock names the write
 * that produced it.  Every call is recorded with CLOCK_MONOTONIC times
 * taken before the call and after the reply.  --history streams the
 * history to a file (one write(2) per line, before and after each call),
 * so a process killed mid-request leaves its unfinished calls in the file
 * as indeterminate.  --check then reads the final state of every product
 * (GetProduct, and SELECT from PostgreSQL when a conninfo is known) and
 * runs the checker; the exit status is 0 only for PASS.
 *
 * --workload retry: each client instead loops on
 * inventory_update_with_retry() (the library's read-modify-write helper),
 * writing a stock unique to the call.  Each write the helper sends under
 * a new request id is recorded as one UpdateStock: the helper's first read
 * as a read, each write as invoked when the update function is called with
 * the version it is based on; a conflict is learnt when the function is
 * called again (with the conflict's current product), and the call's
 * result completes the last write (OK, ABORTED, or indeterminate).  Resends
 * of a write whose outcome was unknown carry the same request id, so they
 * are the same operation.  The run then prints "retry: calls N, ok N,
 * errors E, attempts A" and the per-code counts of the calls; with
 * --check, also "lost writes: L" (acknowledged writes whose version the
 * final state does not reach).
 *
 * --workload stock: each client instead reads (--read-ratio),
 * or sends an AdjustStock (restock 1..5 or take 1..3, no expected
 * version), or a ReserveStock of 1..3 distinct products taking 1..3 units
 * each, recorded as one op per item sharing a group.  Every write carries
 * its own request id; a write whose outcome is unknown (UNAVAILABLE,
 * DEADLINE_EXCEEDED, ...) is resent with the same id until it is known,
 * at most --resolve-ms (20000) past the run's end, and recorded as one
 * operation from the first send to the answer.  The run prints "stock:
 * adjusts A, reservations R, resends S, unresolved U, unexpected X" (X:
 * refusals other than FAILED_PRECONDITION, which this workload never
 * provokes; with --check a run with X > 0 fails).
 *
 * check: merge history files, read the final state, run the checker.
 * probe: one GetProduct, printing the code and the time it took; with
 * --until-ok MS, repeat until OK and print the time to the first OK.
 *
 * The server and database default to INVENTORY_SERVER and INVENTORY_DB,
 * from the environment or the test fixtures' files (tests/support).
 * Exit status: 0 PASS/OK, 1 FAIL or probe not OK, 2 usage or setup error.
 */
#include "history.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <inventory/client.h>

#include "testenv.h"

#define STOCK_PER_CLIENT 1000000 /* stock = client * this + call number */
#define MAX_CLIENT       2000    /* keeps stock below 2^31 */

struct config {
	const char *server;            /* nng URL(s) */
	const char *db;                /* libpq conninfo, or NULL */
	int         clients;           /* client threads */
	long        ops;               /* op budget, 0: use duration */
	double      duration;          /* seconds, with ops == 0 */
	int         nproducts;         /* products to create */
	const char *ids;               /* products to use (P lines), or NULL */
	const char *skew;              /* hot, uniform, zipf:S */
	double      read_ratio;        /* share of reads */
	const char *history;           /* stream file, or NULL */
	const char *write_ids;         /* write the P lines here, or NULL */
	int         client_base;       /* first client id */
	int         check;             /* run the checker at the end */
	int         timeout_ms;        /* per call */
	int         probe_interval_ms; /* the handle's probes (client.h);
	                                  0: default, negative: none */
	int         final_wait_ms;     /* retry final reads this long */
	int         no_final;          /* check: do not read the final state */
	const char *probe_id;          /* probe: product id */
	int         until_ok_ms;       /* probe: retry until OK this long */
	int         retry;             /* run: --workload retry */
	int         retry_attempts; /* retry: max_attempts, 0: the library's */
	int retry_backoff; /* retry: max_backoff_ms, 0: the library's */
	int stock;         /* run: --workload stock */
	int resolve_ms;    /* stock: resend an unknown outcome this long
	                    * past the run's end */
};

/* The recording: one history, one lock, one optional stream. */
struct recorder {
	pthread_mutex_t      mu;
	struct history       h;
	int                  fd;   /* history stream, -1 if none */
	int                  werr; /* a stream write failed */
	double              *zcdf; /* product pick CDF, nproducts entries */
	int                  hot;  /* 1: always product 0 */
	inventory_client    *cl;
	const struct config *cfg;
	atomic_long          issued;       /* ops started (budget) */
	int64_t              end_ns;       /* duration deadline */
	atomic_long          codes[17][2]; /* [code][read/update] counts */
	atomic_long          other_codes;
	atomic_long          retry_calls; /* retry: calls made */
	atomic_long          retry_ok;    /* retry: calls that returned OK */
	atomic_long          retry_attempts;   /* retry: writes sent in all */
	atomic_long          retry_codes[17];  /* retry: calls per result */
	atomic_long          stock_adjusts;    /* stock: AdjustStock calls */
	atomic_long          stock_reserves;   /* stock: ReserveStock calls */
	atomic_long          stock_resends;    /* stock: same-id resends */
	atomic_long          stock_unresolved; /* stock: still unknown */
	atomic_long          stock_unexpected; /* stock: other refusals */
};

struct worker {
	struct recorder *rec;
	int              id; /* client id */
	pthread_t        thr;
	uint64_t         rng;
	int64_t         *known; /* last version learned per product, 0: none */
	long             calls;
	long             groups; /* stock: reservations sent */
};

static int64_t
now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static uint64_t
rng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static double
rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) / 9007199254740992.0;
}

static void
stream_line(struct recorder *rec, const char *buf, int len)
{
	if (rec->fd < 0 || len <= 0)
		return;
	if (write(rec->fd, buf, (size_t)len) != (ssize_t)len)
		rec->werr = 1;
}

/* Record an invocation; returns the op index (its seq in the stream). */
static long
rec_invoke(struct recorder *rec, struct hist_op *op)
{
	char buf[256];
	long i;

	pthread_mutex_lock(&rec->mu);
	op->t_invoke = now_ns();
	if ((i = history_add_op(&rec->h, op)) >= 0)
		stream_line(rec, buf,
		    history_fmt_invoke(buf, sizeof(buf), i, op,
		        rec->h.products[op->product].id));
	pthread_mutex_unlock(&rec->mu);
	return i;
}

static void
rec_complete(struct recorder *rec, long i, int code, int64_t version,
    int64_t stock, int64_t t_done)
{
	char            buf[256];
	struct hist_op *op;

	pthread_mutex_lock(&rec->mu);
	op              = &rec->h.ops[i];
	op->code        = code;
	op->ret_version = version;
	op->ret_stock   = stock;
	op->t_complete  = t_done;
	stream_line(rec, buf, history_fmt_complete(buf, sizeof(buf), i, op));
	pthread_mutex_unlock(&rec->mu);
}

/* Record an operation that already completed (times and outcome set). */
static void
rec_done(struct recorder *rec, const struct hist_op *op)
{
	char buf[256];
	long i;

	pthread_mutex_lock(&rec->mu);
	if ((i = history_add_op(&rec->h, op)) >= 0) {
		stream_line(rec, buf,
		    history_fmt_invoke(buf, sizeof(buf), i, op,
		        rec->h.products[op->product].id));
		stream_line(
		    rec, buf, history_fmt_complete(buf, sizeof(buf), i, op));
	}
	pthread_mutex_unlock(&rec->mu);
}

/* A handle on cfg->server with cfg's probe setting. */
static inventory_code
client_open(inventory_client **cl, const struct config *cfg)
{
	inventory_client_opts o = { 0 };

	o.probe_interval_ms = cfg->probe_interval_ms;
	return inventory_client_open_opts(cl, cfg->server, &o);
}

static int
pick_product(struct recorder *rec, uint64_t *rng)
{
	int    n = rec->h.nproducts, lo = 0, hi = n - 1;
	double u;

	if (rec->hot || n == 1)
		return 0;
	u = rng_unit(rng);
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (rec->zcdf[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
count_code(struct recorder *rec, inventory_code code, int upd)
{
	if ((int)code >= 0 && (int)code <= 16)
		atomic_fetch_add(&rec->codes[code][upd], 1);
	else
		atomic_fetch_add(&rec->other_codes, 1);
}

static void *
worker_main(void *arg)
{
	struct worker       *w   = arg;
	struct recorder     *rec = w->rec;
	const struct config *cfg = rec->cfg;
	inventory_call_opts  co  = { cfg->timeout_ms, NULL };

	for (;;) {
		struct hist_op     op;
		inventory_status   st  = { 0 };
		inventory_product *out = NULL;
		inventory_code     code;
		int64_t            t_done;
		long               i;
		int                p;

		if (cfg->ops > 0) {
			if (atomic_fetch_add(&rec->issued, 1) >= cfg->ops)
				break;
		} else if (now_ns() >= rec->end_ns) {
			break;
		}
		p = pick_product(rec, &w->rng);
		memset(&op, 0, sizeof(op));
		op.client     = w->id;
		op.product    = p;
		op.t_complete = HIST_NO_TIME;
		op.code       = HIST_PENDING;
		op.ret_stock  = -1;
		if (w->known[p] == 0 || rng_unit(&w->rng) < cfg->read_ratio) {
			op.type = HIST_READ;
			if ((i = rec_invoke(rec, &op)) < 0)
				break;
			code = inventory_get_product(
			    rec->cl, rec->h.products[p].id, &co, &out, &st);
		} else {
			op.type     = HIST_UPDATE;
			op.expected = w->known[p];
			op.stock    = (int64_t)w->id * STOCK_PER_CLIENT +
			           (++w->calls % STOCK_PER_CLIENT);
			if ((i = rec_invoke(rec, &op)) < 0)
				break;
			code = inventory_update_stock(rec->cl,
			    rec->h.products[p].id, op.stock, op.expected, &co,
			    &out, &st);
		}
		t_done = now_ns();
		count_code(rec, code, op.type == HIST_UPDATE);
		if (code == INVENTORY_OK) {
			rec_complete(
			    rec, i, code, out->version, out->stock, t_done);
			w->known[p] = out->version;
			inventory_product_free(out);
		} else if (code == INVENTORY_ABORTED) {
			rec_complete(rec, i, code, st.current_version,
			    st.current ? st.current->stock : -1, t_done);
			w->known[p] = st.current_version;
		} else {
			rec_complete(rec, i, code, 0, -1, t_done);
			if (op.type == HIST_UPDATE)
				w->known[p] = 0; /* outcome unknown: re-read */
			/* Do not spin while the service is down. */
			usleep(
			    20000 + (useconds_t)(rng_next(&w->rng) % 30000));
		}
		inventory_status_fini(&st);
	}
	return NULL;
}

/* One inventory_update_with_retry() call being recorded. */
struct retry_call {
	struct worker *w;
	int            product;
	int64_t        stock;   /* the value every write of the call sets */
	int64_t        t_start; /* before the call (its read's invoke) */
	long           pending; /* op index of the write in flight, -1 */
};

/* The update function: called with the helper's read, then after each
 * conflict with the conflict's current product.  Completes the write
 * before it (ABORTED: it is called again only after a conflict) and
 * records the next one. */
static inventory_code
retry_fn(const inventory_product *cur, int64_t *new_stock, void *arg)
{
	struct retry_call *rc  = arg;
	struct recorder   *rec = rc->w->rec;
	struct hist_op     op;
	int64_t            t = now_ns();

	memset(&op, 0, sizeof(op));
	op.client  = rc->w->id;
	op.product = rc->product;
	if (rc->pending < 0) {
		op.type        = HIST_READ;
		op.t_invoke    = rc->t_start;
		op.t_complete  = t;
		op.code        = HIST_OK;
		op.ret_version = cur->version;
		op.ret_stock   = cur->stock;
		rec_done(rec, &op);
	} else {
		rec_complete(rec, rc->pending, HIST_ABORTED, cur->version,
		    cur->stock, t);
	}
	op.type        = HIST_UPDATE;
	op.expected    = cur->version;
	op.stock       = rc->stock;
	op.t_complete  = HIST_NO_TIME;
	op.code        = HIST_PENDING;
	op.ret_version = 0;
	op.ret_stock   = -1;
	rc->pending    = rec_invoke(rec, &op);
	*new_stock     = rc->stock;
	return rc->pending < 0 ? INVENTORY_RESOURCE_EXHAUSTED : INVENTORY_OK;
}

static void *
retry_worker_main(void *arg)
{
	struct worker       *w   = arg;
	struct recorder     *rec = w->rec;
	const struct config *cfg = rec->cfg;
	inventory_retry_opts ro  = { 0 };

	ro.max_attempts   = cfg->retry_attempts;
	ro.max_backoff_ms = cfg->retry_backoff;
	ro.timeout_ms     = cfg->timeout_ms;
	for (;;) {
		struct retry_call    rc;
		inventory_status     st  = { 0 };
		inventory_product   *out = NULL;
		inventory_code       code;
		int                  attempts = 0;
		inventory_retry_info info;
		int64_t              t_done;

		if (cfg->ops > 0) {
			if (atomic_fetch_add(&rec->issued, 1) >= cfg->ops)
				break;
		} else if (now_ns() >= rec->end_ns) {
			break;
		}
		rc.w       = w;
		rc.product = pick_product(rec, &w->rng);
		rc.stock   = (int64_t)w->id * STOCK_PER_CLIENT +
		           (++w->calls % STOCK_PER_CLIENT);
		rc.pending = -1;
		rc.t_start = now_ns();
		code       = inventory_update_with_retry(rec->cl,
		          rec->h.products[rc.product].id, retry_fn, &rc, &ro, &out,
		          &st, &info);
		attempts   = info.attempts;
		t_done     = now_ns();
		atomic_fetch_add(&rec->retry_calls, 1);
		atomic_fetch_add(&rec->retry_attempts, attempts);
		if ((int)code >= 0 && (int)code <= 16)
			atomic_fetch_add(&rec->retry_codes[code], 1);
		else
			atomic_fetch_add(&rec->other_codes, 1);
		if (code == INVENTORY_OK) {
			atomic_fetch_add(&rec->retry_ok, 1);
			count_code(rec, code, 1);
			if (rc.pending >= 0)
				rec_complete(rec, rc.pending, code,
				    out->version, out->stock, t_done);
			inventory_product_free(out);
		} else if (rc.pending >= 0) {
			count_code(rec, code, 1);
			if (code == INVENTORY_ABORTED)
				rec_complete(rec, rc.pending, code,
				    st.current_version,
				    st.current ? st.current->stock : -1,
				    t_done);
			else /* outcome unknown (or the call gave up) */
				rec_complete(
				    rec, rc.pending, code, 0, -1, t_done);
		} else {
			/* The helper's read failed: nothing was written. */
			count_code(rec, code, 0);
			fprintf(stderr,
			    "inventory-history: retry read of %s: %s: %s\n",
			    rec->h.products[rc.product].id,
			    inventory_code_name(code), st.message);
		}
		if (code != INVENTORY_OK && rc.pending >= 0)
			fprintf(stderr,
			    "inventory-history: update_with_retry %s: %s "
			    "after %d attempts: %s\n",
			    rec->h.products[rc.product].id,
			    inventory_code_name(code), attempts, st.message);
		inventory_status_fini(&st);
		if (code != INVENTORY_OK)
			usleep(
			    20000 + (useconds_t)(rng_next(&w->rng) % 30000));
	}
	return NULL;
}

/* --workload stock: AdjustStock and ReserveStock. */

enum { STOCK_ITEMS_MAX = 3 };

/* Whether a code tells the outcome of an adjustment or a reservation:
 * OK (applied) or a refusal (nothing applied). */
static int
stock_code_known(inventory_code code)
{
	switch (code) {
	case INVENTORY_OK:
	case INVENTORY_INVALID_ARGUMENT:
	case INVENTORY_NOT_FOUND:
	case INVENTORY_ALREADY_EXISTS:
	case INVENTORY_FAILED_PRECONDITION:
	case INVENTORY_ABORTED:
	case INVENTORY_OUT_OF_RANGE:
		return 1;
	default:
		return 0;
	}
}

/* Resend with the same request id until the outcome is known, or until
 * cfg->resolve_ms past the run's end. */
static int
stock_keep_resending(struct worker *w, inventory_code code)
{
	struct recorder *rec = w->rec;

	if (stock_code_known(code))
		return 0;
	if (now_ns() >= rec->end_ns + (int64_t)rec->cfg->resolve_ms * 1000000)
		return 0;
	atomic_fetch_add(&rec->stock_resends, 1);
	usleep(20000 + (useconds_t)(rng_next(&w->rng) % 30000));
	return 1;
}

/* This workload sends only valid takes and restocks of existing products,
 * each under a fresh id: any code but OK, FAILED_PRECONDITION and the
 * unknown outcomes is unexpected (counted; the first few printed). */
static void
stock_unexpected(struct recorder *rec, const char *what, inventory_code code,
    const inventory_status *st)
{
	if (code == INVENTORY_OK || code == INVENTORY_FAILED_PRECONDITION ||
	    !stock_code_known(code))
		return;
	if (atomic_fetch_add(&rec->stock_unexpected, 1) < 5)
		fprintf(stderr, "inventory-history: %s: %s: %s\n", what,
		    inventory_code_name(code), st->message);
}

static void
stock_adjust(struct worker *w, int p, inventory_call_opts *co)
{
	struct recorder   *rec = w->rec;
	struct hist_op     op;
	inventory_status   st = { 0 };
	inventory_product *out;
	inventory_code     code;
	long               i;

	memset(&op, 0, sizeof(op));
	op.client     = w->id;
	op.product    = p;
	op.type       = HIST_ADJUST;
	op.t_complete = HIST_NO_TIME;
	op.code       = HIST_PENDING;
	op.ret_stock  = -1;
	/* Restock 1..5 or take 1..3. */
	if (rng_next(&w->rng) % 2 == 0)
		op.stock = 1 + (int64_t)(rng_next(&w->rng) % 5);
	else
		op.stock = -1 - (int64_t)(rng_next(&w->rng) % 3);
	if ((i = rec_invoke(rec, &op)) < 0)
		return;
	atomic_fetch_add(&rec->stock_adjusts, 1);
	do {
		out = NULL;
		inventory_status_fini(&st);
		code = inventory_adjust_stock(rec->cl, rec->h.products[p].id,
		    op.stock, 0, co, &out, &st);
		count_code(rec, code, 1);
	} while (stock_keep_resending(w, code));
	if (code == INVENTORY_OK) {
		rec_complete(rec, i, code, out->version, out->stock, now_ns());
		inventory_product_free(out);
	} else if (st.current != NULL) {
		rec_complete(rec, i, code, st.current->version,
		    st.current->stock, now_ns());
	} else {
		rec_complete(rec, i, code, 0, -1, now_ns());
	}
	if (!stock_code_known(code))
		atomic_fetch_add(&rec->stock_unresolved, 1);
	stock_unexpected(rec, "AdjustStock", code, &st);
	inventory_status_fini(&st);
}

static void
stock_reserve(struct worker *w, inventory_call_opts *co)
{
	struct recorder       *rec = w->rec;
	inventory_reserve_item items[STOCK_ITEMS_MAX];
	int                    prod[STOCK_ITEMS_MAX];
	long                   idx[STOCK_ITEMS_MAX];
	int                n = 1 + (int)(rng_next(&w->rng) % STOCK_ITEMS_MAX);
	int                m = 0;
	int64_t            group;
	inventory_status   st = { 0 };
	inventory_product *out;
	inventory_item_error *errs;
	size_t                nerrs;
	inventory_code        code;

	if (n > rec->h.nproducts)
		n = rec->h.nproducts;
	/* Distinct products (a few tries; fewer items if the pick is
	 * narrow). */
	for (int t = 0; t < 4 * n && m < n; t++) {
		int p = pick_product(rec, &w->rng), dup = 0;
		for (int k = 0; k < m; k++)
			dup |= prod[k] == p;
		if (!dup)
			prod[m++] = p;
	}
	group = (int64_t)w->id * 1000000000 + ++w->groups;
	for (int k = 0; k < m; k++) {
		struct hist_op op;

		memset(&op, 0, sizeof(op));
		op.client     = w->id;
		op.product    = prod[k];
		op.type       = HIST_RESERVE;
		op.stock      = 1 + (int64_t)(rng_next(&w->rng) % 3);
		op.group      = group;
		op.t_complete = HIST_NO_TIME;
		op.code       = HIST_PENDING;
		op.ret_stock  = -1;
		items[k]      = (inventory_reserve_item) {
			     .id       = rec->h.products[prod[k]].id,
			     .quantity = op.stock,
		};
		if ((idx[k] = rec_invoke(rec, &op)) < 0)
			return;
	}
	atomic_fetch_add(&rec->stock_reserves, 1);
	errs = NULL;
	do {
		free(errs);
		out   = NULL;
		errs  = NULL;
		nerrs = 0;
		inventory_status_fini(&st);
		code = inventory_reserve(
		    rec->cl, items, (size_t)m, co, &out, &st, &errs, &nerrs);
		count_code(rec, code, 1);
	} while (stock_keep_resending(w, code));
	{
		int64_t t = now_ns();
		for (int k = 0; k < m; k++) {
			int64_t v = 0, sk = -1;

			if (code == INVENTORY_OK) {
				v  = out[k].version;
				sk = out[k].stock;
			}
			for (size_t e = 0; e < nerrs; e++)
				if (errs[e].index == (size_t)k &&
				    errs[e].current.version > 0) {
					v  = errs[e].current.version;
					sk = errs[e].current.stock;
				}
			rec_complete(rec, idx[k], code, v, sk, t);
		}
	}
	if (!stock_code_known(code))
		atomic_fetch_add(&rec->stock_unresolved, 1);
	stock_unexpected(rec, "ReserveStock", code, &st);
	inventory_product_free(out);
	free(errs);
	inventory_status_fini(&st);
}

static void *
stock_worker_main(void *arg)
{
	struct worker       *w   = arg;
	struct recorder     *rec = w->rec;
	const struct config *cfg = rec->cfg;

	for (;;) {
		inventory_call_opts co = { cfg->timeout_ms, NULL };
		char                rid[64];
		double              u;

		if (cfg->ops > 0) {
			if (atomic_fetch_add(&rec->issued, 1) >= cfg->ops)
				break;
		} else if (now_ns() >= rec->end_ns) {
			break;
		}
		testenv_request_id(rid, sizeof(rid));
		co.request_id = rid;
		u             = rng_unit(&w->rng);
		if (u < cfg->read_ratio) {
			struct hist_op     op;
			inventory_status   st  = { 0 };
			inventory_product *out = NULL;
			inventory_code     code;
			long               i;

			memset(&op, 0, sizeof(op));
			op.client     = w->id;
			op.product    = pick_product(rec, &w->rng);
			op.type       = HIST_READ;
			op.t_complete = HIST_NO_TIME;
			op.code       = HIST_PENDING;
			op.ret_stock  = -1;
			if ((i = rec_invoke(rec, &op)) < 0)
				break;
			co.request_id = NULL;
			code          = inventory_get_product(rec->cl,
			             rec->h.products[op.product].id, &co, &out, &st);
			count_code(rec, code, 0);
			if (code == INVENTORY_OK) {
				rec_complete(rec, i, code, out->version,
				    out->stock, now_ns());
				inventory_product_free(out);
			} else {
				rec_complete(rec, i, code, 0, -1, now_ns());
				usleep(20000 + (useconds_t)(rng_next(&w->rng) %
				                            30000));
			}
			inventory_status_fini(&st);
		} else if (u < cfg->read_ratio + (1 - cfg->read_ratio) / 2) {
			stock_adjust(w, pick_product(rec, &w->rng), &co);
		} else {
			stock_reserve(w, &co);
		}
	}
	return NULL;
}

/* Acknowledged writes whose version the final state does not reach. */
static long
lost_writes(const struct history *h)
{
	long lost = 0;

	for (size_t i = 0; i < h->nops; i++) {
		const struct hist_op      *op = &h->ops[i];
		const struct hist_product *p  = &h->products[op->product];

		if (op->type != HIST_UPDATE || op->code != HIST_OK)
			continue;
		for (int f = 0; f < p->nfinal; f++)
			if (p->final[f].version < op->ret_version) {
				lost++;
				break;
			}
	}
	return lost;
}

static int
parse_skew(struct recorder *rec, const char *skew, int n)
{
	double s = 0, sum = 0;

	if (strcmp(skew, "hot") == 0) {
		rec->hot = 1;
		return 0;
	}
	if (strcmp(skew, "uniform") == 0)
		s = 0;
	else if (strncmp(skew, "zipf:", 5) == 0)
		s = atof(skew + 5);
	else
		return -1;
	if ((rec->zcdf = malloc((size_t)n * sizeof(double))) == NULL)
		return -1;
	for (int i = 0; i < n; i++) {
		sum += 1.0 / pow((double)(i + 1), s);
		rec->zcdf[i] = sum;
	}
	for (int i = 0; i < n; i++)
		rec->zcdf[i] /= sum;
	rec->zcdf[n - 1] = 1.0;
	return 0;
}

/* Products: read P lines from cfg->ids, or create cfg->nproducts. */
static int
load_products(struct recorder *rec, const struct config *cfg)
{
	char err[256];

	if (cfg->ids != NULL) {
		struct history tmp;
		history_init(&tmp);
		if (history_read_file(&tmp, cfg->ids, err, sizeof(err)) != 0) {
			fprintf(stderr, "inventory-history: %s\n", err);
			history_fini(&tmp);
			return -1;
		}
		for (int i = 0; i < tmp.nproducts; i++)
			if (history_add_product(&rec->h, tmp.products[i].id,
			        tmp.products[i].v0, tmp.products[i].s0) < 0)
				return -1;
		history_fini(&tmp);
		if (rec->h.nproducts == 0) {
			fprintf(stderr,
			    "inventory-history: no products in %s\n",
			    cfg->ids);
			return -1;
		}
		return 0;
	}
	for (int i = 0; i < cfg->nproducts; i++) {
		inventory_call_opts co  = { cfg->timeout_ms, NULL };
		inventory_status    st  = { 0 };
		inventory_product  *out = NULL;
		inventory_code      code;
		char                name[64];

		snprintf(
		    name, sizeof(name), "history-%d-%d", (int)getpid(), i);
		code = inventory_create_product(
		    rec->cl, name, 0, "1.00", &co, &out, &st);
		if (code != INVENTORY_OK) {
			fprintf(stderr,
			    "inventory-history: CreateProduct: %s: %s\n",
			    inventory_code_name(code), st.message);
			inventory_status_fini(&st);
			return -1;
		}
		if (history_add_product(
		        &rec->h, out->id, out->version, out->stock) < 0) {
			inventory_product_free(out);
			return -1;
		}
		inventory_product_free(out);
	}
	return 0;
}

static int
write_ids(const struct history *h, const char *path)
{
	FILE *f = fopen(path, "w");
	char  buf[128];

	if (f == NULL) {
		fprintf(stderr, "inventory-history: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	for (int i = 0; i < h->nproducts; i++) {
		history_fmt_product(buf, sizeof(buf), &h->products[i]);
		fputs(buf, f);
	}
	return fclose(f) == 0 ? 0 : -1;
}

/* Final state of every product: GetProduct until OK (the service may
 * still be recovering), then SELECT straight from PostgreSQL. */
static int
read_final(
    struct history *h, inventory_client *cl, const struct config *cfg, int fd)
{
	int64_t deadline = now_ns() + (int64_t)cfg->final_wait_ms * 1000000;
	PGconn *db       = NULL;
	char    buf[256];
	int     rv = 0;

	for (int p = 0; p < h->nproducts; p++) {
		inventory_call_opts co = { cfg->timeout_ms, NULL };
		for (;;) {
			inventory_status   st   = { 0 };
			inventory_product *out  = NULL;
			inventory_code     code = inventory_get_product(
			        cl, h->products[p].id, &co, &out, &st);
			if (code == INVENTORY_OK) {
				history_add_final(
				    h, p, "rpc", out->version, out->stock);
				if (fd >= 0 &&
				    write(fd, buf,
				        (size_t)history_fmt_final(buf,
				            sizeof(buf), out->id, "rpc",
				            out->version, out->stock)) < 0)
					rv = -1;
				inventory_product_free(out);
				break;
			}
			inventory_status_fini(&st);
			if (now_ns() > deadline) {
				fprintf(stderr,
				    "inventory-history: final GetProduct %s: "
				    "%s after %d ms\n",
				    h->products[p].id,
				    inventory_code_name(code),
				    cfg->final_wait_ms);
				return -1;
			}
			usleep(100000);
		}
	}
	if (cfg->db == NULL || cfg->db[0] == '\0')
		return rv;
	for (;;) {
		db = PQconnectdb(cfg->db);
		if (PQstatus(db) == CONNECTION_OK)
			break;
		if (now_ns() > deadline) {
			fprintf(stderr, "inventory-history: database: %s",
			    PQerrorMessage(db));
			PQfinish(db);
			return -1;
		}
		PQfinish(db);
		usleep(100000);
	}
	for (int p = 0; p < h->nproducts && rv == 0; p++) {
		const char *params[1] = { h->products[p].id };
		PGresult   *res       = PQexecParams(db,
		            "SELECT version, stock FROM products WHERE id = $1::uuid",
		            1, NULL, params, NULL, NULL, 0);
		if (PQresultStatus(res) != PGRES_TUPLES_OK ||
		    PQntuples(res) != 1) {
			fprintf(stderr,
			    "inventory-history: SELECT product %s: %s\n",
			    h->products[p].id, PQerrorMessage(db));
			rv = -1;
		} else {
			int64_t v = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
			int64_t s = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
			history_add_final(h, p, "sql", v, s);
		}
		PQclear(res);
	}
	PQfinish(db);
	return rv;
}

static int
check_and_print(
    const struct history *h, const struct config *cfg, const char *title)
{
	struct check_opts   opts = { !cfg->no_final };
	struct check_report r;
	int                 rv = history_check(h, &opts, &r);

	history_report_print(stdout, title, &r);
	fflush(stdout);
	return rv == 0 ? 0 : 1;
}

static void
print_codes(struct recorder *rec, double secs)
{
	printf("== run ==\n");
	printf("server:           %s\n", rec->cfg->server);
	printf("clients:          %d\n", rec->cfg->clients);
	printf("products:         %d (%s)\n", rec->h.nproducts,
	    rec->cfg->ids ? "from ids file" : rec->cfg->skew);
	printf("ops:              %zu in %.2f s (%.0f ops/s)\n", rec->h.nops,
	    secs, secs > 0 ? (double)rec->h.nops / secs : 0.0);
	for (int c = 0; c <= 16; c++) {
		long r = atomic_load(&rec->codes[c][0]);
		long u = atomic_load(&rec->codes[c][1]);
		if (r || u)
			printf("  %-18s reads %ld, updates %ld\n",
			    inventory_code_name((inventory_code)c), r, u);
	}
	if (rec->cfg->stock)
		printf("stock: adjusts %ld, reservations %ld, resends %ld, "
		       "unresolved %ld, unexpected %ld\n",
		    atomic_load(&rec->stock_adjusts),
		    atomic_load(&rec->stock_reserves),
		    atomic_load(&rec->stock_resends),
		    atomic_load(&rec->stock_unresolved),
		    atomic_load(&rec->stock_unexpected));
	if (rec->cfg->retry) {
		long calls = atomic_load(&rec->retry_calls);
		long ok    = atomic_load(&rec->retry_ok);

		printf("retry: calls %ld, ok %ld, errors %ld, attempts %ld\n",
		    calls, ok, calls - ok, atomic_load(&rec->retry_attempts));
		for (int c = 0; c <= 16; c++) {
			long n = atomic_load(&rec->retry_codes[c]);
			if (n)
				printf("  retry %-12s %ld\n",
				    inventory_code_name((inventory_code)c), n);
		}
	}
	fflush(stdout);
}

static int
cmd_run(struct config *cfg, int setup_only)
{
	struct recorder rec;
	struct worker  *ws = NULL;
	int64_t         t0;
	int             rv = 2, started = 0;
	char            buf[256];

	memset(&rec, 0, sizeof(rec));
	pthread_mutex_init(&rec.mu, NULL);
	history_init(&rec.h);
	rec.fd  = -1;
	rec.cfg = cfg;
	if (client_open(&rec.cl, cfg) != INVENTORY_OK) {
		fprintf(stderr, "inventory-history: bad server URL %s\n",
		    cfg->server);
		goto out;
	}
	inventory_client_set_timeout(rec.cl, cfg->timeout_ms);
	if (load_products(&rec, cfg) != 0)
		goto out;
	if (cfg->write_ids != NULL && write_ids(&rec.h, cfg->write_ids) != 0)
		goto out;
	if (setup_only) {
		rv = 0;
		goto out;
	}
	if (parse_skew(&rec, cfg->skew, rec.h.nproducts) != 0) {
		fprintf(
		    stderr, "inventory-history: bad --skew %s\n", cfg->skew);
		goto out;
	}
	if (cfg->history != NULL) {
		rec.fd = open(cfg->history,
		    O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0644);
		if (rec.fd < 0) {
			fprintf(stderr, "inventory-history: %s: %s\n",
			    cfg->history, strerror(errno));
			goto out;
		}
		for (int i = 0; i < rec.h.nproducts; i++)
			stream_line(&rec, buf,
			    history_fmt_product(
			        buf, sizeof(buf), &rec.h.products[i]));
	}
	if ((ws = calloc((size_t)cfg->clients, sizeof(*ws))) == NULL)
		goto out;
	t0         = now_ns();
	rec.end_ns = t0 + (int64_t)(cfg->duration * 1e9);
	for (int i = 0; i < cfg->clients; i++) {
		ws[i].rec = &rec;
		ws[i].id  = cfg->client_base + i;
		ws[i].rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(ws[i].id + 1) ^
		            (uint64_t)t0;
		ws[i].known = calloc((size_t)rec.h.nproducts, sizeof(int64_t));
		if (ws[i].known == NULL)
			goto out_join;
		for (int p = 0; p < rec.h.nproducts; p++)
			ws[i].known[p] = rec.h.products[p].v0;
		if (pthread_create(&ws[i].thr, NULL,
		        cfg->stock   ? stock_worker_main
		        : cfg->retry ? retry_worker_main
		                     : worker_main,
		        &ws[i]) != 0)
			goto out_join;
		started++;
	}
out_join:
	for (int i = 0; i < started; i++)
		pthread_join(ws[i].thr, NULL);
	if (started < cfg->clients) {
		fprintf(stderr, "inventory-history: cannot start clients\n");
		goto out;
	}
	print_codes(&rec, (double)(now_ns() - t0) / 1e9);
	if (rec.werr) {
		fprintf(stderr, "inventory-history: writing %s failed\n",
		    cfg->history);
		goto out;
	}
	rv = 0;
	if (cfg->check) {
		if (read_final(&rec.h, rec.cl, cfg, rec.fd) != 0) {
			rv = 1;
			printf("verdict:          FAIL (final state "
			       "unreadable)\n");
			goto out;
		}
		if (cfg->retry)
			printf("lost writes: %ld\n", lost_writes(&rec.h));
		rv = check_and_print(&rec.h, cfg, "check");
		if (rv == 0 && atomic_load(&rec.stock_unexpected) > 0) {
			printf("verdict:          FAIL (unexpected refusals, "
			       "above)\n");
			rv = 1;
		}
	}
out:
	if (ws != NULL)
		for (int i = 0; i < cfg->clients; i++)
			free(ws[i].known);
	free(ws);
	free(rec.zcdf);
	if (rec.fd >= 0)
		close(rec.fd);
	inventory_client_close(rec.cl);
	history_fini(&rec.h);
	pthread_mutex_destroy(&rec.mu);
	return rv;
}

static int
cmd_check(struct config *cfg, int nfiles, char **files)
{
	struct history    h;
	inventory_client *cl = NULL;
	char              err[512];
	int               rv = 2;

	history_init(&h);
	for (int i = 0; i < nfiles; i++)
		if (history_read_file(&h, files[i], err, sizeof(err)) != 0) {
			fprintf(stderr, "inventory-history: %s\n", err);
			goto out;
		}
	if (!cfg->no_final) {
		if (client_open(&cl, cfg) != INVENTORY_OK)
			goto out;
		if (read_final(&h, cl, cfg, -1) != 0) {
			printf("verdict:          FAIL (final state "
			       "unreadable)\n");
			rv = 1;
			goto out;
		}
	}
	rv = check_and_print(&h, cfg, "check");
out:
	inventory_client_close(cl);
	history_fini(&h);
	return rv;
}

static int
cmd_probe(struct config *cfg)
{
	inventory_client   *cl = NULL;
	inventory_call_opts co = { cfg->timeout_ms, NULL };
	int64_t             t0 = now_ns(), t1;
	inventory_code      code;
	int                 tries = 0;

	if (cfg->probe_id == NULL || client_open(&cl, cfg) != INVENTORY_OK) {
		fprintf(stderr, "inventory-history: probe needs --id and a "
		                "valid --server\n");
		return 2;
	}
	for (;;) {
		inventory_status   st  = { 0 };
		inventory_product *out = NULL;
		int64_t            ts  = now_ns();

		tries++;
		code =
		    inventory_get_product(cl, cfg->probe_id, &co, &out, &st);
		t1 = now_ns();
		inventory_product_free(out);
		inventory_status_fini(&st);
		if (cfg->until_ok_ms <= 0) {
			printf("probe: %s in %.0f ms\n",
			    inventory_code_name(code),
			    (double)(t1 - ts) / 1e6);
			break;
		}
		if (code == INVENTORY_OK) {
			printf("probe: first OK after %.0f ms (%d tries)\n",
			    (double)(t1 - t0) / 1e6, tries);
			break;
		}
		if ((t1 - t0) / 1000000 > cfg->until_ok_ms) {
			printf("probe: no OK within %d ms (last %s)\n",
			    cfg->until_ok_ms, inventory_code_name(code));
			break;
		}
		usleep(20000);
	}
	inventory_client_close(cl);
	return code == INVENTORY_OK ? 0 : 1;
}

static void
usage(void)
{
	fprintf(stderr,
	    "usage: inventory-history run|setup|check|probe [options] "
	    "(see the top of tests/history/recorder.c)\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	struct config cfg = {
		.clients       = 64,
		.nproducts     = 1,
		.skew          = "hot",
		.read_ratio    = 0.25,
		.timeout_ms    = 2000,
		.final_wait_ms = 20000,
		.resolve_ms    = 20000,
	};
	const char *cmd;
	int         i;

	if (argc < 2)
		usage();
	cmd = argv[1];
	for (i = 2; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
		const char *o    = argv[i];
		const char *v    = i + 1 < argc ? argv[i + 1] : NULL;
		int         flag = 1;

		if (strcmp(o, "--check") == 0)
			cfg.check = 1;
		else if (strcmp(o, "--no-final") == 0)
			cfg.no_final = 1;
		else
			flag = 0;
		if (flag)
			continue;
		if (v == NULL)
			usage();
		i++;
		if (strcmp(o, "--server") == 0)
			cfg.server = v;
		else if (strcmp(o, "--db") == 0)
			cfg.db = v;
		else if (strcmp(o, "--clients") == 0)
			cfg.clients = atoi(v);
		else if (strcmp(o, "--ops") == 0)
			cfg.ops = atol(v);
		else if (strcmp(o, "--duration") == 0)
			cfg.duration = atof(v);
		else if (strcmp(o, "--products") == 0)
			cfg.nproducts = atoi(v);
		else if (strcmp(o, "--ids") == 0)
			cfg.ids = v;
		else if (strcmp(o, "--skew") == 0)
			cfg.skew = v;
		else if (strcmp(o, "--read-ratio") == 0)
			cfg.read_ratio = atof(v);
		else if (strcmp(o, "--history") == 0)
			cfg.history = v;
		else if (strcmp(o, "--write-ids") == 0)
			cfg.write_ids = v;
		else if (strcmp(o, "--client-base") == 0)
			cfg.client_base = atoi(v);
		else if (strcmp(o, "--timeout-ms") == 0)
			cfg.timeout_ms = atoi(v);
		else if (strcmp(o, "--probe-interval-ms") == 0)
			cfg.probe_interval_ms = atoi(v);
		else if (strcmp(o, "--final-wait-ms") == 0)
			cfg.final_wait_ms = atoi(v);
		else if (strcmp(o, "--id") == 0)
			cfg.probe_id = v;
		else if (strcmp(o, "--until-ok") == 0)
			cfg.until_ok_ms = atoi(v);
		else if (strcmp(o, "--workload") == 0 &&
		         strcmp(v, "retry") == 0)
			cfg.retry = 1;
		else if (strcmp(o, "--workload") == 0 && strcmp(v, "rw") == 0)
			cfg.retry = 0;
		else if (strcmp(o, "--workload") == 0 &&
		         strcmp(v, "stock") == 0)
			cfg.stock = 1;
		else if (strcmp(o, "--resolve-ms") == 0)
			cfg.resolve_ms = atoi(v);
		else if (strcmp(o, "--retry-attempts") == 0)
			cfg.retry_attempts = atoi(v);
		else if (strcmp(o, "--retry-max-backoff-ms") == 0)
			cfg.retry_backoff = atoi(v);
		else
			usage();
	}
	if (cfg.server == NULL)
		cfg.server = testenv_get("INVENTORY_SERVER");
	if (cfg.db == NULL)
		cfg.db = testenv_get("INVENTORY_DB");
	if (cfg.server == NULL) {
		fprintf(stderr, "inventory-history: no --server and no "
		                "INVENTORY_SERVER\n");
		return 2;
	}
	if (cfg.clients < 1 || cfg.clients > MAX_CLIENT ||
	    cfg.client_base < 0 ||
	    cfg.client_base + cfg.clients > MAX_CLIENT || cfg.nproducts < 1 ||
	    cfg.timeout_ms < 1 ||
	    (cfg.ops <= 0 && cfg.duration <= 0 && strcmp(cmd, "run") == 0))
		usage();
	if (strcmp(cmd, "run") == 0)
		return i == argc ? cmd_run(&cfg, 0) : 2;
	if (strcmp(cmd, "setup") == 0)
		return i == argc ? cmd_run(&cfg, 1) : 2;
	if (strcmp(cmd, "check") == 0)
		return i < argc ? cmd_check(&cfg, argc - i, argv + i) : 2;
	if (strcmp(cmd, "probe") == 0)
		return i == argc ? cmd_probe(&cfg) : 2;
	usage();
	return 2;
}
