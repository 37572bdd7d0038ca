/*
 * Handlers of the product RPCs: GetProduct, UpdateStock, CreateProduct.
 *
 * Each one checks every field of its decoded request (proto2 presence:
 * absent strings are NULL, absent numbers have has_<field> == 0), calls
 * the store with canonical values only (lower-case UUID), and on OK packs
 * its reply into `reply`.  Any other outcome leaves `reply` untouched and
 * explains itself in call->message; ABORTED also puts the latest product
 * in call->current.  No nng, no libpq: the store's codes pass through
 * unchanged, so nothing is translated twice.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "handlers/handlers.h"
#include "store/store.h"
#include "validate.h"

static const char REQUEST_ID_INVALID[] =
    "request_id: must be 1..64 printable ASCII characters";

/* A one-line reason for a code the store returned, when the handler has
 * nothing more specific to say. */
static void
set_store_message(struct call *call, enum code rc)
{
	const char *msg;

	switch (rc) {
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
		snprintf(call->message, sizeof(call->message),
		    "request_id %s was already used for a different call",
		    call->request_id != NULL ? call->request_id : "");
		return;
	default:
		msg = "internal error";
		break;
	}
	snprintf(call->message, sizeof(call->message), "%s", msg);
}

static void
set_not_found(struct call *call, const char *id)
{
	snprintf(
	    call->message, sizeof(call->message), "product %s not found", id);
}

/* True (with call->message set) unless req is of the descriptor's type:
 * the dispatcher guarantees it, a wrong one is a bug. */
static bool
wrong_type(struct call *call, const ProtobufCMessage *req,
    const ProtobufCMessageDescriptor *want)
{
	if (req != NULL && req->descriptor == want)
		return false;
	snprintf(call->message, sizeof(call->message),
	    "internal error: wrong request type");
	return true;
}

/* Pack a reply message whose one field, *slot, is the product p. */
static enum code
reply_product(ProtobufCMessage *resp, Inventory__V1__Product **slot,
    const struct product *p, ProtobufCBuffer *reply)
{
	Inventory__V1__Product wire;

	handler_product_to_wire(p, &wire);
	*slot = &wire;
	protobuf_c_message_pack_to_buffer(resp, reply);
	*slot = NULL;
	return CODE_OK;
}

/* Check the envelope's request id (NULL: none, which is allowed). */
static bool
request_id_ok(struct call *call)
{
	if (call->request_id == NULL || validate_request_id(call->request_id))
		return true;
	snprintf(
	    call->message, sizeof(call->message), "%s", REQUEST_ID_INVALID);
	return false;
}

/* Check a required id field into canonical form. */
static bool
id_ok(struct call *call, const char *s, char id[PRODUCT_ID_LEN + 1])
{
	if (s == NULL) {
		snprintf(call->message, sizeof(call->message), "id: required");
		return false;
	}
	if (!validate_uuid(s, id)) {
		snprintf(call->message, sizeof(call->message),
		    "id: not a valid UUID");
		return false;
	}
	return true;
}

