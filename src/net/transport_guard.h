/* SPDX-License-Identifier: MIT */
/*
 * The listener guard: part of the transport (it speaks nng), kept in its
 * own file because it exists only to work around a bug.
 *
 * nng 1.5.2, Debian's, can stop accepting on an ipc:// or tls+tcp://
 * listener for good (nanomsg/nng#1518, fixed upstream in 1.6 by #1519).
 * The listener's accept loop (src/core/listener.c) restarts after every
 * failed connection except one that failed with NNG_ECLOSED or
 * NNG_ECANCELED, which it takes for its own close; the transport reports
 * a connection that failed during negotiation through that same accept,
 * so a peer whose stream failed with NNG_ECLOSED ends the loop: the
 * listener still accepts TCP connections and completes TLS and SP
 * handshakes, but no pipe ever reaches the socket, so every new client
 * hangs.  NNG_ECLOSED comes from a stream the peer closed (ipc://) or
 * from EPIPE (posix errno table), e.g. a TLS record written to a peer
 * that left mid-handshake.
 *
 * Detection, earliest first:
 *  - nng's listener statistics (nng_stats_get(), every WATCH_MS): the
 *    accept loop bumps one error counter per failed connection; ECLOSED
 *    lands in "other", ECANCELED in "canceled".  A dead loop bumps nothing
 *    any more, so a counter that moves after such an event proves the
 *    loop alive (no probe needed); if nothing moves within COOLDOWN_MS
 *    (nng pauses 100 ms after an unknown error) the guard probes.
 *    "canceled" on a live listener means its loop stopped: certain.
 *  - a probe: a real handshake (TLS without verification for tls+tcp://,
 *    raw bytes for ipc://), then the SP header both ways, and the pipe
 *    must be attached within ATTACH_WAIT_MS.  A listener that requires
 *    client certificates cannot be probed that way (the probe has none):
 *    its probe is a handshake without a certificate, which a live
 *    listener refuses and counts ("auth"); a dead one counts nothing.
 *  - the same probe of every listener every BACKSTOP_MS regardless.
 * A wedged listener is closed and listened again on the same URL (same
 * TLS configuration).  Closing it also closes the connections accepted
 * through it (nng closes a listener's pipes); clients redial, and a REQ
 * client resends what was in flight on the lost connection.  Each repair
 * is one warning line (rate-limited) with how long after the first sign
 * the listener was serving again.  The counters also give the server's
 * only view of failed handshakes (nng reports no peer and no reason): a
 * line at most every FAIL_LOG_S seconds per listener sums them up.
 * tcp:// listeners see NNG_ECONNSHUT instead and are not guarded.
 */
#ifndef INVENTORY_TRANSPORT_GUARD_H
#define INVENTORY_TRANSPORT_GUARD_H

#include <stdbool.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

struct guard;

/* Start guarding listeners[0..n-1] of sock, created from urls[0..n-1]
 * (borrowed: both arrays must outlive the guard); tls is the tls+tcp://
 * listeners' configuration (NULL: none), held by the guard to listen
 * again; client_certs says that configuration requires client
 * certificates.  The guard may replace an element of listeners[] while
 * it runs; after guard_stop() the array is stable again.  Returns 0, or
 * -1 (nothing started) when out of memory. */
int guard_start(struct guard **out, nng_socket sock, char *const *urls,
    nng_listener *listeners, int n, nng_tls_config *tls, bool client_certs);

/* Stop the guard's thread; listeners[] is stable afterwards.  NULL is a
 * no-op. */
void guard_stop(struct guard *g);

/* Free the guard.  Call after the socket is closed: nng may still be
 * running the pipe callback, which uses the guard, until then.  NULL is a
 * no-op. */
void guard_free(struct guard *g);

#endif
