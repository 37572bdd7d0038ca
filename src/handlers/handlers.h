/* SPDX-License-Identifier: MIT */
/*
 * The RPC handlers: what each method of InventoryService means, call by
 * call, in two halves around the database work.
 *
 *  - prepare: check every field of the decoded request (a missing field, a
 *    bad UUID, a negative stock, a malformed price are INVALID_ARGUMENT
 *    with a message naming the field) and turn it into an op with
 *    canonical values (lower-case UUID) for the executor.  No I/O.
 *  - finish: after the executor ran the op, explain a failure in
 *    op->message (unless the executor already did) and, on OK, pack the
 *    method's reply message.  No I/O.
 *
 * Handlers never see nng or libpq types, so they are unit-testable without
 * sockets; the store's codes pass through unchanged.
 */
#ifndef INVENTORY_HANDLERS_H
#define INVENTORY_HANDLERS_H

#include <stdbool.h>
#include <stddef.h>

#include <protobuf-c/protobuf-c.h>

#include "base/code.h"
#include "base/product.h"
#include "core/op.h"

/* One row per RPC, in the order of the proto's service declaration. */
struct handler {
	const char *name;   /* the proto's method name, e.g. "GetProduct" */
	bool        writes; /* changes the database: writers only (auth.h) */
	/* Validate req (of the method's input type) into op; OK, or
	 * INVALID_ARGUMENT with op->message set. */
	enum code (*prepare)(const ProtobufCMessage *req, struct op *op);
	/* Pack the reply on OK; otherwise make sure op->message says why. */
	void (*finish)(struct op *op, ProtobufCBuffer *reply);
};

/* The table, indexed like the service descriptor's methods[]. */
extern const struct handler handler_table[];
extern const size_t         handler_count;

/* Fill a wire Product from a stored one.  `out` borrows p's strings, so p
 * must outlive it. */
void handler_product_to_wire(
    const struct product *p, Inventory__V1__Product *out);

/* ---- shared between the handler files -------------------------------- */

/* The common part of every finish: false on OK; else true, with a reason
 * for the failure in op->message unless one is there (product.c). */
bool handler_failed(struct op *op);

/* ReserveStock's halves (orders.c). */
enum code reserve_prepare(const ProtobufCMessage *req, struct op *op);
void      reserve_finish(struct op *op, ProtobufCBuffer *reply);

/* Why one item of a failed reservation failed, in one line (orders.c). */
void reserve_item_message(
    const struct reserve_item *item, char *buf, size_t cap);

/* A ListProducts page token: opaque to callers (AIP-158), it names the
 * last product of the page (page_token.c). */
enum { PAGE_TOKEN_MAX = 64 };
void page_token_encode(
    const char id[PRODUCT_ID_LEN + 1], char out[PAGE_TOKEN_MAX + 1]);
/* true and the product id in `id` for a token page_token_encode() made. */
bool page_token_decode(const char *token, char id[PRODUCT_ID_LEN + 1]);

#endif
