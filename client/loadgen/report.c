/* SPDX-License-Identifier: MIT */
/*
 * report: the human summary (in the manner of ghz) and the JSON document
 * (built with jansson).  Reads only the merged results in struct bench;
 * called after the run.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bench.h"

static const char *
code_name(size_t slot)
{
	return slot < BENCH_CODES - 1
	           ? inventory_code_name((inventory_code)slot)
	           : "OTHER";
}

static double
duration_s(const struct bench *b)
{
	return (double)(b->finish_ns - b->start_ns) / 1e9;
}

static double
us(uint64_t ns)
{
	return (double)ns / 1000.0;
}

/* "812 µs" / "12.3 ms" / "1.20 s" */
static void
fmt_ns(char *buf, size_t len, double ns)
{
	if (ns < 1e6) {
		snprintf(buf, len, "%.1f µs", ns / 1e3);
	} else if (ns < 1e9) {
		snprintf(buf, len, "%.2f ms", ns / 1e6);
	} else {
		snprintf(buf, len, "%.3f s", ns / 1e9);
	}
}

static uint64_t
status_total(const struct bench *b, size_t slot)
{
	uint64_t n = 0;
	int      op;

	for (op = 0; op < OP_COUNT; op++) {
		n += b->status[op][slot];
	}
	return n;
}

static double
conflict_rate(const struct bench *b)
{
	return b->writes ? (double)b->conflicts / (double)b->writes : 0.0;
}

static const char *
mode_name(const struct bench *b)
{
	return b->cfg.rate > 0.0 ? "open loop" : "closed loop";
}

static void
text_histogram(const struct hist *h, FILE *f)
{
	enum { BINS = 10, WIDTH = 40 };
	double   lo = (double)h->min, hi = (double)h->max;
	uint64_t prev = 0, counts[BINS], most = 0;
	double   edges[BINS];
	bool     logscale = lo > 0.0 && hi > 4.0 * lo;
	int      i, j;

	for (i = 0; i < BINS; i++) {
		double   x = (double)(i + 1) / BINS;
		uint64_t le;
		edges[i] =
		    logscale ? lo * pow(hi / lo, x) : lo + (hi - lo) * x;
		le        = i == BINS - 1 ? h->total
		                          : hist_count_le(h, (uint64_t)edges[i]);
		counts[i] = le > prev ? le - prev : 0;
		prev      = le > prev ? le : prev;
		if (counts[i] > most) {
			most = counts[i];
		}
	}
	fprintf(f, "\nResponse time histogram (%s bins, upper bound):\n",
	    logscale ? "log" : "linear");
	for (i = 0; i < BINS; i++) {
		char t[32];
		int  bar =
                    most ? (int)((counts[i] * WIDTH + most - 1) / most) : 0;
		fmt_ns(t, sizeof(t), edges[i]);
		fprintf(
		    f, "  %12s [%llu]\t|", t, (unsigned long long)counts[i]);
		for (j = 0; j < bar; j++) {
			fputs("∎", f);
		}
		fputc('\n', f);
	}
}

