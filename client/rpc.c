/* SPDX-License-Identifier: MIT */
/*
 * rpc: libinventory's RPC calls, asynchronous and synchronous: argument
 * checks, encoding, and turning a reply into the caller's outcome.
 *
 * Every call goes one way: check the arguments, encode the Request
 * envelope once (without its timeout, which the pump stamps when the
 * frame leaves) into a heap call, and hand it to the pump; when the call
 * is decided, rpc_done() turns its reply into an inventory_result and
 * runs the callback.  A synchronous call is that path with a callback
 * that hands the result to a waiter on the caller's stack: the call's
 * completion is handed to the waiting thread and runs there (never
 * through an event loop's queue, never on nng's threads), so there is
 * one code path, and the synchronous calls keep their contract
 * (outputs, status, messages, the thread their helper's fn runs on).
 *
 * Invariants: the caller's strings are copied (encoded) before a start
 * returns; a start that fails never runs the callback; a result's
 * pointers are freed after the callback unless it took them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "internal.h"
#include "rng.h"
#include "rpc.h"

/* The largest stock, delta and quantity the contract allows. */
#define CLIENT_INT32_MAX ((int64_t)INVENTORY_STOCK_MAX)

/* ---- outcomes -------------------------------------------------------- */

void
rpc_result_fini(inventory_result *r)
{
	free(r->product);
	free(r->products);
	free(r->next_page_token);
	free(r->errors);
	inventory_status_fini(&r->status);
	memset(r, 0, sizeof(*r));
}

/* The outcome of call's reply as a result (the reply's memory moves into
 * it).  Checks what the codec cannot: the number of products an OK must
 * hold, the item an error names. */
static void
rpc_result(struct call *call, inventory_result *r)
{
	struct codec_reply *rep  = &call->reply;
	inventory_code      code = rep->code;

	memset(r, 0, sizeof(*r));
	if (code == INVENTORY_OK) {
		switch (call->method) {
		case CODEC_GET_PRODUCT:
		case CODEC_UPDATE_STOCK:
		case CODEC_CREATE_PRODUCT:
		case CODEC_ADJUST_STOCK:
			if ((r->product = malloc(sizeof(*r->product))) ==
			    NULL) {
				code = client_status_set(&r->status,
				    INVENTORY_RESOURCE_EXHAUSTED,
				    "out of memory");
				break;
			}
			*r->product = rep->product;
			break;
		case CODEC_BATCH_GET_PRODUCTS:
		case CODEC_RESERVE_STOCK:
			if (rep->nproducts != call->expect_n) {
				code = client_status_set(&r->status,
				    INVENTORY_INTERNAL,
				    "%s: %zu products for %zu %s",
				    CODEC_MALFORMED, rep->nproducts,
				    call->expect_n,
				    call->method == CODEC_RESERVE_STOCK
				        ? "items"
				        : "ids");
				break;
			}
			/* the products are the caller's, as a page's */
			__attribute__((fallthrough));
		case CODEC_LIST_PRODUCTS:
			r->products          = rep->products;
			r->nproducts         = rep->nproducts;
			r->next_page_token   = rep->next_page_token;
			rep->products        = NULL;
			rep->nproducts       = 0;
			rep->next_page_token = NULL;
			break;
		}
		r->code = code;
		return;
	}
	r->code        = code;
	r->status.code = code;
	codec_copy_str(
	    r->status.message, sizeof(r->status.message), rep->message);
	/* A conflict always names the latest product; AdjustStock's
	 * refusals (too little stock, too much) do when they can. */
	if (code == INVENTORY_ABORTED ||
	    ((code == INVENTORY_FAILED_PRECONDITION ||
	         code == INVENTORY_OUT_OF_RANGE) &&
	        rep->has_current)) {
		r->status.current_version = rep->current_version;
		if (rep->has_current && (r->status.current = malloc(sizeof(
		                             *r->status.current))) != NULL)
			*r->status.current = rep->current;
	}
	if (call->method == CODEC_RESERVE_STOCK && rep->nitems > 0) {
		for (size_t i = 0; i < rep->nitems; i++) {
			if (rep->items[i].index >= call->expect_n) {
				r->code = client_status_set(&r->status,
				    INVENTORY_INTERNAL,
				    "%s: item error for item %zu of %zu",
				    CODEC_MALFORMED, rep->items[i].index,
				    call->expect_n);
				return;
			}
		}
		r->errors   = rep->items;
		r->nerrors  = rep->nitems;
		rep->items  = NULL;
		rep->nitems = 0;
	}
}

