/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/core/dispatch.c's decode path (dispatch_decode) and the
 * replies dispatch_handle() builds without a database: undecodable bytes
 * and malformed envelopes are INVALID_ARGUMENT, unknown methods
 * UNIMPLEMENTED, a spent deadline DEADLINE_EXCEEDED, and a valid envelope
 * decodes to the method's typed request.  No sockets, no store (a NULL
 * store must give UNAVAILABLE, never a crash).
 *
 * Batch frames (Request.batch): a batch is an execution detail,
 * never a change of meaning, so every entry of a batch frame must get
 * exactly the Response it gets when sent alone, in order, echoing its
 * request id; one bad entry fails only itself; only a frame refused as a
 * whole (over the size limit, more than DISPATCH_BATCH_MAX entries) gets
 * one frame-level code and an empty batch.  dispatch_frame_open() must
 * leave pending, in arrival order, exactly the entries that need the
 * database, and run `done` once, after the last of them and the release.
 * BatchGetProducts' validation (1..1000 ids, each a UUID, the bad one
 * named by index) is checked here too: it runs before any I/O.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/product.h"
#include "core/dispatch_testing.h"
#include "ops/metrics.h"
#include "handlers/rpc.h"

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
	    NULL, buf, len, clock_now_ns(), reply, sizeof(reply));
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

static void
test_check_table(void **state)
{
	(void)state;
	assert_int_equal(dispatch_check_table(), 0);
	assert_int_equal(rpc_check(), 0);
	for (size_t i = 0; i < rpc_count; i++) {
		assert_null(rpc_row_gap(rpc_table[i]));
		assert_ptr_equal(rpc_find(rpc_table[i]->name), rpc_table[i]);
	}
	assert_null(rpc_find("NoSuchMethod"));
}

/* A row missing what the planner, the executor or dispatch needs is
 * refused (rpc_row_gap(), which rpc_check() runs at start-up). */
static void
test_row_gaps(void **state)
{
	const struct rpc *get = rpc_find("GetProduct");
	const struct rpc *upd = rpc_find("UpdateStock");
	const struct rpc *lst = rpc_find("ListProducts");
	struct rpc        r;

	(void)state;
	assert_non_null(get);
	assert_non_null(upd);
	assert_non_null(lst);
	r      = *get;
	r.name = NULL;
	assert_non_null(rpc_row_gap(&r));
	r         = *get;
	r.prepare = NULL;
	assert_non_null(rpc_row_gap(&r));
	r        = *get;
	r.finish = NULL;
	assert_non_null(rpc_row_gap(&r));
	r                = *get;
	r.reply_products = NULL;
	assert_non_null(rpc_row_gap(&r));
	/* A read that names no product and does not list. */
	r           = *lst;
	r.reads_any = false;
	assert_non_null(rpc_row_gap(&r));
	/* The shared SELECT needs the ids and a way to take results. */
	r            = *get;
	r.reads_take = NULL;
	assert_non_null(rpc_row_gap(&r));
	r           = *get;
	r.writes    = true;
	r.same_call = upd->same_call;
	r.written   = upd->written;
	assert_non_null(rpc_row_gap(&r)); /* a write joining the reads */
	r       = *get;
	r.batch = RPC_BATCH_NONE;
	assert_non_null(rpc_row_gap(&r)); /* reads_take without the form */
	/* A write needs same_call and written; the updates, update_fill. */
	r           = *upd;
	r.same_call = NULL;
	assert_non_null(rpc_row_gap(&r));
	r         = *upd;
	r.written = NULL;
	assert_non_null(rpc_row_gap(&r));
	r             = *upd;
	r.update_fill = NULL;
	assert_non_null(rpc_row_gap(&r));
	r       = *upd;
	r.batch = (enum rpc_batch)42;
	assert_non_null(rpc_row_gap(&r));
	/* No run: answered by dispatch, fine for a read without batch
	 * form, never for a write or a batch form. */
	r     = *lst;
	r.run = NULL;
	assert_null(rpc_row_gap(&r));
	r     = *upd;
	r.run = NULL;
	assert_non_null(rpc_row_gap(&r));
	r     = *get;
	r.run = NULL;
	assert_non_null(rpc_row_gap(&r));
}

/* ---- batch frames ------------------------------------------------------ */

#define UUID_A "123e4567-e89b-12d3-a456-426614174000"
#define UUID_B "123e4567-e89b-12d3-a456-4266141740bb"

/* A reply's code, failing with both names and what it was for. */
static void
expect_code(const Inventory__V1__Response *r, enum code want, const char *what)
{
	if (!r->has_code)
		fail_msg("%s: no code, want %s", what, code_name(want));
	if (r->code != (uint32_t)want)
		fail_msg("%s: %s (%s), want %s", what, code_name((int)r->code),
		    r->message ? r->message : "-", code_name(want));
}

