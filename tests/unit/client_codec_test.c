/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for client/codec.c, libinventory's private wire code: request
 * envelopes carry the right method name, request id, deadline and typed
 * payload; replies decode into inventory_* structs (OK with a product,
 * errors with their message, ABORTED with the latest product); bytes that
 * make no sense are INVENTORY_INTERNAL "malformed reply", never a crash;
 * strings are truncated at UTF-8 boundaries and always NUL-terminated.
 * Batch frames: a frame built from encoded envelopes is the Request
 * protobuf-c would pack with those entries in `batch`; a batch reply is
 * handed out by position and only to the call whose request id it
 * echoes; a frame refused as a whole gives every call the refusal; a
 * BatchGetProducts reply keeps the products in request order.
 * AdjustStock, ReserveStock and ListProducts: requests carry exactly the
 * fields the contract asks for (no expected_version for "any version", a
 * take item only its quantity, a set item only version and stock); a
 * failed reservation's ErrorDetails.items decode per item, and an item
 * error without index or code is malformed; a list page may be empty and
 * its token is "" on the last page.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "codec.h"
#include "inventory/v1/service.pb-c.h"

#define ID "123e4567-e89b-12d3-a456-426614174000"

static void
test_method_names(void **state)
{
	(void)state;
	assert_string_equal(codec_method_name(CODEC_GET_PRODUCT),
	    "/inventory.v1.InventoryService/GetProduct");
	assert_string_equal(codec_method_name(CODEC_UPDATE_STOCK),
	    "/inventory.v1.InventoryService/UpdateStock");
	assert_string_equal(codec_method_name(CODEC_CREATE_PRODUCT),
	    "/inventory.v1.InventoryService/CreateProduct");
	assert_string_equal(codec_method_name(CODEC_BATCH_GET_PRODUCTS),
	    "/inventory.v1.InventoryService/BatchGetProducts");
	assert_string_equal(codec_method_name(CODEC_ADJUST_STOCK),
	    "/inventory.v1.InventoryService/AdjustStock");
	assert_string_equal(codec_method_name(CODEC_RESERVE_STOCK),
	    "/inventory.v1.InventoryService/ReserveStock");
	assert_string_equal(codec_method_name(CODEC_LIST_PRODUCTS),
	    "/inventory.v1.InventoryService/ListProducts");
	assert_null(codec_method_name((enum codec_method)7));
	assert_null(codec_method_name((enum codec_method) - 1));
}

static void
test_code_from_wire(void **state)
{
	(void)state;
	for (uint32_t i = 0; i <= 16; i++) {
		assert_int_equal(codec_code_from_wire(i), i);
	}
	assert_int_equal(codec_code_from_wire(17), INVENTORY_UNKNOWN);
	assert_int_equal(codec_code_from_wire(UINT32_MAX), INVENTORY_UNKNOWN);
}

