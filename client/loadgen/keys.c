/* SPDX-License-Identifier: MIT */
/*
 * keys: which product and which operation comes next.  Each worker has
 * its own xorshift64* state (seeded through splitmix64 from --seed and its
 * index), so choosing touches nothing shared; the Zipf table is built once
 * before the workers start and only read afterwards.
 */
#include <math.h>
#include <stdlib.h>

#include "bench.h"

/* bench_splitmix64: turns the seed and the thread index into a PRNG state. */
uint64_t
bench_splitmix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* xorshift64*: one per thread, never shared. */
uint64_t
bench_rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(0x2545f4914f6cdd1d);
}

/* Uniform in [0, n) for n < 2^32 (multiply-shift, no division). */
size_t
bench_rng_below(uint64_t *s, size_t n)
{
	return (size_t)(((bench_rng_next(s) >> 32) * (uint64_t)n) >> 32);
}

/* Uniform double in [0, 1). */
static double
rng_unit(uint64_t *s)
{
	return (double)(bench_rng_next(s) >> 11) * 0x1.0p-53;
}

int
bench_zipf_prepare(struct bench *b)
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

size_t
bench_pick_product(struct bench_thread *t)
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
		return bench_rng_below(&t->rng, b->nproducts);
	}
}

enum bench_op
bench_pick_op(struct bench_thread *t)
{
	const struct bench_config *cfg = &t->b->cfg;
	unsigned                   r;
	int                        op;

	if (cfg->weight[OP_GET] == cfg->weight_total) {
		return OP_GET;
	}
	r = (unsigned)bench_rng_below(&t->rng, cfg->weight_total);
	for (op = 0; op < OP_COUNT - 1; op++) {
		if (r < cfg->weight[op]) {
			break;
		}
		r -= cfg->weight[op];
	}
	return (enum bench_op)op;
}
