/*
 * The dispatcher: bytes in, bytes out.  It unpacks the Request envelope,
 * finds the method in a table built from protoc-c's service descriptor,
 * unpacks the typed payload, enforces the deadline, calls the handler and
 * packs the Response envelope.  Every decodable request gets a reply;
 * undecodable bytes get INVALID_ARGUMENT.  It is the only place that maps
 * outcomes to metrics and logs conflicts.  No nng, no libpq.
 */
#ifndef INVENTORY_DISPATCH_H
#define INVENTORY_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "code.h"

struct store;

/* Largest reply the dispatcher produces; a reply buffer this big always
 * suffices. */
enum { DISPATCH_REPLY_MAX = 4096 };

/* A request decoded and validated as far as the envelope goes. */
struct dispatch_request {
	Inventory__V1__Request *env; /* owned: free with _fini */
	int method; /* index in the method table, -1 if unknown */
	ProtobufCMessage *payload; /* owned: the typed request message */
};

/* Decode an envelope and its payload.  Returns OK, or INVALID_ARGUMENT /
 * UNIMPLEMENTED with a reason in msg.  req is always safe to _fini. */
enum code dispatch_decode(const uint8_t *buf, size_t len,
    struct dispatch_request *req, char *msg, size_t msglen);

void dispatch_request_fini(struct dispatch_request *req);

/* Handle one request for a worker: decode, run, encode.  `received_ns` is
 * the CLOCK_MONOTONIC time the bytes arrived (the deadline counts from
 * there).  Returns the reply's length in `reply` (cap >= DISPATCH_REPLY_MAX).
 */
size_t dispatch_handle(struct store *st, const uint8_t *buf, size_t len,
    uint64_t received_ns, uint8_t *reply, size_t cap);

/* Requests longer than max_request bytes are answered RESOURCE_EXHAUSTED
 * without being decoded.  Set once at start-up; 0 means no limit. */
void dispatch_set_max_request(size_t max_request);

/* Monotonic clock in nanoseconds. */
uint64_t dispatch_now_ns(void);

#endif
