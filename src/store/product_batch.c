/* SPDX-License-Identifier: MIT */
/*
 * The batch forms of the product calls the executor uses
 * (store_product_get_many, store_product_update_many): one round trip for
 * many calls, each item decided exactly as its single call would be
 * (product.c decides a write that did not apply).
 *
 * Invariants:
 * - A batch either returns OK, with every item decided on its own, or a
 *   code for the whole batch with every item untouched and nothing
 *   committed.
 * - Array parameters are text array literals with every element quoted
 *   and escaped, so no input can change their shape.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/clock.h"
#include "base/log.h"
#include "store/product_internal.h"

/* ---- batches ---------------------------------------------------------- */

/* Bytes `s` takes in a text array literal, with its separator: quoted,
 * `"` and `\` escaped; NULL is an unquoted NULL. */
static size_t
array_elem_len(const char *s)
{
	size_t len = 3; /* two quotes and the separator */

	if (s == NULL)
		return sizeof("NULL,") - 1;
	for (; *s != '\0'; s++)
		len += *s == '"' || *s == '\\' ? 2 : 1;
	return len;
}

/* Append `s` and a separator at p (array_elem_len(s) bytes); returns the
 * end. */
static char *
array_put(char *p, const char *s)
{
	if (s == NULL) {
		memcpy(p, "NULL,", sizeof("NULL,") - 1);
		return p + sizeof("NULL,") - 1;
	}
	*p++ = '"';
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			*p++ = '\\';
		*p++ = *s;
	}
	*p++ = '"';
	*p++ = ',';
	return p;
}

/* Close an array literal whose elements end at p (at least one, so p[-1]
 * is a separator); returns the byte after its NUL. */
static char *
array_close(char *p)
{
	p[-1] = '}';
	*p    = '\0';
	return p + 1;
}

static int
read_cmp(const void *a, const void *b)
{
	const struct store_read *x = *(const struct store_read *const *)a;
	const struct store_read *y = *(const struct store_read *const *)b;

	return strcasecmp(x->id, y->id);
}

/* A batch past its deadline never reaches the database. */
static bool
expired(uint64_t deadline_ns)
{
	return deadline_ns != 0 && clock_now_ns() >= deadline_ns;
}

enum code
store_product_get_many(
    struct store *st, struct store_read *items, size_t n, uint64_t deadline_ns)
{
	struct store_read **sorted;
	const char         *params[1];
	struct product      row;
	PGresult           *res = NULL;
	char               *lit, *p;
	size_t              len, i, k;
	int                 rows, r;
	enum code           rv;

	if (n == 0)
		return CODE_OK;
	if (n > INT_MAX)
		return CODE_INVALID_ARGUMENT;
	if (expired(deadline_ns))
		return CODE_DEADLINE_EXCEEDED;
	if (!store_usable(st))
		return CODE_UNAVAILABLE;

	/* Sorted, so that each distinct id is sent once and the rows, which
	 * come back in the same order, are merged in one pass. */
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	if ((sorted = malloc(n * sizeof(*sorted))) == NULL)
		return CODE_INTERNAL;
	for (i = 0; i < n; i++)
		sorted[i] = &items[i];
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	qsort(sorted, n, sizeof(*sorted), read_cmp);

	len = 2;
	for (i = 0; i < n; i++) {
		if (i == 0 || read_cmp(&sorted[i - 1], &sorted[i]) != 0)
			len += array_elem_len(sorted[i]->id);
	}
	if ((lit = malloc(len)) == NULL) {
		rv = CODE_INTERNAL;
		goto out_free_sorted;
	}
	p    = lit;
	*p++ = '{';
	for (i = 0; i < n; i++) {
		if (i == 0 || read_cmp(&sorted[i - 1], &sorted[i]) != 0)
			p = array_put(p, sorted[i]->id);
	}
	(void)array_close(p);
	params[0] = lit;

	res = store_exec_until(st, &store_product_sql[STMT_PRODUCT_GET_MANY],
	    params, deadline_ns);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rv = store_fail(st, "product_get_many", res);
		goto out_clear;
	}
	/* Every row must parse before any item is touched. */
	rows = PQntuples(res);
	for (r = 0; r < rows; r++) {
		if (row_product(res, r, 0, &row) != 0) {
			rv = CODE_INTERNAL;
			goto out_clear;
		}
	}
	for (k = 0, r = 0; k < n; k++) {
		struct store_read *it = sorted[k];

		while (
		    r < rows && strcasecmp(PQgetvalue(res, r, 0), it->id) < 0)
			r++;
		if (r < rows &&
		    strcasecmp(PQgetvalue(res, r, 0), it->id) == 0) {
			(void)row_product(res, r, 0, &row);
			it->code    = CODE_OK;
			it->product = row; /* it->id may point here: same id */
		} else {
			it->code = CODE_NOT_FOUND;
		}
	}
	rv = CODE_OK;
out_clear:
	PQclear(res);
	free(lit);
out_free_sorted:
	free(sorted);
	return rv;
}

/* The five array literals of a write batch, in one allocation. */
struct write_params {
	char       *buf;       /* owns all five */
	const char *values[5]; /* ids, expected versions, stocks, request
	                          ids, callers */
};

