/* SPDX-License-Identifier: MIT */
/*
 * Support for the raw-socket tests in tests/hostile/: a bare nng REQ
 * socket, envelopes built with the generated protobuf-c code, and tiny
 * check macros that print the expression and go on counting failures
 * (the test's exit status is the verdict).  Single-threaded.
 */
#ifndef INVENTORY_HOSTILE_H
#define INVENTORY_HOSTILE_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "inventory/v1/service.pb-c.h"

#define HOSTILE_PREFIX "/inventory.v1.InventoryService/"

/* Failures so far; main returns non-zero when it is not 0. */
extern int hostile_failures;

#define CHECK(cond)                                                      \
	do {                                                             \
		if (!(cond)) {                                           \
			hostile_failures++;                              \
			fprintf(stderr, "%s:%d: FAILED: %s\n", __FILE__, \
			    __LINE__, #cond);                            \
		}                                                        \
	} while (0)

/* The status name of a wire code ("INVALID_ARGUMENT"), or "?". */
const char *hostile_code_name(uint32_t code);

/* A REQ socket dialled (synchronously) to url with the given receive
 * timeout.  Exits the test when it cannot be opened or connected. */
nng_socket hostile_open(const char *url, int recv_timeout_ms);

/* Send len bytes and wait for the reply.  Returns 0 and *out (free with
 * inventory__v1__response__free_unpacked) or an nng error; a reply that is
 * not a Response is NNG_EPROTO. */
int hostile_call(
    nng_socket s, const void *buf, size_t len, Inventory__V1__Response **out);

/* A malloc'd envelope for method (the short name, prefixed here unless it
 * starts with '/' or is NULL) around payload (NULL: no payload field). */
uint8_t *hostile_envelope(const char *method, const char *request_id,
    const ProtobufCMessage *payload, size_t *len);

/* CreateProduct over s; returns 0 and fills id (>= 37 bytes), else -1. */
int hostile_create(nng_socket s, const char *name, int64_t stock,
    const char *price, char *id);

/* GetProduct of id over s: the reply code (or 1000 + nng error), and
 * *version when OK. */
int hostile_get(nng_socket s, const char *id, int64_t *version);

/* True if a GetProduct of a random id gets NOT_FOUND (or OK) within
 * timeout_ms on a fresh socket to url: the server still serves. */
int hostile_served(const char *url, int timeout_ms);

/* A connected stream socket (plain BSD, no nng) to a tcp:// or ipc://
 * URL, or -1. */
int hostile_raw_connect(const char *url);

/* The same with SO_RCVBUF set to rcvbuf bytes before connecting (tcp://
 * only; 0: the system's default): a peer that stops reading then fills
 * the server's side after a few kilobytes instead of megabytes. */
int hostile_raw_connect_rcvbuf(const char *url, int rcvbuf);

/* Over a raw connection to url: complete the SP handshake as a REQ peer,
 * then send one frame announcing and carrying len bytes of body.  Returns
 * 1 if the server then closed the connection without replying within
 * timeout_ms, 0 if it replied or kept it open, -1 if the handshake
 * failed. */
int hostile_raw_oversize(const char *url, size_t len, int timeout_ms);

/* ---- raw SP framing (no nng), for clients nng would not let us be ---- */

/* A raw connection to url with the SP handshake of a REQ peer done:
 * the fd, or -1. */
int hostile_raw_open(const char *url, int timeout_ms);

/* hostile_raw_open() over hostile_raw_connect_rcvbuf(). */
int hostile_raw_open_rcvbuf(const char *url, int timeout_ms, int rcvbuf);

/* One REQ frame (8-byte length, 4-byte request id with the top bit set,
 * body) as bytes: malloc'd, *len set. */
uint8_t *hostile_raw_frame(
    uint32_t reqid, const uint8_t *body, size_t body_len, size_t *len);

/* Read one reply frame within timeout_ms: 0 and *reqid, *out (malloc'd
 * body; free it) and *out_len; -1 on EOF, error or timeout. */
int hostile_raw_read(
    int fd, int timeout_ms, uint32_t *reqid, uint8_t **out, size_t *out_len);

/* True if the peer closed fd (EOF or reset) within timeout_ms, reading
 * and discarding whatever arrives first. */
int hostile_raw_closed(int fd, int timeout_ms);

/* ---- a private inventoryd ---------------------------------------------- */

struct hostile_server {
	int  pid;
	char dir[64]; /* temporary directory: log, kept on failure */
	char url[64]; /* tcp://127.0.0.1:PORT */
};

/* Start `inventoryd` (INVENTORY_INVENTORYD) on a free loopback port with
 * the fixtures' database, --workers 2 and the extra NULL-terminated
 * arguments; returns when it serves.  Exits the test on failure. */
void hostile_spawn(struct hostile_server *srv, const char *const *args);

/* hostile_spawn() with --http http://127.0.0.1:PORT too (before args),
 * PORT free and stored in *http_port; a port another test takes before
 * the server binds it is retried on another (5 attempts). */
void hostile_spawn_http(
    struct hostile_server *srv, const char *const *args, int *http_port);

/* A loopback TCP port nobody listens on right now (raced: see
 * hostile_spawn_http). */
int hostile_free_port(void);

/* SIGTERM it and wait (at most 20 s): 1 if it exited 0.  The log is
 * printed when it did not, and its directory removed when it did (kept
 * if HOSTILE_KEEP is set in the environment). */
int hostile_stop(struct hostile_server *srv);

/* Lines of the server's log containing needle. */
int hostile_log_count(const struct hostile_server *srv, const char *needle);

/* Open descriptors of process pid (/proc/PID/fd), or -1. */
int hostile_fd_count(int pid);

/* The end of a test on a private server: SIGTERM must end it with exit 0
 * within 15 s (systemd's stop budget); nng released; PASS or FAIL
 * printed.  Returns the test's exit status. */
int hostile_finish(struct hostile_server *srv);

/* Milliseconds on the monotonic clock. */
long long hostile_now_ms(void);

#endif