/* One entry of a batch frame: its envelope and the payload it owns. */
struct entry {
	Inventory__V1__Request env;
	uint8_t               *body; /* owned, or NULL */
};

static void
entry_init(struct entry *e, const char *method, const char *request_id,
    int has_timeout, uint32_t timeout_ms, const ProtobufCMessage *payload)
{
	inventory__v1__request__init(&e->env);
	e->body               = NULL;
	e->env.method         = (char *)method;
	e->env.request_id     = (char *)request_id;
	e->env.has_timeout_ms = has_timeout;
	e->env.timeout_ms     = timeout_ms;
	if (payload != NULL) {
		size_t n = protobuf_c_message_get_packed_size(payload);

		e->body = malloc(n + 1);
		assert_non_null(e->body);
		protobuf_c_message_pack(payload, e->body);
		e->env.has_payload  = 1;
		e->env.payload.data = e->body;
		e->env.payload.len  = n;
	}
}

static void
entries_fini(struct entry *e, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(e[i].body);
		e[i].body = NULL;
	}
}

static uint8_t *
pack_request(const Inventory__V1__Request *env, size_t *len)
{
	uint8_t *out;

	*len = inventory__v1__request__get_packed_size(env);
	out  = malloc(*len + 1);
	assert_non_null(out);
	inventory__v1__request__pack(env, out);
	return out;
}

/* A batch frame of e[0..n). */
static uint8_t *
batch_frame(struct entry *e, size_t n, size_t *len)
{
	Inventory__V1__Request   frame = INVENTORY__V1__REQUEST__INIT;
	Inventory__V1__Request **ptrs  = calloc(n + 1, sizeof(*ptrs));
	uint8_t                 *out;

	assert_non_null(ptrs);
	for (size_t i = 0; i < n; i++)
		ptrs[i] = &e[i].env;
	frame.n_batch = n;
	frame.batch   = ptrs;
	out           = pack_request(&frame, len);
	free(ptrs);
	return out;
}

/* dispatch_handle() with no store and room for any batch reply; the
 * reply must decode, whatever it says. */
static Inventory__V1__Response *
handle_any(const uint8_t *buf, size_t len)
{
	size_t                   cap   = (size_t)4 << 20;
	uint8_t                 *reply = malloc(cap);
	Inventory__V1__Response *resp;
	size_t                   n;

	assert_non_null(reply);
	n = dispatch_handle(NULL, buf, len, clock_now_ns(), reply, cap);
	assert_true(n > 0 && n < cap);
	resp = inventory__v1__response__unpack(NULL, n, reply);
	free(reply);
	assert_non_null(resp);
	return resp;
}

/* The reply to e sent alone, as a single frame. */
static Inventory__V1__Response *
handle_alone(const struct entry *e)
{
	Inventory__V1__Response *resp;
	uint8_t                 *buf;
	size_t                   len;

	buf  = pack_request(&e->env, &len);
	resp = handle_any(buf, len);
	free(buf);
	return resp;
}

/* A batch reply, not a frame-level refusal, with n entries. */
static void
expect_batch_reply(const Inventory__V1__Response *resp, size_t n)
{
	if (resp->has_code && resp->code != CODE_OK)
		fail_msg("frame refused: %s (%s)", code_name((int)resp->code),
		    resp->message ? resp->message : "-");
	assert_int_equal(resp->n_batch, n);
	assert_int_equal(resp->has_payload, 0);
}

static void
expect_request_id(const Inventory__V1__Response *r, const char *want)
{
	if (want == NULL)
		assert_null(r->request_id);
	else {
		assert_non_null(r->request_id);
		assert_string_equal(r->request_id, want);
	}
}

/* Every kind of bad entry next to good ones: one Response per entry, in
 * order, each with the code, message and request id it gets alone. */
