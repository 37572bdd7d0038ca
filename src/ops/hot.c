/* SPDX-License-Identifier: MIT */
/*
 * The hot-product monitor (see hot.h): six 10 s windows, each a
 * space-saving sketch of HOT_SLOTS counters, in one fixed-size struct.
 *
 * Invariants: nothing is allocated after hot_create() (the global monitor
 * is static); a window is reused, zeroed, when its 10 s come round again,
 * so the view never holds a conflict older than a minute; a slot's count
 * is at least the product's true count in its window, and at most
 * count - error of it belongs to earlier products evicted from the slot.
 * The warning line is written outside the lock, at most once a minute,
 * and the condition is checked at most once a second, so a conflict
 * storm pays for one slot scan per conflict and no more.  /debug/hot is
 * written by jansson: a page of at most HOT_TOP products, on demand, so
 * its allocations are no concern.
 */
#include "ops/hot.h"

#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/code.h"
#include "base/log.h"
#include "core/op.h"
#include "ops/metrics.h"

enum {
	NS_PER_S = 1000000000,
};

struct hot_slot {
	uint64_t hash;                   /* of id: compared first */
	char     id[PRODUCT_ID_LEN + 1]; /* the product */
	uint64_t count;                  /* conflicts (space-saving count) */
	uint64_t error;        /* count inherited from an evicted product */
	int64_t  last_version; /* latest version reported */
	int      method;       /* method of the latest conflict */
};

struct hot_window {
	uint64_t        epoch; /* 10 s window number + 1; 0: never used */
	uint64_t        total; /* conflicts counted in the window */
	unsigned        used;  /* slots in use, 0..HOT_SLOTS */
	struct hot_slot slots[HOT_SLOTS];
};

struct hot {
	pthread_mutex_t   mu;
	struct hot_window win[HOT_WINDOWS]; /* win[epoch % HOT_WINDOWS] */
	uint64_t          next_check_ns;    /* warning: next look (1 s) */
	uint64_t          next_warn_ns;     /* warning: next line (60 s) */
};

static struct hot global = { .mu = PTHREAD_MUTEX_INITIALIZER };

struct hot *
hot_global(void)
{
	return &global;
}

struct hot *
hot_create(void)
{
	struct hot *h = calloc(1, sizeof(*h));

	if (h != NULL && pthread_mutex_init(&h->mu, NULL) != 0) {
		free(h);
		return NULL;
	}
	return h;
}

void
hot_destroy(struct hot *h)
{
	if (h == NULL || h == &global)
		return;
	pthread_mutex_destroy(&h->mu);
	free(h);
}

size_t
hot_size(void)
{
	return sizeof(struct hot);
}

/* FNV-1a over the id: ids are canonical, so equal ids hash equally. */
static uint64_t
id_hash(const char *id)
{
	uint64_t x = 14695981039346656037ull;

	for (size_t i = 0; i < PRODUCT_ID_LEN && id[i] != '\0'; i++) {
		x ^= (unsigned char)id[i];
		x *= 1099511628211ull;
	}
	return x;
}

static struct hot_slot *
window_find(struct hot_window *w, uint64_t hash, const char *id)
{
	for (unsigned i = 0; i < w->used; i++) {
		struct hot_slot *s = &w->slots[i];

		if (s->hash == hash && strcmp(s->id, id) == 0)
			return s;
	}
	return NULL;
}

/* The slot for id in w: its own, a free one, or (space-saving) the one
 * with the smallest count, taken over with that count as its error. */
static struct hot_slot *
window_slot(struct hot_window *w, uint64_t hash, const char *id)
{
	struct hot_slot *s = window_find(w, hash, id), *min;
	size_t           len;

	if (s != NULL)
		return s;
	if (w->used < HOT_SLOTS) {
		s = &w->slots[w->used++];
		memset(s, 0, sizeof(*s));
	} else {
		min = &w->slots[0];
		for (unsigned i = 1; i < HOT_SLOTS; i++)
			if (w->slots[i].count < min->count)
				min = &w->slots[i];
		s        = min;
		s->error = s->count;
	}
	s->hash = hash;
	len     = strnlen(id, PRODUCT_ID_LEN);
	memcpy(s->id, id, len);
	s->id[len] = '\0';
	return s;
}

static uint64_t
epoch_of(uint64_t now_ns)
{
	return now_ns / ((uint64_t)HOT_WINDOW_S * NS_PER_S) + 1;
}

/* Whether window w is inside the minute that ends in window `cur`. */
static bool
window_live(const struct hot_window *w, uint64_t cur)
{
	return w->epoch != 0 && w->epoch <= cur &&
	       cur - w->epoch < HOT_WINDOWS;
}

