/*
 * Unit tests for src/dispatch.c's decode path (dispatch_decode) and the
 * replies dispatch_handle() builds without a database: undecodable bytes
 * and malformed envelopes are INVALID_ARGUMENT, unknown methods
 * UNIMPLEMENTED, a spent deadline DEADLINE_EXCEEDED, and a valid envelope
 * decodes to the method's typed request.  No sockets, no store (a NULL
 * store must give UNAVAILABLE, never a crash).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dispatch.h"
#include "product.h"

#define PREFIX "/inventory.v1.InventoryService/"

static const ProtobufCServiceDescriptor *const svc =
    &inventory__v1__inventory_service__descriptor;

/* Pack an envelope; payload may be NULL (absent). */
static uint8_t *
envelope(const char *method, const char *request_id, int has_timeout,
    uint32_t timeout_ms, const ProtobufCMessage *payload, size_t *len)
{
	Inventory__V1__Request env  = INVENTORY__V1__REQUEST__INIT;
	uint8_t               *body = NULL;
	uint8_t               *out;

	env.method         = (char *)method;
	env.request_id     = (char *)request_id;
	env.has_timeout_ms = has_timeout;
	env.timeout_ms     = timeout_ms;
	if (payload != NULL) {
		size_t n = protobuf_c_message_get_packed_size(payload);
		body     = malloc(n + 1);
		assert_non_null(body);
		protobuf_c_message_pack(payload, body);
		env.has_payload  = 1;
		env.payload.data = body;
		env.payload.len  = n;
	}
	*len = inventory__v1__request__get_packed_size(&env);
	out  = malloc(*len + 1);
	assert_non_null(out);
	inventory__v1__request__pack(&env, out);
	free(body);
	return out;
}

static int
method_index(const char *name)
{
	for (unsigned i = 0; i < svc->n_methods; i++) {
		if (strcmp(svc->methods[i].name, name) == 0) {
			return (int)i;
		}
	}
	return -2;
}

static enum code
decode(const uint8_t *buf, size_t len, struct dispatch_request *req)
{
	char msg[256];

	msg[0] = '\0';
	return dispatch_decode(buf, len, req, msg, sizeof(msg));
}

static void
test_garbage(void **state)
{
	static const uint8_t junk[][8] = {
		{ 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff },
		{ 0x0a, 0x7f, 'x', 0, 0, 0, 0,
		    0 }, /* string longer than the buffer */
		{ 0x07, 0x01, 0x02, 0x03, 0, 0, 0, 0 },       /* wire type 7 */
		{ 0x22, 0xff, 0xff, 0xff, 0xff, 0x0f, 0, 0 }, /* huge length */
	};
	struct dispatch_request req;

	(void)state;
	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++) {
		if (decode(junk[i], sizeof(junk[i]), &req) !=
		    CODE_INVALID_ARGUMENT) {
			fail_msg("junk %zu not INVALID_ARGUMENT", i);
		}
		assert_int_equal(req.method, -1);
		dispatch_request_fini(&req);
		dispatch_request_fini(&req); /* idempotent */
	}
}

static void
test_truncated(void **state)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	struct dispatch_request req;
	uint8_t                *buf;
	size_t                  len;

	(void)state;
	g.id = "123e4567-e89b-12d3-a456-426614174000";
	buf  = envelope(PREFIX "GetProduct", "r1", 0, 0, &g.base, &len);
	/* Every strict prefix that cuts a field is malformed. */
	for (size_t cut = 1; cut < len; cut++) {
		enum code c = decode(buf, cut, &req);
		assert_true(c == CODE_INVALID_ARGUMENT || c == CODE_OK ||
		            c == CODE_UNIMPLEMENTED);
		dispatch_request_fini(&req);
	}
	assert_int_equal(decode(buf, len - 1, &req), CODE_INVALID_ARGUMENT);
	dispatch_request_fini(&req);
	free(buf);
}

static void
test_empty(void **state)
{
	struct dispatch_request req;

	(void)state;
	/* Zero bytes are an envelope with no method. */
	assert_int_equal(
	    decode((const uint8_t *)"", 0, &req), CODE_INVALID_ARGUMENT);
	assert_int_equal(req.method, -1);
	dispatch_request_fini(&req);
}

