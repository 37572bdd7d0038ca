/* SPDX-License-Identifier: MIT */
/*
 * Test support: where the fixtures' server and database are, and small
 * helpers shared by the test programs.
 *
 * The ctest fixtures (tests/CMakeLists.txt) write, under $INVENTORY_TESTENV:
 *   server.env  INVENTORY_SERVER=ipc://..., INVENTORY_SERVER_TCP=tcp://...
 *   pg/env      export INVENTORY_DB='...' (and PG* variables)
 * An environment variable of the same name overrides the file, so a test
 * can also be pointed at a server started by hand.
 */
#ifndef INVENTORY_TESTENV_H
#define INVENTORY_TESTENV_H

#include <stddef.h>
#include <stdint.h>

/* The value of KEY: from the environment, else from the fixtures' files
 * (server.env, then pg/env).  Returns a static copy, or NULL if unknown. */
const char *testenv_get(const char *key);

/* testenv_get("INVENTORY_SERVER"), failing the test when unknown. */
const char *testenv_server(void);

/* testenv_get("INVENTORY_SERVER_TCP"), falling back to testenv_server(). */
const char *testenv_server_tcp(void);

/* A fresh random canonical lower-case UUID into buf (>= 37 bytes). */
void testenv_uuid(char *buf);

/* A fresh unique request id "t-<pid>-<counter>-<random>" into buf
 * (>= 48 bytes).  Thread-safe. */
void testenv_request_id(char *buf, size_t len);

/* A TCP port on 127.0.0.1 that nobody listens on right now (the
 * kernel's pick), or -1.  Raced, like tests/support/port.sh's port_free:
 * a test running in parallel may bind it first, so whoever starts a
 * server on it starts again on another port when the server exits and
 * testenv_log_in_use() says that was why (at most TESTENV_PORT_TRIES
 * times). */
int testenv_free_port(void);
enum { TESTENV_PORT_TRIES = 5 };

/* Whether the file at path says a port was in use ("Address in use"). */
int testenv_log_in_use(const char *path);

/* Microseconds since the Unix epoch. */
long long testenv_now_us(void);

/* The monotonic clock (for elapsed times and deadlines), in nanoseconds
 * and in milliseconds. */
uint64_t  testenv_mono_ns(void);
long long testenv_mono_ms(void);

/* Sleep ms milliseconds (resumed after a signal). */
void testenv_sleep_ms(long ms);

/* Bound what follows: unless called again first, after `seconds` the
 * program writes "watchdog: PROG: WHAT did not finish within N s" to
 * stderr and exits 125.  0 disarms.  Every test program already has two
 * bounds (tests/support/watchdog.c): the whole run (INVENTORY_TEST_TIMEOUT
 * minus 5 s) and exit() (INVENTORY_TEST_EXIT_S, 30 s); use this for a
 * phase of your own, e.g. before a teardown (what is copied).  Not
 * thread-safe: one alarm per process. */
void testenv_watchdog(int seconds, const char *what);

#endif
