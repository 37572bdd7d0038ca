/* SPDX-License-Identifier: MIT */
/*
 * workload: the worker threads, their sessions (the callers simulated),
 * and the clock they share.
 *
 * Each worker owns a handle in LOOP mode and a share of the sessions; it
 * starts every session's first operation, then runs its handle's
 * completions from poll() until all its sessions are finished.  A
 * session's operation (ops.c) is a chain of callbacks; when it ends,
 * bench_op_done() accounts it and starts the session's next one.
 *
 * Closed loop (default): a session issues its next operation as soon as
 * the previous one ended, and latency is the operation's own time.  Open
 * loop (--rate R): operation j of the run is due at start + j/R; a
 * session claims the next slot and, if it is early, waits in its
 * worker's queue (slots are claimed in order, so the queue is sorted) and
 * the worker starts it when due; latency is measured from the due time,
 * so time spent queued behind a slow server is counted (no coordinated
 * omission).
 */
#include <errno.h>
#include <poll.h>
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

static size_t
code_slot(inventory_code code)
{
	return (unsigned)code < BENCH_CODES - 1 ? (size_t)code
	                                        : BENCH_CODES - 1;
}

/* --- sessions ----------------------------------------------------------- */

/* The worker's poll() timeout at most: how often it looks at the stop
 * flag when nothing completes. */
#define WORKER_TICK_MS 100

/* Start s's next operation, or finish it (the run is over for it), or
 * queue it until its due time (open loop). */
static void
session_next(struct bench_session *s)
{
	struct bench_thread *t    = s->t;
	struct bench        *b    = t->b;
	const bool           open = b->cfg.rate > 0.0;
	uint64_t             begin;

	if (atomic_load_explicit(&b->stop, memory_order_relaxed))
		goto out_finished;
	if (b->cfg.requests > 0 || open) {
		uint64_t slot = atomic_fetch_add_explicit(
		    &b->next_slot, 1, memory_order_relaxed);

		if (b->cfg.requests > 0 && slot >= b->cfg.requests)
			goto out_finished;
		if (open) {
			begin = b->start_ns +
			        (uint64_t)((double)slot * 1e9 / b->cfg.rate);
			if (b->deadline_ns && begin >= b->deadline_ns)
				goto out_finished;
			if (bench_now_ns() < begin) {
				s->begin     = begin;
				s->next_wait = NULL;
				if (t->wait_tail != NULL)
					t->wait_tail->next_wait = s;
				else
					t->wait_head = s;
				t->wait_tail = s;
				return;
			}
		} else {
			begin = bench_now_ns();
		}
	} else {
		begin = bench_now_ns();
		if (begin >= b->deadline_ns)
			goto out_finished;
	}
	s->begin = begin;
	s->op    = bench_pick_op(t);
	s->p     = &b->products[bench_pick_product(t)];
	atomic_fetch_add_explicit(&s->p->ops, 1, memory_order_relaxed);
	bench_start_op(s);
	return;

out_finished:
	t->active--;
}

void
bench_op_done(struct bench_session *s, inventory_code rc)
{
	struct bench_thread *t   = s->t;
	uint64_t             end = bench_now_ns();

	hist_record(&t->hist[s->op], end > s->begin ? end - s->begin : 0);
	t->status[s->op][code_slot(rc)]++;
	t->ops++;
	atomic_fetch_add_explicit(&t->live_ops, 1, memory_order_relaxed);
	if (rc != INVENTORY_OK && rc != INVENTORY_ABORTED &&
	    rc != INVENTORY_FAILED_PRECONDITION)
		atomic_fetch_add_explicit(
		    &t->live_errors, 1, memory_order_relaxed);
	session_next(s);
}

/* Open loop: start the waiting sessions that are due; the poll()
 * timeout until the next one (or WORKER_TICK_MS). */