void
bench_report_text(const struct bench *b, FILE *f)
{
	static const double pcts[]    = { 10, 25, 50, 75, 90, 95, 99, 99.9,
		   99.99 };
	const struct hist  *h         = &b->all;
	double              d         = duration_s(b);
	const struct bench_verdict *v = &b->verdict;
	char                        t[32];
	size_t                      i;
	int                         op, nops = 0;

	fprintf(f, "\nSummary:\n");
	fprintf(f, "  Workload:\t%s, skew %s, %zu products, %d clients, %s",
	    b->cfg.workload, b->cfg.skew_name, b->nproducts, b->cfg.clients,
	    mode_name(b));
	if (b->cfg.rate > 0.0) {
		fprintf(f, " at %.0f/s", b->cfg.rate);
	}
	if (b->cfg.ids_file != NULL)
		fprintf(f, "\n  Products:\t%zu from %s", b->nproducts,
		    b->cfg.ids_file);
	else
		fprintf(f,
		    "\n  Products:\t%zu reused (named %s*), %zu created",
		    b->reused, b->cfg.name_prefix, b->created);
	/* An operation may take several RPCs (update: GetProduct then
	 * UpdateStock), so both counts, apart. */
	fprintf(
	    f, "\n  Count:\t%llu operations\n", (unsigned long long)b->ops);
	fprintf(f, "  RPCs:\t\t%llu (%.2f per operation)\n",
	    (unsigned long long)b->rpcs,
	    b->ops ? (double)b->rpcs / (double)b->ops : 0.0);
	fprintf(f, "  Total:\t%.2f s\n", d);
	fmt_ns(t, sizeof(t), (double)h->max);
	fprintf(f, "  Slowest:\t%s\n", t);
	fmt_ns(t, sizeof(t), h->total ? (double)h->min : 0.0);
	fprintf(f, "  Fastest:\t%s\n", t);
	fmt_ns(t, sizeof(t), hist_mean(h));
	fprintf(f, "  Average:\t%s (stddev ", t);
	fmt_ns(t, sizeof(t), hist_stddev(h));
	fprintf(f, "%s)\n", t);
	fprintf(
	    f, "  Requests/sec:\t%.2f\n", d > 0 ? (double)b->ops / d : 0.0);
	fprintf(f, "  RPCs/sec:\t%.2f\n", d > 0 ? (double)b->rpcs / d : 0.0);
	if (b->writes > 0) {
		fprintf(f, "  Conflicts:\t%llu of %llu writes (%.2f %%)\n",
		    (unsigned long long)b->conflicts,
		    (unsigned long long)b->writes, 100.0 * conflict_rate(b));
	}
	if (b->refusals > 0 || b->restocks > 0) {
		fprintf(f,
		    "  Refusals:\t%llu writes found too little stock "
		    "(FAILED_PRECONDITION); %llu restocks\n",
		    (unsigned long long)b->refusals,
		    (unsigned long long)b->restocks);
	}
	if (h->total > 0) {
		text_histogram(h, f);
	}
	fprintf(f, "\nLatency distribution:\n");
	for (i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++) {
		fmt_ns(t, sizeof(t), (double)hist_percentile(h, pcts[i]));
		fprintf(f, "  %g %% in %s\n", pcts[i], t);
	}
	fprintf(f, "\nStatus code distribution:\n");
	for (i = 0; i < BENCH_CODES; i++) {
		uint64_t n = status_total(b, i);
		if (n > 0) {
			fprintf(f, "  [%s]\t%llu responses\n", code_name(i),
			    (unsigned long long)n);
		}
	}
	for (op = 0; op < OP_COUNT; op++) {
		nops += b->op_hist[op].total > 0;
	}
	if (nops > 1) {
		fprintf(f, "\nPer operation:\n");
		for (op = 0; op < OP_COUNT; op++) {
			const struct hist *oh = &b->op_hist[op];
			char               p50[32], p99[32];
			if (oh->total == 0) {
				continue;
			}
			fmt_ns(
			    p50, sizeof(p50), (double)hist_percentile(oh, 50));
			fmt_ns(
			    p99, sizeof(p99), (double)hist_percentile(oh, 99));
			fprintf(f, "  %-7s %10llu  p50 %-10s p99 %-10s",
			    bench_op_name((enum bench_op)op),
			    (unsigned long long)oh->total, p50, p99);
			for (i = 0; i < BENCH_CODES; i++) {
				if (b->status[op][i] > 0) {
					fprintf(f, " %s=%llu", code_name(i),
					    (unsigned long long)
					        b->status[op][i]);
				}
			}
			fputc('\n', f);
		}
	}
	fprintf(f, "\nInvariant: %s%s\n", v->ok ? "HOLDS" : "VIOLATED",
	    v->ok ? (v->exact ? " (exact)"
	                      : " (within the range the unknown outcomes "
	                        "allow)")
	          : "");
	fprintf(f,
	    "  %zu products checked, %llu acknowledged writes, "
	    "%llu unknown outcomes, versions advanced by %llu",
	    v->products, (unsigned long long)v->acked_writes,
	    (unsigned long long)v->unknown_writes,
	    (unsigned long long)v->version_delta);
	if (b->cfg.weight[OP_BUY] + b->cfg.weight[OP_ADJUST] +
	        b->cfg.weight[OP_RESERVE] >
	    0) {
		fprintf(
		    f, ", %llu purchases", (unsigned long long)v->purchases);
	}
	fputc('\n', f);
	if (!v->ok) {
		fprintf(f,
		    "  %zu version, %zu stock mismatches, %zu unreadable, "
		    "%llu negative stocks seen, %llu contract violations\n",
		    v->version_bad, v->stock_bad, v->read_errors,
		    (unsigned long long)v->negative_seen,
		    (unsigned long long)v->contract_violations);
		fprintf(f, "  first: %s\n", v->message);
	}
}

