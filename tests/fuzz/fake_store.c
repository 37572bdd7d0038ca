/* SPDX-License-Identifier: MIT */
/*
 * A store for the fuzz targets: the API of src/store/store.h without a
 * database, so that dispatch_handle() runs the real handlers and their
 * validation on fuzzed requests.
 *
 * It also checks the handlers' side of the store contract: the write calls
 * say "arguments already validated", so every argument that reaches
 * store_product_create(), store_product_update_stock(),
 * store_product_adjust(), store_reserve() or store_product_list() must be
 * valid (validate.h and the limits in product.h); anything else aborts (a
 * fuzz finding).
 * Outcomes are chosen from the arguments, deterministically, so that every
 * reply shape (OK, ABORTED with details, NOT_FOUND, ...) is exercised.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fake_store.h"
#include "fuzz.h"
#include "handlers/validate.h"
#include "store/store.h"

struct store {
	int unused; /* never dereferenced: fake_store_get() hands out &one */
};

static struct store one;

/* What the last call saw; reset by fake_store_reset(). */
struct fake_store_log fake_store_last;

struct store *
fake_store_get(void)
{
	return &one;
}

void
fake_store_reset(void)
{
	memset(&fake_store_last, 0, sizeof(fake_store_last));
}

static void
check_request_id(const char *request_id)
{
	FUZZ_CHECK(request_id == NULL || validate_request_id(request_id));
}

static void
fill(struct product *out, const char *id, const char *name, int64_t stock,
    const char *price, int64_t version)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s", id);
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->stock = stock;
	snprintf(out->price, sizeof(out->price), "%s", price);
	out->version       = version;
	out->created_at_us = 1700000000000000;
	out->updated_at_us = 1700000000000001;
}

int
store_create(struct store **out, const struct store_options *opts)
{
	(void)opts;
	*out = &one;
	return 0;
}

void
store_destroy(struct store *st)
{
	(void)st;
}

bool
store_ready(struct store *st)
{
	FUZZ_CHECK(st == &one);
	return true;
}

void
store_maintain(struct store *st)
{
	(void)st;
}

int
store_migrate(const char *conninfo)
{
	(void)conninfo;
	return 0;
}

enum code
store_product_get(struct store *st, const struct store_req *req,
    const char *id, struct product *out)
{
	char canon[PRODUCT_ID_LEN + 1];

	(void)req;
	FUZZ_CHECK(st == &one);
	FUZZ_CHECK(id != NULL);
	fake_store_last.called = FAKE_GET;
	/* The store itself answers INVALID_ARGUMENT for a malformed id. */
	if (!validate_uuid(id, canon)) {
		return CODE_INVALID_ARGUMENT;
	}
	if ((canon[PRODUCT_ID_LEN - 1] & 1) != 0) {
		return CODE_NOT_FOUND;
	}
	fill(out, canon, "fuzzed product", 3, "19.90", 7);
	return CODE_OK;
}

enum code
store_product_create(struct store *st, const struct store_req *req,
    const char *request_id, const char *name, int64_t stock, const char *price,
    struct product *out)
{
	(void)req;
	FUZZ_CHECK(st == &one);
	check_request_id(request_id);
	FUZZ_CHECK(validate_name(name));
	FUZZ_CHECK(validate_stock(stock));
	FUZZ_CHECK(validate_price(price));
	fake_store_last.called = FAKE_CREATE;
	if (stock % 7 == 6) {
		return CODE_ALREADY_EXISTS;
	}
	fill(out, "0b7e8a52-1a2b-4c3d-8e9f-0123456789ab", name, stock, price,
	    1);
	return CODE_OK;
}

