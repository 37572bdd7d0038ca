/* SPDX-License-Identifier: MIT */
/*
 * One call on its way through the server: what dispatch decoded and
 * validated, what the executor must do with the database, and the outcome
 * the reply is built from.
 *
 * An op lives inside its frame (struct frame, dispatch.c) from decode to
 * reply.  Dispatch fills the inputs and either completes the op at once
 * (a malformed call, a failed validation, an expired deadline) or hands it
 * to an executor; the executor fills the outcome and calls
 * dispatch_op_done().  The strings an op points at belong to the frame's
 * decoded messages, which outlive it.  No nng, no libpq.
 */
#ifndef INVENTORY_OP_H
#define INVENTORY_OP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/code.h"
#include "base/product.h"

struct frame;
struct rpc;

struct op {
	/* ---- set by dispatch and the handler's prepare ---- */
	struct frame     *frame;     /* the frame the reply goes to */
	const struct rpc *rpc;       /* its RPC's row (handlers/rpc.h); NULL if
	                                the method is unknown */
	int  method;                 /* index for metrics; -1 unknown */
	bool work;                   /* its row's database work is to be done;
	                                false once dispatch answered it (a
	                                refusal, or a call that needs none) */
	const char *request_id;      /* envelope's, or NULL */
	char caller[CALLER_MAX + 1]; /* who called ("" without --auth-file) */
	uint64_t    received_ns;     /* when its frame arrived */
	uint64_t    deadline_ns;     /* 0: none (monotonic) */
	char        id[PRODUCT_ID_LEN + 1]; /* canonical UUID */
	int64_t     stock;                  /* UpdateStock, CreateProduct */
	int64_t     expected_version; /* UpdateStock; AdjustStock (0: none) */
	int64_t     delta;            /* AdjustStock */
	const char *name;             /* CreateProduct */
	const char *price;            /* CreateProduct */
	char (*ids)[PRODUCT_ID_LEN + 1]; /* BatchGetProducts, owned */
	size_t               nids;       /* BatchGetProducts */
	struct reserve_item *items;      /* ReserveStock, owned */
	size_t               nitems;     /* ReserveStock */
	char                *items_key;  /* ReserveStock: the items as
	                                    canonical text, owned
	                                    (idempotency) */
	int page_size;                   /* ListProducts: 1..LIST_MAX */

	/* ---- the outcome ---- */
	enum code      code;         /* the call's status */
	char           message[256]; /* why, when code is not OK */
	struct product product;      /* OK: the result; ABORTED and a future
	                                version: the latest */
	struct product *products;    /* BatchGetProducts on OK: nids;
	                                ReserveStock on OK: nitems;
	                                ListProducts: nproducts; owned */
	size_t nproducts;            /* ListProducts: products on the page */
	int    more;                 /* ListProducts: a next page exists */

	/* ---- executor bookkeeping ---- */
	struct op *next;   /* queue link, arrival order */
	struct op *leader; /* same request id, same call earlier in the
	                      batch: take its outcome */
	int  round;        /* write round within a batch (batch.c) */
	bool deferred;     /* its lock wait was cut short to spare the
	                      other calls of the batch: it runs after them
	                      (executor.c) */
};

/* Release what an op owns (ids, items, products).  The op itself is the
 * frame's. */
void op_fini(struct op *op);

#endif
