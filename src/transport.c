/*
 * The transport: a REP socket and its contexts, the only code that speaks
 * nng (with the listener guard).
 *
 * Each context cycles receive -> (the request path runs) -> send ->
 * receive, driven by its aio's completion callback.  Callbacks never
 * block: the request path only decodes and queues (dispatch, executors),
 * and the reply comes back through transport_reply() from whichever
 * thread finished the frame, which just starts an asynchronous send.  So
 * no thread of ours waits on nng, and nng's threads never wait on the
 * database.
 *
 * Drain: transport_stop() cancels the contexts that are waiting for a
 * request (a mutex makes "is it waiting?" and "cancel it" one step), lets
 * every context that holds a frame answer it, and only then closes the
 * socket: closing the listeners first would close the connections they
 * accepted and drop replies of committed writes (nng 1.5.2).  Each
 * context has its own mutex (so contexts never contend with each other),
 * held only to change its state, never across I/O; the transport's mutex
 * is taken only by the drain.
 */
#include "transport.h"

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/supplemental/util/platform.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "transport_guard.h"

enum {
	SEND_TIMEOUT_MS = 5000, /* a REP send only queues; a backstop */
	DRAIN_GRACE_MS  = 100,  /* let queued replies reach the wire */
};

enum call_state {
	CALL_RECEIVING, /* waiting for a frame: may be cancelled on stop */
	CALL_BUSY,      /* a frame is being handled: its reply will come */
	CALL_SENDING,   /* the reply is with nng */
	CALL_DONE,      /* stopped */
};

/* One context; "call" because it holds one frame at a time. */
struct transport_call {
	struct transport *t;
	nng_ctx           ctx;
	nng_aio          *aio; /* receive and send, callback call_cb */
	nng_msg          *msg; /* the frame being handled; reused to reply */
	pthread_mutex_t   mtx;   /* guards state */
	enum call_state   state;
};

struct transport {
	nng_socket                  sock;
	nng_listener               *listeners; /* one per URL */
	char                      **urls;      /* owned, one per listener */
	int                         nlisteners;
	struct guard               *guard; /* ipc:// work-around, or NULL */
	struct transport_call      *calls;
	int                         ncalls;
	atomic_int                  active; /* calls not CALL_DONE */
	atomic_bool                 stopping;
	pthread_mutex_t             mtx;  /* with idle: the drain's wait */
	pthread_cond_t              idle; /* active reached 0 */
	const struct transport_ops *ops;
	void                       *arg; /* for ops->request */
};

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Under c->mtx: receive again, or stop if the transport is stopping.
 * The stop flag is read under the same mutex the drain takes to cancel a
 * receiving context, so no receive is posted after the drain looked. */
static void
call_rearm_locked(struct transport_call *c)
{
	struct transport *t = c->t;

	if (atomic_load(&t->stopping)) {
		c->state = CALL_DONE;
		if (atomic_fetch_sub(&t->active, 1) == 1) {
			pthread_mutex_lock(&t->mtx);
			pthread_cond_broadcast(&t->idle);
			pthread_mutex_unlock(&t->mtx);
		}
		return;
	}
	c->state = CALL_RECEIVING;
	nng_aio_set_timeout(c->aio, NNG_DURATION_INFINITE);
	nng_ctx_recv(c->ctx, c->aio);
}

static void
call_rearm(struct transport_call *c)
{
	pthread_mutex_lock(&c->mtx);
	call_rearm_locked(c);
	pthread_mutex_unlock(&c->mtx);
}

static void
call_received(struct transport_call *c, int rv)
{
	struct transport *t = c->t;

	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
		atomic_store(&t->stopping, true); /* closed: do not re-arm */
		call_rearm(c);
		return;
	}
	if (rv != 0) {
		log_warn("transport: receive failed: %s", nng_strerror(rv));
		call_rearm(c);
		return;
	}
	c->msg = nng_aio_get_msg(c->aio);
	pthread_mutex_lock(&c->mtx);
	c->state = CALL_BUSY;
	pthread_mutex_unlock(&c->mtx);
	t->ops->request(t->arg, c, nng_msg_body(c->msg), nng_msg_len(c->msg),
	    now_ns());
}

static void
call_sent(struct transport_call *c, int rv)
{
	if (rv != 0) {
		/* A failed send leaves the message with us. */
		nng_msg_free(nng_aio_get_msg(c->aio));
		log_debug("transport: reply not sent: %s", nng_strerror(rv));
	}
	call_rearm(c);
}

static void
call_cb(void *arg)
{
	struct transport_call *c  = arg;
	int                    rv = nng_aio_result(c->aio);
	enum call_state        state;

	pthread_mutex_lock(&c->mtx);
	state = c->state;
	pthread_mutex_unlock(&c->mtx);
	if (state == CALL_SENDING)
		call_sent(c, rv);
	else
		call_received(c, rv);
}

void
transport_reply(struct transport_call *c, const uint8_t *buf, size_t len)
{
	nng_msg *msg = c->msg;
	int      rv;

	c->msg = NULL;
	/* Reuse the request's message: the context routes the reply. */
	nng_msg_clear(msg);
	if ((rv = nng_msg_append(msg, buf, len)) != 0) {
		log_err("transport: reply lost: %s", nng_strerror(rv));
		nng_msg_free(msg);
		call_rearm(c);
		return;
	}
	pthread_mutex_lock(&c->mtx);
	c->state = CALL_SENDING;
	pthread_mutex_unlock(&c->mtx);
	nng_aio_set_msg(c->aio, msg);
	nng_aio_set_timeout(c->aio, SEND_TIMEOUT_MS);
	nng_ctx_send(c->ctx, c->aio);
}

