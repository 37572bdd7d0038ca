/* SPDX-License-Identifier: MIT */
/*
 * The service manager's notification protocol (sd_notify(3)) without
 * libsystemd: one datagram per state change to the AF_UNIX socket named
 * by $NOTIFY_SOCKET (a path, or '@' for an abstract address), as
 * systemd documents it.  READY=1 once inventoryd serves, STOPPING=1 when it
 * starts to drain, WATCHDOG=1 from a thread of its own while $WATCHDOG_USEC
 * asks for it and the caller's progress test passes.  Without
 * $NOTIFY_SOCKET every function does nothing, so a manual run or a
 * Type=simple unit behave as before.
 */
#ifndef INVENTORY_NOTIFY_H
#define INVENTORY_NOTIFY_H

#include <stdbool.h>

/* Send `state` ("READY=1", "STOPPING=1", several lines allowed) to
 * $NOTIFY_SOCKET.  0 when sent or when there is no $NOTIFY_SOCKET; -1
 * when sending failed (errno set; the caller logs it, nothing else
 * depends on it).  Thread-safe. */
int notify_send(const char *state);

/* The watchdog test: true while the service makes progress.  Called from
 * the watchdog thread only, every half watchdog interval. */
typedef bool (*notify_alive_fn)(void *arg);

/* When $WATCHDOG_USEC is set (and $WATCHDOG_PID, if set, is this
 * process), start a thread sending WATCHDOG=1 every half interval for as
 * long as alive(arg) says true; once it says false the pings stop and the
 * service manager ends the process.  0 (also when no watchdog is asked
 * for), or -1 when the thread cannot start.  arg is borrowed until
 * notify_watchdog_stop(). */
int notify_watchdog_start(notify_alive_fn alive, void *arg);

/* Stop and join the watchdog thread, if any.  Safe to call always. */
void notify_watchdog_stop(void);

#endif
