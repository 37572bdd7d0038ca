/* SPDX-License-Identifier: MIT */
/*
 * ReserveStock's row (rpc.h): several items, all or nothing (see
 * handlers.h for the prepare/finish split, store.h for the transaction).
 * It writes every item's product and runs on its own in its write round;
 * a repeat of its request id with the same items takes the first call's
 * items and products.
 *
 * prepare checks every item and builds the items' canonical text (the
 * request id's fingerprint: a repeat with other items is ALREADY_EXISTS);
 * finish packs the products after the change, or names the first failing
 * item in the message (dispatch adds every failing item to ErrorDetails
 * with reserve_item_message()).
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers.h"
#include "handlers/rpc.h"
#include "handlers/validate.h"
#include "store/store.h"

static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* Bytes of one item's canonical text at most: "<uuid>:v=<i64>,s=<i64>;". */
enum { ITEM_KEY_MAX = PRODUCT_ID_LEN + 6 + 2 * 20 + 2 };

static enum code
item_invalid(struct op *op, size_t i, const char *why)
{
	snprintf(op->message, sizeof(op->message), "items[%zu]: %s", i, why);
	return CODE_INVALID_ARGUMENT;
}

/* One wire item into it, or INVALID_ARGUMENT naming it. */
static enum code
prepare_item(struct op *op, size_t i, const Inventory__V1__ReserveItem *w,
    struct reserve_item *it)
{
	if (w->id == NULL)
		return item_invalid(op, i, "id: required");
	if (!validate_uuid(w->id, it->id))
		return item_invalid(op, i, "id: not a valid UUID");
	if (w->has_quantity) {
		if (w->has_expected_version || w->has_stock)
			return item_invalid(op, i,
			    "either quantity, or expected_version and stock");
		if (w->quantity < 1 || w->quantity > PRODUCT_STOCK_MAX)
			return item_invalid(op, i,
			    "quantity: must be between 1 and 2147483647");
		it->quantity = w->quantity;
		return CODE_OK;
	}
	if (!w->has_expected_version || !w->has_stock)
		return item_invalid(op, i,
		    "quantity, or expected_version and stock, required");
	if (!validate_expected_version(w->expected_version))
		return item_invalid(
		    op, i, "expected_version: must be at least 1");
	if (!validate_stock(w->stock))
		return item_invalid(
		    op, i, "stock: must be between 0 and 2147483647");
	it->expected_version = w->expected_version;
	it->stock            = w->stock;
	return CODE_OK;
}

/* The items as canonical text, in request order (owned by the op). */
static enum code
build_key(struct op *op)
{
	char  *p;
	size_t cap = op->nitems * ITEM_KEY_MAX + 1;

	if ((op->items_key = malloc(cap)) == NULL) {
		snprintf(op->message, sizeof(op->message), "out of memory");
		return CODE_RESOURCE_EXHAUSTED;
	}
	p = op->items_key;
	for (size_t i = 0; i < op->nitems; i++) {
		const struct reserve_item *it = &op->items[i];
		size_t left = cap - (size_t)(p - op->items_key);

		if (it->quantity > 0)
			p += snprintf(p, left, "%s:q=%" PRId64 ";", it->id,
			    it->quantity);
		else
			p += snprintf(p, left,
			    "%s:v=%" PRId64 ",s=%" PRId64 ";", it->id,
			    it->expected_version, it->stock);
	}
	return CODE_OK;
}

static enum code
reserve_prepare(const ProtobufCMessage *req, struct op *op)
{
	const Inventory__V1__ReserveStockRequest *r =
	    (const Inventory__V1__ReserveStockRequest *)req;
	enum code rc;

	if (r->n_items == 0 || r->n_items > RESERVE_MAX) {
		snprintf(op->message, sizeof(op->message),
		    "items: between 1 and %d items, not %zu", RESERVE_MAX,
		    r->n_items);
		return CODE_INVALID_ARGUMENT;
	}
	if ((op->items = calloc(r->n_items, sizeof(*op->items))) == NULL) {
		snprintf(op->message, sizeof(op->message), "out of memory");
		return CODE_RESOURCE_EXHAUSTED;
	}
	op->nitems = r->n_items;
	for (size_t i = 0; i < r->n_items; i++) {
		if ((rc = prepare_item(op, i, r->items[i], &op->items[i])) !=
		    CODE_OK)
			return rc;
		/* One write per product: a product twice is ambiguous. */
		for (size_t j = 0; j < i; j++) {
			if (strcmp(op->items[j].id, op->items[i].id) == 0) {
				snprintf(op->message, sizeof(op->message),
				    "items[%zu]: product %s is already "
				    "items[%zu]",
				    i, op->items[i].id, j);
				return CODE_INVALID_ARGUMENT;
			}
		}
	}
	return build_key(op);
}

