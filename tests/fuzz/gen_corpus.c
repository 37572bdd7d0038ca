/* SPDX-License-Identifier: MIT */
/*
 * Writes the fuzz targets' seed corpus: small valid and near-valid
 * encodings of every method, built with the generated protobuf-c code so
 * they track the contract.  The output is committed under
 * tests/fuzz/corpus/<target>/; rerun after a change to the proto:
 *
 *   gen_corpus tests/fuzz/corpus
 *
 * One file per seed, named after what it holds.  Deterministic.
 * corpus/batch/ holds batch frames (Request.batch) for fuzz_batch; they
 * are copied into corpus/envelope/ as batch-<name>.  corpus/pbjson/
 * holds JSON texts (Connect bodies) for fuzz_pbjson, written out as text.
 * corpus/connect/ holds HTTP calls for fuzz_connect, in its layout (a
 * flags byte, eight NUL-separated parts, the body; see fuzz_connect.c).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "inventory/v1/service.pb-c.h"

#define PREFIX "/inventory.v1.InventoryService/"
#define UUID   "0b7e8a52-1a2b-4c3d-8e9f-0123456789ab"

static const char *root;

static void
die(const char *what)
{
	fprintf(stderr, "gen_corpus: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void
put(const char *target, const char *name, const uint8_t *buf, size_t len)
{
	char  path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		die(path);
	}
	snprintf(path, sizeof(path), "%s/%s/%s", root, target, name);
	if ((f = fopen(path, "wb")) == NULL) {
		die(path);
	}
	if (len > 0 && fwrite(buf, 1, len, f) != len) {
		die(path);
	}
	if (fclose(f) != 0) {
		die(path);
	}
}

/* Pack any message into a malloc'd buffer. */
static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(m);
	if ((buf = malloc(*len + 1)) == NULL) {
		die("malloc");
	}
	protobuf_c_message_pack(m, buf);
	return buf;
}

/* A payload seed for handle_<method> and, wrapped, for envelope. */
static void
seed(const char *method, const char *target, const char *name,
    const ProtobufCMessage *payload, int with_payload)
{
	Inventory__V1__Request env = INVENTORY__V1__REQUEST__INIT;
	char                   full[128], fname[160];
	uint8_t               *body, *buf;
	size_t                 blen, len;

	body = pack(payload, &blen);
	if (target != NULL) {
		put(target, name, body, blen);
	}
	snprintf(full, sizeof(full), PREFIX "%s", method);
	env.method         = full;
	env.request_id     = "seed-0001";
	env.has_timeout_ms = 1;
	env.timeout_ms     = 5000;
	env.has_payload    = with_payload;
	env.payload.data   = body;
	env.payload.len    = blen;
	buf                = pack(&env.base, &len);
	snprintf(fname, sizeof(fname), "%s-%s", method, name);
	put("envelope", fname, buf, len);
	if (len > 4) { /* truncated: cut inside the payload */
		snprintf(
		    fname, sizeof(fname), "%s-%s-truncated", method, name);
		put("envelope", fname, buf, len - 3);
	}
	free(buf);
	free(body);
}

/* AdjustStock, ReserveStock, ListProducts. */
#define UUID_ODD "0b7e8a52-1a2b-4c3d-8e9f-0123456789a1" /* fake: missing */
#define UUID_B   "0b7e8a52-1a2b-4c3d-8e9f-0123456789a2"
#define UUID_C   "0b7e8a52-1a2b-4c3d-8e9f-0123456789a4"

static void
adjust_seeds(void)
{
	Inventory__V1__AdjustStockRequest r =
	    INVENTORY__V1__ADJUST_STOCK_REQUEST__INIT;

	r.id        = UUID;
	r.has_delta = 1;
	r.delta     = -3;
	seed("AdjustStock", "handle_adjust", "take", &r.base, 1);
	r.delta = 5;
	seed("AdjustStock", "handle_adjust", "restock", &r.base, 1);
	r.delta = -51; /* the fake holds 50 */
	seed("AdjustStock", "handle_adjust", "too-few", &r.base, 1);
	r.delta = 2147483647;
	seed("AdjustStock", "handle_adjust", "overflow", &r.base, 1);
	r.delta = -2147483648LL;
	seed("AdjustStock", "handle_adjust", "delta-min", &r.base, 1);
	r.delta = 0;
	seed("AdjustStock", "handle_adjust", "delta-zero", &r.base, 1);
	r.delta                = -1;
	r.has_expected_version = 1;
	r.expected_version     = 7;
	seed("AdjustStock", "handle_adjust", "at-version", &r.base, 1);
	r.expected_version = 3;
	seed("AdjustStock", "handle_adjust", "stale", &r.base, 1);
	r.expected_version = 9;
	seed("AdjustStock", "handle_adjust", "future", &r.base, 1);
	r.expected_version = 0;
	seed("AdjustStock", "handle_adjust", "version-zero", &r.base, 1);
	r.has_expected_version = 0;
	r.has_delta            = 0;
	seed("AdjustStock", "handle_adjust", "missing-delta", &r.base, 1);
	r.has_delta = 1;
	r.id        = UUID_ODD;
	seed("AdjustStock", "handle_adjust", "not-found", &r.base, 1);
	r.id = "0b7e8a52";
	seed("AdjustStock", "handle_adjust", "bad-id", &r.base, 1);
}