/* --- JSON --------------------------------------------------------------- */

/* The document is built as jansson values and dumped once: jansson does
 * the escaping and keeps the keys in insertion order, which is the order
 * the readers of this document (deploy/bench, smoke.sh) have always seen.
 * Numbers keep their old printf forms' values and types: "%.1f" fields
 * are reals rounded the same way, "%g" fields integers when "%g" printed
 * one, counters integers. */
enum {
	REPORT_DUMP_FLAGS =
	    JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15)
};

/* x rounded as "%.*f" would print it (15 significant digits in the dump
 * print it back as those decimals); a non-finite x as null. */
static json_t *
json_fixed(double x, int decimals)
{
	char buf[64];

	if (!isfinite(x))
		return json_null();
	snprintf(buf, sizeof(buf), "%.*f", decimals, x);
	return json_real(strtod(buf, NULL));
}

/* x as "%g" prints it: an integer when that is an integer token. */
static json_t *
json_g(double x)
{
	char buf[64];

	if (!isfinite(x))
		return json_null();
	snprintf(buf, sizeof(buf), "%g", x);
	if (strpbrk(buf, ".eE") == NULL)
		return json_integer((json_int_t)strtoll(buf, NULL, 10));
	return json_real(strtod(buf, NULL));
}

static json_t *
json_count(uint64_t n)
{
	return json_integer((json_int_t)n);
}

/* s as a JSON string, or null for NULL.  jansson takes only valid UTF-8:
 * a string that is not (a path or URL from argv) is sent with its
 * non-ASCII bytes as '?', rather than failing the whole report. */
static json_t *
json_str(const char *s)
{
	json_t *v;
	char   *copy;

	if (s == NULL)
		return json_null();
	if ((v = json_string(s)) != NULL || (copy = strdup(s)) == NULL)
		return v;
	for (char *c = copy; *c != '\0'; c++)
		if ((unsigned char)*c >= 0x80)
			*c = '?';
	v = json_string(copy);
	free(copy);
	return v;
}

/* Each json_object_set_new() consumes its value, even on failure, so a
 * builder sets every field and reports whether one failed (-1). */
static int
json_latency(json_t **out, const struct hist *h)
{
	json_t *o  = json_object();
	int     rv = 0;

	rv |= json_object_set_new(
	    o, "p50", json_fixed(us(hist_percentile(h, 50)), 1));
	rv |= json_object_set_new(
	    o, "p75", json_fixed(us(hist_percentile(h, 75)), 1));
	rv |= json_object_set_new(
	    o, "p90", json_fixed(us(hist_percentile(h, 90)), 1));
	rv |= json_object_set_new(
	    o, "p95", json_fixed(us(hist_percentile(h, 95)), 1));
	rv |= json_object_set_new(
	    o, "p99", json_fixed(us(hist_percentile(h, 99)), 1));
	rv |= json_object_set_new(
	    o, "p999", json_fixed(us(hist_percentile(h, 99.9)), 1));
	rv |= json_object_set_new(
	    o, "p9999", json_fixed(us(hist_percentile(h, 99.99)), 1));
	rv |= json_object_set_new(o, "max", json_fixed(us(h->max), 1));
	rv |= json_object_set_new(
	    o, "min", json_fixed(us(h->total ? h->min : 0), 1));
	rv |=
	    json_object_set_new(o, "mean", json_fixed(hist_mean(h) / 1e3, 1));
	rv |= json_object_set_new(
	    o, "stddev", json_fixed(hist_stddev(h) / 1e3, 1));
	*out = o;
	return o == NULL ? -1 : rv;
}

