/*
 * The transport: a REP socket and the worker pool, the only code that
 * speaks nng.
 *
 * Each worker owns one nng context, one aio and one per-worker state (a
 * database connection) and loops: receive -> handle -> send.  We block
 * the worker thread on its own aio (nng_aio_wait) instead of working in
 * nng's completion callbacks, because handling means a database round
 * trip and nng's callbacks must never block (see nng's demo/async).
 *
 * Shutdown drains: transport_stop() closes the listeners, then wakes only
 * the workers that are waiting for a request (a per-worker mutex makes
 * "is it waiting?" and "cancel its receive" one step, so a reply being
 * sent is never cancelled); busy workers finish, send their reply and see
 * the stop flag.  The mutex is never held across a database call.
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

#include "dispatch.h"
#include "log.h"
#include "transport_guard.h"

enum {
	IDLE_MS = 1000, /* receive timeout: housekeeping cadence */
	SEND_TIMEOUT_MS =
	    5000,             /* a REP send only queues; this is a backstop */
	DRAIN_GRACE_MS = 100, /* let queued replies reach the wire */
};

enum worker_phase {
	PHASE_STARTING, /* not yet receiving */
	PHASE_WAITING,  /* blocked in receive: may be cancelled on stop */
	PHASE_BUSY,     /* handling or replying: must not be cancelled */
	PHASE_DONE,
};

struct worker {
	struct transport *t;     /* back pointer */
	int               index; /* 0 .. nworkers-1, for logs */
	pthread_t         thread;
	bool              running; /* thread was started */
	nng_ctx           ctx;     /* this worker's REP context */
	nng_aio          *aio;     /* used for both receive and send */
	pthread_mutex_t   mtx;     /* guards phase against cancellation */
	enum worker_phase phase;
};

struct transport {
	nng_socket                  sock;
	nng_listener               *listeners; /* one per URL */
	char                      **urls;      /* owned, one per listener */
	int                         nlisteners;
	struct guard               *guard; /* ipc:// work-around, or NULL */
	struct worker              *workers;
	int                         nworkers;
	const struct transport_ops *ops;
	void                       *arg; /* for ops->worker_init */
	atomic_bool                 stopping;
};

/* Move to `next` unless stopping; returns false if the worker must exit. */
static bool
worker_enter(struct worker *w, enum worker_phase next)
{
	bool ok;

	pthread_mutex_lock(&w->mtx);
	ok       = !(next == PHASE_WAITING &&
               atomic_load_explicit(&w->t->stopping, memory_order_acquire));
	w->phase = ok ? next : PHASE_DONE;
	pthread_mutex_unlock(&w->mtx);
	return ok;
}

static void *
worker_main(void *arg)
{
	struct worker              *w   = arg;
	struct transport           *t   = w->t;
	const struct transport_ops *ops = t->ops;
	uint8_t                     reply[DISPATCH_REPLY_MAX];
	uint64_t                    last_idle = dispatch_now_ns();
	void                       *state;

	state = ops->worker_init(t->arg, w->index);
	if (state == NULL) {
		log_err("worker %d: could not initialise; it will not serve",
		    w->index);
		worker_enter(w, PHASE_DONE);
		return NULL;
	}

	while (worker_enter(w, PHASE_WAITING)) {
		nng_msg *msg;
		uint64_t now;
		size_t   n;
		int      rv;

		nng_aio_set_timeout(w->aio, IDLE_MS);
		nng_ctx_recv(w->ctx, w->aio);
		nng_aio_wait(w->aio);
		rv = nng_aio_result(w->aio);
		worker_enter(w, PHASE_BUSY);

		now = dispatch_now_ns();
		if (rv == NNG_ETIMEDOUT ||
		    now - last_idle > IDLE_MS * 1000000ull) {
			ops->idle(state);
			last_idle = now;
		}
		if (rv == NNG_ETIMEDOUT) {
			continue;
		}
		if (rv == NNG_ECLOSED || rv == NNG_ECANCELED) {
			break;
		}
		if (rv != 0) {
			log_warn("worker %d: receive failed: %s", w->index,
			    nng_strerror(rv));
			continue;
		}

		msg = nng_aio_get_msg(w->aio);
		n   = ops->handle(state, nng_msg_body(msg), nng_msg_len(msg),
		      now, reply, sizeof(reply));
		/* Reuse the request message: its header routes the reply. */
		nng_msg_clear(msg);
		if ((rv = nng_msg_append(msg, reply, n)) != 0) {
			log_err("worker %d: reply lost: %s", w->index,
			    nng_strerror(rv));
			nng_msg_free(msg);
			continue;
		}
		nng_aio_set_msg(w->aio, msg);
		nng_aio_set_timeout(w->aio, SEND_TIMEOUT_MS);
		nng_ctx_send(w->ctx, w->aio);
		nng_aio_wait(w->aio);
		if ((rv = nng_aio_result(w->aio)) != 0) {
			/* A failed send leaves the message with us. */
			nng_msg_free(nng_aio_get_msg(w->aio));
			log_debug("worker %d: reply not sent: %s", w->index,
			    nng_strerror(rv));
		}
	}
	worker_enter(w, PHASE_DONE);
	ops->worker_fini(state);
	return NULL;
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
	for (int i = 0; i < t->nworkers; i++) {
		struct worker *w = &t->workers[i];
		if (w->aio != NULL) {
			nng_aio_free(w->aio);
		}
		pthread_mutex_destroy(&w->mtx);
	}
	guard_free(t->guard);
	for (int i = 0; i < t->nlisteners; i++) {
		free(t->urls[i]);
	}
	free(t->urls);
	free(t->workers);
	free(t->listeners);
	free(t);
}

