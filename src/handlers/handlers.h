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
 * Each RPC's row (rpc.h) holds its two halves next to its database work;
 * the rows live with their family: product_read.c (GetProduct,
 * BatchGetProducts, ListProducts), product_write.c (UpdateStock,
 * CreateProduct, AdjustStock), orders.c (ReserveStock).
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

/* Fill a wire Product from a stored one.  `out` borrows p's strings, so p
 * must outlive it. */
void handler_product_to_wire(
    const struct product *p, Inventory__V1__Product *out);

/* Why one item of a failed reservation failed, in one line (orders.c);
 * dispatch names every failing item with it in ErrorDetails. */
void reserve_item_message(
    const struct reserve_item *item, char *buf, size_t cap);

/* ---- shared between the handler files (common.c) ---------------------- */

/* The common part of every finish: false on OK; else true, with a reason
 * for the failure in op->message unless one is there. */
bool handler_failed(struct op *op);

/* INVALID_ARGUMENT with `why` in op->message. */
enum code handler_invalid(struct op *op, const char *why);

/* A required id field s into canonical form in id. */
enum code handler_prepare_id(
    struct op *op, const char *s, char id[PRODUCT_ID_LEN + 1]);

/* A required stock field into op->stock. */
enum code handler_prepare_stock(
    struct op *op, protobuf_c_boolean has, int64_t stock);

/* Pack a reply message whose one field, *slot, is the product p. */
void handler_pack_product(ProtobufCMessage *resp,
    Inventory__V1__Product **slot, const struct product *p,
    ProtobufCBuffer *reply);

/* A ListProducts page token: opaque to callers (AIP-158), it names the
 * last product of the page (page_token.c). */
enum { PAGE_TOKEN_MAX = 64 };
void page_token_encode(
    const char id[PRODUCT_ID_LEN + 1], char out[PAGE_TOKEN_MAX + 1]);
/* true and the product id in `id` for a token page_token_encode() made. */
bool page_token_decode(const char *token, char id[PRODUCT_ID_LEN + 1]);

#endif