static int
write_params_init(
    struct write_params *wp, const struct store_write *items, size_t n)
{
	size_t len = (size_t)5 * 2; /* braces, or the last separator and a
	                               NUL */
	char   num[INT64_TEXT_MAX];
	char  *p;
	size_t i;

	for (i = 0; i < n; i++) {
		len += array_elem_len(items[i].id) +
		       array_elem_len(items[i].request_id) +
		       array_elem_len(items[i].caller) +
		       (size_t)2 * (INT64_TEXT_MAX + 3);
	}
	if ((wp->buf = malloc(len)) == NULL)
		return -1;

	p             = wp->buf;
	wp->values[0] = p;
	*p++          = '{';
	for (i = 0; i < n; i++)
		p = array_put(p, items[i].id);
	p = array_close(p);

	wp->values[1] = p;
	*p++          = '{';
	for (i = 0; i < n; i++) {
		snprintf(
		    num, sizeof(num), "%" PRId64, items[i].expected_version);
		p = array_put(p, num);
	}
	p = array_close(p);

	wp->values[2] = p;
	*p++          = '{';
	for (i = 0; i < n; i++) {
		snprintf(num, sizeof(num), "%" PRId64, items[i].stock);
		p = array_put(p, num);
	}
	p = array_close(p);

	wp->values[3] = p;
	*p++          = '{';
	for (i = 0; i < n; i++)
		p = array_put(p, items[i].request_id);
	p = array_close(p);

	wp->values[4] = p;
	*p++          = '{';
	for (i = 0; i < n; i++)
		p = array_put(p, items[i].caller);
	(void)array_close(p);
	return 0;
}

/* Whether the lock statement's result (ids in order) holds id. */
static bool
row_locked(const PGresult *locked, const char *id)
{
	int lo = 0, hi = PQntuples(locked) - 1;

	while (lo <= hi) {
		int mid = lo + (hi - lo) / 2;
		int c   = strcmp(PQgetvalue(locked, mid, 0), id);

		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid - 1;
	}
	return false;
}

enum code
store_product_update_many(struct store *st, struct store_write *items,
    size_t n, uint64_t deadline_ns)
{
	struct write_params wp;
	struct store_call   calls[3];
	PGresult           *res[3];
	const PGresult     *upd, *look;
	int                 nupd, j;
	size_t              i;
	enum code           rv;

	if (n == 0)
		return CODE_OK;
	if (n > INT_MAX)
		return CODE_INVALID_ARGUMENT;
	if (expired(deadline_ns))
		return CODE_DEADLINE_EXCEEDED;
	if (!store_usable(st))
		return CODE_UNAVAILABLE;
	if (write_params_init(&wp, items, n) != 0)
		return CODE_INTERNAL;

	/* Lock, write, look up: one transaction, one round trip. */
	calls[0].stmt   = &store_product_sql[STMT_PRODUCT_LOCK_MANY];
	calls[0].params = wp.values;
	calls[1].stmt   = &store_product_sql[STMT_PRODUCT_UPDATE_MANY];
	calls[1].params = wp.values;
	calls[2].stmt   = &store_product_sql[STMT_PRODUCT_UPDATE_LOOKUP_MANY];
	calls[2].params = wp.values;
	rv              = store_pipeline(st, calls, 3, deadline_ns, res);
	if (rv != CODE_OK) {
		for (i = 0; st->unknown && i < n; i++)
			items[i].unknown = true;
		goto out_free;
	}

	upd  = res[1];
	look = res[2];
	nupd = PQntuples(upd);
	if (PQntuples(look) != (int)n) { /* NEVER: one row per item */
		log_warn("store: product_update_lookup_many: %d rows for %zu "
		         "items",
		    PQntuples(look), n);
	}

	/* Both results are in item order: merge the applied rows in. */
	for (i = 0, j = 0; i < n; i++) {
		struct store_write *it  = &items[i];
		int64_t             ord = 0;
		struct product      row;
		enum code           code;

		memset(&row, 0, sizeof(row));
		if (j < nupd && get_i64(upd, j, 0, &ord) == 0 &&
		    ord == (int64_t)i + 1) {
			j++;
			code = store_product_applied(upd, j - 1, 1, &row);
		} else if ((int)i >= PQntuples(look) ||
		           get_i64(look, (int)i, 0, &ord) != 0 ||
		           ord != (int64_t)i + 1) {
			code = CODE_INTERNAL; /* NEVER */
		} else if (!PQgetisnull(look, (int)i, 1) &&
		           !row_locked(res[0], it->id)) {
			/* Its row was busy in another transaction: what it
			 * sees now may be stale; alone, it waits its turn. */
			code = CODE_UNAVAILABLE;
		} else if (!store_product_update_decide(look, (int)i, 1,
		               it->request_id, it->stock, it->expected_version,
		               &row, &code)) {
			/* Undecidable here; alone, the item retries. */
			code        = CODE_UNAVAILABLE;
			row.version = 0;
		}
		it->code = code;
		if (row.version != 0)
			it->product = row;
	}
	if (j != nupd) /* NEVER: every applied row belongs to an item */
		log_warn("store: product_update_many: %d of %d applied rows "
		         "not matched to an item",
		    nupd - j, nupd);

	for (i = 0; i < 3; i++)
		PQclear(res[i]);
out_free:
	free(wp.buf);
	return rv;
}
