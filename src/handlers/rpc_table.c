/* SPDX-License-Identifier: MIT */
/*
 * The RPCs' rows in the order of the proto's `service InventoryService`
 * (see rpc.h), and the check that each row is complete.  Each row is
 * defined with its family's handlers; this file only lists them.
 */
#include "handlers/rpc.h"

#include <string.h>

#include "base/log.h"
#include "ops/metrics.h"

/* product_read.c */
extern const struct rpc rpc_get_product;
extern const struct rpc rpc_batch_get_products;
extern const struct rpc rpc_list_products;
/* product_write.c */
extern const struct rpc rpc_update_stock;
extern const struct rpc rpc_create_product;
extern const struct rpc rpc_adjust_stock;
/* orders.c */
extern const struct rpc rpc_reserve_stock;

/* In the order of the proto's service; dispatch checks the names against
 * protoc-c's descriptor at start-up. */
const struct rpc *const rpc_table[] = {
	&rpc_get_product,
	&rpc_update_stock,
	&rpc_create_product,
	&rpc_batch_get_products,
	&rpc_adjust_stock,
	&rpc_reserve_stock,
	&rpc_list_products,
};
const size_t rpc_count = sizeof(rpc_table) / sizeof(rpc_table[0]);
_Static_assert(sizeof(rpc_table) / sizeof(rpc_table[0]) == METRICS_RPCS,
    "rpc_table needs one row per rpc of service InventoryService");

const struct rpc *
rpc_find(const char *name)
{
	for (size_t i = 0; i < rpc_count; i++) {
		if (strcmp(rpc_table[i]->name, name) == 0)
			return rpc_table[i];
	}
	return NULL;
}

const char *
rpc_row_gap(const struct rpc *r)
{
	if (r->name == NULL)
		return "no name";
	if (r->prepare == NULL || r->finish == NULL)
		return "no prepare or finish";
	if (r->reply_products == NULL)
		return "no reply_products";
	if (r->run == NULL)
		/* Answered by dispatch: nothing for the planner. */
		return r->writes || r->batch != RPC_BATCH_NONE
		           ? "a write or a batch form without run"
		           : NULL;
	if (r->writes && (r->same_call == NULL || r->written == NULL))
		return "a write without same_call or written";
	if (!r->writes && r->read == NULL && !r->reads_any)
		return "a read without read or reads_any";
	if (!r->writes && r->repeat_take != NULL)
		return "repeat_take on a read";
	switch (r->batch) {
	case RPC_BATCH_NONE:
		if (r->reads_take != NULL || r->update_fill != NULL ||
		    r->single_alone)
			return "a batch function without a batch form";
		break;
	case RPC_BATCH_READS:
		if (r->writes || r->read == NULL || r->reads_take == NULL)
			return "RPC_BATCH_READS needs a read with read and "
			       "reads_take";
		break;
	case RPC_BATCH_UPDATES:
		if (!r->writes || r->update_fill == NULL)
			return "RPC_BATCH_UPDATES needs a write with "
			       "update_fill";
		break;
	default:
		return "an unknown batch form";
	}
	return NULL;
}

int
rpc_check(void)
{
	for (size_t i = 0; i < rpc_count; i++) {
		const struct rpc *r   = rpc_table[i];
		const char       *gap = r != NULL ? rpc_row_gap(r) : "no row";

		if (gap != NULL) {
			log_err("rpc %zu (%s): %s", i,
			    r != NULL && r->name != NULL ? r->name : "?", gap);
			return -1;
		}
	}
	return 0;
}

size_t
rpc_one_product(const struct op *op)
{
	(void)op;
	return 1;
}

const char *
rpc_the_id(const struct op *op, size_t i)
{
	return i == 0 ? op->id : NULL;
}