static int
listen_all(struct transport *t, const char *urls, char *errbuf, size_t errlen)
{
	char *copy, *save = NULL, *url;
	int   rv = 0, count = 1;

	for (const char *p = urls; *p != '\0'; p++) {
		count += *p == ',';
	}
	if ((copy = strdup(urls)) == NULL ||
	    (t->listeners = calloc((size_t)count, sizeof(nng_listener))) ==
	        NULL ||
	    (t->urls = calloc((size_t)count, sizeof(char *))) == NULL) {
		free(copy);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	for (url = strtok_r(copy, ",", &save); url != NULL;
	     url = strtok_r(NULL, ",", &save)) {
		while (*url == ' ') {
			url++;
		}
		if (*url == '\0') {
			continue;
		}
		if ((t->urls[t->nlisteners] = strdup(url)) == NULL) {
			snprintf(errbuf, errlen, "out of memory");
			rv = NNG_ENOMEM;
			break;
		}
		rv = nng_listen(t->sock, url, &t->listeners[t->nlisteners], 0);
		if (rv != 0) {
			snprintf(errbuf, errlen, "cannot listen on %s: %s",
			    url, nng_strerror(rv));
			free(t->urls[t->nlisteners]);
			t->urls[t->nlisteners] = NULL;
			break;
		}
		t->nlisteners++;
	}
	free(copy);
	if (rv == 0 && t->nlisteners == 0) {
		snprintf(errbuf, errlen, "no URL to listen on");
		return -1;
	}
	return rv == 0 ? 0 : -1;
}

static void
transport_free(struct transport *t)
{
	for (int i = 0; i < t->ncalls; i++) {
		nng_aio_free(t->calls[i].aio);
		pthread_mutex_destroy(&t->calls[i].mtx);
	}
	guard_free(t->guard);
	for (int i = 0; i < t->nlisteners; i++)
		free(t->urls[i]);
	pthread_cond_destroy(&t->idle);
	pthread_mutex_destroy(&t->mtx);
	free(t->urls);
	free(t->calls);
	free(t->listeners);
	free(t);
}

int
transport_start(struct transport **out, const char *urls, int contexts,
    size_t max_frame, const struct transport_ops *ops, void *arg, char *errbuf,
    size_t errlen)
{
	struct transport *t;
	int               rv;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->calls = calloc((size_t)contexts, sizeof(*t->calls))) ==
	        NULL) {
		free(t);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	t->ops = ops;
	t->arg = arg;
	pthread_mutex_init(&t->mtx, NULL);
	pthread_cond_init(&t->idle, NULL);

	if ((rv = nng_rep0_open(&t->sock)) != 0) {
		snprintf(errbuf, errlen, "cannot open REP socket: %s",
		    nng_strerror(rv));
		transport_free(t);
		return -1;
	}
	/* nng accepts frames of any size unless told otherwise: set the cap
	 * before the first listener exists. */
	if ((rv = nng_socket_set_size(
	         t->sock, NNG_OPT_RECVMAXSZ, max_frame)) != 0) {
		snprintf(errbuf, errlen, "cannot set receive limit: %s",
		    nng_strerror(rv));
		goto out_close;
	}
	for (int i = 0; i < contexts; i++) {
		struct transport_call *c = &t->calls[i];

		c->t = t;
		pthread_mutex_init(&c->mtx, NULL);
		t->ncalls++;
		if ((rv = nng_aio_alloc(&c->aio, call_cb, c)) != 0)
			goto out_ctx;
		if ((rv = nng_ctx_open(&c->ctx, t->sock)) != 0)
			goto out_ctx;
	}
	if (listen_all(t, urls, errbuf, errlen) != 0)
		goto out_close;
	if (guard_start(&t->guard, t->sock, t->urls, t->listeners,
	        t->nlisteners) != 0) {
		snprintf(errbuf, errlen, "cannot start the listener guard");
		goto out_close;
	}
	atomic_store(&t->active, t->ncalls);
	for (int i = 0; i < t->ncalls; i++)
		call_rearm(&t->calls[i]);
	*out = t;
	return 0;

out_ctx:
	snprintf(errbuf, errlen, "cannot create context: %s", nng_strerror(rv));
out_close:
	nng_close(t->sock);
	transport_free(t);
	return -1;
}

void
transport_stop(struct transport *t)
{
	if (t == NULL)
		return;
	guard_stop(t->guard); /* it may replace listeners: stop it first */
	atomic_store(&t->stopping, true);
	for (int i = 0; i < t->ncalls; i++) {
		struct transport_call *c = &t->calls[i];

		pthread_mutex_lock(&c->mtx);
		if (c->state == CALL_RECEIVING)
			nng_aio_cancel(c->aio);
		pthread_mutex_unlock(&c->mtx);
	}
	pthread_mutex_lock(&t->mtx);
	while (atomic_load(&t->active) > 0)
		pthread_cond_wait(&t->idle, &t->mtx);
	pthread_mutex_unlock(&t->mtx);
	/* nng has no linger: give the replies just queued a moment to be
	 * written before the pipes close. */
	nng_msleep(DRAIN_GRACE_MS);
	nng_close(t->sock);
	transport_free(t);
	/* inventoryd runs one transport; release nng's global state so leak
	 * checkers see a clean exit. */
	nng_fini();
}
