/*
 * Unit tests of libinventory that need no server: inventory_code_name()
 * for every code (and "UNKNOWN" outside the enum), NULL-safe destructors,
 * malformed URL lists, and calls to a server that is not there (they must
 * fail with UNAVAILABLE or DEADLINE_EXCEEDED within the timeout, not hang
 * and not crash).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <inventory/client.h>

#include "testenv.h"

static void
test_code_names(void **state)
{
	static const char *const names[] = { "OK", "CANCELLED", "UNKNOWN",
		"INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND",
		"ALREADY_EXISTS", "PERMISSION_DENIED", "RESOURCE_EXHAUSTED",
		"FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
		"UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS",
		"UNAUTHENTICATED" };

	(void)state;
	for (int i = 0; i <= 16; i++) {
		assert_string_equal(
		    inventory_code_name((inventory_code)i), names[i]);
	}
	assert_string_equal(
	    inventory_code_name((inventory_code)17), "UNKNOWN");
	assert_string_equal(
	    inventory_code_name((inventory_code)-1), "UNKNOWN");
	assert_string_equal(
	    inventory_code_name((inventory_code)1000), "UNKNOWN");
}

static void
test_null_destructors(void **state)
{
	inventory_status st;

	(void)state;
	inventory_product_free(NULL);
	inventory_status_fini(NULL);
	inventory_client_close(NULL);
	memset(&st, 0, sizeof(st));
	inventory_status_fini(&st);
	inventory_status_fini(&st);
	assert_null(st.current);
}

static void
test_bad_urls(void **state)
{
	static const char *const bad[] = { "", "not a url", "tcp://",
		"bogus://x:1", "," };

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		inventory_client *c  = NULL;
		inventory_code    rv = inventory_client_open(&c, bad[i]);

		if (rv != INVENTORY_INVALID_ARGUMENT) {
			inventory_client_close(c);
			fail_msg("open(\"%s\"): %s, want INVALID_ARGUMENT",
			    bad[i], inventory_code_name(rv));
		}
	}
}

static void
test_no_server(void **state)
{
	inventory_client   *c = NULL;
	inventory_product  *p = NULL;
	inventory_status    st;
	inventory_call_opts opts = { .timeout_ms = 300 };
	char                url[128];
	char                id[37];
	struct timespec     t0, t1;
	long long           ms;
	inventory_code      rv;

	(void)state;
	memset(&st, 0, sizeof(st));
	snprintf(url, sizeof(url), "ipc:///tmp/inventory-nobody-%ld.sock",
	    (long)getpid());
	assert_int_equal(inventory_client_open(&c, url), INVENTORY_OK);
	testenv_uuid(id);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rv = inventory_get_product(c, id, &opts, &p, &st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000LL +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (rv != INVENTORY_UNAVAILABLE && rv != INVENTORY_DEADLINE_EXCEEDED) {
		fail_msg("get with no server: %s (%s)",
		    inventory_code_name(rv), st.message);
	}
	assert_int_equal(st.code, rv);
	assert_null(p);
	assert_true(ms < 5000);
	inventory_status_fini(&st);
	inventory_client_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_code_names),
		cmocka_unit_test(test_null_destructors),
		cmocka_unit_test(test_bad_urls),
		cmocka_unit_test(test_no_server),
	};

	return cmocka_run_group_tests_name("client_code", tests, NULL, NULL);
}
