/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for proto/json/pbjson.c, protobuf <-> canonical JSON over
 * protobuf-c descriptors.  With the service's own messages: exact JSON for
 * an UpdateStockRequest and a ListProductsResponse of several products
 * (lowerCamelCase names, 64-bit integers as strings, presence as in the
 * binary form) and back to the same message and the same bytes; decode
 * takes the proto names and 64-bit numbers; every refusal (malformed
 * text, not an object, unknown field, wrong type, out of range, fraction,
 * duplicate key, a field under both names, nesting past 32, bad base64)
 * names its cause in one line; Request.payload bytes round-trip through
 * base64 of either alphabet, padded or not; base64 of RFC 4648's vectors.
 *
 * The service's schema has no bool, float, double, enum-typed, oneof,
 * required or proto3 (LABEL_NONE) field, so a message of each kind is
 * described here by hand ("pbjson.test.Kitchen", its enum field typed by
 * the contract's inventory.v1.Code) and checked the same way, including
 * through protobuf-c's own pack and unpack.
 */
#include <float.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "inventory/v1/service.pb-c.h"
#include "pbjson.h"

#define ID "0b7e8a52-1a2b-4c3d-8e9f-0123456789ab"

/* ---- a hand-described message with the types the schema lacks ------- */

typedef struct Kitchen Kitchen;
struct Kitchen {
	ProtobufCMessage     base;
	int32_t              req_num; /* 1 required int32 */
	protobuf_c_boolean   has_flag;
	protobuf_c_boolean   flag; /* 2 optional bool */
	protobuf_c_boolean   has_ratio;
	float                ratio; /* 3 optional float */
	protobuf_c_boolean   has_score;
	double               score; /* 4 optional double */
	protobuf_c_boolean   has_code;
	Inventory__V1__Code  code; /* 5 optional inventory.v1.Code */
	size_t               n_codes;
	Inventory__V1__Code *codes; /* 6 repeated inventory.v1.Code */
	protobuf_c_boolean   has_big;
	uint64_t             big;        /* 7 optional fixed64 */
	int32_t              plain_sint; /* 8 sint32, proto3 (LABEL_NONE) */
	char                *plain_text; /* 9 string, proto3 (LABEL_NONE) */
	uint32_t             pick_case;  /* oneof pick: 0, 10 or 11 */
	union {
		char   *pick_text;   /* 10 string */
		int64_t pick_number; /* 11 sint64 */
	};
	size_t               n_samples;
	double              *samples; /* 12 repeated double */
	size_t               n_blobs;
	ProtobufCBinaryData *blobs; /* 13 repeated bytes */
	Kitchen             *child; /* 14 optional Kitchen */
	protobuf_c_boolean   has_u32;
	uint32_t             u32; /* 15 optional uint32 */
	size_t               n_flags;
	protobuf_c_boolean  *flags; /* 16 repeated bool */
};

extern const ProtobufCMessageDescriptor kitchen_descriptor;

static void
kitchen_init(Kitchen *k)
{
	memset(k, 0, sizeof(*k));
	k->base.descriptor = &kitchen_descriptor;
	k->plain_text      = (char *)protobuf_c_empty_string;
}

#define F(name, id, label, type, q, member, desc, def, flags)                \
	{                                                                    \
		name, id, PROTOBUF_C_LABEL_##label, PROTOBUF_C_TYPE_##type,  \
		    q, offsetof(Kitchen, member), desc, def, flags, 0, NULL, \
		    NULL                                                     \
	}
#define HAS(m) offsetof(Kitchen, has_##m)
#define N(m)   offsetof(Kitchen, n_##m)

static const ProtobufCFieldDescriptor kitchen_fields[] = {
	F("req_num", 1, REQUIRED, INT32, 0, req_num, NULL, NULL, 0),
	F("flag", 2, OPTIONAL, BOOL, HAS(flag), flag, NULL, NULL, 0),
	F("ratio", 3, OPTIONAL, FLOAT, HAS(ratio), ratio, NULL, NULL, 0),
	F("score", 4, OPTIONAL, DOUBLE, HAS(score), score, NULL, NULL, 0),
	F("code", 5, OPTIONAL, ENUM, HAS(code), code,
	    &inventory__v1__code__descriptor, NULL, 0),
	F("codes", 6, REPEATED, ENUM, N(codes), codes,
	    &inventory__v1__code__descriptor, NULL, 0),
	F("big", 7, OPTIONAL, FIXED64, HAS(big), big, NULL, NULL, 0),
	F("plain_sint", 8, NONE, SINT32, 0, plain_sint, NULL, NULL, 0),
	F("plain_text", 9, NONE, STRING, 0, plain_text, NULL,
	    &protobuf_c_empty_string, 0),
	F("pick_text", 10, OPTIONAL, STRING, offsetof(Kitchen, pick_case),
	    pick_text, NULL, NULL, PROTOBUF_C_FIELD_FLAG_ONEOF),
	F("pick_number", 11, OPTIONAL, SINT64, offsetof(Kitchen, pick_case),
	    pick_number, NULL, NULL, PROTOBUF_C_FIELD_FLAG_ONEOF),
	F("samples", 12, REPEATED, DOUBLE, N(samples), samples, NULL, NULL, 0),
	F("blobs", 13, REPEATED, BYTES, N(blobs), blobs, NULL, NULL, 0),
	F("child", 14, OPTIONAL, MESSAGE, 0, child, &kitchen_descriptor, NULL,
	    0),
	F("u32", 15, OPTIONAL, UINT32, HAS(u32), u32, NULL, NULL, 0),
	F("flags", 16, REPEATED, BOOL, N(flags), flags, NULL, NULL, 0),
};
static const unsigned kitchen_by_name[] = { 6, 12, 13, 4, 5, 1, 15, 10, 9, 7,
	8, 2, 0, 11, 3, 14 };
static const ProtobufCIntRange kitchen_ranges[] = { { 1, 0 }, { 0, 16 } };

const ProtobufCMessageDescriptor kitchen_descriptor = {
	PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC,
	"pbjson.test.Kitchen",
	"Kitchen",
	"Kitchen",
	"pbjson.test",
	sizeof(Kitchen),
	sizeof(kitchen_fields) / sizeof(kitchen_fields[0]),
	kitchen_fields,
	kitchen_by_name,
	1,
	kitchen_ranges,
	(ProtobufCMessageInit)kitchen_init,
	NULL,
	NULL,
	NULL,
};

/* ---- helpers -------------------------------------------------------- */

static char err[PBJSON_ERR_MAX];

static ProtobufCMessage *
decode(const ProtobufCMessageDescriptor *d, const char *json)
{
	ProtobufCMessage *m =
	    pbjson_decode(d, json, strlen(json), err, sizeof(err));

	if (m == NULL)
		fail_msg("refused %s: %s", json, err);
	return m;
}

/* A reason is one line: no control byte. */
static void
assert_one_line(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p < 0x20 || *p == 0x7f)
			fail_msg(
			    "control byte 0x%02x in reason \"%s\"", *p, s);
	}
}

