/* SPDX-License-Identifier: MIT */
/*
 * histogram: a log-linear latency histogram in the manner of HdrHistogram.
 *
 * Values are nanoseconds.  Every power-of-two range above 256 ns is split
 * into 128 equal sub-buckets, so a recorded value is known to within 1/128
 * (0.8 %) of itself; below 256 ns every nanosecond has its own bucket.
 * The counts array covers 0 .. HIST_MAX_NS (about 137 s); larger values
 * are counted in the last bucket but `max` keeps the true maximum.
 *
 * A histogram has one writer: each load-generator thread owns its own and
 * records without locks or atomics; the owner of all of them merges them
 * (hist_merge) after the threads have been joined.  Not thread-safe.
 */
#ifndef BENCH_HISTOGRAM_H
#define BENCH_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>

enum {
	HIST_SUB_BITS   = 7,                  /* 128 sub-buckets per octave */
	HIST_HALF       = 1 << HIST_SUB_BITS, /* 128 */
	HIST_MAX_BUCKET = 29, /* top octave: up to 2^37 ns ~ 137 s */
	HIST_COUNTS     = (HIST_MAX_BUCKET + 2) * HIST_HALF,
};

#define HIST_MAX_NS \
	((UINT64_C(1) << (HIST_MAX_BUCKET + HIST_SUB_BITS + 1)) - 1)

struct hist {
	uint64_t total; /* values recorded */
	uint64_t min;   /* smallest value (UINT64_MAX when empty) */
	uint64_t max;   /* largest value, exact, even past the range */
	double   sum;   /* sum of the values, for the mean */
	double   sumsq; /* sum of squares, for the deviation */
	uint64_t counts[HIST_COUNTS]; /* count per log-linear bucket */
};

/* Zero a histogram (embedded or on the heap). */
void hist_init(struct hist *h);

/* Record one value in nanoseconds.  Never fails. */
void hist_record(struct hist *h, uint64_t ns);

/* Add every count of src to dst. */
void hist_merge(struct hist *dst, const struct hist *src);

/* The value below which `pct` percent (0..100) of the recorded values
 * fall: the highest value equivalent to the bucket that holds that rank,
 * capped at the exact max.  0 for an empty histogram. */
uint64_t hist_percentile(const struct hist *h, double pct);

/* Mean and standard deviation in nanoseconds (0 when empty). */
double hist_mean(const struct hist *h);
double hist_stddev(const struct hist *h);

/* Number of values <= ns (to the bucket's precision). */
uint64_t hist_count_le(const struct hist *h, uint64_t ns);

/* Bucket arithmetic, exposed for tests. */
size_t   hist_index(uint64_t ns);
uint64_t hist_lowest_equivalent(size_t index);
uint64_t hist_highest_equivalent(size_t index);

#endif