static void
reserve_seeds(void)
{
	Inventory__V1__ReserveStockRequest r =
	    INVENTORY__V1__RESERVE_STOCK_REQUEST__INIT;
	static Inventory__V1__ReserveItem it[101];
	Inventory__V1__ReserveItem       *ptrs[101];
	static char                       ids[101][37];

	for (size_t i = 0; i < 101; i++) {
		inventory__v1__reserve_item__init(&it[i]);
		/* Even last digits: the fake has them. */
		snprintf(ids[i], sizeof(ids[i]),
		    "0b7e8a52-1a2b-4c3d-8e9f-%012zx", 2 * i + 2);
		it[i].id           = ids[i];
		it[i].has_quantity = 1;
		it[i].quantity     = 1 + (int64_t)(i % 5);
		ptrs[i]            = &it[i];
	}
	r.items   = ptrs;
	r.n_items = 3;
	seed("ReserveStock", "handle_reserve", "three-takes", &r.base, 1);
	/* A set at the fake's version 7 among takes. */
	it[1].has_quantity         = 0;
	it[1].has_expected_version = 1;
	it[1].expected_version     = 7;
	it[1].has_stock            = 1;
	it[1].stock                = 12;
	seed("ReserveStock", "handle_reserve", "take-and-set", &r.base, 1);
	/* Every failure at once: stale, too few, missing, future. */
	it[1].expected_version     = 3;
	it[2].quantity             = 51;
	it[3].id                   = UUID_ODD;
	it[4].has_quantity         = 0;
	it[4].has_expected_version = 1;
	it[4].expected_version     = 8;
	it[4].has_stock            = 1;
	it[4].stock                = 1;
	r.n_items                  = 5;
	seed("ReserveStock", "handle_reserve", "every-failure", &r.base, 1);
	/* Both a quantity and a set; neither. */
	it[1].has_quantity = 1;
	r.n_items          = 2;
	seed("ReserveStock", "handle_reserve", "both", &r.base, 1);
	it[1].has_quantity         = 0;
	it[1].has_expected_version = 0;
	it[1].has_stock            = 0;
	seed("ReserveStock", "handle_reserve", "neither", &r.base, 1);
	/* Duplicate ids (one upper case). */
	for (size_t i = 0; i < 101; i++) {
		inventory__v1__reserve_item__init(&it[i]);
		it[i].id           = ids[i];
		it[i].has_quantity = 1;
		it[i].quantity     = 1;
	}
	it[1].id = "0B7E8A52-1A2B-4C3D-8E9F-000000000002";
	seed("ReserveStock", "handle_reserve", "duplicate", &r.base, 1);
	it[1].id  = ids[1];
	r.n_items = 100;
	seed("ReserveStock", "handle_reserve", "items-100", &r.base, 1);
	r.n_items = 101;
	seed("ReserveStock", "handle_reserve", "items-101", &r.base, 1);
	r.n_items = 0;
	seed("ReserveStock", "handle_reserve", "no-items", &r.base, 1);
	r.n_items      = 1;
	it[0].quantity = 0;
	seed("ReserveStock", "handle_reserve", "quantity-zero", &r.base, 1);
}

static void
list_seeds(void)
{
	Inventory__V1__ListProductsRequest r =
	    INVENTORY__V1__LIST_PRODUCTS_REQUEST__INIT;

	seed("ListProducts", "handle_list", "first-page", &r.base, 1);
	r.has_page_size = 1;
	r.page_size     = 2;
	seed("ListProducts", "handle_list", "two", &r.base, 1);
	r.page_size = 5000;
	seed("ListProducts", "handle_list", "too-big", &r.base, 1);
	r.page_size = -1;
	seed("ListProducts", "handle_list", "negative", &r.base, 1);
	r.page_size = 2;
	/* "1:" UUID in base64url, unpadded: a token the service gives. */
	r.page_token = "MTowYjdlOGE1Mi0xYTJiLTRjM2QtOGU5Zi0wMTIzNDU2Nzg5YWI";
	seed("ListProducts", "handle_list", "token", &r.base, 1);
	r.page_token = "MTowYjdlOGE1Mi0xYTJiLTRjM2QtOGU5Zi0wMTIzNDU2Nzg5QUI";
	seed("ListProducts", "handle_list", "token-upper-id", &r.base, 1);
	r.page_token = "not a token";
	seed("ListProducts", "handle_list", "bad-token", &r.base, 1);
	r.page_token = "";
	seed("ListProducts", "handle_list", "empty-token", &r.base, 1);
}

static void
get_seeds(void)
{
	Inventory__V1__GetProductRequest r =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;

	r.id = UUID;
	seed("GetProduct", "handle_get", "valid", &r.base, 1);
	r.id = "0B7E8A52-1A2B-4C3D-8E9F-0123456789AB";
	seed("GetProduct", "handle_get", "upper", &r.base, 1);
	r.id = "'; DROP TABLE products; --";
	seed("GetProduct", "handle_get", "sql", &r.base, 1);
	r.id = "0b7e8a52-1a2b-4c3d-8e9f-0123456789a";
	seed("GetProduct", "handle_get", "short", &r.base, 1);
	r.id = NULL;
	seed("GetProduct", "handle_get", "missing-id", &r.base, 1);
	seed("GetProduct", NULL, "no-payload", &r.base, 0);
}