static void
refused(
    const ProtobufCMessageDescriptor *d, const char *json, const char *want)
{
	ProtobufCMessage *m;

	memset(err, 'x', sizeof(err));
	m = pbjson_decode(d, json, strlen(json), err, sizeof(err));
	if (m != NULL) {
		protobuf_c_message_free_unpacked(m, NULL);
		fail_msg("accepted %s", json);
	}
	assert_non_null(memchr(err, '\0', sizeof(err)));
	if (strstr(err, want) == NULL)
		fail_msg("%s: reason \"%s\" lacks \"%s\"", json, err, want);
	assert_one_line(err);
}

/* encode(m) is want, and decoding it encodes to want again. */
static void
assert_json(const ProtobufCMessage *m, const char *want)
{
	ProtobufCMessage *back;
	size_t            len = 0;
	char             *s   = pbjson_encode(m, &len);

	assert_non_null(s);
	assert_string_equal(s, want);
	assert_int_equal(len, strlen(want));
	back = decode(m->descriptor, s);
	free(s);
	s = pbjson_encode(back, NULL);
	assert_string_equal(s, want);
	free(s);
	protobuf_c_message_free_unpacked(back, NULL);
}

/* The binary conveniences agree with protobuf-c: to_binary(json) is
 * pack(m) byte for byte, from_binary(pack(m)) is json. */
static void
assert_binary(const ProtobufCMessage *m, const char *json)
{
	size_t   n = protobuf_c_message_get_packed_size(m), got = 99, len;
	uint8_t *want = malloc(n + 1), *bin;
	char    *s;

	assert_non_null(want);
	protobuf_c_message_pack(m, want);
	bin = pbjson_to_binary(
	    m->descriptor, json, strlen(json), &got, err, sizeof(err));
	assert_non_null(bin);
	assert_int_equal(got, n);
	assert_memory_equal(bin, want, n);
	s = pbjson_from_binary(m->descriptor, want, n, &len, err, sizeof(err));
	assert_non_null(s);
	assert_string_equal(s, json);
	assert_int_equal(len, strlen(json));
	free(s);
	free(bin);
	free(want);
}

/* {"batch":[...]} nested so that the top-level Request is depth 1 and
 * the innermost depth levels (an empty Request). */
static char *
nested_requests(int levels)
{
	static const char open[] = "{\"batch\":[", close[] = "]}";
	size_t            cap = (size_t)levels * 12 + 3;
	char             *s = malloc(cap), *p = s;

	assert_non_null(s);
	for (int i = 1; i < levels; i++)
		p += sprintf(p, "%s", open);
	p += sprintf(p, "{}");
	for (int i = 1; i < levels; i++)
		p += sprintf(p, "%s", close);
	return s;
}

/* ---- tests ---------------------------------------------------------- */

