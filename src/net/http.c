/* SPDX-License-Identifier: MIT */
/*
 * The HTTP endpoint (see http.h) on GNU libmicrohttpd (MHD), which runs
 * on threads of its own: one internal epoll thread accepts, reads, times
 * out and answers every connection.  Nothing here touches nng, so the RPC
 * path's threads and descriptors are never spent on an HTTP peer.
 *
 * Requests are routed by routes[] (path, methods, access, handler): an
 * unknown path is 404, a known path with another method 405 (with
 * Allow), a route that needs a caller 401 without a known bearer token.
 * A handler runs once the whole request has arrived, reads only what
 * others keep current (relaxed counters, the readiness verdict, the
 * hot-product sketch), builds its answer in memory and never blocks.
 * MHD answers HEAD from the GET answer without the body.
 *
 * Limits (the connection counts are flags; the rest fixed):
 *   connections           --http-max-connections (256) at once in all,
 *                         --http-max-connections-per-peer (64) from one
 *                         address: Connect callers use this listener too,
 *                         so a client with 32 calls in flight (32
 *                         connections: HTTP/1.1 has one call per
 *                         connection) is served, while one host still
 *                         cannot take every slot from the scrapers; MHD
 *                         stops accepting at the limit, so extra peers
 *                         wait in the kernel's backlog, and a connection
 *                         over the per-address limit is closed as soon as
 *                         it is accepted.
 *   HTTP_TIMEOUT_S        10 s without progress closes a connection:
 *                         an idle keep-alive or a stalled sender gives
 *                         its slot back (Prometheus reconnects; its
 *                         default scrape timeout is 10 s too).
 *   HTTP_MEMORY_LIMIT     16 KiB per connection for the request line and
 *                         headers (MHD's pool): a longer header block is
 *                         refused (431) and the connection closed.
 *                         Answers are allocated apart from the pool.
 * The path is percent-decoded by unescape(): a valid %XX escape other
 * than %00 is decoded, anything else stays as sent (and so matches no
 * route: 404), so a NUL can never cut a path short.  A Connect GET carries
 * its message in the query, where any byte is fair (%00 too): on_uri()
 * keeps the raw query before MHD splits and decodes it, and connect.c
 * decodes it.  Every answer is Cache-Control: no-store, and a Connect
 * answer also Vary: Authorization, so that no cache hands one caller's
 * GET answer to another.
 */
#include "base/clock.h"
#include "net/http.h"

#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "base/code.h"
#include "base/log.h"
#include "core/executor.h"
#include "net/connect.h"
#include "ops/auth.h"
#include "ops/hot.h"
#include "ops/metrics.h"
#include "ops/ready.h"
#include "store/store.h"

#ifndef INVENTORY_VERSION /* set by the build from project(VERSION) */
#define INVENTORY_VERSION "unknown"
#endif

#define CT_TEXT    "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"
#define CT_JSON    "application/json"

enum {
	HTTP_MAX_CONNECTIONS = 256, /* defaults of the two flags */
	HTTP_MAX_PER_ADDRESS = 64,
	HTTP_TIMEOUT_S       = 10,
	HTTP_MEMORY_LIMIT    = 16 << 10,
	HTTP_ERR_MAX         = 200, /* an MHD message kept for http_start() */
};

/* Methods a route answers, as a mask. */
enum http_method {
	HTTP_GET  = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
};

/* Who may call a route. */
enum http_access {
	HTTP_OPEN,   /* anyone: scrapers and probes */
	HTTP_CALLER, /* with --auth-file, a bearer token of a known caller */
};

struct http {
	struct MHD_Daemon  *daemon;   /* owned; stopped by http_stop() */
	struct http_sources src;      /* borrowed */
	atomic_bool         starting; /* in MHD_start_daemon(): keep errors */
	char start_err[HTTP_ERR_MAX]; /* MHD's last line while starting */
	/* Connect calls handed to the executors and not yet answered:
	 * http_stop() waits for none before stopping MHD, since each will
	 * resume its connection. */
	pthread_mutex_t mu;
	pthread_cond_t  idle;
	size_t          in_flight; /* under mu */
	bool            stopping;  /* under mu: new calls are refused */
	/* https://: the PEM certificate and key, NUL-terminated, owned and
	 * kept until MHD is stopped; NULL for http://. */
	char *tls_cert_pem, *tls_key_pem;
};

