/* SPDX-License-Identifier: MIT */
/*
 * Executors (see executor.h).
 *
 * Invariants:
 *  - each executor thread owns its store (one PGconn) and nothing else
 *    touches it; the queue's mutex is never held across a database call;
 *  - every call taken from the queue gets exactly one dispatch_op_done(),
 *    after which it is never touched (its frame may be gone);
 *  - a call whose deadline has passed is answered DEADLINE_EXCEEDED
 *    without reaching the database, and a batch statement is bounded by
 *    the earliest deadline among its calls;
 *  - the calls of a frame take effect as if sent one after another: a
 *    batch runs in segments (batch_segment()) whose reads come after
 *    every write ahead of them that they could see; within a segment the
 *    reads share one SELECT and the writes run in the rounds
 *    batch_plan_writes() gives (one write per product per statement, in
 *    arrival order), the calls of a round whose row joins
 *    RPC_BATCH_UPDATES (UpdateStock) as one transaction with rows locked
 *    in id order, the other writes alone; a call with no batch form that
 *    writes nothing (a listing) runs alone;
 *  - what a call is, the executor learns from its row (op->rpc: run,
 *    writes, batch form) and nothing else;
 *  - a repeat of a request id takes its leader's outcome only when that
 *    applied (OK or ALREADY_EXISTS), else it runs;
 *  - a batch that fails as a whole falls back to call by call, except a
 *    write batch whose outcome is unknown (connection lost after its
 *    commit was sent): its calls are answered UNAVAILABLE;
 *  - a call that waits on row locks while other calls of the batch are
 *    to run waits at most LOCK_SLICE_MS, then is deferred (with every
 *    call that depends on it, batch_depends()) until after them, so it
 *    never spends its neighbours' deadlines; the last pass lets each
 *    call wait within its own deadline.
 */
#include "core/executor.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "core/batch.h"
#include "core/dispatch.h"
#include "handlers/rpc.h"
#include "ops/metrics.h"
#include "store/store.h"

enum {
	IDLE_MS = 1000, /* housekeeping cadence of an idle executor */
	/* How long a call run on its own inside a batch (AdjustStock,
	 * ReserveStock, CreateProduct, a write whose row was busy) may wait
	 * on row locks while other calls of the batch are still to run;
	 * past it the wait is cancelled (nothing applied) and the call runs
	 * after them.  Short, so a waiter never spends its neighbours'
	 * deadlines; a lock held longer costs one cancel per pass. */
	LOCK_SLICE_MS = 50,
	/* Passes over what was deferred before every call waits within its
	 * own deadline only (a pass in which nothing finished is the last
	 * anyway). */
	PASSES_MAX = 3,
};

struct executor;

/* One executor thread and what it owns. */
struct exec_thread {
	struct executor    *ex;
	int                 index;
	pthread_t           thread;
	bool                running; /* the thread was started */
	struct store_read  *reads;   /* scratch, grown as needed */
	size_t              reads_cap;
	struct store_write *writes; /* scratch, EXECUTOR_TAKE_MAX */
	/* The pass being run (run_batch()): its calls in arrival order, and
	 * whether a call that waits on locks is cut short at LOCK_SLICE_MS
	 * to spare the others. */
	struct op **pass;
	size_t      npass;
	bool        capped;
};

struct executor {
	pthread_mutex_t      mtx;  /* guards the queue and stopping */
	pthread_cond_t       cond; /* work queued, or stopping */
	struct op           *head; /* queue, arrival order */
	struct op          **tail;
	bool                 stopping;
	struct store_options opts; /* copied; conninfo borrowed from config */
	int                  count;
	struct exec_thread  *threads;
	size_t               max_pending; /* 0: no limit */
	atomic_size_t        pending;     /* calls queued or being run */
	atomic_size_t        queued;      /* calls in the queue, not yet taken
	                                     (changed under mtx; read by
	                                     /metrics without it) */
};

