/* SPDX-License-Identifier: MIT */
/*
 * watch: which of a handle's servers still answer, so that a silent one
 * (partitioned without a reset, a frozen host or process) does not hold
 * the frames nng hands to its connections until their deadlines.
 *
 * nng's REQ socket counts a connection as up until the kernel says
 * otherwise, which for a peer that just stops answering can take minutes;
 * meanwhile it keeps handing frames to it.  So each URL of a handle that
 * dials two or more gets a probe on a connection of its own (a REQ
 * socket with one dialer, the handle's TLS settings): an empty Request,
 * which inventoryd answers OK at once without the database (counted in
 * inventory_probes_total, apart from calls).  A URL whose probes go
 * unanswered `misses` times in a row is down: the handle's connections
 * to it are closed, and nng resends the frames they carried to the other
 * URLs (as when a server dies; pump.c).  A URL whose server still sends
 * (a reply reached the handle through one of its connections within the
 * last interval: a draining or busy server) is not silent and is never
 * taken down: nng 1.5.2 can leave a connection's receive pending for ever
 * when it is closed while data arrives on it (nanomsg/nng#1636, fixed in
 * 1.6), and its single reaper then blocks every later close, the
 * handle's nng_close() among them.  A silent server sends nothing, so
 * closing its connections is safe.  The first answer takes it back;
 * a connection that completes its handshake meanwhile is kept (the
 * server answered that much).  The last URL still up is never taken down: with
 * nowhere better to send, closing its connections would only add reconnects.
 *
 * Driven by each probe's aio callback (send, receive, sleep), no thread
 * of ours.  Connections are mapped to URLs by their dialer
 * (nng_pipe_dialer), from the pipe notifications dial.c receives.
 *
 * Invariants: w->mtx guards every URL's down flag, pipe set and up
 * count; it is never held across an nng call that may call back
 * (nng_pipe_close, aio operations).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "internal.h"
#include "watch.h"

/* Defaults: a server that goes silent is down 200-400 ms later (two
 * probes unanswered), a fifth of the 5 s partition partition-test.sh
 * holds it for at most; three misses at 250 ms (500-750 ms) kept only
 * 73-82 % of the writes through it.  A false down costs a reconnect
 * and a resend, and needs a server that sent nothing, neither a probe
 * answer nor a reply, for two intervals. */
#define WATCH_INTERVAL_MS 200 /* default: a probe this often (ms) */
#define WATCH_MISSES      2   /* default: down after this many misses */
#define WATCH_PIPES_INIT  4   /* first capacity of a URL's pipe set */

enum probe_step {
	PROBE_SEND,  /* the probe is being sent (or waits for a pipe) */
	PROBE_RECV,  /* waiting for its answer */
	PROBE_SLEEP, /* until the next one (the timer) */
};

struct watch_url {
	struct watch   *w;
	char           *url;
	nng_tls_config *tls;   /* held; NULL: not tls+tcp:// */
	size_t          first; /* the handle's dialers of this URL: */
	size_t          n;     /* c->dialers[first .. first + n) */
	nng_socket      sock;  /* the probe's own REQ socket */
	bool            open;  /* sock is open */
	nng_aio        *aio;   /* the probe's send and receive: probe_cb */
	nng_aio        *timer; /* the wait between probes: timer_cb.  Its
	                        * own aio: nng 1.5.2 leaves an aio that has
	                        * slept reporting a later timeout as success
	                        * (a_expire_ok is never reset), which made a
	                        * silent server look alive */
	enum probe_step  step; /* only the callbacks change it */
	nng_time         sent; /* when the probe in flight left */
	int              misses;
	_Atomic nng_time heard; /* the last reply through one of the
	                         * handle's connections to it */
	/* Under w->mtx: */
	bool      down;
	uint32_t *pipes; /* the handle's connections to it now */
	size_t    npipes, cap;
};

struct watch {
	inventory_client *c;
	pthread_mutex_t   mtx;
	nng_duration      interval;
	int               misses;
	struct watch_url *urls;
	size_t            nurls;
	size_t            nup;      /* URLs not down (under mtx) */
	atomic_bool       stopping; /* close: no further step */
};

int
watch_create(inventory_client *c, const inventory_client_opts *o)
{
	struct watch *w;

	if (o->probe_interval_ms < 0)
		return 0; /* no probes (see client.h) */
	if ((w = calloc(1, sizeof(*w))) == NULL)
		return -1;
	w->c        = c;
	w->interval = o->probe_interval_ms > 0 ? o->probe_interval_ms
	                                       : WATCH_INTERVAL_MS;
	w->misses   = o->probe_misses > 0 ? o->probe_misses : WATCH_MISSES;
	pthread_mutex_init(&w->mtx, NULL);
	atomic_init(&w->stopping, false);
	c->watch = w;
	return 0;
}