/* One answer, built by a handler and handed to MHD. */
struct http_answer {
	unsigned    status;
	const char *ctype; /* static */
	char       *body;  /* malloc'd; NULL with len 0 for an empty body */
	size_t      len;
};

/* Fill a with a 200 (or 5xx) answer; 0, or -1 when out of memory (the
 * dispatcher then closes the connection). */
typedef int (*http_handler)(struct http *h, struct http_answer *a);

static int on_metrics(struct http *h, struct http_answer *a);
static int on_healthz(struct http *h, struct http_answer *a);
static int on_readyz(struct http *h, struct http_answer *a);
static int on_hot(struct http *h, struct http_answer *a);

/* The routing table: exact paths.  The Connect calls are connect_route,
 * matched by CONNECT_PREFIX; their handler is the Connect state machine
 * (on_connect), not a struct http_answer builder. */
static const struct route {
	const char      *path;    /* exact match on the decoded path */
	unsigned         methods; /* enum http_method mask */
	enum http_access access;
	http_handler     handler;
} routes[] = {
	{ "/metrics", HTTP_GET | HTTP_HEAD, HTTP_OPEN, on_metrics },
	{ "/healthz", HTTP_GET | HTTP_HEAD, HTTP_OPEN, on_healthz },
	{ "/readyz", HTTP_GET | HTTP_HEAD, HTTP_OPEN, on_readyz },
	{ "/debug/hot", HTTP_GET | HTTP_HEAD, HTTP_CALLER, on_hot },
};

/* The caller's token travels in the envelope, so dispatch decides (the
 * same UNAUTHENTICATED and PERMISSION_DENIED as over nng): open here. */
static const struct route connect_route = { CONNECT_PREFIX,
	HTTP_POST | HTTP_GET, HTTP_OPEN, NULL };

/* Where a Connect call is. */
enum http_req_phase {
	REQ_READING,    /* headers in, body arriving */
	REQ_DISPATCHED, /* suspended until the executors answer */
	REQ_ANSWERED,   /* req->ans ready to go out */
};

/* One request's state (*req_cls), from its request line (on_uri) to
 * MHD's completion (on_completed frees it). */
struct http_req {
	struct http           *h;
	const struct route    *r; /* NULL until its headers are in */
	struct MHD_Connection *conn;
	uint64_t               received_ns; /* when its headers came */
	char                  *query;      /* malloc'd raw query; NULL: none */
	bool                   query_lost; /* out of memory keeping it */
	/* Connect calls only: */
	bool                  get; /* a GET: the message is in query */
	enum http_req_phase   phase;
	uint8_t              *body; /* malloc'd, at most h->src.max_body */
	size_t                len, cap;
	bool                  too_big; /* the rest of the body is dropped */
	struct connect_call   call;
	struct connect_answer ans; /* body owned until handed to MHD */
};

/* ---- answers ------------------------------------------------------------ */

static int
answer_text(struct http_answer *a, unsigned status, const char *line)
{
	a->status = status;
	a->ctype  = CT_TEXT;
	if (asprintf(&a->body, "%s\n", line) < 0) {
		a->body = NULL;
		return -1;
	}
	a->len = strlen(a->body);
	return 0;
}

