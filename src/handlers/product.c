/* SPDX-License-Identifier: MIT */
/*
 * Handlers of the product RPCs: GetProduct, UpdateStock, CreateProduct,
 * BatchGetProducts, AdjustStock and ListProducts (see handlers.h for the
 * prepare/finish split; ReserveStock is in orders.c).
 *
 * prepare checks every field (proto2 presence: absent strings are NULL,
 * absent numbers have has_<field> == 0) and hands the executor canonical
 * values only.  finish turns the executor's outcome into the reply: the
 * packed message on OK, a one-line reason otherwise; for ABORTED the
 * dispatcher adds the latest product from op->product.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers.h"
#include "handlers/validate.h"
#include "ops/metrics.h"

/* A one-line reason for a code that has nothing more specific. */
static void
set_generic_message(struct op *op)
{
	const char *msg;

	switch (op->code) {
	case CODE_UNAVAILABLE:
		msg = "database unavailable, try again";
		break;
	case CODE_DEADLINE_EXCEEDED:
		msg = "deadline exceeded in the database";
		break;
	case CODE_INVALID_ARGUMENT:
		msg = "invalid argument: rejected by the database";
		break;
	case CODE_ALREADY_EXISTS:
		snprintf(op->message, sizeof(op->message),
		    "request_id %s was already used for a different call",
		    op->request_id != NULL ? op->request_id : "");
		return;
	case CODE_NOT_FOUND:
		snprintf(op->message, sizeof(op->message),
		    "product %s not found", op->id);
		return;
	default:
		msg = "internal error";
		break;
	}
	snprintf(op->message, sizeof(op->message), "%s", msg);
}

bool
handler_failed(struct op *op)
{
	if (op->code == CODE_OK)
		return false;
	if (op->message[0] == '\0')
		set_generic_message(op);
	return true;
}

static enum code
invalid(struct op *op, const char *why)
{
	snprintf(op->message, sizeof(op->message), "%s", why);
	return CODE_INVALID_ARGUMENT;
}

/* A required id field into canonical form. */
static enum code
prepare_id(struct op *op, const char *s, char id[PRODUCT_ID_LEN + 1])
{
	if (s == NULL)
		return invalid(op, "id: required");
	if (!validate_uuid(s, id))
		return invalid(op, "id: not a valid UUID");
	return CODE_OK;
}

static enum code
prepare_stock(struct op *op, protobuf_c_boolean has, int64_t stock)
{
	if (!has)
		return invalid(op, "stock: required");
	if (!validate_stock(stock)) {
		snprintf(op->message, sizeof(op->message),
		    "stock: must be between 0 and %d", PRODUCT_STOCK_MAX);
		return CODE_INVALID_ARGUMENT;
	}
	op->stock = stock;
	return CODE_OK;
}

/* Pack a reply message whose one field, *slot, is the product p. */
static void
pack_product(ProtobufCMessage *resp, Inventory__V1__Product **slot,
    const struct product *p, ProtobufCBuffer *reply)
{
	Inventory__V1__Product wire;

	handler_product_to_wire(p, &wire);
	*slot = &wire;
	protobuf_c_message_pack_to_buffer(resp, reply);
	*slot = NULL;
}

void
handler_product_to_wire(const struct product *p, Inventory__V1__Product *out)
{
	inventory__v1__product__init(out);
	/* protobuf-c's fields are not const, but packing only reads them. */
	out->id                = (char *)p->id;
	out->name              = (char *)p->name;
	out->has_stock         = 1;
	out->stock             = p->stock;
	out->price             = (char *)p->price;
	out->has_version       = 1;
	out->version           = p->version;
	out->has_created_at_us = 1;
	out->created_at_us     = p->created_at_us;
	out->has_updated_at_us = 1;
	out->updated_at_us     = p->updated_at_us;
}

/* ---- GetProduct ------------------------------------------------------- */

static enum code
get_prepare(const ProtobufCMessage *req, struct op *op)
{
	const Inventory__V1__GetProductRequest *r =
	    (const Inventory__V1__GetProductRequest *)req;

	op->kind = OP_READ;
	return prepare_id(op, r->id, op->id);
}

static void
get_finish(struct op *op, ProtobufCBuffer *reply)
{
	Inventory__V1__GetProductResponse resp =
	    INVENTORY__V1__GET_PRODUCT_RESPONSE__INIT;

	if (handler_failed(op))
		return;
	pack_product(&resp.base, &resp.product, &op->product, reply);
}

