/* SPDX-License-Identifier: MIT */
/*
 * Hostile input against a live inventoryd over tcp:// (the `server`
 * fixture's INVENTORY_SERVER_TCP), through a bare nng REQ socket.  One
 * table: each row is a request nobody well-behaved would send and the
 * status the server must answer with.  After every row the same socket
 * must still get OK for a good request (the server keeps serving), and
 * rows that must not change anything are checked not to have.
 *
 * Rows marked NO_REPLY are far above the server's hard frame limit: they
 * are sent over a raw TCP connection (SP handshake and framing by hand),
 * the server must close that connection without replying, and then still
 * serve the test's socket.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>

#include "hostile.h"
#include "testenv.h"

#define NO_REPLY 1000 /* expected "code": no reply within the timeout */
#define SQL      "'; DROP TABLE products; --"
#define ID       "$ID" /* replaced by the id of the test's product */

enum kind {
	RAW,        /* raw.bytes as they are */
	TRUNCATED,  /* a valid UpdateStock envelope minus its last 5 bytes */
	GET,        /* GetProduct { id } */
	UPDATE,     /* UpdateStock { id, stock, expected_version } */
	CREATE,     /* CreateProduct { name, stock, price } */
	NO_PAYLOAD, /* envelope for method without a payload field */
	WRONG_TYPE, /* a CreateProductRequest as method's payload */
	BIG_NAME,   /* CreateProduct with a name of `size` bytes */
	BIG_METHOD, /* an unknown method name of `size` bytes */
};

struct row {
	const char *what;
	enum kind   kind;
	const char *method;    /* NO_PAYLOAD, WRONG_TYPE; else implied */
	const char *id;        /* GET, UPDATE */
	const char *name;      /* CREATE */
	int         has_stock; /* UPDATE, CREATE */
	int64_t     stock;
	int         has_version; /* UPDATE */
	int64_t     version;
	const char *price;      /* CREATE */
	const char *request_id; /* NULL: none */
	size_t      size;       /* RAW: bytes' length; BIG_*: the size */
	const char *bytes;      /* RAW */
	uint32_t    expect;     /* wire code, or NO_REPLY */
};

#define OK 0  /* OK */
#define IA 3  /* INVALID_ARGUMENT */
#define RE 8  /* RESOURCE_EXHAUSTED */
#define UN 12 /* UNIMPLEMENTED */