static void
test_copy_str(void **state)
{
	char buf[4];

	(void)state;
	assert_int_equal(codec_copy_str(buf, sizeof(buf), "abc"), 1);
	assert_string_equal(buf, "abc");
	assert_int_equal(codec_copy_str(buf, sizeof(buf), "abcd"), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(codec_copy_str(buf, sizeof(buf), NULL), 1);
	assert_string_equal(buf, "");
	/* "aé" + "é": 5 bytes into 4 → "aé" (3 bytes), not half a char. */
	assert_int_equal(
	    codec_copy_str(buf, sizeof(buf), "a\xc3\xa9\xc3\xa9"), 0);
	assert_string_equal(buf, "a\xc3\xa9");
	/* "ab" + "é": cut inside é → "ab". */
	assert_int_equal(codec_copy_str(buf, sizeof(buf), "ab\xc3\xa9"), 0);
	assert_string_equal(buf, "ab");
	/* A 4-byte character that does not fit at all. */
	assert_int_equal(
	    codec_copy_str(buf, sizeof(buf), "\xf0\x9f\x98\x80"), 0);
	assert_string_equal(buf, "");
	assert_int_equal(codec_copy_str(buf, 1, "x"), 0);
	assert_string_equal(buf, "");
}

/* Encode req, check size agreement, and unpack the envelope. */
static Inventory__V1__Request *
encode(const struct codec_request *req)
{
	size_t                  size = codec_request_size(req);
	uint8_t                *buf;
	uint8_t                *abuf = NULL;
	size_t                  alen = 0;
	Inventory__V1__Request *env;

	assert_true(size > 0);
	buf = malloc(size);
	assert_non_null(buf);
	assert_int_equal(codec_request_encode(req, buf, size), size);
	/* One byte short: nothing written. */
	assert_int_equal(codec_request_encode(req, buf, size - 1), 0);
	assert_int_equal(codec_request_encode(req, buf, size), size);
	assert_int_equal(
	    codec_request_encode_alloc(req, &abuf, &alen), INVENTORY_OK);
	assert_int_equal(alen, size);
	assert_memory_equal(abuf, buf, size);
	free(abuf);
	env = inventory__v1__request__unpack(NULL, size, buf);
	free(buf);
	assert_non_null(env);
	return env;
}

static void
test_encode_get(void **state)
{
	struct codec_request              req;
	Inventory__V1__Request           *env;
	Inventory__V1__GetProductRequest *g;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.method     = CODEC_GET_PRODUCT;
	req.request_id = "rid-1";
	req.timeout_ms = 250;
	req.u.get.id   = ID;
	env            = encode(&req);
	assert_string_equal(
	    env->method, "/inventory.v1.InventoryService/GetProduct");
	assert_string_equal(env->request_id, "rid-1");
	assert_true(env->has_timeout_ms);
	assert_int_equal(env->timeout_ms, 250);
	assert_true(env->has_payload);
	g = inventory__v1__get_product_request__unpack(
	    NULL, env->payload.len, env->payload.data);
	assert_non_null(g);
	assert_string_equal(g->id, ID);
	inventory__v1__get_product_request__free_unpacked(g, NULL);
	inventory__v1__request__free_unpacked(env, NULL);

	/* No request id: the field is absent.  timeout 0 is still sent. */
	req.request_id = NULL;
	req.timeout_ms = 0;
	env            = encode(&req);
	assert_null(env->request_id);
	assert_true(env->has_timeout_ms);
	assert_int_equal(env->timeout_ms, 0);
	inventory__v1__request__free_unpacked(env, NULL);
}

static void
test_encode_update_and_create(void **state)
{
	struct codec_request                 req;
	Inventory__V1__Request              *env;
	Inventory__V1__UpdateStockRequest   *u;
	Inventory__V1__CreateProductRequest *c;
	char                                 name[INVENTORY_NAME_MAX + 1];

	(void)state;
	memset(&req, 0, sizeof(req));
	req.method                    = CODEC_UPDATE_STOCK;
	req.timeout_ms                = 5000;
	req.u.update.id               = ID;
	req.u.update.stock            = 0; /* zero must still be sent */
	req.u.update.expected_version = 9;
	env                           = encode(&req);
	u = inventory__v1__update_stock_request__unpack(
	    NULL, env->payload.len, env->payload.data);
	assert_non_null(u);
	assert_string_equal(u->id, ID);
	assert_true(u->has_stock);
	assert_int_equal(u->stock, 0);
	assert_true(u->has_expected_version);
	assert_int_equal(u->expected_version, 9);
	inventory__v1__update_stock_request__free_unpacked(u, NULL);
	inventory__v1__request__free_unpacked(env, NULL);

	/* A 200-byte name needs more than the codec's stack scratch. */
	memset(name, 'n', INVENTORY_NAME_MAX);
	name[INVENTORY_NAME_MAX] = '\0';
	memset(&req, 0, sizeof(req));
	req.method         = CODEC_CREATE_PRODUCT;
	req.request_id     = "c";
	req.u.create.name  = name;
	req.u.create.stock = 2147483647;
	req.u.create.price = "19.90";
	env                = encode(&req);
	assert_string_equal(
	    env->method, "/inventory.v1.InventoryService/CreateProduct");
	c = inventory__v1__create_product_request__unpack(
	    NULL, env->payload.len, env->payload.data);
	assert_non_null(c);
	assert_string_equal(c->name, name);
	assert_true(c->has_stock);
	assert_int_equal(c->stock, 2147483647);
	assert_string_equal(c->price, "19.90");
	inventory__v1__create_product_request__free_unpacked(c, NULL);
	inventory__v1__request__free_unpacked(env, NULL);
}

static void
test_encode_unknown_method(void **state)
{
	struct codec_request req;
	uint8_t             *buf = NULL;
	size_t               len = 0;
	uint8_t              small[64];

	(void)state;
	memset(&req, 0, sizeof(req));
	req.method = (enum codec_method)42;
	assert_int_equal(codec_request_size(&req), 0);
	assert_int_equal(codec_request_encode(&req, small, sizeof(small)), 0);
	assert_int_equal(codec_request_encode_alloc(&req, &buf, &len),
	    INVENTORY_INVALID_ARGUMENT);
	assert_null(buf);
}

/* Pack a Response; `typed` is the typed reply to put in the payload. */
static uint8_t *
response(uint32_t code, const char *message, const ProtobufCMessage *typed,
    const Inventory__V1__ErrorDetails *details, size_t *len)
{
	Inventory__V1__Response res = INVENTORY__V1__RESPONSE__INIT;
	uint8_t                 body[1024];
	uint8_t                *out;

	res.has_code   = 1;
	res.code       = code;
	res.message    = (char *)message;
	res.request_id = "echo";
	res.details    = (Inventory__V1__ErrorDetails *)details;
	if (typed != NULL) {
		res.has_payload  = 1;
		res.payload.len  = protobuf_c_message_pack(typed, body);
		res.payload.data = body;
	}
	*len = inventory__v1__response__get_packed_size(&res);
	out  = malloc(*len + 1);
	assert_non_null(out);
	inventory__v1__response__pack(&res, out);
	return out;
}

static void
fill_product(Inventory__V1__Product *p, int64_t version)
{
	inventory__v1__product__init(p);
	p->id                = ID;
	p->name              = "Widget";
	p->has_stock         = 1;
	p->stock             = 5;
	p->price             = "19.90";
	p->has_version       = 1;
	p->version           = version;
	p->has_created_at_us = 1;
	p->created_at_us     = 1700000000000000;
	p->has_updated_at_us = 1;
	p->updated_at_us     = 1700000000000001;
}

static void
test_decode_ok(void **state)
{
	Inventory__V1__Product             p;
	Inventory__V1__UpdateStockResponse r =
	    INVENTORY__V1__UPDATE_STOCK_RESPONSE__INIT;
	struct codec_reply out;
	uint8_t           *buf;
	size_t             len;

	(void)state;
	fill_product(&p, 4);
	r.product = &p;
	buf       = response(0, NULL, &r.base, NULL, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_UPDATE_STOCK, buf, len, &out),
	    INVENTORY_OK);
	assert_int_equal(out.code, INVENTORY_OK);
	assert_true(out.has_product);
	assert_string_equal(out.product.id, ID);
	assert_string_equal(out.product.name, "Widget");
	assert_int_equal(out.product.stock, 5);
	assert_string_equal(out.product.price, "19.90");
	assert_int_equal(out.product.version, 4);
	assert_int_equal(out.product.created_at_us, 1700000000000000);
	assert_int_equal(out.product.updated_at_us, 1700000000000001);
	assert_string_equal(out.request_id, "echo");
	free(buf);
}

