/* SPDX-License-Identifier: MIT */
/*
 * report: the human summary (in the manner of ghz) and the JSON document.
 * Reads only the merged results in struct bench; called after the run.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

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
	fprintf(f, "\n  Count:\t%llu\n", (unsigned long long)b->ops);
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

static void
json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s != NULL && *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			fprintf(f, "\\%c", c);
		} else if (c < 0x20) {
			fprintf(f, "\\u%04x", c);
		} else {
			fputc(c, f);
		}
	}
	fputc('"', f);
}

static void
json_latency(FILE *f, const struct hist *h)
{
	fprintf(f,
	    "{\"p50\": %.1f, \"p75\": %.1f, \"p90\": %.1f, \"p95\": %.1f, "
	    "\"p99\": %.1f, \"p999\": %.1f, \"p9999\": %.1f, \"max\": %.1f, "
	    "\"min\": %.1f, \"mean\": %.1f, \"stddev\": %.1f}",
	    us(hist_percentile(h, 50)), us(hist_percentile(h, 75)),
	    us(hist_percentile(h, 90)), us(hist_percentile(h, 95)),
	    us(hist_percentile(h, 99)), us(hist_percentile(h, 99.9)),
	    us(hist_percentile(h, 99.99)), us(h->max),
	    us(h->total ? h->min : 0), hist_mean(h) / 1e3,
	    hist_stddev(h) / 1e3);
}

static void
json_status(FILE *f, const struct bench *b, int op)
{
	bool   first = true;
	size_t i;

	fputc('{', f);
	for (i = 0; i < BENCH_CODES; i++) {
		uint64_t n = op < 0 ? status_total(b, i) : b->status[op][i];
		if (n == 0) {
			continue;
		}
		fprintf(f, "%s\"%s\": %llu", first ? "" : ", ", code_name(i),
		    (unsigned long long)n);
		first = false;
	}
	fputc('}', f);
}

int
bench_report_json(const struct bench *b, const char *path)
{
	const struct bench_config  *c = &b->cfg;
	const struct bench_verdict *v = &b->verdict;
	FILE  *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
	double d = duration_s(b);
	bool   first;
	int    op;

	if (f == NULL) {
		fprintf(stderr, "inventory-bench: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	fprintf(f, "{\n  \"config\": {\"server\": ");
	json_str(f, c->server);
	fprintf(f,
	    ", \"clients\": %d, \"duration_s\": %g, \"requests\": %llu, "
	    "\"products\": %zu, \"ids_file\": ",
	    c->clients, c->duration_s, (unsigned long long)c->requests,
	    b->nproducts);
	if (c->ids_file) {
		json_str(f, c->ids_file);
	} else {
		fputs("null", f);
	}
	fputs(", \"workload\": ", f);
	json_str(f, c->workload);
	fputs(", \"skew\": ", f);
	json_str(f, c->skew_name);
	fprintf(f,
	    ", \"mode\": \"%s\", \"rate\": %g, \"timeout_ms\": %d, "
	    "\"seed\": %llu, \"initial_stock\": %lld, "
	    "\"max_attempts\": %d, \"connections\": %d, \"coalesce\": %s, "
	    "\"batch_size\": %d},\n",
	    c->rate > 0 ? "open" : "closed", c->rate, c->timeout_ms,
	    (unsigned long long)c->seed, (long long)c->initial_stock,
	    c->max_attempts, c->connections > 0 ? c->connections : 2,
	    c->no_coalesce ? "false" : "true", c->batch_size);
	fprintf(f,
	    "  \"requests\": %llu,\n  \"rpcs\": %llu,\n"
	    "  \"duration_s\": %.6f,\n  \"throughput_rps\": %.3f,\n",
	    (unsigned long long)b->ops, (unsigned long long)b->rpcs, d,
	    d > 0 ? (double)b->ops / d : 0.0);
	fputs("  \"latency_us\": ", f);
	json_latency(f, &b->all);
	fputs(",\n  \"status\": ", f);
	json_status(f, b, -1);
	fprintf(f,
	    ",\n  \"writes\": %llu,\n  \"conflicts\": %llu,\n"
	    "  \"conflict_rate\": %.6f,\n  \"refusals\": %llu,\n"
	    "  \"restocks\": %llu,\n",
	    (unsigned long long)b->writes, (unsigned long long)b->conflicts,
	    conflict_rate(b), (unsigned long long)b->refusals,
	    (unsigned long long)b->restocks);
	fputs("  \"workloads\": {", f);
	first = true;
	for (op = 0; op < OP_COUNT; op++) {
		const struct hist *oh = &b->op_hist[op];
		if (oh->total == 0) {
			continue;
		}
		fprintf(f,
		    "%s\n    \"%s\": {\"requests\": %llu, "
		    "\"latency_us\": ",
		    first ? "" : ",", bench_op_name((enum bench_op)op),
		    (unsigned long long)oh->total);
		json_latency(f, oh);
		fputs(", \"status\": ", f);
		json_status(f, b, op);
		fputc('}', f);
		first = false;
	}
	fputs("\n  },\n", f);
	fprintf(f, "  \"invariant_ok\": %s,\n", v->ok ? "true" : "false");
	fprintf(f,
	    "  \"invariant\": {\"exact\": %s, \"products\": %zu, "
	    "\"acked_writes\": %llu, \"unknown_writes\": %llu, "
	    "\"version_delta\": %llu, \"purchases\": %llu, "
	    "\"version_mismatches\": %zu, \"stock_mismatches\": %zu, "
	    "\"read_errors\": %zu, \"negative_stock_seen\": %llu, "
	    "\"contract_violations\": %llu, \"message\": ",
	    v->exact ? "true" : "false", v->products,
	    (unsigned long long)v->acked_writes,
	    (unsigned long long)v->unknown_writes,
	    (unsigned long long)v->version_delta,
	    (unsigned long long)v->purchases, v->version_bad, v->stock_bad,
	    v->read_errors, (unsigned long long)v->negative_seen,
	    (unsigned long long)v->contract_violations);
	json_str(f, v->message);
	fputs("}\n}\n", f);
	if (f == stdout) {
		return fflush(f) == 0 ? 0 : -1;
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "inventory-bench: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}