static const struct row rows[] = {
	/* Bytes that are not an envelope. */
	{ "garbage bytes", RAW, .bytes = "\xff\xff\xff\xff\xff\xff", .size = 6,
	    .expect = IA },
	{ "a lone varint tag", RAW, .bytes = "\x08", .size = 1, .expect = IA },
	{ "length past the end", RAW,
	    .bytes = "\x0a\x7f"
	             "abc",
	    .size = 5, .expect = IA },
	/* Nothing at all: a client's liveness probe, answered OK. */
	{ "empty message (a probe)", RAW, .bytes = "", .size = 0,
	    .expect = OK },
	{ "truncated envelope", TRUNCATED, .expect = IA },
	{ "HTTP request", RAW, .bytes = "GET / HTTP/1.1\r\n\r\n", .size = 18,
	    .expect = IA },
	/* Size limits: --max-frame 65536 answers, far above is dropped. */
	{ "just above max-frame (65537 bytes)", RAW, .size = 65537,
	    .expect = RE },
	{ "name filling max-frame (65000 bytes)", BIG_NAME, .size = 65000,
	    .expect = IA },
	{ "8 MiB frame", RAW, .size = 8u << 20, .expect = NO_REPLY },
	/* Methods. */
	{ "unknown method", NO_PAYLOAD, .method = "DeleteProduct",
	    .expect = UN },
	{ "method without prefix", NO_PAYLOAD, .method = "/GetProduct",
	    .expect = UN },
	{ "other service", NO_PAYLOAD,
	    .method = "/grpc.health.v1.Health/Check", .expect = UN },
	{ "SQL as method", NO_PAYLOAD, .method = SQL, .expect = UN },
	{ "60000-byte method", BIG_METHOD, .size = 60000, .expect = UN },
	{ "no method", NO_PAYLOAD, .method = NULL, .request_id = "r",
	    .expect = IA },
	{ "GetProduct without payload", NO_PAYLOAD, .method = "GetProduct",
	    .expect = IA },
	{ "UpdateStock without payload", NO_PAYLOAD, .method = "UpdateStock",
	    .expect = IA },
	{ "CreateProduct without payload", NO_PAYLOAD,
	    .method = "CreateProduct", .expect = IA },
	{ "CreateProductRequest as UpdateStock", WRONG_TYPE,
	    .method = "UpdateStock", .expect = IA },
	{ "CreateProductRequest as GetProduct", WRONG_TYPE,
	    .method = "GetProduct", .expect = IA },
	/* Ids. */
	{ "SQL as id (get)", GET, .id = SQL, .expect = IA },
	{ "SQL as id (update)", UPDATE, .id = SQL, .has_stock = 1, .stock = 1,
	    .has_version = 1, .version = 1, .expect = IA },
	{ "invalid UTF-8 id", GET, .id = "\xff\xfe\xfd", .expect = IA },
	{ "empty id", GET, .id = "", .expect = IA },
	{ "uuid with NUL-free trailing junk", GET,
	    .id = "0b7e8a52-1a2b-4c3d-8e9f-0123456789ab'--", .expect = IA },
	/* Numbers. */
	{ "negative stock", UPDATE, .id = ID, .has_stock = 1, .stock = -1,
	    .has_version = 1, .version = 1, .expect = IA },
	{ "stock 2^31", UPDATE, .id = ID, .has_stock = 1,
	    .stock = 2147483648LL, .has_version = 1, .version = 1,
	    .expect = IA },
	{ "stock INT64_MAX", UPDATE, .id = ID, .has_stock = 1,
	    .stock = INT64_MAX, .has_version = 1, .version = 1, .expect = IA },
	{ "stock INT64_MIN", UPDATE, .id = ID, .has_stock = 1,
	    .stock = INT64_MIN, .has_version = 1, .version = 1, .expect = IA },
	{ "version INT64_MIN", UPDATE, .id = ID, .has_stock = 1, .stock = 1,
	    .has_version = 1, .version = INT64_MIN, .expect = IA },
	{ "version 0", UPDATE, .id = ID, .has_stock = 1, .stock = 1,
	    .has_version = 1, .version = 0, .expect = IA },
	{ "version -1", UPDATE, .id = ID, .has_stock = 1, .stock = 1,
	    .has_version = 1, .version = -1, .expect = IA },
	{ "version INT64_MAX (newer than stored)", UPDATE, .id = ID,
	    .has_stock = 1, .stock = 1, .has_version = 1, .version = INT64_MAX,
	    .expect = IA },
	{ "missing stock", UPDATE, .id = ID, .has_version = 1, .version = 1,
	    .expect = IA },
	{ "missing version", UPDATE, .id = ID, .has_stock = 1, .stock = 1,
	    .expect = IA },
	{ "create with negative stock", CREATE, .name = "hostile",
	    .has_stock = 1, .stock = -5, .price = "1.00", .expect = IA },
	{ "create with stock INT64_MAX", CREATE, .name = "hostile",
	    .has_stock = 1, .stock = INT64_MAX, .price = "1.00",
	    .expect = IA },
	/* Names. */
	{ "201-byte name", BIG_NAME, .size = 201, .expect = IA },
	{ "empty name", CREATE, .name = "", .has_stock = 1, .stock = 1,
	    .price = "1.00", .expect = IA },
	{ "invalid UTF-8 name", CREATE, .name = "bad \xc3\x28 name",
	    .has_stock = 1, .stock = 1, .price = "1.00", .expect = IA },
	{ "overlong UTF-8 name", CREATE, .name = "\xc0\xaf", .has_stock = 1,
	    .stock = 1, .price = "1.00", .expect = IA },
	{ "surrogate in name", CREATE, .name = "\xed\xa0\x80", .has_stock = 1,
	    .stock = 1, .price = "1.00", .expect = IA },
	{ "above U+10FFFF in name", CREATE, .name = "\xf4\x90\x80\x80",
	    .has_stock = 1, .stock = 1, .price = "1.00", .expect = IA },
	{ "control character in name", CREATE, .name = "a\x01z",
	    .has_stock = 1, .stock = 1, .price = "1.00", .expect = IA },
	/* Prices. */
	{ "price with exponent", CREATE, .name = "hostile", .has_stock = 1,
	    .stock = 1, .price = "1e3", .expect = IA },
	{ "negative price", CREATE, .name = "hostile", .has_stock = 1,
	    .stock = 1, .price = "-1", .expect = IA },
	{ "price NaN", CREATE, .name = "hostile", .has_stock = 1, .stock = 1,
	    .price = "NaN", .expect = IA },
	{ "price 11 digits", CREATE, .name = "hostile", .has_stock = 1,
	    .stock = 1, .price = "99999999999.99", .expect = IA },
	{ "SQL as price", CREATE, .name = "hostile", .has_stock = 1,
	    .stock = 1, .price = SQL, .expect = IA },
	/* Request ids. */
	{ "65-byte request id", GET, .id = ID,
	    .request_id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	                  "aaaaaaaaaaaaaa",
	    .expect     = IA },
	{ "control character in request id", GET, .id = ID,
	    .request_id = "req\x1b[2J", .expect = IA },
	/* SQL metacharacters are a perfectly good name: stored verbatim. */
	{ "SQL as name", CREATE, .name = SQL, .has_stock = 1, .stock = 1,
	    .price = "1.00", .expect = 0 },
};

