/*
 * Unit tests of libinventory that need no server: inventory_code_name()
 * for every code (and "UNKNOWN" outside the enum), NULL-safe destructors,
 * malformed URL lists, and calls to a server that is not there (they must
 * fail with UNAVAILABLE or DEADLINE_EXCEEDED within the timeout, not hang
 * and not crash), also when many threads share one coalescing handle
 * whose frames are all stuck, and when the handle is closed right after
 * (no leak: LSan and valgrind watch).  Handle options and
 * BatchGetProducts arguments are checked before anything is sent.  With no
 * server, inventory_update_with_retry2() stops when the handle's retry
 * budget is spent, at max_attempts with throttling off, and at its overall
 * deadline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
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

static void
nobody_url(char *url, size_t len)
{
	snprintf(
	    url, len, "ipc:///tmp/inventory-nobody-%ld.sock", (long)getpid());
}

static void
test_open_opts(void **state)
{
	inventory_client     *c = NULL;
	inventory_client_opts o;
	char                  url[128];

	(void)state;
	nobody_url(url, sizeof(url));
	memset(&o, 0, sizeof(o));
	assert_int_equal(
	    inventory_client_open_opts(&c, url, NULL), INVENTORY_OK);
	inventory_client_close(c);
	c = NULL;
	assert_int_equal(
	    inventory_client_open_opts(&c, url, &o), INVENTORY_OK);
	inventory_client_close(c);
	c             = NULL;
	o.connections = 4;
	o.no_coalesce = 1;
	o.max_batch   = 5000; /* capped, not refused */
	o.max_frames  = 1;
	assert_int_equal(
	    inventory_client_open_opts(&c, url, &o), INVENTORY_OK);
	inventory_client_close(c);
	c = NULL;
	memset(&o, 0, sizeof(o));
	o.connections = -1;
	assert_int_equal(inventory_client_open_opts(&c, url, &o),
	    INVENTORY_INVALID_ARGUMENT);
	o.connections = 65;
	assert_int_equal(inventory_client_open_opts(&c, url, &o),
	    INVENTORY_INVALID_ARGUMENT);
	memset(&o, 0, sizeof(o));
	o.max_batch = -1;
	assert_int_equal(inventory_client_open_opts(&c, url, &o),
	    INVENTORY_INVALID_ARGUMENT);
	memset(&o, 0, sizeof(o));
	o.max_frames = -2;
	assert_int_equal(inventory_client_open_opts(&c, url, &o),
	    INVENTORY_INVALID_ARGUMENT);
	assert_null(c);
	assert_int_equal(inventory_client_open_opts(&c, "", &o),
	    INVENTORY_INVALID_ARGUMENT);
}