/* A decided call: its result to its callback, then freed. */
static void
rpc_done(struct call *call)
{
	inventory_result r;

	if (call->kind == CALL_SLEEP) {
		memset(&r, 0, sizeof(r));
		r.code = r.status.code = call->reply.code;
		codec_copy_str(r.status.message, sizeof(r.status.message),
		    call->reply.message);
	} else {
		rpc_result(call, &r);
	}
	call->cb(&r, call->arg);
	rpc_result_fini(&r);
}

/* ---- starting -------------------------------------------------------- */

/* Encode req into a new call and start it.  OK, or why not (in s->st).
 * req is read, never kept: the id it is sent with is a local copy. */
static inventory_code
rpc_start(const struct rpc_start *s, const struct codec_request *req,
    size_t expect_n)
{
	inventory_client          *c    = s->c;
	const inventory_call_opts *opts = s->opts;
	struct codec_request       r    = *req;
	char                       id[INVENTORY_REQUEST_ID_MAX + 1];
	int                        timeout_ms = client_timeout_ms(c);
	size_t                     size;
	struct call               *call;
	inventory_code             code;

	if (opts != NULL && opts->timeout_ms > 0)
		timeout_ms = opts->timeout_ms;
	if (opts != NULL && opts->request_id != NULL)
		snprintf(id, sizeof(id), "%s", opts->request_id);
	else
		rng_request_id(id);
	r.request_id = id;
	r.timeout_ms = (uint32_t)timeout_ms;
	r.no_timeout = 1; /* stamped when the frame leaves */
	size         = codec_request_size(&r);
	if (size == 0)
		return client_status_set(
		    s->st, INVENTORY_INTERNAL, "cannot encode request");
	if ((call = call_alloc(c, CALL_RPC, size)) == NULL)
		return client_status_set(s->st, INVENTORY_RESOURCE_EXHAUSTED,
		    "cannot allocate request");
	if (codec_request_encode(&r, call->req, size) != size) {
		free(call);
		return client_status_set(
		    s->st, INVENTORY_INTERNAL, "cannot encode request");
	}
	memcpy(call->request_id, id, sizeof(id));
	call->method      = r.method;
	call->timeout_ms  = timeout_ms;
	call->deadline_ns = client_now_ns() + (int64_t)timeout_ms * 1000000;
	call->expect_n    = expect_n;
	call->waiter      = s->waiter;
	call->done        = rpc_done;
	call->cb          = s->cb;
	call->arg         = s->arg;
	call->parent      = s->parent;
	if ((code = pump_start(c, call)) != INVENTORY_OK) {
		free(call);
		return client_status_set(s->st, code, "%s",
		    code == INVENTORY_CANCELLED
		        ? "the handle is closing or the call was cancelled"
		        : "out of memory");
	}
	if (s->idp != NULL)
		*s->idp = call->id;
	return INVENTORY_OK;
}

inventory_code
rpc_sleep_start(const struct rpc_start *s, int64_t ms)
{
	struct call   *call;
	inventory_code code;

	if ((call = call_alloc(s->c, CALL_SLEEP, 0)) == NULL)
		return client_status_set(
		    s->st, INVENTORY_RESOURCE_EXHAUSTED, "out of memory");
	call->deadline_ns = client_now_ns() + (ms > 0 ? ms : 0) * 1000000;
	call->waiter      = s->waiter;
	call->done        = rpc_done;
	call->cb          = s->cb;
	call->arg         = s->arg;
	call->parent      = s->parent;
	if ((code = pump_start(s->c, call)) != INVENTORY_OK) {
		free(call);
		return client_status_set(s->st, code, "cancelled");
	}
	if (s->idp != NULL)
		*s->idp = call->id;
	return INVENTORY_OK;
}

/* Checks every start shares; OK or INVALID_ARGUMENT (in s->st). */
static inventory_code
start_check(const struct rpc_start *s)
{
	const inventory_call_opts *opts = s->opts;

	if (s->c == NULL || s->cb == NULL)
		return client_status_set(s->st, INVENTORY_INVALID_ARGUMENT,
		    "client and callback must not be NULL");
	if (opts != NULL && opts->timeout_ms < 0)
		return client_status_set(s->st, INVENTORY_INVALID_ARGUMENT,
		    "timeout_ms must not be negative");
	if (opts != NULL && opts->request_id != NULL &&
	    (opts->request_id[0] == '\0' ||
	        strlen(opts->request_id) > INVENTORY_REQUEST_ID_MAX))
		return client_status_set(s->st, INVENTORY_INVALID_ARGUMENT,
		    "request_id must be 1..%d bytes",
		    INVENTORY_REQUEST_ID_MAX);
	return INVENTORY_OK;
}