static void
test_batch_mixed(void **state)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	Inventory__V1__GetProductRequest bad =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	Inventory__V1__UpdateStockRequest u =
	    INVENTORY__V1__UPDATE_STOCK_REQUEST__INIT;
	Inventory__V1__CreateProductRequest c =
	    INVENTORY__V1__CREATE_PRODUCT_REQUEST__INIT;
	Inventory__V1__BatchGetProductsRequest bg =
	    INVENTORY__V1__BATCH_GET_PRODUCTS_REQUEST__INIT;
	static uint8_t junk[] = { 0xff, 0xff, 0xff, 0xff };
	char *bg_ids[] = { UUID_A, "123E4567-E89B-12D3-A456-4266141740BB",
		UUID_A };
	struct {
		const char *rid;  /* the request id the reply must echo */
		enum code   want; /* its code, alone and in the batch */
	} want[] = {
		{ "b-0", CODE_UNAVAILABLE },        /* valid GetProduct */
		{ "b-1", CODE_INVALID_ARGUMENT },   /* malformed payload */
		{ "b-2", CODE_UNIMPLEMENTED },      /* unknown method */
		{ "b-3", CODE_INVALID_ARGUMENT },   /* bad UUID */
		{ "b-4", CODE_INVALID_ARGUMENT },   /* nested batch */
		{ NULL, CODE_INVALID_ARGUMENT },    /* bad request_id */
		{ "b-6", CODE_DEADLINE_EXCEEDED },  /* timeout_ms 0 */
		{ "b-7", CODE_UNAVAILABLE },        /* valid UpdateStock */
		{ "b-8", CODE_INVALID_ARGUMENT },   /* bad price */
		{ "b-9", CODE_UNAVAILABLE },        /* valid BatchGet */
		{ NULL, CODE_INVALID_ARGUMENT },    /* empty envelope */
		{ "b-0", CODE_UNAVAILABLE },        /* b-0 again */
		{ "b-12", CODE_INVALID_ARGUMENT },  /* bad UUID, timeout 0 */
		{ "b-13", CODE_DEADLINE_EXCEEDED }, /* valid create, 0 */
	};
	enum { N = sizeof(want) / sizeof(want[0]) };
	struct entry             e[N], inner;
	Inventory__V1__Request  *nested[1];
	Inventory__V1__Response *resp;
	uint8_t                 *buf;
	size_t                   len;

	(void)state;
	g.id                   = UUID_A;
	bad.id                 = "123e4567-e89b-12d3-a456-42661417400";
	u.id                   = UUID_A;
	u.has_stock            = 1;
	u.stock                = 7;
	u.has_expected_version = 1;
	u.expected_version     = 3;
	c.name                 = "widget";
	c.has_stock            = 1;
	c.stock                = 1;
	c.price                = "1e3";
	bg.n_ids               = 3;
	bg.ids                 = bg_ids;

	entry_init(&e[0], PREFIX "GetProduct", "b-0", 1, 5000, &g.base);
	entry_init(&e[1], PREFIX "UpdateStock", "b-1", 0, 0, NULL);
	e[1].env.has_payload  = 1;
	e[1].env.payload.data = junk;
	e[1].env.payload.len  = sizeof(junk);
	entry_init(&e[2], PREFIX "Nope", "b-2", 0, 0, &g.base);
	entry_init(&e[3], PREFIX "GetProduct", "b-3", 0, 0, &bad.base);
	entry_init(&e[4], PREFIX "GetProduct", "b-4", 0, 0, &g.base);
	entry_init(&inner, PREFIX "GetProduct", "inner", 0, 0, &g.base);
	nested[0]        = &inner.env;
	e[4].env.n_batch = 1;
	e[4].env.batch   = nested;
	entry_init(&e[5], PREFIX "GetProduct", "tab\there", 0, 0, &g.base);
	entry_init(&e[6], PREFIX "GetProduct", "b-6", 1, 0, &g.base);
	entry_init(&e[7], PREFIX "UpdateStock", "b-7", 1, 5000, &u.base);
	entry_init(&e[8], PREFIX "CreateProduct", "b-8", 0, 0, &c.base);
	entry_init(&e[9], PREFIX "BatchGetProducts", "b-9", 0, 0, &bg.base);
	entry_init(&e[10], NULL, NULL, 0, 0, NULL);
	entry_init(&e[11], PREFIX "GetProduct", "b-0", 1, 5000, &g.base);
	u.id = "not a uuid";
	entry_init(&e[12], PREFIX "UpdateStock", "b-12", 1, 0, &u.base);
	c.price = "19.90";
	entry_init(&e[13], PREFIX "CreateProduct", "b-13", 1, 0, &c.base);

	buf  = batch_frame(e, N, &len);
	resp = handle_any(buf, len);
	free(buf);
	expect_batch_reply(resp, N);
	for (size_t i = 0; i < N; i++) {
		const Inventory__V1__Response *r = resp->batch[i];
		Inventory__V1__Response       *alone;
		char                           what[32];

		snprintf(what, sizeof(what), "entry %zu", i);
		expect_code(r, want[i].want, what);
		expect_request_id(r, want[i].rid);
		assert_non_null(r->message);
		assert_true(r->message[0] != '\0');
		assert_int_equal(r->has_payload, 0);
		assert_int_equal(r->n_batch, 0);
		if (i == 4) {
			/* Alone it would be a batch frame of its own. */
			assert_non_null(strstr(r->message, "batch"));
			continue;
		}
		if (i == 10)
			continue; /* alone, a probe (test_batch_empty_entries)
			           */
		alone = handle_alone(&e[i]);
		snprintf(what, sizeof(what), "entry %zu alone", i);
		expect_code(alone, want[i].want, what);
		expect_request_id(alone, want[i].rid);
		assert_non_null(alone->message);
		assert_string_equal(alone->message, r->message);
		inventory__v1__response__free_unpacked(alone, NULL);
	}
	inventory__v1__response__free_unpacked(resp, NULL);
	entries_fini(e, N);
	entries_fini(&inner, 1);
}

