/* SPDX-License-Identifier: MIT */
/*
 * history: a Jepsen-style record of concurrent operations on the inventory
 * service, and the checker that judges it.
 *
 * A history is a list of products (their id and the version and stock they
 * had before the run) and a list of operations.  Each operation is one
 * GetProduct (a read) or one UpdateStock (a write) issued by one client:
 * its arguments, the CLOCK_MONOTONIC time it was invoked and the time its
 * reply arrived, and the outcome (a status code; for OK the returned
 * version and stock; for ABORTED the conflict's current version and
 * stock).  An operation that never completed (its client was killed) has
 * code HIST_PENDING.  The final state of each product, read after the run
 * through the RPC and/or straight from PostgreSQL, closes the history.
 *
 * history_check() is a pure function of a history: no I/O, no clock, so
 * hand-made histories (including ones that must fail) test it.  It checks
 * the model of a versioned register per product; see checker.c.
 *
 * The text form (history_write_*, history_read_file) lets several
 * processes record one run: each appends its own lines (an invoke line
 * before the call, a completion line after it), and the reader merges any
 * number of files, so a client killed mid-request leaves a write whose
 * outcome is unknown, exactly as it is in reality.
 */
#ifndef INVENTORY_HISTORY_H
#define INVENTORY_HISTORY_H

#include <stdint.h>
#include <stdio.h>

#define HIST_ID_LEN    36   /* canonical UUID text */
#define HIST_PENDING   (-1) /* code of an operation that never completed */
#define HIST_NO_TIME   INT64_MAX /* completion time of a pending operation */
#define HIST_FINAL_MAX 2         /* final reads per product: rpc and sql */

enum hist_type {
	HIST_READ    = 'R', /* GetProduct */
	HIST_UPDATE  = 'U', /* UpdateStock(stock, expected) */
	HIST_ADJUST  = 'A', /* AdjustStock(delta = stock, expected) */
	HIST_RESERVE = 'V', /* one item of a ReserveStock: take `stock`
	                     * units; the items of one call share `group`
	                     * and its code, and apply all or none */
};

/* The status codes the checker cares about (gRPC's numbers). */
enum {
	HIST_OK                  = 0,
	HIST_INVALID_ARGUMENT    = 3,
	HIST_NOT_FOUND           = 5,
	HIST_ALREADY_EXISTS      = 6,
	HIST_FAILED_PRECONDITION = 9,
	HIST_ABORTED             = 10,
	HIST_OUT_OF_RANGE        = 11,
};

/* One product of the run. */
struct hist_product {
	char    id[HIST_ID_LEN + 1]; /* UUID text */
	int64_t v0;                  /* version before the run */
	int64_t s0;                  /* stock before the run */
	int     nfinal;              /* how many final reads follow */
	struct {
		int64_t version; /* final version as read */
		int64_t stock;   /* final stock as read */
		char    src[8];  /* where it was read: "rpc" or "sql" */
	} final[HIST_FINAL_MAX];
};

/* One operation. */
struct hist_op {
	int            client;   /* client id, unique across processes */
	enum hist_type type;     /* read or update */
	int            product;  /* index into history.products */
	int64_t        expected; /* update, adjust: expected version
	                          * (adjust: 0 for none) */
	int64_t stock;           /* update: stock written; adjust: the
	                          * delta; reserve: the quantity taken */
	int64_t t_invoke;        /* CLOCK_MONOTONIC ns before the call */
	int64_t t_complete;      /* ns after the reply, or HIST_NO_TIME */
	int     code;            /* status code, or HIST_PENDING */
	int64_t ret_version;     /* OK: version; ABORTED (and adjust or
	                          * reserve refused): current version,
	                          * 0 if not sent */
	int64_t ret_stock;       /* OK/ABORTED: stock, -1 if not sent */
	int64_t group;           /* reserve: the call, shared by its
	                          * items (unique across processes) */
};

/* A whole history.  Zero-initialise, or history_init(). */
struct history {
	struct hist_product *products;  /* nproducts entries */
	int                  nproducts; /* products in the run */
	int                  capproducts;
	struct hist_op      *ops;  /* nops entries, in invoke order */
	size_t               nops; /* operations recorded */
	size_t               capops;
};

void history_init(struct history *h);
void history_fini(struct history *h); /* frees, leaves h empty; NULL ok */

/* Append a product; returns its index or -1 (out of memory).  An id that
 * is already there returns the existing index and keeps its v0/s0. */
int history_add_product(
    struct history *h, const char *id, int64_t v0, int64_t s0);
/* Index of a product id, or -1. */
int history_find_product(const struct history *h, const char *id);
/* Append a copy of *op; returns its index or -1 (out of memory). */
long history_add_op(struct history *h, const struct hist_op *op);
/* Record a final read of product p. Returns 0, or -1 if full. */
int history_add_final(
    struct history *h, int p, const char *src, int64_t version, int64_t stock);

/* Text form.  Each writer formats one line into buf (NUL-terminated,
 * ending in '\n') and returns its length; the caller writes it with one
 * write(2) so concurrent writers never interleave within a line.  seq is
 * the operation's number within its file. */
int history_fmt_product(char *buf, size_t len, const struct hist_product *p);
int history_fmt_invoke(char *buf, size_t len, long seq,
    const struct hist_op *op, const char *product_id);
int history_fmt_complete(
    char *buf, size_t len, long seq, const struct hist_op *op);
int history_fmt_final(char *buf, size_t len, const char *product_id,
    const char *src, int64_t version, int64_t stock);

/* Read one history file and merge it into h (several files may be read
 * into one history).  Returns 0, or -1 with a message in err. */
int history_read_file(
    struct history *h, const char *path, char *err, size_t errlen);

/* What the checker found. */
struct check_report {
	int    clients;        /* distinct client ids */
	size_t ops;            /* operations in the history */
	size_t reads;          /* GetProduct calls */
	size_t reads_checked;  /* reads that returned a product */
	size_t updates;        /* UpdateStock calls */
	size_t ok;             /* updates acknowledged OK */
	size_t conflicts;      /* updates answered ABORTED */
	size_t indeterminate;  /* updates with any other outcome, or none */
	size_t indet_applied;  /* indeterminate updates the final state
	                        * shows applied */
	size_t adjusts;        /* AdjustStock calls */
	size_t reserves;       /* ReserveStock calls (groups) */
	size_t refused;        /* adjust/reserve calls refused (nothing
	                        * applied: FAILED_PRECONDITION, ...) */
	size_t other_reads;    /* reads that failed (no information) */
	size_t finals_checked; /* final-state reads checked */
	size_t violations;     /* how many checks failed */
	size_t stray_reads;    /* of them: reads that showed a stock the
	                        * serial history does not have at that
	                        * version (a commit later discarded, say) */
	size_t stray_product_violations; /* violations on the products of
	                                  * stray reads, those included */
	char first[512];                 /* the first violation, "" if none */
};

/* Options of the check. */
struct check_opts {
	int require_final; /* a product with no final read is a violation */
};

/* Check h against the model of a versioned register per product, or,
 * for a product that adjustments or reservations touch, of a versioned
 * counter (see checker.c).  Pure: reads h only.  Returns 0 if the history is
 * valid, -1 if not (r->first says why); r gets the figures either way. */
int history_check(const struct history *h, const struct check_opts *opts,
    struct check_report *r);

/* Print the figures and the verdict, one "key: value" per line. */
void history_report_print(
    FILE *f, const char *title, const struct check_report *r);

#endif /* INVENTORY_HISTORY_H */