/* 1 if s is a UUID in its canonical text form (either case): 36
 * characters, hex digits with hyphens at 8, 13, 18 and 23.  The server
 * judges the rest (it answers NOT_FOUND for a well-formed unknown id). */
static int
uuid_valid(const char *s)
{
	static const char hex[] = "0123456789abcdefABCDEF";

	if (s == NULL || strlen(s) != INVENTORY_ID_LEN)
		return 0;
	for (size_t i = 0; i < INVENTORY_ID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (s[i] == '\0' || strchr(hex, s[i]) == NULL) {
			return 0;
		}
	}
	return 1;
}

inventory_code
rpc_get_start(const struct rpc_start *s, const char *id)
{
	struct codec_request req = { .method = CODEC_GET_PRODUCT };
	inventory_code       code;

	if ((code = start_check(s)) != INVENTORY_OK)
		return code;
	if (id == NULL)
		return client_status_set(
		    s->st, INVENTORY_INVALID_ARGUMENT, "id must not be NULL");
	req.u.get.id = id;
	return rpc_start(s, &req, 1);
}

static inventory_code
create_start(const struct rpc_start *s, const char *name, int64_t stock,
    const char *price)
{
	struct codec_request req = { .method = CODEC_CREATE_PRODUCT };
	inventory_code       code;
	size_t               len;

	if ((code = start_check(s)) != INVENTORY_OK)
		return code;
	if (name == NULL || price == NULL)
		return client_status_set(s->st, INVENTORY_INVALID_ARGUMENT,
		    "name and price must not be NULL");
	len = strlen(name);
	if (len == 0 || len > INVENTORY_NAME_MAX)
		return client_status_set(s->st, INVENTORY_INVALID_ARGUMENT,
		    "name must be 1..%d bytes, not %zu", INVENTORY_NAME_MAX,
		    len);
	/* stock and price are the server's to judge: one source of truth. */
	req.u.create.name  = name;
	req.u.create.stock = stock;
	req.u.create.price = price;
	return rpc_start(s, &req, 1);
}

inventory_code
rpc_update_start(const struct rpc_start *s, const char *id, int64_t stock,
    int64_t expected_version)
{
	struct codec_request req = { .method = CODEC_UPDATE_STOCK };
	inventory_code       code;

	if ((code = start_check(s)) != INVENTORY_OK)
		return code;
	if (id == NULL)
		return client_status_set(
		    s->st, INVENTORY_INVALID_ARGUMENT, "id must not be NULL");
	req.u.update.id               = id;
	req.u.update.stock            = stock;
	req.u.update.expected_version = expected_version;
	return rpc_start(s, &req, 1);
}

static inventory_code
batch_get_start(const struct rpc_start *s, const char *const *ids, size_t n)
{
	struct codec_request req = { .method = CODEC_BATCH_GET_PRODUCTS };
	inventory_code       code;

	if ((code = start_check(s)) != INVENTORY_OK)
		return code;
	if (ids == NULL || n == 0 || n > INVENTORY_BATCH_GET_MAX)
		return client_status_set(s->st, INVENTORY_INVALID_ARGUMENT,
		    "1..%d ids, not %zu", INVENTORY_BATCH_GET_MAX,
		    ids == NULL ? (size_t)0 : n);
	for (size_t i = 0; i < n; i++)
		if (ids[i] == NULL)
			return client_status_set(s->st,
			    INVENTORY_INVALID_ARGUMENT,
			    "ids[%zu] must not be NULL", i);
	req.u.batch_get.ids = ids;
	req.u.batch_get.n   = n;
	return rpc_start(s, &req, n);
}