static void
test_base64_vectors(void **state)
{
	static const char *const vec[][2] = {
		{ "", "" },
		{ "f", "Zg==" },
		{ "fo", "Zm8=" },
		{ "foo", "Zm9v" },
		{ "foob", "Zm9vYg==" },
		{ "fooba", "Zm9vYmE=" },
		{ "foobar", "Zm9vYmFy" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
		char *s = pbjson_base64(
		    (const uint8_t *)vec[i][0], strlen(vec[i][0]));

		assert_non_null(s);
		assert_string_equal(s, vec[i][1]);
		free(s);
	}
	{
		char *s = pbjson_base64(NULL, 0);

		assert_string_equal(s, "");
		free(s);
	}
}

static void
test_update_stock_round_trip(void **state)
{
	static const char want[] =
	    "{\"id\":\"" ID "\",\"stock\":\"5\",\"expectedVersion\":\"3\"}";
	Inventory__V1__UpdateStockRequest r =
	    INVENTORY__V1__UPDATE_STOCK_REQUEST__INIT;
	Inventory__V1__UpdateStockRequest *back;

	(void)state;
	r.id                   = ID;
	r.has_stock            = 1;
	r.stock                = 5;
	r.has_expected_version = 1;
	r.expected_version     = 3;
	assert_json(&r.base, want);
	assert_binary(&r.base, want);

	back = (Inventory__V1__UpdateStockRequest *)decode(
	    &inventory__v1__update_stock_request__descriptor, want);
	assert_string_equal(back->id, ID);
	assert_true(back->has_stock);
	assert_int_equal(back->stock, 5);
	assert_true(back->has_expected_version);
	assert_int_equal(back->expected_version, 3);
	protobuf_c_message_free_unpacked(&back->base, NULL);

	/* presence, not value: a stock of 0 is written, no stock is not */
	r.stock                = 0;
	r.has_expected_version = 0;
	r.id                   = NULL;
	assert_json(&r.base, "{\"stock\":\"0\"}");
	r.has_stock = 0;
	assert_json(&r.base, "{}");
	assert_binary(&r.base, "{}");
}

static void
test_list_products_round_trip(void **state)
{
	static const char want[] =
	    "{\"products\":["
	    "{\"id\":\"a\",\"name\":\"Widget \\\"W\\\" \xc3\xa9\","
	    "\"stock\":\"10\",\"price\":\"19.90\",\"version\":\"2\","
	    "\"createdAtUs\":\"1700000000000000\","
	    "\"updatedAtUs\":\"-1\"},"
	    "{\"id\":\"b\",\"stock\":\"9223372036854775807\","
	    "\"version\":\"-9223372036854775808\"},"
	    "{\"id\":\"c\"}],"
	    "\"nextPageToken\":\"tok\"}";
	Inventory__V1__Product  p[3]  = { INVENTORY__V1__PRODUCT__INIT,
		  INVENTORY__V1__PRODUCT__INIT, INVENTORY__V1__PRODUCT__INIT };
	Inventory__V1__Product *pp[3] = { &p[0], &p[1], &p[2] };
	Inventory__V1__ListProductsResponse r =
	    INVENTORY__V1__LIST_PRODUCTS_RESPONSE__INIT;
	Inventory__V1__ListProductsResponse *back;

	(void)state;
	p[0].id                = "a";
	p[0].name              = "Widget \"W\" \xc3\xa9";
	p[0].has_stock         = 1;
	p[0].stock             = 10;
	p[0].price             = "19.90";
	p[0].has_version       = 1;
	p[0].version           = 2;
	p[0].has_created_at_us = 1;
	p[0].created_at_us     = 1700000000000000;
	p[0].has_updated_at_us = 1;
	p[0].updated_at_us     = -1;
	p[1].id                = "b";
	p[1].has_stock         = 1;
	p[1].stock             = INT64_MAX;
	p[1].has_version       = 1;
	p[1].version           = INT64_MIN;
	p[2].id                = "c";
	r.n_products           = 3;
	r.products             = pp;
	r.next_page_token      = "tok";
	assert_json(&r.base, want);
	assert_binary(&r.base, want);

	back = (Inventory__V1__ListProductsResponse *)decode(
	    &inventory__v1__list_products_response__descriptor, want);
	assert_int_equal(back->n_products, 3);
	for (size_t i = 0; i < 3; i++) {
		const Inventory__V1__Product *a = back->products[i],
		                             *b = &p[i];

		assert_string_equal(a->id, b->id);
		assert_true((a->name == NULL) == (b->name == NULL));
		if (a->name != NULL)
			assert_string_equal(a->name, b->name);
		assert_int_equal(a->has_stock, b->has_stock);
		assert_int_equal(a->stock, b->stock);
		assert_int_equal(a->has_version, b->has_version);
		assert_int_equal(a->version, b->version);
		assert_int_equal(a->has_updated_at_us, b->has_updated_at_us);
		assert_int_equal(a->updated_at_us, b->updated_at_us);
	}
	assert_null(back->products[2]->price);
	assert_string_equal(back->next_page_token, "tok");
	protobuf_c_message_free_unpacked(&back->base, NULL);
}

static void
test_decode_proto_names_and_numbers(void **state)
{
	Inventory__V1__UpdateStockRequest  *u;
	Inventory__V1__ListProductsRequest *l;
	Inventory__V1__Request             *q;

	(void)state;
	/* original names, 64-bit values as JSON numbers */
	u = (Inventory__V1__UpdateStockRequest *)decode(
	    &inventory__v1__update_stock_request__descriptor,
	    "{\"id\":\"x\",\"stock\":42,\"expected_version\":-9007199254740993}");
	assert_int_equal(u->stock, 42);
	assert_true(u->has_expected_version);
	assert_int_equal(u->expected_version, -9007199254740993LL);
	protobuf_c_message_free_unpacked(&u->base, NULL);

	/* the extremes, as strings */
	u = (Inventory__V1__UpdateStockRequest *)decode(
	    &inventory__v1__update_stock_request__descriptor,
	    "{\"stock\":\"-9223372036854775808\","
	    "\"expectedVersion\":\"9223372036854775807\"}");
	assert_true(u->stock == INT64_MIN);
	assert_true(u->expected_version == INT64_MAX);
	protobuf_c_message_free_unpacked(&u->base, NULL);

	/* 32-bit: integer strings; a real without a fraction */
	l = (Inventory__V1__ListProductsRequest *)decode(
	    &inventory__v1__list_products_request__descriptor,
	    "{\"page_size\":\"-2147483648\",\"page_token\":\"t\"}");
	assert_true(l->has_page_size);
	assert_int_equal(l->page_size, INT32_MIN);
	assert_string_equal(l->page_token, "t");
	protobuf_c_message_free_unpacked(&l->base, NULL);
	l = (Inventory__V1__ListProductsRequest *)decode(
	    &inventory__v1__list_products_request__descriptor,
	    "{\"pageSize\":1e3}");
	assert_int_equal(l->page_size, 1000);
	protobuf_c_message_free_unpacked(&l->base, NULL);
	l = (Inventory__V1__ListProductsRequest *)decode(
	    &inventory__v1__list_products_request__descriptor,
	    "{\"pageSize\":2.0}");
	assert_int_equal(l->page_size, 2);
	protobuf_c_message_free_unpacked(&l->base, NULL);

	/* uint32 at its top; null is absent, for a scalar and a list */
	q = (Inventory__V1__Request *)decode(
	    &inventory__v1__request__descriptor,
	    "{\"timeout_ms\":4294967295,\"method\":null,\"batch\":null,"
	    "\"payload\":null}");
	assert_true(q->has_timeout_ms);
	assert_true(q->timeout_ms == UINT32_MAX);
	assert_null(q->method);
	assert_int_equal(q->n_batch, 0);
	assert_false(q->has_payload);
	protobuf_c_message_free_unpacked(&q->base, NULL);

	/* an empty list is no list; "" is a present string */
	q = (Inventory__V1__Request *)decode(
	    &inventory__v1__request__descriptor,
	    "{\"batch\":[],\"token\":\"\"}");
	assert_int_equal(q->n_batch, 0);
	assert_string_equal(q->token, "");
	protobuf_c_message_free_unpacked(&q->base, NULL);

	/* len bounds the text: what follows it is never read */
	{
		static const char text[] = "{\"id\":\"a\"}garbage";
		ProtobufCMessage *m      = pbjson_decode(
		         &inventory__v1__get_product_request__descriptor, text, 10,
		         err, sizeof(err));

		assert_non_null(m);
		assert_string_equal(
		    ((Inventory__V1__GetProductRequest *)m)->id, "a");
		protobuf_c_message_free_unpacked(m, NULL);
	}
}

static void
test_refusals(void **state)
{
	const ProtobufCMessageDescriptor *upd =
	    &inventory__v1__update_stock_request__descriptor;
	const ProtobufCMessageDescriptor *list =
	    &inventory__v1__list_products_request__descriptor;
	const ProtobufCMessageDescriptor *req =
	    &inventory__v1__request__descriptor;
	const ProtobufCMessageDescriptor *k = &kitchen_descriptor;

	(void)state;
	/* not JSON, not an object */
	refused(upd, "{\"id\":", "invalid JSON");
	refused(upd, "", "invalid JSON");
	refused(upd, "{\"id\":\"a\"} {}", "invalid JSON");
	refused(upd, "{\"id\":\"a\\u0000b\"}", "invalid JSON");
	refused(upd, "{\"id\":\"\xff\"}", "invalid JSON");
	refused(upd, "[]", "expected a JSON object, got array");
	refused(upd, "\"x\"", "expected a JSON object, got string");
	refused(upd, "7", "expected a JSON object, got number");
	refused(upd, "null", "expected a JSON object, got null");

	/* unknown fields, at the top and inside */
	refused(upd, "{\"id\":\"a\",\"bogus\":1}",
	    "unknown field \"bogus\" in inventory.v1.UpdateStockRequest");
	refused(upd, "{\"ID\":\"a\"}", "unknown field \"ID\"");
	refused(upd, "{\"expectedversion\":\"1\"}", "unknown field");
	refused(&inventory__v1__reserve_stock_request__descriptor,
	    "{\"items\":[{\"id\":\"a\"},{\"id\":\"b\",\"qty\":1}]}",
	    "items[1]: unknown field \"qty\" in inventory.v1.ReserveItem");

	/* wrong JSON types, each naming the field and what it wants */
	refused(upd, "{\"id\":{}}", "id: expected a string, got object");
	refused(upd, "{\"id\":5}", "id: expected a string, got number");
	refused(upd, "{\"stock\":true}",
	    "stock: expected an integer (number or string), got true");
	refused(upd, "{\"stock\":[1]}", "stock: expected an integer");
	refused(&inventory__v1__batch_get_products_request__descriptor,
	    "{\"ids\":\"a\"}", "ids: expected an array, got string");
	refused(&inventory__v1__batch_get_products_request__descriptor,
	    "{\"ids\":[\"a\",null]}", "ids[1]: expected a value, got null");
	refused(&inventory__v1__batch_get_products_request__descriptor,
	    "{\"ids\":[\"a\",1]}", "ids[1]: expected a string, got number");
	refused(&inventory__v1__get_product_response__descriptor,
	    "{\"product\":[]}", "product: expected an object, got array");
	refused(k, "{\"reqNum\":1,\"flag\":\"true\"}",
	    "flag: expected true or false, got string");
	refused(k, "{\"reqNum\":1,\"flag\":1}",
	    "flag: expected true or false, got number");

	/* ranges: 64-bit, 32-bit, unsigned */
	refused(upd, "{\"stock\":\"9223372036854775808\"}",
	    "stock: out of range for int64");
	refused(upd, "{\"stock\":\"-9223372036854775809\"}",
	    "out of range for int64");
	refused(upd, "{\"stock\":\"99999999999999999999999\"}",
	    "out of range for int64");
	refused(upd, "{\"stock\":1e19}", "out of range for int64");
	refused(list, "{\"pageSize\":2147483648}",
	    "pageSize: out of range for int32");
	refused(list, "{\"page_size\":\"-2147483649\"}",
	    "page_size: out of range for int32");
	refused(req, "{\"timeoutMs\":-1}", "out of range for uint32");
	refused(req, "{\"timeoutMs\":4294967296}", "out of range for uint32");
	refused(k, "{\"reqNum\":1,\"big\":\"18446744073709551616\"}",
	    "big: out of range for fixed64");
	refused(
	    k, "{\"reqNum\":1,\"big\":\"-1\"}", "out of range for fixed64");
	/* a JSON number past int64 is past jansson: send it as a string */
	refused(
	    k, "{\"reqNum\":1,\"big\":18446744073709551615}", "invalid JSON");

	/* fractions and integer strings that are not decimal integers */
	refused(list, "{\"pageSize\":1.5}", "pageSize: not an integer");
	refused(list, "{\"pageSize\":-0.25}", "not an integer");
	refused(upd, "{\"stock\":\"1.0\"}", "stock: not an integer");
	refused(upd, "{\"stock\":\"\"}", "not an integer");
	refused(upd, "{\"stock\":\"-\"}", "not an integer");
	refused(upd, "{\"stock\":\" 1\"}", "not an integer");
	refused(upd, "{\"stock\":\"+1\"}", "not an integer");
	refused(upd, "{\"stock\":\"0x10\"}", "not an integer");

	/* the same key twice; a field under both of its names */
	refused(upd, "{\"id\":\"a\",\"id\":\"b\"}", "duplicate object key");
	refused(upd, "{\"expectedVersion\":\"1\",\"expected_version\":\"1\"}",
	    "field given twice, as \"expectedVersion\" and "
	    "\"expected_version\"");

	/* bytes */
	refused(req, "{\"payload\":\"!!!!\"}", "payload: not valid base64");
	refused(req, "{\"payload\":\"Zg=\"}", "not valid base64");
	refused(req, "{\"payload\":\"Z\"}", "not valid base64");
	refused(req, "{\"payload\":\"Zg===\"}", "not valid base64");
	refused(req, "{\"payload\":\"+-8=\"}", "not valid base64");
	refused(req, "{\"payload\":\"Zm9v\\n\"}", "not valid base64");
	refused(req, "{\"payload\":5}", "payload: expected a base64 string");

	/* enums, floats, oneofs, required fields */
	refused(k, "{\"reqNum\":1,\"code\":\"NOPE\"}",
	    "code: no value of inventory.v1.Code has that name");
	refused(k, "{\"reqNum\":1,\"code\":\"3\"}", "has that name");
	refused(k, "{\"reqNum\":1,\"code\":true}",
	    "code: expected an enum name or number, got true");
	refused(k, "{\"reqNum\":1,\"codes\":[\"OK\",2147483648]}",
	    "codes[1]: out of range for enum");
	refused(k, "{\"reqNum\":1,\"ratio\":1e39}",
	    "ratio: out of range for float");
	refused(k, "{\"reqNum\":1,\"score\":\"1e999\"}",
	    "score: out of range for double");
	refused(k, "{\"reqNum\":1,\"score\":\"nan\"}", "score: not a number");
	refused(k, "{\"reqNum\":1,\"score\":\" 1\"}", "not a number");
	refused(k, "{\"reqNum\":1,\"score\":\"0x1p3\"}", "not a number");
	refused(k, "{\"reqNum\":1,\"score\":{}}", "score: expected a number");
	refused(k, "{\"reqNum\":1,\"pickText\":\"a\",\"pickNumber\":\"1\"}",
	    "pickNumber: another member of its oneof is set");
	refused(k, "{}", "reqNum: missing required field");
	refused(k, "{\"reqNum\":null}", "reqNum: missing required field");
	refused(k, "{\"reqNum\":1,\"child\":{\"flag\":true}}",
	    "child.reqNum: missing required field");
}

static void
test_depth(void **state)
{
	const ProtobufCMessageDescriptor *req =
	    &inventory__v1__request__descriptor;
	ProtobufCMessage *m;
	char             *s;

	(void)state;
	/* 32 levels of messages (the top-level one is the first) pass */
	s = nested_requests(PBJSON_MAX_DEPTH);
	m = decode(req, s);
	free(s);
	s = pbjson_encode(m, NULL);
	protobuf_c_message_free_unpacked(m, NULL);
	m = decode(req, s);
	free(s);
	protobuf_c_message_free_unpacked(m, NULL);

	/* 33 do not, nor 100 */
	s = nested_requests(PBJSON_MAX_DEPTH + 1);
	refused(req, s, "messages nested deeper than 32");
	free(s);
	s = nested_requests(100);
	refused(req, s, "messages nested deeper than 32");
	free(s);

	/* JSON nested past jansson's own limit never reaches the walk */
	{
		size_t n = 5000, i;
		char  *t = malloc(2 * n + 16), *p = t;

		assert_non_null(t);
		p += sprintf(p, "{\"method\":");
		for (i = 0; i < n; i++)
			*p++ = '[';
		for (i = 0; i < n; i++)
			*p++ = ']';
		sprintf(p, "}");
		refused(req, t, "invalid JSON");
		free(t);
	}
}

static void
test_bytes_round_trip(void **state)
{
	Inventory__V1__Request  r = INVENTORY__V1__REQUEST__INIT;
	Inventory__V1__Request *back;
	uint8_t                 all[256];
	char                   *b64, want[512];

	(void)state;
	for (int i = 0; i < 256; i++)
		all[i] = (uint8_t)i;
	r.has_payload  = 1;
	r.payload.data = all;
	r.payload.len  = sizeof(all);
	b64            = pbjson_base64(all, sizeof(all));
	assert_non_null(b64);
	snprintf(want, sizeof(want), "{\"payload\":\"%s\"}", b64);
	free(b64);
	assert_json(&r.base, want);
	assert_binary(&r.base, want);

	back = (Inventory__V1__Request *)decode(
	    &inventory__v1__request__descriptor, want);
	assert_true(back->has_payload);
	assert_int_equal(back->payload.len, sizeof(all));
	assert_memory_equal(back->payload.data, all, sizeof(all));
	protobuf_c_message_free_unpacked(&back->base, NULL);

	/* 0xfb 0xff 0xbf: standard "+/+/", URL-safe "-_-_"; 0xfb 0xff with
	 * and without padding, either alphabet */
	{
		static const char *const forms[][2] = {
			{ "+/+/", "\xfb\xff\xbf" },
			{ "-_-_", "\xfb\xff\xbf" },
			{ "+/8=", "\xfb\xff" },
			{ "+/8", "\xfb\xff" },
			{ "-_8", "\xfb\xff" },
			{ "-_8=", "\xfb\xff" },
			{ "Zg", "f" },
			{ "", "" },
		};

		for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
			snprintf(want, sizeof(want), "{\"payload\":\"%s\"}",
			    forms[i][0]);
			back = (Inventory__V1__Request *)decode(
			    &inventory__v1__request__descriptor, want);
			assert_true(back->has_payload);
			assert_int_equal(
			    back->payload.len, strlen(forms[i][1]));
			if (back->payload.len > 0)
				assert_memory_equal(back->payload.data,
				    forms[i][1], back->payload.len);
			protobuf_c_message_free_unpacked(&back->base, NULL);
		}
	}

	/* present but empty bytes stay present */
	r.payload.len = 0;
	assert_json(&r.base, "{\"payload\":\"\"}");
	assert_binary(&r.base, "{\"payload\":\"\"}");
}

