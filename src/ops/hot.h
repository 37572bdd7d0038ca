/* SPDX-License-Identifier: MIT */
/*
 * The hot-product monitor: which products the conflicts (ABORTED) hit
 * over the last minute, for GET /debug/hot and a warning line.
 *
 * A high conflict rate on one product means contention that needs a
 * different design (AdjustStock, ReserveStock), so the operator must be
 * able to name the product.  Counting every product exactly would grow
 * with the catalogue; instead the minute is six windows of 10 s, each a
 * space-saving sketch (Metwally et al.) of HOT_SLOTS counters.  Memory is
 * fixed at creation whatever the number of products; any product with
 * more than 1/HOT_SLOTS of a window's conflicts is always tracked, and a
 * count is never under the truth (its `error` bounds the overcount).
 *
 * Fed by dispatch once per conflict (one mutex, held for a scan of one
 * window's slots: the conflict path only, never the OK path); read on
 * demand.  Thread-safe.
 */
#ifndef INVENTORY_HOT_H
#define INVENTORY_HOT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base/product.h"

struct hot;
struct op;

enum {
	HOT_SLOTS    = 128, /* counters per window */
	HOT_WINDOWS  = 6,   /* windows in the minute */
	HOT_WINDOW_S = 10,  /* seconds per window */
	HOT_TOP      = 20,  /* products /debug/hot lists */
	/* Conflicts of one product over the minute at which the warning
	 * line is written (at most once a minute): one per second. */
	HOT_WARN_PER_MINUTE = 60,
};

/* One product in the view. */
struct hot_entry {
	char     id[PRODUCT_ID_LEN + 1]; /* canonical UUID */
	uint64_t conflicts;   /* over the view's span; never under the truth */
	uint64_t error;       /* at most this much of `conflicts` may be
	                         another product's (space-saving bound) */
	int64_t last_version; /* latest version a conflict reported */
	int     method;       /* method of the latest conflict (metrics'
	                         index) */
};

/* The process's monitor, fed by dispatch.  Static storage. */
struct hot *hot_global(void);

/* A private monitor (tests).  Returns NULL when out of memory; free with
 * hot_destroy() (NULL is a no-op).  Its size is hot_size(), fixed. */
struct hot *hot_create(void);
void        hot_destroy(struct hot *h);
size_t      hot_size(void);

/* Count one conflict on product `id` (NUL-terminated, at most
 * PRODUCT_ID_LEN bytes are used) at version `version`, answered to
 * `method`, at `now_ns` (CLOCK_MONOTONIC).  May write the warning line. */
void hot_record(struct hot *h, const char *id, int64_t version, int method,
    uint64_t now_ns);

/* Count the conflicts of a finished op (ABORTED): its product, or for a
 * reservation every item that conflicted.  dispatch's one call. */
void hot_record_op(const struct op *op, uint64_t now_ns);

/* The top `max` products over the windows still in the minute at now_ns,
 * most conflicts first, into out[]; returns how many.  *total (if not
 * NULL) gets all conflicts counted in that span, *span_s its length in
 * seconds (50 to 60, less right after start). */
size_t hot_top(struct hot *h, uint64_t now_ns, struct hot_entry *out,
    size_t max, uint64_t *total, double *span_s);

/* /debug/hot as one JSON object (see README "Metrics and health").
 * Returns 0, or -1 if writing failed. */
int hot_write_json(struct hot *h, uint64_t now_ns, FILE *out);

#endif