/* Rate limit of the "refused" line (the count is in the metrics). */
static struct log_limit refused_log = LOG_LIMIT_INIT("overload", 1);

/* ---- one call alone ----------------------------------------------------- */

static bool
expired(struct op *op, uint64_t now)
{
	if (op->deadline_ns == 0 || now < op->deadline_ns)
		return false;
	op->code = CODE_DEADLINE_EXCEEDED;
	snprintf(op->message, sizeof(op->message),
	    "deadline expired before the request reached the database");
	return true;
}

static void
unavailable(struct op *op)
{
	op->code = CODE_UNAVAILABLE;
	snprintf(op->message, sizeof(op->message), "database unavailable");
}

/* The write may or may not have applied: never a definite code. */
static void
unknown(struct op *op)
{
	op->code = CODE_UNAVAILABLE;
	snprintf(op->message, sizeof(op->message),
	    "database connection lost during the commit: outcome unknown; "
	    "resend with the same request id");
}

/* One call alone, its statements bounded by `bound` (its own deadline or
 * an earlier one). */
static void
run_one_until(struct store *st, struct op *op, uint64_t bound)
{
	struct store_req req;

	if (!op->work || expired(op, clock_now_ns()))
		return;
	if (st == NULL || !store_ready(st)) {
		unavailable(op);
		return;
	}
	req.deadline_ns = bound;
	req.caller      = op->caller[0] != '\0' ? op->caller : NULL;
	op->code        = op->rpc->run(st, op, &req);
}

void
executor_run_one(struct store *st, struct op *op)
{
	run_one_until(st, op, op->deadline_ns);
}

/* ---- batches ------------------------------------------------------------ */

static uint64_t
earliest(uint64_t a, uint64_t b)
{
	if (a == 0)
		return b;
	if (b == 0)
		return a;
	return a < b ? a : b;
}

/* Whether op must wait for a call deferred earlier in this pass (it
 * writes a product of it, reads one, lists, or shares its request id):
 * then it is deferred too, so the two keep their order. */
static bool
held_back(struct exec_thread *et, struct op *op)
{
	for (size_t i = 0; i < et->npass && et->pass[i] != op; i++) {
		if (et->pass[i]->deferred && batch_depends(op, et->pass[i])) {
			op->deferred = true;
			return true;
		}
	}
	return false;
}

/* Forget what a cancelled run left in op, so it can run again. */
static void
defer(struct op *op)
{
	free(op->products);
	op->products   = NULL;
	op->nproducts  = 0;
	op->more       = 0;
	op->code       = CODE_OK;
	op->message[0] = '\0';
	memset(&op->product, 0, sizeof(op->product));
	op->deferred = true;
}

/* A call run on its own inside a batch, where it may wait on row locks.
 * While other calls of the batch are to run, the wait is bounded by
 * LOCK_SLICE_MS: cut short (its own deadline not reached, nothing
 * applied: a cancelled statement never is) it is deferred until after
 * them, so one slow call never spends its neighbours' deadlines. */
static void
run_waiting(struct exec_thread *et, struct store *st, struct op *op)
{
	uint64_t now = clock_now_ns(), bound = op->deadline_ns;
	bool     cut = false;

	if (held_back(et, op))
		return;
	/* Only writes wait on row locks; a read is never cut short. */
	if (et->capped && op->rpc->writes) {
		uint64_t slice = now + (uint64_t)LOCK_SLICE_MS * 1000000u;

		if (op->deadline_ns == 0 || slice < op->deadline_ns) {
			bound = slice;
			cut   = true;
		}
	}
	run_one_until(st, op, bound);
	if (cut && op->code == CODE_DEADLINE_EXCEEDED &&
	    (op->deadline_ns == 0 || clock_now_ns() < op->deadline_ns))
		defer(op);
}