/* Every type the schema lacks, through JSON and through protobuf-c's
 * pack/unpack with the hand-written descriptor. */
static void
test_kitchen(void **state)
{
	static const char want[] =
	    "{\"reqNum\":-7,\"flag\":true,\"ratio\":0.1,\"score\":0.3,"
	    "\"code\":\"ABORTED\",\"codes\":[\"OK\",99],"
	    "\"big\":\"18446744073709551615\",\"plainSint\":-3,"
	    "\"plainText\":\"hi\",\"pickNumber\":\"-5\","
	    "\"samples\":[1.5,-0.0,\"Infinity\",\"-Infinity\",1e300],"
	    "\"blobs\":[\"\",\"AQI=\"],\"child\":{\"reqNum\":1},"
	    "\"u32\":4294967295,\"flags\":[true,false]}";
	Inventory__V1__Code codes[] = { INVENTORY__V1__CODE__OK,
		(Inventory__V1__Code)99 };
	double  samples[] = { 1.5, -0.0, INFINITY, -INFINITY, 1e300 };
	uint8_t two[]     = { 1, 2 };
	ProtobufCBinaryData blobs[] = { { 0, NULL }, { 2, two } };
	protobuf_c_boolean  flags[] = { 1, 0 };
	Kitchen             k, child, *back;

	(void)state;
	kitchen_init(&k);
	kitchen_init(&child);
	child.req_num = 1;
	k.req_num     = -7;
	k.has_flag    = 1;
	k.flag        = 1;
	k.has_ratio   = 1;
	k.ratio       = 0.1f;
	k.has_score   = 1;
	k.score       = 0.3;
	k.has_code    = 1;
	k.code        = INVENTORY__V1__CODE__ABORTED;
	k.n_codes     = 2;
	k.codes       = codes;
	k.has_big     = 1;
	k.big         = UINT64_MAX;
	k.plain_sint  = -3;
	k.plain_text  = "hi";
	k.pick_case   = 11;
	k.pick_number = -5;
	k.n_samples   = 5;
	k.samples     = samples;
	k.n_blobs     = 2;
	k.blobs       = blobs;
	k.child       = &child;
	k.has_u32     = 1;
	k.u32         = UINT32_MAX;
	k.n_flags     = 2;
	k.flags       = flags;
	assert_json(&k.base, want);
	assert_binary(&k.base, want);

	back = (Kitchen *)decode(&kitchen_descriptor, want);
	assert_int_equal(back->req_num, -7);
	assert_true(back->has_flag && back->flag);
	assert_true(back->has_ratio && back->ratio == 0.1f);
	assert_true(back->has_score && back->score == 0.3);
	assert_int_equal(back->code, INVENTORY__V1__CODE__ABORTED);
	assert_int_equal(back->n_codes, 2);
	assert_int_equal(back->codes[1], 99);
	assert_true(back->big == UINT64_MAX);
	assert_int_equal(back->plain_sint, -3);
	assert_string_equal(back->plain_text, "hi");
	assert_int_equal(back->pick_case, 11);
	assert_int_equal(back->pick_number, -5);
	assert_int_equal(back->n_samples, 5);
	assert_true(back->samples[1] == 0 && signbit(back->samples[1]));
	assert_true(isinf(back->samples[2]) && back->samples[2] > 0);
	assert_true(isinf(back->samples[3]) && back->samples[3] < 0);
	assert_true(back->samples[4] == 1e300);
	assert_int_equal(back->n_blobs, 2);
	assert_int_equal(back->blobs[0].len, 0);
	assert_memory_equal(back->blobs[1].data, two, 2);
	assert_non_null(back->child);
	assert_int_equal(back->child->req_num, 1);
	assert_true(back->u32 == UINT32_MAX);
	assert_int_equal(back->n_flags, 2);
	assert_true(back->flags[0] && !back->flags[1]);
	protobuf_c_message_free_unpacked(&back->base, NULL);

	/* proto3 fields at their zero value are not written; a required
	 * one always is; the other oneof member */
	kitchen_init(&k);
	k.pick_case = 10;
	k.pick_text = "t";
	assert_json(&k.base, "{\"reqNum\":0,\"pickText\":\"t\"}");
	assert_binary(&k.base, "{\"reqNum\":0,\"pickText\":\"t\"}");

	/* a proto3 string given as "" is owned (and freed) like any */
	back = (Kitchen *)decode(&kitchen_descriptor,
	    "{\"req_num\":0,\"plain_text\":\"\",\"plain_sint\":0}");
	assert_string_equal(back->plain_text, "");
	protobuf_c_message_free_unpacked(&back->base, NULL);
}

