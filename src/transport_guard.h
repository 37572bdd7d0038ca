/*
 * The listener guard: part of the transport (it speaks nng), kept in its
 * own file because it exists only to work around a bug.
 *
 * nng 1.5.2, Debian's, stops attaching new connections on an ipc:// or
 * tls+tcp:// listener once one peer disconnects during the SP handshake
 * (nanomsg/nng#1518, fixed upstream in 1.6 by #1519: the stream reports
 * the peer's close as NNG_ECLOSED, which the listener takes for its own
 * close): the listener still answers the handshake, but the pipe never
 * reaches the socket, so every new client hangs.  Any process that
 * connects and closes can cause it (a client that exits with a second
 * connection still negotiating, a client whose TLS handshake fails).  The
 * guard probes each such listener about once a second with a real
 * handshake (TLS without verification for tls+tcp://: it only needs the
 * SP header back) and watches for the pipe to be attached; when the
 * handshake completes but no pipe appears, it closes that listener and
 * listens again on the same URL (with the same TLS configuration).
 * Connections already attached are not affected.  tcp:// listeners see
 * NNG_ECONNSHUT instead and are not affected; a tls+tcp:// listener that
 * requires client certificates cannot be probed (the probe has none) and
 * is left alone.
 */
#ifndef INVENTORY_TRANSPORT_GUARD_H
#define INVENTORY_TRANSPORT_GUARD_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

struct guard;

/* Start guarding listeners[0..n-1] of sock, created from urls[0..n-1]
 * (borrowed: both arrays must outlive the guard); tls is the tls+tcp://
 * listeners' configuration (NULL: none), held by the guard to listen
 * again.  The guard may replace
 * an element of listeners[] while it runs; after guard_stop() the array is
 * stable again.  Returns 0, or -1 (nothing started) when out of memory. */
int guard_start(struct guard **out, nng_socket sock, char *const *urls,
    nng_listener *listeners, int n, nng_tls_config *tls);

/* Stop the probe thread; listeners[] is stable afterwards.  NULL is a
 * no-op. */
void guard_stop(struct guard *g);

/* Free the guard.  Call after the socket is closed: nng may still be
 * running the pipe callback, which uses the guard, until then.  NULL is a
 * no-op. */
void guard_free(struct guard *g);

#endif