/* ---- UpdateStock ------------------------------------------------------ */

static enum code
update_prepare(const ProtobufCMessage *req, struct op *op)
{
	const Inventory__V1__UpdateStockRequest *r =
	    (const Inventory__V1__UpdateStockRequest *)req;
	enum code rc;

	op->kind = OP_WRITE;
	if ((rc = prepare_id(op, r->id, op->id)) != CODE_OK ||
	    (rc = prepare_stock(op, r->has_stock, r->stock)) != CODE_OK)
		return rc;
	if (!r->has_expected_version)
		return invalid(op, "expected_version: required");
	if (!validate_expected_version(r->expected_version))
		return invalid(op, "expected_version: must be at least 1");
	op->expected_version = r->expected_version;
	return CODE_OK;
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
	pack_product(&resp.base, &resp.product, &op->product, reply);
}

/* ---- CreateProduct ---------------------------------------------------- */

static enum code
create_prepare(const ProtobufCMessage *req, struct op *op)
{
	const Inventory__V1__CreateProductRequest *r =
	    (const Inventory__V1__CreateProductRequest *)req;
	enum code rc;

	op->kind = OP_CREATE;
	if (r->name == NULL)
		return invalid(op, "name: required");
	if (!validate_name(r->name)) {
		snprintf(op->message, sizeof(op->message),
		    "name: must be 1..%d bytes of UTF-8 without control "
		    "characters",
		    PRODUCT_NAME_MAX);
		return CODE_INVALID_ARGUMENT;
	}
	if ((rc = prepare_stock(op, r->has_stock, r->stock)) != CODE_OK)
		return rc;
	if (r->price == NULL)
		return invalid(op, "price: required");
	if (!validate_price(r->price))
		return invalid(op,
		    "price: must be a decimal >= 0 with at most 10 integer "
		    "and 2 fraction digits, e.g. \"19.90\"");
	op->name  = r->name;
	op->price = r->price;
	return CODE_OK;
}

static void
create_finish(struct op *op, ProtobufCBuffer *reply)
{
	Inventory__V1__CreateProductResponse resp =
	    INVENTORY__V1__CREATE_PRODUCT_RESPONSE__INIT;

	if (handler_failed(op))
		return;
	pack_product(&resp.base, &resp.product, &op->product, reply);
}

/* ---- BatchGetProducts (AIP-231) --------------------------------------- */

enum { BATCH_GET_MAX = 1000 };

static enum code
batch_get_prepare(const ProtobufCMessage *req, struct op *op)
{
	const Inventory__V1__BatchGetProductsRequest *r =
	    (const Inventory__V1__BatchGetProductsRequest *)req;

	op->kind = OP_READ_MANY;
	if (r->n_ids == 0)
		return invalid(op, "ids: at least one id is required");
	if (r->n_ids > BATCH_GET_MAX) {
		snprintf(op->message, sizeof(op->message),
		    "ids: at most %d ids per call, not %zu", BATCH_GET_MAX,
		    r->n_ids);
		return CODE_INVALID_ARGUMENT;
	}
	if ((op->ids = calloc(r->n_ids, sizeof(*op->ids))) == NULL) {
		snprintf(op->message, sizeof(op->message), "out of memory");
		return CODE_RESOURCE_EXHAUSTED;
	}
	op->nids = r->n_ids;
	for (size_t i = 0; i < r->n_ids; i++) {
		if (r->ids[i] == NULL ||
		    !validate_uuid(r->ids[i], op->ids[i])) {
			snprintf(op->message, sizeof(op->message),
			    "ids[%zu]: not a valid UUID", i);
			return CODE_INVALID_ARGUMENT;
		}
	}
	return CODE_OK;
}

static void
batch_get_finish(struct op *op, ProtobufCBuffer *reply)
{
	Inventory__V1__BatchGetProductsResponse resp =
	    INVENTORY__V1__BATCH_GET_PRODUCTS_RESPONSE__INIT;
	Inventory__V1__Product  *wire;
	Inventory__V1__Product **ptrs;

	if (handler_failed(op))
		return;
	wire = calloc(op->nids, sizeof(*wire));
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	ptrs = calloc(op->nids, sizeof(*ptrs));
	if (wire == NULL || ptrs == NULL) {
		op->code = CODE_RESOURCE_EXHAUSTED;
		snprintf(op->message, sizeof(op->message), "out of memory");
		goto out_free;
	}
	for (size_t i = 0; i < op->nids; i++) {
		handler_product_to_wire(&op->products[i], &wire[i]);
		ptrs[i] = &wire[i];
	}
	resp.n_products = op->nids;
	resp.products   = ptrs;
	protobuf_c_message_pack_to_buffer(&resp.base, reply);
out_free:
	free(ptrs);
	free(wire);
}