static void
update_seeds(void)
{
	Inventory__V1__UpdateStockRequest r =
	    INVENTORY__V1__UPDATE_STOCK_REQUEST__INIT;

	r.id                   = UUID;
	r.has_stock            = 1;
	r.stock                = 10;
	r.has_expected_version = 1;
	r.expected_version     = 1;
	seed("UpdateStock", "handle_update", "valid", &r.base, 1);
	r.expected_version = 4;
	seed("UpdateStock", "handle_update", "valid-v4", &r.base, 1);
	r.expected_version = 5;
	seed("UpdateStock", "handle_update", "conflict", &r.base, 1);
	r.stock = -1;
	seed("UpdateStock", "handle_update", "negative-stock", &r.base, 1);
	r.stock = 2147483648LL;
	seed("UpdateStock", "handle_update", "stock-overflow", &r.base, 1);
	r.stock            = 1;
	r.expected_version = INT64_MIN;
	seed("UpdateStock", "handle_update", "version-min", &r.base, 1);
	r.expected_version = INT64_MAX;
	seed("UpdateStock", "handle_update", "version-max", &r.base, 1);
	r.expected_version = 0;
	seed("UpdateStock", "handle_update", "version-zero", &r.base, 1);
	r.expected_version     = 1;
	r.has_expected_version = 0;
	seed("UpdateStock", "handle_update", "missing-version", &r.base, 1);
	r.has_expected_version = 1;
	r.has_stock            = 0;
	seed("UpdateStock", "handle_update", "missing-stock", &r.base, 1);
	r.has_stock = 1;
	r.id        = "'; DROP TABLE products; --";
	seed("UpdateStock", "handle_update", "sql-id", &r.base, 1);
}

static void
create_seeds(void)
{
	Inventory__V1__CreateProductRequest r =
	    INVENTORY__V1__CREATE_PRODUCT_REQUEST__INIT;
	char long_name[202];

	r.name      = "widget";
	r.has_stock = 1;
	r.stock     = 5;
	r.price     = "19.90";
	seed("CreateProduct", "handle_create", "valid", &r.base, 1);
	r.name = "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa6";
	seed("CreateProduct", "handle_create", "utf8", &r.base, 1);
	r.name = "bad \xc3\x28 utf8";
	seed("CreateProduct", "handle_create", "bad-utf8", &r.base, 1);
	r.name = "over\xc0\xaflong";
	seed("CreateProduct", "handle_create", "overlong", &r.base, 1);
	r.name = "'; DROP TABLE products; --";
	seed("CreateProduct", "handle_create", "sql-name", &r.base, 1);
	memset(long_name, 'x', 201);
	long_name[201] = '\0';
	r.name         = long_name;
	seed("CreateProduct", "handle_create", "name-201", &r.base, 1);
	long_name[200] = '\0';
	seed("CreateProduct", "handle_create", "name-200", &r.base, 1);
	r.name  = "widget";
	r.price = "1e3";
	seed("CreateProduct", "handle_create", "price-exp", &r.base, 1);
	r.price = "12345678901.00";
	seed("CreateProduct", "handle_create", "price-big", &r.base, 1);
	r.price = "-1";
	seed("CreateProduct", "handle_create", "price-neg", &r.base, 1);
	r.price = "0";
	r.stock = -5;
	seed("CreateProduct", "handle_create", "stock-neg", &r.base, 1);
	r.stock = INT64_MAX;
	seed("CreateProduct", "handle_create", "stock-max", &r.base, 1);
	r.stock = 5;
	r.name  = NULL;
	seed("CreateProduct", "handle_create", "missing-name", &r.base, 1);
}

static void
batch_get_seeds(void)
{
	Inventory__V1__BatchGetProductsRequest r =
	    INVENTORY__V1__BATCH_GET_PRODUCTS_REQUEST__INIT;
	/* The fake store has no id whose last hex digit is odd. */
	char  *ids[] = { UUID, "0B7E8A52-1A2B-4C3D-8E9F-0123456789AB",
		 "0b7e8a52-1a2b-4c3d-8e9f-0123456789a1", UUID, "not-a-uuid" };
	char **many;

	r.ids   = ids;
	r.n_ids = 1;
	seed("BatchGetProducts", "handle_batch_get", "one", &r.base, 1);
	r.n_ids = 2;
	seed("BatchGetProducts", "handle_batch_get", "upper", &r.base, 1);
	r.n_ids = 4;
	seed("BatchGetProducts", "handle_batch_get", "missing", &r.base, 1);
	r.n_ids = 5;
	seed("BatchGetProducts", "handle_batch_get", "bad-id", &r.base, 1);
	r.n_ids = 0;
	seed("BatchGetProducts", "handle_batch_get", "no-ids", &r.base, 1);
	/* 1000 and 1001 ids: the limit (past the gate's -max_len, they are
	 * regression seeds for the ctest pass). */
	if ((many = malloc(1001 * sizeof(*many))) == NULL) {
		die("malloc");
	}
	for (int i = 0; i < 1001; i++) {
		many[i] = UUID;
	}
	r.ids   = many;
	r.n_ids = 1000;
	seed("BatchGetProducts", "handle_batch_get", "ids-1000", &r.base, 1);
	r.n_ids = 1001;
	seed("BatchGetProducts", "handle_batch_get", "ids-1001", &r.base, 1);
	free(many);
}

/* One entry of a batch seed; its payload is packed into body. */
struct entry {
	Inventory__V1__Request env;
	uint8_t               *body;
};

static void
entry(struct entry *e, const char *method, const char *request_id,
    int timeout_ms, const ProtobufCMessage *payload)
{
	size_t len;

	inventory__v1__request__init(&e->env);
	e->body           = NULL;
	e->env.method     = (char *)method;
	e->env.request_id = (char *)request_id;
	if (timeout_ms >= 0) {
		e->env.has_timeout_ms = 1;
		e->env.timeout_ms     = (uint32_t)timeout_ms;
	}
	if (payload != NULL) {
		e->body             = pack(payload, &len);
		e->env.has_payload  = 1;
		e->env.payload.data = e->body;
		e->env.payload.len  = len;
	}
}