static void
run_alone(struct exec_thread *et, struct store *st, struct op **ops, size_t n)
{
	metrics_fallback(n);
	for (size_t i = 0; i < n; i++)
		run_waiting(et, st, ops[i]);
}

static bool
reads_reserve(struct exec_thread *et, size_t n)
{
	struct store_read *r;

	if (n <= et->reads_cap)
		return true;
	if ((r = realloc(et->reads, n * sizeof(*r))) == NULL)
		return false;
	et->reads     = r;
	et->reads_cap = n;
	return true;
}

/* How many ids op adds to the shared SELECT: those its row's read()
 * yields. */
static size_t
read_count(const struct op *op)
{
	size_t k = 0;

	while (op->rpc->read(op, k) != NULL)
		k++;
	return k;
}

/* Every read of the segment (rows in RPC_BATCH_READS) in one SELECT:
 * each call adds the ids its row's read() yields and takes its results
 * back with reads_take. */
static void
run_reads(struct exec_thread *et, struct store *st, struct op **ops, size_t n)
{
	uint64_t deadline = 0;
	size_t   k        = 0;

	if (n == 0)
		return;
	if (n == 1 && ops[0]->rpc->single_alone && read_count(ops[0]) == 1) {
		executor_run_one(st, ops[0]); /* a plain one-row SELECT */
		return;
	}
	for (size_t i = 0; i < n; i++)
		k += read_count(ops[i]);
	if (!reads_reserve(et, k)) {
		run_alone(et, st, ops, n);
		return;
	}
	k = 0;
	for (size_t i = 0; i < n; i++) {
		struct op  *op = ops[i];
		const char *id;

		deadline = earliest(deadline, op->deadline_ns);
		for (size_t j = 0; (id = op->rpc->read(op, j)) != NULL; j++)
			et->reads[k++].id = id;
	}
	if (store_product_get_many(st, et->reads, k, deadline) != CODE_OK) {
		run_alone(et, st, ops, n);
		return;
	}
	metrics_batch(n);
	k = 0;
	for (size_t i = 0; i < n; i++) {
		ops[i]->rpc->reads_take(ops[i], &et->reads[k]);
		k += read_count(ops[i]);
	}
}

/* One round's calls whose rows join RPC_BATCH_UPDATES: one transaction
 * for all (each row fills its entry), the undecided alone. */
static void
run_round(struct exec_thread *et, struct store *st, struct op **ops, size_t n)
{
	uint64_t deadline = 0;

	if (n == 0)
		return;
	if (n == 1) {
		/* One statement alone is cheaper for PostgreSQL than the
		 * batch's lock, write and lookup. */
		run_waiting(et, st, ops[0]);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct store_write *w = &et->writes[i];

		ops[i]->rpc->update_fill(ops[i], w);
		w->request_id = ops[i]->request_id;
		w->caller  = ops[i]->caller[0] != '\0' ? ops[i]->caller : NULL;
		w->unknown = false;
		deadline   = earliest(deadline, ops[i]->deadline_ns);
	}
	if (store_product_update_many(st, et->writes, n, deadline) !=
	    CODE_OK) {
		if (et->writes[0].unknown) { /* then all are */
			/* The connection went away after the commit was
			 * sent: any of them may have applied.  Run alone, a
			 * write that did would fail its own check and be
			 * answered a definite code it does not deserve. */
			for (size_t i = 0; i < n; i++)
				unknown(ops[i]);
			return;
		}
		run_alone(et, st, ops, n);
		return;
	}
	metrics_batch(n);
	for (size_t i = 0; i < n; i++) {
		if (et->writes[i].code == CODE_UNAVAILABLE) {
			/* Its row was busy: alone, it waits its turn. */
			run_alone(et, st, &ops[i], 1);
			continue;
		}
		ops[i]->code    = et->writes[i].code;
		ops[i]->product = et->writes[i].product;
	}
}

