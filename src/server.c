/* SPDX-License-Identifier: MIT */
/*
 * The request path (see server.h).
 *
 * A frame arrives on an nng callback thread (on_request): dispatch decodes
 * it and the calls that need the database go to the executors' queue, all
 * without blocking.  Whichever thread completes the frame's last call
 * (an executor, or the callback itself when nothing needed the database)
 * packs the reply and hands it to the transport (on_done).
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "core/dispatch.h"
#include "core/executor.h"
#include "net/connect.h"
#include "net/http.h"
#include "net/transport.h"
#include "ops/config.h"
#include "ops/ready.h"
#include "store/store.h"

enum {
	/* Frames in flight at once (nng contexts).  Each may carry up to
	 * DISPATCH_BATCH_MAX calls; beyond it, frames wait in nng. */
	SERVER_CONTEXTS = 256,
	/* The hard frame limit is twice --max-frame, at least this: a frame
	 * between the two gets a clear RESOURCE_EXHAUSTED, a larger one is
	 * not read (nng closes that connection).  nng allocates a frame as
	 * soon as its length arrives, so partly received frames hold at most
	 * (max_connections + SERVER_CONTEXTS) x the hard limit: with the
	 * defaults (1024, 65536) 1280 x 128 KiB = 160 MiB. */
	HARD_FRAME_FACTOR = 2,
	HARD_FRAME_MIN    = 128 << 10,
};

struct server {
	struct store_options opts; /* borrowed strings from the config */
	struct executor     *ex;
	struct transport    *t;
	struct ready        *ready; /* --http only: the readiness probe */
	struct http         *http;  /* --http only: the operator endpoint */
};

static void
on_done(struct frame *f, void *arg)
{
	struct transport_call *call = arg;
	uint8_t                scratch[DISPATCH_REPLY_MAX];
	ProtobufCBufferSimple  out = PROTOBUF_C_BUFFER_SIMPLE_INIT(scratch);

	dispatch_frame_pack(f, &out.base);
	dispatch_frame_free(f);
	transport_reply(call, out.data, out.len);
	PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&out);
}

static void
on_request(void *arg, struct transport_call *call, const uint8_t *buf,
    size_t len, uint64_t received_ns)
{
	struct server *s = arg;
	struct frame  *f;
	struct op     *pending;

	f = dispatch_frame_open(
	    buf, len, received_ns, on_done, call, &pending);
	if (f == NULL) {
		/* Out of memory: answer with what needs none. */
		static const uint8_t exhausted[] = { 0x08,
			CODE_RESOURCE_EXHAUSTED };
		transport_reply(call, exhausted, sizeof(exhausted));
		return;
	}
	if (dispatch_frame_trusted(f))
		transport_call_trust(call);
	executor_submit(s->ex, pending);
	dispatch_frame_release(f);
}

/* A Connect call from the HTTP endpoint (net/connect.h): its envelope
 * dispatched as a frame, its reply packed for http.c. */
struct server_http_call {
	http_call_done done;
	void          *arg;
};

static void
on_http_done(struct frame *f, void *arg)
{
	struct server_http_call *c = arg;
	uint8_t                  scratch[DISPATCH_REPLY_MAX];
	ProtobufCBufferSimple    out = PROTOBUF_C_BUFFER_SIMPLE_INIT(scratch);

	dispatch_frame_pack(f, &out.base);
	dispatch_frame_free(f);
	c->done(out.data, out.len, c->arg);
	PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&out);
	free(c);
}

static int
on_http_call(void *ctx, const uint8_t *env, size_t len, uint64_t received_ns,
    http_call_done done, void *arg)
{
	struct server           *s = ctx;
	struct server_http_call *c;
	struct frame            *f;
	struct op               *pending;

	if ((c = malloc(sizeof(*c))) == NULL)
		return -1;
	c->done = done;
	c->arg  = arg;
	f       = dispatch_frame_open(
	          env, len, received_ns, on_http_done, c, &pending);
	if (f == NULL) {
		free(c);
		return -1;
	}
	executor_submit(s->ex, pending);
	dispatch_frame_release(f);
	return 0;
}

/* A frame refused by the transport (its connection holds too many):
 * answered without decoding. */