static inventory_code
adjust_start(const struct rpc_start *s, const char *id, int64_t delta,
    int64_t expected_version)
{
	struct codec_request req = { .method = CODEC_ADJUST_STOCK };
	inventory_code       code;

	if ((code = start_check(s)) != INVENTORY_OK)
		return code;
	if (!uuid_valid(id))
		return client_status_set(
		    s->st, INVENTORY_INVALID_ARGUMENT, "id must be a UUID");
	if (delta == 0 || delta < -CLIENT_INT32_MAX ||
	    delta > CLIENT_INT32_MAX)
		return client_status_set(s->st, INVENTORY_INVALID_ARGUMENT,
		    "delta must be non-zero and within +-2147483647, not "
		    "%lld",
		    (long long)delta);
	if (expected_version < 0)
		return client_status_set(s->st, INVENTORY_INVALID_ARGUMENT,
		    "expected_version must be 0 (any) or >= 1, not %lld",
		    (long long)expected_version);
	req.u.adjust.id               = id;
	req.u.adjust.delta            = delta;
	req.u.adjust.expected_version = expected_version;
	return rpc_start(s, &req, 1);
}

/* Check the items of a reservation; INVALID_ARGUMENT (in status) names
 * the first bad field. */
static inventory_code
reserve_check(
    const inventory_reserve_item *items, size_t n, inventory_status *status)
{
	if (items == NULL || n == 0 || n > INVENTORY_RESERVE_MAX)
		return client_status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "items: 1..%d, not %zu", INVENTORY_RESERVE_MAX,
		    items == NULL ? (size_t)0 : n);
	for (size_t i = 0; i < n; i++) {
		const inventory_reserve_item *it = &items[i];

		if (!uuid_valid(it->id))
			return client_status_set(status,
			    INVENTORY_INVALID_ARGUMENT,
			    "items[%zu].id must be a UUID", i);
		if (it->quantity < 0 || it->quantity > CLIENT_INT32_MAX)
			return client_status_set(status,
			    INVENTORY_INVALID_ARGUMENT,
			    "items[%zu].quantity must be 1..2147483647 (or 0 "
			    "to set the stock), not %lld",
			    i, (long long)it->quantity);
		if (it->quantity > 0 &&
		    (it->expected_version != 0 || it->stock != 0))
			return client_status_set(status,
			    INVENTORY_INVALID_ARGUMENT,
			    "items[%zu]: a take (quantity > 0) has no "
			    "expected_version or stock",
			    i);
		if (it->quantity == 0 && it->expected_version < 1)
			return client_status_set(status,
			    INVENTORY_INVALID_ARGUMENT,
			    "items[%zu].expected_version must be >= 1 to set "
			    "the stock, not %lld",
			    i, (long long)it->expected_version);
		if (it->quantity == 0 &&
		    (it->stock < 0 || it->stock > CLIENT_INT32_MAX))
			return client_status_set(status,
			    INVENTORY_INVALID_ARGUMENT,
			    "items[%zu].stock must be 0..2147483647, not %lld",
			    i, (long long)it->stock);
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(items[j].id, it->id) == 0)
				return client_status_set(status,
				    INVENTORY_INVALID_ARGUMENT,
				    "items[%zu].id repeats items[%zu].id", i,
				    j);
	}
	return INVENTORY_OK;
}

static inventory_code
reserve_start(
    const struct rpc_start *s, const inventory_reserve_item *items, size_t n)
{
	struct codec_request req = { .method = CODEC_RESERVE_STOCK };
	inventory_code       code;

	if ((code = start_check(s)) != INVENTORY_OK)
		return code;
	if ((code = reserve_check(items, n, s->st)) != INVENTORY_OK)
		return code;
	/* rpc_start() always sends a request id (opts' or a fresh one),
	 * which is what makes a resend after an unknown outcome safe. */
	req.u.reserve.items = items;
	req.u.reserve.n     = n;
	return rpc_start(s, &req, n);
}

static inventory_code
list_start(const struct rpc_start *s, int page_size, const char *page_token)
{
	struct codec_request req = { .method = CODEC_LIST_PRODUCTS };
	inventory_code       code;

	if ((code = start_check(s)) != INVENTORY_OK)
		return code;
	if (page_size < 0)
		return client_status_set(s->st, INVENTORY_INVALID_ARGUMENT,
		    "page_size must not be negative, not %d", page_size);
	req.u.list.page_size  = page_size;
	req.u.list.page_token = page_token;
	return rpc_start(s, &req, 0);
}

/* ---- the asynchronous calls ------------------------------------------ */

#define ASYNC_START(c, opts, cb, arg, idp)                          \
	{                                                           \
		.c = (c), .opts = (opts), .cb = (cb), .arg = (arg), \
		.idp = (idp),                                       \
	}