static bool
stock_ok(struct call *call, protobuf_c_boolean has, int64_t stock)
{
	if (!has) {
		snprintf(
		    call->message, sizeof(call->message), "stock: required");
		return false;
	}
	if (!validate_stock(stock)) {
		snprintf(call->message, sizeof(call->message),
		    "stock: must be between 0 and %d", PRODUCT_STOCK_MAX);
		return false;
	}
	return true;
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

enum code
handler_get_product(
    struct call *call, const ProtobufCMessage *req, ProtobufCBuffer *reply)
{
	const Inventory__V1__GetProductRequest *r =
	    (const Inventory__V1__GetProductRequest *)req;
	Inventory__V1__GetProductResponse resp =
	    INVENTORY__V1__GET_PRODUCT_RESPONSE__INIT;
	struct product p = { 0 };
	char           id[PRODUCT_ID_LEN + 1];
	enum code      rc;

	if (wrong_type(
	        call, req, &inventory__v1__get_product_request__descriptor))
		return CODE_INTERNAL;
	if (!id_ok(call, r->id, id))
		return CODE_INVALID_ARGUMENT;

	rc = store_product_get(call->store, id, &p);
	if (rc == CODE_NOT_FOUND) {
		set_not_found(call, id);
		return rc;
	}
	if (rc != CODE_OK) {
		set_store_message(call, rc);
		return rc;
	}
	return reply_product(&resp.base, &resp.product, &p, reply);
}

enum code
handler_update_stock(
    struct call *call, const ProtobufCMessage *req, ProtobufCBuffer *reply)
{
	const Inventory__V1__UpdateStockRequest *r =
	    (const Inventory__V1__UpdateStockRequest *)req;
	Inventory__V1__UpdateStockResponse resp =
	    INVENTORY__V1__UPDATE_STOCK_RESPONSE__INIT;
	struct product p = { 0 };
	char           id[PRODUCT_ID_LEN + 1];
	enum code      rc;

	if (wrong_type(
	        call, req, &inventory__v1__update_stock_request__descriptor))
		return CODE_INTERNAL;
	if (!id_ok(call, r->id, id) || !stock_ok(call, r->has_stock, r->stock))
		return CODE_INVALID_ARGUMENT;
	if (!r->has_expected_version) {
		snprintf(call->message, sizeof(call->message),
		    "expected_version: required");
		return CODE_INVALID_ARGUMENT;
	}
	if (!validate_expected_version(r->expected_version)) {
		snprintf(call->message, sizeof(call->message),
		    "expected_version: must be at least 1");
		return CODE_INVALID_ARGUMENT;
	}
	if (!request_id_ok(call))
		return CODE_INVALID_ARGUMENT;

	rc = store_product_update_stock(call->store, call->request_id, id,
	    r->stock, r->expected_version, &p);
	switch (rc) {
	case CODE_OK:
		break;
	case CODE_ABORTED:
		call->current = p;
		snprintf(call->message, sizeof(call->message),
		    "version conflict: expected %" PRId64
		    ", current is %" PRId64,
		    r->expected_version, p.version);
		return rc;
	case CODE_NOT_FOUND:
		set_not_found(call, id);
		return rc;
	case CODE_INVALID_ARGUMENT:
		/* The store fills p when the version is from the future. */
		if (p.version >= 1 && p.version < r->expected_version) {
			snprintf(call->message, sizeof(call->message),
			    "expected_version: %" PRId64
			    " is newer than the current version %" PRId64,
			    r->expected_version, p.version);
			return rc;
		}
		set_store_message(call, rc);
		return rc;
	default:
		set_store_message(call, rc);
		return rc;
	}
	return reply_product(&resp.base, &resp.product, &p, reply);
}

enum code
handler_create_product(
    struct call *call, const ProtobufCMessage *req, ProtobufCBuffer *reply)
{
	const Inventory__V1__CreateProductRequest *r =
	    (const Inventory__V1__CreateProductRequest *)req;
	Inventory__V1__CreateProductResponse resp =
	    INVENTORY__V1__CREATE_PRODUCT_RESPONSE__INIT;
	struct product p = { 0 };
	enum code      rc;

	if (wrong_type(
	        call, req, &inventory__v1__create_product_request__descriptor))
		return CODE_INTERNAL;
	if (r->name == NULL) {
		snprintf(
		    call->message, sizeof(call->message), "name: required");
		return CODE_INVALID_ARGUMENT;
	}
	if (!validate_name(r->name)) {
		snprintf(call->message, sizeof(call->message),
		    "name: must be 1..%d bytes of UTF-8 without control "
		    "characters",
		    PRODUCT_NAME_MAX);
		return CODE_INVALID_ARGUMENT;
	}
	if (!stock_ok(call, r->has_stock, r->stock))
		return CODE_INVALID_ARGUMENT;
	if (r->price == NULL) {
		snprintf(
		    call->message, sizeof(call->message), "price: required");
		return CODE_INVALID_ARGUMENT;
	}
	if (!validate_price(r->price)) {
		snprintf(call->message, sizeof(call->message),
		    "price: must be a decimal >= 0 with at most 10 integer "
		    "and 2 fraction digits, e.g. \"19.90\"");
		return CODE_INVALID_ARGUMENT;
	}
	if (!request_id_ok(call))
		return CODE_INVALID_ARGUMENT;

	rc = store_product_create(
	    call->store, call->request_id, r->name, r->stock, r->price, &p);
	if (rc != CODE_OK) {
		set_store_message(call, rc);
		return rc;
	}
	return reply_product(&resp.base, &resp.product, &p, reply);
}