/* A batch frame of e[0..n) into corpus/batch/ and corpus/envelope/. */
static void
batch_seed(const char *name, struct entry *e, size_t n)
{
	Inventory__V1__Request   frame = INVENTORY__V1__REQUEST__INIT;
	Inventory__V1__Request **ptrs;
	char                     fname[160];
	uint8_t                 *buf;
	size_t                   len;

	if ((ptrs = calloc(n + 1, sizeof(*ptrs))) == NULL) {
		die("calloc");
	}
	for (size_t i = 0; i < n; i++) {
		ptrs[i] = &e[i].env;
	}
	frame.n_batch = n;
	frame.batch   = ptrs;
	buf           = pack(&frame.base, &len);
	put("batch", name, buf, len);
	snprintf(fname, sizeof(fname), "batch-%s", name);
	put("envelope", fname, buf, len);
	free(buf);
	free(ptrs);
	for (size_t i = 0; i < n; i++) {
		free(e[i].body);
		e[i].body = NULL;
	}
}

static void
batch_seeds(void)
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
	char *bg_ids[] = { UUID, "0b7e8a52-1a2b-4c3d-8e9f-0123456789a1" };
	static struct entry     e[1001];
	Inventory__V1__Request *nested[1];
	struct entry            inner;
	uint8_t                 junk[] = { 0xff, 0xff, 0xff, 0xff };
	size_t                  n      = 0;
	uint8_t                *buf;
	size_t                  len;

	g.id                   = UUID;
	bad.id                 = "0b7e8a52";
	u.id                   = UUID;
	u.has_stock            = 1;
	u.stock                = 10;
	u.has_expected_version = 1;
	u.expected_version     = 4; /* the fake store: OK */
	c.name                 = "widget";
	c.has_stock            = 1;
	c.stock                = 5;
	c.price                = "19.90";
	bg.n_ids               = 1;
	bg.ids                 = bg_ids;

	/* Every kind of entry, good and bad, side by side. */
	entry(&e[n++], PREFIX "GetProduct", "m-get", 5000, &g.base);
	entry(&e[n++], PREFIX "GetProduct", "m-bad-id", -1, &bad.base);
	entry(&e[n++], PREFIX "UpdateStock", "m-update", 5000, &u.base);
	u.expected_version = 5; /* conflict */
	entry(&e[n++], PREFIX "UpdateStock", "m-conflict", -1, &u.base);
	entry(&e[n++], PREFIX "CreateProduct", "m-create", -1, &c.base);
	entry(&e[n++], PREFIX "BatchGetProducts", "m-bg", -1, &bg.base);
	bg.n_ids = 2; /* the second is missing */
	entry(&e[n++], PREFIX "BatchGetProducts", "m-bg-miss", -1, &bg.base);
	entry(&e[n++], PREFIX "DeleteEverything", "m-unknown", -1, &g.base);
	entry(&e[n++], PREFIX "UpdateStock", "m-junk", -1, NULL);
	e[n - 1].env.has_payload  = 1;
	e[n - 1].env.payload.data = junk;
	e[n - 1].env.payload.len  = sizeof(junk);
	entry(&e[n++], PREFIX "GetProduct", "bad\tid", -1, &g.base);
	entry(&e[n++], PREFIX "GetProduct", "m-expired", 0, &g.base);
	entry(&e[n++], NULL, NULL, -1, NULL);
	entry(&inner, PREFIX "GetProduct", "m-inner", -1, &g.base);
	nested[0] = &inner.env;
	entry(&e[n++], PREFIX "GetProduct", "m-nested", -1, &g.base);
	e[n - 1].env.n_batch = 1;
	e[n - 1].env.batch   = nested;
	entry(&e[n++], PREFIX "GetProduct", "m-get", 5000, &g.base);
	batch_seed("mixed", e, n);

	/* The same request id twice for one call, then for another. */
	n                  = 0;
	u.expected_version = 8;
	entry(&e[n++], PREFIX "UpdateStock", "r-1", -1, &u.base);
	entry(&e[n++], PREFIX "UpdateStock", "r-1", -1, &u.base);
	u.stock = 11;
	entry(&e[n++], PREFIX "UpdateStock", "r-1", -1, &u.base);
	entry(&e[n++], PREFIX "CreateProduct", "r-1", -1, &c.base);
	entry(&e[n++], PREFIX "CreateProduct", "r-2", -1, &c.base);
	entry(&e[n++], PREFIX "CreateProduct", "r-2", -1, &c.base);
	batch_seed("repeats", e, n);

	n = 0;
	entry(&e[n++], PREFIX "GetProduct", "one", 1000, &g.base);
	batch_seed("one", e, n);

	/* DISPATCH_BATCH_MAX empty entries (2 bytes each) and one more. */
	for (n = 0; n < 1001; n++) {
		entry(&e[n], NULL, NULL, -1, NULL);
	}
	batch_seed("max", e, 1000);
	batch_seed("too-many", e, 1001);

	/* Over fuzz_batch's 3072-byte limit. */
	for (n = 0; n < 40; n++) {
		entry(
		    &e[n], PREFIX "GetProduct", "over-the-limit", -1, &g.base);
	}
	batch_seed("over-limit", e, n);

	/* Adjustments and reservations in one frame: adjustments of one
	 * product (one refused), a reservation over it and another, its
	 * repeat, a reuse of its id, a page. */
	{
		Inventory__V1__AdjustStockRequest a =
		    INVENTORY__V1__ADJUST_STOCK_REQUEST__INIT;
		Inventory__V1__ReserveStockRequest rs =
		    INVENTORY__V1__RESERVE_STOCK_REQUEST__INIT;
		Inventory__V1__ReserveItem ri[2] = {
			INVENTORY__V1__RESERVE_ITEM__INIT,
			INVENTORY__V1__RESERVE_ITEM__INIT
		};
		Inventory__V1__ReserveItem        *rp[2] = { &ri[0], &ri[1] };
		Inventory__V1__ListProductsRequest lp =
		    INVENTORY__V1__LIST_PRODUCTS_REQUEST__INIT;

		a.id               = UUID;
		a.has_delta        = 1;
		a.delta            = -2;
		ri[0].id           = UUID;
		ri[0].has_quantity = 1;
		ri[0].quantity     = 3;
		ri[1].id           = UUID_C;
		ri[1].has_quantity = 1;
		ri[1].quantity     = 1;
		rs.n_items         = 2;
		rs.items           = rp;
		lp.has_page_size   = 1;
		lp.page_size       = 3;
		n                  = 0;
		entry(&e[n++], PREFIX "AdjustStock", "s-a1", -1, &a.base);
		a.delta = -60; /* the fake holds 50 */
		entry(&e[n++], PREFIX "AdjustStock", "s-a2", -1, &a.base);
		entry(&e[n++], PREFIX "ReserveStock", "s-r1", -1, &rs.base);
		entry(&e[n++], PREFIX "ReserveStock", "s-r1", -1, &rs.base);
		ri[1].quantity = 99; /* too few */
		entry(&e[n++], PREFIX "ReserveStock", "s-r1", -1, &rs.base);
		entry(&e[n++], PREFIX "ReserveStock", "s-r2", -1, &rs.base);
		entry(&e[n++], PREFIX "ListProducts", NULL, -1, &lp.base);
		batch_seed("stock", e, n);
	}

	/* A single frame: the batch target must leave it alone. */
	entry(&e[0], PREFIX "GetProduct", "single", -1, &g.base);
	buf = pack(&e[0].env.base, &len);
	put("batch", "single", buf, len);
	free(buf);
	free(e[0].body);
	free(inner.body);
}