inventory_code
inventory_get_product_async(inventory_client *c, const char *id,
    const inventory_call_opts *opts, inventory_callback cb, void *arg,
    inventory_call_id *idp)
{
	struct rpc_start s = ASYNC_START(c, opts, cb, arg, idp);

	return rpc_get_start(&s, id);
}

inventory_code
inventory_batch_get_products_async(inventory_client *c, const char *const *ids,
    size_t n, const inventory_call_opts *opts, inventory_callback cb,
    void *arg, inventory_call_id *idp)
{
	struct rpc_start s = ASYNC_START(c, opts, cb, arg, idp);

	return batch_get_start(&s, ids, n);
}

inventory_code
inventory_create_product_async(inventory_client *c, const char *name,
    int64_t stock, const char *price, const inventory_call_opts *opts,
    inventory_callback cb, void *arg, inventory_call_id *idp)
{
	struct rpc_start s = ASYNC_START(c, opts, cb, arg, idp);

	return create_start(&s, name, stock, price);
}

inventory_code
inventory_update_stock_async(inventory_client *c, const char *id,
    int64_t stock, int64_t expected_version, const inventory_call_opts *opts,
    inventory_callback cb, void *arg, inventory_call_id *idp)
{
	struct rpc_start s = ASYNC_START(c, opts, cb, arg, idp);

	return rpc_update_start(&s, id, stock, expected_version);
}

inventory_code
inventory_adjust_stock_async(inventory_client *c, const char *id,
    int64_t delta, int64_t expected_version, const inventory_call_opts *opts,
    inventory_callback cb, void *arg, inventory_call_id *idp)
{
	struct rpc_start s = ASYNC_START(c, opts, cb, arg, idp);

	return adjust_start(&s, id, delta, expected_version);
}

inventory_code
inventory_reserve_async(inventory_client *c,
    const inventory_reserve_item *items, size_t n,
    const inventory_call_opts *opts, inventory_callback cb, void *arg,
    inventory_call_id *idp)
{
	struct rpc_start s = ASYNC_START(c, opts, cb, arg, idp);

	return reserve_start(&s, items, n);
}

inventory_code
inventory_list_products_async(inventory_client *c, int page_size,
    const char *page_token, const inventory_call_opts *opts,
    inventory_callback cb, void *arg, inventory_call_id *idp)
{
	struct rpc_start s = ASYNC_START(c, opts, cb, arg, idp);

	return list_start(&s, page_size, page_token);
}

inventory_code
inventory_cancel(inventory_client *c, inventory_call_id id)
{
	if (c == NULL)
		return INVENTORY_INVALID_ARGUMENT;
	return pump_cancel(c, id) == 0 ? INVENTORY_OK : INVENTORY_NOT_FOUND;
}

/* ---- the synchronous calls: start, then wait ------------------------- */

/* Checks every synchronous call shares; OK or INVALID_ARGUMENT. */
static inventory_code
call_check(
    inventory_client *c, inventory_product **out, inventory_status *status)
{
	inventory_status_fini(status);
	if (c == NULL || out == NULL)
		return client_status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "client and out must not be NULL");
	return INVENTORY_OK;
}

#define SYNC_START(c, opts, status, w)                                   \
	{                                                                \
		.c = (c), .opts = (opts), .st = (status), .waiter = (w), \
		.cb = waiter_cb, .arg = (w),                             \
	}

/* Wait for w's call, then give its product to *out on OK. */
static inventory_code
sync_one(inventory_client *c, inventory_code code, struct waiter *w,
    inventory_product **out, inventory_status *status)
{
	if (code != INVENTORY_OK) {
		waiter_fini(w);
		return code;
	}
	if ((code = waiter_wait(c, w, status)) == INVENTORY_OK) {
		*out         = w->r.product;
		w->r.product = NULL;
	}
	rpc_result_fini(&w->r);
	return code;
}

inventory_code
inventory_get_product(inventory_client *c, const char *id,
    const inventory_call_opts *opts, inventory_product **out,
    inventory_status *status)
{
	struct waiter    w;
	struct rpc_start s = SYNC_START(c, opts, status, &w);
	inventory_code   code;

	if ((code = call_check(c, out, status)) != INVENTORY_OK)
		return code;
	waiter_init(&w);
	return sync_one(c, rpc_get_start(&s, id), &w, out, status);
}

