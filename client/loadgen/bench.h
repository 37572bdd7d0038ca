/* SPDX-License-Identifier: MIT */
/*
 * inventory-bench: shared types of the load generator.
 *
 * One process, `threads` worker threads, and `clients` sessions (the
 * callers being simulated) spread over them.  Each worker has its own
 * inventory_client handle in INVENTORY_COMPLETE_LOOP mode and keeps its
 * sessions' calls in flight with the asynchronous API, running their
 * completions from a poll() loop: a session's operation is a chain of
 * callbacks, and its completion starts the session's next operation, so
 * N sessions are N calls (or read->update cycles) in flight without N
 * threads.  The library coalesces each handle's concurrent calls into
 * batch frames over `connections` connections per URL, unless
 * --no-coalesce.  The hot path allocates nothing of its own:
 * per-session buffers are made before the clock starts.  Each thread
 * owns its counters and histograms (its sessions run only on it) and
 * touches nothing shared on the hot path except the per-product outcome
 * counters below, which are atomics because the invariant check needs an
 * exact count per product of acknowledged writes.  The main thread
 * merges everything after joining the workers; seeding and the final
 * check use a handle of its own (synchronous calls).
 *
 * Modules: options.c (argv -> struct bench_config), seed.c (the products:
 * reused by name prefix, created, or read from a file; initial state), keys.c
 * (which product and which operation), ops.c (the operations and their outcome
 * accounting), workload.c (the worker threads), verify.c (the end-of-run
 * invariant), report.c (summary and JSON), histogram.c.
 */
#ifndef BENCH_H
#define BENCH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <inventory/client.h>

#include "histogram.h"

/* Exit statuses. */
enum {
	BENCH_EXIT_OK        = 0, /* ran, and the invariant holds */
	BENCH_EXIT_INVARIANT = 1, /* invariant failed, or the run failed */
	BENCH_EXIT_USAGE     = 2, /* bad command line */
};

/* The kinds of operation a workload mixes.  One operation is one
 * "request" in every count and latency the bench reports. */
enum bench_op {
	OP_GET,    /* GetProduct */
	OP_UPDATE, /* GetProduct, then UpdateStock(read version, stock +-1) */
	OP_RETRY,  /* inventory_update_with_retry(stock +-1) */
	OP_BUY,    /* inventory_update_with_retry(stock - 1 while stock > 0) */
	OP_ADJUST, /* AdjustStock(-1), no read and no conflict; when the
	            * stock ran out AdjustStock(+restock) */
	OP_RESERVE,  /* ReserveStock of 1..5 distinct products, 1 unit each;
	              * AdjustStock(+restock) of those that ran out */
	OP_BATCHGET, /* BatchGetProducts of batch_size ids: one request */
	OP_COUNT,
};

enum bench_skew {
	SKEW_UNIFORM,
	SKEW_ZIPF,
	SKEW_HOT,
};

/* --name-prefix: the default, and its most bytes (a created product's
 * name is the prefix, a 16-digit run tag and an index, within the
 * server's 200 bytes). */
#define BENCH_NAME_PREFIX_DEFAULT "inventory-bench-"
enum { BENCH_NAME_PREFIX_MAX = 160 };

/* Limits of --clients and --threads. */
enum { BENCH_CLIENTS_MAX = 100000, BENCH_THREADS_MAX = 256 };

/* Status codes are counted in an array indexed by code; the last slot
 * takes any number outside gRPC's 0..16. */
enum { BENCH_CODES = 18 };

/* The command line, parsed. */
struct bench_config {
	const char *server;             /* nng URL list */
	int         clients;            /* sessions: operations in flight */
	int         threads;            /* worker threads (<= clients) */
	double      duration_s;         /* > 0: run this long */
	uint64_t    requests;           /* > 0: run this many operations */
	int         products;           /* > 0: seed this many */
	const char *ids_file;           /* else: use the ids in this file */
	const char *name_prefix;        /* names of the products it creates,
	                                 * and of those it reuses (never "") */
	const char     *write_ids_file; /* write the product ids used here */
	const char     *workload;       /* as given, e.g. "get:90,update:10" */
	unsigned        weight[OP_COUNT]; /* relative weight of each op */
	unsigned        weight_total;     /* sum of weight[] (> 0) */
	enum bench_skew skew;
	double          zipf_s;        /* exponent for SKEW_ZIPF */
	const char     *skew_name;     /* as given */
	double          rate;          /* > 0: open loop at this many ops/s */
	const char     *json_file;     /* NULL: no JSON */
	const char     *svg_file;      /* NULL: no picture */
	int             timeout_ms;    /* per call */
	uint64_t        seed;          /* PRNG seed */
	int64_t         initial_stock; /* stock of seeded products */
	int             max_attempts;  /* writes per retry/buy op */
	int             connections;   /* per URL; 0: the library's default */
	bool            no_coalesce;   /* every call in its own frame */
	int             batch_size;    /* ids per batchget operation */
	bool            progress;      /* live line on stderr */
	bool            quiet;         /* no human summary */
	const char     *tls_ca;        /* --tls-ca: PEM CA, tls+tcp:// */
	const char     *tls_cert;      /* --tls-cert: client certificate */
	const char     *tls_key;       /* --tls-key: its key */
	const char     *tls_server_name; /* NULL: the URL's host */
	char           *token;           /* bearer token (--token-file or
	                                  * INVENTORY_TOKEN), malloc'd; NULL: none.
	                                  * Never printed; wiped by
	                                  * bench_options_fini() */
};

