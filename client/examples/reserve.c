/* SPDX-License-Identifier: MIT */
/*
 * Example: reserve N units of a product, safely under any concurrency.
 *
 *   reserve URL PRODUCT_ID N
 *
 * inventory_update_with_retry() reads the product, asks take_units() for
 * the new stock, and writes it with the version it read; on a conflict it
 * re-applies take_units() to the product the conflict returned and tries
 * again after a jittered back-off.  This file is quoted in README.md and
 * built with the project, so the README's example always compiles.
 */
#include <stdio.h>
#include <stdlib.h>

#include <inventory/client.h>

static inventory_code
take_units(const inventory_product *current, int64_t *new_stock, void *arg)
{
	int64_t want = *(const int64_t *)arg;

	if (current->stock < want) {
		return INVENTORY_FAILED_PRECONDITION; /* not enough left */
	}
	*new_stock = current->stock - want;
	return INVENTORY_OK;
}

int
main(int argc, char **argv)
{
	inventory_client    *client  = NULL;
	inventory_product   *product = NULL;
	inventory_status     status  = { 0 };
	inventory_code       code;
	int64_t              want;
	inventory_retry_info info;

	if (argc != 4 || (want = strtoll(argv[3], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: reserve URL PRODUCT_ID N\n");
		return 2;
	}
	if ((code = inventory_client_open(&client, argv[1])) != INVENTORY_OK) {
		fprintf(stderr, "open: %s\n", inventory_code_name(code));
		return 1;
	}
	code = inventory_update_with_retry(client, argv[2], take_units, &want,
	    NULL, &product, &status, &info);
	if (code == INVENTORY_OK) {
		printf("reserved %lld of %s: stock now %lld at version %lld "
		       "(%d attempt%s)\n",
		    (long long)want, product->name, (long long)product->stock,
		    (long long)product->version, info.attempts,
		    info.attempts == 1 ? "" : "s");
	} else {
		fprintf(stderr, "reserve failed: %s: %s\n",
		    inventory_code_name(code), status.message);
	}
	inventory_product_free(product);
	inventory_status_fini(&status);
	inventory_client_close(client);
	return code == INVENTORY_OK ? 0 : 1;
}
