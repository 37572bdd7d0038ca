/* SPDX-License-Identifier: MIT */
/*
 * Why a tls+tcp:// connection never comes up (private to libinventory).
 *
 * nng 1.5.2 tells the application nothing about a failed TLS handshake:
 * the dialer just redials, and a call ends "no server connected within N
 * ms", which looks like a dead server when the server's certificate
 * names another host, is signed by another CA, has expired, or the port
 * does not speak TLS at all.  When that happens the library runs one
 * diagnostic handshake of its own with mbedtls (nng's TLS library)
 * directly, with the handle's CA, client certificate and server name, and
 * says what it found: which name did not match and which names the
 * certificate carries, an unknown CA, an expired certificate, a plain
 * (not TLS) listener, a refused connection.
 *
 * Nothing here speaks nng; nothing is exported from the library.
 */
#ifndef INVENTORY_TLS_DIAG_H
#define INVENTORY_TLS_DIAG_H

#include <stddef.h>

#include <inventory/client.h>

struct tls_diag;

/* A diagnosis context for the tls+tcp:// URLs among urls (a
 * comma-separated list) with o's TLS settings (copied: neither needs to
 * outlive it).  NULL when there is none, or when out of memory (then
 * calls simply get no diagnosis).  Free with tls_diag_free(). */
struct tls_diag *tls_diag_create(
    const char *urls, const inventory_client_opts *o);

/* NULL is a no-op. */
void tls_diag_free(struct tls_diag *d);

/* Append to msg (a NUL-terminated string in a buffer of len bytes) why
 * the TLS connections of d fail, when a diagnostic handshake can tell:
 * ": TLS handshake with HOST:PORT failed: CAUSE".  The handshake runs at
 * most once every few seconds per context (later calls reuse its
 * finding) and takes at most timeout_ms (at least 1 s, at most 2 s).
 * Thread-safe: the caller that runs it blocks that long (others take the
 * last finding meanwhile), so call it only on a failure path, never on
 * nng's threads or under a lock.  d NULL: no-op. */
void tls_diag_annotate(
    struct tls_diag *d, char *msg, size_t len, int timeout_ms);

/* One diagnostic handshake with url (tls+tcp://HOST:PORT): the cause in
 * out (len bytes) and 1, or 0 when the handshake and the certificate are
 * fine (the cause is elsewhere) or nothing could be learnt.  ca, cert,
 * key, server_name as in inventory_client_opts (server_name NULL: the
 * URL's host).  For tests. */
int tls_diag_url(const char *url, const char *ca, const char *cert,
    const char *key, const char *server_name, int timeout_ms, char *out,
    size_t len);

#endif
