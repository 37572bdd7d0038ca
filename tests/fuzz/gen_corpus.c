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
 * are copied into corpus/envelope/ as batch-<name>.
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

	/* A single frame: the batch target must leave it alone. */
	entry(&e[0], PREFIX "GetProduct", "single", -1, &g.base);
	buf = pack(&e[0].env.base, &len);
	put("batch", "single", buf, len);
	free(buf);
	free(e[0].body);
	free(inner.body);
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
	batch_seeds();
	envelope_seeds();
	client_reply_seeds();
	return 0;
}