/* DISPATCH_BATCH_MAX entries is a batch: every answer in its place. */
static void
test_batch_full(void **state)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	Inventory__V1__GetProductRequest bad =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	static struct entry      e[DISPATCH_BATCH_MAX];
	static char              rid[DISPATCH_BATCH_MAX][16];
	Inventory__V1__Response *resp;
	uint8_t                 *buf;
	size_t                   len;

	(void)state;
	g.id   = UUID_A;
	bad.id = "nope";
	for (int i = 0; i < DISPATCH_BATCH_MAX; i++) {
		snprintf(rid[i], sizeof(rid[i]), "f-%d", i);
		entry_init(&e[i], PREFIX "GetProduct", rid[i], 1,
		    i % 3 == 2 ? 0 : 5000, i % 3 == 1 ? &bad.base : &g.base);
	}
	buf  = batch_frame(e, DISPATCH_BATCH_MAX, &len);
	resp = handle_any(buf, len);
	free(buf);
	expect_batch_reply(resp, DISPATCH_BATCH_MAX);
	for (int i = 0; i < DISPATCH_BATCH_MAX; i++) {
		static const enum code want[] = { CODE_UNAVAILABLE,
			CODE_INVALID_ARGUMENT, CODE_DEADLINE_EXCEEDED };
		char                   what[32];

		snprintf(what, sizeof(what), "entry %d", i);
		expect_code(resp->batch[i], want[i % 3], what);
		expect_request_id(resp->batch[i], rid[i]);
	}
	inventory__v1__response__free_unpacked(resp, NULL);
	entries_fini(e, DISPATCH_BATCH_MAX);
}

/* One entry too many: the whole frame is refused, with no batch. */
static void
test_batch_too_many(void **state)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	static struct entry      e[DISPATCH_BATCH_MAX + 1];
	Inventory__V1__Response *resp;
	uint8_t                 *buf;
	size_t                   len;

	(void)state;
	g.id = UUID_A;
	for (int i = 0; i < DISPATCH_BATCH_MAX + 1; i++)
		entry_init(
		    &e[i], PREFIX "GetProduct", "same", 1, 5000, &g.base);
	buf  = batch_frame(e, DISPATCH_BATCH_MAX + 1, &len);
	resp = handle_any(buf, len);
	free(buf);
	expect_code(resp, CODE_RESOURCE_EXHAUSTED, "frame");
	assert_int_equal(resp->n_batch, 0);
	assert_non_null(resp->message);
	assert_non_null(strstr(resp->message, "1000"));
	assert_null(resp->request_id);
	inventory__v1__response__free_unpacked(resp, NULL);
	entries_fini(e, DISPATCH_BATCH_MAX + 1);
}

/* A batch of one is still a batch; empty entries are answered like an
 * empty single frame. */
static void
test_batch_empty_entries(void **state)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	struct entry             e[3];
	Inventory__V1__Response *resp, *alone;
	uint8_t                 *buf;
	size_t                   len;
	uint64_t                 probes;

	(void)state;
	g.id = UUID_A;
	entry_init(&e[0], PREFIX "GetProduct", "one", 1, 5000, &g.base);
	buf  = batch_frame(e, 1, &len);
	resp = handle_any(buf, len);
	free(buf);
	expect_batch_reply(resp, 1);
	expect_code(resp->batch[0], CODE_UNAVAILABLE, "batch of one");
	expect_request_id(resp->batch[0], "one");
	inventory__v1__response__free_unpacked(resp, NULL);
	entries_fini(e, 1);

	for (int i = 0; i < 3; i++)
		entry_init(&e[i], NULL, NULL, 0, 0, NULL);
	buf  = batch_frame(e, 3, &len);
	resp = handle_any(buf, len);
	free(buf);
	expect_batch_reply(resp, 3);
	/* Alone, an empty request is no call but a liveness probe (OK, its
	 * code alone, counted apart); a batch entry is a call, and one
	 * without a method. */
	probes = metrics_probe_count();
	alone  = handle_alone(&e[0]);
	assert_int_equal(alone->code, CODE_OK);
	assert_null(alone->message);
	assert_false(alone->has_payload);
	assert_int_equal(metrics_probe_count(), probes + 1);
	for (int i = 0; i < 3; i++) {
		expect_code(resp->batch[i], CODE_INVALID_ARGUMENT, "empty");
		assert_non_null(strstr(resp->batch[i]->message, "method"));
	}
	inventory__v1__response__free_unpacked(alone, NULL);
	inventory__v1__response__free_unpacked(resp, NULL);
	entries_fini(e, 3);
}

