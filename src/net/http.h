/* SPDX-License-Identifier: MIT */
/*
 * The operator's HTTP endpoint (--http URL), served by GNU libmicrohttpd
 * on its own listener and its own thread, apart from the RPC port:
 *
 *   GET /metrics    Prometheus text format 0.0.4 (metrics_expose())
 *   GET /healthz    200 "ok" while the process serves
 *   GET /readyz     200 "ok" when the database is reachable and the
 *                   schema current, else 503 with a one-line reason
 *                   (ready.h: the verdict of a probe run once a second)
 *   GET /debug/hot  JSON: the products the conflicts hit over the last
 *                   minute (hot.h); with --auth-file only for
 *                   `Authorization: Bearer TOKEN` of a known caller
 *                   (else 401), since it names products
 *
 * GET and HEAD only (HEAD is the GET answer without its body), 405 for
 * any other method on these paths, 404 elsewhere.  Connections are
 * bounded in number (in all and per client address), in idle time and in
 * header memory; http.c says how and why.
 * Every answer is computed from relaxed counters and cached verdicts, so a
 * scrape never waits for the database and the request path never waits
 * for a scrape.
 */
#ifndef INVENTORY_HTTP_H
#define INVENTORY_HTTP_H

#include <stddef.h>

struct executor;
struct http;
struct ready;

/* Where the answers come from; borrowed, and must outlive the endpoint. */
struct http_sources {
	struct executor *ex;    /* queued and in-flight calls; NULL: 0 */
	struct ready    *ready; /* /readyz and inventory_db_up */
};

/* Listen on url (http://HOST:PORT; an empty HOST: every address) and
 * serve from a thread of the endpoint's own.  Returns 0 and *out (owned
 * by the caller: http_stop()), or -1 with a reason in errbuf (nothing
 * left listening). */
int http_start(struct http **out, const char *url,
    const struct http_sources *src, char *errbuf, size_t errlen);

/* Stop listening, wait for answers under way, free.  NULL is a no-op. */
void http_stop(struct http *h);

#endif
