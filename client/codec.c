/* SPDX-License-Identifier: MIT */
/*
 * codec: the wire code of libinventory (see codec.h).
 *
 * Requests are encoded in two steps: the typed request message is packed
 * into a scratch buffer, then the Request envelope carrying it as its
 * payload is packed into the caller's buffer.  Replies are decoded the
 * other way round, and everything the caller keeps is copied out of the
 * unpacked protobuf-c structs into fixed-size inventory_* fields, so no
 * protobuf-c memory outlives a call (a decoded batch frame is the one
 * exception: it stays unpacked until its entries were handed out).
 *
 * Batch frames rely on protobuf's wire format: a message is the
 * concatenation of its fields, and a repeated message field is one
 * (tag, length, bytes) record per element.  A Request whose only field is
 * `batch` is therefore just the callers' already-encoded envelopes, each
 * behind a tag and a varint length, which is what protobuf-c itself would
 * write for them.
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
	[CODEC_BATCH_GET_PRODUCTS] =
	    "/inventory.v1.InventoryService/BatchGetProducts",
	[CODEC_ADJUST_STOCK]  = "/inventory.v1.InventoryService/AdjustStock",
	[CODEC_RESERVE_STOCK] = "/inventory.v1.InventoryService/ReserveStock",
	[CODEC_LIST_PRODUCTS] = "/inventory.v1.InventoryService/ListProducts",
};

/* Request.batch is field 5, length-delimited (wire type 2). */
#define CODEC_BATCH_TAG ((5u << 3) | 2u)
/* Request.token is field 6, length-delimited (wire type 2). */
#define CODEC_TOKEN_TAG ((6u << 3) | 2u)
/* Request.timeout_ms: field 3, varint. */
#define CODEC_TIMEOUT_TAG ((3u << 3) | 0u)

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
		Inventory__V1__GetProductRequest       get;
		Inventory__V1__UpdateStockRequest      update;
		Inventory__V1__CreateProductRequest    create;
		Inventory__V1__BatchGetProductsRequest batch_get;
		Inventory__V1__AdjustStockRequest      adjust;
		Inventory__V1__ListProductsRequest     list;
		struct {
			Inventory__V1__ReserveStockRequest msg;
			/* items[i] is item i; ptrs[] what protobuf-c reads */
			Inventory__V1__ReserveItem
			    items[CODEC_RESERVE_ITEMS_MAX];
			Inventory__V1__ReserveItem
			    *ptrs[CODEC_RESERVE_ITEMS_MAX];
		} reserve;
	} u;
	const ProtobufCMessage *msg;
};

/* Build the ReserveStock request of req in *t.  Returns 0, or -1 when
 * the number of items is out of range. */