static void
test_decode_aborted(void **state)
{
	Inventory__V1__Product      p;
	Inventory__V1__ErrorDetails d = INVENTORY__V1__ERROR_DETAILS__INIT;
	struct codec_reply          out;
	uint8_t                    *buf;
	size_t                      len;

	(void)state;
	fill_product(&p, 12);
	d.has_current_version = 1;
	d.current_version     = 12;
	d.current             = &p;
	buf = response(10, "version conflict", NULL, &d, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_UPDATE_STOCK, buf, len, &out),
	    INVENTORY_OK);
	assert_int_equal(out.code, INVENTORY_ABORTED);
	assert_string_equal(out.message, "version conflict");
	assert_false(out.has_product);
	assert_int_equal(out.current_version, 12);
	assert_true(out.has_current);
	assert_int_equal(out.current.version, 12);
	assert_string_equal(out.current.id, ID);
	free(buf);
}

static void
test_decode_errors(void **state)
{
	Inventory__V1__GetProductResponse empty =
	    INVENTORY__V1__GET_PRODUCT_RESPONSE__INIT;
	struct codec_reply out;
	uint8_t           *buf;
	size_t             len;
	const uint8_t      junk[] = { 0xff, 0xfe, 0xfd, 0xfc };

	(void)state;
	buf = response(5, "no such product", NULL, NULL, &len);
	assert_int_equal(codec_reply_decode(CODEC_GET_PRODUCT, buf, len, &out),
	    INVENTORY_OK);
	assert_int_equal(out.code, INVENTORY_NOT_FOUND);
	assert_string_equal(out.message, "no such product");
	assert_false(out.has_current);
	free(buf);

	/* A code from the future: UNKNOWN, with the number in the message. */
	buf = response(99, "new", NULL, NULL, &len);
	assert_int_equal(codec_reply_decode(CODEC_GET_PRODUCT, buf, len, &out),
	    INVENTORY_OK);
	assert_int_equal(out.code, INVENTORY_UNKNOWN);
	assert_non_null(strstr(out.message, "99"));
	free(buf);

	/* Not a Response. */
	assert_int_equal(
	    codec_reply_decode(CODEC_GET_PRODUCT, junk, sizeof(junk), &out),
	    INVENTORY_INTERNAL);
	assert_int_equal(out.code, INVENTORY_INTERNAL);
	assert_int_equal(
	    strncmp(out.message, CODEC_MALFORMED, strlen(CODEC_MALFORMED)), 0);

	/* Zero bytes: an OK without payload. */
	assert_int_equal(codec_reply_decode(CODEC_GET_PRODUCT, NULL, 0, &out),
	    INVENTORY_INTERNAL);
	assert_false(out.has_product);

	/* OK whose payload has no product. */
	buf = response(0, NULL, &empty.base, NULL, &len);
	assert_int_equal(codec_reply_decode(CODEC_GET_PRODUCT, buf, len, &out),
	    INVENTORY_INTERNAL);
	assert_false(out.has_product);
	free(buf);

	/* Unknown method. */
	buf = response(0, NULL, &empty.base, NULL, &len);
	assert_int_equal(
	    codec_reply_decode((enum codec_method)9, buf, len, &out),
	    INVENTORY_INTERNAL);
	free(buf);
}

static void
test_decode_bad_payload(void **state)
{
	Inventory__V1__Response res    = INVENTORY__V1__RESPONSE__INIT;
	uint8_t                 junk[] = { 0x0a, 0x7f, 0x01 };
	uint8_t                 buf[64];
	size_t                  len;
	struct codec_reply      out;

	(void)state;
	res.has_code     = 1;
	res.code         = 0;
	res.has_payload  = 1;
	res.payload.data = junk;
	res.payload.len  = sizeof(junk);
	len              = inventory__v1__response__pack(&res, buf);
	assert_int_equal(
	    codec_reply_decode(CODEC_CREATE_PRODUCT, buf, len, &out),
	    INVENTORY_INTERNAL);
	assert_false(out.has_product);
}

static void
test_product_decode(void **state)
{
	Inventory__V1__Product p;
	inventory_product      out;
	uint8_t                buf[2048];
	char                   longname[600];
	size_t                 len;

	(void)state;
	fill_product(&p, 1);
	/* A server sending more than the contract allows is truncated,
	 * never overflowed. */
	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	p.name                         = longname;
	p.price                        = "123456789012345678901234567890";
	len                            = inventory__v1__product__pack(&p, buf);
	assert_int_equal(codec_product_decode(buf, len, &out), INVENTORY_OK);
	assert_int_equal(strlen(out.name), INVENTORY_NAME_MAX);
	assert_int_equal(strlen(out.price), INVENTORY_PRICE_MAX);
	assert_int_equal(out.version, 1);

	buf[0] = 0xff;
	buf[1] = 0xff;
	assert_int_equal(
	    codec_product_decode(buf, 2, &out), INVENTORY_INTERNAL);
}

#define ID2 "00000000-0000-4000-8000-000000000002"

static void
test_encode_batch_get(void **state)
{
	static const char *const                ids[] = { ID, ID2, ID };
	struct codec_request                    req;
	Inventory__V1__Request                 *env;
	Inventory__V1__BatchGetProductsRequest *b;

	(void)state;
	memset(&req, 0, sizeof(req));
	req.method          = CODEC_BATCH_GET_PRODUCTS;
	req.request_id      = "bg";
	req.timeout_ms      = 100;
	req.u.batch_get.ids = ids;
	req.u.batch_get.n   = 3;
	env                 = encode(&req);
	assert_string_equal(
	    env->method, "/inventory.v1.InventoryService/BatchGetProducts");
	b = inventory__v1__batch_get_products_request__unpack(
	    NULL, env->payload.len, env->payload.data);
	assert_non_null(b);
	assert_int_equal(b->n_ids, 3);
	assert_string_equal(b->ids[0], ID);
	assert_string_equal(b->ids[1], ID2);
	assert_string_equal(b->ids[2], ID);
	inventory__v1__batch_get_products_request__free_unpacked(b, NULL);
	inventory__v1__request__free_unpacked(env, NULL);
}

