/* SPDX-License-Identifier: MIT */
/*
 * async.api: libinventory's asynchronous calls without an adapter: a
 * plain poll() loop on inventory_client_fd() (libpq's way), THREAD mode
 * (callbacks on the library's threads starting the next call),
 * cancellation, a deadline spent waiting in the client, close with calls
 * pending, and the read-modify-write state machine under contention and
 * cancelled.  Against the fixtures' server, and an address nobody
 * listens on where a call must stay unsent.
 */
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "contract.h"
#include "drive.h"

/* Nobody listens there: calls stay queued, never sent. */
#define NOBODY "tcp://127.0.0.1:1"

static inventory_client *
open_mode(const char *url, int completion)
{
	inventory_client_opts o = { .completion = completion };
	inventory_client     *c = NULL;

	assert_int_equal(inventory_client_open_opts(&c, url, &o), 0);
	inventory_client_set_timeout(c, 60000);
	return c;
}

/* Run c's completions until *flag is set (bounded by the watchdog). */
static void
poll_until(inventory_client *c, const volatile int *flag)
{
	struct pollfd pfd = { .fd = inventory_client_fd(c), .events = POLLIN };

	while (!*flag) {
		if (poll(&pfd, 1, 1000) > 0)
			(void)inventory_client_process(c);
	}
}

static void
poll_finished(struct drive *d)
{
	*(int *)d->loop = 1;
}

static void
test_version(void **state)
{
	(void)state;
	assert_int_equal(inventory_version(), INVENTORY_CLIENT_VERSION);
}

static void
test_poll_loop(void **state)
{
	inventory_client  *c        = open_mode(testenv_server(), 1);
	inventory_product *p        = NULL;
	inventory_status   st       = { 0 };
	volatile int       finished = 0;
	struct drive       d        = { .calls = 2000, .window = 200 };

	(void)state;
	assert_code(inventory_create_product(
	                c, "async-poll", 0, "1.00", NULL, &p, &st),
	    INVENTORY_OK, &st);
	d.client   = c;
	d.id       = p->id;
	d.loop     = (void *)&finished;
	d.finished = poll_finished;
	drive_start(&d);
	poll_until(c, &finished);
	drive_report(&d, "poll");
	assert_int_equal(d.ok, d.calls);
	assert_int_equal(d.wrong_thread, 0);
	assert_true(d.max_pending >= (size_t)d.window);
	inventory_product_free(p);
	inventory_client_close(c);
}

/* THREAD mode: callbacks on nng's threads start the next call. */
struct threaded {
	inventory_client *c;
	const char       *id;
	pthread_mutex_t   mtx;
	pthread_cond_t    cv;
	long              calls, started, done, ok, on_main;
	pthread_t         main;
};

static void threaded_done(inventory_result *r, void *arg);

static void
threaded_start(struct threaded *t)
{
	/* Under t->mtx: the count is shared by the callbacks' threads. */
	t->started++;
	if (inventory_get_product_async(
	        t->c, t->id, NULL, threaded_done, t, NULL) != INVENTORY_OK)
		t->done++;
}

static void
threaded_done(inventory_result *r, void *arg)
{
	struct threaded *t = arg;

	pthread_mutex_lock(&t->mtx);
	if (r->code == INVENTORY_OK && r->product != NULL)
		t->ok++;
	if (pthread_equal(pthread_self(), t->main))
		t->on_main++;
	t->done++;
	if (t->started < t->calls)
		threaded_start(t);
	if (t->done == t->calls)
		pthread_cond_signal(&t->cv);
	pthread_mutex_unlock(&t->mtx);
}

static void
test_thread_mode(void **state)
{
	struct threaded    t  = { .calls = 2000 };
	inventory_product *p  = NULL;
	inventory_status   st = { 0 };

	(void)state;
	t.c    = open_mode(testenv_server(), INVENTORY_COMPLETE_THREAD);
	t.main = pthread_self();
	assert_int_equal(inventory_client_fd(t.c), -1);
	assert_int_equal(inventory_client_process(t.c), 0);
	assert_code(inventory_create_product(
	                t.c, "async-thread", 0, "1.00", NULL, &p, &st),
	    INVENTORY_OK, &st);
	t.id = p->id;
	pthread_mutex_init(&t.mtx, NULL);
	pthread_cond_init(&t.cv, NULL);
	pthread_mutex_lock(&t.mtx);
	for (int i = 0; i < 200; i++)
		threaded_start(&t);
	while (t.done < t.calls)
		pthread_cond_wait(&t.cv, &t.mtx);
	pthread_mutex_unlock(&t.mtx);
	printf("thread mode: %ld calls, %ld OK, %ld on the main thread\n",
	    t.done, t.ok, t.on_main);
	assert_int_equal(t.ok, t.calls);
	assert_int_equal(t.on_main, 0);
	inventory_client_close(t.c);
	pthread_cond_destroy(&t.cv);
	pthread_mutex_destroy(&t.mtx);
	inventory_product_free(p);
}

