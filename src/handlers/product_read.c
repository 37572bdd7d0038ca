/* SPDX-License-Identifier: MIT */
/*
 * The product reads, one row each (rpc.h): GetProduct, BatchGetProducts
 * (AIP-231) and ListProducts (AIP-158).  GetProduct and BatchGetProducts
 * join a batch's shared multi-row SELECT (RPC_BATCH_READS), so every read
 * of a segment costs one statement; a listing runs on its own, after
 * every write ahead of it.  Alone, BatchGetProducts is one SELECT too, so
 * every id is read in the same snapshot.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handlers/handlers.h"
#include "handlers/rpc.h"
#include "handlers/validate.h"
#include "store/store.h"

/* ---- GetProduct ------------------------------------------------------- */

static enum code
get_prepare(const ProtobufCMessage *req, struct op *op)
{
	const Inventory__V1__GetProductRequest *r =
	    (const Inventory__V1__GetProductRequest *)req;

	return handler_prepare_id(op, r->id, op->id);
}

static enum code
get_run(struct store *st, struct op *op, const struct store_req *req)
{
	return store_product_get(st, req, op->id, &op->product);
}

static void
get_take(struct op *op, const struct store_read *reads)
{
	op->code    = reads[0].code;
	op->product = reads[0].product;
}

static void
get_finish(struct op *op, ProtobufCBuffer *reply)
{
	Inventory__V1__GetProductResponse resp =
	    INVENTORY__V1__GET_PRODUCT_RESPONSE__INIT;

	if (handler_failed(op))
		return;
	handler_pack_product(&resp.base, &resp.product, &op->product, reply);
}

const struct rpc rpc_get_product = {
	.name           = "GetProduct",
	.prepare        = get_prepare,
	.finish         = get_finish,
	.run            = get_run,
	.reply_products = rpc_one_product,
	.read           = rpc_the_id,
	.batch          = RPC_BATCH_READS,
	.reads_take     = get_take,
	.single_alone   = true,
};

/* ---- BatchGetProducts (AIP-231) --------------------------------------- */

enum { BATCH_GET_MAX = 1000 };

static enum code
batch_get_prepare(const ProtobufCMessage *req, struct op *op)
{
	const Inventory__V1__BatchGetProductsRequest *r =
	    (const Inventory__V1__BatchGetProductsRequest *)req;

	if (r->n_ids == 0)
		return handler_invalid(op, "ids: at least one id is required");
	if (r->n_ids > BATCH_GET_MAX) {
		snprintf(op->message, sizeof(op->message),
		    "ids: at most %d ids per call, not %zu", BATCH_GET_MAX,
		    r->n_ids);
		return CODE_INVALID_ARGUMENT;
	}
	if ((op->ids = calloc(r->n_ids, sizeof(*op->ids))) == NULL) {
		snprintf(op->message, sizeof(op->message), "out of memory");
		return CODE_RESOURCE_EXHAUSTED;
	}
	op->nids = r->n_ids;
	for (size_t i = 0; i < r->n_ids; i++) {
		if (r->ids[i] == NULL ||
		    !validate_uuid(r->ids[i], op->ids[i])) {
			snprintf(op->message, sizeof(op->message),
			    "ids[%zu]: not a valid UUID", i);
			return CODE_INVALID_ARGUMENT;
		}
	}
	return CODE_OK;
}

/* Alone: one SELECT, so every id is read in the same snapshot (one read
 * per id could show half of a reservation committed in between);
 * NOT_FOUND names the first missing id in request order. */
static enum code
batch_get_run(struct store *st, struct op *op, const struct store_req *req)
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

/* In a batch: its ids' results, NOT_FOUND naming the first missing id as
 * alone. */
static void
batch_get_take(struct op *op, const struct store_read *reads)
{
	/* At least one: calloc(0) may return NULL (nids >= 1 anyway) */
	op->products =
	    calloc(op->nids > 0 ? op->nids : 1, sizeof(*op->products));
	op->code = op->products != NULL ? CODE_OK : CODE_RESOURCE_EXHAUSTED;
	for (size_t j = 0; j < op->nids; j++) {
		if (op->code != CODE_OK)
			continue;
		if (reads[j].code != CODE_OK) {
			op->code = reads[j].code;
			if (op->code == CODE_NOT_FOUND)
				snprintf(op->message, sizeof(op->message),
				    "product %s not found", op->ids[j]);
			continue;
		}
		op->products[j] = reads[j].product;
	}
}

