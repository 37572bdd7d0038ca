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
	    2147483647,      /* the column is a PostgreSQL integer */
	REQUEST_ID_MAX = 64, /* bytes of a request id */
};

struct product {
	char    id[PRODUCT_ID_LEN + 1];       /* UUID text */
	char    name[PRODUCT_NAME_MAX + 1];   /* NUL-terminated UTF-8 */
	int64_t stock;                        /* 0 .. PRODUCT_STOCK_MAX */
	char    price[PRODUCT_PRICE_MAX + 1]; /* numeric(12,2) as text */
	int64_t version;                      /* >= 1 */
	int64_t created_at_us;                /* µs since the Unix epoch */
	int64_t updated_at_us;                /* µs since the Unix epoch */
};

#endif
