/* SPDX-License-Identifier: MIT */
/*
 * The listener guard (see transport_guard.h for why it exists and how it
 * detects a listener that stopped accepting).
 *
 * Invariants: only the guard's thread replaces elements of listeners[]
 * while it runs, and only it reads the statistics; the pipe-notify
 * callback reads listener ids from an atomic copy, so it never sees a
 * half-written nng_listener; a listener is re-created only on positive
 * evidence (a probe whose handshake completed yet no pipe was attached,
 * a certificate-less probe the listener did not count, or a "canceled"
 * accept), never because a probe could not connect, so a loaded server is
 * left alone.
 */
#include "net/transport_guard.h"

#include <nng/supplemental/util/platform.h>

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

enum {
	WATCH_MS    = 25,   /* between two looks at the statistics */
	COOLDOWN_MS = 110,  /* nng's 100 ms pause after an odd error */
	BACKSTOP_MS = 5000, /* a probe of each listener at least this often */
	NOSTATS_MS  = 1000, /* ... or this often without statistics */
	PROBE_IO_MS = 1000, /* connect/handshake read timeout */
	ATTACH_WAIT_MS = 150, /* how long a pipe may take to attach */
	ATTACH_POLL_MS = 5,
	FAIL_LOG_S     = 10, /* failed connections: one line per listener */
};

/* Repairs: one line each, at most 5 a second in all. */
static struct log_limit repair_log = LOG_LIMIT_INIT("listener repairs", 5);

/* nng's per-listener counters (src/core/listener.c) the guard reads. */
struct counts {
	uint64_t accept;     /* pipes handed to the socket */
	uint64_t other;      /* unknown errors, NNG_ECLOSED among them */
	uint64_t canceled;   /* NNG_ECANCELED: the loop stopped */
	uint64_t auth;       /* TLS: NNG_ECRYPTO, NNG_EPEERAUTH */
	uint64_t disconnect; /* NNG_ECONNRESET, NNG_ECONNABORTED */
	uint64_t timeout;    /* the 10 s negotiation limit */
	uint64_t proto;      /* not an SP peer */
};

struct guarded {
	int         index;    /* in listeners[] */
	const char *path;     /* the ipc:// URL's file name, or NULL */
	char       *probe;    /* tls+tcp://: the URL the probe dials */
	bool        certs;    /* tls+tcp:// requiring client certificates */
	atomic_int  id;       /* nng_listener_id of listeners[index] */
	atomic_uint attached; /* pipes attached through this listener */
	/* The guard thread's own: */
	struct counts last;        /* at the previous look; 0 at first */
	int64_t       sign_ns;     /* first sign of a wedge not yet cleared */
	int64_t       probe_ns;    /* when to probe (0: no suspicion) */
	int64_t       backstop_ns; /* next probe regardless */
	const char   *why;         /* what the sign was */
	struct counts failed;      /* failures not yet logged */
	int64_t       failed_ns;   /* when the failures were last logged */
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
	unsigned        repairs; /* listeners opened again so far */
};

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

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

/* The statistics scope of the listener with this id under s, or NULL.
 * Not nng_stat_find_listener(): in 1.5.2 it returns the first scope
 * named "listener" whatever its id (nng_stat_find_scope() recurses with
 * nng_stat_find()), i.e. another listener's counters on a server with
 * several. */
static nng_stat *
listener_scope(nng_stat *s, int id)
{
	for (; s != NULL; s = nng_stat_next(s)) {
		nng_stat *c;

		if (nng_stat_type(s) != NNG_STAT_SCOPE)
			continue;
		if (strcmp(nng_stat_name(s), "listener") == 0) {
			for (c = nng_stat_child(s); c != NULL;
			     c = nng_stat_next(c))
				if (nng_stat_type(c) == NNG_STAT_ID &&
				    strcmp(nng_stat_name(c), "id") == 0 &&
				    nng_stat_value(c) == (uint64_t)id)
					return s;
			continue;
		}
		if ((c = listener_scope(nng_stat_child(s), id)) != NULL)
			return c;
	}
	return NULL;
}

/* l's counters in the snapshot root; false when nng keeps none for it
 * (statistics compiled out, or the listener is gone). */