static void
test_enum_and_reals(void **state)
{
	Kitchen *k;
	Kitchen  m;
	char    *s;

	(void)state;
	/* an enum by name, by number, unknown numbers kept */
	k = (Kitchen *)decode(&kitchen_descriptor,
	    "{\"reqNum\":0,\"code\":\"NOT_FOUND\","
	    "\"codes\":[10,\"UNAUTHENTICATED\",-4,1.0]}");
	assert_int_equal(k->code, INVENTORY__V1__CODE__NOT_FOUND);
	assert_int_equal(k->n_codes, 4);
	assert_int_equal(k->codes[0], INVENTORY__V1__CODE__ABORTED);
	assert_int_equal(k->codes[1], INVENTORY__V1__CODE__UNAUTHENTICATED);
	assert_true((int32_t)k->codes[2] == -4); /* enum may be unsigned */
	assert_int_equal(k->codes[3], INVENTORY__V1__CODE__CANCELLED);
	s = pbjson_encode(&k->base, NULL);
	assert_string_equal(s,
	    "{\"reqNum\":0,\"code\":\"NOT_FOUND\","
	    "\"codes\":[\"ABORTED\",\"UNAUTHENTICATED\",-4,\"CANCELLED\"]}");
	free(s);
	protobuf_c_message_free_unpacked(&k->base, NULL);

	/* reals: strings, specials, integers, shortest digits */
	k = (Kitchen *)decode(&kitchen_descriptor,
	    "{\"reqNum\":0,\"score\":\"NaN\",\"ratio\":\"-1.25e1\","
	    "\"samples\":[\"Infinity\",3,\"2.5\",-1E-2]}");
	assert_true(isnan(k->score));
	assert_true(k->ratio == -12.5f);
	assert_true(k->samples[1] == 3 && k->samples[2] == 2.5);
	assert_true(k->samples[3] == -0.01);
	s = pbjson_encode(&k->base, NULL);
	assert_string_equal(s,
	    "{\"reqNum\":0,\"ratio\":-12.5,\"score\":\"NaN\","
	    "\"samples\":[\"Infinity\",3,2.5,-0.01]}");
	free(s);
	protobuf_c_message_free_unpacked(&k->base, NULL);

	/* a float is written with the digits a float needs, not 17; a
	 * double that needs 17 gets them, and both still read back */
	kitchen_init(&m);
	m.has_ratio = 1;
	m.ratio     = 1.0f / 3.0f;
	assert_json(&m.base, "{\"reqNum\":0,\"ratio\":0.33333334}");
	m.has_score = 1;
	m.score     = 1.0 / 3.0;
	s           = pbjson_encode(&m.base, NULL);
	k           = (Kitchen *)decode(&kitchen_descriptor, s);
	assert_true(k->ratio == m.ratio && k->score == m.score);
	free(s);
	protobuf_c_message_free_unpacked(&k->base, NULL);
	m.ratio = FLT_MAX;
	m.score = 5e-324;
	s       = pbjson_encode(&m.base, NULL);
	k       = (Kitchen *)decode(&kitchen_descriptor, s);
	assert_true(k->ratio == FLT_MAX && k->score == 5e-324);
	free(s);
	protobuf_c_message_free_unpacked(&k->base, NULL);
}