static int
reserve_request_init(const struct codec_request *req, struct typed_request *t)
{
	size_t n = req->u.reserve.n;

	if (n == 0 || n > CODEC_RESERVE_ITEMS_MAX ||
	    req->u.reserve.items == NULL)
		return -1;
	inventory__v1__reserve_stock_request__init(&t->u.reserve.msg);
	for (size_t i = 0; i < n; i++) {
		const inventory_reserve_item *in  = &req->u.reserve.items[i];
		Inventory__V1__ReserveItem   *pbi = &t->u.reserve.items[i];

		inventory__v1__reserve_item__init(pbi);
		pbi->id = (char *)in->id;
		if (in->quantity != 0) {
			pbi->has_quantity = 1;
			pbi->quantity     = in->quantity;
		} else {
			pbi->has_expected_version = 1;
			pbi->expected_version     = in->expected_version;
			pbi->has_stock            = 1;
			pbi->stock                = in->stock;
		}
		t->u.reserve.ptrs[i] = pbi;
	}
	t->u.reserve.msg.n_items = n;
	t->u.reserve.msg.items   = t->u.reserve.ptrs;
	t->msg                   = &t->u.reserve.msg.base;
	return 0;
}

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
	case CODEC_BATCH_GET_PRODUCTS:
		inventory__v1__batch_get_products_request__init(
		    &t->u.batch_get);
		t->u.batch_get.n_ids = req->u.batch_get.n;
		t->u.batch_get.ids   = (char **)req->u.batch_get.ids;
		t->msg               = &t->u.batch_get.base;
		return 0;
	case CODEC_ADJUST_STOCK:
		inventory__v1__adjust_stock_request__init(&t->u.adjust);
		t->u.adjust.id        = (char *)req->u.adjust.id;
		t->u.adjust.has_delta = 1;
		t->u.adjust.delta     = req->u.adjust.delta;
		/* Absent means "any version"; present, it must be >= 1. */
		t->u.adjust.has_expected_version =
		    req->u.adjust.expected_version != 0;
		t->u.adjust.expected_version = req->u.adjust.expected_version;
		t->msg                       = &t->u.adjust.base;
		return 0;
	case CODEC_RESERVE_STOCK:
		return reserve_request_init(req, t);
	case CODEC_LIST_PRODUCTS:
		inventory__v1__list_products_request__init(&t->u.list);
		t->u.list.has_page_size = req->u.list.page_size != 0;
		t->u.list.page_size     = req->u.list.page_size;
		if (req->u.list.page_token != NULL &&
		    req->u.list.page_token[0] != '\0')
			t->u.list.page_token = (char *)req->u.list.page_token;
		t->msg = &t->u.list.base;
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
	env->has_timeout_ms = !req->no_timeout;
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
	codec_reply_fini(out);
	out->code        = INVENTORY_INTERNAL;
	out->has_product = 0;
	snprintf(out->message, sizeof(out->message), "%s: %s", CODEC_MALFORMED,
	    why);
	return INVENTORY_INTERNAL;
}

/* Copy the n products of a reply into a new array in out.  Returns 0,
 * or -1 when there are none (and empty is 0) or memory ran out. */
static int
products_from_pb(Inventory__V1__Product *const *products, size_t n, int empty,
    struct codec_reply *out)
{
	if (n == 0)
		return empty ? 0 : -1;
	if ((out->products = malloc(n * sizeof(*out->products))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (products[i] == NULL) {
			free(out->products);
			out->products = NULL;
			return -1;
		}
		product_from_pb(products[i], &out->products[i]);
	}
	out->nproducts = n;
	return 0;
}

/* Copy a ListProducts page into out.  Returns 0, or -1. */
static int
list_from_pb(
    const Inventory__V1__ListProductsResponse *r, struct codec_reply *out)
{
	const char *token = r->next_page_token ? r->next_page_token : "";

	if ((out->next_page_token = strdup(token)) == NULL)
		return -1;
	return products_from_pb(r->products, r->n_products, 1, out);
}

/* Copy the per-item errors of a failed ReserveStock into out->items.
 * An item without its index or code is a protocol error (-1). */
static int
items_from_pb(const Inventory__V1__ErrorDetails *d, struct codec_reply *out)
{
	if (d->n_items == 0)
		return 0;
	if ((out->items = calloc(d->n_items, sizeof(*out->items))) == NULL)
		return -1;
	out->nitems = d->n_items;
	for (size_t i = 0; i < d->n_items; i++) {
		const Inventory__V1__ItemError *pb = d->items[i];
		inventory_item_error           *e  = &out->items[i];

		if (pb == NULL || !pb->has_index || !pb->has_code ||
		    pb->code == 0)
			return -1;
		e->index = pb->index;
		e->code  = codec_code_from_wire(pb->code);
		codec_copy_str(e->message, sizeof(e->message), pb->message);
		if (pb->current != NULL)
			product_from_pb(pb->current, &e->current);
		else /* not found: version 0, but say which product */
			codec_copy_str(
			    e->current.id, sizeof(e->current.id), pb->id);
	}
	return 0;
}

/* Unpack the typed reply of method from payload and copy its product(s)
 * into out.  Returns 0, or -1 if it does not decode or carries no
 * product. */
static int
typed_reply_decode(enum codec_method method, const ProtobufCBinaryData *p,
    struct codec_reply *out)
{
	const ProtobufCMessageDescriptor *desc;
	ProtobufCMessage                 *msg;
	const Inventory__V1__Product     *product = NULL;
	int                               rv      = -1;

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
	case CODEC_BATCH_GET_PRODUCTS:
		desc = &inventory__v1__batch_get_products_response__descriptor;
		break;
	case CODEC_ADJUST_STOCK:
		desc = &inventory__v1__adjust_stock_response__descriptor;
		break;
	case CODEC_RESERVE_STOCK:
		desc = &inventory__v1__reserve_stock_response__descriptor;
		break;
	case CODEC_LIST_PRODUCTS:
		desc = &inventory__v1__list_products_response__descriptor;
		break;
	default:
		return -1;
	}
	msg = protobuf_c_message_unpack(desc, NULL, p->len, p->data);
	if (msg == NULL)
		return -1;
	/* The four single replies are { optional Product product = 1; }. */
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
	case CODEC_ADJUST_STOCK:
		product = ((Inventory__V1__AdjustStockResponse *)msg)->product;
		break;
	case CODEC_BATCH_GET_PRODUCTS: {
		Inventory__V1__BatchGetProductsResponse *r = (void *)msg;

		rv = products_from_pb(r->products, r->n_products, 0, out);
		break;
	}
	case CODEC_RESERVE_STOCK: {
		Inventory__V1__ReserveStockResponse *r = (void *)msg;

		rv = products_from_pb(r->products, r->n_products, 0, out);
		break;
	}
	case CODEC_LIST_PRODUCTS:
		rv = list_from_pb(
		    (Inventory__V1__ListProductsResponse *)msg, out);
		break;
	}
	if (product != NULL) {
		product_from_pb(product, &out->product);
		out->has_product = 1;
		rv               = 0;
	}
	protobuf_c_message_free_unpacked(msg, NULL);
	return rv;
}