static void
test_unknown_method(void **state)
{
	static const char *const names[] = {
		PREFIX "DeleteProduct",
		PREFIX "getproduct",
		PREFIX,
		"GetProduct",
		"/inventory.v2.InventoryService/GetProduct",
		"/other.Service/GetProduct",
		PREFIX "GetProduct/",
	};
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;

	(void)state;
	g.id = "123e4567-e89b-12d3-a456-426614174000";
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct dispatch_request req;
		size_t                  len;
		uint8_t  *buf = envelope(names[i], "r1", 0, 0, &g.base, &len);
		enum code c   = decode(buf, len, &req);

		if (c != CODE_UNIMPLEMENTED) {
			fail_msg("method '%s': %s, want UNIMPLEMENTED",
			    names[i], code_name(c));
		}
		assert_int_equal(req.method, -1);
		dispatch_request_fini(&req);
		free(buf);
	}
}

static void
test_missing_method(void **state)
{
	struct dispatch_request req;
	size_t                  len;
	uint8_t                *buf = envelope(NULL, "r1", 0, 0, NULL, &len);

	(void)state;
	assert_int_equal(decode(buf, len, &req), CODE_INVALID_ARGUMENT);
	dispatch_request_fini(&req);
	free(buf);
	buf = envelope("", "r1", 0, 0, NULL, &len);
	assert_int_equal(decode(buf, len, &req), CODE_INVALID_ARGUMENT);
	dispatch_request_fini(&req);
	free(buf);
}

static void
test_missing_payload(void **state)
{
	struct dispatch_request req;
	size_t                  len;
	uint8_t *buf = envelope(PREFIX "GetProduct", "r1", 0, 0, NULL, &len);

	(void)state;
	/* An absent payload is an empty message: it decodes, and the
	 * handler then rejects the missing id (see contract.raw). */
	assert_int_equal(decode(buf, len, &req), CODE_OK);
	assert_int_equal(req.method, method_index("GetProduct"));
	assert_non_null(req.payload);
	assert_null(((Inventory__V1__GetProductRequest *)req.payload)->id);
	dispatch_request_fini(&req);
	free(buf);
}

static void
test_bad_payload(void **state)
{
	Inventory__V1__Request  env = INVENTORY__V1__REQUEST__INIT;
	struct dispatch_request req;
	uint8_t                 junk[] = { 0xff, 0xff, 0xff, 0xff };
	uint8_t                 buf[128];
	size_t                  len;

	(void)state;
	env.method       = PREFIX "UpdateStock";
	env.has_payload  = 1;
	env.payload.data = junk;
	env.payload.len  = sizeof(junk);
	len              = inventory__v1__request__pack(&env, buf);
	assert_int_equal(decode(buf, len, &req), CODE_INVALID_ARGUMENT);
	/* The method was known: the metrics can name it. */
	assert_int_equal(req.method, method_index("UpdateStock"));
	dispatch_request_fini(&req);
}

static void
test_bad_request_id(void **state)
{
	static char              long_id[REQUEST_ID_MAX + 2]; /* 65 bytes */
	static const char *const ids[] = { "tab\there", "caf\xc3\xa9",
		long_id };

	(void)state;
	memset(long_id, 'r', REQUEST_ID_MAX + 1);
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct dispatch_request req;
		size_t                  len;
		uint8_t                *buf =
		    envelope(PREFIX "GetProduct", ids[i], 0, 0, NULL, &len);

		assert_int_equal(
		    decode(buf, len, &req), CODE_INVALID_ARGUMENT);
		dispatch_request_fini(&req);
		free(buf);
	}
}

