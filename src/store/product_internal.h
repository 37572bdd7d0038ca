/* SPDX-License-Identifier: MIT */
/*
 * What the product statements' files share (store/ only): the prepared
 * statements of the product RPCs (product_sql.c), how a write that did
 * not apply is decided (product.c), used by the single calls there and
 * by the batch forms in product_batch.c.
 */
#ifndef INVENTORY_STORE_PRODUCT_INTERNAL_H
#define INVENTORY_STORE_PRODUCT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/store.h"
#include "store/store_internal.h"

enum product_stmt_id {
	STMT_PRODUCT_GET,
	STMT_PRODUCT_CREATE,
	STMT_PRODUCT_CREATE_LOOKUP,
	STMT_PRODUCT_UPDATE_STOCK,
	STMT_PRODUCT_UPDATE_LOOKUP,
	STMT_PRODUCT_GET_MANY,
	STMT_PRODUCT_LOCK_MANY,
	STMT_PRODUCT_UPDATE_MANY,
	STMT_PRODUCT_UPDATE_LOOKUP_MANY,
	STMT_PRODUCT_ADJUST,
	STMT_PRODUCT_ADJUST_LOOKUP,
	STMT_PRODUCT_LIST_FIRST,
	STMT_PRODUCT_LIST_AFTER,
	PRODUCT_STMT_COUNT,
};

/* The SQL of each statement above (product_sql.c). */
extern const struct stmt store_product_sql[PRODUCT_STMT_COUNT];

/* A write's row `r` from column `col`: the product, then the stock
 * before the write.  OK, or INTERNAL if a column does not parse. */
enum code store_product_applied(
    const PGresult *res, int r, int col, struct product *row);

/* Decide a write that did not apply from its lookup row `r` (the product
 * from column `col`, then the request id's columns): false when the
 * lookup cannot tell, else true with *rv and, when read, *row. */
bool store_product_update_decide(const PGresult *res, int r, int col,
    const char *request_id, int64_t stock, int64_t expected_version,
    struct product *row, enum code *rv);

#endif