/* Run render() into a memory stream: a 200 answer with it, or 500. */
static int
answer_rendered(struct http_answer *a, const char     *ctype,
    int (*render)(struct http *, FILE *), struct http *h)
{
	char  *buf = NULL;
	size_t len = 0;
	FILE  *out = open_memstream(&buf, &len);
	int    rv;

	if (out == NULL)
		return answer_text(
		    a, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	rv = render(h, out);
	if (fclose(out) != 0 || rv != 0) {
		free(buf);
		return answer_text(
		    a, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
	}
	a->status = MHD_HTTP_OK;
	a->ctype  = ctype;
	a->body   = buf;
	a->len    = len;
	return 0;
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

static int
on_metrics(struct http *h, struct http_answer *a)
{
	return answer_rendered(a, CT_METRICS, render_metrics, h);
}

static int
on_hot(struct http *h, struct http_answer *a)
{
	return answer_rendered(a, CT_JSON, render_hot, h);
}

static int
on_healthz(struct http *h, struct http_answer *a)
{
	(void)h;
	return answer_text(a, MHD_HTTP_OK, "ok");
}

static int
on_readyz(struct http *h, struct http_answer *a)
{
	char why[STORE_PROBE_WHY_MAX];

	if (ready_get(h->src.ready, why, sizeof(why), NULL) == 1)
		return answer_text(a, MHD_HTTP_OK, "ok");
	return answer_text(a, MHD_HTTP_SERVICE_UNAVAILABLE, why);
}

/* Queue a (its body handed to MHD) with the headers every answer has,
 * and extra (name, value pairs, ended by a NULL name; NULL: none).
 * MHD_NO closes the connection. */
static enum MHD_Result
send_answer(struct MHD_Connection *conn, struct http_answer *a,
    const char *const *extra)
{
	struct MHD_Response *res;
	enum MHD_Result      rv;
	bool                 added;

	if (a->body == NULL) /* an empty body: nothing for MHD to free */
		res = MHD_create_response_from_buffer(
		    0, (char *)"", MHD_RESPMEM_PERSISTENT);
	else
		res = MHD_create_response_from_buffer(
		    a->len, a->body, MHD_RESPMEM_MUST_FREE);
	if (res == NULL) {
		free(a->body);
		return MHD_NO;
	}
	a->body = NULL; /* the response owns it now */
	added   = MHD_add_response_header(
	              res, MHD_HTTP_HEADER_CONTENT_TYPE, a->ctype) == MHD_YES &&
	        MHD_add_response_header(
	            res, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") == MHD_YES;
	for (size_t i = 0; added && extra != NULL && extra[i] != NULL; i += 2)
		added = MHD_add_response_header(res, extra[i], extra[i + 1]) ==
		        MHD_YES;
	if (!added) {
		MHD_destroy_response(res);
		return MHD_NO;
	}
	rv = MHD_queue_response(conn, a->status, res);
	MHD_destroy_response(res); /* MHD holds its own reference */
	return rv;
}

/* A short text answer (404, 405, 401) with one extra header. */
static enum MHD_Result
send_text(struct MHD_Connection *conn, unsigned status, const char *line,
    const char *extra, const char *extra_value)
{
	struct http_answer a        = { 0 };
	const char        *pairs[3] = { extra, extra_value, NULL };

	if (answer_text(&a, status, line) != 0)
		return MHD_NO;
	return send_answer(conn, &a, pairs);
}

/* ---- routing ------------------------------------------------------------ */

static unsigned
method_bit(const char *method)
{
	if (strcmp(method, MHD_HTTP_METHOD_GET) == 0)
		return HTTP_GET;
	if (strcmp(method, MHD_HTTP_METHOD_HEAD) == 0)
		return HTTP_HEAD;
	if (strcmp(method, MHD_HTTP_METHOD_POST) == 0)
		return HTTP_POST;
	return 0;
}

static const struct route *
route_find(const struct http *h, const char *path)
{
	if (h->src.call != NULL &&
	    strncmp(path, CONNECT_PREFIX, sizeof(CONNECT_PREFIX) - 1) == 0)
		return &connect_route;
	for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
		if (strcmp(path, routes[i].path) == 0)
			return &routes[i];
	return NULL;
}

/* "GET, HEAD" for a route's mask, for the Allow header of a 405. */
static void
allow_list(unsigned methods, char *buf, size_t len)
{
	static const struct {
		unsigned    bit;
		const char *name;
	} names[] = {
		{ HTTP_GET, "GET" },
		{ HTTP_HEAD, "HEAD" },
		{ HTTP_POST, "POST" },
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int n;

		if ((methods & names[i].bit) == 0)
			continue;
		n = snprintf(buf + used, len - used, "%s%s",
		    used > 0 ? ", " : "", names[i].name);
		if (n < 0 || (size_t)n >= len - used)
			return;
		used += (size_t)n;
	}
}

/* Whether the request may use route r: an open route, no --auth-file, or
 * `Authorization: Bearer TOKEN` of a caller in the table. */
static bool
authorized(struct MHD_Connection *conn, const struct route *r)
{
	static const char scheme[] = "Bearer ";
	const char       *v;
	char              name[CALLER_MAX + 1];

	if (r->access == HTTP_OPEN || !auth_enabled())
		return true;
	v = MHD_lookup_connection_value(
	    conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	/* The scheme is case-insensitive (RFC 7235); the token is not. */
	if (v == NULL || strncasecmp(v, scheme, sizeof(scheme) - 1) != 0)
		return false;
	v += sizeof(scheme) - 1;
	while (*v == ' ')
		v++;
	return auth_check(v, name) != AUTH_ROLE_NONE;
}

/* ---- Connect calls -------------------------------------------------------
 */

/* Send req->ans (its body handed to MHD).  Vary: the answer is the
 * caller's (its token's roles), which a cache that ignored no-store must
 * not hand to another caller of the same GET URL. */
static enum MHD_Result
connect_send(struct http_req *req)
{
	struct http_answer a        = { .status = req->ans.status,
		       .ctype                   = req->ans.ctype,
		       .body                    = req->ans.body,
		       .len                     = req->ans.len };
	const char        *extra[5] = { MHD_HTTP_HEADER_VARY,
		       MHD_HTTP_HEADER_AUTHORIZATION, NULL, NULL, NULL };

	if (req->ans.allow != NULL) {
		extra[2] = MHD_HTTP_HEADER_ALLOW;
		extra[3] = req->ans.allow;
	}
	metrics_connect(
	    connect_method_index(&req->call), req->get, (int)req->ans.code);
	req->ans.body = NULL;
	return send_answer(req->conn, &a, extra);
}

/* Keep a piece of the body, up to max_body; past it the call is refused
 * once the body is in (the rest is read and dropped, so that the answer
 * can still go out on a connection in step). */
static void
connect_take(struct http_req *req, const char *data, size_t n)
{
	size_t max = req->h->src.max_body, cap;

	if (req->too_big || n > max - req->len) {
		req->too_big = true;
		return;
	}
	if (req->len + n > req->cap) {
		uint8_t *b;

		cap = req->cap > 0 ? req->cap : 4096;
		while (cap < req->len + n)
			cap *= 2;
		if (cap > max)
			cap = max;
		if ((b = realloc(req->body, cap)) == NULL) {
			req->too_big = true; /* answered as exhausted */
			return;
		}
		req->body = b;
		req->cap  = cap;
	}
	memcpy(req->body + req->len, data, n);
	req->len += n;
}

/* req->ans is set: resume the connection (req is MHD's again from
 * there, so h is read first) and give the call's slot back, waking
 * http_stop() when it was the last. */
static void
call_answered(struct http_req *req)
{
	struct http *h = req->h;

	req->phase = REQ_ANSWERED;
	MHD_resume_connection(req->conn);
	pthread_mutex_lock(&h->mu);
	if (--h->in_flight == 0)
		pthread_cond_broadcast(&h->idle);
	pthread_mutex_unlock(&h->mu);
}

/* The executors' answer (any thread): the answer in req, then the
 * connection resumed; req is MHD's again from there. */
static void
on_call_done(const uint8_t *reply, size_t len, void *arg)
{
	struct http_req *req = arg;

	if (connect_answer_reply(&req->call, reply, len, &req->ans) != 0)
		req->ans = (struct connect_answer) { 0 };
	call_answered(req);
}

static const char *
header(struct MHD_Connection *conn, const char *name)
{
	return MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);
}

/* The whole request is in: refuse it, or build its envelope, suspend the
 * connection and hand the envelope to the executors. */
static enum MHD_Result
connect_start(struct http_req *req, const char *url)
{
	struct http           *h = req->h;
	struct connect_request cr;
	uint8_t               *env = NULL;
	size_t                 env_len;
	bool                   refused;

	if (req->too_big) {
		char why[96];

		snprintf(why, sizeof(why),
		    "the request body is over %zu bytes", h->src.max_body);
		if (connect_answer_error(
		        &req->ans, CODE_RESOURCE_EXHAUSTED, why) != 0)
			return MHD_NO;
		return connect_send(req);
	}
	if (req->get && req->query_lost)
		return MHD_NO; /* out of memory: as a failed allocation */
	cr = (struct connect_request) {
		.get              = req->get,
		.query            = req->query,
		.method           = url + sizeof(CONNECT_PREFIX) - 1,
		.content_type     = header(req->conn, "Content-Type"),
		.content_encoding = header(req->conn, "Content-Encoding"),
		.timeout_ms       = header(req->conn, "Connect-Timeout-Ms"),
		.authorization    = header(req->conn, "Authorization"),
		.idempotency_key  = header(req->conn, "Idempotency-Key"),
		.protocol_version =
		    header(req->conn, "Connect-Protocol-Version"),
		.body = req->body != NULL ? req->body : (const uint8_t *)"",
		.body_len = req->len,
	};
	if (connect_envelope(&cr, &req->call, &env, &env_len, &req->ans) != 0)
		return req->ans.body != NULL ? connect_send(req) : MHD_NO;
	pthread_mutex_lock(&h->mu);
	refused = h->stopping;
	if (!refused)
		h->in_flight++;
	pthread_mutex_unlock(&h->mu);
	if (refused) {
		free(env);
		if (connect_answer_error(&req->ans, CODE_UNAVAILABLE,
		        "the server is shutting down") != 0)
			return MHD_NO;
		return connect_send(req);
	}
	req->phase = REQ_DISPATCHED;
	MHD_suspend_connection(req->conn);
	if (h->src.call(h->src.call_ctx, env, env_len, req->received_ns,
	        on_call_done, req) != 0) {
		/* Not started: answer it here and give the slot back. */
		if (connect_answer_error(&req->ans, CODE_RESOURCE_EXHAUSTED,
		        "out of memory") != 0)
			req->ans = (struct connect_answer) { 0 };
		call_answered(req);
	}
	free(env);
	return MHD_YES;
}

/* A Connect call's last access-handler calls: start it, then (once
 * resumed) send its answer. */
static enum MHD_Result
on_connect(struct http_req *req, const char *url)
{
	switch (req->phase) {
	case REQ_READING:
		return connect_start(req, url);
	case REQ_DISPATCHED: /* a spurious call while suspended */
		return MHD_YES;
	case REQ_ANSWERED:
		return req->ans.body != NULL ? connect_send(req) : MHD_NO;
	}
	return MHD_NO;
}

/* MHD's access handler: called when the headers are in (*req_cls NULL),
 * then for each piece of body, then once the request is complete (and,
 * for a Connect call, once more when its answer resumes it).  Refusals
 * (404, 405, 401) go out at the first call, before any body is read; the
 * route's handler runs at the last. */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
    const char *method, const char *version, const char *upload_data,
    size_t *upload_data_size, void **req_cls)
{
	struct http        *h   = cls;
	struct http_req    *req = *req_cls;
	const struct route *r;
	struct http_answer  a = { 0 };

	(void)version;
	if (req == NULL) { /* on_uri() was out of memory */
		if ((req = calloc(1, sizeof(*req))) == NULL)
			return MHD_NO;
		req->query_lost = true;
		*req_cls        = req;
	}
	if (req->r == NULL) {
		char allow[32];

		if ((r = route_find(h, url)) == NULL)
			return send_text(
			    conn, MHD_HTTP_NOT_FOUND, "not found", NULL, NULL);
		if ((method_bit(method) & r->methods) == 0) {
			allow_list(r->methods, allow, sizeof(allow));
			return send_text(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "method not allowed", MHD_HTTP_HEADER_ALLOW,
			    allow);
		}
		if (!authorized(conn, r))
			return send_text(conn, MHD_HTTP_UNAUTHORIZED,
			    "a bearer token of a known caller is required",
			    MHD_HTTP_HEADER_WWW_AUTHENTICATE,
			    "Bearer realm=\"inventoryd\"");
		req->h           = h;
		req->r           = r;
		req->conn        = conn;
		req->get         = method_bit(method) == HTTP_GET;
		req->received_ns = clock_now_ns();
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		/* Only a Connect POST keeps its body; what a GET carries is
		 * ignored. */
		if (req->r == &connect_route && !req->get)
			connect_take(req, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (req->r == &connect_route)
		return on_connect(req, url);
	if (req->r->handler(h, &a) != 0)
		return MHD_NO;
	return send_answer(conn, &a, NULL);
}

/* MHD's URI callback, on the request line before MHD splits off the
 * query and decodes it in place: the request's state (*req_cls), with its
 * raw query kept for a Connect GET.  NULL when out of memory (on_request
 * tries again). */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	struct http_req *req = calloc(1, sizeof(*req));
	const char      *q   = strchr(uri, '?');

	(void)cls;
	(void)conn;
	if (req != NULL && q != NULL && (req->query = strdup(q + 1)) == NULL)
		req->query_lost = true;
	return req;
}

/* MHD is done with a request (answered, or its connection gone). */
static void
on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
    enum MHD_RequestTerminationCode why)
{
	struct http_req *req = *req_cls;

	(void)cls;
	(void)conn;
	(void)why;
	if (req == NULL)
		return;
	free(req->query);
	free(req->body);
	free(req->ans.body);
	free(req);
	*req_cls = NULL;
}

/* Percent-decoding of the path and query (MHD_OPTION_UNESCAPE_CALLBACK):
 * %XX with two hex digits becomes its byte, except %00, which stays as
 * sent, as does any other '%'.  Never longer than s; the new length. */
static size_t
unescape(void *cls, struct MHD_Connection *conn, char *s)
{
	char *w = s;

	(void)cls;
	(void)conn;
	for (const char *r = s; *r != '\0'; r++) {
		unsigned v;
		char     hex[3];

		if (r[0] == '%' && isxdigit((unsigned char)r[1]) &&
		    isxdigit((unsigned char)r[2])) {
			hex[0] = r[1];
			hex[1] = r[2];
			hex[2] = '\0';
			v      = (unsigned)strtoul(hex, NULL, 16);
			if (v != 0) {
				*w++ = (char)v;
				r += 2;
				continue;
			}
		}
		*w++ = *r;
	}
	*w = '\0';
	return (size_t)(w - s);
}

/* MHD's error lines: kept for http_start() while starting, then logged
 * (rate-limited: a flood of refused peers must not flood the log). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	static struct log_limit limit = LOG_LIMIT_INIT("http", 1);
	struct http            *h     = cls;
	char                    line[HTTP_ERR_MAX];
	size_t                  n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	if (atomic_load_explicit(&h->starting, memory_order_acquire)) {
		memcpy(h->start_err, line, n + 1);
		return;
	}
	log_at_limited(&limit, LOG_LEVEL_WARN, "http: %s", line);
}

/* ---- start and stop ----------------------------------------------------- */

/* Split http[s]://HOST:PORT[/] into host (empty: every address), port
 * ("80" or "443" when absent) and *tls (https); 0, or -1 with the reason
 * in errbuf. */
static int
parse_url(const char *url, char *host, size_t hostlen, char *port,
    size_t portlen, bool *tls, char *errbuf, size_t errlen)
{
	const char *p, *end, *colon, *hs, *he;

	if (strncmp(url, "http://", 7) == 0) {
		*tls = false;
		p    = url + 7;
	} else if (strncmp(url, "https://", 8) == 0) {
		*tls = true;
		p    = url + 8;
	} else {
		goto bad;
	}
	end = p + strcspn(p, "/");
	if (*end != '\0' && strcmp(end, "/") != 0)
		goto bad; /* a path would mean nothing */
	if (*p == '[') {  /* [IPv6] */
		hs = p + 1;
		if ((he = memchr(hs, ']', (size_t)(end - hs))) == NULL)
			goto bad;
		colon = he + 1 < end && he[1] == ':' ? he + 1 : NULL;
		if (colon == NULL && he + 1 != end)
			goto bad;
	} else {
		hs    = p;
		colon = memchr(p, ':', (size_t)(end - p));
		he    = colon != NULL ? colon : end;
	}
	if ((size_t)(he - hs) >= hostlen ||
	    (colon != NULL && (size_t)(end - colon - 1) >= portlen) ||
	    (colon != NULL && end - colon - 1 == 0))
		goto bad;
	memcpy(host, hs, (size_t)(he - hs));
	host[he - hs] = '\0';
	if (colon != NULL) {
		memcpy(port, colon + 1, (size_t)(end - colon - 1));
		port[end - colon - 1] = '\0';
	} else {
		snprintf(port, portlen, *tls ? "443" : "80");
	}
	return 0;
bad:
	snprintf(errbuf, errlen,
	    "--http %s: only http://HOST:PORT or https://HOST:PORT is served",
	    url);
	return -1;
}

/* The whole PEM file at path, NUL-terminated (MHD takes PEM text), into
 * *out (malloc'd); 0, or -1 with the reason in errbuf. */
static int
read_pem(const char *what, const char *path, char **out, char *errbuf,
    size_t errlen)
{
	enum { PEM_MAX = 1 << 20 }; /* a chain is a few KiB */
	FILE  *f;
	char  *buf = NULL;
	size_t len = 0;
	int    rv  = -1;

	*out = NULL;
	if (path == NULL || path[0] == '\0') {
		snprintf(errbuf, errlen,
		    "--http https://: give --tls-cert and --tls-key (%s "
		    "missing)",
		    what);
		return -1;
	}
	if ((f = fopen(path, "rb")) == NULL) {
		snprintf(errbuf, errlen, "--http https://: %s %s: %s", what,
		    path, strerror(errno));
		return -1;
	}
	if ((buf = malloc(PEM_MAX + 1)) == NULL) {
		snprintf(errbuf, errlen, "--http: out of memory");
		goto out;
	}
	len = fread(buf, 1, PEM_MAX + 1, f);
	if (ferror(f) || len == 0 || len > PEM_MAX) {
		snprintf(errbuf, errlen, "--http https://: %s %s: %s", what,
		    path,
		    ferror(f)  ? "read error"
		    : len == 0 ? "empty"
		               : "larger than 1 MiB");
		goto out;
	}
	buf[len] = '\0';
	*out     = buf;
	buf      = NULL;
	rv       = 0;
out:
	free(buf);
	(void)fclose(f);
	return rv;
}

/* Start MHD on one resolved address; NULL with h->start_err set. */
static struct MHD_Daemon *
daemon_start(struct http *h, const struct addrinfo *ai)
{
	/* Suspend/resume: a Connect call's connection waits for the
	 * executors without holding MHD's thread. */
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
	                 MHD_ALLOW_SUSPEND_RESUME;

	/* https://: the certificate and key; MHD complains about them
	 * without MHD_USE_TLS, so http:// passes the array from its END. */
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key_pem },
		{ MHD_OPTION_END, 0, NULL },
	};

	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (h->tls_cert_pem != NULL)
		flags |= MHD_USE_TLS;
	/* The logger goes first so that MHD's start-up messages reach it. */
	return MHD_start_daemon(flags, 0, NULL, NULL, on_request, h,
	    MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h, MHD_OPTION_ARRAY,
	    h->tls_cert_pem != NULL ? tls : &tls[2], MHD_OPTION_SOCK_ADDR,
	    ai->ai_addr, MHD_OPTION_CONNECTION_LIMIT, h->src.max_connections,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->src.max_per_address,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MEMORY_LIMIT,
	    MHD_OPTION_UNESCAPE_CALLBACK, unescape, NULL,
	    MHD_OPTION_URI_LOG_CALLBACK, on_uri, NULL,
	    MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL, MHD_OPTION_END);
}

int
http_start(struct http **out, const char *url, const struct http_sources *src,
    char *errbuf, size_t errlen)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	struct http    *h;
	char            host[256], port[16];
	bool            tls;
	int             rv;

	*out = NULL;
	if (parse_url(url, host, sizeof(host), port, sizeof(port), &tls,
	        errbuf, errlen) != 0)
		return -1;
	if (tls && !MHD_is_feature_supported(MHD_FEATURE_TLS)) {
		snprintf(errbuf, errlen,
		    "--http %s: this libmicrohttpd was built without TLS",
		    url);
		return -1;
	}
	hints.ai_family   = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags    = AI_PASSIVE | AI_NUMERICSERV;
	if ((rv = getaddrinfo(
	         host[0] != '\0' ? host : NULL, port, &hints, &res)) != 0) {
		snprintf(
		    errbuf, errlen, "--http %s: %s", url, gai_strerror(rv));
		return -1;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		snprintf(errbuf, errlen, "--http: out of memory");
		freeaddrinfo(res);
		return -1;
	}
	h->src = *src;
	if (tls && (read_pem("--tls-cert", src->tls_cert, &h->tls_cert_pem,
	                errbuf, errlen) != 0 ||
	               read_pem("--tls-key", src->tls_key, &h->tls_key_pem,
	                   errbuf, errlen) != 0)) {
		free(h->tls_cert_pem);
		free(h);
		freeaddrinfo(res);
		return -1;
	}
	if (h->src.max_connections == 0)
		h->src.max_connections = HTTP_MAX_CONNECTIONS;
	if (h->src.max_per_address == 0)
		h->src.max_per_address = HTTP_MAX_PER_ADDRESS;
	pthread_mutex_init(&h->mu, NULL);
	pthread_cond_init(&h->idle, NULL);
	snprintf(h->start_err, sizeof(h->start_err), "cannot listen");
	/* MHD calls on_mhd_log() on this thread while it starts. */
	atomic_init(&h->starting, true);
	for (const struct addrinfo *ai = res; ai != NULL && h->daemon == NULL;
	     ai                        = ai->ai_next)
                if (ai->ai_family == AF_INET || ai->ai_family == AF_INET6)
                        h->daemon = daemon_start(h, ai);
	freeaddrinfo(res);
	if (h->daemon == NULL) {
		snprintf(errbuf, errlen, "--http %s: %s", url, h->start_err);
		pthread_cond_destroy(&h->idle);
		pthread_mutex_destroy(&h->mu);
		free(h->tls_cert_pem);
		free(h->tls_key_pem);
		free(h);
		return -1;
	}
	/* From here on MHD's thread logs instead of keeping the line. */
	atomic_store_explicit(&h->starting, false, memory_order_release);
	*out = h;
	return 0;
}

void
http_stop(struct http *h)
{
	if (h == NULL)
		return;
	/* Every call handed to the executors resumes its connection when
	 * answered, which needs the daemon: wait for them first.  The
	 * executors still run (server_stop() stops them after us), and
	 * every call ends by its deadline or its statement's. */
	pthread_mutex_lock(&h->mu);
	h->stopping = true;
	while (h->in_flight > 0)
		pthread_cond_wait(&h->idle, &h->mu);
	pthread_mutex_unlock(&h->mu);
	MHD_stop_daemon(h->daemon); /* joins its thread, closes every peer */
	pthread_cond_destroy(&h->idle);
	pthread_mutex_destroy(&h->mu);
	free(h->tls_cert_pem);
	free(h->tls_key_pem);
	free(h);
}
