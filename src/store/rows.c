/* SPDX-License-Identifier: MIT */
/*
 * Reading values out of results (see store_internal.h): text, int8 and
 * boolean columns, and the seven product columns every product-returning
 * statement yields.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "base/log.h"
#include "store/store.h"
#include "store/store_internal.h"

int
get_text(const PGresult *res, int row, int col, char *dst, size_t cap)
{
	int len;

	if (PQgetisnull(res, row, col))
		return -1;
	len = PQgetlength(res, row, col);
	if (len < 0 || (size_t)len >= cap)
		return -1;
	memcpy(dst, PQgetvalue(res, row, col), (size_t)len);
	dst[len] = '\0';
	return 0;
}

int
get_i64(const PGresult *res, int row, int col, int64_t *out)
{
	const char *s;
	char       *end;
	long long   v;

	if (PQgetisnull(res, row, col))
		return -1;
	s     = PQgetvalue(res, row, col);
	errno = 0;
	v     = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = (int64_t)v;
	return 0;
}

bool
get_bool(const PGresult *res, int row, int col)
{
	return !PQgetisnull(res, row, col) &&
	       PQgetvalue(res, row, col)[0] == 't';
}

int
row_product(const PGresult *res, int row, int col, struct product *out)
{
	if (get_text(res, row, col + 0, out->id, sizeof(out->id)) != 0 ||
	    get_text(res, row, col + 1, out->name, sizeof(out->name)) != 0 ||
	    get_i64(res, row, col + 2, &out->stock) != 0 ||
	    get_text(res, row, col + 3, out->price, sizeof(out->price)) != 0 ||
	    get_i64(res, row, col + 4, &out->version) != 0 ||
	    get_i64(res, row, col + 5, &out->created_at_us) != 0 ||
	    get_i64(res, row, col + 6, &out->updated_at_us) != 0) {
		log_warn("store: malformed product row from the database");
		return -1;
	}
	out->prev_stock = -1;
	return 0;
}
