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
struct handler;

/* What the database work of a call is. */
enum op_kind {
	OP_NONE,      /* nothing: the op was completed by dispatch */
	OP_READ,      /* GetProduct: one id */
	OP_READ_MANY, /* BatchGetProducts: ids[0..nids) */
	OP_WRITE,     /* UpdateStock: conditional write of one product */
	OP_CREATE,    /* CreateProduct */
	OP_ADJUST,    /* AdjustStock: add delta to one product */
	OP_RESERVE,   /* ReserveStock: items[0..nitems), all or nothing */
	OP_LIST,      /* ListProducts: a page after `id` ("" first) */
	OP_KIND_COUNT /* not a kind: how many (op_kind.c has a row each) */
};

/* Whether an op of this kind changes the database (its row in
 * op_kind.c says). */
bool op_kind_writes(enum op_kind kind);

struct op {
	/* ---- set by dispatch and the handler's prepare ---- */
	struct frame         *frame;      /* the frame the reply goes to */
	const struct handler *handler;    /* method row; NULL if unknown */
	int                   method;     /* index for metrics; -1 unknown */
	enum op_kind          kind;       /* OP_NONE once decided */
	const char           *request_id; /* envelope's, or NULL */
	char caller[CALLER_MAX + 1]; /* who called ("" without --auth-file) */
	uint64_t    received_ns;     /* when its frame arrived */
	uint64_t    deadline_ns;     /* 0: none (monotonic) */
	char        id[PRODUCT_ID_LEN + 1]; /* canonical UUID */
	int64_t     stock;                  /* WRITE, CREATE */
	int64_t     expected_version;       /* WRITE; ADJUST (0: none) */
	int64_t     delta;                  /* ADJUST */
	const char *name;                   /* CREATE */
	const char *price;                  /* CREATE */
	char (*ids)[PRODUCT_ID_LEN + 1];    /* READ_MANY, owned */
	size_t               nids;          /* READ_MANY */
	struct reserve_item *items;         /* RESERVE, owned */
	size_t               nitems;        /* RESERVE */
	char                *items_key;     /* RESERVE: the items as canonical
	                                       text, owned (idempotency) */
	int page_size;                      /* LIST: 1..LIST_MAX */

	/* ---- the outcome ---- */
	enum code      code;         /* the call's status */
	char           message[256]; /* why, when code is not OK */
	struct product product;      /* OK: the result; ABORTED and a future
	                                version: the latest */
	struct product *products;    /* READ_MANY on OK: nids; RESERVE on
	                                OK: nitems; LIST: nproducts; owned */
	size_t nproducts;            /* LIST: products on this page */
	int    more;                 /* LIST: a next page exists */

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
