/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the contract and concurrency tests: a client handle on
 * the fixtures' server (group setup/teardown), assertions that print status
 * names and messages, and product helpers.
 */
#ifndef INVENTORY_CONTRACT_H
#define INVENTORY_CONTRACT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <inventory/client.h>

#include "testenv.h"

/* The client every test of a group shares (thread-safe). */
extern inventory_client *contract_client;

/* cmocka group setup/teardown: open/close contract_client on
 * testenv_server() with a 10 s default timeout. */
int contract_setup(void **state);
int contract_teardown(void **state);

/* Fail unless got == want, printing both names and the status message. */
#define assert_code(got, want, st)                                          \
	do {                                                                \
		inventory_code g_ = (got), w_ = (want);                     \
		if (g_ != w_) {                                             \
			fail_msg("%s: got %s (%d), want %s (%d): %s", #got, \
			    inventory_code_name(g_), (int)g_,               \
			    inventory_code_name(w_), (int)w_,               \
			    (st) != NULL ? (st)->message : "");             \
		}                                                           \
	} while (0)

/* Create a product and fail the test unless it is OK. */
inventory_product *contract_create(
    const char *name, int64_t stock, const char *price);

/* Read a product and fail the test unless it is OK. */
inventory_product *contract_get(const char *id);

/* A price as integer cents; -1 if it is not a decimal with <= 2 places. */
long long contract_cents(const char *price);

/* True if s is a canonical lower-case UUID. */
int contract_is_uuid(const char *s);

/* A unique product name with the given prefix, into buf. */
void contract_name(char *buf, size_t len, const char *prefix);

#endif