/* A repeat of an earlier call in the batch answers its outcome. */
static void
take_outcome(struct op *op, const struct op *leader)
{
	op->code               = leader->code;
	op->product            = leader->product;
	op->product.prev_stock = -1; /* the leader applied it, not this */
	memcpy(op->message, leader->message, sizeof(op->message));
	if (op->rpc->repeat_take != NULL) /* the rest of it (its items) */
		op->rpc->repeat_take(op, leader);
}

/* Whether a repeat may take its leader's outcome: only one it would get
 * alone, i.e. one the request log holds (see batch_plan_writes()). */
static bool
leader_applied(const struct op *leader)
{
	return leader->code == CODE_OK || leader->code == CODE_ALREADY_EXISTS;
}

/* Round by round: its calls in RPC_BATCH_UPDATES as one batch, the other
 * writes alone;
 * a repeat takes its leader's outcome when that applied, else runs in its
 * own round like any call. */
static void
run_writes(struct exec_thread *et, struct store *st, struct op **ops, size_t n)
{
	struct op *round[EXECUTOR_TAKE_MAX];
	int        rounds;

	if (n == 0)
		return;
	rounds = batch_plan_writes(ops, n);
	for (int r = 0; r < rounds; r++) {
		uint64_t now = clock_now_ns();
		size_t   k   = 0;

		for (size_t i = 0; i < n; i++) {
			struct op *op = ops[i];

			if (op->round != r || expired(op, now) ||
			    held_back(et, op))
				continue;
			if (op->leader != NULL && leader_applied(op->leader)) {
				take_outcome(op, op->leader);
				continue;
			}
			/* Only RPC_BATCH_UPDATES shares statements; the
			 * round keeps the others in order around it. */
			if (op->rpc->batch != RPC_BATCH_UPDATES)
				run_waiting(et, st, op);
			else
				round[k++] = op;
		}
		run_round(et, st, round, k);
	}
}

/* One segment (batch_segment()): its reads and listings, which no write
 * before them in the segment touches, then its writes. */
static void
run_segment(
    struct exec_thread *et, struct store *st, struct op **ops, size_t n)
{
	struct op *reads[EXECUTOR_TAKE_MAX], *writes[EXECUTOR_TAKE_MAX];
	size_t     nr = 0, nw = 0;
	uint64_t   now = clock_now_ns();

	for (size_t i = 0; i < n; i++) {
		struct op *op = ops[i];

		if (expired(op, now) || held_back(et, op))
			continue;
		if (op->rpc->batch == RPC_BATCH_READS)
			reads[nr++] = op;
		else if (op->rpc->writes)
			writes[nw++] = op;
		else
			executor_run_one(st, op); /* a listing: alone */
	}
	run_reads(et, st, reads, nr);
	run_writes(et, st, writes, nw);
}

/* One pass over ops (arrival order), cut into segments so that every
 * read runs after the writes ahead of it that it could see; the calls it
 * deferred go to tail (arrival order).  Returns how many. */
static size_t
run_pass(struct exec_thread *et, struct store *st, struct op **ops, size_t n,
    bool last, struct op **tail)
{
	size_t k = 0;

	et->pass   = ops;
	et->npass  = n;
	et->capped = !last && n > 1;
	for (size_t i = 0; i < n; i++)
		ops[i]->deferred = false;
	for (size_t i = 0; i < n;) {
		size_t len = batch_segment(&ops[i], n - i);

		run_segment(et, st, &ops[i], len);
		i += len;
	}
	for (size_t i = 0; i < n; i++) {
		if (ops[i]->deferred)
			tail[k++] = ops[i];
	}
	et->pass  = NULL;
	et->npass = 0;
	return k;
}

/* The batch, then what it deferred (calls that found their rows locked,
 * and the calls that must follow them), again and again, until a pass in
 * which every call waits within its own deadline only. */