static void
test_binary_conveniences(void **state)
{
	static const uint8_t   junk[] = { 0x0a, 0x05, 'a' }; /* cut short */
	Inventory__V1__Product p      = INVENTORY__V1__PRODUCT__INIT;
	uint8_t               *bin, buf[64];
	size_t                 n = 99, len;
	char                  *s;

	(void)state;
	/* an empty message: a 1-byte allocation, length 0 */
	bin = pbjson_to_binary(&inventory__v1__get_product_request__descriptor,
	    "{}", 2, &n, err, sizeof(err));
	assert_non_null(bin);
	assert_int_equal(n, 0);
	free(bin);
	bin = pbjson_to_binary(&inventory__v1__get_product_request__descriptor,
	    "{\"nope\":1}", 10, &n, err, sizeof(err));
	assert_null(bin);
	assert_non_null(strstr(err, "unknown field \"nope\""));

	/* bytes that do not unpack */
	s = pbjson_from_binary(&inventory__v1__product__descriptor, junk,
	    sizeof(junk), &len, err, sizeof(err));
	assert_null(s);
	assert_string_equal(err, "bytes are not a valid inventory.v1.Product");
	s = pbjson_from_binary(&inventory__v1__product__descriptor, NULL, 0,
	    &len, err, sizeof(err));
	assert_string_equal(s, "{}");
	free(s);

	/* a string that is not UTF-8: from_binary refuses it (its JSON
	 * could not be read back), encode writes U+FFFD */
	p.id   = "a\xff"
	         "b";
	p.name = "\xc3";
	n      = protobuf_c_message_pack(&p.base, buf);
	s = pbjson_from_binary(&inventory__v1__product__descriptor, buf, n,
	    &len, err, sizeof(err));
	assert_null(s);
	assert_string_equal(err, "id: string is not valid UTF-8");
	s = pbjson_encode(&p.base, NULL);
	assert_string_equal(s, "{\"id\":\"a\xef\xbf\xbd"
	                       "b\",\"name\":\"\xef\xbf\xbd\"}");
	free(s);

	/* messages nested past the limit in binary are refused too */
	{
		Inventory__V1__Request  r[PBJSON_MAX_DEPTH + 1];
		Inventory__V1__Request *next[PBJSON_MAX_DEPTH + 1];
		uint8_t                 deep[256];

		for (int i = 0; i <= PBJSON_MAX_DEPTH; i++) {
			inventory__v1__request__init(&r[i]);
			next[i] = &r[i];
			if (i > 0) {
				r[i - 1].n_batch = 1;
				r[i - 1].batch   = &next[i];
			}
		}
		n = protobuf_c_message_pack(&r[0].base, deep);
		s = pbjson_from_binary(&inventory__v1__request__descriptor,
		    deep, n, &len, err, sizeof(err));
		assert_null(s);
		assert_string_equal(err, "messages nested deeper than 32");
		r[PBJSON_MAX_DEPTH - 1].n_batch = 0;
		n = protobuf_c_message_pack(&r[0].base, deep);
		s = pbjson_from_binary(&inventory__v1__request__descriptor,
		    deep, n, &len, err, sizeof(err));
		assert_non_null(s);
		free(s);
	}
}