inventory_code
inventory_create_product(inventory_client *c, const char *name, int64_t stock,
    const char *price, const inventory_call_opts *opts,
    inventory_product **out, inventory_status *status)
{
	struct waiter    w;
	struct rpc_start s = SYNC_START(c, opts, status, &w);
	inventory_code   code;

	if ((code = call_check(c, out, status)) != INVENTORY_OK)
		return code;
	waiter_init(&w);
	return sync_one(
	    c, create_start(&s, name, stock, price), &w, out, status);
}

inventory_code
inventory_update_stock(inventory_client *c, const char *id, int64_t stock,
    int64_t expected_version, const inventory_call_opts *opts,
    inventory_product **out, inventory_status *status)
{
	struct waiter    w;
	struct rpc_start s = SYNC_START(c, opts, status, &w);
	inventory_code   code;

	if ((code = call_check(c, out, status)) != INVENTORY_OK)
		return code;
	waiter_init(&w);
	return sync_one(c, rpc_update_start(&s, id, stock, expected_version),
	    &w, out, status);
}

inventory_code
inventory_adjust_stock(inventory_client *c, const char *id, int64_t delta,
    int64_t expected_version, const inventory_call_opts *opts,
    inventory_product **out, inventory_status *status)
{
	struct waiter    w;
	struct rpc_start s = SYNC_START(c, opts, status, &w);
	inventory_code   code;

	if ((code = call_check(c, out, status)) != INVENTORY_OK)
		return code;
	waiter_init(&w);
	return sync_one(
	    c, adjust_start(&s, id, delta, expected_version), &w, out, status);
}

/* Wait for w's call; on OK its products move to *out (and *n). */
static inventory_code
sync_many(inventory_client *c, inventory_code code, struct waiter *w,
    inventory_product **out, size_t *n, inventory_status *status)
{
	if (code != INVENTORY_OK) {
		waiter_fini(w);
		return code;
	}
	if ((code = waiter_wait(c, w, status)) == INVENTORY_OK) {
		*out          = w->r.products;
		w->r.products = NULL;
		if (n != NULL)
			*n = w->r.nproducts;
	}
	return code;
}

inventory_code
inventory_batch_get_products(inventory_client *c, const char *const *ids,
    size_t n, const inventory_call_opts *opts, inventory_product **out,
    inventory_status *status)
{
	struct waiter    w;
	struct rpc_start s = SYNC_START(c, opts, status, &w);
	inventory_code   code;

	if ((code = call_check(c, out, status)) != INVENTORY_OK)
		return code;
	waiter_init(&w);
	code =
	    sync_many(c, batch_get_start(&s, ids, n), &w, out, NULL, status);
	rpc_result_fini(&w.r);
	return code;
}

inventory_code
inventory_reserve(inventory_client *c, const inventory_reserve_item *items,
    size_t n, const inventory_call_opts *opts, inventory_product **out,
    inventory_status *status, inventory_item_error **errors, size_t *nerrors)
{
	struct waiter    w;
	struct rpc_start s = SYNC_START(c, opts, status, &w);
	inventory_code   code;

	if (errors != NULL)
		*errors = NULL;
	if (nerrors != NULL)
		*nerrors = 0;
	if ((code = call_check(c, out, status)) != INVENTORY_OK)
		return code;
	waiter_init(&w);
	code =
	    sync_many(c, reserve_start(&s, items, n), &w, out, NULL, status);
	if (code != INVENTORY_OK && errors != NULL && w.r.nerrors > 0) {
		*errors    = w.r.errors; /* the caller's now */
		w.r.errors = NULL;
		if (nerrors != NULL)
			*nerrors = w.r.nerrors;
	}
	rpc_result_fini(&w.r);
	return code;
}

inventory_code
inventory_list_products(inventory_client *c, int page_size,
    const char *page_token, const inventory_call_opts *opts,
    inventory_product **out, size_t *n, char **next_page_token,
    inventory_status *status)
{
	struct waiter    w;
	struct rpc_start s = SYNC_START(c, opts, status, &w);
	inventory_code   code;

	if ((code = call_check(c, out, status)) != INVENTORY_OK)
		return code;
	if (n == NULL || next_page_token == NULL)
		return client_status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "n and next_page_token must not be NULL");
	waiter_init(&w);
	code = sync_many(
	    c, list_start(&s, page_size, page_token), &w, out, n, status);
	if (code == INVENTORY_OK) {
		*next_page_token    = w.r.next_page_token;
		w.r.next_page_token = NULL;
	}
	rpc_result_fini(&w.r);
	return code;
}