static void
test_valid(void **state)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	Inventory__V1__UpdateStockRequest u =
	    INVENTORY__V1__UPDATE_STOCK_REQUEST__INIT;
	Inventory__V1__CreateProductRequest c =
	    INVENTORY__V1__CREATE_PRODUCT_REQUEST__INIT;
	struct dispatch_request req;
	uint8_t                *buf;
	size_t                  len;

	(void)state;
	g.id = "123e4567-e89b-12d3-a456-426614174000";
	buf  = envelope(PREFIX "GetProduct", "req-1", 1, 5000, &g.base, &len);
	assert_int_equal(decode(buf, len, &req), CODE_OK);
	assert_int_equal(req.method, method_index("GetProduct"));
	assert_ptr_equal(req.payload->descriptor,
	    &inventory__v1__get_product_request__descriptor);
	assert_string_equal(
	    ((Inventory__V1__GetProductRequest *)req.payload)->id, g.id);
	assert_string_equal(req.env->request_id, "req-1");
	assert_int_equal(req.env->timeout_ms, 5000);
	dispatch_request_fini(&req);
	assert_null(req.env);
	assert_null(req.payload);
	free(buf);

	u.id                   = g.id;
	u.has_stock            = 1;
	u.stock                = 7;
	u.has_expected_version = 1;
	u.expected_version     = 3;
	buf = envelope(PREFIX "UpdateStock", NULL, 0, 0, &u.base, &len);
	assert_int_equal(decode(buf, len, &req), CODE_OK);
	assert_int_equal(req.method, method_index("UpdateStock"));
	{
		Inventory__V1__UpdateStockRequest *p =
		    (Inventory__V1__UpdateStockRequest *)req.payload;
		assert_true(p->has_stock && p->stock == 7);
		assert_true(
		    p->has_expected_version && p->expected_version == 3);
	}
	dispatch_request_fini(&req);
	free(buf);

	c.name      = "Widget";
	c.has_stock = 1;
	c.stock     = 10;
	c.price     = "19.90";
	buf = envelope(PREFIX "CreateProduct", "c-1", 0, 0, &c.base, &len);
	assert_int_equal(decode(buf, len, &req), CODE_OK);
	assert_int_equal(req.method, method_index("CreateProduct"));
	assert_string_equal(
	    ((Inventory__V1__CreateProductRequest *)req.payload)->price,
	    "19.90");
	dispatch_request_fini(&req);
	free(buf);
}

/* dispatch_handle() with no store: decode the reply it packs. */
static Inventory__V1__Response *
handle(const uint8_t *buf, size_t len)
{
	uint8_t                  reply[DISPATCH_REPLY_MAX];
	size_t                   n;
	Inventory__V1__Response *resp;

	n = dispatch_handle(
	    NULL, buf, len, dispatch_now_ns(), reply, sizeof(reply));
	assert_true(n > 0 && n <= sizeof(reply));
	resp = inventory__v1__response__unpack(NULL, n, reply);
	assert_non_null(resp);
	assert_true(resp->has_code);
	return resp;
}

static void
test_handle_replies(void **state)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	Inventory__V1__Response *resp;
	uint8_t                 *buf;
	size_t                   len;
	const uint8_t            junk[] = { 0xff, 0x00, 0xff, 0x00, 0xff };

	(void)state;
	g.id = "123e4567-e89b-12d3-a456-426614174000";

	resp = handle(junk, sizeof(junk));
	assert_int_equal(resp->code, CODE_INVALID_ARGUMENT);
	assert_non_null(resp->message);
	assert_int_equal(resp->has_payload, 0);
	inventory__v1__response__free_unpacked(resp, NULL);

	buf  = envelope(PREFIX "Nope", "echo-me", 0, 0, &g.base, &len);
	resp = handle(buf, len);
	assert_int_equal(resp->code, CODE_UNIMPLEMENTED);
	assert_non_null(resp->request_id);
	assert_string_equal(resp->request_id, "echo-me");
	inventory__v1__response__free_unpacked(resp, NULL);
	free(buf);

	/* timeout_ms 0: already expired, never reaches the store. */
	buf  = envelope(PREFIX "GetProduct", "d-1", 1, 0, &g.base, &len);
	resp = handle(buf, len);
	assert_int_equal(resp->code, CODE_DEADLINE_EXCEEDED);
	inventory__v1__response__free_unpacked(resp, NULL);
	free(buf);

	/* A live request with no store: UNAVAILABLE, not a crash. */
	buf  = envelope(PREFIX "GetProduct", "u-1", 1, 5000, &g.base, &len);
	resp = handle(buf, len);
	assert_int_equal(resp->code, CODE_UNAVAILABLE);
	inventory__v1__response__free_unpacked(resp, NULL);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garbage),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_unknown_method),
		cmocka_unit_test(test_missing_method),
		cmocka_unit_test(test_missing_payload),
		cmocka_unit_test(test_bad_payload),
		cmocka_unit_test(test_bad_request_id),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_handle_replies),
	};

	return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