static void
on_refuse(void *arg, struct transport_call *call, const char *why,
    uint64_t received_ns)
{
	uint8_t               scratch[256];
	ProtobufCBufferSimple out = PROTOBUF_C_BUFFER_SIMPLE_INIT(scratch);

	(void)arg;
	dispatch_refusal_pack(
	    CODE_RESOURCE_EXHAUSTED, why, received_ns, &out.base);
	transport_reply(call, out.data, out.len);
	PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&out);
}

static const struct transport_ops server_ops = {
	.request = on_request,
	.refuse  = on_refuse,
};

size_t
server_hard_frame(size_t max_frame)
{
	size_t hard = max_frame * HARD_FRAME_FACTOR;

	return hard > HARD_FRAME_MIN ? hard : HARD_FRAME_MIN;
}

/* --http: the readiness probe (its own connection), then the endpoint.
 * On failure nothing of either is left. */
static int
server_http_start(
    struct server *s, const struct config *cfg, char *errbuf, size_t errlen)
{
	struct http_sources src;

	if (ready_start(&s->ready, cfg->db) != 0) {
		snprintf(errbuf, errlen,
		    "--http: cannot start the readiness "
		    "probe");
		return -1;
	}
	src.ex              = s->ex;
	src.ready           = s->ready;
	src.call            = on_http_call;
	src.call_ctx        = s;
	src.max_body        = server_hard_frame(cfg->max_frame);
	src.tls_cert        = cfg->tls_cert;
	src.tls_key         = cfg->tls_key;
	src.max_connections = (unsigned)cfg->http_max_connections;
	src.max_per_address = (unsigned)cfg->http_max_conns_per_peer;
	if (http_start(&s->http, cfg->http, &src, errbuf, errlen) != 0) {
		ready_stop(s->ready);
		s->ready = NULL;
		return -1;
	}
	log_info("http: /metrics /healthz /readyz /debug/hot and Connect "
	         "calls (POST " CONNECT_PREFIX
	         "<Method>, GET for the reads) on %s",
	    cfg->http);
	return 0;
}

int
server_start(
    struct server **out, const struct config *cfg, char *errbuf, size_t errlen)
{
	struct server          *s;
	struct transport_limits lim;

	if (dispatch_check_table() != 0) {
		snprintf(errbuf, errlen, "the method table is out of step");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	s->opts.conninfo      = cfg->db;
	s->opts.request_ttl_s = cfg->request_ttl_s;
	/* Two limits: a request over max_frame gets a clear
	 * RESOURCE_EXHAUSTED reply; one over the hard limit is not even
	 * read (nng closes that connection), which caps memory per pipe. */
	dispatch_set_max_request(cfg->max_frame);
	dispatch_set_reply_limits(cfg->max_reply, cfg->reply_memory);
	lim.max_frame          = server_hard_frame(cfg->max_frame);
	lim.max_connections    = cfg->max_connections;
	lim.max_conns_per_peer = cfg->max_conns_per_peer;
	lim.idle_timeout_s     = cfg->idle_timeout_s;
	lim.tls_cert           = cfg->tls_cert;
	lim.tls_key            = cfg->tls_key;
	lim.tls_client_ca      = cfg->tls_client_ca;
	if (executor_start(&s->ex, cfg->workers, &s->opts) != 0) {
		snprintf(errbuf, errlen, "cannot start the executors");
		free(s);
		return -1;
	}
	executor_set_max_pending(s->ex, (size_t)cfg->max_pending);
	if (transport_start(&s->t, cfg->listen, SERVER_CONTEXTS, &lim,
	        &server_ops, s, errbuf, errlen) != 0)
		goto out_executor;
	if (cfg->http != NULL && cfg->http[0] != '\0' &&
	    server_http_start(s, cfg, errbuf, errlen) != 0)
		goto out_transport;
	*out = s;
	return 0;

out_transport:
	transport_stop(s->t);
out_executor:
	executor_stop(s->ex);
	free(s);
	return -1;
}

void
server_load(const struct server *s, size_t *queued, size_t *running)
{
	executor_load(s->ex, queued, running);
}

void
server_stop(struct server *s)
{
	if (s == NULL)
		return;
	http_stop(s->http); /* no scrape reads the executors any more */
	ready_stop(s->ready);
	transport_stop(s->t); /* every received frame answered */
	executor_stop(s->ex); /* nothing queued any more */
	free(s);
}