int
watch_add_url(inventory_client *c, const char *url, nng_tls_config *tls,
    size_t first, size_t n)
{
	struct watch     *w = c->watch;
	struct watch_url *grown, *u;

	if (w == NULL)
		return 0;
	grown = realloc(w->urls, (w->nurls + 1) * sizeof(*w->urls));
	if (grown == NULL)
		return -1;
	w->urls = grown;
	u       = &w->urls[w->nurls];
	memset(u, 0, sizeof(*u));
	atomic_init(&u->heard, 0);
	if ((u->url = strdup(url)) == NULL)
		return -1;
	if (tls != NULL) {
		nng_tls_config_hold(tls);
		u->tls = tls;
	}
	u->w     = w;
	u->first = first;
	u->n     = n;
	w->nurls++;
	w->nup++;
	return 0;
}

/* ---- the probe --------------------------------------------------------
 */

static void probe_cb(void *arg);

/* Send the next probe: an empty Request, with the handle's token so that
 * a server run with --auth-file counts the connection as a caller's. */
static void
probe_send(struct watch_url *u)
{
	inventory_client *c = u->w->c;
	nng_msg          *m = NULL;

	if (nng_msg_alloc(&m, 0) != 0 ||
	    (c->token_field != NULL &&
	        nng_msg_append(m, c->token_field, c->token_field_len) != 0)) {
		/* Out of memory: try again after an interval, as a miss. */
		if (m != NULL)
			nng_msg_free(m);
		u->step = PROBE_SLEEP;
		u->misses++;
		nng_sleep_aio(u->w->interval, u->timer);
		return;
	}
	u->step = PROBE_SEND;
	u->sent = nng_clock();
	nng_aio_set_msg(u->aio, m);
	nng_aio_set_timeout(u->aio, u->w->interval);
	nng_send_aio(u->sock, u->aio);
}

/* u answered (alive) or missed again: take it back, or down.  A URL
 * whose connections delivered a reply within the interval answered. */
static void
probe_judge(struct watch_url *u, bool answered)
{
	struct watch *w      = u->w;
	uint32_t     *close  = NULL;
	size_t        nclose = 0;

	if (!answered &&
	    nng_clock() - atomic_load(&u->heard) < (nng_time)w->interval)
		answered = true;
	u->misses = answered ? 0 : u->misses + 1;
	pthread_mutex_lock(&w->mtx);
	if (answered && u->down) {
		u->down = false;
		w->nup++;
	} else if (!answered && !u->down && u->misses >= w->misses &&
	           w->nup > 1) {
		u->down = true;
		w->nup--;
		/* Closed outside the lock: the pipe's removal calls back. */
		if (u->npipes > 0 &&
		    (close = malloc(u->npipes * sizeof(*close))) != NULL) {
			memcpy(close, u->pipes, u->npipes * sizeof(*close));
			nclose = u->npipes;
		}
	}
	pthread_mutex_unlock(&w->mtx);
	for (size_t i = 0; i < nclose; i++) {
		nng_pipe p = NNG_PIPE_INITIALIZER;

		p.id = close[i];
		(void)nng_pipe_close(p); /* nng resends its frames */
	}
	free(close);
}

/* Free the message u's aio holds, if any, and forget it: a send that
 * failed leaves ours there, a receive leaves the answer. */
static void
probe_msg_drop(struct watch_url *u)
{
	nng_msg *m = nng_aio_get_msg(u->aio);

	if (m != NULL)
		nng_msg_free(m);
	nng_aio_set_msg(u->aio, NULL);
}

/* Wait for the rest of the interval since the probe left. */
static void
probe_wait(struct watch_url *u)
{
	nng_duration left =
	    u->w->interval - (nng_duration)(nng_clock() - u->sent);

	u->step = PROBE_SLEEP;
	nng_sleep_aio(left > 0 ? left : 0, u->timer);
}

static void
probe_cb(void *arg)
{
	struct watch_url *u = arg;
	int               rv;
	nng_duration      left;

	if (atomic_load(&u->w->stopping))
		return;
	rv = nng_aio_result(u->aio);
	if (u->step == PROBE_SEND && rv == 0) {
		left = u->w->interval - (nng_duration)(nng_clock() - u->sent);
		u->step = PROBE_RECV;
		nng_aio_set_timeout(u->aio, left > 1 ? left : 1);
		nng_recv_aio(u->sock, u->aio);
		return;
	}
	/* The answer, or ours unsent; none after a failed receive. */
	if (rv == 0 || u->step == PROBE_SEND)
		probe_msg_drop(u);
	/* Answered, or no connection took it or no answer came in time. */
	probe_judge(u, rv == 0);
	probe_wait(u);
}

static void
timer_cb(void *arg)
{
	struct watch_url *u = arg;

	if (atomic_load(&u->w->stopping) || nng_aio_result(u->timer) != 0)
		return;
	probe_send(u);
}

/* Open u's probe socket and dialer (non-blocking: it redials by itself)
 * and send the first probe.  Without them u is simply never judged. */
