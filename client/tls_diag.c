/* SPDX-License-Identifier: MIT */
/*
 * The diagnostic TLS handshake (see tls_diag.h).
 *
 * The handshake verifies OPTIONALLY, so it completes whatever is wrong
 * with the server's certificate and mbedtls's verification flags say
 * what is (a name mismatch, an unknown CA, an expired certificate); the
 * certificate itself gives the names it carries.  A peer that answers
 * the ClientHello with an SP header ("\0SP\0") is a plain nng listener.
 * The socket is ours (non-blocking connect bounded by the deadline, then
 * mbedtls's receive with a timeout), so no step can hang.
 *
 * Invariants: one diagnosis at a time per context (the running flag,
 * under its mutex; the handshake itself runs outside it, and callers
 * that fail meanwhile take the previous finding instead of waiting), its
 * finding reused for REUSE_NS; every mbedtls object is freed on every
 * path (one cleanup label); nothing is printed.
 */
#include "tls_diag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>

enum {
	DIAG_MIN_MS = 1000, /* a diagnosis may take this long, */
	DIAG_MAX_MS = 2000, /* ... or the call's timeout, up to this */
	CAUSE_MAX   = 200,  /* bytes of a cause (messages are 256) */
};
#define REUSE_NS ((int64_t)5 * 1000000000) /* a finding stays this long */

struct tls_diag {
	char          **urls; /* the tls+tcp:// URLs */
	int             nurls;
	char           *ca, *cert, *key, *name; /* copies, or NULL */
	pthread_mutex_t mtx;                    /* guards the three below */
	bool            running;                /* a caller is diagnosing */
	int64_t         when_ns;    /* of the last diagnosis; 0: none yet */
	char            cause[512]; /* its finding, "" if none */
};

static int64_t
mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static char *
dup_or_null(const char *s)
{
	return s != NULL ? strdup(s) : NULL;
}