/* The status codes seen (op < 0: of every operation), by name. */
static int
json_status(json_t **out, const struct bench *b, int op)
{
	json_t *o  = json_object();
	int     rv = 0;

	for (size_t i = 0; i < BENCH_CODES; i++) {
		uint64_t n = op < 0 ? status_total(b, i) : b->status[op][i];

		if (n > 0)
			rv |= json_object_set_new(
			    o, code_name(i), json_count(n));
	}
	*out = o;
	return o == NULL ? -1 : rv;
}

static int
json_config(json_t **out, const struct bench *b)
{
	const struct bench_config *c  = &b->cfg;
	json_t                    *o  = json_object();
	int                        rv = 0;

	rv |= json_object_set_new(o, "server", json_str(c->server));
	rv |= json_object_set_new(o, "clients", json_integer(c->clients));
	rv |= json_object_set_new(o, "duration_s", json_g(c->duration_s));
	rv |= json_object_set_new(o, "requests", json_count(c->requests));
	rv |= json_object_set_new(o, "products", json_count(b->nproducts));
	rv |= json_object_set_new(o, "ids_file", json_str(c->ids_file));
	rv |= json_object_set_new(o, "workload", json_str(c->workload));
	rv |= json_object_set_new(o, "skew", json_str(c->skew_name));
	rv |= json_object_set_new(
	    o, "mode", json_string(c->rate > 0 ? "open" : "closed"));
	rv |= json_object_set_new(o, "rate", json_g(c->rate));
	rv |=
	    json_object_set_new(o, "timeout_ms", json_integer(c->timeout_ms));
	rv |= json_object_set_new(o, "seed", json_count(c->seed));
	rv |= json_object_set_new(
	    o, "initial_stock", json_integer(c->initial_stock));
	rv |= json_object_set_new(
	    o, "max_attempts", json_integer(c->max_attempts));
	rv |= json_object_set_new(o, "connections",
	    json_integer(c->connections > 0 ? c->connections : 2));
	rv |=
	    json_object_set_new(o, "coalesce", json_boolean(!c->no_coalesce));
	rv |=
	    json_object_set_new(o, "batch_size", json_integer(c->batch_size));
	/* Added after the fields above, so their order is unchanged. */
	rv |= json_object_set_new(o, "name_prefix",
	    c->ids_file != NULL ? json_null() : json_str(c->name_prefix));
	*out = o;
	return o == NULL ? -1 : rv;
}

static int
json_workloads(json_t **out, const struct bench *b)
{
	json_t *o  = json_object();
	int     rv = 0;

	for (int op = 0; op < OP_COUNT; op++) {
		const struct hist *oh = &b->op_hist[op];
		json_t            *w, *v;

		if (oh->total == 0)
			continue;
		w = json_object();
		rv |=
		    json_object_set_new(w, "requests", json_count(oh->total));
		rv |= json_latency(&v, oh);
		rv |= json_object_set_new(w, "latency_us", v);
		rv |= json_status(&v, b, op);
		rv |= json_object_set_new(w, "status", v);
		rv |= json_object_set_new(
		    o, bench_op_name((enum bench_op)op), w);
	}
	*out = o;
	return o == NULL ? -1 : rv;
}

