/* SPDX-License-Identifier: MIT */
/*
 * The request path of inventoryd, wired: transport (nng) -> dispatch
 * (decode, validate, deadline) -> executors (database) -> dispatch (pack)
 * -> transport.  It holds no logic of its own beyond handing a frame from
 * one stage to the next.
 */
#ifndef INVENTORY_SERVER_H
#define INVENTORY_SERVER_H

#include <stddef.h>

struct config;
struct server;

/* Start the executors, then listen.  Returns 0, or -1 with a reason in
 * errbuf (nothing left running). */
int server_start(struct server **out, const struct config *cfg, char *errbuf,
    size_t errlen);

/* The hard frame limit for --max-frame: frames over it are not read and
 * close their connection (nng's NNG_OPT_RECVMAXSZ). */
size_t server_hard_frame(size_t max_frame);

/* The calls queued for the executors and the calls they are running
 * (executor_load()), for the watchdog.  Thread-safe, lock-free. */
void server_load(const struct server *s, size_t *queued, size_t *running);

/* Drain: answer every frame received, stop the executors, free.  NULL is
 * a no-op. */
void server_stop(struct server *s);

#endif
