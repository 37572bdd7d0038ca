/* SPDX-License-Identifier: MIT */
/*
 * One row per kind of database work (enum op_kind, op.h): everything the
 * core needs to know about it, looked up by op->kind, so that the
 * executor, the batch planner and dispatch's reply budget never switch on
 * the kind.  A new RPC that needs the database in a new way adds its kind
 * to op.h and its row here (op_kind.c); a unit test fails when a row is
 * missing or incomplete (op_kind_check()).
 */
#ifndef INVENTORY_CORE_OP_KIND_H
#define INVENTORY_CORE_OP_KIND_H

#include <stdbool.h>
#include <stddef.h>

#include "base/code.h"
#include "core/op.h"

struct store;
struct store_req;

struct op_kind_row {
	const char *name; /* for logs and the table check */
	/* Run it alone on st within req (its deadline, its caller);
	 * returns the call's code, its outcome in op. */
	enum code (*run)(
	    struct store *st, struct op *op, const struct store_req *req);
	/* The most products its reply may carry (its reply memory is
	 * reserved from this before any I/O). */
	size_t (*reply_products)(const struct op *op);
	/* Writes only: whether b (same kind, same caller) is the same call
	 * as a, so that a repeat of a request id takes a's outcome. */
	bool (*same_call)(const struct op *a, const struct op *b);
	/* Writes only: the i-th product id it writes, NULL past the last
	 * (a creation writes no existing product: NULL at once). */
	const char *(*written)(const struct op *op, size_t i);
	/* Reads only: the i-th product id it reads, NULL past the last, so
	 * that it runs after a write of one of them earlier in its frame;
	 * NULL fn with reads_any: it may show any product (a listing). */
	const char *(*read)(const struct op *op, size_t i);
	/* Changes the database: the planner keeps it in order with the
	 * other writes of its products; writers only. */
	bool writes;
	bool reads_any;
};

/* Indexed by enum op_kind; OP_NONE's row has no functions. */
extern const struct op_kind_row op_kinds[];
extern const size_t             op_kind_count;

/* 0 if every kind has a complete row (run and reply_products; same_call
 * and written for writes), else -1 after logging the first gap. */
int op_kind_check(void);

#endif