/* Reasons are bounded by errlen, one line, and err may be absent. */
static void
test_reasons(void **state)
{
	char              small[12], name[256], key[300];
	ProtobufCMessage *m;

	(void)state;
	/* a 255-byte unknown key is quoted cut short */
	memset(name, 'k', sizeof(name) - 1);
	name[sizeof(name) - 1] = '\0';
	snprintf(key, sizeof(key), "{\"%s\":1}", name);
	m = pbjson_decode(&inventory__v1__get_product_request__descriptor, key,
	    strlen(key), err, sizeof(err));
	assert_null(m);
	assert_true(strlen(err) < sizeof(err));
	assert_non_null(strstr(err, "kkk...\" in inventory.v1."));

	m = pbjson_decode(&inventory__v1__get_product_request__descriptor,
	    "{\"x\":1}", 7, small, sizeof(small));
	assert_null(m);
	assert_int_equal(strlen(small), sizeof(small) - 1);
	m = pbjson_decode(&inventory__v1__get_product_request__descriptor,
	    "{\"x\":1}", 7, NULL, 0);
	assert_null(m);

	/* jansson quotes the text near an error: a control byte there
	 * does not break the line, a cut character does not survive */
	refused(&inventory__v1__get_product_request__descriptor,
	    "{\"id\":tr\x01ue}", "invalid JSON");
	refused(&inventory__v1__get_product_request__descriptor,
	    "{\"\xc3\xa9\xc3\xa9\":1}", "unknown field \"\xc3\xa9\xc3\xa9\"");
	assert_null(pbjson_decode(NULL, "{}", 2, err, sizeof(err)));
	assert_string_equal(err, "not a message descriptor");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_base64_vectors),
		cmocka_unit_test(test_update_stock_round_trip),
		cmocka_unit_test(test_list_products_round_trip),
		cmocka_unit_test(test_decode_proto_names_and_numbers),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_bytes_round_trip),
		cmocka_unit_test(test_kitchen),
		cmocka_unit_test(test_enum_and_reals),
		cmocka_unit_test(test_binary_conveniences),
		cmocka_unit_test(test_reasons),
	};

	return cmocka_run_group_tests_name("pbjson", tests, NULL, NULL);
}