/* Request.token for fuzz_auth (its table's tokens). */
#define AUTH_WRITER "fuzz-writer-token-0123456789"
#define AUTH_READER "fuzz-reader-token-9876543210"

/* One single-call envelope of method with token (NULL: none). */
static void
auth_seed(const char *name, const char *method, const char *token)
{
	Inventory__V1__Request           env = INVENTORY__V1__REQUEST__INIT;
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	char     full[128];
	uint8_t *buf, *body;
	size_t   len, blen;

	g.id = UUID_B;
	body = pack(&g.base, &blen);
	snprintf(full, sizeof(full), PREFIX "%s", method);
	env.method       = full;
	env.request_id   = "auth-seed-1";
	env.token        = (char *)token;
	env.has_payload  = 1;
	env.payload.data = body;
	env.payload.len  = blen;
	buf              = pack(&env.base, &len);
	put("auth", name, buf, len);
	free(buf);
	free(body);
}

static void
auth_seeds(void)
{
	Inventory__V1__Request  frame = INVENTORY__V1__REQUEST__INIT;
	Inventory__V1__Request  e[3];
	Inventory__V1__Request *ptrs[3];
	uint8_t                *buf;
	size_t                  len;

	auth_seed("writer-get", "GetProduct", AUTH_WRITER);
	auth_seed("reader-get", "GetProduct", AUTH_READER);
	auth_seed("reader-update", "UpdateStock", AUTH_READER);
	auth_seed("reader-adjust", "AdjustStock", AUTH_READER);
	auth_seed("writer-reserve", "ReserveStock", AUTH_WRITER);
	auth_seed("no-token", "GetProduct", NULL);
	auth_seed("unknown-token", "GetProduct", "not-a-caller");
	auth_seed("empty-token", "ListProducts", "");
	/* A batch frame: the frame's token, an entry's own, an unknown. */
	for (int i = 0; i < 3; i++) {
		inventory__v1__request__init(&e[i]);
		e[i].method     = PREFIX "ListProducts";
		e[i].request_id = "auth-batch";
		ptrs[i]         = &e[i];
	}
	e[1].token    = AUTH_READER;
	e[2].token    = "stranger";
	e[2].method   = PREFIX "UpdateStock";
	frame.token   = AUTH_WRITER;
	frame.n_batch = 3;
	frame.batch   = ptrs;
	buf           = pack(&frame.base, &len);
	put("auth", "batch-mixed-tokens", buf, len);
	free(buf);
}

static void
envelope_seeds(void)
{
	Inventory__V1__Request           env = INVENTORY__V1__REQUEST__INIT;
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	uint8_t *buf, *body;
	size_t   len, blen;

	env.method = PREFIX "DeleteEverything";
	buf        = pack(&env.base, &len);
	put("envelope", "unknown-method", buf, len);
	free(buf);
	env.method = "GetProduct";
	buf        = pack(&env.base, &len);
	put("envelope", "no-prefix", buf, len);
	free(buf);
	env.method = NULL;
	buf        = pack(&env.base, &len);
	put("envelope", "empty-envelope", buf, len);
	free(buf);
	/* A GetProductRequest sent as UpdateStock's payload. */
	g.id             = UUID;
	body             = pack(&g.base, &blen);
	env.method       = PREFIX "UpdateStock";
	env.request_id   = "seed wrong payload";
	env.has_payload  = 1;
	env.payload.data = body;
	env.payload.len  = blen;
	buf              = pack(&env.base, &len);
	put("envelope", "wrong-payload-type", buf, len);
	free(buf);
	free(body);
	put("envelope", "garbage", (const uint8_t *)"\xff\xff\xff\xff\x0f", 5);
}