/* Encode a GetProduct envelope for id with request id rid into a new
 * buffer. */
static uint8_t *
encode_get(const char *rid, const char *id, size_t *len)
{
	struct codec_request req;
	uint8_t             *buf = NULL;

	memset(&req, 0, sizeof(req));
	req.method     = CODEC_GET_PRODUCT;
	req.request_id = rid;
	req.timeout_ms = 1000;
	req.u.get.id   = id;
	assert_int_equal(
	    codec_request_encode_alloc(&req, &buf, len), INVENTORY_OK);
	return buf;
}

static void
test_frame_encode(void **state)
{
	const char *rids[] = { "a", "b", "c" };
	uint8_t    *entries[3];
	size_t      lens[3], total = 0, off = 0;
	uint8_t    *frame;
	uint8_t     big[300];

	(void)state;
	for (int i = 0; i < 3; i++) {
		entries[i] = encode_get(rids[i], i == 1 ? ID2 : ID, &lens[i]);
		total += codec_frame_entry_size(lens[i]);
	}
	frame = malloc(total);
	assert_non_null(frame);
	for (int i = 0; i < 3; i++)
		off += codec_frame_entry_put(frame + off, entries[i], lens[i]);
	assert_int_equal(off, total);

	/* protobuf-c reads it as a Request with three batch entries and
	 * no call of its own, and packs the same thing byte for byte. */
	{
		Inventory__V1__Request *env =
		    inventory__v1__request__unpack(NULL, total, frame);
		uint8_t *again;

		assert_non_null(env);
		assert_null(env->method);
		assert_null(env->request_id);
		assert_false(env->has_timeout_ms);
		assert_false(env->has_payload);
		assert_int_equal(env->n_batch, 3);
		for (int i = 0; i < 3; i++) {
			assert_string_equal(
			    env->batch[i]->request_id, rids[i]);
			assert_string_equal(env->batch[i]->method,
			    "/inventory.v1.InventoryService/GetProduct");
			assert_int_equal(env->batch[i]->timeout_ms, 1000);
		}
		assert_int_equal(
		    inventory__v1__request__get_packed_size(env), total);
		again = malloc(total);
		assert_non_null(again);
		inventory__v1__request__pack(env, again);
		assert_memory_equal(again, frame, total);
		free(again);
		inventory__v1__request__free_unpacked(env, NULL);
	}
	for (int i = 0; i < 3; i++)
		free(entries[i]);
	free(frame);

	/* Lengths of 128 and more take a two-byte varint. */
	memset(big, 0, sizeof(big));
	assert_int_equal(codec_frame_entry_size(127), 1 + 1 + 127);
	assert_int_equal(codec_frame_entry_size(128), 1 + 2 + 128);
	assert_int_equal(codec_frame_entry_size(200), 1 + 2 + 200);
	{
		uint8_t out[1 + 2 + 200];

		assert_int_equal(
		    codec_frame_entry_put(out, big, 200), sizeof(out));
		assert_int_equal(out[0], 0x2a);
		assert_int_equal(out[1], 0xc8);
		assert_int_equal(out[2], 0x01);
	}
}

/* The client stamps each call's timeout when its frame leaves: a call
 * encoded with no_timeout carries none, and the field appended after it
 * (alone, or inside its batch entry) is what the server reads. */
static void
test_timeout_stamped(void **state)
{
	struct codec_request req = { .method = CODEC_GET_PRODUCT,
		.request_id                  = "rid-t",
		.timeout_ms                  = 5000,
		.no_timeout                  = 1 };
	uint8_t              buf[256], frame[600];
	size_t               len, off, tf;

	(void)state;
	req.u.get.id = "00000000-0000-0000-0000-000000000001";
	len          = codec_request_encode(&req, buf, sizeof(buf));
	assert_true(len > 0);
	{
		Inventory__V1__Request *env =
		    inventory__v1__request__unpack(NULL, len, buf);

		assert_non_null(env);
		assert_false(env->has_timeout_ms);
		inventory__v1__request__free_unpacked(env, NULL);
	}
	/* Alone: the field follows the envelope. */
	tf = codec_timeout_field_size(1234);
	assert_int_equal(tf, 3);
	memcpy(frame, buf, len);
	assert_int_equal(codec_timeout_field_put(frame + len, 1234), tf);
	{
		Inventory__V1__Request *env =
		    inventory__v1__request__unpack(NULL, len + tf, frame);

		assert_non_null(env);
		assert_true(env->has_timeout_ms);
		assert_int_equal(env->timeout_ms, 1234);
		assert_string_equal(env->request_id, "rid-t");
		inventory__v1__request__free_unpacked(env, NULL);
	}
	/* In a batch: inside each entry, each with its own time left. */
	off = codec_frame_entry_put_timed(frame, buf, len, 1);
	assert_int_equal(
	    off, codec_frame_entry_size(len + codec_timeout_field_size(1)));
	off += codec_frame_entry_put_timed(frame + off, buf, len, 300000);
	{
		Inventory__V1__Request *env =
		    inventory__v1__request__unpack(NULL, off, frame);

		assert_non_null(env);
		assert_int_equal(env->n_batch, 2);
		assert_true(env->batch[0]->has_timeout_ms);
		assert_int_equal(env->batch[0]->timeout_ms, 1);
		assert_int_equal(env->batch[1]->timeout_ms, 300000);
		assert_string_equal(env->batch[1]->request_id, "rid-t");
		inventory__v1__request__free_unpacked(env, NULL);
	}
}

