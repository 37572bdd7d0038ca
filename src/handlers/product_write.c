/* SPDX-License-Identifier: MIT */
/*
 * The product writes, one row each (rpc.h): UpdateStock, CreateProduct
 * and AdjustStock.  UpdateStock joins a write round's shared transaction
 * of conditional updates (RPC_BATCH_UPDATES: rows locked in id order, one
 * round trip); CreateProduct and AdjustStock run on their own in their
 * round.  Each says which product it writes and when a repeat of its
 * request id is the same call, so that the planner keeps writes of one
 * product in arrival order and a repeat takes the first call's outcome.
 */
#include <inttypes.h>
#include <stdio.h>
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

/* ---- UpdateStock ------------------------------------------------------ */

static enum code
update_prepare(const ProtobufCMessage *req, struct op *op)
{
	const Inventory__V1__UpdateStockRequest *r =
	    (const Inventory__V1__UpdateStockRequest *)req;
	enum code rc;

	if ((rc = handler_prepare_id(op, r->id, op->id)) != CODE_OK ||
	    (rc = handler_prepare_stock(op, r->has_stock, r->stock)) !=
	        CODE_OK)
		return rc;
	if (!r->has_expected_version)
		return handler_invalid(op, "expected_version: required");
	if (!validate_expected_version(r->expected_version))
		return handler_invalid(
		    op, "expected_version: must be at least 1");
	op->expected_version = r->expected_version;
	return CODE_OK;
}

static enum code
update_run(struct store *st, struct op *op, const struct store_req *req)
{
	return store_product_update_stock(st, req, op->request_id, op->id,
	    op->stock, op->expected_version, &op->product);
}

static bool
update_same(const struct op *a, const struct op *b)
{
	return strcmp(a->id, b->id) == 0 && a->stock == b->stock &&
	       a->expected_version == b->expected_version;
}

static void
update_fill(const struct op *op, struct store_write *w)
{
	w->id               = op->id;
	w->stock            = op->stock;
	w->expected_version = op->expected_version;
}

static void
update_finish(struct op *op, ProtobufCBuffer *reply)
{
	Inventory__V1__UpdateStockResponse resp =
	    INVENTORY__V1__UPDATE_STOCK_RESPONSE__INIT;

	if (op->code == CODE_ABORTED && op->message[0] == '\0')
		snprintf(op->message, sizeof(op->message),
		    "version conflict: expected %" PRId64
		    ", current is %" PRId64,
		    op->expected_version, op->product.version);
	/* The store fills the product when the version is from the future. */
	if (op->code == CODE_INVALID_ARGUMENT && op->message[0] == '\0' &&
	    op->product.version >= 1 &&
	    op->product.version < op->expected_version)
		snprintf(op->message, sizeof(op->message),
		    "expected_version: %" PRId64
		    " is newer than the current version %" PRId64,
		    op->expected_version, op->product.version);
	if (handler_failed(op))
		return;
	handler_pack_product(&resp.base, &resp.product, &op->product, reply);
}

const struct rpc rpc_update_stock = {
	.name           = "UpdateStock",
	.writes         = true,
	.prepare        = update_prepare,
	.finish         = update_finish,
	.run            = update_run,
	.reply_products = rpc_one_product,
	.same_call      = update_same,
	.written        = rpc_the_id,
	.batch          = RPC_BATCH_UPDATES,
	.update_fill    = update_fill,
};

/* ---- CreateProduct ---------------------------------------------------- */

static enum code
create_prepare(const ProtobufCMessage *req, struct op *op)
{
	const Inventory__V1__CreateProductRequest *r =
	    (const Inventory__V1__CreateProductRequest *)req;
	enum code rc;

	if (r->name == NULL)
		return handler_invalid(op, "name: required");
	if (!validate_name(r->name)) {
		snprintf(op->message, sizeof(op->message),
		    "name: must be 1..%d bytes of UTF-8 without control "
		    "characters",
		    PRODUCT_NAME_MAX);
		return CODE_INVALID_ARGUMENT;
	}
	if ((rc = handler_prepare_stock(op, r->has_stock, r->stock)) !=
	    CODE_OK)
		return rc;
	if (r->price == NULL)
		return handler_invalid(op, "price: required");
	if (!validate_price(r->price))
		return handler_invalid(op,
		    "price: must be a decimal >= 0 with at most 10 integer "
		    "and 2 fraction digits, e.g. \"19.90\"");
	op->name  = r->name;
	op->price = r->price;
	return CODE_OK;
}

