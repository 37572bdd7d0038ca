/* SPDX-License-Identifier: MIT */
/*
 * The transport: the only module of inventoryd that includes <nng/nng.h>
 * (with transport_guard.c).
 *
 * One REP socket listens on every configured URL.  A fixed pool of nng
 * contexts receive requests; each completes in nng's callbacks, which
 * never block: a received frame is handed to ops->request on nng's
 * thread, and its reply, given later from any thread with
 * transport_reply(), is sent without waiting.  The number of contexts
 * bounds the frames in flight; one connection holds at most a few of
 * them (beyond, its frames are refused, then it is closed), and one that
 * does not read its replies is closed.  At most max_connections are
 * served at once.  The receive size limit is set before listening, so
 * memory held by partly received frames is at most (connections +
 * contexts) x max_frame.
 */
#ifndef INVENTORY_TRANSPORT_H
#define INVENTORY_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

struct transport;
struct transport_call; /* one received frame awaiting its reply */

struct transport_ops {
	/* A frame of len bytes arrived at received_ns (CLOCK_MONOTONIC).
	 * buf is valid only during the call.  Must not block; must lead to
	 * exactly one transport_reply(call, ...), from any thread. */
	void (*request)(void *arg, struct transport_call *call,
	    const uint8_t *buf, size_t len, uint64_t received_ns);
	/* A frame arrived on a connection that already holds its share of
	 * the contexts: answer it at once (RESOURCE_EXHAUSTED, `why`), with
	 * exactly one transport_reply(call, ...).  Must not block. */
	void (*refuse)(void *arg, struct transport_call *call, const char *why,
	    uint64_t received_ns);
};

struct transport_limits {
	size_t max_frame;          /* frames over it close their connection */
	int    max_connections;    /* newer connections are closed at once */
	int    max_conns_per_peer; /* of them from one address */
	int    idle_timeout_s;     /* untrusted connections end after it */
	/* TLS for tls+tcp:// URLs (PEM files; NULL or "": none).  A
	 * tls+tcp:// URL without cert and key is refused at start. */
	const char *tls_cert;      /* certificate (chain) */
	const char *tls_key;       /* its private key */
	const char *tls_client_ca; /* require client certificates it signed */
};

/* Listen on urls (comma-separated) with `contexts` receiving contexts.
 * Returns 0, or -1 with a reason in errbuf (nothing left running). */
int transport_start(struct transport **out, const char *urls, int contexts,
    const struct transport_limits *lim, const struct transport_ops *ops,
    void *arg, char *errbuf, size_t errlen);

/* A call of this frame got past the token check (always, without
 * --auth-file): its connection belongs to a caller and keeps its slot
 * when the slots run out or it falls idle.  Call before the reply. */
void transport_call_trust(struct transport_call *call);

/* Send the reply to call (len bytes, copied) and make its context receive
 * again.  Never blocks; thread-safe; exactly once per call. */
void transport_reply(
    struct transport_call *call, const uint8_t *buf, size_t len);

/* Drain and stop: stop receiving, wait until every frame received has
 * been answered and its reply handed to nng (connections stay open
 * meanwhile, so no reply is lost to a closed pipe), give the replies a
 * moment to reach the wire, then close the socket and free.  Each wait
 * is bounded (10 s), so it always returns.  NULL is a no-op. */
void transport_stop(struct transport *t);

#endif
