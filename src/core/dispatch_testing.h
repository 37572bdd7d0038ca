/* SPDX-License-Identifier: MIT */
/*
 * dispatch's entry points for tests, fuzz targets and tools, apart from
 * the server's path (dispatch.h): one call's envelope decoded alone, and
 * the whole path for one frame on the calling thread, each call run
 * alone on a store (dispatch_testing.c).  The server never calls them
 * (dispatch.c decodes with dispatch_decode() internally).
 */
#ifndef INVENTORY_CORE_DISPATCH_TESTING_H
#define INVENTORY_CORE_DISPATCH_TESTING_H

#include <stddef.h>
#include <stdint.h>

#include "core/dispatch.h"
#include "inventory/v1/service.pb-c.h"

struct store;

/* A request decoded as far as the envelope goes (one call). */
struct dispatch_request {
	Inventory__V1__Request *env; /* owned: free with _fini */
	int method; /* index in the method table, -1 if unknown */
	ProtobufCMessage *payload; /* owned: the typed request message */
};

/* Decode one call's envelope and payload.  Returns OK, or
 * INVALID_ARGUMENT / UNIMPLEMENTED with a reason in msg.  req is always
 * safe to _fini. */
enum code dispatch_decode(const uint8_t *buf, size_t len,
    struct dispatch_request *req, char *msg, size_t msglen);

void dispatch_request_fini(struct dispatch_request *req);

/* The whole path for one frame on the calling thread, each pending call
 * run alone on st (NULL: the database is unavailable): for tests, fuzzing
 * and tools.  Returns the reply's length, written to reply (cap bytes; a
 * reply that does not fit is replaced by RESOURCE_EXHAUSTED). */
size_t dispatch_handle(struct store *st, const uint8_t *buf, size_t len,
    uint64_t received_ns, uint8_t *reply, size_t cap);

#endif
