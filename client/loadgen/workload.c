/*
 * workload: seeding the products, choosing a product and an operation, the
 * five operations, and the worker threads that run them.
 *
 * Closed loop (default): each worker issues its next operation as soon as
 * the previous one returned, and latency is the call's own time.  Open
 * loop (--rate R): operation j of the run is due at start + j/R; a worker
 * claims the next slot, sleeps until it is due if it is early, and latency
 * is measured from the due time, so time spent queued behind a slow server
 * is counted (no coordinated omission).
 *
 * Outcome accounting, which verify.c relies on: every UpdateStock the bench
 * issues is either acknowledged (OK: counted in the product's `acked` with
 * its stock delta), definitely not applied (ABORTED and the other
 * rejections), or of unknown outcome (timeout, lost connection, internal
 * error: counted in `unknown` with the direction of its delta).
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
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

/* splitmix64: turns the seed and the thread index into a PRNG state. */
static uint64_t
splitmix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* xorshift64*: one per thread, never shared. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(0x2545f4914f6cdd1d);
}

/* Uniform in [0, n) for n < 2^32 (multiply-shift, no division). */
static size_t
rng_below(uint64_t *s, size_t n)
{
	return (size_t)(((rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform double in [0, 1). */
static double
rng_unit(uint64_t *s)
{
	return (double)(rng_next(s) >> 11) * 0x1.0p-53;
}

bool
bench_code_is_unknown_outcome(inventory_code code)
{
	switch (code) {
	case INVENTORY_OK:
	case INVENTORY_INVALID_ARGUMENT:
	case INVENTORY_NOT_FOUND:
	case INVENTORY_ALREADY_EXISTS:
	case INVENTORY_PERMISSION_DENIED:
	case INVENTORY_RESOURCE_EXHAUSTED:
	case INVENTORY_FAILED_PRECONDITION:
	case INVENTORY_ABORTED:
	case INVENTORY_OUT_OF_RANGE:
	case INVENTORY_UNIMPLEMENTED:
	case INVENTORY_UNAUTHENTICATED:
		return false;
	default:
		/* DEADLINE_EXCEEDED, UNAVAILABLE, INTERNAL, UNKNOWN,
		 * CANCELLED, DATA_LOSS: the write may have been applied. */
		return true;
	}
}

static size_t
code_slot(inventory_code code)
{
	return (unsigned)code < BENCH_CODES - 1 ? (size_t)code
	                                        : BENCH_CODES - 1;
}

static void violation(struct bench_thread *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
violation(struct bench_thread *t, const char *fmt, ...)
{
	va_list ap;

	if (t->contract_violations++ == 0) {
		va_start(ap, fmt);
		vsnprintf(t->violation, sizeof(t->violation), fmt, ap);
		va_end(ap);
	}
}

static void
check_product(struct bench_thread *t, const inventory_product *p)
{
	if (p != NULL && p->stock < 0) {
		t->negative_seen++;
	}
}

/* --- key choice --------------------------------------------------------- */

static int
zipf_prepare(struct bench *b)
{
	double sum = 0.0;
	size_t i;

	b->zipf_cdf = malloc(b->nproducts * sizeof(double));
	if (b->zipf_cdf == NULL) {
		return -1;
	}
	for (i = 0; i < b->nproducts; i++) {
		sum += 1.0 / pow((double)(i + 1), b->cfg.zipf_s);
		b->zipf_cdf[i] = sum;
	}
	for (i = 0; i < b->nproducts; i++) {
		b->zipf_cdf[i] /= sum;
	}
	b->zipf_cdf[b->nproducts - 1] = 1.0;
	return 0;
}

static size_t
pick_product(struct bench_thread *t)
{
	const struct bench *b = t->b;
	double              u;
	size_t              lo, hi;

	switch (b->cfg.skew) {
	case SKEW_HOT:
		return 0;
	case SKEW_ZIPF:
		/* first i with cdf[i] > u: rank i+1 */
		u  = rng_unit(&t->rng);
		lo = 0;
		hi = b->nproducts - 1;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (b->zipf_cdf[mid] > u) {
				hi = mid;
			} else {
				lo = mid + 1;
			}
		}
		return lo;
	case SKEW_UNIFORM:
	default:
		return rng_below(&t->rng, b->nproducts);
	}
}

static enum bench_op
pick_op(struct bench_thread *t)
{
	const struct bench_config *cfg = &t->b->cfg;
	unsigned                   r;
	int                        op;

	if (cfg->weight[OP_GET] == cfg->weight_total) {
		return OP_GET;
	}
	r = (unsigned)rng_below(&t->rng, cfg->weight_total);
	for (op = 0; op < OP_COUNT - 1; op++) {
		if (r < cfg->weight[op]) {
			break;
		}
		r -= cfg->weight[op];
	}
	return (enum bench_op)op;
}

/* --- the operations ----------------------------------------------------- */

static inventory_code
op_get(struct bench_thread *t, struct bench_product *p)
{
	inventory_product *out = NULL;
	inventory_status   st  = { 0 };
	inventory_code     rc;

	rc = inventory_get_product(t->b->client, p->id, NULL, &out, &st);
	t->rpcs++;
	if (rc == INVENTORY_OK) {
		check_product(t, out);
		inventory_product_free(out);
	}
	inventory_status_fini(&st);
	return rc;
}

static void
record_write(struct bench_product *p, inventory_code rc, int64_t delta)
{
	if (rc == INVENTORY_OK) {
		atomic_fetch_add_explicit(&p->acked, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(
		    &p->acked_delta, delta, memory_order_relaxed);
	} else if (bench_code_is_unknown_outcome(rc)) {
		atomic_fetch_add_explicit(
		    &p->unknown, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(
		    delta < 0 ? &p->unknown_neg : &p->unknown_pos, 1,
		    memory_order_relaxed);
	}
}

/* Read, then write stock +-1 at the read version: one attempt, a conflict
 * is an outcome. */
static inventory_code
op_update(struct bench_thread *t, struct bench_product *p)
{
	inventory_product *cur = NULL;
	inventory_product *out = NULL;
	inventory_status   st  = { 0 };
	inventory_code     rc;
	int64_t            delta;

	rc = inventory_get_product(t->b->client, p->id, NULL, &cur, &st);
	t->rpcs++;
	if (rc != INVENTORY_OK) {
		goto out_status;
	}
	check_product(t, cur);
	delta = (rng_next(&t->rng) & 1) ? 1 : -1;
	if (cur->stock <= 0) {
		delta = 1;
	} else if (cur->stock >= 2147483647) {
		delta = -1;
	}
	rc = inventory_update_stock(t->b->client, p->id, cur->stock + delta,
	    cur->version, NULL, &out, &st);
	t->rpcs++;
	t->writes++;
	record_write(p, rc, delta);
	switch (rc) {
	case INVENTORY_OK:
		check_product(t, out);
		if (out->version != cur->version + 1) {
			violation(t,
			    "%s: UpdateStock OK at version %lld, "
			    "expected %lld",
			    p->id, (long long)out->version,
			    (long long)cur->version + 1);
		}
		if (out->stock != cur->stock + delta) {
			violation(t,
			    "%s: UpdateStock OK with stock %lld, "
			    "asked for %lld",
			    p->id, (long long)out->stock,
			    (long long)cur->stock + delta);
		}
		inventory_product_free(out);
		break;
	case INVENTORY_ABORTED:
		t->conflicts++;
		atomic_fetch_add_explicit(
		    &t->live_conflicts, 1, memory_order_relaxed);
		check_product(t, st.current);
		if (st.current_version <= cur->version) {
			violation(t,
			    "%s: conflict reports version %lld, "
			    "not newer than the expected %lld",
			    p->id, (long long)st.current_version,
			    (long long)cur->version);
		}
		break;
	default:
		break;
	}
	inventory_product_free(cur);
out_status:
	inventory_status_fini(&st);
	return rc;
}

/* What the retry/buy callback needs and what it reports back. */
struct change {
	struct bench_thread *t;
	int                  dir;   /* retry: +1 or -1; buy: 0 */
	int64_t              delta; /* the delta of the last attempt */
};

static inventory_code
change_retry(const inventory_product *cur, int64_t *new_stock, void *arg)
{
	struct change *c = arg;
	int64_t        d = c->dir;

	check_product(c->t, cur);
	if (cur->stock <= 0) {
		d = 1;
	} else if (cur->stock >= 2147483647) {
		d = -1;
	}
	c->delta   = d;
	*new_stock = cur->stock + d;
	return INVENTORY_OK;
}

static inventory_code
change_buy(const inventory_product *cur, int64_t *new_stock, void *arg)
{
	struct change *c = arg;

	check_product(c->t, cur);
	if (cur->stock <= 0) {
		return INVENTORY_FAILED_PRECONDITION;
	}
	c->delta   = -1;
	*new_stock = cur->stock - 1;
	return INVENTORY_OK;
}

/* Read-modify-write through the library's retry loop.  A conflicted
 * attempt was not applied; only the last attempt can be acknowledged or
 * of unknown outcome (the loop stops at the first other error). */
static inventory_code
op_rmw(struct bench_thread *t, struct bench_product *p, bool buy)
{
	inventory_retry_opts ro = {
		.max_attempts = t->b->cfg.max_attempts,
		.timeout_ms   = t->b->cfg.timeout_ms,
	};
	struct change      c        = { .t = t };
	inventory_product *out      = NULL;
	inventory_status   st       = { 0 };
	int                attempts = 0;
	uint64_t           lost     = 0; /* attempts rejected as conflicts */
	inventory_code     rc;

	c.dir = buy ? 0 : ((rng_next(&t->rng) & 1) ? 1 : -1);
	rc    = inventory_update_with_retry(t->b->client, p->id,
            buy ? change_buy : change_retry, &c, &ro, &out, &st, &attempts);
	if (attempts < 0) {
		attempts = 0;
	}
	t->rpcs += 1 + (uint64_t)attempts;
	t->writes += (uint64_t)attempts;
	if (attempts > 0) {
		/* Every attempt but the last was a conflict; the last one is
		 * a conflict too if the loop gave up or fn stopped it. */
		lost = (uint64_t)attempts - 1;
		if (rc == INVENTORY_ABORTED ||
		    rc == INVENTORY_FAILED_PRECONDITION) {
			lost++;
		}
		if (rc == INVENTORY_OK || bench_code_is_unknown_outcome(rc)) {
			record_write(p, rc, c.delta);
		}
	}
	if (lost > 0) {
		t->conflicts += lost;
		atomic_fetch_add_explicit(
		    &t->live_conflicts, lost, memory_order_relaxed);
	}
	if (rc == INVENTORY_OK) {
		check_product(t, out);
		if (buy) {
			atomic_fetch_add_explicit(
			    &p->purchases, 1, memory_order_relaxed);
		}
		inventory_product_free(out);
	} else if (rc == INVENTORY_ABORTED) {
		check_product(t, st.current);
	}
	inventory_status_fini(&st);
	return rc;
}

/* BatchGetProducts of batch_size ids: p and batch_size - 1 more picked
 * the same way; one call, one request.  The id array is the thread's,
 * made before the run, so the only allocation is the library's result. */
static inventory_code
op_batchget(struct bench_thread *t, struct bench_product *p)
{
	struct bench      *b   = t->b;
	size_t             n   = (size_t)b->cfg.batch_size;
	inventory_product *out = NULL;
	inventory_status   st  = { 0 };
	inventory_code     rc;
	size_t             i;

	t->ids[0] = p->id;
	for (i = 1; i < n; i++) {
		struct bench_product *q = &b->products[pick_product(t)];

		atomic_fetch_add_explicit(&q->ops, 1, memory_order_relaxed);
		t->ids[i] = q->id;
	}
	rc = inventory_batch_get_products(
	    b->client, t->ids, n, NULL, &out, &st);
	t->rpcs++;
	if (rc == INVENTORY_OK && out != NULL) {
		for (i = 0; i < n; i++) {
			check_product(t, &out[i]);
			if (strcmp(out[i].id, t->ids[i]) != 0) {
				violation(t,
				    "BatchGetProducts: product %zu is %s, "
				    "asked for %s",
				    i, out[i].id, t->ids[i]);
				break;
			}
		}
		inventory_product_free(out);
	}
	inventory_status_fini(&st);
	return rc;
}

static inventory_code
run_op(struct bench_thread *t, enum bench_op op, struct bench_product *p)
{
	switch (op) {
	case OP_GET:
		return op_get(t, p);
	case OP_BATCHGET:
		return op_batchget(t, p);
	case OP_UPDATE:
		return op_update(t, p);
	case OP_RETRY:
		return op_rmw(t, p, false);
	case OP_BUY:
	default:
		return op_rmw(t, p, true);
	}
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
		op = pick_op(t);
		p  = &b->products[pick_product(t)];
		atomic_fetch_add_explicit(&p->ops, 1, memory_order_relaxed);
		rc  = run_op(t, op, p);
		end = bench_now_ns();
		hist_record(&t->hist[op], end > begin ? end - begin : 0);
		t->status[op][code_slot(rc)]++;
		t->ops++;
		atomic_fetch_add_explicit(
		    &t->live_ops, 1, memory_order_relaxed);
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
	if (b->cfg.skew == SKEW_ZIPF && zipf_prepare(b) != 0) {
		fprintf(stderr, "inventory-bench: out of memory\n");
		return -1;
	}
	for (i = 0; i < n; i++) {
		struct bench_thread *t = &b->threads[i];
		t->b                   = b;
		t->index               = i;
		t->rng = splitmix64(b->cfg.seed * 1000003u + (uint64_t)i) | 1u;
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

/* --- seeding ------------------------------------------------------------ */

/* Run fn on every product from `workers` threads, one shared cursor. */
struct par {
	struct bench *b;
	int (*fn)(struct bench *, struct bench_product *, void *);
	void         *arg;
	atomic_size_t next;
	atomic_int    failed;
};

static void *
par_main(void *arg)
{
	struct par *pa = arg;
	size_t      i;

	while ((i = atomic_fetch_add(&pa->next, 1)) < pa->b->nproducts) {
		if (atomic_load(&pa->failed) != 0) {
			break;
		}
		if (pa->fn(pa->b, &pa->b->products[i], pa->arg) != 0) {
			atomic_store(&pa->failed, 1);
		}
	}
	return NULL;
}

int
bench_parallel(struct bench *b,
    int (*fn)(struct bench *, struct bench_product *, void *), void *arg)
{
	struct par pa = { .b = b, .fn = fn, .arg = arg };
	pthread_t  th[16];
	int        n = b->cfg.clients < 16 ? b->cfg.clients : 16;
	int        i, started = 0;

	if (n < 4) {
		n = 4;
	}
	atomic_init(&pa.next, 0);
	atomic_init(&pa.failed, 0);
	for (i = 0; i < n; i++) {
		if (pthread_create(&th[i], NULL, par_main, &pa) != 0) {
			break;
		}
		started++;
	}
	if (started == 0) {
		par_main(&pa);
	}
	for (i = 0; i < started; i++) {
		pthread_join(th[i], NULL);
	}
	return atomic_load(&pa.failed) ? -1 : 0;
}

/* bench_read_all: chunk i is products [i * CHUNK, (i + 1) * CHUNK). */
struct chunk_read {
	void (*got)(struct bench *, struct bench_product *,
	    const inventory_product *, void *);
	int (*one)(struct bench *, struct bench_product *, void *);
	void *arg;
};

static int
read_chunk(struct bench *b, size_t first, size_t n, struct chunk_read *cr)
{
	const char        *ids[BENCH_READ_CHUNK] = { NULL };
	inventory_product *out                   = NULL;
	inventory_status   st                    = { 0 };
	inventory_code     rc;
	int                rv = 0;

	inventory_call_opts o = { .timeout_ms = bench_setup_timeout(b) };

	for (size_t i = 0; i < n; i++)
		ids[i] = b->products[first + i].id;
	rc = inventory_batch_get_products(b->client, ids, n, &o, &out, &st);
	inventory_status_fini(&st);
	if (rc == INVENTORY_OK) {
		for (size_t i = 0; i < n; i++)
			cr->got(b, &b->products[first + i], &out[i], cr->arg);
		inventory_product_free(out);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		rv |= cr->one(b, &b->products[first + i], cr->arg);
	return rv;
}

/* bench_parallel's unit is a product: the first product of each chunk
 * reads the whole chunk, the others do nothing. */
static int
read_chunk_at(struct bench *b, struct bench_product *p, void *arg)
{
	size_t i = (size_t)(p - b->products);

	if (i % BENCH_READ_CHUNK != 0)
		return 0;
	return read_chunk(b, i,
	    b->nproducts - i < BENCH_READ_CHUNK ? b->nproducts - i
	                                        : BENCH_READ_CHUNK,
	    arg);
}

int
bench_read_all(struct bench *b,
    void (*got)(struct bench *, struct bench_product *,
        const inventory_product *, void *),
    int (*one)(struct bench *, struct bench_product *, void *), void *arg)
{
	struct chunk_read cr = { .got = got, .one = one, .arg = arg };

	return bench_parallel(b, read_chunk_at, &cr);
}

struct seed_arg {
	uint64_t tag;
};

static int
seed_one(struct bench *b, struct bench_product *p, void *arg)
{
	struct seed_arg   *sa  = arg;
	inventory_product *out = NULL;
	inventory_status   st  = { 0 };
	inventory_code     rc;
	char               name[64];

	snprintf(name, sizeof(name), "bench-%016llx-%zu",
	    (unsigned long long)sa->tag, (size_t)(p - b->products));
	inventory_call_opts o = { .timeout_ms = bench_setup_timeout(b) };

	rc = inventory_create_product(
	    b->client, name, b->cfg.initial_stock, "1.00", &o, &out, &st);
	if (rc != INVENTORY_OK) {
		fprintf(stderr, "inventory-bench: CreateProduct: %s: %s\n",
		    inventory_code_name(rc), st.message);
		inventory_status_fini(&st);
		return -1;
	}
	memcpy(p->id, out->id, sizeof(p->id));
	p->init_version = out->version;
	p->init_stock   = out->stock;
	inventory_product_free(out);
	return 0;
}

static int
read_initial(struct bench *b, struct bench_product *p, void *arg)
{
	inventory_product *out = NULL;
	inventory_status   st  = { 0 };
	inventory_code     rc;

	inventory_call_opts o = { .timeout_ms = bench_setup_timeout(b) };

	(void)arg;
	rc = inventory_get_product(b->client, p->id, &o, &out, &st);
	if (rc != INVENTORY_OK) {
		fprintf(stderr, "inventory-bench: GetProduct %s: %s: %s\n",
		    p->id, inventory_code_name(rc), st.message);
		inventory_status_fini(&st);
		return -1;
	}
	p->init_version = out->version;
	p->init_stock   = out->stock;
	inventory_product_free(out);
	return 0;
}

static void
got_initial(struct bench *b, struct bench_product *p,
    const inventory_product *got, void *arg)
{
	(void)b;
	(void)arg;
	p->init_version = got->version;
	p->init_stock   = got->stock;
}

static int
load_ids(struct bench *b, const char *path)
{
	FILE  *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	char   line[256];
	size_t cap = 0, n = 0;

	if (f == NULL) {
		fprintf(stderr, "inventory-bench: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char  *s = line;
		size_t len;

		while (*s == ' ' || *s == '\t') {
			s++;
		}
		len = strcspn(s, " \t\r\n");
		if (len == 0 || *s == '#') {
			continue;
		}
		if (len != INVENTORY_ID_LEN) {
			fprintf(stderr,
			    "inventory-bench: %s: not a UUID: "
			    "%.*s\n",
			    path, (int)len, s);
			goto out_fail;
		}
		if (n == cap) {
			size_t                nc = cap ? cap * 2 : 1024;
			struct bench_product *np =
			    aligned_alloc(64, nc * sizeof(*np));
			if (np == NULL) {
				goto out_fail;
			}
			memset(np, 0, nc * sizeof(*np));
			if (b->products != NULL) {
				memcpy(np, b->products, n * sizeof(*np));
				free(b->products);
			}
			b->products = np;
			cap         = nc;
		}
		memcpy(b->products[n].id, s, INVENTORY_ID_LEN);
		b->products[n].id[INVENTORY_ID_LEN] = '\0';
		n++;
	}
	if (f != stdin) {
		fclose(f);
	}
	if (n == 0) {
		fprintf(stderr, "inventory-bench: %s: no ids\n", path);
		return -1;
	}
	b->nproducts = n;
	return 0;
out_fail:
	if (f != stdin) {
		fclose(f);
	}
	return -1;
}

int
bench_setup_products(struct bench *b)
{
	if (b->cfg.ids_file != NULL) {
		if (load_ids(b, b->cfg.ids_file) != 0) {
			return -1;
		}
		return bench_read_all(b, got_initial, read_initial, NULL);
	}
	struct seed_arg sa = {
		.tag = splitmix64(b->cfg.seed ^ (uint64_t)time(NULL)),
	};
	b->nproducts = (size_t)b->cfg.products;
	b->products  = aligned_alloc(64, b->nproducts * sizeof(*b->products));
	if (b->products == NULL) {
		fprintf(stderr, "inventory-bench: out of memory\n");
		return -1;
	}
	memset(b->products, 0, b->nproducts * sizeof(*b->products));
	return bench_parallel(b, seed_one, &sa);
}

int
bench_write_ids(const struct bench *b, const char *path)
{
	FILE  *f = fopen(path, "w");
	size_t i;

	if (f == NULL) {
		fprintf(stderr, "inventory-bench: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	for (i = 0; i < b->nproducts; i++) {
		fprintf(f, "%s\n", b->products[i].id);
	}
	if (fclose(f) != 0) {
		fprintf(stderr, "inventory-bench: %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}
