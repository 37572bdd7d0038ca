/* SPDX-License-Identifier: MIT */
/*
 * Request metrics: a counter per (method, status code) and a latency
 * histogram per method with power-of-two microsecond buckets.  Updated only
 * by the dispatcher with relaxed atomics (workers never contend on a lock);
 * read by metrics_log() for the shutdown and SIGUSR1 summaries.  Conflicts
 * (ABORTED) are the service's contention signal, so the summary names
 * their rate explicitly.  metrics_expose() renders the same counters in
 * Prometheus' text format for GET /metrics: the request path only adds,
 * a scrape only reads, so nobody scraping costs the request path nothing.
 * The Connect calls of the HTTP endpoint have a counter of their own (by
 * method, HTTP method and code), added to by http.c only, so that the
 * share of traffic over Connect, and its refusals before dispatch, show.
 */
#include "ops/metrics.h"

#include <inttypes.h>
#include <stdatomic.h>

#include "base/code.h"
#include "base/log.h"
#include "ops/procstat.h"

enum {
	METRICS_CODES   = 17, /* gRPC codes 0..16 */
	METRICS_BUCKETS = 27, /* 2^0 .. 2^26 µs (about 67 s) */
};

static _Atomic uint64_t counts[METRICS_METHODS][METRICS_CODES];
static _Atomic uint64_t latency[METRICS_METHODS][METRICS_BUCKETS];
static _Atomic uint64_t latency_sum_us[METRICS_METHODS];
static _Atomic uint64_t batches, batched_calls, fallback_calls;
static _Atomic uint64_t overload[METRICS_OVERLOAD_KINDS];
static _Atomic uint64_t probes;
static _Atomic uint64_t connect_counts[METRICS_METHODS][2][METRICS_CODES];

void
metrics_probe(void)
{
	atomic_fetch_add_explicit(&probes, 1, memory_order_relaxed);
}

uint64_t
metrics_probe_count(void)
{
	return atomic_load_explicit(&probes, memory_order_relaxed);
}

void
metrics_overload(enum metrics_overload kind, uint64_t n)
{
	atomic_fetch_add_explicit(&overload[kind], n, memory_order_relaxed);
}

uint64_t
metrics_overload_count(enum metrics_overload kind)
{
	return atomic_load_explicit(&overload[kind], memory_order_relaxed);
}

void
metrics_batch(size_t calls)
{
	atomic_fetch_add_explicit(&batches, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&batched_calls, calls, memory_order_relaxed);
}

void
metrics_fallback(size_t calls)
{
	atomic_fetch_add_explicit(
	    &fallback_calls, calls, memory_order_relaxed);
}

uint64_t
metrics_fallback_count(void)
{
	return atomic_load_explicit(&fallback_calls, memory_order_relaxed);
}

static int
bucket_of(uint64_t us)
{
	int b = 0;

	while (us > 1 && b < METRICS_BUCKETS - 1) {
		us >>= 1;
		b++;
	}
	return b;
}

static int
clamp_method(int method)
{
	return (method < 0 || method >= METRICS_METHODS) ? METRICS_METHODS - 1
	                                                 : method;
}