void
codec_reply_fini(struct codec_reply *r)
{
	if (r == NULL)
		return;
	free(r->products);
	r->products  = NULL;
	r->nproducts = 0;
	free(r->next_page_token);
	r->next_page_token = NULL;
	free(r->items);
	r->items  = NULL;
	r->nitems = 0;
}

/* Fill out (already zeroed) from an unpacked Response to a call of
 * method.  Returns what codec_reply_decode() returns. */
static inventory_code
reply_from_pb(enum codec_method method, const Inventory__V1__Response *res,
    struct codec_reply *out)
{
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
			return reply_malformed(out, "OK without payload");
		if (typed_reply_decode(method, &res->payload, out) != 0)
			return reply_malformed(out, "bad payload");
	} else if (res->details != NULL) {
		if (res->details->has_current_version)
			out->current_version = res->details->current_version;
		if (res->details->current != NULL) {
			product_from_pb(res->details->current, &out->current);
			out->has_current = 1;
		}
		/* Per-item errors belong to ReserveStock only. */
		if (method == CODEC_RESERVE_STOCK &&
		    items_from_pb(res->details, out) != 0)
			return reply_malformed(out, "bad item error");
	}
	return INVENTORY_OK;
}

inventory_code
codec_reply_decode(enum codec_method method, const uint8_t *buf, size_t len,
    struct codec_reply *out)
{
	static const uint8_t     empty[1] = { 0 };
	Inventory__V1__Response *res;
	inventory_code           rv;

	memset(out, 0, sizeof(*out));
	if (codec_method_name(method) == NULL)
		return reply_malformed(out, "unknown method");
	res = inventory__v1__response__unpack(NULL, len, buf ? buf : empty);
	if (res == NULL)
		return reply_malformed(out, "not a Response envelope");
	rv = reply_from_pb(method, res, out);
	inventory__v1__response__free_unpacked(res, NULL);
	return rv;
}

/* Bytes of len as a protobuf varint. */
static size_t
varint_size(size_t len)
{
	size_t n = 1;

	while (len >= 0x80) {
		len >>= 7;
		n++;
	}
	return n;
}

size_t
codec_frame_entry_size(size_t len)
{
	return 1 + varint_size(len) + len;
}

/* Write one length-delimited field (a one-byte tag, the length, the
 * bytes) at dst; returns the bytes written. */
static size_t
field_put(uint8_t *dst, uint8_t tag, const uint8_t *bytes, size_t len)
{
	uint8_t *p = dst;
	size_t   v = len;

	*p++ = tag;
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	memcpy(p, bytes, len);
	return (size_t)(p - dst) + len;
}