static size_t
batch_get_products(const struct op *op)
{
	return op->nids;
}

static const char *
batch_get_read(const struct op *op, size_t i)
{
	return i < op->nids ? op->ids[i] : NULL;
}

static void
batch_get_finish(struct op *op, ProtobufCBuffer *reply)
{
	Inventory__V1__BatchGetProductsResponse resp =
	    INVENTORY__V1__BATCH_GET_PRODUCTS_RESPONSE__INIT;
	Inventory__V1__Product  *wire;
	Inventory__V1__Product **ptrs;

	if (handler_failed(op))
		return;
	wire = calloc(op->nids, sizeof(*wire));
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	ptrs = calloc(op->nids, sizeof(*ptrs));
	if (wire == NULL || ptrs == NULL) {
		op->code = CODE_RESOURCE_EXHAUSTED;
		snprintf(op->message, sizeof(op->message), "out of memory");
		goto out_free;
	}
	for (size_t i = 0; i < op->nids; i++) {
		handler_product_to_wire(&op->products[i], &wire[i]);
		ptrs[i] = &wire[i];
	}
	resp.n_products = op->nids;
	resp.products   = ptrs;
	protobuf_c_message_pack_to_buffer(&resp.base, reply);
out_free:
	free(ptrs);
	free(wire);
}

const struct rpc rpc_batch_get_products = {
	.name           = "BatchGetProducts",
	.prepare        = batch_get_prepare,
	.finish         = batch_get_finish,
	.run            = batch_get_run,
	.reply_products = batch_get_products,
	.read           = batch_get_read,
	.batch          = RPC_BATCH_READS,
	.reads_take     = batch_get_take,
};

/* ---- ListProducts (AIP-158) ------------------------------------------- */

static enum code
list_prepare(const ProtobufCMessage *req, struct op *op)
{
	const Inventory__V1__ListProductsRequest *r =
	    (const Inventory__V1__ListProductsRequest *)req;

	op->page_size = LIST_DEFAULT;
	if (r->has_page_size && r->page_size < 0)
		return handler_invalid(op, "page_size: must not be negative");
	if (r->has_page_size && r->page_size > 0)
		op->page_size =
		    r->page_size > LIST_MAX ? LIST_MAX : r->page_size;
	op->id[0] = '\0';
	if (r->page_token != NULL && r->page_token[0] != '\0' &&
	    !page_token_decode(r->page_token, op->id))
		return handler_invalid(
		    op, "page_token: not a token this service gave out");
	return CODE_OK;
}

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

static void
list_finish(struct op *op, ProtobufCBuffer *reply)
{
	Inventory__V1__ListProductsResponse resp =
	    INVENTORY__V1__LIST_PRODUCTS_RESPONSE__INIT;
	char                     token[PAGE_TOKEN_MAX + 1] = "";
	Inventory__V1__Product  *wire                      = NULL;
	Inventory__V1__Product **ptrs                      = NULL;

	if (handler_failed(op))
		return;
	if (op->nproducts > 0) {
		wire = calloc(op->nproducts, sizeof(*wire));
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointers */
		ptrs = calloc(op->nproducts, sizeof(*ptrs));
		if (wire == NULL || ptrs == NULL) {
			op->code = CODE_RESOURCE_EXHAUSTED;
			snprintf(
			    op->message, sizeof(op->message), "out of memory");
			goto out_free;
		}
	}
	for (size_t i = 0; i < op->nproducts; i++) {
		handler_product_to_wire(&op->products[i], &wire[i]);
		ptrs[i] = &wire[i];
	}
	if (op->more && op->nproducts > 0)
		page_token_encode(op->products[op->nproducts - 1].id, token);
	resp.n_products      = op->nproducts;
	resp.products        = ptrs;
	resp.next_page_token = token;
	protobuf_c_message_pack_to_buffer(&resp.base, reply);
out_free:
	free(ptrs);
	free(wire);
}

const struct rpc rpc_list_products = {
	.name           = "ListProducts",
	.prepare        = list_prepare,
	.finish         = list_finish,
	.run            = list_run,
	.reply_products = list_products,
	.reads_any      = true,
};