/* One callback's outcome, for the tests below. */
struct outcome {
	volatile int   done;
	inventory_code code;
	char           message[256];
	long long      ms; /* from start to callback */
	long long      t0;
	int            outcome_unknown;
	int            attempts;
};

static void
outcome_cb(inventory_result *r, void *arg)
{
	struct outcome *o = arg;

	o->code = r->code;
	snprintf(o->message, sizeof(o->message), "%s", r->status.message);
	o->ms              = (testenv_now_us() - o->t0) / 1000;
	o->outcome_unknown = r->info.outcome_unknown;
	o->attempts        = r->info.attempts;
	o->done            = 1;
}

static void
test_cancel(void **state)
{
	inventory_client *c  = open_mode(NOBODY, INVENTORY_COMPLETE_LOOP);
	struct outcome    o  = { .t0 = testenv_now_us() };
	inventory_call_id id = 0;
	char              uuid[40];

	(void)state;
	testenv_uuid(uuid);
	assert_int_equal(
	    inventory_get_product_async(c, uuid, NULL, outcome_cb, &o, &id),
	    INVENTORY_OK);
	assert_true(id != 0);
	assert_int_equal(inventory_client_pending(c), 1);
	assert_int_equal(inventory_cancel(c, id), INVENTORY_OK);
	/* Queued, not run yet: LOOP mode runs it from the loop. */
	assert_false(o.done);
	poll_until(c, &o.done);
	assert_int_equal(o.code, INVENTORY_CANCELLED);
	assert_int_equal(inventory_cancel(c, id), INVENTORY_NOT_FOUND);
	assert_int_equal(inventory_cancel(c, id + 1), INVENTORY_NOT_FOUND);
	assert_int_equal(inventory_client_pending(c), 0);
	inventory_client_close(c);
}

static void
test_deadline_while_queued(void **state)
{
	inventory_client         *c  = open_mode(NOBODY, 1);
	const inventory_call_opts co = { .timeout_ms = 300 };
	struct outcome            o  = { .t0 = testenv_now_us() };
	char                      uuid[40];

	(void)state;
	testenv_uuid(uuid);
	assert_int_equal(
	    inventory_get_product_async(c, uuid, &co, outcome_cb, &o, NULL),
	    INVENTORY_OK);
	poll_until(c, &o.done);
	printf("deadline while queued: %s after %lld ms: %s\n",
	    inventory_code_name(o.code), o.ms, o.message);
	assert_int_equal(o.code, INVENTORY_UNAVAILABLE);
	assert_true(o.ms >= 250); /* not before its deadline */
	inventory_client_close(c);
}

static void
count_cb(inventory_result *r, void *arg)
{
	long *n = arg;

	if (r->code == INVENTORY_CANCELLED)
		__atomic_add_fetch(n, 1, __ATOMIC_RELAXED);
}

static void
test_close_cancels(void **state)
{
	long n = 0;
	char uuid[40];

	(void)state;
	testenv_uuid(uuid);
	for (int mode = 0; mode < 2; mode++) {
		inventory_client *c = open_mode(NOBODY, mode);

		n = 0;
		for (int i = 0; i < 100; i++)
			assert_int_equal(inventory_get_product_async(c, uuid,
			                     NULL, count_cb, &n, NULL),
			    INVENTORY_OK);
		assert_int_equal(inventory_client_pending(c), 100);
		inventory_client_close(c);
		/* Every callback ran, in close, with CANCELLED. */
		assert_int_equal(n, 100);
	}
}

static inventory_code
plus_one(const inventory_product *cur, int64_t *new_stock, void *arg)
{
	(void)arg;
	*new_stock = cur->stock + 1;
	return INVENTORY_OK;
}