/* Pack a batch Response of n entries (entries[i] may carry anything). */
static uint8_t *
batch_response(Inventory__V1__Response **entries, size_t n, size_t *len)
{
	Inventory__V1__Response res = INVENTORY__V1__RESPONSE__INIT;
	uint8_t                *out;

	res.n_batch = n;
	res.batch   = entries;
	*len        = inventory__v1__response__get_packed_size(&res);
	out         = malloc(*len + 1);
	assert_non_null(out);
	inventory__v1__response__pack(&res, out);
	return out;
}

static void
test_frame_reply_by_position(void **state)
{
	Inventory__V1__Product            p, cur;
	Inventory__V1__GetProductResponse gr =
	    INVENTORY__V1__GET_PRODUCT_RESPONSE__INIT;
	Inventory__V1__ErrorDetails d  = INVENTORY__V1__ERROR_DETAILS__INIT;
	Inventory__V1__Response     e0 = INVENTORY__V1__RESPONSE__INIT;
	Inventory__V1__Response     e1 = INVENTORY__V1__RESPONSE__INIT;
	Inventory__V1__Response     e2 = INVENTORY__V1__RESPONSE__INIT;
	Inventory__V1__Response    *entries[] = { &e0, &e1, &e2 };
	uint8_t                     body[512];
	struct codec_frame_reply    fr;
	struct codec_reply          whole, out;
	uint8_t                    *buf;
	size_t                      len;

	(void)state;
	fill_product(&p, 3);
	gr.product      = &p;
	e0.has_code     = 1;
	e0.request_id   = "r0";
	e0.has_payload  = 1;
	e0.payload.len  = protobuf_c_message_pack(&gr.base, body);
	e0.payload.data = body;
	e1.has_code     = 1;
	e1.code         = 5;
	e1.message      = "not found";
	e1.request_id   = "r1";
	fill_product(&cur, 8);
	d.has_current_version = 1;
	d.current_version     = 8;
	d.current             = &cur;
	e2.has_code           = 1;
	e2.code               = 10;
	e2.message            = "conflict";
	e2.request_id         = "r2";
	e2.details            = &d;
	buf                   = batch_response(entries, 3, &len);

	assert_int_equal(
	    codec_frame_reply_decode(buf, len, 3, &fr, &whole), INVENTORY_OK);
	assert_int_equal(fr.n, 3);
	assert_int_equal(
	    codec_frame_reply_entry(&fr, 0, CODEC_GET_PRODUCT, "r0", &out),
	    INVENTORY_OK);
	assert_int_equal(out.code, INVENTORY_OK);
	assert_true(out.has_product);
	assert_int_equal(out.product.version, 3);
	assert_int_equal(
	    codec_frame_reply_entry(&fr, 1, CODEC_GET_PRODUCT, "r1", &out),
	    INVENTORY_OK);
	assert_int_equal(out.code, INVENTORY_NOT_FOUND);
	assert_string_equal(out.message, "not found");
	assert_int_equal(
	    codec_frame_reply_entry(&fr, 2, CODEC_UPDATE_STOCK, "r2", &out),
	    INVENTORY_OK);
	assert_int_equal(out.code, INVENTORY_ABORTED);
	assert_int_equal(out.current_version, 8);
	assert_true(out.has_current);
	assert_int_equal(out.current.version, 8);

	/* An entry that echoes another call's id is not this call's. */
	assert_int_equal(
	    codec_frame_reply_entry(&fr, 1, CODEC_GET_PRODUCT, "r0", &out),
	    INVENTORY_INTERNAL);
	assert_int_equal(out.code, INVENTORY_INTERNAL);
	assert_int_equal(
	    strncmp(out.message, CODEC_MALFORMED, strlen(CODEC_MALFORMED)), 0);
	assert_int_equal(
	    codec_frame_reply_entry(&fr, 0, CODEC_GET_PRODUCT, NULL, &out),
	    INVENTORY_INTERNAL);
	assert_int_equal(
	    codec_frame_reply_entry(&fr, 3, CODEC_GET_PRODUCT, "r0", &out),
	    INVENTORY_INTERNAL);
	codec_frame_reply_fini(&fr);
	codec_frame_reply_fini(&fr); /* twice is harmless */

	/* Three entries are not the answer to a frame of two calls. */
	assert_int_equal(codec_frame_reply_decode(buf, len, 2, &fr, &whole),
	    INVENTORY_INTERNAL);
	assert_null(fr.pb);
	assert_int_equal(whole.code, INVENTORY_INTERNAL);
	assert_int_equal(
	    strncmp(whole.message, CODEC_MALFORMED, strlen(CODEC_MALFORMED)),
	    0);
	free(buf);

	/* An entry without its echo is refused too. */
	e0.request_id = NULL;
	buf           = batch_response(entries, 1, &len);
	assert_int_equal(
	    codec_frame_reply_decode(buf, len, 1, &fr, &whole), INVENTORY_OK);
	assert_int_equal(
	    codec_frame_reply_entry(&fr, 0, CODEC_GET_PRODUCT, "r0", &out),
	    INVENTORY_INTERNAL);
	codec_frame_reply_fini(&fr);
	free(buf);
}

