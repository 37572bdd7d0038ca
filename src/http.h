/*
 * The operator's HTTP endpoint (--http URL), served by nng's HTTP server
 * on its own listener, apart from the RPC port:
 *
 *   GET /metrics    Prometheus text format 0.0.4 (metrics_expose())
 *   GET /healthz    200 "ok" while the process serves
 *   GET /readyz     200 "ok" when the database is reachable and the
 *                   schema current, else 503 with a one-line reason
 *                   (ready.h: the verdict of a probe run once a second)
 *   GET /debug/hot  JSON: the products the conflicts hit over the last
 *                   minute (hot.h)
 *
 * GET and HEAD only (nng answers HEAD from the GET handler without the
 * body, and 405 for any other method on these paths, 404 elsewhere).
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

/* Listen on url (http://HOST:PORT) and serve.  Returns 0, or -1 with a
 * reason in errbuf (nothing left listening). */
int http_start(struct http **out, const char *url,
    const struct http_sources *src, char *errbuf, size_t errlen);

/* Stop listening, wait for answers under way, free.  NULL is a no-op. */
void http_stop(struct http *h);

#endif
