/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the contract and concurrency tests (contract.h).
 */
#include "contract.h"

#include <stdio.h>
#include <string.h>

inventory_client *contract_client;

int
contract_setup(void **state)
{
	const char    *url = testenv_server();
	inventory_code rv;

	(void)state;
	rv = inventory_client_open(&contract_client, url);
	if (rv != INVENTORY_OK) {
		print_error("inventory_client_open(%s): %s\n", url,
		    inventory_code_name(rv));
		return -1;
	}
	inventory_client_set_timeout(contract_client, 10000);
	return 0;
}

int
contract_teardown(void **state)
{
	(void)state;
	inventory_client_close(contract_client);
	contract_client = NULL;
	return 0;
}

inventory_product *
contract_create(const char *name, int64_t stock, const char *price)
{
	inventory_product *p = NULL;
	inventory_status   st;

	memset(&st, 0, sizeof(st));
	assert_code(inventory_create_product(
	                contract_client, name, stock, price, NULL, &p, &st),
	    INVENTORY_OK, &st);
	assert_non_null(p);
	inventory_status_fini(&st);
	return p;
}

inventory_product *
contract_get(const char *id)
{
	inventory_product *p = NULL;
	inventory_status   st;

	memset(&st, 0, sizeof(st));
	assert_code(inventory_get_product(contract_client, id, NULL, &p, &st),
	    INVENTORY_OK, &st);
	assert_non_null(p);
	inventory_status_fini(&st);
	return p;
}

long long
contract_cents(const char *price)
{
	long long   whole = 0;
	int         frac = 0, places = 0;
	const char *s = price;

	if (*s < '0' || *s > '9') {
		return -1;
	}
	while (*s >= '0' && *s <= '9') {
		whole = whole * 10 + (*s++ - '0');
	}
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9' && places < 3) {
			frac = frac * 10 + (*s++ - '0');
			places++;
		}
		if (places == 0 || places > 2) {
			return -1;
		}
		if (places == 1) {
			frac *= 10;
		}
	}
	return *s == '\0' ? whole * 100 + frac : -1;
}

int
contract_is_uuid(const char *s)
{
	for (int i = 0; i < 36; i++) {
		char c = s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-') {
				return 0;
			}
		} else if (!((c >= '0' && c <= '9') ||
		               (c >= 'a' && c <= 'f'))) {
			return 0;
		}
	}
	return s[36] == '\0';
}

void
contract_name(char *buf, size_t len, const char *prefix)
{
	char rid[64];

	testenv_request_id(rid, sizeof(rid));
	snprintf(buf, len, "%s %s", prefix, rid);
}