/* One product under load and the acknowledged outcomes of writes to it.
 * Aligned so that two products never share a cache line. */
struct bench_product {
	_Alignas(64) char id[INVENTORY_ID_LEN + 1];
	int64_t      init_version; /* at seed or first read */
	int64_t      init_stock;
	atomic_llong acked;       /* writes acknowledged OK */
	atomic_llong acked_delta; /* net stock change of those */
	atomic_llong unknown;     /* writes whose outcome is unknown */
	atomic_llong unknown_neg; /* ... of which decrement the stock */
	atomic_llong unknown_pos; /* ... of which increment it */
	atomic_llong ops;         /* operations that picked it */
	atomic_llong purchases;   /* buy ops acknowledged */
};

struct bench_thread;

/* One restock in flight (a session may have several: a reservation's
 * items). */
struct bench_restock {
	struct bench_session *s;
	struct bench_product *p;
};

/* Most items one reserve operation takes. */
enum { BENCH_RESERVE_ITEMS_MAX = 5 };

/* One simulated caller: one operation at a time, each a chain of
 * asynchronous calls on its thread's handle. */
struct bench_session {
	struct bench_thread  *t;
	struct bench_session *next_wait; /* open loop: waiting for begin */
	enum bench_op         op;        /* the operation in progress */
	struct bench_product *p;         /* ... on this product */
	uint64_t              begin;     /* its start (or due time) */
	inventory_product     cur;       /* update: the product read */
	int64_t               delta;     /* update: the stock change */
	int                   dir;       /* retry: +1 or -1; buy: 0 */
	int64_t               rmw_delta; /* retry/buy: last attempt's delta */
	inventory_code        rc;        /* the operation's code, kept while
	                                  * its restocks run */
	int                   restocks;  /* restocks still in flight */
	struct bench_restock  rs[BENCH_RESERVE_ITEMS_MAX];
	struct bench_product *prods[BENCH_RESERVE_ITEMS_MAX]; /* reserve */
	size_t                nprods;
	const char          **ids; /* batchget: batch_size id pointers */
};

/* One worker thread's state: written only by that thread, except the
 * live_* counters which the progress line reads. */
struct bench_thread {
	struct bench *b;
	pthread_t     thread;
	int           index;
	uint64_t      rng;            /* xorshift64* state */
	struct hist   hist[OP_COUNT]; /* latency per op kind */
	uint64_t      status[OP_COUNT][BENCH_CODES];
	uint64_t      ops;            /* operations completed */
	uint64_t      rpcs;           /* calls into the library */
	uint64_t      writes;         /* UpdateStock, AdjustStock, ReserveStock
	                               * attempts */
	uint64_t conflicts;           /* ABORTED writes */
	uint64_t refusals;            /* FAILED_PRECONDITION writes (too little
	                               * stock): an outcome, not a violation */
	uint64_t restocks;            /* AdjustStock(+restock) calls sent */
	uint64_t contract_violations; /* replies that break the contract */
	uint64_t negative_seen;       /* products seen with stock < 0 */
	char     violation[200];      /* the first contract violation */
	_Alignas(64) atomic_ullong live_ops;
	atomic_ullong live_conflicts;
	atomic_ullong live_errors; /* operations that failed (not refusals) */
	/* Below the live counters, in their cache line: the worker's own. */
	inventory_client     *client;    /* its own, LOOP mode */
	struct bench_session *sessions;  /* its callers */
	struct bench_session *wait_head; /* open loop: due later, in order */
	struct bench_session *wait_tail;
	int                   nsessions;
	int                   active; /* sessions not finished */
};

/* One second of the run, for the picture (svg.c). */
struct bench_second {
	uint64_t ops;       /* operations completed in it */
	uint64_t conflicts; /* conflicts in it */
	uint64_t errors;    /* failed operations in it */
};