static void
test_frame_reply_whole(void **state)
{
	struct codec_frame_reply fr;
	struct codec_reply       whole;
	uint8_t                 *buf;
	size_t                   len;
	const uint8_t            junk[] = { 0xff, 0xff, 0xff };

	(void)state;
	/* Refused as a whole: a code and an empty batch. */
	buf = response(8, "too many entries", NULL, NULL, &len);
	assert_int_equal(codec_frame_reply_decode(buf, len, 5, &fr, &whole),
	    INVENTORY_RESOURCE_EXHAUSTED);
	assert_null(fr.pb);
	assert_int_equal(whole.code, INVENTORY_RESOURCE_EXHAUSTED);
	assert_string_equal(whole.message, "too many entries");
	free(buf);

	/* OK with no entries makes no sense for a frame. */
	{
		Inventory__V1__Response res = INVENTORY__V1__RESPONSE__INIT;
		uint8_t                 b[16];

		res.has_code = 1;
		len          = inventory__v1__response__pack(&res, b);
		assert_int_equal(
		    codec_frame_reply_decode(b, len, 2, &fr, &whole),
		    INVENTORY_INTERNAL);
		assert_int_equal(whole.code, INVENTORY_INTERNAL);
	}
	/* Not a Response at all; and zero bytes. */
	assert_int_equal(
	    codec_frame_reply_decode(junk, sizeof(junk), 2, &fr, &whole),
	    INVENTORY_INTERNAL);
	assert_int_equal(codec_frame_reply_decode(NULL, 0, 2, &fr, &whole),
	    INVENTORY_INTERNAL);
	codec_frame_reply_fini(&fr);
}

static void
test_decode_batch_get(void **state)
{
	Inventory__V1__Product                  p[3];
	Inventory__V1__Product                 *pp[] = { &p[0], &p[1], &p[2] };
	Inventory__V1__BatchGetProductsResponse r =
	    INVENTORY__V1__BATCH_GET_PRODUCTS_RESPONSE__INIT;
	struct codec_reply out;
	uint8_t           *buf;
	size_t             len;

	(void)state;
	fill_product(&p[0], 1);
	fill_product(&p[1], 2);
	p[1].id = ID2;
	fill_product(&p[2], 3);
	r.n_products = 3;
	r.products   = pp;
	buf          = response(0, NULL, &r.base, NULL, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_BATCH_GET_PRODUCTS, buf, len, &out),
	    INVENTORY_OK);
	assert_int_equal(out.code, INVENTORY_OK);
	assert_int_equal(out.nproducts, 3);
	assert_non_null(out.products);
	assert_string_equal(out.products[0].id, ID);
	assert_string_equal(out.products[1].id, ID2);
	assert_int_equal(out.products[1].version, 2);
	assert_int_equal(out.products[2].version, 3);
	codec_reply_fini(&out);
	assert_null(out.products);
	codec_reply_fini(&out);
	free(buf);

	/* OK without products is malformed (1..1000 ids were asked for). */
	r.n_products = 0;
	buf          = response(0, NULL, &r.base, NULL, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_BATCH_GET_PRODUCTS, buf, len, &out),
	    INVENTORY_INTERNAL);
	assert_null(out.products);
	free(buf);

	/* NOT_FOUND passes the server's message (the first missing id). */
	buf = response(5, "product " ID2 " not found", NULL, NULL, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_BATCH_GET_PRODUCTS, buf, len, &out),
	    INVENTORY_OK);
	assert_int_equal(out.code, INVENTORY_NOT_FOUND);
	assert_non_null(strstr(out.message, ID2));
	assert_null(out.products);
	free(buf);
}

static void
test_encode_adjust(void **state)
{
	struct codec_request req = {
		.method     = CODEC_ADJUST_STOCK,
		.request_id = "rid-a",
		.timeout_ms = 250,
		.u.adjust   = { .id = ID, .delta = -3 },
	};
	Inventory__V1__Request            *env;
	Inventory__V1__AdjustStockRequest *a;

	(void)state;
	env = encode(&req);
	assert_string_equal(
	    env->method, "/inventory.v1.InventoryService/AdjustStock");
	assert_string_equal(env->request_id, "rid-a");
	assert_int_equal(env->timeout_ms, 250);
	a = inventory__v1__adjust_stock_request__unpack(
	    NULL, env->payload.len, env->payload.data);
	assert_non_null(a);
	assert_string_equal(a->id, ID);
	assert_true(a->has_delta);
	assert_int_equal(a->delta, -3);
	/* 0 is "any version": absent on the wire, never a 0 the server
	 * would refuse. */
	assert_false(a->has_expected_version);
	inventory__v1__adjust_stock_request__free_unpacked(a, NULL);
	inventory__v1__request__free_unpacked(env, NULL);

	req.u.adjust.expected_version = 7;
	env                           = encode(&req);
	a = inventory__v1__adjust_stock_request__unpack(
	    NULL, env->payload.len, env->payload.data);
	assert_non_null(a);
	assert_true(a->has_expected_version);
	assert_int_equal(a->expected_version, 7);
	inventory__v1__adjust_stock_request__free_unpacked(a, NULL);
	inventory__v1__request__free_unpacked(env, NULL);
}

