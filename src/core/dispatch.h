/* SPDX-License-Identifier: MIT */
/*
 * The dispatcher: a frame's bytes in, its calls out as ops, their
 * outcomes back into one reply's bytes.  No nng, no libpq.
 *
 * A frame is one received message: a single Request envelope, or a batch
 * (Request.batch) of several.  dispatch_frame_open() decodes it, finds
 * each call's method in a table indexed like protoc-c's service
 * descriptor, validates it (handlers' prepare) and checks its deadline;
 * calls that need the database are left pending for an executor, the rest
 * are complete at once.  When the last pending call is done the frame's
 * `done` callback runs (on whichever thread finished it), and
 * dispatch_frame_pack() builds the reply.
 *
 * Invariants: every frame gets exactly one reply; bytes that do not decode
 * get INVALID_ARGUMENT (a REP socket must answer or its client hangs); a
 * call whose deadline passed never reaches the database; metrics and the
 * conflict log are written here and only here.
 */
#ifndef INVENTORY_DISPATCH_H
#define INVENTORY_DISPATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include "base/clock.h"
#include "base/code.h"
#include "core/op.h"

struct store;
struct frame;

/* Largest single-call reply; a single GetProduct/UpdateStock/CreateProduct
 * reply always fits.  Batch replies grow as needed. */
enum { DISPATCH_REPLY_MAX = 4096 };

/* Most calls one batch frame may carry (the proto's limit). */
enum { DISPATCH_BATCH_MAX = 1000 };

/* What a call's reply may cost in memory, reserved when its frame is
 * opened (see dispatch_set_reply_limits): a fixed part, plus, per product
 * it may return, its struct product in the op and its largest encoding
 * (a 200-byte name, a 20-digit price, every integer at its widest). */
enum {
	DISPATCH_REPLY_BASE   = 512,
	DISPATCH_PRODUCT_COST = 640,
};

/* Called once per frame when its last call is complete. */
typedef void (*dispatch_done_fn)(struct frame *f, void *arg);

/* Decode the len bytes of a frame that arrived at received_ns
 * (CLOCK_MONOTONIC).  Returns the frame, or NULL only when out of memory.
 * *pending gets the calls that need the database, linked by op->next in
 * arrival order (NULL: none).  The frame stays open until
 * dispatch_frame_release(): call it once the pending ops were handed on,
 * so that `done` cannot run while the caller still uses the frame. */
struct frame *dispatch_frame_open(const uint8_t *buf, size_t len,
    uint64_t received_ns, dispatch_done_fn done, void *arg,
    struct op **pending);

/* The caller is done handing out f's pending ops.  May run `done`. */
void dispatch_frame_release(struct frame *f);

/* An executor finished op (its code and outcome are set).  May run its
 * frame's `done`; op must not be touched afterwards.  Thread-safe. */
void dispatch_op_done(struct op *op);

/* Pack the reply of a complete frame into out; records metrics and logs
 * conflicts.  Returns the bytes appended. */
size_t dispatch_frame_pack(struct frame *f, ProtobufCBuffer *out);

/* A frame-level refusal (RESOURCE_EXHAUSTED when the server is at a
 * limit) packed into out without decoding the frame; records it in the
 * metrics.  Returns the bytes appended.  Thread-safe. */
size_t dispatch_refusal_pack(enum code code, const char *message,
    uint64_t received_ns, ProtobufCBuffer *out);

/* Free a frame and everything it owns.  NULL is a no-op. */
void dispatch_frame_free(struct frame *f);

/* Frames longer than max_request bytes are answered RESOURCE_EXHAUSTED
 * without being decoded.  Set once at start-up; 0 means no limit. */
void dispatch_set_max_request(size_t max_request);

/* Memory for replies: a frame whose calls' replies could take more than
 * per_frame bytes has the calls beyond answered RESOURCE_EXHAUSTED (the
 * first ones run); and while the frames in flight have all_frames bytes
 * reserved, further calls are answered RESOURCE_EXHAUSTED.  Costs are
 * reserved before any I/O from the calls' arguments (a ListProducts of
 * 1000 costs what 1000 products could) and returned when the frame is
 * freed.  Set once at start-up; 0 means no limit. */
void dispatch_set_reply_limits(size_t per_frame, size_t all_frames);

/* Bytes reserved for replies by the frames in flight (for metrics). */
size_t dispatch_reply_reserved(void);

/* Whether a call of f got past the token check (always, without
 * --auth-file): its connection belongs to a caller.  Thread-safe once
 * the frame is open. */
bool dispatch_frame_trusted(const struct frame *f);

/* Check the RPC rows (handlers/rpc.h) against protoc-c's service
 * descriptor, and that every row is complete (rpc_check()); returns 0,
 * or -1 after logging the first mismatch.  Called once at start-up. */
int dispatch_check_table(void);

#endif