enum code
store_product_update_stock(struct store *st, const struct store_req *req,
    const char *request_id, const char *id, int64_t stock,
    int64_t expected_version, struct product *out)
{
	(void)req;
	FUZZ_CHECK(st == &one);
	check_request_id(request_id);
	FUZZ_CHECK(validate_uuid(id, NULL));
	FUZZ_CHECK(validate_stock(stock));
	FUZZ_CHECK(validate_expected_version(expected_version));
	fake_store_last.called           = FAKE_UPDATE;
	fake_store_last.expected_version = expected_version;
	if (expected_version == INT64_MAX) {
		/* Newer than anything stored: the real store's answer. */
		return CODE_INVALID_ARGUMENT;
	}
	switch (expected_version % 4) {
	case 0:
		fill(out, id, "fuzzed product", stock, "1.00",
		    expected_version + 1);
		return CODE_OK;
	case 1:
		/* Conflict: the latest is strictly newer. */
		fill(out, id, "fuzzed product", 5, "1.00",
		    expected_version + 1);
		return CODE_ABORTED;
	case 2:
		return CODE_NOT_FOUND;
	default:
		return CODE_ALREADY_EXISTS;
	}
}

/* The batch calls answer item by item exactly as the single calls do, so
 * a batch and its calls alone agree by construction. */
enum code
store_product_get_many(
    struct store *st, struct store_read *items, size_t n, uint64_t deadline_ns)
{
	(void)deadline_ns;
	for (size_t i = 0; i < n; i++)
		items[i].code = store_product_get(
		    st, NULL, items[i].id, &items[i].product);
	return CODE_OK;
}

enum code
store_product_update_many(struct store *st, struct store_write *items,
    size_t n, uint64_t deadline_ns)
{
	(void)deadline_ns;
	for (size_t i = 0; i < n; i++)
		items[i].code = store_product_update_stock(st, NULL,
		    items[i].request_id, items[i].id, items[i].stock,
		    items[i].expected_version, &items[i].product);
	return CODE_OK;
}

/* An existing product of the fake as it is (FAKE_STOCK at FAKE_VERSION),
 * or NOT_FOUND. */
static enum code
fake_current(const char *id, struct product *out)
{
	FUZZ_CHECK(validate_uuid(id, NULL));
	if ((id[PRODUCT_ID_LEN - 1] & 1) != 0) {
		memset(out, 0, sizeof(*out));
		snprintf(out->id, sizeof(out->id), "%s", id);
		return CODE_NOT_FOUND;
	}
	fill(out, id, "fuzzed product", FAKE_STOCK, "2.50", FAKE_VERSION);
	return CODE_OK;
}

enum code
store_product_adjust(struct store *st, const struct store_req *req,
    const char *request_id, const char *id, int64_t delta,
    int64_t expected_version, struct product *out)
{
	struct product cur;
	int64_t        stock;

	(void)req;
	FUZZ_CHECK(st == &one);
	check_request_id(request_id);
	FUZZ_CHECK(validate_uuid(id, NULL));
	FUZZ_CHECK(delta != 0 && delta >= -PRODUCT_STOCK_MAX &&
	           delta <= PRODUCT_STOCK_MAX);
	FUZZ_CHECK(expected_version == 0 ||
	           validate_expected_version(expected_version));
	fake_store_last.called           = FAKE_ADJUST;
	fake_store_last.delta            = delta;
	fake_store_last.expected_version = expected_version;
	if (fake_current(id, &cur) != CODE_OK)
		return CODE_NOT_FOUND;
	if (expected_version > FAKE_VERSION)
		return CODE_INVALID_ARGUMENT; /* from the future */
	if (expected_version != 0 && expected_version < FAKE_VERSION) {
		*out = cur; /* the latest is strictly newer */
		return CODE_ABORTED;
	}
	stock = FAKE_STOCK + delta;
	if (stock < 0) {
		*out = cur;
		return CODE_FAILED_PRECONDITION;
	}
	if (stock > PRODUCT_STOCK_MAX) {
		*out = cur;
		return CODE_OUT_OF_RANGE;
	}
	if (request_id != NULL && delta % 11 == 5)
		return CODE_ALREADY_EXISTS; /* the id was another call's */
	fill(out, id, "fuzzed product", stock, "2.50", FAKE_VERSION + 1);
	return CODE_OK;
}