static void
test_batch_get_args(void **state)
{
	inventory_client  *c = NULL;
	inventory_product *p = NULL;
	inventory_status   st;
	const char        *ids[2] = { "x", NULL };
	char               url[128];

	(void)state;
	memset(&st, 0, sizeof(st));
	nobody_url(url, sizeof(url));
	assert_int_equal(inventory_client_open(&c, url), INVENTORY_OK);
	assert_int_equal(
	    inventory_batch_get_products(c, ids, 0, NULL, &p, &st),
	    INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(st.code, INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(
	    inventory_batch_get_products(c, ids, 1001, NULL, &p, &st),
	    INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(
	    inventory_batch_get_products(c, NULL, 1, NULL, &p, &st),
	    INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(
	    inventory_batch_get_products(c, ids, 2, NULL, &p, &st),
	    INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(
	    inventory_batch_get_products(c, ids, 1, NULL, NULL, &st),
	    INVENTORY_INVALID_ARGUMENT);
	assert_null(p);
	inventory_status_fini(&st);
	inventory_client_close(c);
}

struct stuck_arg {
	inventory_client *c;
	inventory_code    rv;
	long long         ms;
};

static void *
stuck_call(void *arg)
{
	struct stuck_arg   *a    = arg;
	inventory_call_opts opts = { .timeout_ms = 200 };
	inventory_product  *p    = NULL;
	inventory_status    st;
	struct timespec     t0, t1;
	char                id[37];

	memset(&st, 0, sizeof(st));
	testenv_uuid(id);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	a->rv = inventory_get_product(a->c, id, &opts, &p, &st);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	a->ms = (t1.tv_sec - t0.tv_sec) * 1000LL +
	        (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (a->rv != st.code || p != NULL)
		a->rv = INVENTORY_INTERNAL;
	inventory_product_free(p);
	inventory_status_fini(&st);
	return NULL;
}

/* 16 callers on one handle with no server: with two frame slots most of
 * them queue; every one must come back on its own deadline. */
static void
no_server_many(int no_coalesce)
{
	inventory_client_opts o = { .max_frames = 2,
		.no_coalesce                    = no_coalesce };
	inventory_client     *c = NULL;
	struct stuck_arg      a[16];
	pthread_t             th[16];
	char                  url[128];

	nobody_url(url, sizeof(url));
	assert_int_equal(
	    inventory_client_open_opts(&c, url, &o), INVENTORY_OK);
	for (int i = 0; i < 16; i++) {
		a[i].c = c;
		assert_int_equal(
		    pthread_create(&th[i], NULL, stuck_call, &a[i]), 0);
	}
	for (int i = 0; i < 16; i++) {
		pthread_join(th[i], NULL);
		if (a[i].rv != INVENTORY_UNAVAILABLE &&
		    a[i].rv != INVENTORY_DEADLINE_EXCEEDED)
			fail_msg(
			    "caller %d: %s", i, inventory_code_name(a[i].rv));
		if (a[i].ms > 2000)
			fail_msg("caller %d took %lld ms", i, a[i].ms);
	}
	/* Frames of callers that gave up may still be pending. */
	inventory_client_close(c);
}

static void
test_no_server_many(void **state)
{
	(void)state;
	no_server_many(0);
	no_server_many(1);
}

static inventory_code
minus_one(const inventory_product *current, int64_t *new_stock, void *arg)
{
	(void)arg;
	*new_stock = current->stock - 1;
	return INVENTORY_OK;
}

/* One inventory_update_with_retry2() on c with no server; *ms its time. */
static inventory_code
retry_nobody(inventory_client *c, const inventory_retry_opts *ro,
    inventory_retry_info *info, inventory_status *st, long long *ms)
{
	inventory_product *p = NULL;
	struct timespec    t0, t1;
	char               id[37];
	inventory_code     rv;

	testenv_uuid(id);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rv = inventory_update_with_retry2(
	    c, id, minus_one, NULL, ro, &p, st, info);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	*ms = (t1.tv_sec - t0.tv_sec) * 1000LL +
	      (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_null(p);
	assert_int_equal(st->code, rv);
	if (rv != INVENTORY_UNAVAILABLE && rv != INVENTORY_DEADLINE_EXCEEDED)
		fail_msg("retry with no server: %s (%s)",
		    inventory_code_name(rv), st->message);
	return rv;
}

/* With no server every read fails UNAVAILABLE: the handle's budget (10
 * tokens, retries while more than 5 are left) allows 5 reads in all for
 * the first helper call although max_attempts is 100, and then only the
 * first attempt of each later call; with throttling off max_attempts
 * applies; a handle's own budget is its own. */
static void
test_retry_budget_no_server(void **state)
{
	inventory_retry_opts  ro = { .max_attempts = 100,
		 .initial_backoff_ms               = 1,
		 .max_backoff_ms                   = 2,
		 .timeout_ms                       = 30 };
	inventory_client_opts o  = { 0 };
	inventory_client     *c  = NULL;
	inventory_retry_info  info;
	inventory_status      st = { 0 };
	char                  url[128];
	long long             ms;

	(void)state;
	nobody_url(url, sizeof(url));
	assert_int_equal(inventory_client_open(&c, url), INVENTORY_OK);
	retry_nobody(c, &ro, &info, &st, &ms);
	assert_int_equal(info.reads, 5);
	assert_int_equal(info.attempts, 0);
	assert_true(info.throttled);
	assert_false(info.outcome_unknown);
	assert_string_equal(info.request_id, "");
	assert_non_null(strstr(st.message, "retry budget"));
	for (int i = 0; i < 3; i++) {
		retry_nobody(c, &ro, &info, &st, &ms);
		assert_int_equal(info.reads, 1);
		assert_true(info.throttled);
	}
	inventory_client_close(c);

	/* A smaller bucket: 4 tokens, retries while more than 2. */
	o.retry_max_tokens = 4;
	assert_int_equal(
	    inventory_client_open_opts(&c, url, &o), INVENTORY_OK);
	retry_nobody(c, &ro, &info, &st, &ms);
	assert_int_equal(info.reads, 2);
	inventory_client_close(c);

	/* Throttling off: max_attempts is the only bound. */
	o.retry_max_tokens  = 0;
	o.no_retry_throttle = 1;
	ro.max_attempts     = 7;
	assert_int_equal(
	    inventory_client_open_opts(&c, url, &o), INVENTORY_OK);
	retry_nobody(c, &ro, &info, &st, &ms);
	assert_int_equal(info.reads, 7);
	assert_false(info.throttled);
	assert_non_null(strstr(st.message, "gave up after 7 attempts"));

	/* The overall deadline bounds the helper whatever max_attempts. */
	ro.max_attempts = 1000;
	ro.deadline_ms  = 200;
	retry_nobody(c, &ro, &info, &st, &ms);
	assert_true(info.reads >= 2);
	if (ms > 200 + 150)
		fail_msg("deadline 200 ms, took %lld ms", ms);
	assert_non_null(strstr(st.message, "overall deadline"));
	inventory_status_fini(&st);
	inventory_client_close(c);
}

static void
test_retry_args(void **state)
{
	inventory_client_opts o  = { .retry_max_tokens = -1 };
	inventory_retry_opts  ro = { .request_id = "" };
	inventory_client     *c  = NULL;
	inventory_product    *p  = NULL;
	inventory_retry_info  info;
	inventory_status      st = { 0 };
	char                  url[128];
	char                  longid[INVENTORY_REQUEST_ID_MAX + 2];

	(void)state;
	nobody_url(url, sizeof(url));
	assert_int_equal(inventory_client_open_opts(&c, url, &o),
	    INVENTORY_INVALID_ARGUMENT);
	o.retry_max_tokens  = 0;
	o.retry_token_milli = -1;
	assert_int_equal(inventory_client_open_opts(&c, url, &o),
	    INVENTORY_INVALID_ARGUMENT);
	assert_null(c);
	assert_int_equal(inventory_client_open(&c, url), INVENTORY_OK);
	assert_int_equal(inventory_update_with_retry2(
	                     c, "x", minus_one, NULL, &ro, &p, &st, &info),
	    INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(info.reads, 0);
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	ro.request_id              = longid;
	assert_int_equal(inventory_update_with_retry2(
	                     c, "x", minus_one, NULL, &ro, &p, &st, &info),
	    INVENTORY_INVALID_ARGUMENT);
	ro.request_id  = NULL;
	ro.deadline_ms = -1;
	assert_int_equal(inventory_update_with_retry2(
	                     c, "x", minus_one, NULL, &ro, &p, &st, NULL),
	    INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(st.code, INVENTORY_INVALID_ARGUMENT);
	assert_null(p);
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
		cmocka_unit_test(test_open_opts),
		cmocka_unit_test(test_batch_get_args),
		cmocka_unit_test(test_no_server_many),
		cmocka_unit_test(test_retry_budget_no_server),
		cmocka_unit_test(test_retry_args),
	};

	return cmocka_run_group_tests_name("client_code", tests, NULL, NULL);
}
