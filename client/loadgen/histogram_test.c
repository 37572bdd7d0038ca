/* SPDX-License-Identifier: MIT */
/*
 * histogram_test: unit test of the bench's log-linear histogram: bucket
 * arithmetic is contiguous and monotonic, every value lands in a bucket
 * whose bounds contain it within 1/128, percentiles of known
 * distributions, merging, and the range 1 µs .. 60 s.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "histogram.h"

static int failures;

#define CHECK(cond)                                                  \
	do {                                                         \
		if (!(cond)) {                                       \
			fprintf(stderr, "%s:%d: CHECK(%s) failed\n", \
			    __FILE__, __LINE__, #cond);              \
			failures++;                                  \
		}                                                    \
	} while (0)

static void
test_buckets(void)
{
	uint64_t v;
	size_t   i, prev = 0;

	/* contiguous: consecutive indexes cover consecutive ranges */
	for (i = 1; i < HIST_COUNTS; i++) {
		CHECK(hist_lowest_equivalent(i) ==
		      hist_highest_equivalent(i - 1) + 1);
	}
	CHECK(hist_highest_equivalent(HIST_COUNTS - 1) == HIST_MAX_NS);
	/* every value inside its bucket, bucket width <= 1/128 of value */
	for (v = 0; v < 70000000000ull;
	     v = v < 1000 ? v + 1 : v + v / 97 + 1) {
		i = hist_index(v);
		CHECK(i < HIST_COUNTS);
		CHECK(i >= prev);
		prev = i;
		CHECK(hist_lowest_equivalent(i) <= v);
		CHECK(hist_highest_equivalent(i) >= v);
		if (v >= 256) {
			double w = (double)(hist_highest_equivalent(i) -
			                    hist_lowest_equivalent(i) + 1);
			CHECK(w / (double)v <= 1.0 / 128.0 + 1e-12);
		}
	}
	CHECK(hist_index(UINT64_MAX) == HIST_COUNTS - 1);
}

static void
test_percentiles(void)
{
	struct hist *h = malloc(sizeof(*h));
	struct hist *a = malloc(sizeof(*a));
	struct hist *b = malloc(sizeof(*b));
	uint64_t     i;
	double       p;

	hist_init(h);
	CHECK(hist_percentile(h, 50) == 0);
	/* 1..100000 µs uniformly */
	for (i = 1; i <= 100000; i++) {
		hist_record(h, i * 1000);
	}
	CHECK(h->total == 100000);
	CHECK(h->min == 1000 && h->max == 100000000);
	p = (double)hist_percentile(h, 50);
	CHECK(fabs(p - 50e6) / 50e6 < 0.01);
	p = (double)hist_percentile(h, 99);
	CHECK(fabs(p - 99e6) / 99e6 < 0.01);
	p = (double)hist_percentile(h, 99.9);
	CHECK(fabs(p - 99.9e6) / 99.9e6 < 0.01);
	CHECK(hist_percentile(h, 100) == 100000000);
	CHECK(fabs(hist_mean(h) - 50000.5e3) < 1.0);
	CHECK(hist_count_le(h, 10000000) >= 9990 &&
	      hist_count_le(h, 10000000) <= 10080);

	/* merge of two halves equals the whole */
	hist_init(a);
	hist_init(b);
	for (i = 1; i <= 100000; i++) {
		hist_record(i % 2 ? a : b, i * 1000);
	}
	hist_merge(a, b);
	CHECK(a->total == h->total && a->min == h->min && a->max == h->max);
	for (i = 0; i < HIST_COUNTS; i++) {
		CHECK(a->counts[i] == h->counts[i]);
	}

	/* 1 µs and 60 s: both ends keep 1 % precision */
	hist_init(h);
	hist_record(h, 1000);
	hist_record(h, 60000000000ull);
	p = (double)hist_percentile(h, 50);
	CHECK(p >= 1000 && p <= 1010);
	CHECK(hist_percentile(h, 99) == 60000000000ull);
	/* beyond the range: counted, exact max */
	hist_record(h, 500000000000ull);
	CHECK(h->max == 500000000000ull);
	CHECK(h->counts[HIST_COUNTS - 1] == 1);
	free(h);
	free(a);
	free(b);
}

int
main(void)
{
	test_buckets();
	test_percentiles();
	if (failures) {
		fprintf(stderr, "histogram_test: %d failures\n", failures);
		return 1;
	}
	printf("histogram_test: ok\n");
	return 0;
}
