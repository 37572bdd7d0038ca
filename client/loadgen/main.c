/* SPDX-License-Identifier: MIT */
/*
 * inventory-bench: load generator for inventoryd, built on libinventory.
 *
 * main.c wires the modules together: parse the command line, open the
 * client handles (one for seeding and checking, one per worker), seed or
 * load the products, run the workers while drawing
 * the progress line, merge the per-thread results, check the invariant,
 * print the summary and the JSON.  Exit 0 only if the invariant holds.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void
progress(const struct bench *b, uint64_t now, uint64_t *prev_ops,
    uint64_t *prev_conf, uint64_t *prev_ns)
{
	uint64_t ops = 0, conf = 0;
	double   dt = (double)(now - *prev_ns) / 1e9;
	int      i;

	for (i = 0; i < b->nthreads; i++) {
		ops += atomic_load_explicit(
		    &b->threads[i].live_ops, memory_order_relaxed);
		conf += atomic_load_explicit(
		    &b->threads[i].live_conflicts, memory_order_relaxed);
	}
	if (dt <= 0.0) {
		return;
	}
	fprintf(stderr,
	    "\r\033[K[%6.1fs] %llu requests  %.0f req/s  "
	    "%.0f conflicts/s",
	    (double)(now - b->start_ns) / 1e9, (unsigned long long)ops,
	    (double)(ops - *prev_ops) / dt, (double)(conf - *prev_conf) / dt);
	fflush(stderr);
	*prev_ops  = ops;
	*prev_conf = conf;
	*prev_ns   = now;
}

/* Totals of the live counters, and one second of the timeline: what
 * they grew by since *last (updated).  Out of memory: the second is not
 * kept (the picture then has a gap at the end, nothing else changes). */
static void
sample_second(struct bench *b, struct bench_second *last)
{
	struct bench_second now = { 0, 0, 0 }, *grown;

	for (int i = 0; i < b->nthreads; i++) {
		now.ops += atomic_load_explicit(
		    &b->threads[i].live_ops, memory_order_relaxed);
		now.conflicts += atomic_load_explicit(
		    &b->threads[i].live_conflicts, memory_order_relaxed);
		now.errors += atomic_load_explicit(
		    &b->threads[i].live_errors, memory_order_relaxed);
	}
	if (b->nseconds == b->seconds_cap) {
		size_t cap = b->seconds_cap == 0 ? 64 : 2 * b->seconds_cap;

		if ((grown = realloc(b->seconds, cap * sizeof(*grown))) ==
		    NULL)
			return;
		b->seconds     = grown;
		b->seconds_cap = cap;
	}
	b->seconds[b->nseconds++] = (struct bench_second) {
		now.ops - last->ops,
		now.conflicts - last->conflicts,
		now.errors - last->errors,
	};
	*last = now;
}

/* Wait for the workers, drawing the progress line and taking one sample
 * of the timeline once a second. */
static void
wait_workers(struct bench *b)
{
	uint64_t            next     = b->start_ns + 1000000000u;
	uint64_t            prev_ops = 0, prev_conf = 0, prev_ns = b->start_ns;
	struct bench_second last = { 0, 0, 0 };

	while (atomic_load(&b->running) > 0) {
		uint64_t now;

		usleep(20000);
		if (interrupted) {
			atomic_store(&b->stop, 1);
		}
		now = bench_now_ns();
		if (now >= next) {
			sample_second(b, &last);
			if (b->cfg.progress)
				progress(
				    b, now, &prev_ops, &prev_conf, &prev_ns);
			next += 1000000000u;
		}
	}
	b->finish_ns = bench_now_ns();
	if (b->cfg.progress) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
	}
}

static void
merge(struct bench *b, int started)
{
	int    i, op;
	size_t c;

	hist_init(&b->all);
	for (op = 0; op < OP_COUNT; op++) {
		hist_init(&b->op_hist[op]);
	}
	for (i = 0; i < started; i++) {
		struct bench_thread *t = &b->threads[i];
		for (op = 0; op < OP_COUNT; op++) {
			hist_merge(&b->op_hist[op], &t->hist[op]);
			hist_merge(&b->all, &t->hist[op]);
			for (c = 0; c < BENCH_CODES; c++) {
				b->status[op][c] += t->status[op][c];
			}
		}
		b->ops += t->ops;
		b->rpcs += t->rpcs;
		b->writes += t->writes;
		b->conflicts += t->conflicts;
		b->refusals += t->refusals;
		b->restocks += t->restocks;
	}
}