static char    product_id[37];
static int64_t product_version;

static const char *
subst(const char *s)
{
	return s != NULL && strcmp(s, ID) == 0 ? product_id : s;
}

/* The request bytes of a row (malloc'd). */
static uint8_t *
build(const struct row *r, size_t *len)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	Inventory__V1__UpdateStockRequest u =
	    INVENTORY__V1__UPDATE_STOCK_REQUEST__INIT;
	Inventory__V1__CreateProductRequest c =
	    INVENTORY__V1__CREATE_PRODUCT_REQUEST__INIT;
	uint8_t *buf;
	char    *big;

	switch (r->kind) {
	case RAW:
		*len = r->size;
		if ((buf = malloc(r->size + 1)) == NULL) {
			abort();
		}
		if (r->bytes != NULL) {
			memcpy(buf, r->bytes, r->size);
		} else {
			/* A plausible start (field 1, a long string), then
			 * filler. */
			memset(buf, 'A', r->size);
			buf[0] = 0x0a;
		}
		return buf;
	case TRUNCATED:
		u.id                   = product_id;
		u.has_stock            = 1;
		u.stock                = 3;
		u.has_expected_version = 1;
		u.expected_version     = product_version;
		buf = hostile_envelope("UpdateStock", NULL, &u.base, len);
		*len -= 5;
		return buf;
	case GET:
		g.id = (char *)subst(r->id);
		return hostile_envelope(
		    "GetProduct", r->request_id, &g.base, len);
	case UPDATE:
		u.id                   = (char *)subst(r->id);
		u.has_stock            = r->has_stock;
		u.stock                = r->stock;
		u.has_expected_version = r->has_version;
		u.expected_version     = r->version;
		return hostile_envelope(
		    "UpdateStock", r->request_id, &u.base, len);
	case CREATE:
		c.name      = (char *)r->name;
		c.has_stock = r->has_stock;
		c.stock     = r->stock;
		c.price     = (char *)r->price;
		return hostile_envelope(
		    "CreateProduct", r->request_id, &c.base, len);
	case NO_PAYLOAD:
		return hostile_envelope(r->method, r->request_id, NULL, len);
	case WRONG_TYPE:
		c.name      = "not an id";
		c.has_stock = 1;
		c.stock     = 1;
		c.price     = "1.00";
		return hostile_envelope(
		    r->method, r->request_id, &c.base, len);
	case BIG_NAME:
	case BIG_METHOD:
		if ((big = malloc(r->size + 1)) == NULL) {
			abort();
		}
		memset(big, 'n', r->size);
		big[r->size] = '\0';
		if (r->kind == BIG_METHOD) {
			big[0] = '/'; /* taken as a full method name */
			buf    = hostile_envelope(big, NULL, NULL, len);
		} else {
			c.name      = big;
			c.has_stock = 1;
			c.stock     = 1;
			c.price     = "1.00";
			buf         = hostile_envelope(
			            "CreateProduct", NULL, &c.base, len);
		}
		free(big);
		return buf;
	}
	abort();
}

