/* SPDX-License-Identifier: MIT */
/*
 * svg: the run as one self-contained SVG (--svg FILE), for people who
 * would rather look than read: a browser opens it, nothing is fetched.
 *
 *   top     requests per second over time (the timeline main.c samples
 *           once a second), conflicts per second on the same scale, and
 *           each second with failed operations marked in red;
 *   bottom  the latency of every operation: how many fell in each of 40
 *           bins spaced evenly on a log scale from the fastest to the
 *           slowest, with p50, p99 and p99.9 marked.
 *
 * Every series is a group with an id (throughput, series-requests,
 * series-conflicts, errors, latency) and every mark carries a <title>
 * with its numbers, so tests and people can read the values back.
 */
#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bench.h"

enum {
	SVG_W    = 900,
	PANEL_H  = 240,
	MARGIN_L = 70,
	MARGIN_R = 20,
	MARGIN_T = 40,
	GAP      = 70,
	LAT_BINS = 40,
	PLOT_W   = SVG_W - MARGIN_L - MARGIN_R,
	SVG_H    = MARGIN_T + PANEL_H + GAP + PANEL_H + 50,
	LAT_TOP  = MARGIN_T + PANEL_H + GAP,
};

/* A round step for an axis from 0 to max with about 5 ticks. */
static double
nice_step(double max)
{
	double raw = max / 5.0, mag, f;

	if (raw <= 0.0)
		return 1.0;
	mag = pow(10.0, floor(log10(raw)));
	f   = raw / mag;
	return (f <= 1.0 ? 1.0 : f <= 2.0 ? 2.0 : f <= 5.0 ? 5.0 : 10.0) * mag;
}

/* Milliseconds as text: "0.42 ms", "12 ms", "1.5 s". */
static void
fmt_ms(char *buf, size_t cap, double ms)
{
	if (ms >= 1000.0)
		snprintf(buf, cap, "%.3g s", ms / 1000.0);
	else
		snprintf(buf, cap, "%.3g ms", ms);
}

static void
timeline(FILE *f, const struct bench *b)
{
	double max   = 1.0, step, x_step;
	size_t n     = b->nseconds;
	size_t every = n > 20 ? n / 10 : 1; /* seconds between labels */

	for (size_t i = 0; i < n; i++)
		if ((double)b->seconds[i].ops > max)
			max = (double)b->seconds[i].ops;
	step   = nice_step(max);
	max    = ceil(max / step) * step;
	x_step = n > 1 ? (double)PLOT_W / (double)(n - 1) : 0.0;

	fprintf(f,
	    "<g id=\"throughput\">\n"
	    "<text x=\"%d\" y=\"%d\" class=\"h\">Requests per second "
	    "(blue), conflicts per second (orange), seconds with errors "
	    "(red)</text>\n",
	    MARGIN_L, MARGIN_T - 14);
	for (long t = 0; t <= lround(max / step); t++) {
		double v = (double)t * step;
		double y = MARGIN_T + PANEL_H - v / max * PANEL_H;

		fprintf(f,
		    "<line x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" "
		    "class=\"grid\"/><text x=\"%d\" y=\"%.1f\" "
		    "class=\"ax\" text-anchor=\"end\">%.0f</text>\n",
		    MARGIN_L, MARGIN_L + PLOT_W, y, y, MARGIN_L - 6, y + 4, v);
	}
	for (size_t i = 0; i < n; i += every)
		fprintf(f,
		    "<text x=\"%.1f\" y=\"%d\" class=\"ax\" "
		    "text-anchor=\"middle\">%zu s</text>\n",
		    MARGIN_L + (double)i * x_step, MARGIN_T + PANEL_H + 16,
		    i + 1);
	for (int s = 0; s < 2; s++) {
		fprintf(f, "<polyline id=\"%s\" class=\"%s\" points=\"",
		    s == 0 ? "series-requests" : "series-conflicts",
		    s == 0 ? "req" : "conf");
		for (size_t i = 0; i < n; i++) {
			double v = (double)(s == 0 ? b->seconds[i].ops
			                           : b->seconds[i].conflicts);

			fprintf(f, "%.1f,%.1f ", MARGIN_L + (double)i * x_step,
			    MARGIN_T + PANEL_H - fmin(v, max) / max * PANEL_H);
		}
		fprintf(f, "\"/>\n");
	}
	fprintf(f, "<g id=\"errors\">\n");
	for (size_t i = 0; i < n; i++) {
		if (b->seconds[i].errors == 0)
			continue;
		fprintf(f,
		    "<circle class=\"err\" cx=\"%.1f\" cy=\"%.1f\" r=\"4\">"
		    "<title>second %zu: %llu failed of %llu</title>"
		    "</circle>\n",
		    MARGIN_L + (double)i * x_step,
		    MARGIN_T + PANEL_H -
		        fmin((double)b->seconds[i].ops, max) / max * PANEL_H,
		    i + 1, (unsigned long long)b->seconds[i].errors,
		    (unsigned long long)b->seconds[i].ops);
	}
	fprintf(f, "</g>\n");
	/* The numbers behind the lines, one title per second. */
	for (size_t i = 0; i < n; i++)
		fprintf(f,
		    "<rect class=\"hit\" x=\"%.1f\" y=\"%d\" width=\"%.1f\" "
		    "height=\"%d\"><title>second %zu: %llu requests, %llu "
		    "conflicts, %llu errors</title></rect>\n",
		    MARGIN_L + ((double)i - 0.5) * x_step, MARGIN_T,
		    x_step > 0 ? x_step : PLOT_W, PANEL_H, i + 1,
		    (unsigned long long)b->seconds[i].ops,
		    (unsigned long long)b->seconds[i].conflicts,
		    (unsigned long long)b->seconds[i].errors);
	fprintf(f, "</g>\n");
}

