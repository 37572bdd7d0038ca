/*
 * Request metrics: a counter per (method, status code) and a latency
 * histogram per method with power-of-two microsecond buckets.  Updated only
 * by the dispatcher with relaxed atomics (workers never contend on a lock);
 * read by metrics_log() for the shutdown and SIGUSR1 summaries.  Conflicts
 * (ABORTED) are the service's contention signal, so the summary names
 * their rate explicitly.
 */
#include "metrics.h"

#include <stdatomic.h>

#include "code.h"
#include "log.h"

enum {
	METRICS_CODES   = 17, /* gRPC codes 0..16 */
	METRICS_BUCKETS = 27, /* 2^0 .. 2^26 µs (about 67 s) */
};

static _Atomic uint64_t counts[METRICS_METHODS][METRICS_CODES];
static _Atomic uint64_t latency[METRICS_METHODS][METRICS_BUCKETS];
static _Atomic uint64_t batches, batched_calls, fallback_calls;
static _Atomic uint64_t overload[METRICS_OVERLOAD_KINDS];

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

void
metrics_log(void)
{
	const ProtobufCServiceDescriptor *svc =
	    &inventory__v1__inventory_service__descriptor;

	for (int m = 0; m < METRICS_METHODS; m++) {
		const char *name  = (unsigned)m < svc->n_methods
		                        ? svc->methods[m].name
		                        : "unknown";
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