void
metrics_record(int method, int code, uint64_t latency_us)
{
	method = clamp_method(method);
	if (code < 0 || code >= METRICS_CODES) {
		code = CODE_INTERNAL;
	}
	atomic_fetch_add_explicit(
	    &counts[method][code], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &latency[method][bucket_of(latency_us)], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(
	    &latency_sum_us[method], latency_us, memory_order_relaxed);
}

uint64_t
metrics_count(int method, int code)
{
	if (code < 0 || code >= METRICS_CODES) {
		return 0;
	}
	return atomic_load_explicit(
	    &counts[clamp_method(method)][code], memory_order_relaxed);
}

/* A Connect count's code slot: a code outside the table counts as
 * INTERNAL, as in metrics_record(). */
static int
connect_code(int code)
{
	return code >= 0 && code < METRICS_CODES ? code : CODE_INTERNAL;
}

void
metrics_connect(int method, int get, int code)
{
	_Atomic uint64_t *n = &connect_counts[clamp_method(method)][get != 0]
	                                     [connect_code(code)];

	atomic_fetch_add_explicit(n, 1, memory_order_relaxed);
}

/* Upper bound, in µs, of the bucket holding quantile q of method's calls. */
static uint64_t
quantile_us(int method, uint64_t total, double q)
{
	uint64_t want = (uint64_t)((double)total * q);
	uint64_t seen = 0;

	for (int b = 0; b < METRICS_BUCKETS; b++) {
		seen += atomic_load_explicit(
		    &latency[method][b], memory_order_relaxed);
		if (seen > want) {
			return (uint64_t)1 << b;
		}
	}
	return (uint64_t)1 << (METRICS_BUCKETS - 1);
}

const char *
metrics_method_name(int method)
{
	const ProtobufCServiceDescriptor *svc =
	    &inventory__v1__inventory_service__descriptor;

	method = clamp_method(method);
	return (unsigned)method < svc->n_methods ? svc->methods[method].name
	                                         : "unknown";
}

void
metrics_log(void)
{
	for (int m = 0; m < METRICS_METHODS; m++) {
		const char *name  = metrics_method_name(m);
		uint64_t    total = 0;

		for (int c = 0; c < METRICS_CODES; c++) {
			uint64_t n = metrics_count(m, c);
			if (n == 0) {
				continue;
			}
			total += n;
			log_info("metrics method=%s code=%s count=%llu", name,
			    code_name(c), (unsigned long long)n);
		}
		if (total == 0) {
			continue;
		}
		log_info("metrics method=%s total=%llu aborted=%llu "
		         "p50_us<=%llu p99_us<=%llu",
		    name, (unsigned long long)total,
		    (unsigned long long)metrics_count(m, CODE_ABORTED),
		    (unsigned long long)quantile_us(m, total, 0.50),
		    (unsigned long long)quantile_us(m, total, 0.99));
	}
	log_info("metrics batches=%llu batched_calls=%llu fallback_calls=%llu",
	    (unsigned long long)atomic_load(&batches),
	    (unsigned long long)atomic_load(&batched_calls),
	    (unsigned long long)atomic_load(&fallback_calls));
	log_info("metrics refused_calls=%llu refused_frames=%llu "
	         "refused_connections=%llu stalled_connections=%llu",
	    (unsigned long long)metrics_overload_count(METRICS_REFUSED_CALLS),
	    (unsigned long long)metrics_overload_count(METRICS_REFUSED_FRAMES),
	    (unsigned long long)metrics_overload_count(METRICS_REFUSED_CONNS),
	    (unsigned long long)metrics_overload_count(METRICS_STALLED_CONNS));
}

/* ---- Prometheus text exposition format 0.0.4 ---------------------------- */

static uint64_t
load(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

static void
header(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
expose_requests(FILE *out)
{
	header(out, "inventory_requests_total", "counter",
	    "Calls answered, by method and status code (gRPC code names).");
	for (int m = 0; m < METRICS_METHODS; m++)
		for (int c = 0; c < METRICS_CODES; c++) {
			uint64_t n = load(&counts[m][c]);

			/* OK always (a stable series per method); the other
			 * codes once they happened. */
			if (n == 0 && c != CODE_OK)
				continue;
			fprintf(out,
			    "inventory_requests_total{method=\"%s\",code=\"%"
			    "s\"}"
			    " %" PRIu64 "\n",
			    metrics_method_name(m), code_name(c), n);
		}
	header(out, "inventory_conflicts_total", "counter",
	    "Calls answered ABORTED (an optimistic-concurrency conflict), by "
	    "method.");
	for (int m = 0; m < METRICS_METHODS; m++)
		fprintf(out,
		    "inventory_conflicts_total{method=\"%s\"} %" PRIu64 "\n",
		    metrics_method_name(m), load(&counts[m][CODE_ABORTED]));
}

static void
expose_connect(FILE *out)
{
	static const char *const http_methods[2] = { "POST", "GET" };

	header(out, "inventory_connect_calls_total", "counter",
	    "Connect calls answered on --http, by method, HTTP method and "
	    "status code (gRPC code names); those dispatched are in "
	    "inventory_requests_total too.");
	for (int m = 0; m < METRICS_METHODS; m++)
		for (int g = 0; g < 2; g++)
			for (int c = 0; c < METRICS_CODES; c++) {
				uint64_t n = load(&connect_counts[m][g][c]);

				if (n == 0) /* once it happened */
					continue;
				fprintf(out,
				    "inventory_connect_calls_total{method=\"%s\","
				    "http_method=\"%s\",code=\"%s\"} %" PRIu64
				    "\n",
				    metrics_method_name(m), http_methods[g],
				    code_name(c), n);
			}
}

/* Bucket b holds latencies below 2^(b+1) µs (bucket_of() truncates to
 * whole µs), so its upper bound `le` is 2^(b+1) µs; the last bucket also
 * holds everything longer and is only counted in +Inf. */
static void
expose_latency(FILE *out)
{
	header(out, "inventory_request_duration_seconds", "histogram",
	    "Time from a call's frame arriving to its reply being packed, by "
	    "method.");
	for (int m = 0; m < METRICS_METHODS; m++) {
		const char *name = metrics_method_name(m);
		uint64_t    cum  = 0;

		for (int b = 0; b < METRICS_BUCKETS; b++) {
			cum += load(&latency[m][b]);
			if (b == METRICS_BUCKETS - 1)
				break;
			fprintf(out,
			    "inventory_request_duration_seconds_bucket{method="
			    "\"%s\",le=\"%.9g\"} %" PRIu64 "\n",
			    name, (double)((uint64_t)2 << b) * 1e-6, cum);
		}
		fprintf(out,
		    "inventory_request_duration_seconds_bucket{method=\"%s\","
		    "le=\"+Inf\"} %" PRIu64 "\n",
		    name, cum);
		fprintf(out,
		    "inventory_request_duration_seconds_sum{method=\"%s\"} "
		    "%.6f\n",
		    name, (double)load(&latency_sum_us[m]) * 1e-6);
		fprintf(out,
		    "inventory_request_duration_seconds_count{method=\"%s\"} "
		    "%" PRIu64 "\n",
		    name, cum);
	}
}

static void
expose_counter(FILE *out, const char *name, const char *help, uint64_t v)
{
	header(out, name, "counter", help);
	fprintf(out, "%s %" PRIu64 "\n", name, v);
}

static void
expose_gauge(FILE *out, const char *name, const char *help, double v)
{
	header(out, name, "gauge", help);
	fprintf(out, "%s %.17g\n", name, v);
}

static void
expose_process(FILE *out)
{
	struct procstat ps;

	procstat_read(&ps);
	if (ps.have_cpu) {
		header(out, "process_cpu_seconds_total", "counter",
		    "Total user and system CPU time spent in seconds.");
		fprintf(
		    out, "process_cpu_seconds_total %.2f\n", ps.cpu_seconds);
		if (ps.start_time_s > 0)
			expose_gauge(out, "process_start_time_seconds",
			    "Start time of the process since unix epoch in "
			    "seconds.",
			    (double)(uint64_t)ps.start_time_s);
	}
	if (ps.have_rss)
		expose_gauge(out, "process_resident_memory_bytes",
		    "Resident memory size in bytes.", (double)ps.rss_bytes);
	if (ps.have_fds)
		expose_gauge(out, "process_open_fds",
		    "Number of open file descriptors.", (double)ps.open_fds);
	if (ps.have_max_fds)
		expose_gauge(out, "process_max_fds",
		    "Maximum number of open file descriptors.",
		    (double)ps.max_fds);
}

int
metrics_expose(FILE *out, const struct metrics_gauges *g)
{
	header(out, "inventory_build_info", "gauge",
	    "Always 1; the version label says which inventoryd this is.");
	fprintf(out, "inventory_build_info{version=\"%s\"} 1\n", g->version);
	expose_requests(out);
	expose_connect(out);
	expose_latency(out);
	if (g->db_up >= 0)
		expose_gauge(out, "inventory_db_up",
		    "1 if the readiness check reached the database at its "
		    "last run (at most 1 s ago), else 0.",
		    g->db_up);
	if (g->ready >= 0)
		expose_gauge(out, "inventory_ready",
		    "1 while GET /readyz answers 200: the database reachable "
		    "and its schema current, else 0.",
		    g->ready);
	expose_counter(out, "inventory_db_reconnects_total",
	    "Database connections an executor established again after it "
	    "lost one.",
	    g->db_reconnects);
	expose_gauge(out, "inventory_requests_queued",
	    "Calls waiting in the executors' queue.", (double)g->queued);
	expose_gauge(out, "inventory_requests_in_flight",
	    "Calls an executor has taken and not yet answered.",
	    (double)g->in_flight);
	expose_counter(out, "inventory_batches_total",
	    "Batches of calls an executor ran as shared statements.",
	    load(&batches));
	expose_counter(out, "inventory_batched_calls_total",
	    "Calls run inside those batches.", load(&batched_calls));
	expose_counter(out, "inventory_fallback_calls_total",
	    "Calls run again one by one after their batch failed as a "
	    "whole.",
	    load(&fallback_calls));
	expose_counter(out, "inventory_probes_total",
	    "Liveness probes answered (empty requests, kept out of the "
	    "per-method counts).",
	    load(&probes));
	header(out, "inventory_refused_total", "counter",
	    "What the server refused or closed to stay within its limits, "
	    "by reason.");
	static const char *const reasons[METRICS_OVERLOAD_KINDS] = {
		[METRICS_REFUSED_CALLS]  = "max_pending",
		[METRICS_REFUSED_FRAMES] = "frames_per_connection",
		[METRICS_REFUSED_CONNS]  = "max_connections",
		[METRICS_STALLED_CONNS]  = "stalled_connection",
	};
	for (int k = 0; k < METRICS_OVERLOAD_KINDS; k++)
		fprintf(out,
		    "inventory_refused_total{reason=\"%s\"} %" PRIu64 "\n",
		    reasons[k], load(&overload[k]));
	expose_process(out);
	return ferror(out) ? -1 : 0;
}
