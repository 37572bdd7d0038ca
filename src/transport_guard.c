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
#include <stdio.h>
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
	const char *path;     /* the ipc:// URL's file name, or NULL */
	char       *probe;    /* tls+tcp://: the URL the probe dials */
	atomic_int  id;       /* nng_listener_id of listeners[index] */
	atomic_uint attached; /* pipes attached through this listener */
};

struct guard {
	nng_socket      sock;
	char *const    *urls;      /* borrowed from the transport */
	nng_listener   *listeners; /* borrowed; elements may be replaced */
	struct guarded *g;         /* the ipc:// and tls+tcp:// listeners */
	int             ng;
	nng_tls_config *tls;       /* the listeners' (held), or NULL */
	nng_tls_config *probe_tls; /* the probe's: no verification */
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

/* The SP header of a REQ (protocol 0x30) peer. */
static const unsigned char sp_hello[8] = { 0, 'S', 'P', 0, 0, 0x30, 0, 0 };

/* After a completed handshake: true if no pipe attached through l within
 * the wait (the wedge). */
static bool
attach_missed(struct guarded *l, unsigned before)
{
	for (int waited = 0; waited < ATTACH_WAIT_MS;
	     waited += ATTACH_POLL_MS) {
		if (atomic_load(&l->attached) != before)
			return false;
		nng_msleep(ATTACH_POLL_MS);
	}
	return true;
}

/* Run one stream operation (send or receive of buf[0..len)) to the end
 * or the probe's timeout.  0, or an nng error. */
static int
stream_io(
    nng_stream *st, nng_aio *aio, unsigned char *buf, size_t len, bool send)
{
	size_t done = 0;

	while (done < len) {
		nng_iov iov = { .iov_buf = buf + done, .iov_len = len - done };
		int     rv;

		if ((rv = nng_aio_set_iov(aio, 1, &iov)) != 0)
			return rv;
		nng_aio_set_timeout(aio, PROBE_IO_MS);
		if (send)
			nng_stream_send(st, aio);
		else
			nng_stream_recv(st, aio);
		nng_aio_wait(aio);
		if ((rv = nng_aio_result(aio)) != 0)
			return rv;
		done += nng_aio_count(aio);
	}
	return 0;
}

/* probe_wedged() for a tls+tcp:// listener: a TLS connection through
 * nng's stream API, then the SP header both ways. */
static bool
probe_wedged_tls(struct guard *gd, struct guarded *l)
{
	nng_stream_dialer *d   = NULL;
	nng_stream        *st  = NULL;
	nng_aio           *aio = NULL;
	unsigned char      hello[8], reply[8];
	unsigned           before;
	bool               wedged = false;

	memcpy(hello, sp_hello, sizeof(hello));
	if (nng_aio_alloc(&aio, NULL, NULL) != 0 ||
	    nng_stream_dialer_alloc(&d, l->probe) != 0 ||
	    nng_stream_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, gd->probe_tls) !=
	        0)
		goto out_free;
	before = atomic_load(&l->attached);
	nng_aio_set_timeout(aio, PROBE_IO_MS);
	nng_stream_dialer_dial(d, aio);
	nng_aio_wait(aio);
	if (nng_aio_result(aio) != 0)
		goto out_free;
	st = nng_aio_get_output(aio, 0);
	if (stream_io(st, aio, hello, sizeof(hello), true) != 0 ||
	    stream_io(st, aio, reply, sizeof(reply), false) != 0 ||
	    reply[1] != 'S' || reply[2] != 'P')
		goto out_free;
	wedged = attach_missed(l, before);
out_free:
	if (st != NULL) {
		nng_stream_close(st);
		nng_stream_free(st);
	}
	if (d != NULL)
		nng_stream_dialer_free(d);
	nng_aio_free(aio);
	return wedged;
}

/* One probe: true if the listener completed a handshake but attached no
 * pipe (the wedge); false if healthy or if the probe was inconclusive. */