/* dispatch_handle(): a reply that does not fit the caller's buffer is
 * replaced by one frame-level RESOURCE_EXHAUSTED that does. */
static void
test_reply_too_large(void **state)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	static struct entry      e[DISPATCH_BATCH_MAX];
	uint8_t                  reply[DISPATCH_REPLY_MAX];
	Inventory__V1__Response *resp;
	uint8_t                 *buf;
	size_t                   len, n;

	(void)state;
	g.id = UUID_A;
	for (int i = 0; i < DISPATCH_BATCH_MAX; i++)
		entry_init(
		    &e[i], PREFIX "GetProduct", "big", 1, 5000, &g.base);
	buf = batch_frame(e, DISPATCH_BATCH_MAX, &len);
	n   = dispatch_handle(
	      NULL, buf, len, clock_now_ns(), reply, sizeof(reply));
	free(buf);
	assert_true(n > 0 && n <= sizeof(reply));
	resp = inventory__v1__response__unpack(NULL, n, reply);
	assert_non_null(resp);
	expect_code(resp, CODE_RESOURCE_EXHAUSTED, "reply too large");
	assert_int_equal(resp->n_batch, 0);
	inventory__v1__response__free_unpacked(resp, NULL);
	entries_fini(e, DISPATCH_BATCH_MAX);
}

static int
reset_max_request(void **state)
{
	(void)state;
	dispatch_set_max_request(0);
	return 0;
}

/* Over the size limit: RESOURCE_EXHAUSTED for the frame, undecoded. */
static void
test_max_request(void **state)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	struct entry             e[3];
	Inventory__V1__Response *resp;
	uint8_t                 *buf;
	size_t                   len;

	(void)state;
	g.id = UUID_A;
	buf  = envelope(PREFIX "GetProduct", "m-1", 1, 5000, &g.base, &len);
	dispatch_set_max_request(len);
	resp = handle_any(buf, len);
	expect_code(resp, CODE_UNAVAILABLE, "at the limit");
	inventory__v1__response__free_unpacked(resp, NULL);
	dispatch_set_max_request(len - 1);
	resp = handle_any(buf, len);
	expect_code(resp, CODE_RESOURCE_EXHAUSTED, "one byte over");
	assert_null(resp->request_id); /* not even decoded */
	assert_non_null(resp->message);
	inventory__v1__response__free_unpacked(resp, NULL);
	free(buf);

	for (int i = 0; i < 3; i++)
		entry_init(
		    &e[i], PREFIX "GetProduct", "m-2", 1, 5000, &g.base);
	buf = batch_frame(e, 3, &len);
	dispatch_set_max_request(len - 1);
	resp = handle_any(buf, len);
	expect_code(resp, CODE_RESOURCE_EXHAUSTED, "batch over the limit");
	assert_int_equal(resp->n_batch, 0);
	inventory__v1__response__free_unpacked(resp, NULL);
	dispatch_set_max_request(len);
	resp = handle_any(buf, len);
	expect_batch_reply(resp, 3);
	inventory__v1__response__free_unpacked(resp, NULL);
	free(buf);
	entries_fini(e, 3);
	dispatch_set_max_request(0);
}

/* BatchGetProducts, alone and as a batch entry: 1..1000 ids, each a
 * UUID; a bad one is named by its index.  All before any I/O. */