static void
run_batch(struct exec_thread *et, struct store *st, struct op **ops, size_t n)
{
	struct op *buf[2][EXECUTOR_TAKE_MAX];
	uint64_t   now  = clock_now_ns();
	bool       last = false;

	if (!store_ready(st)) {
		for (size_t i = 0; i < n; i++) {
			if (!expired(ops[i], now))
				unavailable(ops[i]);
		}
		return;
	}
	for (int pass = 0; n > 0; pass++) {
		struct op **tail = buf[pass % 2];
		size_t      k;

		last = last || pass + 1 >= PASSES_MAX;
		k    = run_pass(et, st, ops, n, last, tail);
		/* Nothing finished: every call is stuck behind a lock, and
		 * the next pass lets each wait within its own deadline. */
		last = k == n;
		ops  = tail;
		n    = k;
	}
}

/* ---- threads and the queue --------------------------------------------- */

/* Wait for work; returns the number of calls taken into ops (0: stop). */
static size_t
take(struct executor *ex, struct op **ops, struct store *st)
{
	size_t n = 0;

	pthread_mutex_lock(&ex->mtx);
	while (ex->head == NULL && !ex->stopping) {
		struct timespec ts;
		int             rv;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += IDLE_MS / 1000;
		rv = pthread_cond_timedwait(&ex->cond, &ex->mtx, &ts);
		if (rv != 0 && ex->head == NULL) {
			/* Idle: housekeeping, never under the lock. */
			pthread_mutex_unlock(&ex->mtx);
			store_maintain(st);
			pthread_mutex_lock(&ex->mtx);
		}
	}
	/* Whole frames only: splitting one across executors would run its
	 * calls concurrently and out of order (a frame holds at most
	 * DISPATCH_BATCH_MAX calls, so ops[] always has room). */
	while (ex->head != NULL && (n < EXECUTOR_BATCH_MAX ||
	                               ex->head->frame == ops[n - 1]->frame)) {
		ops[n++] = ex->head;
		ex->head = ex->head->next;
	}
	if (ex->head == NULL)
		ex->tail = &ex->head;
	else
		pthread_cond_signal(&ex->cond); /* more for a peer */
	atomic_fetch_sub_explicit(&ex->queued, n, memory_order_relaxed);
	pthread_mutex_unlock(&ex->mtx);
	return n;
}

static void *
exec_main(void *arg)
{
	struct exec_thread *et = arg;
	struct executor    *ex = et->ex;
	struct op          *ops[EXECUTOR_TAKE_MAX];
	struct store       *st = NULL;
	size_t              n;

	if (store_create(&st, &ex->opts) != 0)
		log_err("executor %d: out of memory; it answers UNAVAILABLE",
		    et->index);
	while ((n = take(ex, ops, st)) > 0) {
		if (st != NULL)
			run_batch(et, st, ops, n);
		else
			for (size_t i = 0; i < n; i++)
				unavailable(ops[i]);
		/* Uncounted before their answers leave: a caller that
		 * reads one and calls again at once must not find the
		 * cap still held by the calls just answered. */
		atomic_fetch_sub(&ex->pending, n);
		for (size_t i = 0; i < n; i++)
			dispatch_op_done(ops[i]); /* ops[i] is gone now */
		if (st != NULL)
			store_maintain(st); /* rate-limited inside */
	}
	store_destroy(st);
	return NULL;
}

int
executor_start(
    struct executor **out, int count, const struct store_options *opts)
{
	struct executor *ex;

	if ((ex = calloc(1, sizeof(*ex))) == NULL ||
	    (ex->threads = calloc((size_t)count, sizeof(*ex->threads))) ==
	        NULL) {
		free(ex);
		return -1;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ex->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&ex->mtx, NULL);
	ex->tail  = &ex->head;
	ex->opts  = *opts;
	ex->count = count;
	for (int i = 0; i < count; i++) {
		struct exec_thread *et = &ex->threads[i];

		et->ex    = ex;
		et->index = i;
		if ((et->writes = calloc(
		         EXECUTOR_TAKE_MAX, sizeof(*et->writes))) == NULL ||
		    pthread_create(&et->thread, NULL, exec_main, et) != 0) {
			log_err("cannot start executor %d", i);
			executor_stop(ex);
			return -1;
		}
		et->running = true;
	}
	*out = ex;
	return 0;
}