static void
latency(FILE *f, const struct hist *h)
{
	uint64_t bins[LAT_BINS], top = 1;
	double   lo, hi, span, bw = (double)PLOT_W / LAT_BINS;
	char     a[32], c[32];

	memset(bins, 0, sizeof(bins));
	fprintf(f,
	    "<g id=\"latency\">\n"
	    "<text x=\"%d\" y=\"%d\" class=\"h\">Latency of one operation "
	    "(log scale): operations per bin</text>\n",
	    MARGIN_L, LAT_TOP - 14);
	if (h->total == 0) {
		fprintf(f, "</g>\n");
		return;
	}
	lo   = log10(fmax((double)h->min, 1000.0)); /* from 1 µs */
	hi   = log10(fmax((double)h->max, pow(10.0, lo) * 10.0));
	span = hi - lo;
	for (size_t i = 0; i < HIST_COUNTS; i++) {
		double v;
		int    k;

		if (h->counts[i] == 0)
			continue;
		v = log10(fmax((double)hist_lowest_equivalent(i), 1000.0));
		k = (int)((v - lo) / span * LAT_BINS);
		k = k < 0 ? 0 : k >= LAT_BINS ? LAT_BINS - 1 : k;
		bins[k] += h->counts[i];
	}
	for (int k = 0; k < LAT_BINS; k++)
		if (bins[k] > top)
			top = bins[k];
	fprintf(f,
	    "<text x=\"%d\" y=\"%d\" class=\"ax\" "
	    "text-anchor=\"end\">%llu</text><text x=\"%d\" y=\"%d\" "
	    "class=\"ax\" text-anchor=\"end\">0</text>\n",
	    MARGIN_L - 6, LAT_TOP + 4, (unsigned long long)top, MARGIN_L - 6,
	    LAT_TOP + PANEL_H + 4);
	for (int k = 0; k < LAT_BINS; k++) {
		double height = (double)bins[k] / (double)top * PANEL_H;

		fmt_ms(
		    a, sizeof(a), pow(10.0, lo + span * k / LAT_BINS) / 1e6);
		fmt_ms(c, sizeof(c),
		    pow(10.0, lo + span * (k + 1) / LAT_BINS) / 1e6);
		fprintf(f,
		    "<rect class=\"lat\" x=\"%.1f\" y=\"%.1f\" "
		    "width=\"%.1f\" height=\"%.1f\"><title>%s to %s: "
		    "%llu</title></rect>\n",
		    MARGIN_L + k * bw, LAT_TOP + PANEL_H - height, bw - 1,
		    height, a, c, (unsigned long long)bins[k]);
	}
	for (int t = 0; t <= 4; t++) {
		double x = MARGIN_L + (double)PLOT_W * t / 4;

		fmt_ms(a, sizeof(a), pow(10.0, lo + span * t / 4) / 1e6);
		fprintf(f,
		    "<text x=\"%.1f\" y=\"%d\" class=\"ax\" "
		    "text-anchor=\"middle\">%s</text>\n",
		    x, LAT_TOP + PANEL_H + 16, a);
	}
	for (int p = 0; p < 3; p++) {
		static const double pct[3] = { 50.0, 99.0, 99.9 };
		double              v = (double)hist_percentile(h, pct[p]);
		double              x =
		    MARGIN_L + (log10(fmax(v, 1000.0)) - lo) / span * PLOT_W;

		/* Labels near the right edge go to the left of their line. */
		bool left = x > MARGIN_L + PLOT_W - 110;

		fmt_ms(a, sizeof(a), v / 1e6);
		fprintf(f,
		    "<line class=\"pct\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%d\" "
		    "y2=\"%d\"/><text x=\"%.1f\" y=\"%d\" class=\"ax\" "
		    "text-anchor=\"%s\">p%g %s</text>\n",
		    x, x, LAT_TOP, LAT_TOP + PANEL_H, left ? x - 3 : x + 3,
		    LAT_TOP + 12 + 12 * p, left ? "end" : "start", pct[p], a);
	}
	fprintf(f, "</g>\n");
}

int
bench_report_svg(const struct bench *b, const char *path)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		fprintf(stderr, "inventory-bench: --svg %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	fprintf(f,
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" "
	    "height=\"%d\" viewBox=\"0 0 %d %d\">\n"
	    "<title>inventory-bench: %s, %d clients</title>\n"
	    "<style>text{font:12px sans-serif}.h{font-weight:bold}"
	    ".ax{fill:#555}.grid{stroke:#ddd}"
	    ".req{fill:none;stroke:#1f77b4;stroke-width:2}"
	    ".conf{fill:none;stroke:#ff7f0e;stroke-width:2}"
	    ".err{fill:#d62728}.hit{fill:transparent}"
	    ".lat{fill:#1f77b4}.pct{stroke:#d62728;stroke-dasharray:4 3}"
	    "</style>\n"
	    "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n",
	    SVG_W, SVG_H, SVG_W, SVG_H, b->cfg.workload, b->cfg.clients);
	timeline(f, b);
	latency(f, &b->all);
	fprintf(f, "</svg>\n");
	if (fclose(f) != 0) {
		fprintf(stderr, "inventory-bench: --svg %s: %s\n", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}
