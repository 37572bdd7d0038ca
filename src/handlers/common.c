/* SPDX-License-Identifier: MIT */
/*
 * What the RPC families' handlers share (handlers.h): the generic reason
 * for a failure, the checks of fields several requests have, and a
 * product packed for the wire.
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

enum code
handler_invalid(struct op *op, const char *why)
{
	snprintf(op->message, sizeof(op->message), "%s", why);
	return CODE_INVALID_ARGUMENT;
}

enum code
handler_prepare_id(struct op *op, const char *s, char id[PRODUCT_ID_LEN + 1])
{
	if (s == NULL)
		return handler_invalid(op, "id: required");
	if (!validate_uuid(s, id))
		return handler_invalid(op, "id: not a valid UUID");
	return CODE_OK;
}

enum code
handler_prepare_stock(struct op *op, protobuf_c_boolean has, int64_t stock)
{
	if (!has)
		return handler_invalid(op, "stock: required");
	if (!validate_stock(stock)) {
		snprintf(op->message, sizeof(op->message),
		    "stock: must be between 0 and %d", PRODUCT_STOCK_MAX);
		return CODE_INVALID_ARGUMENT;
	}
	op->stock = stock;
	return CODE_OK;
}

void
handler_pack_product(ProtobufCMessage *resp, Inventory__V1__Product **slot,
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
