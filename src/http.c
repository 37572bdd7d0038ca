/*
 * The HTTP endpoint (see http.h): four GET handlers on one nng HTTP
 * server.  The only file besides the transport that speaks nng.
 *
 * Handlers run on nng's threads, which also complete the RPC path's
 * callbacks, so each one only reads what others keep up to date (relaxed
 * counters, the readiness verdict, the hot-product sketch) and builds its
 * answer in memory; none blocks.  A response nng could not allocate
 * closes that connection (the aio fails), nothing else.
 */
#include "clock.h"
#include "http.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "executor.h"
#include "hot.h"
#include "metrics.h"
#include "ready.h"
#include "store/store.h"

#ifndef INVENTORY_VERSION /* set by the build from project(VERSION) */
#define INVENTORY_VERSION "unknown"
#endif

#define CT_TEXT    "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON    "application/json"

struct http {
	nng_http_server    *server; /* held; released by http_stop() */
	struct http_sources src;    /* borrowed */
};

static struct http *
http_of(nng_aio *aio)
{
	return nng_http_handler_get_data(nng_aio_get_input(aio, 1));
}

/* Complete the handler's aio with a response (copied). */
static void
reply(nng_aio *aio, uint16_t status, const char *ctype, const char *body,
    size_t len)
{
	nng_http_res *res;
	int           rv;

	if ((rv = nng_http_res_alloc(&res)) != 0) {
		nng_aio_finish(aio, rv);
		return;
	}
	if ((rv = nng_http_res_set_status(res, status)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Content-Type", ctype)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Cache-Control", "no-store")) !=
	        0 ||
	    (rv = nng_http_res_copy_data(res, body, len)) != 0) {
		nng_http_res_free(res);
		nng_aio_finish(aio, rv);
		return;
	}
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

static void
reply_text(nng_aio *aio, uint16_t status, const char *line)
{
	char body[STORE_PROBE_WHY_MAX + 2];
	int  n = snprintf(body, sizeof(body), "%s\n", line);

	reply(aio, status, CT_TEXT, body,
	    n > 0 && (size_t)n < sizeof(body) ? (size_t)n : strlen(body));
}

/* Run render() into a memory stream and answer 200 with it, or 500. */
static void
reply_rendered(nng_aio *aio, const char               *ctype,
    int (*render)(struct http *, FILE *), struct http *h)
{
	char  *buf = NULL;
	size_t len = 0;
	FILE  *out = open_memstream(&buf, &len);
	int    rv;

	if (out == NULL) {
		reply_text(aio, NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR,
		    "out of memory");
		return;
	}
	rv = render(h, out);
	if (fclose(out) != 0 || rv != 0)
		reply_text(aio, NNG_HTTP_STATUS_INTERNAL_SERVER_ERROR,
		    "out of memory");
	else
		reply(aio, NNG_HTTP_STATUS_OK, ctype, buf, len);
	free(buf);
}

static int
render_metrics(struct http *h, FILE *out)
{
	struct metrics_gauges g = { .version = INVENTORY_VERSION };
	char                  why[STORE_PROBE_WHY_MAX];

	g.ready         = ready_get(h->src.ready, why, sizeof(why), &g.db_up);
	g.db_reconnects = store_reconnects();
	if (h->src.ex != NULL)
		executor_load(h->src.ex, &g.queued, &g.in_flight);
	return metrics_expose(out, &g);
}

static int
render_hot(struct http *h, FILE *out)
{
	(void)h;
	return hot_write_json(hot_global(), clock_now_ns(), out);
}

static void
on_metrics(nng_aio *aio)
{
	reply_rendered(aio, CT_METRICS, render_metrics, http_of(aio));
}

static void
on_hot(nng_aio *aio)
{
	reply_rendered(aio, CT_JSON, render_hot, http_of(aio));
}

static void
on_healthz(nng_aio *aio)
{
	reply_text(aio, NNG_HTTP_STATUS_OK, "ok");
}

static void
on_readyz(nng_aio *aio)
{
	struct http *h = http_of(aio);
	char         why[STORE_PROBE_WHY_MAX];

	if (ready_get(h->src.ready, why, sizeof(why), NULL) == 1)
		reply_text(aio, NNG_HTTP_STATUS_OK, "ok");
	else
		reply_text(aio, NNG_HTTP_STATUS_SERVICE_UNAVAILABLE, why);
}

static const struct route {
	const char *path;
	void (*cb)(nng_aio *);
} routes[] = {
	{ "/metrics", on_metrics },
	{ "/healthz", on_healthz },
	{ "/readyz", on_readyz },
	{ "/debug/hot", on_hot },
};

int
http_start(struct http **out, const char *url, const struct http_sources *src,
    char *errbuf, size_t errlen)
{
	struct http      *h;
	nng_url          *u = NULL;
	nng_http_handler *hd;
	const char       *what;
	int               rv;

	*out = NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(errbuf, errlen, "--http: out of memory");
		return -1;
	}
	h->src = *src;
	what   = "parse";
	if ((rv = nng_url_parse(&u, url)) != 0)
		goto out_free;
	if (strcmp(u->u_scheme, "http") != 0) {
		snprintf(errbuf, errlen,
		    "--http %s: only http://HOST:PORT is served", url);
		nng_url_free(u);
		free(h);
		return -1;
	}
	what = "server";
	if ((rv = nng_http_server_hold(&h->server, u)) != 0)
		goto out_free;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
		what = routes[i].path;
		if ((rv = nng_http_handler_alloc(
		         &hd, routes[i].path, routes[i].cb)) != 0)
			goto out_release;
		if ((rv = nng_http_handler_set_method(hd, "GET")) != 0 ||
		    (rv = nng_http_handler_set_data(hd, h, NULL)) != 0 ||
		    (rv = nng_http_server_add_handler(h->server, hd)) != 0) {
			nng_http_handler_free(hd);
			goto out_release;
		}
	}
	what = "listen";
	if ((rv = nng_http_server_start(h->server)) != 0)
		goto out_release;
	nng_url_free(u);
	*out = h;
	return 0;

out_release:
	nng_http_server_release(h->server);
out_free:
	snprintf(
	    errbuf, errlen, "--http %s: %s: %s", url, what, nng_strerror(rv));
	nng_url_free(u);
	free(h);
	return -1;
}

void
http_stop(struct http *h)
{
	if (h == NULL)
		return;
	nng_http_server_stop(h->server);
	nng_http_server_release(h->server);
	free(h);
}
