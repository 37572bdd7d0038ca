/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of libinventory that need no server: inventory_code_name()
 * for every code (and "UNKNOWN" outside the enum), NULL-safe destructors,
 * malformed URL lists, and calls to a server that is not there (they must
 * fail with UNAVAILABLE or DEADLINE_EXCEEDED within the timeout, not hang
 * and not crash), also when many threads share one coalescing handle
 * whose frames are all stuck, and when the handle is closed right after
 * (no leak: LSan and valgrind watch).  Handle options and
 * BatchGetProducts arguments are checked before anything is sent.  With no
 * server, inventory_update_with_retry() stops when the handle's retry
 * budget is spent, at max_attempts with throttling off, and at its overall
 * deadline.  AdjustStock, ReserveStock and ListProducts check their
 * arguments before sending and name the bad field;
 * inventory_reserve_with_retry() resends an unknown outcome with the
 * caller's request id, never a new one.
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

/* Which codes leave a write's outcome unknown: exactly those without an
 * answer that decides it (the bench's accounting and callers' resends
 * depend on it). */
static void
test_outcome_unknown(void **state)
{
	static const inventory_code unknown[] = { INVENTORY_CANCELLED,
		INVENTORY_UNKNOWN, INVENTORY_DEADLINE_EXCEEDED,
		INVENTORY_INTERNAL, INVENTORY_UNAVAILABLE, INVENTORY_DATA_LOSS,
		(inventory_code)99 };
	static const inventory_code decided[] = { INVENTORY_OK,
		INVENTORY_INVALID_ARGUMENT, INVENTORY_NOT_FOUND,
		INVENTORY_ALREADY_EXISTS, INVENTORY_PERMISSION_DENIED,
		INVENTORY_RESOURCE_EXHAUSTED, INVENTORY_FAILED_PRECONDITION,
		INVENTORY_ABORTED, INVENTORY_OUT_OF_RANGE,
		INVENTORY_UNIMPLEMENTED, INVENTORY_UNAUTHENTICATED };

	(void)state;
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		assert_int_equal(
		    inventory_code_outcome_unknown(unknown[i]), 1);
	for (size_t i = 0; i < sizeof(decided) / sizeof(decided[0]); i++)
		assert_int_equal(
		    inventory_code_outcome_unknown(decided[i]), 0);
	assert_int_equal(INVENTORY_STOCK_MAX, 2147483647);
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

#define UUID1 "123e4567-e89b-12d3-a456-426614174000"
#define UUID2 "00000000-0000-4000-8000-000000000002"

/* Expect INVALID_ARGUMENT from the call rv with a message naming what. */
static void
expect_invalid(inventory_code rv, const inventory_status *st, const char *what)
{
	assert_int_equal(rv, INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(st->code, INVENTORY_INVALID_ARGUMENT);
	if (strstr(st->message, what) == NULL)
		fail_msg("message '%s' does not name '%s'", st->message, what);
}

static void
test_new_call_args(void **state)
{
	inventory_client      *c = NULL;
	inventory_product     *p = NULL;
	inventory_status       st;
	inventory_item_error  *errs  = (void *)&st; /* must become NULL */
	size_t                 nerrs = 99;
	inventory_reserve_item it[2];
	inventory_reserve_item many[INVENTORY_RESERVE_MAX + 1];
	size_t                 n     = 7;
	char                  *token = NULL;
	char                   url[128];

	(void)state;
	memset(&st, 0, sizeof(st));
	nobody_url(url, sizeof(url));
	assert_int_equal(inventory_client_open(&c, url), INVENTORY_OK);

	/* AdjustStock */
	expect_invalid(
	    inventory_adjust_stock(c, "nope", 1, 0, NULL, &p, &st), &st, "id");
	expect_invalid(
	    inventory_adjust_stock(c, "123e4567-e89b-12d3-a456-42661417400g",
	        1, 0, NULL, &p, &st),
	    &st, "id");
	expect_invalid(
	    inventory_adjust_stock(c, NULL, 1, 0, NULL, &p, &st), &st, "id");
	expect_invalid(inventory_adjust_stock(c, UUID1, 0, 0, NULL, &p, &st),
	    &st, "delta");
	expect_invalid(inventory_adjust_stock(
	                   c, UUID1, INT64_C(2147483648), 0, NULL, &p, &st),
	    &st, "delta");
	expect_invalid(inventory_adjust_stock(
	                   c, UUID1, INT64_C(-2147483648), 0, NULL, &p, &st),
	    &st, "delta");
	expect_invalid(inventory_adjust_stock(c, UUID1, -1, -1, NULL, &p, &st),
	    &st, "expected_version");
	expect_invalid(inventory_adjust_stock(c, UUID1, 1, 0, NULL, NULL, &st),
	    &st, "out");

	/* ReserveStock */
	memset(it, 0, sizeof(it));
	it[0].id       = UUID1;
	it[0].quantity = 1;
	it[1].id       = UUID2;
	it[1].quantity = 2;
	expect_invalid(
	    inventory_reserve(c, it, 0, NULL, &p, &st, &errs, &nerrs), &st,
	    "items");
	assert_null(errs); /* reset even when nothing is sent */
	assert_int_equal(nerrs, 0);
	expect_invalid(
	    inventory_reserve(c, NULL, 1, NULL, &p, &st, &errs, &nerrs), &st,
	    "items");
	memset(many, 0, sizeof(many));
	for (size_t i = 0; i < INVENTORY_RESERVE_MAX + 1; i++) {
		many[i].id       = UUID1;
		many[i].quantity = 1;
	}
	expect_invalid(inventory_reserve(c, many, INVENTORY_RESERVE_MAX + 1,
	                   NULL, &p, &st, NULL, NULL),
	    &st, "items");
	it[1].id = "00000000-0000-4000-8000-00000000000"; /* 35 chars */
	expect_invalid(inventory_reserve(c, it, 2, NULL, &p, &st, NULL, NULL),
	    &st, "items[1].id");
	it[1].id       = UUID2;
	it[1].quantity = -1;
	expect_invalid(inventory_reserve(c, it, 2, NULL, &p, &st, NULL, NULL),
	    &st, "items[1].quantity");
	it[1].quantity = INT64_C(2147483648);
	expect_invalid(inventory_reserve(c, it, 2, NULL, &p, &st, NULL, NULL),
	    &st, "items[1].quantity");
	it[1].quantity         = 2; /* a take with a version: which? */
	it[1].expected_version = 1;
	expect_invalid(inventory_reserve(c, it, 2, NULL, &p, &st, NULL, NULL),
	    &st, "items[1]: a take");
	it[1].quantity         = 0; /* a set needs a version ... */
	it[1].expected_version = 0;
	expect_invalid(inventory_reserve(c, it, 2, NULL, &p, &st, NULL, NULL),
	    &st, "items[1].expected_version");
	it[1].expected_version = 3; /* ... and a stock in range */
	it[1].stock            = -1;
	expect_invalid(inventory_reserve(c, it, 2, NULL, &p, &st, NULL, NULL),
	    &st, "items[1].stock");
	it[1].stock = INT64_C(2147483648);
	expect_invalid(inventory_reserve(c, it, 2, NULL, &p, &st, NULL, NULL),
	    &st, "items[1].stock");
	it[1].stock = 0;
	it[1].id    = "123E4567-E89B-12D3-A456-426614174000"; /* = UUID1 */
	expect_invalid(inventory_reserve(c, it, 2, NULL, &p, &st, NULL, NULL),
	    &st, "repeats");
	it[1].id = UUID2;
	expect_invalid(inventory_reserve_with_retry(
	                   c, it, 0, NULL, NULL, NULL, &p, &st, NULL),
	    &st, "items");
	expect_invalid(inventory_reserve_with_retry(
	                   c, it, 2, NULL, NULL, NULL, NULL, &st, NULL),
	    &st, "out");

	/* ListProducts */
	expect_invalid(
	    inventory_list_products(c, -1, NULL, NULL, &p, &n, &token, &st),
	    &st, "page_size");
	expect_invalid(
	    inventory_list_products(c, 10, NULL, NULL, &p, NULL, &token, &st),
	    &st, "next_page_token");
	expect_invalid(
	    inventory_list_products(c, 10, NULL, NULL, &p, &n, NULL, &st), &st,
	    "next_page_token");
	assert_null(token);
	assert_null(p);
	inventory_status_fini(&st);
	inventory_client_close(c);
}

/* With no server, a reservation whose outcome stays unknown is resent
 * with the caller's request id every time, and reported as unknown. */
static void
test_reserve_retry_no_server(void **state)
{
	inventory_retry_opts   ro = { .max_attempts = 3,
		  .initial_backoff_ms               = 1,
		  .max_backoff_ms                   = 2,
		  .timeout_ms                       = 30,
		  .request_id                       = "reserve-rid-1" };
	inventory_client_opts  o  = { .no_retry_throttle = 1 };
	inventory_reserve_item it = { .id = UUID1, .quantity = 1 };
	inventory_client      *c  = NULL;
	inventory_product     *p  = NULL;
	inventory_retry_info   info;
	inventory_status       st = { 0 };
	inventory_code         rv;
	char                   url[128];

	(void)state;
	nobody_url(url, sizeof(url));
	assert_int_equal(
	    inventory_client_open_opts(&c, url, &o), INVENTORY_OK);
	rv = inventory_reserve_with_retry(
	    c, &it, 1, NULL, NULL, &ro, &p, &st, &info);
	assert_true(
	    rv == INVENTORY_UNAVAILABLE || rv == INVENTORY_DEADLINE_EXCEEDED);
	assert_int_equal(st.code, rv);
	assert_int_equal(info.attempts, 3);
	assert_true(info.outcome_unknown);
	assert_false(info.throttled);
	assert_string_equal(info.request_id, "reserve-rid-1");
	assert_int_equal(info.new_stock, 0);
	assert_non_null(strstr(st.message, "3 attempts"));
	assert_null(p);

	/* Without an id of the caller's, one fresh id for all resends. */
	ro.request_id = NULL;
	rv            = inventory_reserve_with_retry(
	               c, &it, 1, NULL, NULL, &ro, &p, &st, &info);
	assert_true(
	    rv == INVENTORY_UNAVAILABLE || rv == INVENTORY_DEADLINE_EXCEEDED);
	assert_int_equal(info.attempts, 3);
	assert_true(strlen(info.request_id) > 0);
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

/* One inventory_update_with_retry() on c with no server; *ms its time. */
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
	rv = inventory_update_with_retry(
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
	assert_int_equal(inventory_update_with_retry(
	                     c, "x", minus_one, NULL, &ro, &p, &st, &info),
	    INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(info.reads, 0);
	memset(longid, 'a', sizeof(longid) - 1);
	longid[sizeof(longid) - 1] = '\0';
	ro.request_id              = longid;
	assert_int_equal(inventory_update_with_retry(
	                     c, "x", minus_one, NULL, &ro, &p, &st, &info),
	    INVENTORY_INVALID_ARGUMENT);
	ro.request_id  = NULL;
	ro.deadline_ms = -1;
	assert_int_equal(inventory_update_with_retry(
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
		cmocka_unit_test(test_outcome_unknown),
		cmocka_unit_test(test_null_destructors),
		cmocka_unit_test(test_bad_urls),
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_open_opts),
		cmocka_unit_test(test_batch_get_args),
		cmocka_unit_test(test_no_server_many),
		cmocka_unit_test(test_retry_budget_no_server),
		cmocka_unit_test(test_retry_args),
		cmocka_unit_test(test_new_call_args),
		cmocka_unit_test(test_reserve_retry_no_server),
	};

	return cmocka_run_group_tests_name("client_code", tests, NULL, NULL);
}