int
transport_start(struct transport **out, const char *urls, int workers,
    size_t max_frame, const struct transport_ops *ops, void *arg, char *errbuf,
    size_t errlen)
{
	struct transport *t;
	int               rv;

	if ((t = calloc(1, sizeof(*t))) == NULL ||
	    (t->workers = calloc((size_t)workers, sizeof(*t->workers))) ==
	        NULL) {
		free(t);
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	t->ops = ops;
	t->arg = arg;
	atomic_init(&t->stopping, false);

	if ((rv = nng_rep0_open(&t->sock)) != 0) {
		snprintf(errbuf, errlen, "cannot open REP socket: %s",
		    nng_strerror(rv));
		free(t->workers);
		free(t);
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
	for (int i = 0; i < workers; i++) {
		struct worker *w = &t->workers[i];
		w->t             = t;
		w->index         = i;
		w->phase         = PHASE_STARTING;
		pthread_mutex_init(&w->mtx, NULL);
		t->nworkers++;
		if ((rv = nng_ctx_open(&w->ctx, t->sock)) != 0 ||
		    (rv = nng_aio_alloc(&w->aio, NULL, NULL)) != 0) {
			snprintf(errbuf, errlen, "cannot create worker %d: %s",
			    i, nng_strerror(rv));
			goto out_close;
		}
	}
	if (listen_all(t, urls, errbuf, errlen) != 0) {
		goto out_close;
	}
	if (guard_start(&t->guard, t->sock, t->urls, t->listeners,
	        t->nlisteners) != 0) {
		snprintf(errbuf, errlen, "cannot start the listener guard");
		goto out_close;
	}
	for (int i = 0; i < workers; i++) {
		struct worker *w = &t->workers[i];
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
			snprintf(errbuf, errlen, "cannot start worker %d", i);
			transport_stop(t);
			return -1;
		}
		w->running = true;
	}
	*out = t;
	return 0;

out_close:
	nng_close(t->sock);
	transport_free(t);
	return -1;
}

void
transport_stop(struct transport *t)
{
	if (t == NULL) {
		return;
	}
	atomic_store_explicit(&t->stopping, true, memory_order_release);
	guard_stop(t->guard); /* it may replace listeners: stop it first */
	for (int i = 0; i < t->nlisteners; i++) {
		nng_listener_close(t->listeners[i]);
	}
	for (int i = 0; i < t->nworkers; i++) {
		struct worker *w = &t->workers[i];
		pthread_mutex_lock(&w->mtx);
		if (w->phase == PHASE_WAITING) {
			nng_aio_cancel(w->aio);
		}
		pthread_mutex_unlock(&w->mtx);
	}
	for (int i = 0; i < t->nworkers; i++) {
		if (t->workers[i].running) {
			pthread_join(t->workers[i].thread, NULL);
		}
	}
	/* nng has no linger: give replies just queued a moment to be
	 * written before the pipes close. */
	nng_msleep(DRAIN_GRACE_MS);
	nng_close(t->sock);
	transport_free(t);
	/* inventoryd runs one transport; release nng's global state so leak
	 * checkers see a clean exit. */
	nng_fini();
}
