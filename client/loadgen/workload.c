/*
 * workload: the worker threads that run the operations (ops.c) on the
 * products keys.c picks, and the clock they share.
 *
 * Closed loop (default): each worker issues its next operation as soon as
 * the previous one returned, and latency is the call's own time.  Open
 * loop (--rate R): operation j of the run is due at start + j/R; a worker
 * claims the next slot, sleeps until it is due if it is early, and latency
 * is measured from the due time, so time spent queued behind a slow server
 * is counted (no coordinated omission).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

uint64_t
bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
sleep_until_ns(uint64_t t)
{
	struct timespec ts = {
		.tv_sec  = (time_t)(t / 1000000000u),
		.tv_nsec = (long)(t % 1000000000u),
	};

	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
	       EINTR) { }
}

static size_t
code_slot(inventory_code code)
{
	return (unsigned)code < BENCH_CODES - 1 ? (size_t)code
	                                        : BENCH_CODES - 1;
}

/* --- workers ------------------------------------------------------------ */

static void *
worker_main(void *arg)
{
	struct bench_thread *t      = arg;
	struct bench        *b      = t->b;
	const bool           open   = b->cfg.rate > 0.0;
	const double         period = open ? 1e9 / b->cfg.rate : 0.0;

	for (;;) {
		struct bench_product *p;
		enum bench_op         op;
		inventory_code        rc;
		uint64_t              begin, end;

		if (atomic_load_explicit(&b->stop, memory_order_relaxed)) {
			break;
		}
		if (b->cfg.requests > 0 || open) {
			uint64_t slot = atomic_fetch_add_explicit(
			    &b->next_slot, 1, memory_order_relaxed);
			if (b->cfg.requests > 0 && slot >= b->cfg.requests) {
				break;
			}
			if (open) {
				begin = b->start_ns +
				        (uint64_t)((double)slot * period);
				if (b->deadline_ns &&
				    begin >= b->deadline_ns) {
					break;
				}
				if (bench_now_ns() < begin) {
					sleep_until_ns(begin);
				}
			} else {
				begin = bench_now_ns();
			}
		} else {
			begin = bench_now_ns();
			if (begin >= b->deadline_ns) {
				break;
			}
		}
		op = bench_pick_op(t);
		p  = &b->products[bench_pick_product(t)];
		atomic_fetch_add_explicit(&p->ops, 1, memory_order_relaxed);
		rc  = bench_run_op(t, op, p);
		end = bench_now_ns();
		hist_record(&t->hist[op], end > begin ? end - begin : 0);
		t->status[op][code_slot(rc)]++;
		t->ops++;
		atomic_fetch_add_explicit(
		    &t->live_ops, 1, memory_order_relaxed);
		if (rc != INVENTORY_OK && rc != INVENTORY_ABORTED &&
		    rc != INVENTORY_FAILED_PRECONDITION)
			atomic_fetch_add_explicit(
			    &t->live_errors, 1, memory_order_relaxed);
	}
	atomic_fetch_sub(&b->running, 1);
	return NULL;
}

int
bench_run(struct bench *b)
{
	int n = b->cfg.clients;
	int i, op;
	int started = 0;

	b->threads = calloc((size_t)n, sizeof(*b->threads));
	if (b->threads == NULL) {
		fprintf(stderr, "inventory-bench: out of memory\n");
		return -1;
	}
	if (b->cfg.skew == SKEW_ZIPF && bench_zipf_prepare(b) != 0) {
		fprintf(stderr, "inventory-bench: out of memory\n");
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct bench_thread *t = &b->threads[i];
		t->b                   = b;
		t->index               = i;
		t->rng =
		    bench_splitmix64(b->cfg.seed * 1000003u + (uint64_t)i) |
		    1u;
		for (op = 0; op < OP_COUNT; op++) {
			hist_init(&t->hist[op]);
		}
		if (b->cfg.weight[OP_BATCHGET] > 0 &&
		    (t->ids = calloc((size_t)b->cfg.batch_size,
		         sizeof(*t->ids))) == NULL) {
			fprintf(stderr, "inventory-bench: out of memory\n");
			return -1;
		}
	}
	atomic_store(&b->next_slot, 0);
	atomic_store(&b->running, n);
	b->start_ns = bench_now_ns();
	b->deadline_ns =
	    b->cfg.duration_s > 0.0
	        ? b->start_ns + (uint64_t)(b->cfg.duration_s * 1e9)
	        : 0;
	for (i = 0; i < n; i++) {
		if (pthread_create(&b->threads[i].thread, NULL, worker_main,
		        &b->threads[i]) != 0) {
			fprintf(stderr,
			    "inventory-bench: cannot start thread "
			    "%d\n",
			    i);
			atomic_fetch_sub(&b->running, n - i);
			atomic_store(&b->stop, 1);
			break;
		}
		started++;
	}
	return started == n ? 0 : -started - 1;
}
