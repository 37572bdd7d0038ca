/* SPDX-License-Identifier: MIT */
/*
 * The product record as the server handles it: fixed-size fields, so a
 * product lives on a worker's stack and needs no allocation on the hot
 * path.  Limits are the contract's (client.h repeats them for callers).
 */
#ifndef INVENTORY_PRODUCT_H
#define INVENTORY_PRODUCT_H

#include <stdint.h>

enum {
	PRODUCT_ID_LEN    = 36,  /* canonical UUID text, lower case */
	PRODUCT_NAME_MAX  = 200, /* bytes of UTF-8 */
	PRODUCT_PRICE_MAX = 20,  /* characters of a decimal price */
	PRODUCT_STOCK_MAX =
	    2147483647,        /* the column is a PostgreSQL integer */
	REQUEST_ID_MAX = 64,   /* bytes of a request id */
	CALLER_MAX     = 64,   /* bytes of a caller's name (--auth-file) */
	RESERVE_MAX    = 100,  /* items of one ReserveStock */
	LIST_DEFAULT   = 50,   /* ListProducts page size for 0 */
	LIST_MAX       = 1000, /* ListProducts page size at most */
};

struct product {
	char    id[PRODUCT_ID_LEN + 1];       /* UUID text */
	char    name[PRODUCT_NAME_MAX + 1];   /* NUL-terminated UTF-8 */
	int64_t stock;                        /* 0 .. PRODUCT_STOCK_MAX */
	char    price[PRODUCT_PRICE_MAX + 1]; /* numeric(12,2) as text */
	int64_t version;                      /* >= 1 */
	int64_t created_at_us;                /* µs since the Unix epoch */
	int64_t updated_at_us;                /* µs since the Unix epoch */
	int64_t prev_stock; /* set by a write the store applied just now: the
	                       stock before it (0 for a create); -1 for a
	                       read or a repeat answered from the log */
};

/* One item of a reservation (ReserveStock): take `quantity` units, or,
 * with quantity 0, set the stock to `stock` if the product is still at
 * `expected_version`.  The outcome fields are the store's. */
struct reserve_item {
	char    id[PRODUCT_ID_LEN + 1]; /* canonical UUID */
	int64_t quantity;               /* take: 1 .. PRODUCT_STOCK_MAX */
	int64_t expected_version;       /* set: >= 1 */
	int64_t stock;                  /* set: 0 .. PRODUCT_STOCK_MAX */
	int     code; /* out: enum code of this item (OK: it would apply) */
	struct product product; /* out: after the change on OK; as it is on
	                           a failure (version 0: not found) */
};

#endif
