/*
 * Private to src/store: what store.c (the per-worker connection) and
 * migrate.c (the one-shot schema migration) share.  Includes libpq, so it
 * must never be included from outside src/store.
 */
#ifndef INVENTORY_STORE_INTERNAL_H
#define INVENTORY_STORE_INTERNAL_H

#include <stdint.h>

#include <libpq-fe.h>

/* Connect with our defaults (connect_timeout=3, application_name=
 * inventoryd, TCP keepalives, tcp_user_timeout=10000, client_encoding=
 * UTF8) placed before `conninfo`, which libpq expands (expand_dbname), so
 * every value the user gives wins.  A default whose PG* environment
 * variable is set (PGCONNECT_TIMEOUT, PGAPPNAME, PGCLIENTENCODING) is left
 * out, so the environment keeps working as libpq documents.  NULL or ""
 * conninfo: libpq's PG* variables alone.  Blocks up to the connect
 * timeout.  Returns NULL only when out of memory; otherwise check
 * PQstatus() and PQfinish() the result in every case. */
PGconn *store_pq_connect(const char *conninfo);

/* log_warn() one line "<what>: <libpq's text>", taken from `res` if it
 * has an error message, else from the connection.  `res` may be NULL. */
void store_pq_log(const char *what, const PGconn *conn, const PGresult *res);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t store_now_ns(void);

#endif