static void
reply_seed(const char *name, int method, const Inventory__V1__Response *r)
{
	uint8_t *buf, *out;
	size_t   len;

	buf = pack(&r->base, &len);
	if ((out = malloc(len + 1)) == NULL) {
		die("malloc");
	}
	out[0] = (uint8_t)method;
	memcpy(out + 1, buf, len);
	put("client_reply", name, out, len + 1);
	free(out);
	free(buf);
}

/* Replies to AdjustStock (4), ReserveStock (5), ListProducts (6). */
static void
stock_reply_seeds(void)
{
	Inventory__V1__Response            r = INVENTORY__V1__RESPONSE__INIT;
	Inventory__V1__Product             p = INVENTORY__V1__PRODUCT__INIT;
	Inventory__V1__Product             q = INVENTORY__V1__PRODUCT__INIT;
	Inventory__V1__Product            *two[2] = { &p, &q };
	Inventory__V1__AdjustStockResponse a =
	    INVENTORY__V1__ADJUST_STOCK_RESPONSE__INIT;
	Inventory__V1__ReserveStockResponse v =
	    INVENTORY__V1__RESERVE_STOCK_RESPONSE__INIT;
	Inventory__V1__ListProductsResponse l =
	    INVENTORY__V1__LIST_PRODUCTS_RESPONSE__INIT;
	Inventory__V1__ErrorDetails d    = INVENTORY__V1__ERROR_DETAILS__INIT;
	Inventory__V1__ItemError    e[2] = { INVENTORY__V1__ITEM_ERROR__INIT,
		   INVENTORY__V1__ITEM_ERROR__INIT };
	Inventory__V1__ItemError   *eptr[2] = { &e[0], &e[1] };
	uint8_t                    *body;
	size_t                      blen;

	p.id          = UUID;
	p.name        = "widget";
	p.has_stock   = 1;
	p.stock       = 2;
	p.price       = "1.00";
	p.has_version = 1;
	p.version     = 8;
	q             = p;
	q.id          = UUID_B;
	r.has_code    = 1;
	r.request_id  = "seed-0002";

	a.product     = &p;
	body          = pack(&a.base, &blen);
	r.has_payload = 1;
	r.payload     = (ProtobufCBinaryData) { blen, body };
	reply_seed("adjust-ok", 4, &r);
	free(body);

	v.n_products = 2;
	v.products   = two;
	body         = pack(&v.base, &blen);
	r.payload    = (ProtobufCBinaryData) { blen, body };
	reply_seed("reserve-ok", 5, &r);
	free(body);
	v.n_products = 0;
	body         = pack(&v.base, &blen);
	r.payload    = (ProtobufCBinaryData) { blen, body };
	reply_seed("reserve-ok-empty", 5, &r);
	free(body);

	l.n_products = 2;
	l.products   = two;
	l.next_page_token =
	    "MTowYjdlOGE1Mi0xYTJiLTRjM2QtOGU5Zi0wMTIzNDU2Nzg5YTI";
	body      = pack(&l.base, &blen);
	r.payload = (ProtobufCBinaryData) { blen, body };
	reply_seed("list-page", 6, &r);
	free(body);
	l.n_products      = 0;
	l.next_page_token = NULL;
	body              = pack(&l.base, &blen);
	r.payload         = (ProtobufCBinaryData) { blen, body };
	reply_seed("list-empty-last", 6, &r);
	free(body);

	/* Failures: AdjustStock too few (details.current), ReserveStock with
	 * two failing items (one not found: no current). */
	r.has_payload         = 0;
	r.payload             = (ProtobufCBinaryData) { 0, NULL };
	r.code                = 9;
	r.message             = "insufficient stock";
	d.has_current_version = 1;
	d.current_version     = 8;
	d.current             = &p;
	r.details             = &d;
	reply_seed("adjust-too-few", 4, &r);
	e[0].has_index = 1;
	e[0].index     = 0;
	e[0].id        = UUID;
	e[0].has_code  = 1;
	e[0].code      = 9;
	e[0].message   = "insufficient stock: 3 wanted, 2 in stock";
	e[0].current   = &p;
	e[1].has_index = 1;
	e[1].index     = 2;
	e[1].id        = UUID_ODD;
	e[1].has_code  = 1;
	e[1].code      = 5;
	e[1].message   = "product not found";
	d.n_items      = 2;
	d.items        = eptr;
	reply_seed("reserve-items", 5, &r);
	/* The same details on another method: items are ReserveStock's. */
	reply_seed("items-on-adjust", 4, &r);
	e[1].has_code = 0; /* an item without its code: malformed */
	reply_seed("reserve-item-no-code", 5, &r);
	e[1].has_code = 1;
	e[1].code     = 0; /* an OK item among failures: malformed */
	reply_seed("reserve-item-ok", 5, &r);
	e[1].code = 77;
	reply_seed("reserve-item-unknown-code", 5, &r);
	/* OK with items in the details: ignored. */
	r.code = 0;
	reply_seed("reserve-ok-no-payload-items", 5, &r);
}

