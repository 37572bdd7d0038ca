/*
 * A store for the fuzz targets: the API of src/store/store.h without a
 * database, so that dispatch_handle() runs the real handlers and their
 * validation on fuzzed requests.
 *
 * It also checks the handlers' side of the store contract: the write calls
 * say "arguments already validated", so every argument that reaches
 * store_product_create() or store_product_update_stock() must pass the
 * matching validate.h function; anything else aborts (a fuzz finding).
 * Outcomes are chosen from the arguments, deterministically, so that every
 * reply shape (OK, ABORTED with details, NOT_FOUND, ...) is exercised.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "fake_store.h"
#include "fuzz.h"
#include "store/store.h"
#include "validate.h"

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

void
store_set_deadline(struct store *st, uint64_t deadline_ns)
{
	(void)st;
	(void)deadline_ns;
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
store_product_get(struct store *st, const char *id, struct product *out)
{
	char canon[PRODUCT_ID_LEN + 1];

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
store_product_create(struct store *st, const char *request_id,
    const char *name, int64_t stock, const char *price, struct product *out)
{
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
store_product_update_stock(struct store *st, const char *request_id,
    const char *id, int64_t stock, int64_t expected_version,
    struct product *out)
{
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
		items[i].code =
		    store_product_get(st, items[i].id, &items[i].product);
	return CODE_OK;
}

enum code
store_product_update_many(struct store *st, struct store_write *items,
    size_t n, uint64_t deadline_ns)
{
	(void)deadline_ns;
	for (size_t i = 0; i < n; i++)
		items[i].code = store_product_update_stock(st,
		    items[i].request_id, items[i].id, items[i].stock,
		    items[i].expected_version, &items[i].product);
	return CODE_OK;
}
