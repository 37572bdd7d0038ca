/* SPDX-License-Identifier: MIT */
/*
 * histogram: log-linear bucketing (see histogram.h).
 *
 * Index arithmetic, as in HdrHistogram with a sub-bucket count of 256:
 *   bucket  b = position of the top bit of (v | 255) - 7   (0 for v < 256)
 *   sub     s = v >> b                                     (128..255 if b>0)
 *   index     = b * 128 + s
 * so bucket 0 holds 0..255 one per slot and every later bucket holds 128
 * slots of width 2^b.  The mapping is monotonic and contiguous.
 */
#include "histogram.h"

#include <math.h>
#include <string.h>

void
hist_init(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

size_t
hist_index(uint64_t ns)
{
	unsigned top;
	unsigned b;

	if (ns > HIST_MAX_NS) {
		ns = HIST_MAX_NS;
	}
	top = 63u - (unsigned)__builtin_clzll(ns | (2u * HIST_HALF - 1u));
	b   = top - HIST_SUB_BITS;
	return (size_t)b * HIST_HALF + (size_t)(ns >> b);
}

uint64_t
hist_lowest_equivalent(size_t index)
{
	size_t b = index / HIST_HALF;
	size_t s = index % HIST_HALF;

	if (b == 0) {
		return s;
	}
	/* index = b*128 + sub with sub in 128..255, i.e. bucket b-1 of
	 * HdrHistogram's numbering.  Undo that. */
	return (uint64_t)(s + HIST_HALF) << (b - 1);
}

uint64_t
hist_highest_equivalent(size_t index)
{
	size_t b = index / HIST_HALF;

	if (b == 0) {
		return hist_lowest_equivalent(index);
	}
	return hist_lowest_equivalent(index) + ((uint64_t)1 << (b - 1)) - 1;
}

void
hist_record(struct hist *h, uint64_t ns)
{
	double d = (double)ns;

	h->counts[hist_index(ns)]++;
	h->total++;
	h->sum += d;
	h->sumsq += d * d;
	if (ns < h->min) {
		h->min = ns;
	}
	if (ns > h->max) {
		h->max = ns;
	}
}

void
hist_merge(struct hist *dst, const struct hist *src)
{
	size_t i;

	if (src->total == 0) {
		return;
	}
	for (i = 0; i < HIST_COUNTS; i++) {
		dst->counts[i] += src->counts[i];
	}
	dst->total += src->total;
	dst->sum += src->sum;
	dst->sumsq += src->sumsq;
	if (src->min < dst->min) {
		dst->min = src->min;
	}
	if (src->max > dst->max) {
		dst->max = src->max;
	}
}

uint64_t
hist_percentile(const struct hist *h, double pct)
{
	uint64_t rank;
	uint64_t seen = 0;
	size_t   i;
	double   r;

	if (h->total == 0) {
		return 0;
	}
	if (pct >= 100.0) {
		return h->max;
	}
	if (pct < 0.0) {
		pct = 0.0;
	}
	r    = ceil(pct / 100.0 * (double)h->total);
	rank = r < 1.0 ? 1 : (uint64_t)r;
	for (i = 0; i < HIST_COUNTS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t v = hist_highest_equivalent(i);
			if (v > h->max) {
				v = h->max;
			}
			if (v < h->min) {
				v = h->min;
			}
			return v;
		}
	}
	return h->max;
}

double
hist_mean(const struct hist *h)
{
	return h->total ? h->sum / (double)h->total : 0.0;
}

double
hist_stddev(const struct hist *h)
{
	double mean;
	double var;

	if (h->total < 2) {
		return 0.0;
	}
	mean = hist_mean(h);
	var  = h->sumsq / (double)h->total - mean * mean;
	return var > 0.0 ? sqrt(var) : 0.0;
}

uint64_t
hist_count_le(const struct hist *h, uint64_t ns)
{
	size_t   last = hist_index(ns);
	uint64_t n    = 0;
	size_t   i;

	for (i = 0; i <= last && i < HIST_COUNTS; i++) {
		n += h->counts[i];
	}
	return n;
}