static void
client_reply_seeds(void)
{
	Inventory__V1__Response            r = INVENTORY__V1__RESPONSE__INIT;
	Inventory__V1__Product             p = INVENTORY__V1__PRODUCT__INIT;
	Inventory__V1__UpdateStockResponse u =
	    INVENTORY__V1__UPDATE_STOCK_RESPONSE__INIT;
	Inventory__V1__ErrorDetails d = INVENTORY__V1__ERROR_DETAILS__INIT;
	uint8_t                    *body;
	size_t                      blen;

	p.id                = UUID;
	p.name              = "widget";
	p.has_stock         = 1;
	p.stock             = 5;
	p.price             = "19.90";
	p.has_version       = 1;
	p.version           = 2;
	p.has_created_at_us = 1;
	p.created_at_us     = 1700000000000000;
	u.product           = &p;
	body                = pack(&u.base, &blen);
	r.has_code          = 1;
	r.code              = 0;
	r.has_payload       = 1;
	r.payload.data      = body;
	r.payload.len       = blen;
	r.request_id        = "seed-0001";
	reply_seed("ok-update", 1, &r);
	reply_seed("ok-get", 0, &r);
	reply_seed("ok-create", 2, &r);
	r.has_payload = 0;
	reply_seed("ok-without-payload", 1, &r);
	r.code                = 10;
	r.message             = "version conflict";
	d.has_current_version = 1;
	d.current_version     = 3;
	d.current             = &p;
	r.details             = &d;
	reply_seed("aborted", 1, &r);
	r.details = NULL;
	r.code    = 5;
	r.message = "not found";
	reply_seed("not-found", 0, &r);
	r.code = 99;
	reply_seed("unknown-code", 0, &r);
	free(body);
	stock_reply_seeds();
}

/* Frames of empty Requests nested in `batch` `depth` deep, built from the
 * inside out (each level: the tag, then the inner length as a varint):
 * the shape that once made protobuf-c recurse off the stack. */
static void
deep_seeds(void)
{
	static const size_t depths[] = { 3, 9000 };
	char                name[32];

	for (size_t d = 0; d < sizeof(depths) / sizeof(depths[0]); d++) {
		size_t   cap = depths[d] * 6 + 16, start = cap, inner = 0;
		uint8_t *buf = malloc(cap);

		if (buf == NULL)
			die("malloc");
		for (size_t i = 0; i < depths[d]; i++) {
			uint8_t hdr[12];
			size_t  h = 0, v = inner;

			hdr[h++] = (5 << 3) | 2; /* Request.batch */
			do {
				hdr[h++] = (uint8_t)((v & 0x7f) |
				                     (v > 0x7f ? 0x80 : 0));
				v >>= 7;
			} while (v != 0);
			start -= h;
			memcpy(buf + start, hdr, h);
			inner += h;
		}
		snprintf(name, sizeof(name), "nested-%zu-deep", depths[d]);
		put("envelope", name, buf + start, inner);
		put("batch", name, buf + start, inner);
		free(buf);
	}
}

/* JSON bodies of the requests, as a Connect client sends them (canonical
 * names, 64-bit values as strings), the forms pbjson also reads (proto
 * names, numbers) and a few it refuses. */
static void
pbjson_seeds(void)
{
	static const char *const seeds[][2] = {
		{ "get", "{\"id\":\"" UUID "\"}" },
		{ "update", "{\"id\":\"" UUID "\",\"stock\":\"5\","
		            "\"expectedVersion\":\"3\"}" },
		{ "update-proto-names", "{\"id\":\"" UUID "\",\"stock\":5,"
		                        "\"expected_version\":3}" },
		{ "create", "{\"name\":\"Widget \\u00e9\",\"stock\":\"10\","
		            "\"price\":\"19.90\"}" },
		{ "batch-get", "{\"ids\":[\"" UUID "\",\"" UUID "\"]}" },
		{ "adjust", "{\"id\":\"" UUID "\",\"delta\":\"-2\"}" },
		{ "reserve",
		    "{\"items\":[{\"id\":\"" UUID "\",\"quantity\":2},"
		    "{\"id\":\"" UUID "\",\"expectedVersion\":\"1\","
		    "\"stock\":\"0\"}]}" },
		{ "list", "{\"pageSize\":10,\"pageToken\":\"abc\"}" },
		{ "empty", "{}" },
		{ "null-fields", "{\"id\":null,\"ids\":null,\"items\":null}" },
		{ "int64-out-of-range",
		    "{\"stock\":\"9223372036854775808\"}" },
		{ "fraction", "{\"pageSize\":1.5}" },
		{ "unknown-field", "{\"id\":\"a\",\"bogus\":1}" },
		{ "not-an-object", "[{\"id\":\"a\"}]" },
	};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		put("pbjson", seeds[i][0], (const uint8_t *)seeds[i][1],
		    strlen(seeds[i][1]));
	}
}

/* One call in fuzz_connect's layout: parts[0] the HTTP method (flags
 * bit 0: GET), parts[1] the Connect method, parts[2..8] the seven
 * optional parts (NULL: absent; flags bits 1-7), then the body (len
 * bytes). */
