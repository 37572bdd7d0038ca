/*
 * The listener guard (see transport_guard.h for why it exists).
 *
 * Invariants: only the guard's thread replaces elements of listeners[]
 * while it runs; the pipe-notify callback reads listener ids from an
 * atomic copy, so it never sees a half-written nng_listener; a listener is
 * re-created only on positive evidence (the handshake completed, yet no
 * pipe was attached within the wait), never because a probe could not
 * connect, so a loaded server is left alone.
 */
#include "transport_guard.h"

#include <nng/supplemental/util/platform.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

enum {
	PROBE_PERIOD_MS = 1000, /* between two rounds of probes */
	PROBE_IO_MS     = 1000, /* connect/handshake read timeout */
	ATTACH_WAIT_MS  = 500,  /* how long a pipe may take to attach */
	ATTACH_POLL_MS  = 5,
};

struct guarded {
	int         index;    /* in listeners[] */
	const char *path;     /* the ipc:// URL's file name */
	atomic_int  id;       /* nng_listener_id of listeners[index] */
	atomic_uint attached; /* pipes attached through this listener */
};

struct guard {
	nng_socket      sock;
	char *const    *urls;      /* borrowed from the transport */
	nng_listener   *listeners; /* borrowed; elements may be replaced */
	struct guarded *g;         /* the ipc:// listeners */
	int             ng;
	pthread_t       thread;
	pthread_mutex_t mtx; /* guards stopping, for the condition */
	pthread_cond_t  cv;  /* wakes the thread early on stop */
	bool            stopping;
};

/* nng calls this on its own thread after a pipe joins the socket. */
static void
on_pipe_attached(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct guard *gd = arg;
	int           id = nng_listener_id(nng_pipe_listener(p));

	(void)ev;
	for (int i = 0; i < gd->ng; i++) {
		if (atomic_load(&gd->g[i].id) == id) {
			atomic_fetch_add(&gd->g[i].attached, 1);
		}
	}
}

/* One probe: true if the listener completed a handshake but attached no
 * pipe (the wedge); false if healthy or if the probe was inconclusive. */
static bool
probe_wedged(struct guarded *l)
{
	/* The SP header of a REQ (protocol 0x30) peer. */
	static const unsigned char hello[8] = { 0, 'S', 'P', 0, 0, 0x30, 0,
		0 };
	struct sockaddr_un         sa       = { .sun_family = AF_UNIX };
	struct timeval             tv       = { PROBE_IO_MS / 1000,
		                  (PROBE_IO_MS % 1000) * 1000L };
	unsigned char              reply[8];
	unsigned                   before;
	bool                       wedged = false;
	int                        fd;

	if (strlen(l->path) >= sizeof(sa.sun_path) ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		return false;
	}
	memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	before = atomic_load(&l->attached);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    send(fd, hello, sizeof(hello), MSG_NOSIGNAL) != sizeof(hello) ||
	    recv(fd, reply, sizeof(reply), MSG_WAITALL) != sizeof(reply) ||
	    reply[1] != 'S' || reply[2] != 'P') {
		goto out_close;
	}
	wedged = true;
	for (int waited = 0; waited < ATTACH_WAIT_MS;
	     waited += ATTACH_POLL_MS) {
		if (atomic_load(&l->attached) != before) {
			wedged = false;
			break;
		}
		nng_msleep(ATTACH_POLL_MS);
	}
out_close:
	close(fd);
	return wedged;
}

static void
relisten(struct guard *gd, struct guarded *l)
{
	const char  *url = gd->urls[l->index];
	nng_listener fresh;
	int          rv;

	log_warn("listener %s stopped attaching connections (nng#1518); "
	         "listening again",
	    url);
	nng_listener_close(gd->listeners[l->index]);
	if ((rv = nng_listen(gd->sock, url, &fresh, 0)) != 0) {
		log_err("cannot listen again on %s: %s; will retry", url,
		    nng_strerror(rv));
		atomic_store(&l->id, -1);
		return;
	}
	gd->listeners[l->index] = fresh;
	atomic_store(&l->id, nng_listener_id(fresh));
}

static void *
guard_main(void *arg)
{
	struct guard   *gd = arg;
	struct timespec until;

	pthread_mutex_lock(&gd->mtx);
	while (!gd->stopping) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += PROBE_PERIOD_MS / 1000;
		pthread_cond_timedwait(&gd->cv, &gd->mtx, &until);
		if (gd->stopping) {
			break;
		}
		pthread_mutex_unlock(&gd->mtx);
		for (int i = 0; i < gd->ng; i++) {
			if (atomic_load(&gd->g[i].id) < 0 ||
			    probe_wedged(&gd->g[i])) {
				relisten(gd, &gd->g[i]);
			}
		}
		pthread_mutex_lock(&gd->mtx);
	}
	pthread_mutex_unlock(&gd->mtx);
	return NULL;
}

int
guard_start(struct guard **out, nng_socket sock, char *const *urls,
    nng_listener *listeners, int n)
{
	struct guard *gd;

	*out = NULL;
	if ((gd = calloc(1, sizeof(*gd))) == NULL ||
	    (gd->g = calloc((size_t)n + 1, sizeof(*gd->g))) == NULL) {
		free(gd);
		return -1;
	}
	gd->sock      = sock;
	gd->urls      = urls;
	gd->listeners = listeners;
	for (int i = 0; i < n; i++) {
		if (strncmp(urls[i], "ipc://", 6) == 0) {
			struct guarded *l = &gd->g[gd->ng++];
			l->index          = i;
			l->path           = urls[i] + 6;
			atomic_init(&l->id, nng_listener_id(listeners[i]));
			atomic_init(&l->attached, 0);
		}
	}
	if (gd->ng == 0) {
		free(gd->g);
		free(gd);
		return 0; /* nothing to guard: *out stays NULL */
	}
	pthread_mutex_init(&gd->mtx, NULL);
	pthread_cond_init(&gd->cv, NULL);
	if (nng_pipe_notify(
	        sock, NNG_PIPE_EV_ADD_POST, on_pipe_attached, gd) != 0 ||
	    pthread_create(&gd->thread, NULL, guard_main, gd) != 0) {
		(void)nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, NULL, NULL);
		pthread_cond_destroy(&gd->cv);
		pthread_mutex_destroy(&gd->mtx);
		free(gd->g);
		free(gd);
		return -1;
	}
	*out = gd;
	return 0;
}

void
guard_stop(struct guard *gd)
{
	if (gd == NULL) {
		return;
	}
	pthread_mutex_lock(&gd->mtx);
	gd->stopping = true;
	pthread_cond_signal(&gd->cv);
	pthread_mutex_unlock(&gd->mtx);
	pthread_join(gd->thread, NULL);
}

void
guard_free(struct guard *gd)
{
	if (gd == NULL) {
		return;
	}
	pthread_cond_destroy(&gd->cv);
	pthread_mutex_destroy(&gd->mtx);
	free(gd->g);
	free(gd);
}