void
executor_set_max_pending(struct executor *ex, size_t max_pending)
{
	ex->max_pending = max_pending;
}

/* Reserve room for up to n calls under the cap; returns how many fit. */
static size_t
reserve(struct executor *ex, size_t n)
{
	size_t cur = atomic_load(&ex->pending), room;

	do {
		if (ex->max_pending == 0)
			room = n;
		else
			room =
			    cur < ex->max_pending ? ex->max_pending - cur : 0;
		if (room > n)
			room = n;
	} while (room > 0 && !atomic_compare_exchange_weak(
	                         &ex->pending, &cur, cur + room));
	return room;
}

/* Answer the calls of list RESOURCE_EXHAUSTED at once. */
static void
refuse(struct executor *ex, struct op *list, size_t n)
{
	struct op *next;

	metrics_overload(METRICS_REFUSED_CALLS, n);
	log_at_limited(&refused_log, LOG_LEVEL_WARN,
	    "overload: %zu call(s) refused: %zu pending reached "
	    "--max-pending",
	    n, ex->max_pending);
	for (struct op *op = list; op != NULL; op = next) {
		next     = op->next;
		op->work = false;
		op->code = CODE_RESOURCE_EXHAUSTED;
		snprintf(op->message, sizeof(op->message),
		    "server overloaded: %zu calls pending (--max-pending); "
		    "retry later",
		    ex->max_pending);
		dispatch_op_done(op);
	}
}

void
executor_submit(struct executor *ex, struct op *list)
{
	struct op *last = list, *over;
	size_t     n    = 1, fit;

	if (list == NULL)
		return;
	while (last->next != NULL) {
		last = last->next;
		n++;
	}
	/* The calls over the cap, in arrival order, are refused; the
	 * frame's earlier calls still run. */
	if ((fit = reserve(ex, n)) < n) {
		if (fit == 0) {
			refuse(ex, list, n);
			return;
		}
		last = list;
		for (size_t i = 1; i < fit; i++)
			last = last->next;
		over       = last->next;
		last->next = NULL;
		refuse(ex, over, n - fit);
	}
	pthread_mutex_lock(&ex->mtx);
	*ex->tail = list;
	ex->tail  = &last->next;
	atomic_fetch_add_explicit(&ex->queued, fit, memory_order_relaxed);
	pthread_cond_signal(&ex->cond);
	pthread_mutex_unlock(&ex->mtx);
}

void
executor_load(struct executor *ex, size_t *queued, size_t *running)
{
	size_t q = atomic_load_explicit(&ex->queued, memory_order_relaxed);
	size_t p = atomic_load_explicit(&ex->pending, memory_order_relaxed);

	/* Two relaxed reads a moment apart: clamp rather than underflow. */
	*queued  = q;
	*running = p > q ? p - q : 0;
}

void
executor_stop(struct executor *ex)
{
	if (ex == NULL)
		return;
	pthread_mutex_lock(&ex->mtx);
	ex->stopping = true;
	pthread_cond_broadcast(&ex->cond);
	pthread_mutex_unlock(&ex->mtx);
	for (int i = 0; i < ex->count; i++) {
		if (ex->threads[i].running)
			pthread_join(ex->threads[i].thread, NULL);
		free(ex->threads[i].reads);
		free(ex->threads[i].writes);
	}
	pthread_cond_destroy(&ex->cond);
	pthread_mutex_destroy(&ex->mtx);
	free(ex->threads);
	free(ex);
}