/* On OK the products after it; on an item's failure the first failing
 * item's product stands for the call (ErrorDetails). */
static enum code
reserve_run(struct store *st, struct op *op, const struct store_req *req)
{
	enum code rc;

	if ((op->products = calloc(op->nitems, sizeof(*op->products))) == NULL)
		return CODE_RESOURCE_EXHAUSTED;
	rc = store_reserve(st, req, op->request_id, op->items_key, op->items,
	    op->nitems, op->products);
	for (size_t i = 0; rc != CODE_OK && i < op->nitems; i++) {
		if (op->items[i].code != CODE_OK) {
			op->product = op->items[i].product;
			break;
		}
	}
	return rc;
}

static size_t
reserve_products(const struct op *op)
{
	return op->nitems + 1; /* the items, and the one that failed */
}

static bool
reserve_same(const struct op *a, const struct op *b)
{
	return same_str(a->items_key, b->items_key);
}

static const char *
reserve_written(const struct op *op, size_t i)
{
	return i < op->nitems ? op->items[i].id : NULL;
}

/* A repeat has the same items in the same order (reserve_same): it takes
 * each item's outcome and the products after the change. */
static void
reserve_repeat_take(struct op *op, const struct op *leader)
{
	for (size_t i = 0; i < op->nitems; i++) {
		op->items[i].code    = leader->items[i].code;
		op->items[i].product = leader->items[i].product;
	}
	if (leader->products == NULL || op->nitems == 0)
		return;
	if ((op->products = calloc(op->nitems, sizeof(*op->products))) ==
	    NULL) {
		op->code = CODE_RESOURCE_EXHAUSTED;
		snprintf(op->message, sizeof(op->message), "out of memory");
		return;
	}
	memcpy(op->products, leader->products,
	    op->nitems * sizeof(*op->products));
	for (size_t i = 0; i < op->nitems; i++)
		op->products[i].prev_stock = -1;
}

void
reserve_item_message(const struct reserve_item *it, char *buf, size_t cap)
{
	switch (it->code) {
	case CODE_NOT_FOUND:
		snprintf(buf, cap, "product %s not found", it->id);
		break;
	case CODE_FAILED_PRECONDITION:
		snprintf(buf, cap,
		    "insufficient stock: %" PRId64 " wanted, %" PRId64
		    " in stock",
		    it->quantity, it->product.stock);
		break;
	case CODE_ABORTED:
		snprintf(buf, cap,
		    "version conflict: expected %" PRId64
		    ", current is %" PRId64,
		    it->expected_version, it->product.version);
		break;
	case CODE_INVALID_ARGUMENT:
		snprintf(buf, cap,
		    "expected_version: %" PRId64
		    " is newer than the current version %" PRId64,
		    it->expected_version, it->product.version);
		break;
	default:
		snprintf(buf, cap, "%s", code_name(it->code));
		break;
	}
}

static void
reserve_finish(struct op *op, ProtobufCBuffer *reply)
{
	Inventory__V1__ReserveStockResponse resp =
	    INVENTORY__V1__RESERVE_STOCK_RESPONSE__INIT;
	Inventory__V1__Product  *wire;
	Inventory__V1__Product **ptrs;
	char                     why[200];

	if (op->code != CODE_OK && op->message[0] == '\0') {
		for (size_t i = 0; i < op->nitems; i++) {
			if (op->items[i].code == CODE_OK)
				continue;
			reserve_item_message(&op->items[i], why, sizeof(why));
			snprintf(op->message, sizeof(op->message),
			    "items[%zu]: %s; nothing was reserved", i, why);
			break;
		}
	}
	if (handler_failed(op))
		return;
	wire = calloc(op->nitems, sizeof(*wire));
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	ptrs = calloc(op->nitems, sizeof(*ptrs));
	if (wire == NULL || ptrs == NULL || op->products == NULL) {
		op->code = CODE_RESOURCE_EXHAUSTED;
		snprintf(op->message, sizeof(op->message), "out of memory");
		goto out_free;
	}
	for (size_t i = 0; i < op->nitems; i++) {
		handler_product_to_wire(&op->products[i], &wire[i]);
		ptrs[i] = &wire[i];
	}
	resp.n_products = op->nitems;
	resp.products   = ptrs;
	protobuf_c_message_pack_to_buffer(&resp.base, reply);
out_free:
	free(ptrs);
	free(wire);
}

const struct rpc rpc_reserve_stock = {
	.name           = "ReserveStock",
	.writes         = true,
	.prepare        = reserve_prepare,
	.finish         = reserve_finish,
	.run            = reserve_run,
	.reply_products = reserve_products,
	.same_call      = reserve_same,
	.written        = reserve_written,
	.repeat_take    = reserve_repeat_take,
};
