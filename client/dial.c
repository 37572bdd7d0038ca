/* SPDX-License-Identifier: MIT */
/*
 * dial: how a handle reaches its servers, the only file of the library
 * that configures nng dialers and TLS.
 *
 * Each URL is dialled `connections` times (non-blocking, so nng
 * reconnects in the background), each dialer with its own random
 * reconnect back-off (nng 1.5.2 has no jitter option), so the
 * connections of one handle, and of many clients restarted together, do
 * not redial a restarted server in the same millisecond.  A tls+tcp://
 * URL is dialled with a TLS configuration of our own (CA, server name,
 * optional client certificate, verification required); a failed
 * handshake looks like a refused connection to nng, so it is redialled
 * and the calls see UNAVAILABLE.  Dialers are made by open and started by
 * the first call (see internal.h for why).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <nng/supplemental/util/platform.h>

#include "internal.h"
#include "rng.h"
#include "watch.h"

/* Reconnect back-off of each dialer: nng doubles the delay from its
 * minimum to its maximum, with no jitter of its own (1.5.2), so every
 * dialer draws its own minimum and maximum from these ranges: the
 * connections of one handle, and of many clients restarted together, do
 * not all redial a restarted server in the same millisecond. */
#define CLIENT_RECONNMIN_MS    50   /* first reconnect delay, at least */
#define CLIENT_RECONNMIN_HI_MS 100  /* ... and at most */
#define CLIENT_RECONNMAX_LO_MS 750  /* cap on the back-off, at least */
#define CLIENT_RECONNMAX_MS    1000 /* ... and at most */
#define CLIENT_SETTLE_MS       300  /* close waits for handshakes this long */
/* Largest PEM file read for a client certificate or key. */
#define CLIENT_PEM_MAX ((long)1024 * 1024)

/* Whether url names nng's TLS transport (tls+tcp://, tls+tcp4://, ...). */
static int
url_is_tls(const char *url)
{
	return strncmp(url, "tls+", 4) == 0;
}

/* The host of a tls+tcp URL ("127.0.0.1", "[::1]" without brackets) into
 * buf, the default TLS server name.  0, or -1 if there is none. */
static int
url_host(const char *url, char *buf, size_t len)
{
	const char *h = strstr(url, "://"), *end;
	size_t      n;

	if (h == NULL)
		return -1;
	h += 3;
	if (*h == '[') {
		h++;
		end = strchr(h, ']');
	} else {
		end = h + strcspn(h, ":/");
	}
	if (end == NULL || (n = (size_t)(end - h)) == 0 || n >= len)
		return -1;
	memcpy(buf, h, n);
	buf[n] = '\0';
	return 0;
}

/* The whole file at path as a NUL-terminated string (free() it), or NULL
 * when it cannot be read or is larger than CLIENT_PEM_MAX. */
static char *
pem_read(const char *path)
{
	FILE *f;
	char *buf = NULL;
	long  size;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    size > CLIENT_PEM_MAX || fseek(f, 0, SEEK_SET) != 0)
		goto out_close;
	if ((buf = malloc((size_t)size + 1)) == NULL)
		goto out_close;
	if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		buf = NULL;
		goto out_close;
	}
	buf[size] = '\0';
out_close:
	fclose(f);
	return buf;
}

/* A client TLS configuration for url from o: the CA that must have
 * signed the server's certificate (verification REQUIRED), the server
 * name it must carry (o's, else the URL's host), and our own certificate
 * if o names one.  Returns 0 with *out held by the caller
 * (nng_tls_config_free), or an nng error (NNG_EINVAL: o lacks the CA, or
 * names a certificate without its key). */
static int
tls_config_make(
    const inventory_client_opts *o, const char *url, nng_tls_config **out)
{
	nng_tls_config *cfg;
	char            host[256];
	const char     *name = o->tls_server_name;
	char           *cert = NULL, *key = NULL;
	int             rv;

	if (o->tls_ca_file == NULL ||
	    (o->tls_cert_file == NULL) != (o->tls_key_file == NULL))
		return NNG_EINVAL;
	if (name == NULL) {
		if (url_host(url, host, sizeof(host)) != 0)
			return NNG_EINVAL;
		name = host;
	}
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0)
		return rv;
	if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) !=
	        0 ||
	    (rv = nng_tls_config_ca_file(cfg, o->tls_ca_file)) != 0 ||
	    (rv = nng_tls_config_server_name(cfg, name)) != 0)
		goto out_free_cfg;
	if (o->tls_cert_file != NULL) {
		/* nng wants PEM text for a separate certificate and key. */
		if ((cert = pem_read(o->tls_cert_file)) == NULL ||
		    (key = pem_read(o->tls_key_file)) == NULL) {
			rv = NNG_EINVAL;
			goto out_free_pem;
		}
		if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0)
			goto out_free_pem;
		free(cert);
		free(key);
	}
	*out = cfg;
	return 0;