/* ---- AdjustStock ------------------------------------------------------ */

static enum code
adjust_prepare(const ProtobufCMessage *req, struct op *op)
{
	const Inventory__V1__AdjustStockRequest *r =
	    (const Inventory__V1__AdjustStockRequest *)req;
	enum code rc;

	op->kind = OP_ADJUST;
	if ((rc = prepare_id(op, r->id, op->id)) != CODE_OK)
		return rc;
	if (!r->has_delta)
		return invalid(op, "delta: required");
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
			return invalid(
			    op, "expected_version: must be at least 1");
		op->expected_version = r->expected_version;
	}
	return CODE_OK;
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
	pack_product(&resp.base, &resp.product, &op->product, reply);
}

/* ---- ListProducts (AIP-158) ------------------------------------------- */

static enum code
list_prepare(const ProtobufCMessage *req, struct op *op)
{
	const Inventory__V1__ListProductsRequest *r =
	    (const Inventory__V1__ListProductsRequest *)req;

	op->kind      = OP_LIST;
	op->page_size = LIST_DEFAULT;
	if (r->has_page_size && r->page_size < 0)
		return invalid(op, "page_size: must not be negative");
	if (r->has_page_size && r->page_size > 0)
		op->page_size =
		    r->page_size > LIST_MAX ? LIST_MAX : r->page_size;
	op->id[0] = '\0';
	if (r->page_token != NULL && r->page_token[0] != '\0' &&
	    !page_token_decode(r->page_token, op->id))
		return invalid(
		    op, "page_token: not a token this service gave out");
	return CODE_OK;
}

static void
list_finish(struct op *op, ProtobufCBuffer *reply)
{
	Inventory__V1__ListProductsResponse resp =
	    INVENTORY__V1__LIST_PRODUCTS_RESPONSE__INIT;
	char                     token[PAGE_TOKEN_MAX + 1] = "";
	Inventory__V1__Product  *wire                      = NULL;
	Inventory__V1__Product **ptrs                      = NULL;

	if (handler_failed(op))
		return;
	if (op->nproducts > 0) {
		wire = calloc(op->nproducts, sizeof(*wire));
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointers */
		ptrs = calloc(op->nproducts, sizeof(*ptrs));
		if (wire == NULL || ptrs == NULL) {
			op->code = CODE_RESOURCE_EXHAUSTED;
			snprintf(
			    op->message, sizeof(op->message), "out of memory");
			goto out_free;
		}
	}
	for (size_t i = 0; i < op->nproducts; i++) {
		handler_product_to_wire(&op->products[i], &wire[i]);
		ptrs[i] = &wire[i];
	}
	if (op->more && op->nproducts > 0)
		page_token_encode(op->products[op->nproducts - 1].id, token);
	resp.n_products      = op->nproducts;
	resp.products        = ptrs;
	resp.next_page_token = token;
	protobuf_c_message_pack_to_buffer(&resp.base, reply);
out_free:
	free(ptrs);
	free(wire);
}

/* ---- the table -------------------------------------------------------- */

/* In the order of the proto's `service InventoryService`; dispatch checks
 * the names against protoc-c's descriptor at start-up. */
const struct handler handler_table[] = {
	{ "GetProduct", false, get_prepare, get_finish },
	{ "UpdateStock", true, update_prepare, update_finish },
	{ "CreateProduct", true, create_prepare, create_finish },
	{ "BatchGetProducts", false, batch_get_prepare, batch_get_finish },
	{ "AdjustStock", true, adjust_prepare, adjust_finish },
	{ "ReserveStock", true, reserve_prepare, reserve_finish },
	{ "ListProducts", false, list_prepare, list_finish },
};
const size_t handler_count = sizeof(handler_table) / sizeof(handler_table[0]);
_Static_assert(
    sizeof(handler_table) / sizeof(handler_table[0]) == METRICS_RPCS,
    "handler_table needs one row per rpc of service InventoryService");