int
main(int argc, char **argv)
{
	struct bench    *b;
	struct sigaction sa;
	inventory_code   rc;
	int              started, i, status;

	b = calloc(1, sizeof(*b));
	if (b == NULL) {
		fprintf(stderr, "inventory-bench: out of memory\n");
		return BENCH_EXIT_INVARIANT;
	}
	if (bench_options_parse(&b->cfg, argc, argv) != 0) {
		fprintf(stderr, "try 'inventory-bench --help'\n");
		bench_options_fini(&b->cfg);
		free(b);
		return BENCH_EXIT_USAGE;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	{
		inventory_client_opts co = {
			.connections     = b->cfg.connections,
			.no_coalesce     = b->cfg.no_coalesce,
			.token           = b->cfg.token,
			.tls_ca_file     = b->cfg.tls_ca,
			.tls_cert_file   = b->cfg.tls_cert,
			.tls_key_file    = b->cfg.tls_key,
			.tls_server_name = b->cfg.tls_server_name,
		};

		rc =
		    inventory_client_open_opts(&b->client, b->cfg.server, &co);
		/* The workers' handles, each in LOOP mode, while the token
		 * is still there. */
		if (rc == INVENTORY_OK && bench_threads_open(b, &co) != 0)
			rc = INVENTORY_INVALID_ARGUMENT;
	}
	/* The handle keeps its own encoded copy of the token. */
	bench_options_fini(&b->cfg);
	if (rc != INVENTORY_OK) {
		fprintf(stderr,
		    "inventory-bench: cannot open %s: %s (a tls+tcp:// URL "
		    "needs --tls-ca; the TLS files must be readable PEM)\n",
		    b->cfg.server, inventory_code_name(rc));
		bench_threads_close(b);
		inventory_client_close(b->client);
		free(b);
		return BENCH_EXIT_USAGE;
	}
	inventory_client_set_timeout(b->client, b->cfg.timeout_ms);

	if (bench_setup_products(b) != 0) {
		fprintf(stderr, "inventory-bench: could not %s the products\n",
		    b->cfg.ids_file ? "read" : "create");
		status = BENCH_EXIT_INVARIANT;
		goto out_close;
	}
	if (b->cfg.write_ids_file != NULL &&
	    bench_write_ids(b, b->cfg.write_ids_file) != 0) {
		status = BENCH_EXIT_INVARIANT;
		goto out_close;
	}

	started = bench_run(b);
	if (started < 0) {
		started = -started - 1;
	} else {
		started = b->nthreads;
	}
	wait_workers(b);
	for (i = 0; i < started; i++) {
		pthread_join(b->threads[i].thread, NULL);
	}
	merge(b, started);
	bench_verify(b);

	if (!b->cfg.quiet) {
		bench_report_text(b, stdout);
	} else {
		printf("invariant %s: %s\n",
		    b->verdict.ok ? "holds" : "VIOLATED",
		    b->verdict.ok
		        ? (b->verdict.exact ? "exact" : "within range")
		        : b->verdict.message);
	}
	fflush(stdout);
	status = b->verdict.ok && started == b->nthreads
	             ? BENCH_EXIT_OK
	             : BENCH_EXIT_INVARIANT;
	if (b->cfg.json_file != NULL &&
	    bench_report_json(b, b->cfg.json_file) != 0) {
		status = BENCH_EXIT_INVARIANT;
	}
	if (b->cfg.svg_file != NULL &&
	    bench_report_svg(b, b->cfg.svg_file) != 0) {
		status = BENCH_EXIT_INVARIANT;
	}

out_close:
	bench_threads_close(b);
	inventory_client_close(b->client);
	free(b->seconds);
	free(b->products);
	free(b->zipf_cdf);
	free(b);
	return status;
}