/* Merge the live windows' slots into out[0..cap) by product; returns how
 * many products.  Caller holds the lock. */
static size_t
merge_locked(struct hot *h, uint64_t cur, struct hot_entry *out,
    uint64_t *hashes, size_t cap, uint64_t *total)
{
	size_t n = 0;

	*total = 0;
	for (int k = 0; k < HOT_WINDOWS; k++) {
		const struct hot_window *w = &h->win[k];

		if (!window_live(w, cur))
			continue;
		*total += w->total;
		for (unsigned i = 0; i < w->used; i++) {
			const struct hot_slot *s = &w->slots[i];
			size_t                 j;

			for (j = 0; j < n; j++)
				if (hashes[j] == s->hash &&
				    strcmp(out[j].id, s->id) == 0)
					break;
			if (j == n) {
				if (n == cap) /* NEVER: cap covers all slots */
					continue;
				memset(&out[n], 0, sizeof(out[n]));
				memcpy(out[n].id, s->id, sizeof(out[n].id));
				hashes[n]           = s->hash;
				out[n].last_version = s->last_version;
				out[n].method       = s->method;
				n++;
			}
			out[j].conflicts += s->count;
			out[j].error += s->error;
			if (s->last_version > out[j].last_version) {
				out[j].last_version = s->last_version;
				out[j].method       = s->method;
			}
		}
	}
	return n;
}

static int
by_conflicts_desc(const void *a, const void *b)
{
	const struct hot_entry *x = a, *y = b;

	if (x->conflicts != y->conflicts)
		return x->conflicts < y->conflicts ? 1 : -1;
	return strcmp(x->id, y->id);
}

static double
span_of(uint64_t now_ns, uint64_t cur)
{
	uint64_t first = cur > HOT_WINDOWS ? cur - HOT_WINDOWS : 0;
	uint64_t start = first * HOT_WINDOW_S * (uint64_t)NS_PER_S;

	return (double)(now_ns - start) / NS_PER_S;
}

/* All slots of all windows: the merge never runs out of room. */
enum { MERGE_CAP = HOT_SLOTS * HOT_WINDOWS };

size_t
hot_top(struct hot *h, uint64_t now_ns, struct hot_entry *out, size_t max,
    uint64_t *total, double *span_s)
{
	struct hot_entry *all;
	uint64_t         *hashes, sum;
	uint64_t          cur = epoch_of(now_ns);
	size_t            n;

	/* Heap, not stack: 768 entries would be a large frame on an nng
	 * thread.  Out of memory: an empty view. */
	all    = calloc(MERGE_CAP, sizeof(*all));
	hashes = calloc(MERGE_CAP, sizeof(*hashes));
	if (all == NULL || hashes == NULL) {
		n   = 0;
		sum = 0;
		goto out_free;
	}
	pthread_mutex_lock(&h->mu);
	n = merge_locked(h, cur, all, hashes, MERGE_CAP, &sum);
	pthread_mutex_unlock(&h->mu);
	qsort(all, n, sizeof(*all), by_conflicts_desc);
	if (n > max)
		n = max;
	memcpy(out, all, n * sizeof(*out));
out_free:
	free(hashes);
	free(all);
	if (total != NULL)
		*total = sum;
	if (span_s != NULL)
		*span_s = span_of(now_ns, cur);
	return n;
}

/* Once a second: is a product over the warning threshold, and may a line
 * be written?  Fills *top if so.  Caller holds the lock. */
static bool
warn_due_locked(struct hot *h, uint64_t now_ns, struct hot_entry *top)
{
	struct hot_entry *all;
	uint64_t         *hashes, sum;
	size_t            n;
	bool              due = false;

	if (now_ns < h->next_check_ns || now_ns < h->next_warn_ns)
		return false;
	h->next_check_ns = now_ns + NS_PER_S;
	all              = calloc(MERGE_CAP, sizeof(*all));
	hashes           = calloc(MERGE_CAP, sizeof(*hashes));
	if (all != NULL && hashes != NULL) {
		n = merge_locked(
		    h, epoch_of(now_ns), all, hashes, MERGE_CAP, &sum);
		for (size_t i = 0; i < n; i++) {
			if (all[i].conflicts >= HOT_WARN_PER_MINUTE &&
			    (!due || all[i].conflicts > top->conflicts)) {
				*top = all[i];
				due  = true;
			}
		}
	}
	free(hashes);
	free(all);
	if (due)
		h->next_warn_ns = now_ns + 60ull * NS_PER_S;
	return due;
}

