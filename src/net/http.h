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
 *   POST /inventory.v1.InventoryService/<Method>
 *                   a Connect protocol call (connect.h), dispatched like
 *                   an nng frame: the connection waits (suspended, no
 *                   thread held) until the executors answer
 *
 * GET and HEAD only on the first four (HEAD is the GET answer without
 * its body), POST only on the Connect paths, 405 for any other method,
 * 404 elsewhere.  Connections are
 * bounded in number (in all and per client address), in idle time and in
 * header memory; http.c says how and why.
 * Every answer is computed from relaxed counters and cached verdicts, so a
 * scrape never waits for the database and the request path never waits
 * for a scrape.
 */
#ifndef INVENTORY_HTTP_H
#define INVENTORY_HTTP_H

#include <stddef.h>

#include <stdint.h>

struct executor;
struct http;
struct ready;

/* Hands a Connect call's reply back: reply is a packed
 * inventory.v1.Response, valid only during the call; runs once, on any
 * thread. */
typedef void (*http_call_done)(const uint8_t *reply, size_t len, void *arg);

/* Dispatches env (a packed inventory.v1.Request, valid only during the
 * call) as the RPC listener would a frame; done(..., arg) follows, maybe
 * before this returns.  0, or -1 when it could not start (done is then
 * never called). */
typedef int (*http_call_fn)(void *ctx, const uint8_t *env, size_t len,
    uint64_t received_ns, http_call_done done, void *arg);

/* Where the answers come from; borrowed, and must outlive the endpoint. */
struct http_sources {
	struct executor *ex;    /* queued and in-flight calls; NULL: 0 */
	struct ready    *ready; /* /readyz and inventory_db_up */
	/* The Connect protocol (connect.h): POST CONNECT_PREFIX<Method> is
	 * dispatched through call(call_ctx, ...); NULL: those paths are 404.
	 * A body over max_body bytes is refused (RESOURCE_EXHAUSTED) without
	 * being kept. */
	http_call_fn call;
	void        *call_ctx;
	size_t       max_body;
	/* Connections at once, in all and from one address (0: 256, 64). */
	unsigned max_connections, max_per_address;
	/* PEM files of the certificate (chain) and its key for an https://
	 * URL (read once at start; unused for http://). */
	const char *tls_cert, *tls_key;
};

/* Listen on url (http://HOST:PORT, or https://HOST:PORT with src's
 * tls_cert and tls_key; an empty HOST: every address) and
 * serve from a thread of the endpoint's own.  Returns 0 and *out (owned
 * by the caller: http_stop()), or -1 with a reason in errbuf (nothing
 * left listening). */
int http_start(struct http **out, const char *url,
    const struct http_sources *src, char *errbuf, size_t errlen);

/* Refuse new Connect calls, wait for those under way (the executors
 * must still run), stop listening, free.  NULL is a no-op. */
void http_stop(struct http *h);

#endif