size_t
codec_frame_entry_put(uint8_t *dst, const uint8_t *req, size_t len)
{
	return field_put(dst, CODEC_BATCH_TAG, req, len);
}

size_t
codec_timeout_field_size(uint32_t ms)
{
	return 1 + varint_size(ms);
}

size_t
codec_timeout_field_put(uint8_t *dst, uint32_t ms)
{
	uint8_t *p = dst;

	*p++ = CODEC_TIMEOUT_TAG;
	while (ms >= 0x80) {
		*p++ = (uint8_t)(ms | 0x80);
		ms >>= 7;
	}
	*p++ = (uint8_t)ms;
	return (size_t)(p - dst);
}

size_t
codec_frame_entry_put_timed(
    uint8_t *dst, const uint8_t *req, size_t len, uint32_t ms)
{
	size_t   tf = codec_timeout_field_size(ms);
	uint8_t *p  = dst;
	size_t   v  = len + tf;

	*p++ = CODEC_BATCH_TAG;
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	memcpy(p, req, len);
	p += len;
	p += codec_timeout_field_put(p, ms);
	return (size_t)(p - dst);
}

size_t
codec_token_field_size(size_t len)
{
	return 1 + varint_size(len) + len;
}

size_t
codec_token_field_put(uint8_t *dst, const char *token, size_t len)
{
	return field_put(dst, CODEC_TOKEN_TAG, (const uint8_t *)token, len);
}

inventory_code
codec_frame_reply_decode(const uint8_t *buf, size_t len, size_t n,
    struct codec_frame_reply *out, struct codec_reply *whole)
{
	static const uint8_t     empty[1] = { 0 };
	Inventory__V1__Response *res;
	char                     why[80];

	memset(out, 0, sizeof(*out));
	memset(whole, 0, sizeof(*whole));
	res = inventory__v1__response__unpack(NULL, len, buf ? buf : empty);
	if (res == NULL)
		return reply_malformed(whole, "not a Response envelope");
	if (res->n_batch == n && n > 0) {
		out->pb = res;
		out->n  = n;
		return INVENTORY_OK;
	}
	if (res->n_batch == 0 && res->has_code && res->code != 0) {
		/* The frame refused as a whole: every call gets the verdict.
		 * Details belong to one call, never to a whole frame. */
		whole->code = codec_code_from_wire(res->code);
		if (res->code > (uint32_t)INVENTORY_UNAUTHENTICATED)
			snprintf(whole->message, sizeof(whole->message),
			    "unknown status code %u: %s", (unsigned)res->code,
			    res->message ? res->message : "");
		else
			codec_copy_str(whole->message, sizeof(whole->message),
			    res->message);
		inventory__v1__response__free_unpacked(res, NULL);
		return whole->code;
	}
	snprintf(why, sizeof(why), "%zu batch entries for %zu calls",
	    res->n_batch, n);
	inventory__v1__response__free_unpacked(res, NULL);
	return reply_malformed(whole, why);
}

inventory_code
codec_frame_reply_entry(const struct codec_frame_reply *f, size_t i,
    enum codec_method method, const char *request_id, struct codec_reply *out)
{
	const Inventory__V1__Response *res;

	memset(out, 0, sizeof(*out));
	if (f->pb == NULL || i >= f->n)
		return reply_malformed(out, "no such batch entry");
	if (codec_method_name(method) == NULL)
		return reply_malformed(out, "unknown method");
	res = ((const Inventory__V1__Response *)f->pb)->batch[i];
	if (res == NULL)
		return reply_malformed(out, "empty batch entry");
	if (res->request_id == NULL || request_id == NULL ||
	    strcmp(res->request_id, request_id) != 0)
		return reply_malformed(out, "batch entry for another request");
	return reply_from_pb(method, res, out);
}

void
codec_frame_reply_fini(struct codec_frame_reply *f)
{
	if (f == NULL || f->pb == NULL)
		return;
	inventory__v1__response__free_unpacked(f->pb, NULL);
	f->pb = NULL;
	f->n  = 0;
}