static bool
counts_read(nng_stat *root, nng_listener l, struct counts *out)
{
	static const struct {
		const char *name;
		size_t      off;
	} fields[] = {
		{ "accept", offsetof(struct counts, accept) },
		{ "other", offsetof(struct counts, other) },
		{ "canceled", offsetof(struct counts, canceled) },
		{ "auth", offsetof(struct counts, auth) },
		{ "disconnect", offsetof(struct counts, disconnect) },
		{ "timeout", offsetof(struct counts, timeout) },
		{ "proto", offsetof(struct counts, proto) },
	};
	nng_stat *ls, *s;

	memset(out, 0, sizeof(*out));
	if (root == NULL || (ls = listener_scope(nng_stat_child(root),
	                         nng_listener_id(l))) == NULL)
		return false;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if ((s = nng_stat_find(ls, fields[i].name)) == NULL)
			return false;
		*(uint64_t *)(void *)((char *)out + fields[i].off) =
		    nng_stat_value(s);
	}
	return true;
}

/* Failed connections counted between a and b. */
static uint64_t
counts_failed(const struct counts *a, const struct counts *b)
{
	return (b->other - a->other) + (b->canceled - a->canceled) +
	       (b->auth - a->auth) + (b->disconnect - a->disconnect) +
	       (b->timeout - a->timeout) + (b->proto - a->proto);
}