static void
connect_seed(const char *name, const char *const parts[9], const uint8_t *body,
    size_t len)
{
	uint8_t buf[1024];
	size_t  w = 1;

	buf[0] = parts[0] != NULL && strcmp(parts[0], "GET") == 0;
	for (int i = 1; i <= 8; i++) {
		const char *p = parts[i] != NULL ? parts[i] : "";
		size_t      n = strlen(p);

		if (i >= 2 && parts[i] != NULL)
			buf[0] |= (uint8_t)(1u << (i - 1));
		if (w + n + 1 + len > sizeof(buf)) {
			errno = EOVERFLOW;
			die(name);
		}
		memcpy(buf + w, p, n);
		w += n;
		buf[w++] = '\0';
	}
	memcpy(buf + w, body, len);
	put("connect", name, buf, w + len);
}

/* Connect calls: POSTs in JSON and binary with every header, GETs in
 * JSON, base64 and %-escaped binary, and near misses (a write by GET, bad
 * base64, a bad escape, an unknown method, compression). */
static void
connect_seeds(void)
{
	/* GetProductRequest{id}: field 1, 36 bytes. */
	static const uint8_t get_bin[]  = "\x0a\x24" UUID;
	static const char    get_json[] = "{\"id\":\"" UUID "\"}";
	static const char    update_json[] =
	    "{\"id\":\"" UUID "\",\"expectedVersion\":\"1\",\"stock\":\"5\"}";
	static const struct {
		const char    *name;
		const char    *parts[9]; /* http method, then the parts */
		const uint8_t *body;
		size_t         len;
	} seeds[] = {
		{ "post-json-get",
		    { "POST", "GetProduct", "application/json", NULL, "5000",
		        "Bearer t0k3n", NULL, "1", NULL },
		    (const uint8_t *)get_json, sizeof(get_json) - 1 },
		{ "post-proto-get",
		    { "POST", "GetProduct", "application/proto", "identity",
		        NULL, NULL, NULL, NULL, NULL },
		    get_bin, sizeof(get_bin) - 1 },
		{ "post-json-update-key",
		    { "POST", "UpdateStock", "application/json; charset=utf-8",
		        NULL, "0", "bearer w", "key-1", NULL, NULL },
		    (const uint8_t *)update_json, sizeof(update_json) - 1 },
		{ "post-text-plain",
		    { "POST", "GetProduct", "text/plain", NULL, NULL, NULL,
		        NULL, NULL, NULL },
		    (const uint8_t *)get_json, sizeof(get_json) - 1 },
		{ "post-gzip",
		    { "POST", "ListProducts", "application/json", "gzip", NULL,
		        NULL, NULL, NULL, NULL },
		    (const uint8_t *)"{}", 2 },
		{ "post-unknown-method",
		    { "POST", "NoSuchMethod", "application/json", NULL, NULL,
		        NULL, NULL, NULL, NULL },
		    (const uint8_t *)"{}", 2 },
		{ "get-json",
		    { "GET", "GetProduct", NULL, NULL, "100", "Bearer r", NULL,
		        NULL,
		        "connect=v1&encoding=json&message=%7B%22id%22%3A%22" UUID
		        "%22%7D" },
		    NULL, 0 },
		{ "get-base64-proto",
		    { "GET", "GetProduct", NULL, NULL, NULL, NULL, NULL, NULL,
		        "encoding=proto&base64=1&message=CiQwYjdlOGE1Mi0xYTJiLTRj"
		        "M2QtOGU5Zi0wMTIzNDU2Nzg5YWI" },
		    NULL, 0 },
		{ "get-escaped-proto",
		    { "GET", "GetProduct", NULL, NULL, NULL, NULL, NULL, NULL,
		        "message=%0A%24" UUID "&encoding=proto&cachebust=1" },
		    NULL, 0 },
		{ "get-list",
		    { "GET", "ListProducts", NULL, NULL, NULL, NULL, NULL,
		        NULL,
		        "encoding=json&message=%7B%22pageSize%22%3A2%7D&"
		        "compression=identity" },
		    NULL, 0 },
		{ "get-batch-plus",
		    { "GET", "BatchGetProducts", NULL, NULL, NULL, NULL, NULL,
		        NULL, "encoding=json&message={+\"ids\":+[]+}" },
		    NULL, 0 },
		{ "get-update-refused",
		    { "GET", "UpdateStock", NULL, NULL, NULL, NULL, NULL, NULL,
		        "encoding=json&message=%7B%7D" },
		    NULL, 0 },
		{ "get-bad-base64",
		    { "GET", "GetProduct", NULL, NULL, NULL, NULL, NULL, NULL,
		        "encoding=proto&base64=1&message=a" },
		    NULL, 0 },
		{ "get-bad-escape",
		    { "GET", "GetProduct", NULL, NULL, NULL, NULL, NULL, NULL,
		        "encoding=json&message=%7" },
		    NULL, 0 },
		{ "get-twice",
		    { "GET", "ListProducts", NULL, NULL, NULL, NULL, NULL,
		        NULL, "encoding=json&encoding=proto&message=" },
		    NULL, 0 },
		{ "get-no-query",
		    { "GET", "ListProducts", NULL, NULL, NULL, NULL, NULL,
		        NULL, NULL },
		    NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		connect_seed(seeds[i].name, seeds[i].parts, seeds[i].body,
		    seeds[i].len);
}

int
main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_corpus DIR\n");
		return 2;
	}
	root = argv[1];
	if (mkdir(root, 0755) != 0 && errno != EEXIST) {
		die(root);
	}
	get_seeds();
	update_seeds();
	create_seeds();
	batch_get_seeds();
	adjust_seeds();
	reserve_seeds();
	list_seeds();
	batch_seeds();
	deep_seeds();
	envelope_seeds();
	auth_seeds();
	client_reply_seeds();
	pbjson_seeds();
	connect_seeds();
	return 0;
}