static void
test_encode_reserve(void **state)
{
	const inventory_reserve_item items[] = {
		{ .id = ID, .quantity = 2, .expected_version = 9 },
		{ .id                 = ID2,
		    .quantity         = 0,
		    .expected_version = 4,
		    .stock            = 0 },
	};
	struct codec_request req = {
		.method     = CODEC_RESERVE_STOCK,
		.request_id = "rid-r",
		.u.reserve  = { .items = items, .n = 2 },
	};
	inventory_reserve_item              many[INVENTORY_RESERVE_MAX + 1];
	Inventory__V1__Request             *env;
	Inventory__V1__ReserveStockRequest *r;

	(void)state;
	env = encode(&req);
	assert_string_equal(
	    env->method, "/inventory.v1.InventoryService/ReserveStock");
	r = inventory__v1__reserve_stock_request__unpack(
	    NULL, env->payload.len, env->payload.data);
	assert_non_null(r);
	assert_int_equal(r->n_items, 2);
	assert_string_equal(r->items[0]->id, ID);
	assert_true(r->items[0]->has_quantity);
	assert_int_equal(r->items[0]->quantity, 2);
	assert_false(r->items[0]->has_expected_version); /* take only */
	assert_false(r->items[0]->has_stock);
	assert_string_equal(r->items[1]->id, ID2);
	assert_false(r->items[1]->has_quantity);
	assert_true(r->items[1]->has_expected_version);
	assert_int_equal(r->items[1]->expected_version, 4);
	assert_true(r->items[1]->has_stock); /* a set to 0 is still sent */
	assert_int_equal(r->items[1]->stock, 0);
	inventory__v1__reserve_stock_request__free_unpacked(r, NULL);
	inventory__v1__request__free_unpacked(env, NULL);

	/* 0 or more than the contract's items: not encodable. */
	req.u.reserve.n = 0;
	assert_int_equal(codec_request_size(&req), 0);
	memset(many, 0, sizeof(many));
	for (size_t i = 0; i < INVENTORY_RESERVE_MAX + 1; i++) {
		many[i].id       = ID;
		many[i].quantity = 1;
	}
	req.u.reserve.items = many;
	req.u.reserve.n     = INVENTORY_RESERVE_MAX + 1;
	assert_int_equal(codec_request_size(&req), 0);
	req.u.reserve.n = INVENTORY_RESERVE_MAX;
	env             = encode(&req);
	r               = inventory__v1__reserve_stock_request__unpack(
	                  NULL, env->payload.len, env->payload.data);
	assert_non_null(r);
	assert_int_equal(r->n_items, INVENTORY_RESERVE_MAX);
	inventory__v1__reserve_stock_request__free_unpacked(r, NULL);
	inventory__v1__request__free_unpacked(env, NULL);
}

static void
test_encode_list(void **state)
{
	struct codec_request req = {
		.method = CODEC_LIST_PRODUCTS,
		.u.list = { .page_size = 0, .page_token = "" },
	};
	Inventory__V1__Request             *env;
	Inventory__V1__ListProductsRequest *l;

	(void)state;
	env = encode(&req);
	l   = inventory__v1__list_products_request__unpack(
	      NULL, env->payload.len, env->payload.data);
	assert_non_null(l);
	assert_false(l->has_page_size);
	assert_null(l->page_token); /* "" is the first page: not sent */
	inventory__v1__list_products_request__free_unpacked(l, NULL);
	inventory__v1__request__free_unpacked(env, NULL);

	req.u.list.page_size  = 1000;
	req.u.list.page_token = "tok-1";
	env                   = encode(&req);
	l                     = inventory__v1__list_products_request__unpack(
	                        NULL, env->payload.len, env->payload.data);
	assert_non_null(l);
	assert_true(l->has_page_size);
	assert_int_equal(l->page_size, 1000);
	assert_string_equal(l->page_token, "tok-1");
	inventory__v1__list_products_request__free_unpacked(l, NULL);
	inventory__v1__request__free_unpacked(env, NULL);
}

static void
test_decode_adjust(void **state)
{
	Inventory__V1__Product             p;
	Inventory__V1__AdjustStockResponse r =
	    INVENTORY__V1__ADJUST_STOCK_RESPONSE__INIT;
	Inventory__V1__ErrorDetails d = INVENTORY__V1__ERROR_DETAILS__INIT;
	struct codec_reply          out;
	uint8_t                    *buf;
	size_t                      len;

	(void)state;
	fill_product(&p, 8);
	r.product = &p;
	buf       = response(0, NULL, &r.base, NULL, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_ADJUST_STOCK, buf, len, &out),
	    INVENTORY_OK);
	assert_true(out.has_product);
	assert_int_equal(out.product.version, 8);
	free(buf);

	/* Too little stock: the details carry the product as it is. */
	d.has_current_version = 1;
	d.current_version     = 8;
	d.current             = &p;
	buf = response(9, "not enough stock", NULL, &d, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_ADJUST_STOCK, buf, len, &out),
	    INVENTORY_OK);
	assert_int_equal(out.code, INVENTORY_FAILED_PRECONDITION);
	assert_true(out.has_current);
	assert_int_equal(out.current_version, 8);
	assert_int_equal(out.current.stock, 5);
	assert_null(out.items); /* items belong to ReserveStock only */
	free(buf);

	/* OK without a product is malformed. */
	r.product = NULL;
	buf       = response(0, NULL, &r.base, NULL, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_ADJUST_STOCK, buf, len, &out),
	    INVENTORY_INTERNAL);
	assert_non_null(strstr(out.message, "malformed reply"));
	free(buf);
}

static void
test_decode_reserve(void **state)
{
	Inventory__V1__Product              p[2];
	Inventory__V1__Product             *pp[] = { &p[0], &p[1] };
	Inventory__V1__ReserveStockResponse r =
	    INVENTORY__V1__RESERVE_STOCK_RESPONSE__INIT;
	struct codec_reply out;
	uint8_t           *buf;
	size_t             len;

	(void)state;
	fill_product(&p[0], 3);
	fill_product(&p[1], 6);
	p[1].id      = ID2;
	r.n_products = 2;
	r.products   = pp;
	buf          = response(0, NULL, &r.base, NULL, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_RESERVE_STOCK, buf, len, &out),
	    INVENTORY_OK);
	assert_int_equal(out.nproducts, 2);
	assert_string_equal(out.products[1].id, ID2);
	assert_int_equal(out.products[1].version, 6);
	codec_reply_fini(&out);
	assert_null(out.products);
	free(buf);

	/* OK without products is malformed: 1..100 items were sent. */
	r.n_products = 0;
	buf          = response(0, NULL, &r.base, NULL, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_RESERVE_STOCK, buf, len, &out),
	    INVENTORY_INTERNAL);
	assert_null(out.products);
	free(buf);
}