static void
test_retry_contended(void **state)
{
	enum { N = 50 };
	inventory_client          *c  = open_mode(testenv_server(), 1);
	const inventory_retry_opts ro = { .max_attempts = 1000,
		.deadline_ms                            = 50000 };
	struct outcome             o[N];
	inventory_product         *p = NULL, *after = NULL;
	inventory_status           st             = { 0 };
	volatile int               done           = 0;
	int                        total_attempts = 0;

	(void)state;
	memset(o, 0, sizeof(o));
	assert_code(inventory_create_product(
	                c, "async-retry", 0, "1.00", NULL, &p, &st),
	    INVENTORY_OK, &st);
	for (int i = 0; i < N; i++) {
		o[i].t0 = testenv_now_us();
		assert_int_equal(
		    inventory_update_with_retry_async(c, p->id, plus_one, NULL,
		        &ro, outcome_cb, &o[i], NULL),
		    INVENTORY_OK);
	}
	while (!done) {
		struct pollfd pfd = { .fd = inventory_client_fd(c),
			.events           = POLLIN };

		if (poll(&pfd, 1, 1000) > 0)
			(void)inventory_client_process(c);
		done = 1;
		for (int i = 0; i < N; i++)
			done &= o[i].done;
	}
	for (int i = 0; i < N; i++) {
		if (o[i].code != INVENTORY_OK)
			fail_msg("retry %d: %s: %s", i,
			    inventory_code_name(o[i].code), o[i].message);
		total_attempts += o[i].attempts;
	}
	assert_code(inventory_get_product(c, p->id, NULL, &after, &st),
	    INVENTORY_OK, &st);
	printf(
	    "%d contended increments: %d writes in all\n", N, total_attempts);
	assert_int_equal(after->stock, N);
	assert_int_equal(after->version, 1 + N);
	assert_true(total_attempts >= N);
	inventory_product_free(after);
	inventory_product_free(p);
	inventory_client_close(c);
}

static void
test_retry_cancel(void **state)
{
	inventory_client          *c  = open_mode(NOBODY, 1);
	const inventory_retry_opts ro = { .timeout_ms = 60000 };
	struct outcome             o  = { .t0 = testenv_now_us() };
	inventory_call_id          id = 0;
	char                       uuid[40];

	(void)state;
	testenv_uuid(uuid);
	assert_int_equal(inventory_update_with_retry_async(c, uuid, plus_one,
	                     NULL, &ro, outcome_cb, &o, &id),
	    INVENTORY_OK);
	assert_int_equal(inventory_cancel(c, id), INVENTORY_OK);
	poll_until(c, &o.done);
	assert_int_equal(o.code, INVENTORY_CANCELLED);
	assert_int_equal(o.attempts, 0); /* it was still reading */
	assert_int_equal(inventory_cancel(c, id), INVENTORY_NOT_FOUND);
	assert_int_equal(inventory_client_pending(c), 0);
	inventory_client_close(c);
}

static void
test_bad_starts(void **state)
{
	inventory_client *c = open_mode(NOBODY, 1);
	struct outcome    o = { 0 };

	(void)state;
	/* A refused start never calls back. */
	assert_int_equal(
	    inventory_get_product_async(c, NULL, NULL, outcome_cb, &o, NULL),
	    INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(
	    inventory_get_product_async(c, "x", NULL, NULL, NULL, NULL),
	    INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(inventory_adjust_stock_async(c, "not-a-uuid", 1, 0,
	                     NULL, outcome_cb, &o, NULL),
	    INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(inventory_update_with_retry_async(
	                     c, "x", NULL, NULL, NULL, outcome_cb, &o, NULL),
	    INVENTORY_INVALID_ARGUMENT);
	assert_int_equal(inventory_client_pending(c), 0);
	assert_int_equal(inventory_client_process(c), 0);
	assert_false(o.done);
	inventory_client_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_version),
		cmocka_unit_test(test_poll_loop),
		cmocka_unit_test(test_thread_mode),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_deadline_while_queued),
		cmocka_unit_test(test_close_cancels),
		cmocka_unit_test(test_retry_contended),
		cmocka_unit_test(test_retry_cancel),
		cmocka_unit_test(test_bad_starts),
	};

	return cmocka_run_group_tests_name("async.api", tests, NULL, NULL);
}