static bool
probe_wedged(struct guard *gd, struct guarded *l)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct timeval     tv = { PROBE_IO_MS / 1000,
		    (PROBE_IO_MS % 1000) * 1000L };
	unsigned char      reply[8];
	unsigned           before;
	bool               wedged = false;
	int                fd;

	if (l->path == NULL)
		return probe_wedged_tls(gd, l);
	if (strlen(l->path) >= sizeof(sa.sun_path) ||
	    (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		return false;
	}
	memcpy(sa.sun_path, l->path, strlen(l->path) + 1);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	before = atomic_load(&l->attached);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    send(fd, sp_hello, sizeof(sp_hello), MSG_NOSIGNAL) !=
	        sizeof(sp_hello) ||
	    recv(fd, reply, sizeof(reply), MSG_WAITALL) != sizeof(reply) ||
	    reply[1] != 'S' || reply[2] != 'P') {
		goto out_close;
	}
	wedged = attach_missed(l, before);
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
	if (l->path != NULL)
		rv = nng_listen(gd->sock, url, &fresh, 0);
	else if ((rv = nng_listener_create(&fresh, gd->sock, url)) == 0 &&
	         ((rv = nng_listener_set_ptr(
	               fresh, NNG_OPT_TLS_CONFIG, gd->tls)) != 0 ||
	             (rv = nng_listener_start(fresh, 0)) != 0))
		nng_listener_close(fresh);
	if (rv != 0) {
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
			    probe_wedged(gd, &gd->g[i])) {
				relisten(gd, &gd->g[i]);
			}
		}
		pthread_mutex_lock(&gd->mtx);
	}
	pthread_mutex_unlock(&gd->mtx);
	return NULL;
}

/* The URL a probe of the tls+tcp:// listener `url` dials: the same port
 * on the loopback address when it listens on every address.  NULL when
 * out of memory. */
static char *
probe_url(const char *url)
{
	const char *host     = url + strlen("tls+tcp://");
	const char *port     = strrchr(host, ':');
	size_t      hlen     = port != NULL ? (size_t)(port - host) : 0;
	const char *loopback = NULL;
	char       *out;
	size_t      len;

	if (port == NULL)
		return strdup(url);
	if (hlen == 0 || (hlen == 1 && host[0] == '*') ||
	    (hlen == 7 && strncmp(host, "0.0.0.0", 7) == 0))
		loopback = "tls+tcp://127.0.0.1";
	else if (hlen == 4 && strncmp(host, "[::]", 4) == 0)
		loopback = "tls+tcp://[::1]";
	if (loopback == NULL)
		return strdup(url);
	len = strlen(loopback) + strlen(port) + 1;
	if ((out = malloc(len)) != NULL)
		snprintf(out, len, "%s%s", loopback, port);
	return out;
}

/* The probe's TLS: encryption only, no verification (it checks the SP
 * handshake, not who answers).  NULL when it cannot be made. */
static nng_tls_config *
probe_tls_config(void)
{
	nng_tls_config *cfg;

	if (nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT) != 0)
		return NULL;
	if (nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_NONE) != 0) {
		nng_tls_config_free(cfg);
		return NULL;
	}
	return cfg;
}

static void
guard_release(struct guard *gd)
{
	for (int i = 0; i < gd->ng; i++)
		free(gd->g[i].probe);
	if (gd->tls != NULL)
		nng_tls_config_free(gd->tls);
	if (gd->probe_tls != NULL)
		nng_tls_config_free(gd->probe_tls);
	free(gd->g);
	free(gd);
}

int
guard_start(struct guard **out, nng_socket sock, char *const *urls,
    nng_listener *listeners, int n, nng_tls_config *tls)
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
	if (tls != NULL) {
		nng_tls_config_hold(tls);
		gd->tls = tls;
	}
	for (int i = 0; i < n; i++) {
		bool ipc     = strncmp(urls[i], "ipc://", 6) == 0;
		bool tls_url = strncmp(urls[i], "tls+tcp://", 10) == 0;
		struct guarded *l;

		if (!ipc && !(tls_url && gd->tls != NULL))
			continue;
		if (tls_url && gd->probe_tls == NULL &&
		    (gd->probe_tls = probe_tls_config()) == NULL)
			continue; /* unprobed, as before this guard knew TLS */
		l        = &gd->g[gd->ng++];
		l->index = i;
		if (ipc)
			l->path = urls[i] + 6;
		else if ((l->probe = probe_url(urls[i])) == NULL) {
			guard_release(gd);
			return -1;
		}
		atomic_init(&l->id, nng_listener_id(listeners[i]));
		atomic_init(&l->attached, 0);
	}
	if (gd->ng == 0) {
		guard_release(gd);
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
		guard_release(gd);
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
	guard_release(gd);
}