static void
test_decode_reserve_items(void **state)
{
	Inventory__V1__Product      p;
	Inventory__V1__ItemError    e[2];
	Inventory__V1__ItemError   *ep[] = { &e[0], &e[1] };
	Inventory__V1__ErrorDetails d    = INVENTORY__V1__ERROR_DETAILS__INIT;
	struct codec_reply          out;
	uint8_t                    *buf;
	size_t                      len;

	(void)state;
	fill_product(&p, 11);
	inventory__v1__item_error__init(&e[0]);
	e[0].has_index = 1;
	e[0].index     = 2;
	e[0].id        = ID;
	e[0].has_code  = 1;
	e[0].code      = 10;
	e[0].message   = "version conflict";
	e[0].current   = &p;
	inventory__v1__item_error__init(&e[1]);
	e[1].has_index        = 1;
	e[1].index            = 4;
	e[1].id               = ID2;
	e[1].has_code         = 1;
	e[1].code             = 5;
	e[1].message          = "no such product";
	d.has_current_version = 1;
	d.current_version     = 11;
	d.current             = &p;
	d.n_items             = 2;
	d.items               = ep;
	buf = response(10, "version conflict", NULL, &d, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_RESERVE_STOCK, buf, len, &out),
	    INVENTORY_OK);
	assert_int_equal(out.code, INVENTORY_ABORTED);
	assert_int_equal(out.current_version, 11);
	assert_int_equal(out.nitems, 2);
	assert_non_null(out.items);
	assert_int_equal(out.items[0].index, 2);
	assert_int_equal(out.items[0].code, INVENTORY_ABORTED);
	assert_string_equal(out.items[0].message, "version conflict");
	assert_int_equal(out.items[0].current.version, 11);
	assert_string_equal(out.items[0].current.id, ID);
	assert_int_equal(out.items[1].index, 4);
	assert_int_equal(out.items[1].code, INVENTORY_NOT_FOUND);
	/* No product: version 0, but the id says which item. */
	assert_int_equal(out.items[1].current.version, 0);
	assert_string_equal(out.items[1].current.id, ID2);
	codec_reply_fini(&out);
	assert_null(out.items);
	assert_int_equal(out.nitems, 0);
	free(buf);

	/* The same details answering another method: no items kept. */
	buf = response(10, "version conflict", NULL, &d, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_UPDATE_STOCK, buf, len, &out),
	    INVENTORY_OK);
	assert_null(out.items);
	free(buf);

	/* An item error without its index, or with code OK: malformed. */
	e[1].has_index = 0;
	buf            = response(10, "version conflict", NULL, &d, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_RESERVE_STOCK, buf, len, &out),
	    INVENTORY_INTERNAL);
	assert_null(out.items);
	assert_non_null(strstr(out.message, "malformed reply"));
	free(buf);
	e[1].has_index = 1;
	e[1].code      = 0;
	buf            = response(10, "version conflict", NULL, &d, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_RESERVE_STOCK, buf, len, &out),
	    INVENTORY_INTERNAL);
	assert_null(out.items);
	free(buf);
}

static void
test_decode_list(void **state)
{
	Inventory__V1__Product              p[2];
	Inventory__V1__Product             *pp[] = { &p[0], &p[1] };
	Inventory__V1__ListProductsResponse r =
	    INVENTORY__V1__LIST_PRODUCTS_RESPONSE__INIT;
	struct codec_reply out;
	uint8_t           *buf;
	size_t             len;

	(void)state;
	fill_product(&p[0], 1);
	fill_product(&p[1], 1);
	p[1].id           = ID2;
	r.n_products      = 2;
	r.products        = pp;
	r.next_page_token = "next-2";
	buf               = response(0, NULL, &r.base, NULL, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_LIST_PRODUCTS, buf, len, &out),
	    INVENTORY_OK);
	assert_int_equal(out.nproducts, 2);
	assert_string_equal(out.products[1].id, ID2);
	assert_non_null(out.next_page_token);
	assert_string_equal(out.next_page_token, "next-2");
	codec_reply_fini(&out);
	assert_null(out.next_page_token);
	assert_null(out.products);
	free(buf);

	/* The last, empty page: OK, no products, token "". */
	r.n_products      = 0;
	r.products        = NULL;
	r.next_page_token = NULL;
	buf               = response(0, NULL, &r.base, NULL, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_LIST_PRODUCTS, buf, len, &out),
	    INVENTORY_OK);
	assert_int_equal(out.nproducts, 0);
	assert_null(out.products);
	assert_non_null(out.next_page_token);
	assert_string_equal(out.next_page_token, "");
	codec_reply_fini(&out);
	free(buf);

	/* OK without any payload is still malformed. */
	buf = response(0, NULL, NULL, NULL, &len);
	assert_int_equal(
	    codec_reply_decode(CODEC_LIST_PRODUCTS, buf, len, &out),
	    INVENTORY_INTERNAL);
	assert_null(out.next_page_token);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_method_names),
		cmocka_unit_test(test_code_from_wire),
		cmocka_unit_test(test_copy_str),
		cmocka_unit_test(test_timeout_stamped),
		cmocka_unit_test(test_encode_get),
		cmocka_unit_test(test_encode_update_and_create),
		cmocka_unit_test(test_encode_unknown_method),
		cmocka_unit_test(test_decode_ok),
		cmocka_unit_test(test_decode_aborted),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_decode_bad_payload),
		cmocka_unit_test(test_product_decode),
		cmocka_unit_test(test_encode_batch_get),
		cmocka_unit_test(test_frame_encode),
		cmocka_unit_test(test_frame_reply_by_position),
		cmocka_unit_test(test_frame_reply_whole),
		cmocka_unit_test(test_decode_batch_get),
		cmocka_unit_test(test_encode_adjust),
		cmocka_unit_test(test_encode_reserve),
		cmocka_unit_test(test_encode_list),
		cmocka_unit_test(test_decode_adjust),
		cmocka_unit_test(test_decode_reserve),
		cmocka_unit_test(test_decode_reserve_items),
		cmocka_unit_test(test_decode_list),
	};

	return cmocka_run_group_tests_name("client_codec", tests, NULL, NULL);
}