struct tls_diag *
tls_diag_create(const char *urls, const inventory_client_opts *o)
{
	struct tls_diag *d;
	char            *list, *url, *save = NULL;

	if (urls == NULL || strstr(urls, "tls+") == NULL ||
	    (d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	if ((list = strdup(urls)) == NULL)
		goto out_free;
	for (url = strtok_r(list, ", \t", &save); url != NULL;
	     url = strtok_r(NULL, ", \t", &save)) {
		char **grown;

		if (strncmp(url, "tls+tcp", 7) != 0)
			continue;
		if ((grown = realloc(d->urls,
		         (size_t)(d->nurls + 1) * sizeof(*d->urls))) == NULL)
			break;
		d->urls = grown;
		if ((d->urls[d->nurls] = strdup(url)) == NULL)
			break;
		d->nurls++;
	}
	free(list);
	if (d->nurls == 0)
		goto out_free;
	if (o != NULL) {
		d->ca   = dup_or_null(o->tls_ca_file);
		d->cert = dup_or_null(o->tls_cert_file);
		d->key  = dup_or_null(o->tls_key_file);
		d->name = dup_or_null(o->tls_server_name);
	}
	pthread_mutex_init(&d->mtx, NULL);
	return d;
out_free:
	for (int i = 0; i < d->nurls; i++)
		free(d->urls[i]);
	free(d->urls);
	free(d);
	return NULL;
}

void
tls_diag_free(struct tls_diag *d)
{
	if (d == NULL)
		return;
	for (int i = 0; i < d->nurls; i++)
		free(d->urls[i]);
	free(d->urls);
	free(d->ca);
	free(d->cert);
	free(d->key);
	free(d->name);
	pthread_mutex_destroy(&d->mtx);
	free(d);
}

/* HOST and PORT of scheme://HOST:PORT ([v6] without brackets). */
static int
url_split(const char *url, char *host, size_t hlen, char *port, size_t plen)
{
	const char *h = strstr(url, "://"), *end, *p;
	size_t      n;

	if (h == NULL)
		return -1;
	h += 3;
	if (*h == '[') {
		h++;
		if ((end = strchr(h, ']')) == NULL)
			return -1;
		p = end + 1;
	} else {
		if ((end = strrchr(h, ':')) == NULL)
			return -1;
		p = end;
	}
	if (*p != ':' || (n = (size_t)(end - h)) == 0 || n >= hlen ||
	    strlen(p + 1) == 0 || strlen(p + 1) >= plen)
		return -1;
	memcpy(host, h, n);
	host[n] = '\0';
	snprintf(port, plen, "%s", p + 1);
	port[strcspn(port, "/")] = '\0';
	return 0;
}

static int
ms_left(int64_t deadline_ns)
{
	int64_t left = (deadline_ns - mono_ns()) / 1000000;

	return left < 1 ? 1 : (int)left;
}

/* A TCP connection to host:port before the deadline: the socket
 * (blocking again), or -1 with the reason in out. */
static int
tcp_connect(const char *host, const char *port, int64_t deadline_ns, char *out,
    size_t len)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *ai, *a;
	int             fd = -1, err = 0, rv;

	if ((rv = getaddrinfo(host, port, &hints, &ai)) != 0) {
		snprintf(
		    out, len, "cannot resolve %s: %s", host, gai_strerror(rv));
		return -1;
	}
	for (a = ai; a != NULL && fd < 0; a = a->ai_next) {
		struct pollfd pfd;
		socklen_t     elen = sizeof(err);

		if ((fd = socket(
		         a->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
			continue;
		(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		err = 0;
		if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
			err = errno;
			if (err == EINPROGRESS) {
				pfd = (struct pollfd) { .fd = fd,
					.events             = POLLOUT };
				if (poll(&pfd, 1, ms_left(deadline_ns)) != 1)
					err = ETIMEDOUT;
				else if (getsockopt(fd, SOL_SOCKET, SO_ERROR,
				             &err, &elen) != 0)
					err = errno;
			}
		}
		if (err != 0) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0) {
		snprintf(out, len, "cannot connect to %s:%s: %s%s", host, port,
		    strerror(err),
		    err == ECONNREFUSED ? " (nothing listens there)" : "");
		return -1;
	}
	(void)fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	return fd;
}

/* What the peer sent first, kept to recognise a plain SP listener. */
struct peek {
	mbedtls_net_context net;
	unsigned char       first[4];
	size_t              nfirst;
};

static int
peek_recv(void *arg, unsigned char *buf, size_t len, uint32_t timeout)
{
	struct peek *p  = arg;
	int          rv = mbedtls_net_recv_timeout(&p->net, buf, len, timeout);

	for (int i = 0; i < rv && p->nfirst < sizeof(p->first); i++)
		p->first[p->nfirst++] = buf[i];
	return rv;
}

/* mbedtls_net_send() without SIGPIPE: a library must not be killed by
 * a server that closed first. */
static int
peek_send(void *arg, const unsigned char *buf, size_t len)
{
	struct peek *p = arg;
	ssize_t      n = send(p->net.fd, buf, len, MSG_NOSIGNAL);

	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	if (errno == EPIPE || errno == ECONNRESET)
		return MBEDTLS_ERR_NET_CONN_RESET;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static bool
is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

/* The names crt carries: DNS names and IP addresses of its
 * subjectAltName (mbedtls 2.28 keeps them raw), else its CN.  Also
 * whether `want` is among the IP addresses, and the first DNS name. */
static void
cert_names(const mbedtls_x509_crt *crt, const char *want, char *out,
    size_t len, bool *want_is_ip, char *dns, size_t dnslen)
{
	const mbedtls_x509_sequence *s;
	size_t                       n = 0;

	*want_is_ip = false;
	dns[0]      = '\0';
	out[0]      = '\0';
	for (s = &crt->subject_alt_names; s != NULL && s->buf.p != NULL;
	     s = s->next) {
		int  tag = s->buf.tag & MBEDTLS_ASN1_TAG_VALUE_MASK;
		char one[INET6_ADDRSTRLEN + 8] = "";

		if (tag == 2 && s->buf.len < 200) { /* dNSName */
			snprintf(one, sizeof(one), "%.*s",
			    (int)(s->buf.len < 40 ? s->buf.len : 40),
			    (const char *)s->buf.p);
			if (dns[0] == '\0')
				snprintf(dns, dnslen, "%s", one);
		} else if (tag == 7 && (s->buf.len == 4 || s->buf.len == 16)) {
			char ip[INET6_ADDRSTRLEN];

			if (inet_ntop(s->buf.len == 4 ? AF_INET : AF_INET6,
			        s->buf.p, ip, sizeof(ip)) == NULL)
				continue;
			snprintf(one, sizeof(one), "IP %s", ip);
			if (strcmp(ip, want) == 0)
				*want_is_ip = true;
		} else {
			continue;
		}
		n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s",
		    n > 0 ? ", " : "", one);
	}
	if (n == 0) {
		for (const mbedtls_x509_name *nm = &crt->subject; nm != NULL;
		     nm                          = nm->next) {
			if (nm->oid.p != NULL &&
			    MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &nm->oid) ==
			        0) {
				snprintf(out, len, "CN %.*s",
				    (int)(nm->val.len < 60 ? nm->val.len : 60),
				    (const char *)nm->val.p);
				break;
			}
		}
	}
	if (n >= len && len > 4)
		memcpy(out + len - 4, "...", 4);
}

/* The cause, from a completed handshake's verification flags. */
static int
explain_flags(mbedtls_ssl_context *ssl, uint32_t flags, const char *want,
    const char *ca, char *out, size_t len)
{
	const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(ssl);
	char                    names[120], dns[64], issuer[80];
	bool                    want_is_ip;

	if (flags == 0 || crt == NULL)
		return 0;
	if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) {
		if (mbedtls_x509_dn_gets(
		        issuer, sizeof(issuer), &crt->issuer) < 0)
			snprintf(issuer, sizeof(issuer), "?");
		snprintf(out, len,
		    "the server's certificate (issuer %s) is not signed by a "
		    "CA in %s",
		    issuer, ca != NULL ? ca : "--tls-ca");
		return 1;
	}
	if (flags & MBEDTLS_X509_BADCERT_EXPIRED) {
		snprintf(out, len,
		    "the server's certificate expired on %04d-%02d-%02d",
		    crt->valid_to.year, crt->valid_to.mon, crt->valid_to.day);
		return 1;
	}
	if (flags & MBEDTLS_X509_BADCERT_FUTURE) {
		snprintf(out, len,
		    "the server's certificate is not valid before "
		    "%04d-%02d-%02d",
		    crt->valid_from.year, crt->valid_from.mon,
		    crt->valid_from.day);
		return 1;
	}
	if (flags & MBEDTLS_X509_BADCERT_CN_MISMATCH) {
		cert_names(crt, want, names, sizeof(names), &want_is_ip, dns,
		    sizeof(dns));
		if (want_is_ip && dns[0] != '\0')
			snprintf(out, len,
			    "the certificate names %s only as an IP address, "
			    "which this TLS library cannot match; pass "
			    "--tls-server-name %s, a DNS name it carries",
			    want, dns);
		else if (want_is_ip)
			snprintf(out, len,
			    "the certificate names %s only as an IP address, "
			    "which this TLS library cannot match; it needs "
			    "DNS:%s in its subjectAltName",
			    want, want);
		else
			snprintf(out, len,
			    "the certificate is for %s, not %s%s: pass "
			    "--tls-server-name with one of those",
			    names, want,
			    is_ip_literal(want) ? " (an IP address)" : "");
		return 1;
	}
	mbedtls_x509_crt_verify_info(names, sizeof(names), "", flags);
	names[strcspn(names, "\n")] = '\0';
	snprintf(out, len, "the server's certificate: %s", names);
	return 1;
}

/* The cause of a failed handshake (rv, an mbedtls error). */
static void
explain_error(mbedtls_ssl_context *ssl, const struct peek *pk, int rv,
    bool have_cert, const char *host, const char *port, char *out, size_t len)
{
	char err[100];

	if (pk->nfirst >= 4 && pk->first[0] == 0 && pk->first[1] == 'S' &&
	    pk->first[2] == 'P' && pk->first[3] == 0) {
		snprintf(out, len,
		    "%s:%s is not TLS but a plain listener (tcp://%s:%s)",
		    host, port, host, port);
		return;
	}
	/* The server asked for a certificate (CertificateRequest) and we
	 * had none: nng's server closes without an alert. */
	if (!have_cert && ssl->client_auth && rv != MBEDTLS_ERR_SSL_TIMEOUT) {
		snprintf(out, len,
		    "the server requires a client certificate (--tls-cert, "
		    "--tls-key)");
		return;
	}
	if (rv == MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE) {
		int alert = ssl->in_msg != NULL ? ssl->in_msg[1] : -1;

		if (!have_cert &&
		    (alert == MBEDTLS_SSL_ALERT_MSG_HANDSHAKE_FAILURE ||
		        alert == MBEDTLS_SSL_ALERT_MSG_BAD_CERT ||
		        alert == MBEDTLS_SSL_ALERT_MSG_NO_CERT ||
		        alert == 116 /* certificate_required */))
			snprintf(out, len,
			    "the server refused the handshake (alert %d): it "
			    "requires a client certificate (--tls-cert, "
			    "--tls-key)",
			    alert);
		else if (have_cert)
			snprintf(out, len,
			    "the server refused the handshake (alert %d): "
			    "it does not accept our client certificate",
			    alert);
		else
			snprintf(out, len,
			    "the server refused the handshake (alert %d)",
			    alert);
		return;
	}
	if (rv == MBEDTLS_ERR_SSL_TIMEOUT) {
		snprintf(out, len, "%s:%s did not answer the TLS handshake",
		    host, port);
		return;
	}
	mbedtls_strerror(rv, err, sizeof(err));
	if (rv == MBEDTLS_ERR_SSL_CONN_EOF ||
	    rv == MBEDTLS_ERR_NET_CONN_RESET ||
	    rv == MBEDTLS_ERR_SSL_INVALID_RECORD ||
	    rv == MBEDTLS_ERR_SSL_BAD_HS_SERVER_HELLO)
		snprintf(
		    out, len, "%s (%s:%s may not speak TLS)", err, host, port);
	else
		snprintf(out, len, "%s", err);
}

int
tls_diag_url(const char *url, const char *ca, const char *cert,
    const char *key, const char *server_name, int timeout_ms, char *out,
    size_t len)
{
	mbedtls_ssl_context      ssl;
	mbedtls_ssl_config       conf;
	mbedtls_x509_crt         cas, own;
	mbedtls_pk_context       pk;
	mbedtls_entropy_context  entropy;
	mbedtls_ctr_drbg_context drbg;
	struct peek              peek = { .nfirst = 0 };
	char                     host[256], port[16];
	const char              *want;
	int64_t                  deadline;
	int                      rv, found = 0;

	out[0] = '\0';
	if (url_split(url, host, sizeof(host), port, sizeof(port)) != 0)
		return 0;
	want = server_name != NULL ? server_name : host;
	/* At least DIAG_MIN_MS whatever the call's timeout (a handshake on a
	 * loaded machine), at most DIAG_MAX_MS. */
	if (timeout_ms < DIAG_MIN_MS)
		timeout_ms = DIAG_MIN_MS;
	if (timeout_ms > DIAG_MAX_MS)
		timeout_ms = DIAG_MAX_MS;
	deadline = mono_ns() + (int64_t)timeout_ms * 1000000;
	mbedtls_net_init(&peek.net);
	mbedtls_ssl_init(&ssl);
	mbedtls_ssl_config_init(&conf);
	mbedtls_x509_crt_init(&cas);
	mbedtls_x509_crt_init(&own);
	mbedtls_pk_init(&pk);
	mbedtls_entropy_init(&entropy);
	mbedtls_ctr_drbg_init(&drbg);

	if (ca == NULL || mbedtls_x509_crt_parse_file(&cas, ca) != 0) {
		snprintf(out, len, "cannot read the CA file %s",
		    ca != NULL ? ca : "(none given)");
		found = 1;
		goto out_free;
	}
	if (cert != NULL && key != NULL &&
	    (mbedtls_x509_crt_parse_file(&own, cert) != 0 ||
	        mbedtls_pk_parse_keyfile(&pk, key, NULL) != 0)) {
		snprintf(out, len,
		    "cannot read the client certificate %s or "
		    "its key",
		    cert);
		found = 1;
		goto out_free;
	}
	if (mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &entropy,
	        (const unsigned char *)"inventory tls_diag", 18) != 0 ||
	    mbedtls_ssl_config_defaults(&conf, MBEDTLS_SSL_IS_CLIENT,
	        MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT) != 0)
		goto out_free;
	/* OPTIONAL: complete the handshake, then read the flags. */
	mbedtls_ssl_conf_authmode(&conf, MBEDTLS_SSL_VERIFY_OPTIONAL);
	mbedtls_ssl_conf_ca_chain(&conf, &cas, NULL);
	mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
	mbedtls_ssl_conf_read_timeout(&conf, (uint32_t)ms_left(deadline));
	if (cert != NULL && key != NULL &&
	    mbedtls_ssl_conf_own_cert(&conf, &own, &pk) != 0)
		goto out_free;
	if (mbedtls_ssl_setup(&ssl, &conf) != 0 ||
	    mbedtls_ssl_set_hostname(&ssl, want) != 0)
		goto out_free;
	if ((peek.net.fd = tcp_connect(host, port, deadline, out, len)) < 0) {
		found = 1;
		goto out_free;
	}
	mbedtls_ssl_set_bio(&ssl, &peek, peek_send, NULL, peek_recv);
	while ((rv = mbedtls_ssl_handshake(&ssl)) != 0) {
		if (rv != MBEDTLS_ERR_SSL_WANT_READ &&
		    rv != MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		if (mono_ns() >= deadline) {
			rv = MBEDTLS_ERR_SSL_TIMEOUT;
			break;
		}
	}
	if (rv != 0) {
		explain_error(
		    &ssl, &peek, rv, cert != NULL, host, port, out, len);
		found = 1;
		goto out_free;
	}
	found = explain_flags(
	    &ssl, mbedtls_ssl_get_verify_result(&ssl), want, ca, out, len);
	(void)mbedtls_ssl_close_notify(&ssl);
out_free:
	mbedtls_net_free(&peek.net);
	mbedtls_ssl_free(&ssl);
	mbedtls_ssl_config_free(&conf);
	mbedtls_x509_crt_free(&cas);
	mbedtls_x509_crt_free(&own);
	mbedtls_pk_free(&pk);
	mbedtls_ctr_drbg_free(&drbg);
	mbedtls_entropy_free(&entropy);
	return found;
}

void
tls_diag_annotate(struct tls_diag *d, char *msg, size_t len, int timeout_ms)
{
	char   found[sizeof(d->cause)] = "";
	size_t used;
	bool   run;

	if (d == NULL || msg == NULL || len == 0)
		return;
	/* One caller diagnoses; the others meanwhile take the last finding
	 * (or none) instead of waiting for it. */
	pthread_mutex_lock(&d->mtx);
	run = !d->running &&
	      (d->when_ns == 0 || mono_ns() - d->when_ns > REUSE_NS);
	if (run)
		d->running = true;
	pthread_mutex_unlock(&d->mtx);
	for (int i = 0; run && i < d->nurls && found[0] == '\0'; i++) {
		char cause[CAUSE_MAX], host[256], port[16];

		if (tls_diag_url(d->urls[i], d->ca, d->cert, d->key, d->name,
		        timeout_ms, cause, sizeof(cause)) &&
		    url_split(d->urls[i], host, sizeof(host), port,
		        sizeof(port)) == 0)
			snprintf(found, sizeof(found),
			    ": TLS handshake with %s:%s failed: %s", host,
			    port, cause);
	}
	pthread_mutex_lock(&d->mtx);
	if (run) {
		memcpy(d->cause, found, sizeof(found));
		d->when_ns = mono_ns();
		d->running = false;
	}
	used = strlen(msg);
	if (d->cause[0] != '\0' && used + 1 < len)
		snprintf(msg + used, len - used, "%s", d->cause);
	pthread_mutex_unlock(&d->mtx);
}
