/* SPDX-License-Identifier: MIT */
/*
 * verify: the end-of-run invariant, read back through the service.
 *
 * For every product the run used (seeded, or listed in --ids):
 *   final.version - initial.version  in  [acked, acked + unknown]
 *   final.stock   - initial.stock    in  [acked_delta - unknown_neg,
 *                                         acked_delta + unknown_pos]
 *   final.stock >= 0, and no reply during the run showed a negative stock
 * where `acked` counts the writes the service acknowledged OK and
 * `unknown` those whose reply was lost (timeout, UNAVAILABLE, ...).  With
 * no unknown outcomes both checks are exact equalities.  In `buy` the
 * stock check is "final stock = initial stock - acknowledged purchases":
 * no lost sale, no oversold item.  `adjust` and `reserve` count each
 * AdjustStock and each item of a ReserveStock as one write with its
 * delta (-1 a sale, +N a restock); a reservation of unknown outcome is
 * unknown for each of its items, as it applied to all or to none.  Any reply
 * that broke the contract during the run (an OK update that did not land on
 * expected_version + 1, a conflict that did not report a newer version) also
 * fails the check.
 *
 * The check assumes nobody else writes these products during the run.
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

struct final_state {
	int64_t *version; /* per product; -1 if the read failed */
	int64_t *stock;
};

static int
read_final(struct bench *b, struct bench_product *p, void *arg)
{
	struct final_state *fs  = arg;
	size_t              i   = (size_t)(p - b->products);
	inventory_product  *out = NULL;
	inventory_status    st  = { 0 };
	inventory_code      rc;
	inventory_call_opts o = { .timeout_ms = bench_setup_timeout(b) };
	int                 tries;

	for (tries = 0; tries < 3; tries++) {
		rc = inventory_get_product(b->client, p->id, &o, &out, &st);
		if (rc == INVENTORY_OK) {
			fs->version[i] = out->version;
			fs->stock[i]   = out->stock;
			inventory_product_free(out);
			inventory_status_fini(&st);
			return 0;
		}
		if (!inventory_code_outcome_unknown(rc)) {
			break;
		}
		usleep(100000);
	}
	fprintf(stderr, "inventory-bench: final GetProduct %s: %s: %s\n",
	    p->id, inventory_code_name(rc), st.message);
	inventory_status_fini(&st);
	fs->version[i] = -1;
	return 0; /* keep reading the others */
}

static void
got_final(struct bench *b, struct bench_product *p,
    const inventory_product *got, void *arg)
{
	struct final_state *fs = arg;
	size_t              i  = (size_t)(p - b->products);

	fs->version[i] = got->version;
	fs->stock[i]   = got->stock;
}

static void fail(struct bench_verdict *v, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
fail(struct bench_verdict *v, const char *fmt, ...)
{
	va_list ap;

	v->ok = false;
	if (v->message[0] == '\0') {
		va_start(ap, fmt);
		vsnprintf(v->message, sizeof(v->message), fmt, ap);
		va_end(ap);
	}
}

void
bench_verify(struct bench *b)
{
	struct bench_verdict *v = &b->verdict;
	struct final_state    fs;
	size_t                i;
	int                   t;

	memset(v, 0, sizeof(*v));
	v->ok       = true;
	v->products = b->nproducts;
	for (t = 0; t < b->nthreads; t++) {
		const struct bench_thread *th = &b->threads[t];
		v->negative_seen += th->negative_seen;
		v->contract_violations += th->contract_violations;
		if (th->contract_violations > 0 && v->message[0] == '\0') {
			snprintf(v->message, sizeof(v->message),
			    "contract violation: %s", th->violation);
		}
	}
	if (v->contract_violations > 0) {
		v->ok = false;
	}
	if (v->negative_seen > 0) {
		v->ok = false;
		if (v->message[0] == '\0') {
			snprintf(v->message, sizeof(v->message),
			    "%llu replies showed a negative stock",
			    (unsigned long long)v->negative_seen);
		}
	}
	for (i = 0; i < b->nproducts; i++) {
		v->unknown_writes +=
		    (uint64_t)atomic_load(&b->products[i].unknown);
	}
	if (v->unknown_writes > 0) {
		/* A write whose reply was lost may still be running on the
		 * server: give it the call timeout to land (either way it
		 * stays inside the range checked below). */
		int ms = b->cfg.timeout_ms < 2000 ? b->cfg.timeout_ms : 2000;
		usleep((useconds_t)ms * 1000u);
	}

	/* At least one element: calloc(0) may return NULL. */
	fs.version = calloc(b->nproducts + 1, sizeof(int64_t));
	fs.stock   = calloc(b->nproducts + 1, sizeof(int64_t));
	if (fs.version == NULL || fs.stock == NULL) {
		v->ok = false;
		snprintf(v->message, sizeof(v->message), "out of memory");
		goto out_free;
	}
	bench_read_all(b, got_final, read_final, &fs);

	for (i = 0; i < b->nproducts; i++) {
		const struct bench_product *p     = &b->products[i];
		long long                   acked = atomic_load(&p->acked);
		long long                   unk   = atomic_load(&p->unknown);
		long long delta = atomic_load(&p->acked_delta);
		long long uneg  = atomic_load(&p->unknown_neg);
		long long upos  = atomic_load(&p->unknown_pos);
		long long dv, ds;

		v->acked_writes += (uint64_t)acked;
		v->purchases += (uint64_t)atomic_load(&p->purchases);
		if (fs.version[i] < 0) {
			v->read_errors++;
			fail(v, "%s: final read failed", p->id);
			continue;
		}
		dv = fs.version[i] - p->init_version;
		ds = fs.stock[i] - p->init_stock;
		if (dv > 0) {
			v->version_delta += (uint64_t)dv;
		}
		if (dv < acked || dv > acked + unk) {
			v->version_bad++;
			fail(v,
			    "%s: version advanced by %lld, acknowledged "
			    "writes %lld..%lld",
			    p->id, dv, acked, acked + unk);
		}
		if (ds < delta - uneg || ds > delta + upos) {
			v->stock_bad++;
			fail(v,
			    "%s: stock changed by %lld, acknowledged "
			    "changes %lld..%lld",
			    p->id, ds, delta - uneg, delta + upos);
		}
		if (fs.stock[i] < 0) {
			v->stock_bad++;
			fail(v, "%s: final stock %lld is negative", p->id,
			    (long long)fs.stock[i]);
		}
	}
	v->exact = v->unknown_writes == 0;
out_free:
	free(fs.version);
	free(fs.stock);
}