static int
json_invariant(json_t **out, const struct bench_verdict *v)
{
	json_t *o  = json_object();
	int     rv = 0;

	rv |= json_object_set_new(o, "exact", json_boolean(v->exact));
	rv |= json_object_set_new(o, "products", json_count(v->products));
	rv |= json_object_set_new(
	    o, "acked_writes", json_count(v->acked_writes));
	rv |= json_object_set_new(
	    o, "unknown_writes", json_count(v->unknown_writes));
	rv |= json_object_set_new(
	    o, "version_delta", json_count(v->version_delta));
	rv |= json_object_set_new(o, "purchases", json_count(v->purchases));
	rv |= json_object_set_new(
	    o, "version_mismatches", json_count(v->version_bad));
	rv |= json_object_set_new(
	    o, "stock_mismatches", json_count(v->stock_bad));
	rv |=
	    json_object_set_new(o, "read_errors", json_count(v->read_errors));
	rv |= json_object_set_new(
	    o, "negative_stock_seen", json_count(v->negative_seen));
	rv |= json_object_set_new(
	    o, "contract_violations", json_count(v->contract_violations));
	rv |= json_object_set_new(o, "message", json_str(v->message));
	*out = o;
	return o == NULL ? -1 : rv;
}

/* The whole document, or NULL (out of memory). */
static json_t *
json_report(const struct bench *b)
{
	json_t *root = json_object(), *v;
	double  d    = duration_s(b);
	int     rv   = 0;

	rv |= json_config(&v, b);
	rv |= json_object_set_new(root, "config", v);
	rv |= json_object_set_new(root, "requests", json_count(b->ops));
	rv |= json_object_set_new(root, "rpcs", json_count(b->rpcs));
	rv |= json_object_set_new(root, "duration_s", json_fixed(d, 6));
	rv |= json_object_set_new(root, "throughput_rps",
	    json_fixed(d > 0 ? (double)b->ops / d : 0.0, 3));
	rv |= json_latency(&v, &b->all);
	rv |= json_object_set_new(root, "latency_us", v);
	rv |= json_status(&v, b, -1);
	rv |= json_object_set_new(root, "status", v);
	rv |= json_object_set_new(root, "writes", json_count(b->writes));
	rv |= json_object_set_new(root, "conflicts", json_count(b->conflicts));
	rv |= json_object_set_new(
	    root, "conflict_rate", json_fixed(conflict_rate(b), 6));
	rv |= json_object_set_new(root, "refusals", json_count(b->refusals));
	rv |= json_object_set_new(root, "restocks", json_count(b->restocks));
	rv |= json_workloads(&v, b);
	rv |= json_object_set_new(root, "workloads", v);
	rv |= json_object_set_new(
	    root, "invariant_ok", json_boolean(b->verdict.ok));
	rv |= json_invariant(&v, &b->verdict);
	rv |= json_object_set_new(root, "invariant", v);
	/* Added last, so the fields above keep their order: where the
	 * products came from (both 0 with --ids). */
	rv |= json_object_set_new(
	    root, "products_reused", json_count(b->reused));
	rv |= json_object_set_new(
	    root, "products_created", json_count(b->created));
	if (rv != 0) {
		json_decref(root);
		return NULL;
	}
	return root;
}

int
bench_report_json(const struct bench *b, const char *path)
{
	json_t *doc = json_report(b);
	FILE   *f;
	int     rv = -1;

	if (doc == NULL) {
		fprintf(stderr, "inventory-bench: %s: out of memory\n", path);
		return -1;
	}
	f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	if (f == NULL) {
		fprintf(stderr, "inventory-bench: %s: %s\n", path,
		    strerror(errno));
		goto out_doc;
	}
	if (json_dumpf(doc, f, REPORT_DUMP_FLAGS) != 0 ||
	    fputc('\n', f) == EOF) {
		fprintf(stderr, "inventory-bench: %s: %s\n", path,
		    strerror(errno));
		if (f != stdout)
			fclose(f);
		goto out_doc;
	}
	if (f == stdout)
		rv = fflush(f) == 0 ? 0 : -1;
	else if (fclose(f) != 0)
		fprintf(stderr, "inventory-bench: %s: %s\n", path,
		    strerror(errno));
	else
		rv = 0;
out_doc:
	json_decref(doc);
	return rv;
}