void
hot_record(struct hot *h, const char *id, int64_t version, int method,
    uint64_t now_ns)
{
	uint64_t           cur  = epoch_of(now_ns);
	uint64_t           hash = id_hash(id);
	struct hot_window *w    = &h->win[cur % HOT_WINDOWS];
	struct hot_slot   *s;
	struct hot_entry   top;
	bool               warn;

	pthread_mutex_lock(&h->mu);
	if (w->epoch != cur) {
		w->epoch = cur;
		w->total = 0;
		w->used  = 0;
	}
	s = window_slot(w, hash, id);
	s->count++;
	w->total++;
	if (version >= s->last_version) {
		s->last_version = version;
		s->method       = method;
	}
	warn = warn_due_locked(h, now_ns, &top);
	pthread_mutex_unlock(&h->mu);

	if (warn)
		log_warn(
		    "hot_product product=%s conflicts=%" PRIu64
		    " window_s=%d per_second=%.2f last_version=%" PRId64
		    " method=%s: this product's conflict rate stays high; "
		    "contention like this needs AdjustStock or "
		    "ReserveStock rather than retries (GET /debug/hot)",
		    top.id, top.conflicts, HOT_WINDOWS * HOT_WINDOW_S,
		    (double)top.conflicts / (HOT_WINDOWS * HOT_WINDOW_S),
		    top.last_version, metrics_method_name(top.method));
}

void
hot_record_op(const struct op *op, uint64_t now_ns)
{
	struct hot *h = hot_global();

	if (op->items != NULL) { /* a call of several items */
		for (size_t i = 0; i < op->nitems; i++)
			if (op->items[i].code == CODE_ABORTED)
				hot_record(h, op->items[i].id,
				    op->items[i].product.version, op->method,
				    now_ns);
		return;
	}
	if (op->product.id[0] != '\0')
		hot_record(h, op->product.id, op->product.version, op->method,
		    now_ns);
	else if (op->id[0] != '\0')
		hot_record(h, op->id, op->product.version, op->method, now_ns);
}

/* JSON has no fixed-point numbers: v (>= 0) rounded to 1/scale, so that
 * jansson's shortest form of it ("57.3", "0.017", "60.0") is what the
 * page means. */
static double
fixed(double v, double scale)
{
	return (double)(uint64_t)(v * scale + 0.5) / scale;
}

/* One product of the view, or NULL when out of memory.
 * json_object_set_new() takes (and on failure drops) each value, so a
 * NULL value leaks nothing. */
static json_t *
entry_json(const struct hot_entry *e, uint64_t total, double span)
{
	json_t *o = json_object();

	if (o == NULL ||
	    json_object_set_new(o, "id",
	        log_json_string(e->id, strnlen(e->id, PRODUCT_ID_LEN))) != 0 ||
	    json_object_set_new(
	        o, "conflicts", json_integer((json_int_t)e->conflicts)) != 0 ||
	    json_object_set_new(
	        o, "error", json_integer((json_int_t)e->error)) != 0 ||
	    json_object_set_new(o, "conflicts_per_second",
	        json_real(fixed(span > 0 ? (double)e->conflicts / span : 0.0,
	            1000))) != 0 ||
	    json_object_set_new(o, "share",
	        json_real(fixed(
	            total > 0 ? (double)e->conflicts / (double)total : 0.0,
	            1000))) != 0 ||
	    json_object_set_new(
	        o, "last_version", json_integer(e->last_version)) != 0 ||
	    json_object_set_new(o, "method",
	        json_string(metrics_method_name(e->method))) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int
hot_write_json(struct hot *h, uint64_t now_ns, FILE *out)
{
	struct hot_entry top[HOT_TOP];
	uint64_t         total;
	double           span;
	size_t           n;
	json_t          *o, *products = json_array();
	int              rv = -1;

	n = hot_top(h, now_ns, top, HOT_TOP, &total, &span);
	o = json_object();
	if (o == NULL || products == NULL)
		goto out_free;
	for (size_t i = 0; i < n; i++)
		if (json_array_append_new(
		        products, entry_json(&top[i], total, span)) != 0)
			goto out_free;
	if (json_object_set_new(
	        o, "window_seconds", json_real(fixed(span, 10))) != 0 ||
	    json_object_set_new(
	        o, "conflicts", json_integer((json_int_t)total)) != 0 ||
	    json_object_set_new(
	        o, "tracked_per_window", json_integer(HOT_SLOTS)) != 0 ||
	    json_object_set_new(o, "products", json_incref(products)) != 0)
		goto out_free;
	/* 15 digits: every rounded figure prints as its decimals. */
	if (json_dumpf(o, out,
	        JSON_COMPACT | JSON_PRESERVE_ORDER |
	            JSON_REAL_PRECISION(15)) == 0 &&
	    fputc('\n', out) != EOF)
		rv = 0;
out_free:
	json_decref(products);
	json_decref(o);
	return rv != 0 || ferror(out) ? -1 : 0;
}