/* Fresh counters of l (a snapshot of its own); false if none. */
static bool
counts_now(nng_listener l, struct counts *out)
{
	nng_stat *root = NULL;
	bool      ok;

	if (nng_stats_get(&root) != 0)
		return false;
	ok = counts_read(root, l, out);
	nng_stats_free(root);
	return ok;
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

/* Whether the certificate-less probe's refusal went uncounted: a live
 * accept loop counts every failed connection, a dead one none.  Run only
 * when nothing else moved for COOLDOWN_MS, so the loop is not in nng's
 * pause.  False (healthy or inconclusive) without statistics. */
static bool
refusal_missed(struct guard *gd, struct guarded *l, struct counts *before)
{
	struct counts now;

	for (int waited = 0; waited < ATTACH_WAIT_MS;
	     waited += ATTACH_POLL_MS) {
		if (!counts_now(gd->listeners[l->index], &now))
			return false;
		if (counts_failed(before, &now) > 0 ||
		    now.accept != before->accept)
			return false;
		nng_msleep(ATTACH_POLL_MS);
	}
	return true;
}

/* probe_wedged() for a tls+tcp:// listener: a TLS connection through
 * nng's stream API, then the SP header both ways; for a listener that
 * requires client certificates the handshake fails, and the question is
 * whether the listener counted it. */
static bool
probe_wedged_tls(struct guard *gd, struct guarded *l)
{
	nng_stream_dialer *d   = NULL;
	nng_stream        *st  = NULL;
	nng_aio           *aio = NULL;
	unsigned char      hello[8], reply[8];
	struct counts      before;
	unsigned           attached;
	bool               wedged = false;

	memcpy(hello, sp_hello, sizeof(hello));
	memset(&before, 0, sizeof(before));
	if (l->certs && !counts_now(gd->listeners[l->index], &before))
		return false; /* no statistics: nothing to judge by */
	if (nng_aio_alloc(&aio, NULL, NULL) != 0 ||
	    nng_stream_dialer_alloc(&d, l->probe) != 0 ||
	    nng_stream_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, gd->probe_tls) !=
	        0)
		goto out_free;
	attached = atomic_load(&l->attached);
	nng_aio_set_timeout(aio, PROBE_IO_MS);
	nng_stream_dialer_dial(d, aio);
	nng_aio_wait(aio);
	if (nng_aio_result(aio) != 0)
		goto out_free;
	st = nng_aio_get_output(aio, 0);
	if (l->certs) {
		/* Refused at the handshake: the error is the point.  Only
		 * the send: after a failed handshake nng 1.5.2 leaves a
		 * receive on the stream pending for ever (its timeout
		 * cancels nothing once the TCP side is closed). */
		if (stream_io(st, aio, hello, sizeof(hello), true) != 0)
			wedged = refusal_missed(gd, l, &before);
		goto out_free;
	}
	if (stream_io(st, aio, hello, sizeof(hello), true) != 0 ||
	    stream_io(st, aio, reply, sizeof(reply), false) != 0 ||
	    reply[1] != 'S' || reply[2] != 'P')
		goto out_free;
	wedged = attach_missed(l, attached);
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

/* One probe: true if the listener showed that it stopped accepting;
 * false if healthy or if the probe was inconclusive. */
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

/* Close l's listener and listen again on its URL.  since_ns: the first
 * sign of the wedge (for the log line). */
static void
relisten(struct guard *gd, struct guarded *l, int64_t since_ns)
{
	const char  *url = gd->urls[l->index];
	nng_listener fresh;
	int          rv;

	if (atomic_load(&l->id) >= 0)
		nng_listener_close(gd->listeners[l->index]);
	if (l->path != NULL)
		rv = nng_listen(gd->sock, url, &fresh, 0);
	else if ((rv = nng_listener_create(&fresh, gd->sock, url)) == 0 &&
	         ((rv = nng_listener_set_ptr(
	               fresh, NNG_OPT_TLS_CONFIG, gd->tls)) != 0 ||
	             (rv = nng_listener_start(fresh, 0)) != 0))
		nng_listener_close(fresh);
	/* A new listener counts from zero: a failure between now and the
	 * next look is a change, not the baseline (it may be a wedge). */
	memset(&l->last, 0, sizeof(l->last));
	l->probe_ns = 0;
	if (rv != 0) {
		log_at_limited(&repair_log, LOG_LEVEL_ERR,
		    "transport guard: cannot listen again on %s: %s; will "
		    "retry",
		    url, nng_strerror(rv));
		atomic_store(&l->id, -1);
		l->backstop_ns = mono_ns() + (int64_t)NOSTATS_MS * 1000000;
		return;
	}
	gd->listeners[l->index] = fresh;
	atomic_store(&l->id, nng_listener_id(fresh));
	gd->repairs++;
	log_at_limited(&repair_log, LOG_LEVEL_WARN,
	    "transport guard: listener %s had stopped accepting connections "
	    "(%s; nng 1.5.2, nanomsg/nng#1518): listening again %lld ms after "
	    "the first sign (repair %u)",
	    url, l->why, (long long)((mono_ns() - since_ns) / 1000000),
	    gd->repairs);
}

/* Failed connections between two looks: summed, one line per listener
 * at most every FAIL_LOG_S seconds.  nng says neither who nor why: only
 * the class its counters give. */
static struct log_limit fail_log = LOG_LIMIT_INIT("failed connections", 5);

static void
failures_note(struct guard *gd, struct guarded *l, const struct counts *a,
    const struct counts *b, int64_t now)
{
	struct counts *f = &l->failed;
	uint64_t       total;

	f->other += b->other - a->other;
	f->canceled += b->canceled - a->canceled;
	f->auth += b->auth - a->auth;
	f->disconnect += b->disconnect - a->disconnect;
	f->timeout += b->timeout - a->timeout;
	f->proto += b->proto - a->proto;
	total = f->other + f->canceled + f->auth + f->disconnect + f->timeout +
	        f->proto;
	if (total == 0 ||
	    (l->failed_ns != 0 &&
	        now - l->failed_ns < (int64_t)FAIL_LOG_S * 1000000000))
		return;
	log_at_limited(&fail_log, LOG_LEVEL_WARN,
	    "transport: %s: %llu connection(s) failed before reaching the "
	    "service (%s%llu, peer left or other %llu, reset %llu, "
	    "negotiation timed out %llu, not an SP peer %llu); nng does not "
	    "say which peer or why",
	    gd->urls[l->index], (unsigned long long)total,
	    l->path != NULL ? "refused " : "TLS handshake failed ",
	    (unsigned long long)f->auth,
	    (unsigned long long)(f->other + f->canceled),
	    (unsigned long long)f->disconnect, (unsigned long long)f->timeout,
	    (unsigned long long)f->proto);
	memset(f, 0, sizeof(*f));
	l->failed_ns = now;
}

/* One look at l's counters in root.  Returns true when they prove that
 * its accept loop stopped. */
static bool
watch(struct guard *gd, struct guarded *l, nng_stat *root, int64_t now)
{
	struct counts c;
	bool          moved;

	if (!counts_read(root, gd->listeners[l->index], &c))
		return false;
	moved = counts_failed(&l->last, &c) > 0 || c.accept != l->last.accept;
	failures_note(gd, l, &l->last, &c, now);
	if (c.canceled != l->last.canceled) {
		l->last    = c;
		l->sign_ns = now;
		l->why     = "an accept ended cancelled";
		return true;
	}
	if (c.other != l->last.other) {
		/* Perhaps NNG_ECLOSED: suspect until something else is
		 * counted after it, which a dead loop never does. */
		log_debug("transport guard: %s: %llu unclassified failure(s); "
		          "probe unless something is counted within %d ms",
		    gd->urls[l->index],
		    (unsigned long long)(c.other - l->last.other),
		    COOLDOWN_MS);
		l->sign_ns  = now;
		l->probe_ns = now + (int64_t)COOLDOWN_MS * 1000000;
		l->why = "a connection failed with an unclassified error, "
		         "and nothing was counted after it";
	} else if (moved && l->probe_ns != 0) {
		log_debug("transport guard: %s counted a connection after "
		          "the failure: alive",
		    gd->urls[l->index]);
		l->probe_ns = 0; /* counted after the sign: alive */
	}
	l->last = c;
	return false;
}

/* With the certificate-less probe the listener counts a refusal of ours:
 * not a caller's failure, so it is taken out of the next look. */
static void
rebase(struct guard *gd, struct guarded *l)
{
	struct counts c;

	if (l->certs && counts_now(gd->listeners[l->index], &c))
		l->last = c;
}

static void
guard_tick(struct guard *gd)
{
	nng_stat *root = NULL;
	int64_t   now  = mono_ns();

	if (nng_stats_get(&root) != 0)
		root = NULL;
	for (int i = 0; i < gd->ng; i++) {
		struct guarded *l = &gd->g[i];
		bool            certain, due;

		if (atomic_load(&l->id) < 0) { /* a failed relisten */
			if (now >= l->backstop_ns)
				relisten(gd, l, now);
			continue;
		}
		certain = watch(gd, l, root, now);
		due     = (l->probe_ns != 0 && now >= l->probe_ns) ||
		      now >= l->backstop_ns;
		if (!certain && !due)
			continue;
		if (!certain && l->probe_ns == 0) {
			l->sign_ns = now;
			l->why =
			    "a periodic probe was not attached or counted";
		}
		if (certain || probe_wedged(gd, l)) {
			relisten(gd, l, l->sign_ns);
		} else {
			log_debug("transport guard: %s answered a probe",
			    gd->urls[l->index]);
			rebase(gd, l);
			l->probe_ns = 0;
		}
		l->backstop_ns =
		    mono_ns() +
		    (int64_t)(root != NULL ? BACKSTOP_MS : NOSTATS_MS) *
		        1000000;
	}
	if (root != NULL)
		nng_stats_free(root);
}

static void *
guard_main(void *arg)
{
	struct guard   *gd = arg;
	struct timespec until;

	pthread_mutex_lock(&gd->mtx);
	while (!gd->stopping) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)WATCH_MS * 1000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&gd->cv, &gd->mtx, &until);
		if (gd->stopping) {
			break;
		}
		pthread_mutex_unlock(&gd->mtx);
		guard_tick(gd);
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

/* The probe's TLS: encryption only, no verification and no certificate
 * (it checks the SP handshake, not who answers).  NULL when it cannot be
 * made. */
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
    nng_listener *listeners, int n, nng_tls_config *tls, bool client_certs)
{
	struct guard *gd;
	int64_t       now = mono_ns();

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
		l              = &gd->g[gd->ng++];
		l->index       = i;
		l->certs       = tls_url && client_certs;
		l->backstop_ns = now + (int64_t)BACKSTOP_MS * 1000000;
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
	/* What was counted since the last line, so it is not lost. */
	for (int i = 0; i < gd->ng; i++) {
		gd->g[i].failed_ns = 0;
		failures_note(
		    gd, &gd->g[i], &gd->g[i].last, &gd->g[i].last, mono_ns());
	}
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