static int
start_due(struct bench_thread *t)
{
	struct bench_session *s;
	uint64_t              now = bench_now_ns();

	if (atomic_load_explicit(&t->b->stop, memory_order_relaxed)) {
		/* Interrupted: the waiting sessions are finished. */
		while ((s = t->wait_head) != NULL) {
			t->wait_head = s->next_wait;
			t->active--;
		}
		t->wait_tail = NULL;
		return WORKER_TICK_MS;
	}
	while ((s = t->wait_head) != NULL && s->begin <= now) {
		if ((t->wait_head = s->next_wait) == NULL)
			t->wait_tail = NULL;
		s->op = bench_pick_op(t);
		s->p  = &t->b->products[bench_pick_product(t)];
		atomic_fetch_add_explicit(&s->p->ops, 1, memory_order_relaxed);
		bench_start_op(s);
		now = bench_now_ns();
	}
	if (s == NULL || s->begin - now >= (uint64_t)WORKER_TICK_MS * 1000000)
		return WORKER_TICK_MS;
	return (int)((s->begin - now + 999999) / 1000000);
}

static void *
worker_main(void *arg)
{
	struct bench_thread *t   = arg;
	struct pollfd        pfd = {
		       .fd     = inventory_client_fd(t->client),
		       .events = POLLIN,
	};

	t->active = t->nsessions;
	for (int i = 0; i < t->nsessions; i++)
		session_next(&t->sessions[i]);
	while (t->active > 0) {
		int timeout = start_due(t);

		if (poll(&pfd, 1, timeout) > 0)
			(void)inventory_client_process(t->client);
	}
	atomic_fetch_sub(&t->b->running, 1);
	return NULL;
}

int
bench_threads_open(struct bench *b, const inventory_client_opts *co)
{
	inventory_client_opts o = *co;
	int                   n = b->cfg.threads;
	inventory_code        rc;

	if (n > b->cfg.clients)
		n = b->cfg.clients;
	if ((b->threads = calloc((size_t)n, sizeof(*b->threads))) == NULL) {
		fprintf(stderr, "inventory-bench: out of memory\n");
		return -1;
	}
	b->nthreads  = n;
	o.completion = INVENTORY_COMPLETE_LOOP;
	for (int i = 0; i < n; i++) {
		rc = inventory_client_open_opts(
		    &b->threads[i].client, b->cfg.server, &o);
		if (rc != INVENTORY_OK) {
			fprintf(stderr,
			    "inventory-bench: cannot open %s: %s\n",
			    b->cfg.server, inventory_code_name(rc));
			return -1;
		}
		inventory_client_set_timeout(
		    b->threads[i].client, b->cfg.timeout_ms);
	}
	return 0;
}

void
bench_threads_close(struct bench *b)
{
	for (int i = 0; b->threads != NULL && i < b->nthreads; i++) {
		struct bench_thread *t = &b->threads[i];

		inventory_client_close(t->client);
		for (int j = 0; t->sessions != NULL && j < t->nsessions; j++)
			free((void *)t->sessions[j].ids);
		free(t->sessions);
	}
	free(b->threads);
	b->threads  = NULL;
	b->nthreads = 0;
}

/* Give thread t its share of the sessions, with their buffers. */
static int
sessions_make(struct bench *b, struct bench_thread *t)
{
	int n = b->cfg.clients / b->nthreads +
	        (t->index < b->cfg.clients % b->nthreads ? 1 : 0);

	if ((t->sessions = calloc((size_t)n, sizeof(*t->sessions))) == NULL)
		return -1;
	t->nsessions = n;
	for (int j = 0; j < n; j++) {
		struct bench_session *s = &t->sessions[j];

		s->t = t;
		if (b->cfg.weight[OP_BATCHGET] > 0 &&
		    (s->ids = calloc(
		         (size_t)b->cfg.batch_size, sizeof(*s->ids))) == NULL)
			return -1;
	}
	return 0;
}

int
bench_run(struct bench *b)
{
	int n = b->nthreads;
	int i, op;
	int started = 0;

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
		if (sessions_make(b, t) != 0) {
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
