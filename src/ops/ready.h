/* SPDX-License-Identifier: MIT */
/*
 * Readiness: whether this inventoryd can serve, for GET /readyz and
 * inventory_db_up.  One thread of its own runs the store's probe (its own
 * database connection, see store_probe_check()) once a second and keeps
 * the last verdict, so a health check costs a lock and a copy, never
 * blocks nng's threads, and never takes an executor's connection; the
 * verdict is at most about a second old.
 */
#ifndef INVENTORY_READY_H
#define INVENTORY_READY_H

#include <stddef.h>

struct ready;

/* Start the probing thread for conninfo (copied).  Returns 0, or -1 (out
 * of memory, no thread) with nothing running. */
int ready_start(struct ready **out, const char *conninfo);

/* Stop the thread (waiting for a probe under way) and free.  NULL is a
 * no-op. */
void ready_stop(struct ready *r);

/* The last verdict: 1 ready, 0 not ready, -1 not checked yet; a one-line
 * reason in why ("ok" when ready).  *db_up (if not NULL) gets whether the
 * database answered at the last check (1, 0; -1 not checked yet), ready
 * or not: a schema behind the binary is not a database that is down.
 * Thread-safe. */
int ready_get(struct ready *r, char *why, size_t cap, int *db_up);

#endif