static void
test_batch_get_validation(void **state)
{
	Inventory__V1__BatchGetProductsRequest r =
	    INVENTORY__V1__BATCH_GET_PRODUCTS_REQUEST__INIT;
	static char *ids[1001];
	struct {
		size_t      n;       /* ids[0..n) */
		size_t      bad;     /* index made invalid, or n */
		const char *badtext; /* its text */
		enum code   want;
		const char *msg; /* a substring of the message */
	} cases[] = {
		{ 0, 0, NULL, CODE_INVALID_ARGUMENT, "ids" },
		{ 1001, 1001, NULL, CODE_INVALID_ARGUMENT, "1000" },
		{ 1000, 1000, NULL, CODE_UNAVAILABLE, NULL },
		{ 1, 1, NULL, CODE_UNAVAILABLE, NULL },
		{ 4, 2, "not-a-uuid", CODE_INVALID_ARGUMENT, "ids[2]" },
		{ 4, 0, "", CODE_INVALID_ARGUMENT, "ids[0]" },
		{ 1000, 999, UUID_A "0", CODE_INVALID_ARGUMENT, "ids[999]" },
	};
	struct entry             e[sizeof(cases) / sizeof(cases[0])];
	Inventory__V1__Response *resp;
	uint8_t                 *buf;
	size_t                   len;

	(void)state;
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char what[32];

		/* Duplicates and upper case are allowed. */
		for (size_t i = 0; i < 1001; i++)
			ids[i] = i % 2
			             ? UUID_A
			             : "123E4567-E89B-12D3-A456-4266141740BB";
		if (cases[k].bad < cases[k].n)
			ids[cases[k].bad] = (char *)cases[k].badtext;
		r.n_ids = cases[k].n;
		r.ids   = ids;
		entry_init(
		    &e[k], PREFIX "BatchGetProducts", "bg", 0, 0, &r.base);
		resp = handle_alone(&e[k]);
		snprintf(what, sizeof(what), "case %zu", k);
		expect_code(resp, cases[k].want, what);
		if (cases[k].msg != NULL &&
		    strstr(resp->message, cases[k].msg) == NULL)
			fail_msg("case %zu: '%s' does not name '%s'", k,
			    resp->message, cases[k].msg);
		inventory__v1__response__free_unpacked(resp, NULL);
	}
	/* The same calls as the entries of one batch. */
	buf  = batch_frame(e, sizeof(cases) / sizeof(cases[0]), &len);
	resp = handle_any(buf, len);
	free(buf);
	expect_batch_reply(resp, sizeof(cases) / sizeof(cases[0]));
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		char what[32];

		snprintf(what, sizeof(what), "batch entry %zu", k);
		expect_code(resp->batch[k], cases[k].want, what);
		if (cases[k].msg != NULL)
			assert_non_null(
			    strstr(resp->batch[k]->message, cases[k].msg));
	}
	inventory__v1__response__free_unpacked(resp, NULL);
	entries_fini(e, sizeof(cases) / sizeof(cases[0]));
}

/* ---- dispatch_frame_open / _pack: what reaches the executor ---------- */

static void
count_done(struct frame *f, void *arg)
{
	(void)f;
	(*(int *)arg)++;
}

static struct frame *
open_frame(const uint8_t *buf, size_t len, uint64_t now, int *done,
    struct op **pending)
{
	struct frame *f;

	f = dispatch_frame_open(buf, len, now, count_done, done, pending);
	assert_non_null(f);
	return f;
}

static Inventory__V1__Response *
pack_frame(struct frame *f)
{
	uint8_t                  scratch[64];
	ProtobufCBufferSimple    out = PROTOBUF_C_BUFFER_SIMPLE_INIT(scratch);
	Inventory__V1__Response *resp;
	size_t                   n;

	n = dispatch_frame_pack(f, &out.base);
	assert_int_equal(n, out.len);
	resp = inventory__v1__response__unpack(NULL, n, out.data);
	PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&out);
	assert_non_null(resp);
	return resp;
}

static void
fill_product(struct product *p, const char *id, int64_t version)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->id, sizeof(p->id), "%s", id);
	snprintf(p->name, sizeof(p->name), "widget");
	snprintf(p->price, sizeof(p->price), "19.90");
	p->stock   = 5;
	p->version = version;
}

/* Only the entries that need the database are pending, in arrival order,
 * with canonical arguments; the outcomes an executor sets come back in
 * the entries' places. */
