/*
 * The fuzz targets' stand-in for src/store (see fake_store.c).  Not
 * thread-safe: libFuzzer runs one input at a time.
 */
#ifndef INVENTORY_FAKE_STORE_H
#define INVENTORY_FAKE_STORE_H

#include <stdint.h>

struct store;

enum fake_call {
	FAKE_NONE = 0,
	FAKE_GET,
	FAKE_CREATE,
	FAKE_UPDATE,
};

/* Which store function the last request reached, and with what. */
struct fake_store_log {
	enum fake_call called; /* FAKE_NONE: the store was not reached */
	int64_t        expected_version; /* FAKE_UPDATE's argument */
};

extern struct fake_store_log fake_store_last;

/* The one store handle (never NULL). */
struct store *fake_store_get(void);

/* Forget the last call. */
void fake_store_reset(void);

#endif
