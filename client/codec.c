/*
 * codec: the wire code of libinventory (see codec.h).
 *
 * Requests are encoded in two steps: the typed request message is packed
 * into a scratch buffer, then the Request envelope carrying it as its
 * payload is packed into the caller's buffer.  Replies are decoded the
 * other way round, and everything the caller keeps is copied out of the
 * unpacked protobuf-c structs into fixed-size inventory_* fields, so no
 * protobuf-c memory outlives a call.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "inventory/v1/service.pb-c.h"

/* Small typed requests are packed on the stack; bigger ones on the heap. */
#define CODEC_SCRATCH 512

static const char *const method_names[] = {
	[CODEC_GET_PRODUCT]  = "/inventory.v1.InventoryService/GetProduct",
	[CODEC_UPDATE_STOCK] = "/inventory.v1.InventoryService/UpdateStock",
	[CODEC_CREATE_PRODUCT] =
	    "/inventory.v1.InventoryService/CreateProduct",
};

const char *
codec_method_name(enum codec_method method)
{
	if ((unsigned)method >= sizeof(method_names) / sizeof(method_names[0]))
		return NULL;
	return method_names[method];
}

inventory_code
codec_code_from_wire(uint32_t wire)
{
	if (wire > (uint32_t)INVENTORY_UNAUTHENTICATED)
		return INVENTORY_UNKNOWN;
	return (inventory_code)wire;
}

