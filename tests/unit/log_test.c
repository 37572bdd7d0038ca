/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/base/log.c's rate limit: at most per_second lines of a
 * kind pass in one second, the rest are counted, and the first line of
 * the kind in a later second is preceded by one "suppressed K similar
 * lines" line (checked on stderr, redirected to a file).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"

static void
next_second(void)
{
	struct timespec a, b;

	clock_gettime(CLOCK_MONOTONIC, &a);
	do {
		usleep(10000);
		clock_gettime(CLOCK_MONOTONIC, &b);
	} while (b.tv_sec == a.tv_sec);
}

static void
test_limit(void **state)
{
	static struct log_limit lim    = LOG_LIMIT_INIT("conflict", 3);
	char                    path[] = "/tmp/inventory-log-test-XXXXXX";
	char                    text[4096];
	int                     fd, saved, passed = 0;
	ssize_t                 n;

	(void)state;
	assert_true((fd = mkstemp(path)) >= 0);
	saved = dup(STDERR_FILENO);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);

	next_second(); /* the burst fits in one second */
	for (int i = 0; i < 10; i++) {
		if (log_limit_allow(&lim, LOG_LEVEL_INFO)) {
			log_write(LOG_LEVEL_INFO, "conflict line %d", i);
			passed++;
		}
	}
	assert_int_equal(passed, 3);
	assert_int_equal(log_limit_pending(&lim), 7);
	next_second();
	assert_true(log_limit_allow(&lim, LOG_LEVEL_INFO));
	assert_int_equal(log_limit_pending(&lim), 0);
	/* The macro: arguments untouched when suppressed. */
	for (int i = 0, calls = 0; i < 5; i++) {
		log_at_limited(&lim, LOG_LEVEL_INFO, "x %d", ++calls);
		if (i == 4)
			assert_int_equal(calls, 2);
	}

	dup2(saved, STDERR_FILENO);
	close(saved);
	assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
	n = read(fd, text, sizeof(text) - 1);
	close(fd);
	unlink(path);
	assert_true(n > 0);
	text[n] = '\0';
	assert_non_null(strstr(text, "conflict line 2"));
	assert_null(strstr(text, "conflict line 3"));
	assert_non_null(strstr(text, "conflict: suppressed 7 similar lines"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_limit),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