/* The end-of-run invariant check. */
struct bench_verdict {
	bool     ok;
	bool     exact;       /* no unknown outcomes: the check is exact */
	size_t   products;    /* products checked */
	size_t   read_errors; /* final reads that failed */
	size_t   version_bad; /* products whose version delta is wrong */
	size_t   stock_bad;   /* products whose stock delta is wrong */
	uint64_t acked_writes;
	uint64_t unknown_writes;
	uint64_t version_delta; /* sum over products of final - initial */
	uint64_t purchases;
	uint64_t negative_seen;
	uint64_t contract_violations;
	char     message[512]; /* first failure, human-readable */
};

/* The whole run. */
struct bench {
	struct bench_config   cfg;
	inventory_client     *client;
	struct bench_product *products;
	size_t                nproducts;
	size_t                reused;   /* of them: found by name prefix */
	size_t                created;  /* of them: created by this run */
	double               *zipf_cdf; /* SKEW_ZIPF: cumulative weights */
	struct bench_thread  *threads;
	int                   nthreads;    /* entries in threads */
	uint64_t              start_ns;    /* load start, CLOCK_MONOTONIC */
	uint64_t              deadline_ns; /* duration mode: stop time */
	uint64_t              finish_ns;   /* last worker done */
	atomic_ullong         next_slot;   /* ops claimed (count / schedule) */
	atomic_int            running;     /* workers still running */
	atomic_int            stop;        /* set to end the run early */
	/* results, merged after the run */
	struct hist          all;
	struct hist          op_hist[OP_COUNT];
	uint64_t             status[OP_COUNT][BENCH_CODES];
	uint64_t             ops, rpcs, writes, conflicts, refusals, restocks;
	struct bench_verdict verdict;
	/* the timeline, one entry per second of load (main.c) */
	struct bench_second *seconds;
	size_t               nseconds, seconds_cap;
};

/* Seeding and the final read-back are not measured: they get at least
 * 10 s per call, so a short --timeout only affects the load itself. */
static inline int
bench_setup_timeout(const struct bench *b)
{
	return b->cfg.timeout_ms > 10000 ? b->cfg.timeout_ms : 10000;
}

/* svg.c: the run as one self-contained SVG at path: requests,
 * conflicts and errors per second over time, and the latency
 * distribution of every operation on a log scale.  0, or -1 after a
 * message on stderr. */
int bench_report_svg(const struct bench *b, const char *path);

/* options.c */
int bench_options_parse(struct bench_config *cfg, int argc, char **argv);
/* Wipe and free what bench_options_parse() allocated (the token). */
void        bench_options_fini(struct bench_config *cfg);
void        bench_usage(FILE *f);
const char *bench_op_name(enum bench_op op);

/* Units one restock adds: the seeded stock, within 1..1000000. */
static inline int64_t
bench_restock_units(const struct bench *b)
{
	int64_t n = b->cfg.initial_stock;

	return n < 1 ? 1 : n > 1000000 ? 1000000 : n;
}

/* keys.c: per-thread PRNG, key and operation choice */
uint64_t      bench_splitmix64(uint64_t x);
uint64_t      bench_rng_next(uint64_t *s);
size_t        bench_rng_below(uint64_t *s, size_t n);
int           bench_zipf_prepare(struct bench *b);
size_t        bench_pick_product(struct bench_thread *t);
enum bench_op bench_pick_op(struct bench_thread *t);

/* ops.c: start session s's operation s->op on s->p; it ends with
 * bench_op_done() (perhaps before this returns, if a call could not
 * start) */
void bench_start_op(struct bench_session *s);

/* workload.c */
uint64_t bench_now_ns(void);
/* Make the worker threads' state and open their handles with co (before
 * the token is wiped); 0, or -1 after a message. */
int bench_threads_open(struct bench *b, const inventory_client_opts *co);
/* Close their handles and free them. */
void bench_threads_close(struct bench *b);
int  bench_run(struct bench *b);
/* Session s's operation ended with rc: account it, start the next. */
void bench_op_done(struct bench_session *s, inventory_code rc);

/* seed.c */
int bench_setup_products(struct bench *b);
int bench_write_ids(const struct bench *b, const char *path);
int bench_parallel(struct bench *b,
    int (*fn)(struct bench *, struct bench_product *, void *), void *arg);
/* Read every product, BENCH_READ_CHUNK ids per BatchGetProducts call, from
 * a few threads; got() receives each product read.  A chunk that fails
 * (a missing id, say) is read product by product with one() instead.
 * Returns 0, or -1 if one() failed. */
enum { BENCH_READ_CHUNK = 500 };
int bench_read_all(struct bench *b,
    void (*got)(struct bench *, struct bench_product *,
        const inventory_product *, void *),
    int (*one)(struct bench *, struct bench_product *, void *), void *arg);

/* verify.c */
void bench_verify(struct bench *b);

/* report.c */
void bench_report_text(const struct bench *b, FILE *f);
int  bench_report_json(const struct bench *b, const char *path);

#endif