out_free_pem:
	free(cert);
	free(key);
out_free_cfg:
	nng_tls_config_free(cfg);
	return rv;
}

/* Dial url `n` times on c's socket, each dialer with its own random
 * reconnect back-off (see CLIENT_RECONNMIN_MS) and, for a tls+tcp URL,
 * o's TLS configuration.  Returns 0 or an nng error. */
int
dial_url(inventory_client *c, const char *url, int n,
    const inventory_client_opts *o)
{
	nng_tls_config *tls = NULL;
	nng_dialer      d, *grown;
	size_t          first = c->ndialers;
	int             rv    = 0;

	if (url_is_tls(url) && (rv = tls_config_make(o, url, &tls)) != 0)
		return rv;
	for (int i = 0; i < n; i++) {
		nng_duration lo =
		    CLIENT_RECONNMIN_MS +
		    (nng_duration)rng_between0(
		        CLIENT_RECONNMIN_HI_MS - CLIENT_RECONNMIN_MS);
		nng_duration hi =
		    CLIENT_RECONNMAX_LO_MS +
		    (nng_duration)rng_between0(
		        CLIENT_RECONNMAX_MS - CLIENT_RECONNMAX_LO_MS);

		if ((rv = nng_dialer_create(&d, c->sock, url)) != 0)
			break;
		/* Cannot fail on a fresh dialer with valid values. */
		(void)nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, lo);
		(void)nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, hi);
		/* The dialer holds its own reference to the configuration. */
		if (tls != NULL && (rv = nng_dialer_set_ptr(
		                        d, NNG_OPT_TLS_CONFIG, tls)) != 0) {
			(void)nng_dialer_close(d);
			break;
		}
		/* Started by the first call (dial_start()). */
		grown = realloc(
		    c->dialers, (c->ndialers + 1) * sizeof(*c->dialers));
		if (grown == NULL) {
			(void)nng_dialer_close(d);
			rv = NNG_ENOMEM;
			break;
		}
		c->dialers                = grown;
		c->dialers[c->ndialers++] = d;
	}
	/* The probe dials with the same settings (watch.c). */
	if (rv == 0 &&
	    watch_add_url(c, url, tls, first, c->ndialers - first) != 0)
		rv = NNG_ENOMEM;
	if (tls != NULL)
		nng_tls_config_free(tls);
	return rv;
}

/* nng calls this on its own thread as connections come and go. */
void
dial_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	inventory_client *c = arg;

	atomic_fetch_add(&c->pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
	watch_pipe_event(c, p, ev);
}

/* Before closing: when some connection is up but not all of them yet,
 * give the others a moment (CLIENT_SETTLE_MS at most) to finish their
 * handshake, so that a short-lived process does not leave one mid-way:
 * nng 1.5.2 servers can stop accepting on a listener a peer left that way
 * (nanomsg/nng#1518).  With none up (no server there) it does not wait. */
void
dial_settle(inventory_client *c)
{
	for (int waited = 0; waited < CLIENT_SETTLE_MS; waited += 5) {
		int up = atomic_load(&c->pipes);

		if (!atomic_load(&c->dialing) || up <= 0 ||
		    (size_t)up >= c->ndialers)
			return;
		nng_msleep(5);
	}
}

/* Start every dialer, once.  Non-blocking: an unreachable server is
 * retried in the background instead of failing here.  Each dialer is its
 * own connection (pipe) to the same server.  A TLS handshake that fails
 * (wrong CA, expired certificate, a plain server) is retried the same
 * way, so calls see UNAVAILABLE; so does a dialer that cannot start. */
void
dial_start(inventory_client *c)
{
	if (atomic_exchange(&c->dialing, true))
		return;
	for (size_t i = 0; i < c->ndialers; i++)
		(void)nng_dialer_start(c->dialers[i], NNG_FLAG_NONBLOCK);
	watch_start(c);
}

/* Socket options every dialer inherits (set before any dials) and the
 * pipe notifications dial_settle() counts.  They cannot fail on a fresh
 * REQ socket with valid values. */
void
dial_socket_init(inventory_client *c, size_t recv_max)
{
	(void)nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, recv_max);
	(void)nng_socket_set_ms(
	    c->sock, NNG_OPT_RECONNMINT, CLIENT_RECONNMIN_MS);
	(void)nng_socket_set_ms(
	    c->sock, NNG_OPT_RECONNMAXT, CLIENT_RECONNMAX_MS);
	/* ... and dial_url() gives each dialer a jittered pair. */
	(void)nng_pipe_notify(
	    c->sock, NNG_PIPE_EV_ADD_POST, dial_pipe_event, c);
	(void)nng_pipe_notify(
	    c->sock, NNG_PIPE_EV_REM_POST, dial_pipe_event, c);
}