static int
run_row(nng_socket *s, const char *url, const struct row *r)
{
	Inventory__V1__Response *resp = NULL;
	uint8_t                 *buf;
	size_t                   len;
	int                      rv, ok = 1, good;
	int64_t                  v = -1;

	if (r->expect == NO_REPLY) {
		/* Over a raw connection: nng 1.5.2's nng_close() can hang on a
		 * REQ socket whose pipe died mid-send of a huge frame. */
		rv = hostile_raw_oversize(url, r->size, 5000);
		if (rv != 1) {
			printf("  %-40s expected the connection to be dropped "
			       "without a reply, got %s\n",
			    r->what,
			    rv < 0 ? "no SP handshake"
			           : "a reply or no close");
			ok = 0;
		}
		rv = 0;
	} else {
		buf = build(r, &len);
		rv  = hostile_call(*s, buf, len, &resp);
		free(buf);
	}
	if (r->expect == NO_REPLY) {
		/* checked above */
	} else if (rv != 0) {
		printf("  %-40s expected %s, got nng error %s\n", r->what,
		    hostile_code_name(r->expect), nng_strerror(rv));
		ok = 0;
	} else if (resp->code != r->expect) {
		printf("  %-40s expected %s, got %s (%s)\n", r->what,
		    hostile_code_name(r->expect),
		    hostile_code_name(resp->code),
		    resp->message != NULL ? resp->message : "");
		ok = 0;
	}
	if (r->kind == CREATE && r->expect == 0 && resp != NULL &&
	    resp->code == 0) {
		Inventory__V1__CreateProductResponse *cr =
		    inventory__v1__create_product_response__unpack(
		        NULL, resp->payload.len, resp->payload.data);
		int same = cr != NULL && cr->product != NULL &&
		           cr->product->name != NULL &&
		           strcmp(cr->product->name, r->name) == 0;
		if (!same) {
			printf("  %-40s name did not round-trip\n", r->what);
			ok = 0;
		}
		if (cr != NULL) {
			inventory__v1__create_product_response__free_unpacked(
			    cr, NULL);
		}
	}
	if (resp != NULL) {
		inventory__v1__response__free_unpacked(resp, NULL);
	}

	/* The server still serves, and nothing hostile changed our product. */
	good = hostile_get(*s, product_id, &v);
	if (good != 0 || v != product_version) {
		printf("  %-40s afterwards: GetProduct %s, version %lld "
		       "(want OK, %lld)\n",
		    r->what,
		    good >= 1000 ? nng_strerror(good - 1000)
		                 : hostile_code_name((uint32_t)good),
		    (long long)v, (long long)product_version);
		ok = 0;
	}
	printf("%s %-44s -> %s\n", ok ? "ok  " : "FAIL", r->what,
	    r->expect == NO_REPLY ? "no reply (connection dropped)"
	                          : hostile_code_name(r->expect));
	return ok;
}

int
main(void)
{
	const char *url = testenv_server_tcp();
	nng_socket  s;
	size_t      nrows  = sizeof(rows) / sizeof(rows[0]);
	int         passed = 0;

	setvbuf(
	    stdout, NULL, _IOLBF, 0); /* progress survives a timeout kill */

	if (url == NULL || strncmp(url, "tcp://", 6) != 0) {
		fprintf(stderr, "raw_test: no tcp:// server URL (got %s)\n",
		    url != NULL ? url : "nothing");
		return 1;
	}
	printf("hostile raw input against %s\n", url);
	/* 3 s: long enough for a loaded CI machine, short for NO_REPLY. */
	s = hostile_open(url, 3000);
	if (hostile_create(s, "hostile target", 10, "2.50", product_id) != 0) {
		fprintf(stderr, "raw_test: cannot create the test product\n");
		return 1;
	}
	product_version = 1;
	for (size_t i = 0; i < nrows; i++) {
		passed += run_row(&s, url, &rows[i]);
	}
	CHECK(hostile_served(url, 5000));
	nng_close(s);
	printf("%d of %zu cases passed\n", passed, nrows);
	nng_fini();
	return passed == (int)nrows && hostile_failures == 0 ? 0 : 1;
}
