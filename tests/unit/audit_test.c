/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for the audit trail's JSON file (src/ops/audit.c): each
 * record one line, one object with its members in the documented order
 * (ts, caller, method, product, version_old, version_new, stock_old,
 * stock_new, request_id), the numbers as numbers; strings escaped by
 * jansson even though upstream validation should leave nothing to
 * escape, invalid UTF-8 as U+FFFD; a record too big for the stack's line
 * still written whole.  (security.auth checks a real server's record.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "ops/audit.h"

/* The file's lines, parsed; *n gets how many. */
static json_t *
read_records(const char *path, size_t *n)
{
	FILE   *f    = fopen(path, "r");
	json_t *all  = json_array();
	char   *line = NULL;
	size_t  cap  = 0;
	ssize_t len;

	assert_non_null(f);
	while ((len = getline(&line, &cap, f)) > 0) {
		json_t *o;

		assert_int_equal(line[len - 1], '\n');
		o = json_loadb(line, (size_t)len, 0, NULL);
		assert_non_null(o);
		assert_true(json_is_object(o));
		json_array_append_new(all, o);
	}
	free(line);
	fclose(f);
	*n = json_array_size(all);
	return all;
}

static void
test_record(void **state)
{
	static const char *const order[] = { "ts", "caller", "method",
		"product", "version_old", "version_new", "stock_old",
		"stock_new", "request_id" };
	char                     path[]  = "/tmp/audit_test.XXXXXX", err[256];
	char                     big[301];
	struct product           p;
	json_t                  *all, *o;
	size_t                   n, k = 0;
	int                      fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(audit_open(path, false, err, sizeof(err)), 0);
	memset(&p, 0, sizeof(p));
	strcpy(p.id, "3f2504e0-4f89-11d3-9a0c-0305e82c3301");
	p.version    = 3;
	p.prev_stock = 10;
	p.stock      = 5;
	audit_record("w\"r\\i\x01t\xff", "AdjustStock", &p, "r-1");
	audit_record("", "AdjustStock", &p, NULL);
	/* 300 control characters: 1800 bytes escaped, past the stack's
	 * 1024-byte line. */
	memset(big, '\x02', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	audit_record(big, "UpdateStock", &p, "r-3");
	audit_close();

	all = read_records(path, &n);
	assert_int_equal(n, 3);
	o = json_array_get(all, 0);
	for (void *it = json_object_iter(o); it != NULL;
	     it       = json_object_iter_next(o, it))
                assert_string_equal(json_object_iter_key(it), order[k++]);
	assert_int_equal(k, sizeof(order) / sizeof(order[0]));
	assert_string_equal(json_string_value(json_object_get(o, "caller")),
	    "w\"r\\i\x01t\xef\xbf\xbd");
	assert_string_equal(
	    json_string_value(json_object_get(o, "product")), p.id);
	assert_int_equal(
	    json_integer_value(json_object_get(o, "version_old")), 2);
	assert_int_equal(
	    json_integer_value(json_object_get(o, "version_new")), 3);
	assert_int_equal(
	    json_integer_value(json_object_get(o, "stock_old")), 10);
	assert_int_equal(
	    json_integer_value(json_object_get(o, "stock_new")), 5);
	assert_string_equal(
	    json_string_value(json_object_get(o, "request_id")), "r-1");
	assert_true(strlen(json_string_value(json_object_get(o, "ts"))) ==
	            strlen("2026-12-05T23:45:41.123456Z"));
	o = json_array_get(all, 1);
	assert_string_equal(
	    json_string_value(json_object_get(o, "caller")), "-");
	assert_string_equal(
	    json_string_value(json_object_get(o, "request_id")), "-");
	o = json_array_get(all, 2);
	assert_string_equal(
	    json_string_value(json_object_get(o, "caller")), big);
	assert_string_equal(
	    json_string_value(json_object_get(o, "request_id")), "r-3");
	json_decref(all);
	unlink(path);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