enum code
store_reserve(struct store *st, const struct store_req *req,
    const char *request_id, const char *key, struct reserve_item *items,
    size_t n, struct product *out)
{
	enum code first = CODE_OK;

	(void)req;
	FUZZ_CHECK(st == &one);
	check_request_id(request_id);
	FUZZ_CHECK(key != NULL && key[0] != '\0');
	FUZZ_CHECK(n >= 1 && n <= RESERVE_MAX);
	fake_store_last.called = FAKE_RESERVE;
	fake_store_last.nitems = n;
	for (size_t i = 0; i < n; i++) {
		struct reserve_item *it = &items[i];

		FUZZ_CHECK(validate_uuid(it->id, NULL));
		/* Canonical already: the handler did validate_uuid(). */
		FUZZ_CHECK(strlen(it->id) == PRODUCT_ID_LEN);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(items[j].id, it->id) != 0);
		if (it->quantity != 0) {
			FUZZ_CHECK(it->quantity >= 1 &&
			           it->quantity <= PRODUCT_STOCK_MAX);
			FUZZ_CHECK(
			    it->expected_version == 0 && it->stock == 0);
		} else {
			FUZZ_CHECK(
			    validate_expected_version(it->expected_version));
			FUZZ_CHECK(validate_stock(it->stock));
		}
		if (fake_current(it->id, &it->product) != CODE_OK)
			it->code = CODE_NOT_FOUND;
		else if (it->quantity > FAKE_STOCK)
			it->code = CODE_FAILED_PRECONDITION;
		else if (it->quantity == 0 &&
		         it->expected_version > FAKE_VERSION)
			it->code = CODE_INVALID_ARGUMENT;
		else if (it->quantity == 0 &&
		         it->expected_version < FAKE_VERSION)
			it->code = CODE_ABORTED;
		else
			it->code = CODE_OK;
		if (first == CODE_OK)
			first = it->code;
	}
	if (first != CODE_OK)
		return first;
	if (request_id != NULL && strlen(key) % 13 == 7)
		return CODE_ALREADY_EXISTS;
	for (size_t i = 0; i < n; i++) {
		struct reserve_item *it = &items[i];

		fill(&out[i], it->id, "fuzzed product",
		    it->quantity != 0 ? FAKE_STOCK - it->quantity : it->stock,
		    "2.50", FAKE_VERSION + 1);
		it->product = out[i];
	}
	return CODE_OK;
}

/* A page of up to 3 products after `after`: ids whose last 12 hex digits
 * count up from after's (from 0 for the first page). */
enum code
store_product_list(struct store *st, const struct store_req *req,
    const char *after, int limit, struct product *out, size_t *n, int *more)
{
	char               id[PRODUCT_ID_LEN + 1];
	unsigned long long tail = 0;
	int                k;

	(void)req;
	FUZZ_CHECK(st == &one);
	FUZZ_CHECK(after != NULL);
	FUZZ_CHECK(after[0] == '\0' ||
	           (validate_uuid(after, id) && strcmp(id, after) == 0));
	FUZZ_CHECK(limit >= 1 && limit <= LIST_MAX);
	fake_store_last.called = FAKE_LIST;
	fake_store_last.limit  = limit;
	snprintf(
	    fake_store_last.after, sizeof(fake_store_last.after), "%s", after);
	if (after[0] == '\0')
		snprintf(id, sizeof(id), "%s",
		    "0b7e8a52-1a2b-4c3d-8e9f-000000000000");
	else
		snprintf(id, sizeof(id), "%s", after);
	tail = strtoull(id + PRODUCT_ID_LEN - 12, NULL, 16);
	*n   = 0;
	for (k = 0; k < 3 && k < limit; k++) {
		if (tail + 1 > 0xffffffffffffULL)
			break;
		tail++;
		snprintf(id + PRODUCT_ID_LEN - 12, 13, "%012llx", tail);
		fill(&out[k], id, "listed product", k, "0.10", 1);
		(*n)++;
	}
	*more = *n == (size_t)limit && tail < 0xffffffffffffULL;
	return CODE_OK;
}