static void
test_frame_open_pending(void **state)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	Inventory__V1__GetProductRequest bad =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	Inventory__V1__UpdateStockRequest u =
	    INVENTORY__V1__UPDATE_STOCK_REQUEST__INIT;
	Inventory__V1__CreateProductRequest c =
	    INVENTORY__V1__CREATE_PRODUCT_REQUEST__INIT;
	Inventory__V1__BatchGetProductsRequest bg =
	    INVENTORY__V1__BATCH_GET_PRODUCTS_REQUEST__INIT;
	char                    *bg_ids[] = { UUID_B, UUID_A };
	struct entry             e[6];
	struct frame            *f;
	struct op               *pending, *ops[4], *op;
	Inventory__V1__Response *resp;
	uint8_t                 *buf;
	size_t                   len, n = 0;
	uint64_t                 now  = clock_now_ns();
	int                      done = 0;

	(void)state;
	g.id                   = "123E4567-E89B-12D3-A456-426614174000";
	bad.id                 = "x";
	u.id                   = UUID_B;
	u.has_stock            = 1;
	u.stock                = 7;
	u.has_expected_version = 1;
	u.expected_version     = 3;
	c.name                 = "widget";
	c.has_stock            = 1;
	c.stock                = 2;
	c.price                = "19.90";
	bg.n_ids               = 2;
	bg.ids                 = bg_ids;
	entry_init(&e[0], PREFIX "GetProduct", "p0", 1, 5000, &g.base);
	entry_init(&e[1], PREFIX "GetProduct", "p1", 0, 0, &bad.base);
	entry_init(&e[2], PREFIX "UpdateStock", "p2", 0, 0, &u.base);
	entry_init(&e[3], PREFIX "GetProduct", "p3", 1, 0, &g.base);
	entry_init(&e[4], PREFIX "BatchGetProducts", "p4", 0, 0, &bg.base);
	entry_init(&e[5], PREFIX "CreateProduct", "p5", 0, 0, &c.base);
	buf = batch_frame(e, 6, &len);
	f   = open_frame(buf, len, now, &done, &pending);
	free(buf);

	for (op = pending; op != NULL; op = op->next) {
		assert_true(n < 4);
		ops[n++] = op;
	}
	assert_int_equal(n, 4);
	assert_ptr_equal(ops[0]->rpc, rpc_find("GetProduct"));
	assert_string_equal(ops[0]->request_id, "p0");
	assert_string_equal(ops[0]->id, UUID_A); /* canonical */
	assert_true(ops[0]->deadline_ns == now + 5000 * (uint64_t)1000000);
	assert_true(ops[0]->received_ns == now);
	assert_ptr_equal(ops[1]->rpc, rpc_find("UpdateStock"));
	assert_string_equal(ops[1]->request_id, "p2");
	assert_string_equal(ops[1]->id, UUID_B);
	assert_true(ops[1]->stock == 7 && ops[1]->expected_version == 3);
	assert_true(ops[1]->deadline_ns == 0);
	assert_ptr_equal(ops[2]->rpc, rpc_find("BatchGetProducts"));
	assert_string_equal(ops[2]->request_id, "p4");
	assert_int_equal(ops[2]->nids, 2);
	assert_string_equal(ops[2]->ids[0], UUID_B);
	assert_string_equal(ops[2]->ids[1], UUID_A);
	assert_ptr_equal(ops[3]->rpc, rpc_find("CreateProduct"));
	assert_string_equal(ops[3]->name, "widget");
	assert_string_equal(ops[3]->price, "19.90");
	for (size_t i = 0; i < n; i++)
		assert_null(ops[i]->leader);

	/* What an executor would do, in any order. */
	ops[3]->code = CODE_ALREADY_EXISTS;
	dispatch_op_done(ops[3]);
	ops[1]->code = CODE_ABORTED;
	fill_product(&ops[1]->product, UUID_B, 4);
	dispatch_op_done(ops[1]);
	ops[0]->code = CODE_OK;
	fill_product(&ops[0]->product, UUID_A, 2);
	dispatch_op_done(ops[0]);
	ops[2]->products = calloc(2, sizeof(*ops[2]->products));
	assert_non_null(ops[2]->products);
	fill_product(&ops[2]->products[0], UUID_B, 9);
	fill_product(&ops[2]->products[1], UUID_A, 2);
	ops[2]->code = CODE_OK;
	dispatch_op_done(ops[2]);
	assert_int_equal(done, 0); /* not released yet */
	dispatch_frame_release(f);
	assert_int_equal(done, 1);

	resp = pack_frame(f);
	expect_batch_reply(resp, 6);
	for (size_t i = 0; i < 6; i++) {
		char rid[8];

		snprintf(rid, sizeof(rid), "p%zu", i);
		expect_request_id(resp->batch[i], rid);
	}
	expect_code(resp->batch[0], CODE_OK, "p0");
	{
		Inventory__V1__GetProductResponse *gr =
		    inventory__v1__get_product_response__unpack(NULL,
		        resp->batch[0]->payload.len,
		        resp->batch[0]->payload.data);
		assert_non_null(gr);
		assert_non_null(gr->product);
		assert_string_equal(gr->product->id, UUID_A);
		assert_true(gr->product->version == 2);
		inventory__v1__get_product_response__free_unpacked(gr, NULL);
	}
	expect_code(resp->batch[1], CODE_INVALID_ARGUMENT, "p1");
	expect_code(resp->batch[2], CODE_ABORTED, "p2");
	assert_non_null(resp->batch[2]->details);
	assert_true(resp->batch[2]->details->has_current_version &&
	            resp->batch[2]->details->current_version == 4);
	assert_non_null(resp->batch[2]->details->current);
	assert_string_equal(resp->batch[2]->details->current->id, UUID_B);
	assert_int_equal(resp->batch[2]->has_payload, 0);
	expect_code(resp->batch[3], CODE_DEADLINE_EXCEEDED, "p3");
	expect_code(resp->batch[4], CODE_OK, "p4");
	{
		Inventory__V1__BatchGetProductsResponse *br =
		    inventory__v1__batch_get_products_response__unpack(NULL,
		        resp->batch[4]->payload.len,
		        resp->batch[4]->payload.data);
		assert_non_null(br);
		assert_int_equal(br->n_products, 2);
		assert_string_equal(br->products[0]->id, UUID_B);
		assert_true(br->products[0]->version == 9);
		assert_string_equal(br->products[1]->id, UUID_A);
		inventory__v1__batch_get_products_response__free_unpacked(
		    br, NULL);
	}
	expect_code(resp->batch[5], CODE_ALREADY_EXISTS, "p5");
	assert_non_null(strstr(resp->batch[5]->message, "p5"));
	inventory__v1__response__free_unpacked(resp, NULL);
	dispatch_frame_free(f);
	entries_fini(e, 6);
}

