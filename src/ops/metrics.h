/* SPDX-License-Identifier: MIT */
/*
 * Request metrics: counters and a latency histogram keyed by method and
 * status code, updated by the dispatcher only (lock-free, relaxed atomics);
 * the Connect endpoint's own counter (metrics_connect) by http.c only.
 * metrics_log() writes a summary, one line per method and status; main
 * calls it on SIGUSR1 and at shutdown.
 */
#ifndef INVENTORY_METRICS_H
#define INVENTORY_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "inventory/v1/service.pb-c.h"

/* The service's RPCs, counted at compile time from the service stub
 * protoc-c generates (one function pointer per rpc after the base), so an
 * rpc added to the proto resizes the metrics by itself. */
#define METRICS_RPCS                                        \
	((sizeof(Inventory__V1__InventoryService_Service) - \
	     sizeof(ProtobufCService)) /                    \
	    sizeof(void (*)(void)))

enum { METRICS_METHODS = (int)METRICS_RPCS + 1 }; /* + 1: "unknown" */

void metrics_record(int method, int code, uint64_t latency_us);
/* An executor ran `calls` calls as one batch statement. */
void metrics_batch(size_t calls);
/* A batch failed as a whole and its `calls` calls ran one by one. */
void     metrics_fallback(size_t calls);
uint64_t metrics_fallback_count(void);
uint64_t metrics_count(int method, int code);

/* What the server refused or closed to stay within its limits. */
enum metrics_overload {
	METRICS_REFUSED_CALLS,  /* over --max-pending: RESOURCE_EXHAUSTED */
	METRICS_REFUSED_FRAMES, /* over the frames in flight of one
	                           connection: RESOURCE_EXHAUSTED */
	METRICS_REFUSED_CONNS,  /* over --max-connections: closed */
	METRICS_STALLED_CONNS,  /* not reading its replies: closed */
	METRICS_OVERLOAD_KINDS,
};
void     metrics_overload(enum metrics_overload kind, uint64_t n);
uint64_t metrics_overload_count(enum metrics_overload kind);
void     metrics_log(void);
/* A Connect call (--http) was answered: method is its index in the
 * service (-1: unknown, as a refused path), get whether it came by GET,
 * code the Code answered.  Added to by http.c only; a call that reached
 * dispatch is in metrics_record()'s counters too. */
void metrics_connect(int method, int get, int code);

/* A liveness probe (an empty request) was answered. */
void     metrics_probe(void);
uint64_t metrics_probe_count(void);

/* The method's name as the metrics label it ("UpdateStock"; "unknown"
 * for an index outside the service).  Static storage. */
const char *metrics_method_name(int method);

/* What /metrics reports that other modules own, gathered by the caller
 * at scrape time. */
struct metrics_gauges {
	const char *version;       /* inventory_build_info{version} */
	int         db_up;         /* 1 up, 0 down, -1 not known (omitted) */
	int         ready;         /* /readyz: 1, 0, -1 not known (omitted) */
	uint64_t    db_reconnects; /* store_reconnects() */
	size_t      queued;        /* executor_load() */
	size_t      in_flight;     /* executor_load() */
};

/* Write every metric in Prometheus' text exposition format 0.0.4 to out
 * (the counters above, the gauges, the process' own figures from
 * /proc/self).  Only reads: thread-safe, and the request path never waits
 * for it.  Returns 0, or -1 if writing failed. */
int metrics_expose(FILE *out, const struct metrics_gauges *g);

#endif
