/* SPDX-License-Identifier: MIT */
/*
 * The fuzz targets' stand-in for src/store (see fake_store.c).  Not
 * thread-safe: libFuzzer runs one input at a time.
 */
#ifndef INVENTORY_FAKE_STORE_H
#define INVENTORY_FAKE_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

enum fake_call {
	FAKE_NONE = 0,
	FAKE_GET,
	FAKE_CREATE,
	FAKE_UPDATE,
	FAKE_ADJUST,
	FAKE_RESERVE,
	FAKE_LIST,
};

/* Which store function the last request reached, and with what. */
struct fake_store_log {
	enum fake_call called; /* FAKE_NONE: the store was not reached */
	int64_t        expected_version; /* FAKE_UPDATE's, FAKE_ADJUST's
	                                  * argument (adjust: 0 for none) */
	int64_t delta;                   /* FAKE_ADJUST's argument */
	size_t  nitems;                  /* FAKE_RESERVE's item count */
	int     limit;                   /* FAKE_LIST's page size */
	char    after[40];               /* FAKE_LIST's position ("" first) */
};

/* The fake's products: stock FAKE_STOCK at version FAKE_VERSION; an id
 * whose last hex digit is odd does not exist. */
enum { FAKE_STOCK = 50, FAKE_VERSION = 7 };

extern struct fake_store_log fake_store_last;

/* The one store handle (never NULL). */
struct store *fake_store_get(void);

/* Forget the last call. */
void fake_store_reset(void);

#endif
