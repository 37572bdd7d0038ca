/* SPDX-License-Identifier: MIT */
/*
 * The kinds of database work, one row each (see op_kind.h): how each runs
 * alone on a store, what its reply may cost, and, for writes, which
 * products it writes and when two calls are the same call.
 */
#include "core/op_kind.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "store/store.h"

static bool
same_str(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static size_t
one_product(const struct op *op)
{
	(void)op;
	return 1;
}

/* The product a one-product call writes (or reads). */
static const char *
written_id(const struct op *op, size_t i)
{
	return i == 0 ? op->id : NULL;
}

/* ---- GetProduct ------------------------------------------------------- */

static enum code
read_run(struct store *st, struct op *op, const struct store_req *req)
{
	return store_product_get(st, req, op->id, &op->product);
}

/* ---- BatchGetProducts ------------------------------------------------- */

/* Alone: one SELECT, so every id is read in the same snapshot (one read
 * per id could show half of a reservation committed in between);
 * NOT_FOUND names the first missing id in request order. */
static enum code
read_many_run(struct store *st, struct op *op, const struct store_req *req)
{
	struct store_read *reads;
	enum code          rc;

	if ((op->products = calloc(op->nids, sizeof(*op->products))) == NULL ||
	    (reads = calloc(op->nids, sizeof(*reads))) == NULL)
		return CODE_RESOURCE_EXHAUSTED;
	for (size_t i = 0; i < op->nids; i++)
		reads[i].id = op->ids[i];
	rc = store_product_get_many(st, reads, op->nids, req->deadline_ns);
	for (size_t i = 0; i < op->nids && rc == CODE_OK; i++) {
		if (reads[i].code != CODE_OK) {
			rc = reads[i].code;
			if (rc == CODE_NOT_FOUND)
				snprintf(op->message, sizeof(op->message),
				    "product %s not found", op->ids[i]);
			break;
		}
		op->products[i] = reads[i].product;
	}
	free(reads);
	return rc;
}

static size_t
read_many_products(const struct op *op)
{
	return op->nids;
}

static const char *
read_many_read(const struct op *op, size_t i)
{
	return i < op->nids ? op->ids[i] : NULL;
}

/* ---- UpdateStock ------------------------------------------------------ */

static enum code
write_run(struct store *st, struct op *op, const struct store_req *req)
{
	return store_product_update_stock(st, req, op->request_id, op->id,
	    op->stock, op->expected_version, &op->product);
}

static bool
write_same(const struct op *a, const struct op *b)
{
	return strcmp(a->id, b->id) == 0 && a->stock == b->stock &&
	       a->expected_version == b->expected_version;
}

/* ---- CreateProduct ---------------------------------------------------- */

static enum code
create_run(struct store *st, struct op *op, const struct store_req *req)
{
	return store_product_create(st, req, op->request_id, op->name,
	    op->stock, op->price, &op->product);
}

static bool
create_same(const struct op *a, const struct op *b)
{
	return a->stock == b->stock && same_str(a->name, b->name) &&
	       same_str(a->price, b->price);
}

static const char *
create_written(const struct op *op, size_t i)
{
	(void)op;
	(void)i;
	return NULL; /* a new product: no other call of the frame has it */
}

/* ---- AdjustStock ------------------------------------------------------ */

static enum code
adjust_run(struct store *st, struct op *op, const struct store_req *req)
{
	return store_product_adjust(st, req, op->request_id, op->id, op->delta,
	    op->expected_version, &op->product);
}

static bool
adjust_same(const struct op *a, const struct op *b)
{
	return strcmp(a->id, b->id) == 0 && a->delta == b->delta &&
	       a->expected_version == b->expected_version;
}

/* ---- ReserveStock ----------------------------------------------------- */

/* On OK the products after it; on an item's failure the first failing
 * item's product stands for the call (ErrorDetails). */
static enum code
reserve_run(struct store *st, struct op *op, const struct store_req *req)
{
	enum code rc;

	if ((op->products = calloc(op->nitems, sizeof(*op->products))) == NULL)
		return CODE_RESOURCE_EXHAUSTED;
	rc = store_reserve(st, req, op->request_id, op->items_key, op->items,
	    op->nitems, op->products);
	for (size_t i = 0; rc != CODE_OK && i < op->nitems; i++) {
		if (op->items[i].code != CODE_OK) {
			op->product = op->items[i].product;
			break;
		}
	}
	return rc;
}

static size_t
reserve_products(const struct op *op)
{
	return op->nitems + 1; /* the items, and the one that failed */
}

static bool
reserve_same(const struct op *a, const struct op *b)
{
	return same_str(a->items_key, b->items_key);
}

static const char *
reserve_written(const struct op *op, size_t i)
{
	return i < op->nitems ? op->items[i].id : NULL;
}

/* ---- ListProducts ----------------------------------------------------- */

static enum code
list_run(struct store *st, struct op *op, const struct store_req *req)
{
	if ((op->products = calloc(
	         (size_t)op->page_size, sizeof(*op->products))) == NULL)
		return CODE_RESOURCE_EXHAUSTED;
	return store_product_list(st, req, op->id, op->page_size, op->products,
	    &op->nproducts, &op->more);
}

static size_t
list_products(const struct op *op)
{
	return op->page_size > 0 ? (size_t)op->page_size : 1;
}

/* ---- the table -------------------------------------------------------- */

const struct op_kind_row op_kinds[] = {
	[OP_NONE] = {
		.name           = "none",
		.reply_products = one_product,
	},
	[OP_READ] = {
		.name           = "read",
		.run            = read_run,
		.reply_products = one_product,
		.read           = written_id,
	},
	[OP_READ_MANY] = {
		.name           = "read_many",
		.run            = read_many_run,
		.reply_products = read_many_products,
		.read           = read_many_read,
	},
	[OP_WRITE] = {
		.name           = "write",
		.writes         = true,
		.run            = write_run,
		.reply_products = one_product,
		.same_call      = write_same,
		.written        = written_id,
	},
	[OP_CREATE] = {
		.name           = "create",
		.writes         = true,
		.run            = create_run,
		.reply_products = one_product,
		.same_call      = create_same,
		.written        = create_written,
	},
	[OP_ADJUST] = {
		.name           = "adjust",
		.writes         = true,
		.run            = adjust_run,
		.reply_products = one_product,
		.same_call      = adjust_same,
		.written        = written_id,
	},
	[OP_RESERVE] = {
		.name           = "reserve",
		.writes         = true,
		.run            = reserve_run,
		.reply_products = reserve_products,
		.same_call      = reserve_same,
		.written        = reserve_written,
	},
	[OP_LIST] = {
		.name           = "list",
		.run            = list_run,
		.reply_products = list_products,
		.reads_any      = true,
	},
};
const size_t op_kind_count = sizeof(op_kinds) / sizeof(op_kinds[0]);
_Static_assert(sizeof(op_kinds) / sizeof(op_kinds[0]) == OP_KIND_COUNT,
    "op_kinds needs one row per enum op_kind");

int
op_kind_check(void)
{
	for (size_t k = 0; k < op_kind_count; k++) {
		const struct op_kind_row *r   = &op_kinds[k];
		const char               *gap = NULL;

		if (r->name == NULL)
			gap = "no row";
		else if (r->reply_products == NULL)
			gap = "no reply_products";
		else if (k != OP_NONE && r->run == NULL)
			gap = "no run";
		else if (r->writes &&
		         (r->same_call == NULL || r->written == NULL))
			gap = "a write without same_call or written";
		else if (!r->writes && k != OP_NONE && r->read == NULL &&
		         !r->reads_any)
			gap = "a read without read or reads_any";
		if (gap != NULL) {
			log_err("op kind %zu (%s): %s", k,
			    r->name != NULL ? r->name : "?", gap);
			return -1;
		}
	}
	return 0;
}

bool
op_kind_writes(enum op_kind kind)
{
	return op_kinds[kind].writes;
}