int
codec_copy_str(char *dst, size_t dstsz, const char *src)
{
	size_t n;

	if (src == NULL)
		src = "";
	n = strnlen(src, dstsz);
	if (n < dstsz) {
		memcpy(dst, src, n + 1);
		return 1;
	}
	/* Truncated: back off over UTF-8 continuation bytes so a multi-byte
	 * character is never cut in half.  src[n] is the first byte dropped;
	 * if it continues a character, that character starts earlier. */
	n = dstsz - 1;
	while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
		n--;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

/* Fill out from an unpacked Product; absent fields become 0 or "". */
static void
product_from_pb(const Inventory__V1__Product *pb, inventory_product *out)
{
	memset(out, 0, sizeof(*out));
	codec_copy_str(out->id, sizeof(out->id), pb->id);
	codec_copy_str(out->name, sizeof(out->name), pb->name);
	codec_copy_str(out->price, sizeof(out->price), pb->price);
	out->stock         = pb->has_stock ? pb->stock : 0;
	out->version       = pb->has_version ? pb->version : 0;
	out->created_at_us = pb->has_created_at_us ? pb->created_at_us : 0;
	out->updated_at_us = pb->has_updated_at_us ? pb->updated_at_us : 0;
}

inventory_code
codec_product_decode(const uint8_t *buf, size_t len, inventory_product *out)
{
	Inventory__V1__Product *pb;

	memset(out, 0, sizeof(*out));
	pb = inventory__v1__product__unpack(NULL, len, buf);
	if (pb == NULL)
		return INVENTORY_INTERNAL;
	product_from_pb(pb, out);
	inventory__v1__product__free_unpacked(pb, NULL);
	return INVENTORY_OK;
}

/* The typed request messages, initialised from req.  Exactly one member
 * is used, selected by req->method; `msg` points at it. */
struct typed_request {
	union {
		Inventory__V1__GetProductRequest    get;
		Inventory__V1__UpdateStockRequest   update;
		Inventory__V1__CreateProductRequest create;
	} u;
	const ProtobufCMessage *msg;
};

/* Build the typed request for req in *t.  Returns 0, or -1 for an unknown
 * method.  The strings stay req's: protobuf-c only reads them. */
static int
typed_request_init(const struct codec_request *req, struct typed_request *t)
{
	switch (req->method) {
	case CODEC_GET_PRODUCT:
		inventory__v1__get_product_request__init(&t->u.get);
		t->u.get.id = (char *)req->u.get.id;
		t->msg      = &t->u.get.base;
		return 0;
	case CODEC_UPDATE_STOCK:
		inventory__v1__update_stock_request__init(&t->u.update);
		t->u.update.id                   = (char *)req->u.update.id;
		t->u.update.has_stock            = 1;
		t->u.update.stock                = req->u.update.stock;
		t->u.update.has_expected_version = 1;
		t->u.update.expected_version = req->u.update.expected_version;
		t->msg                       = &t->u.update.base;
		return 0;
	case CODEC_CREATE_PRODUCT:
		inventory__v1__create_product_request__init(&t->u.create);
		t->u.create.name      = (char *)req->u.create.name;
		t->u.create.has_stock = 1;
		t->u.create.stock     = req->u.create.stock;
		t->u.create.price     = (char *)req->u.create.price;
		t->msg                = &t->u.create.base;
		return 0;
	}
	return -1;
}

/* The envelope for req around a payload of payload_len bytes at payload
 * (which may be NULL when only the size is wanted). */
static void
envelope_init(const struct codec_request *req, const uint8_t *payload,
    size_t payload_len, Inventory__V1__Request *env)
{
	inventory__v1__request__init(env);
	env->method         = (char *)codec_method_name(req->method);
	env->request_id     = (char *)req->request_id;
	env->has_timeout_ms = 1;
	env->timeout_ms     = req->timeout_ms;
	env->has_payload    = 1;
	env->payload.len    = payload_len;
	env->payload.data   = (uint8_t *)payload;
}

size_t
codec_request_size(const struct codec_request *req)
{
	struct typed_request   t;
	Inventory__V1__Request env;

	if (typed_request_init(req, &t) != 0)
		return 0;
	envelope_init(
	    req, NULL, protobuf_c_message_get_packed_size(t.msg), &env);
	return inventory__v1__request__get_packed_size(&env);
}

size_t
codec_request_encode(const struct codec_request *req, uint8_t *buf, size_t cap)
{
	struct typed_request   t;
	Inventory__V1__Request env;
	uint8_t                scratch[CODEC_SCRATCH];
	uint8_t               *payload = scratch;
	size_t                 payload_len;
	size_t                 n = 0;

	if (typed_request_init(req, &t) != 0)
		return 0;
	payload_len = protobuf_c_message_get_packed_size(t.msg);
	if (payload_len > sizeof(scratch) &&
	    (payload = malloc(payload_len)) == NULL)
		return 0;
	protobuf_c_message_pack(t.msg, payload);
	envelope_init(req, payload, payload_len, &env);
	if (inventory__v1__request__get_packed_size(&env) <= cap)
		n = inventory__v1__request__pack(&env, buf);
	if (payload != scratch)
		free(payload);
	return n;
}

inventory_code
codec_request_encode_alloc(
    const struct codec_request *req, uint8_t **out, size_t *out_len)
{
	size_t   size;
	uint8_t *buf;

	if ((size = codec_request_size(req)) == 0)
		return INVENTORY_INVALID_ARGUMENT;
	if ((buf = malloc(size)) == NULL)
		return INVENTORY_RESOURCE_EXHAUSTED;
	if (codec_request_encode(req, buf, size) != size) {
		free(buf);
		return INVENTORY_RESOURCE_EXHAUSTED;
	}
	*out     = buf;
	*out_len = size;
	return INVENTORY_OK;
}

/* Mark out as a protocol error: the bytes did not make sense. */
static inventory_code
reply_malformed(struct codec_reply *out, const char *why)
{
	out->code        = INVENTORY_INTERNAL;
	out->has_product = 0;
	snprintf(out->message, sizeof(out->message), "%s: %s", CODEC_MALFORMED,
	    why);
	return INVENTORY_INTERNAL;
}

/* Unpack the typed reply of method from payload and copy its product.
 * Returns 0, or -1 if it does not decode or carries no product. */
static int
typed_reply_decode(enum codec_method method, const ProtobufCBinaryData *p,
    inventory_product *out)
{
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage                 *msg;
	const Inventory__V1__Product     *product = NULL;

	switch (method) {
	case CODEC_GET_PRODUCT:
		desc = &inventory__v1__get_product_response__descriptor;
		break;
	case CODEC_UPDATE_STOCK:
		desc = &inventory__v1__update_stock_response__descriptor;
		break;
	case CODEC_CREATE_PRODUCT:
		desc = &inventory__v1__create_product_response__descriptor;
		break;
	default:
		return -1;
	}
	msg = protobuf_c_message_unpack(desc, NULL, p->len, p->data);
	if (msg == NULL)
		return -1;
	/* All three replies are { optional Product product = 1; }. */
	switch (method) {
	case CODEC_GET_PRODUCT:
		product = ((Inventory__V1__GetProductResponse *)msg)->product;
		break;
	case CODEC_UPDATE_STOCK:
		product = ((Inventory__V1__UpdateStockResponse *)msg)->product;
		break;
	case CODEC_CREATE_PRODUCT:
		product =
		    ((Inventory__V1__CreateProductResponse *)msg)->product;
		break;
	}
	if (product != NULL)
		product_from_pb(product, out);
	protobuf_c_message_free_unpacked(msg, NULL);
	return product != NULL ? 0 : -1;
}

inventory_code
codec_reply_decode(enum codec_method method, const uint8_t *buf, size_t len,
    struct codec_reply *out)
{
	static const uint8_t     empty[1] = { 0 };
	Inventory__V1__Response *res;
	inventory_code           rv = INVENTORY_OK;

	memset(out, 0, sizeof(*out));
	if (codec_method_name(method) == NULL)
		return reply_malformed(out, "unknown method");
	res = inventory__v1__response__unpack(NULL, len, buf ? buf : empty);
	if (res == NULL)
		return reply_malformed(out, "not a Response envelope");

	out->code = codec_code_from_wire(res->has_code ? res->code : 0);
	codec_copy_str(out->message, sizeof(out->message), res->message);
	codec_copy_str(
	    out->request_id, sizeof(out->request_id), res->request_id);
	if (res->has_code && res->code > (uint32_t)INVENTORY_UNAUTHENTICATED) {
		/* Keep the number: a newer server's code is still news. */
		char text[sizeof(out->message) + 32];

		snprintf(text, sizeof(text), "unknown status code %u: %s",
		    (unsigned)res->code, out->message);
		codec_copy_str(out->message, sizeof(out->message), text);
	}

	if (out->code == INVENTORY_OK) {
		if (!res->has_payload)
			rv = reply_malformed(out, "OK without payload");
		else if (typed_reply_decode(
		             method, &res->payload, &out->product) != 0)
			rv = reply_malformed(out, "bad payload");
		else
			out->has_product = 1;
	} else if (res->details != NULL) {
		if (res->details->has_current_version)
			out->current_version = res->details->current_version;
		if (res->details->current != NULL) {
			product_from_pb(res->details->current, &out->current);
			out->has_current = 1;
		}
	}
	inventory__v1__response__free_unpacked(res, NULL);
	return rv;
}