static enum code
create_run(struct store *st, struct op *op, const struct store_req *req)
{
	return store_product_create(st, req, op->request_id, op->name,
	    op->stock, op->price, &op->product);
}

static bool
create_same(const struct op *a, const struct op *b)
{
	return a->stock == b->stock && same_str(a->name, b->name) &&
	       same_str(a->price, b->price);
}

static const char *
create_written(const struct op *op, size_t i)
{
	(void)op;
	(void)i;
	return NULL; /* a new product: no other call of the frame has it */
}

static void
create_finish(struct op *op, ProtobufCBuffer *reply)
{
	Inventory__V1__CreateProductResponse resp =
	    INVENTORY__V1__CREATE_PRODUCT_RESPONSE__INIT;

	if (handler_failed(op))
		return;
	handler_pack_product(&resp.base, &resp.product, &op->product, reply);
}

const struct rpc rpc_create_product = {
	.name           = "CreateProduct",
	.writes         = true,
	.prepare        = create_prepare,
	.finish         = create_finish,
	.run            = create_run,
	.reply_products = rpc_one_product,
	.same_call      = create_same,
	.written        = create_written,
};

/* ---- AdjustStock ------------------------------------------------------ */

static enum code
adjust_prepare(const ProtobufCMessage *req, struct op *op)
{
	const Inventory__V1__AdjustStockRequest *r =
	    (const Inventory__V1__AdjustStockRequest *)req;
	enum code rc;

	if ((rc = handler_prepare_id(op, r->id, op->id)) != CODE_OK)
		return rc;
	if (!r->has_delta)
		return handler_invalid(op, "delta: required");
	if (r->delta == 0 || r->delta < -PRODUCT_STOCK_MAX ||
	    r->delta > PRODUCT_STOCK_MAX) {
		snprintf(op->message, sizeof(op->message),
		    "delta: must be non-zero and between -%d and %d",
		    PRODUCT_STOCK_MAX, PRODUCT_STOCK_MAX);
		return CODE_INVALID_ARGUMENT;
	}
	op->delta = r->delta;
	if (r->has_expected_version) {
		if (!validate_expected_version(r->expected_version))
			return handler_invalid(
			    op, "expected_version: must be at least 1");
		op->expected_version = r->expected_version;
	}
	return CODE_OK;
}

static enum code
adjust_run(struct store *st, struct op *op, const struct store_req *req)
{
	return store_product_adjust(st, req, op->request_id, op->id, op->delta,
	    op->expected_version, &op->product);
}

static bool
adjust_same(const struct op *a, const struct op *b)
{
	return strcmp(a->id, b->id) == 0 && a->delta == b->delta &&
	       a->expected_version == b->expected_version;
}

static void
adjust_finish(struct op *op, ProtobufCBuffer *reply)
{
	Inventory__V1__AdjustStockResponse resp =
	    INVENTORY__V1__ADJUST_STOCK_RESPONSE__INIT;

	if (op->message[0] == '\0') {
		switch (op->code) {
		case CODE_FAILED_PRECONDITION:
			snprintf(op->message, sizeof(op->message),
			    "insufficient stock: %" PRId64 " in stock, "
			    "delta %" PRId64,
			    op->product.stock, op->delta);
			break;
		case CODE_OUT_OF_RANGE:
			snprintf(op->message, sizeof(op->message),
			    "stock would exceed %d: %" PRId64
			    " in stock, delta %" PRId64,
			    PRODUCT_STOCK_MAX, op->product.stock, op->delta);
			break;
		case CODE_ABORTED:
		case CODE_INVALID_ARGUMENT:
			/* As UpdateStock's, when a version was expected. */
			if (op->product.version >= 1)
				snprintf(op->message, sizeof(op->message),
				    "version conflict: expected %" PRId64
				    ", current is %" PRId64,
				    op->expected_version, op->product.version);
			break;
		default:
			break;
		}
	}
	if (handler_failed(op))
		return;
	handler_pack_product(&resp.base, &resp.product, &op->product, reply);
}

const struct rpc rpc_adjust_stock = {
	.name           = "AdjustStock",
	.writes         = true,
	.prepare        = adjust_prepare,
	.finish         = adjust_finish,
	.run            = adjust_run,
	.reply_products = rpc_one_product,
	.same_call      = adjust_same,
	.written        = rpc_the_id,
};