static void
probe_start(struct watch_url *u)
{
	nng_dialer d;

	if (nng_req0_open(&u->sock) != 0)
		return;
	u->open = true;
	/* One probe at a time, never resent by nng: a lost one is a miss. */
	(void)nng_socket_set_ms(
	    u->sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	(void)nng_socket_set_ms(u->sock, NNG_OPT_RECONNMINT, 50);
	(void)nng_socket_set_ms(u->sock, NNG_OPT_RECONNMAXT, 1000);
	if (nng_dialer_create(&d, u->sock, u->url) != 0 ||
	    (u->tls != NULL &&
	        nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, u->tls) != 0) ||
	    nng_dialer_start(d, NNG_FLAG_NONBLOCK) != 0 ||
	    nng_aio_alloc(&u->aio, probe_cb, u) != 0)
		return;
	if (nng_aio_alloc(&u->timer, timer_cb, u) != 0) {
		nng_aio_free(u->aio);
		u->aio = NULL;
		return;
	}
	probe_send(u);
}

void
watch_start(inventory_client *c)
{
	struct watch *w = c->watch;

	if (w == NULL || w->nurls < 2)
		return; /* one URL: nowhere else to send its frames */
	for (size_t i = 0; i < w->nurls; i++)
		probe_start(&w->urls[i]);
}

void
watch_stop(inventory_client *c)
{
	struct watch *w = c->watch;

	if (w == NULL)
		return;
	atomic_store(&w->stopping, true);
	for (size_t i = 0; i < w->nurls; i++) {
		struct watch_url *u = &w->urls[i];

		if (u->aio != NULL) /* each waits for its callback */
			nng_aio_stop(u->aio);
		if (u->timer != NULL)
			nng_aio_stop(u->timer);
		if (u->open) {
			nng_close(u->sock);
			u->open = false;
		}
	}
}

void
watch_free(inventory_client *c)
{
	struct watch *w = c->watch;

	if (w == NULL)
		return;
	watch_stop(c);
	for (size_t i = 0; i < w->nurls; i++) {
		struct watch_url *u = &w->urls[i];

		if (u->aio != NULL) {
			/* A probe the close caught unsent (its send refused
			 * on the stopped aio) is still ours. */
			probe_msg_drop(u);
			nng_aio_free(u->aio);
		}
		if (u->timer != NULL)
			nng_aio_free(u->timer);
		if (u->tls != NULL)
			nng_tls_config_free(u->tls);
		free(u->pipes);
		free(u->url);
	}
	free(w->urls);
	pthread_mutex_destroy(&w->mtx);
	free(w);
	c->watch = NULL;
}

/* ---- the handle's connections -----------------------------------------
 */

/* Room for one more connection in u's set; false when out of memory
 * (that connection is then left open if u goes down). */
static bool
pipes_grow(struct watch_url *u)
{
	size_t    cap = u->cap > 0 ? u->cap * 2 : WATCH_PIPES_INIT;
	uint32_t *grown;

	if ((grown = realloc(u->pipes, cap * sizeof(*grown))) == NULL)
		return false;
	u->pipes = grown;
	u->cap   = cap;
	return true;
}

/* The URL whose dialer made p, or NULL. */
static struct watch_url *
url_of(struct watch *w, nng_pipe p)
{
	nng_dialer        d  = nng_pipe_dialer(p);
	inventory_client *c  = w->c;
	int               id = nng_dialer_id(d);

	if (id <= 0)
		return NULL;
	for (size_t i = 0; i < w->nurls; i++) {
		struct watch_url *u = &w->urls[i];

		for (size_t k = u->first; k < u->first + u->n; k++)
			if (nng_dialer_id(c->dialers[k]) == id)
				return u;
	}
	return NULL;
}

void
watch_heard(inventory_client *c, nng_pipe p)
{
	struct watch     *w = c->watch;
	struct watch_url *u;

	if (w == NULL || w->nurls < 2 || (u = url_of(w, p)) == NULL)
		return;
	atomic_store(&u->heard, nng_clock());
}

void
watch_pipe_event(inventory_client *c, nng_pipe p, nng_pipe_ev ev)
{
	struct watch     *w = c->watch;
	struct watch_url *u;
	uint32_t          id = (uint32_t)nng_pipe_id(p);

	if (w == NULL || w->nurls < 2 || (u = url_of(w, p)) == NULL)
		return;
	pthread_mutex_lock(&w->mtx);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		/* Kept even while u is down: its server just completed a
		 * handshake, so it answers again; the probe will say.
		 * Closing it at once would be a peer leaving right after
		 * the handshake, which can wedge an nng 1.5.2 server
		 * (nanomsg/nng#1518). */
		if (u->npipes < u->cap || pipes_grow(u))
			u->pipes[u->npipes++] = id;
	} else {
		for (size_t i = 0; i < u->npipes; i++) {
			if (u->pipes[i] == id) {
				u->pipes[i] = u->pipes[--u->npipes];
				break;
			}
		}
	}
	pthread_mutex_unlock(&w->mtx);
}