/* `done` runs once: after the release and the last pending call,
 * whichever comes last. */
static void
test_frame_done_order(void **state)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	struct frame *f;
	struct op    *pending;
	uint8_t      *buf;
	size_t        len;
	int           done = 0;

	(void)state;
	g.id = UUID_A;
	buf  = envelope(PREFIX "GetProduct", "s-1", 0, 0, &g.base, &len);
	f    = open_frame(buf, len, clock_now_ns(), &done, &pending);
	assert_non_null(pending);
	assert_null(pending->next);
	assert_ptr_equal(pending->rpc, rpc_find("GetProduct"));
	dispatch_frame_release(f);
	assert_int_equal(done, 0);
	pending->code = CODE_NOT_FOUND;
	dispatch_op_done(pending);
	assert_int_equal(done, 1);
	dispatch_frame_free(f);
	free(buf);

	/* Nothing pending: done at the release. */
	done = 0;
	buf  = envelope(PREFIX "GetProduct", "s-2", 1, 0, &g.base, &len);
	f    = open_frame(buf, len, clock_now_ns(), &done, &pending);
	assert_null(pending);
	assert_int_equal(done, 0);
	dispatch_frame_release(f);
	assert_int_equal(done, 1);
	dispatch_frame_free(f);
	free(buf);
}

/* Frames refused as a whole have nothing pending and one reply. */
static void
test_frame_refused(void **state)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	static struct entry      e[DISPATCH_BATCH_MAX + 1];
	const uint8_t            junk[] = { 0xff, 0xff, 0xff };
	struct frame            *f;
	struct op               *pending;
	Inventory__V1__Response *resp;
	uint8_t                 *buf;
	size_t                   len;
	int                      done = 0;

	(void)state;
	g.id = UUID_A;
	for (int i = 0; i < DISPATCH_BATCH_MAX + 1; i++)
		entry_init(&e[i], PREFIX "GetProduct", "r", 0, 0, &g.base);
	buf = batch_frame(e, DISPATCH_BATCH_MAX + 1, &len);
	f   = open_frame(buf, len, clock_now_ns(), &done, &pending);
	free(buf);
	assert_null(pending);
	dispatch_frame_release(f);
	assert_int_equal(done, 1);
	resp = pack_frame(f);
	expect_code(resp, CODE_RESOURCE_EXHAUSTED, "too many");
	assert_int_equal(resp->n_batch, 0);
	inventory__v1__response__free_unpacked(resp, NULL);
	dispatch_frame_free(f);
	entries_fini(e, DISPATCH_BATCH_MAX + 1);

	f = open_frame(junk, sizeof(junk), clock_now_ns(), &done, &pending);
	assert_null(pending);
	dispatch_frame_release(f);
	assert_int_equal(done, 2);
	resp = pack_frame(f);
	expect_code(resp, CODE_INVALID_ARGUMENT, "junk");
	inventory__v1__response__free_unpacked(resp, NULL);
	dispatch_frame_free(f);
	dispatch_frame_free(NULL);
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
		cmocka_unit_test(test_check_table),
		cmocka_unit_test(test_row_gaps),
		cmocka_unit_test(test_batch_mixed),
		cmocka_unit_test(test_batch_full),
		cmocka_unit_test(test_batch_too_many),
		cmocka_unit_test(test_batch_empty_entries),
		cmocka_unit_test(test_reply_too_large),
		cmocka_unit_test_teardown(test_max_request, reset_max_request),
		cmocka_unit_test(test_batch_get_validation),
		cmocka_unit_test(test_frame_open_pending),
		cmocka_unit_test(test_frame_done_order),
		cmocka_unit_test(test_frame_refused),
	};

	return cmocka_run_group_tests_name("dispatch", tests, NULL, NULL);
}
