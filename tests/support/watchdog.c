/* SPDX-License-Identifier: MIT */
/*
 * Test watchdog: every test program ends within a bound, with a message
 * that says which phase hung, instead of eating ctest's TIMEOUT silently.
 *
 * Linked into every test executable (inventory_test() in
 * tests/CMakeLists.txt, and inventory-history).  At start-up a
 * constructor arms alarm() for the whole run: INVENTORY_TEST_TIMEOUT (set
 * by inventory_test() to the test's ctest TIMEOUT) minus a margin, so the
 * program reports its own hang a few seconds before ctest would kill it
 * without a word.  When exit() starts (main returned, or exit was called)
 * an atexit handler re-arms the alarm to INVENTORY_TEST_EXIT_S (30 s by
 * default): a hang in exit handlers, in nng's or libpq's teardown, or in
 * LeakSanitizer's check (it runs from an atexit handler registered before
 * ours, hence after ours) then fails fast.  testenv_watchdog() lets a test
 * bound a phase of its own, e.g. its group teardown.
 *
 * On expiry the handler writes one line to stderr and calls _exit(125):
 * async-signal-safe only (write, _exit), no stdio.  fork() clears a
 * pending alarm in the child, so servers a test spawns are not affected.
 */
#include <errno.h> /* program_invocation_short_name (_GNU_SOURCE) */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testenv.h"

#define WATCHDOG_MARGIN_S 5  /* before ctest's TIMEOUT */
#define WATCHDOG_EXIT_S   30 /* default bound on exit() */
#define WATCHDOG_STATUS   125

static char   watchdog_msg[256]; /* the line written on expiry */
static size_t watchdog_len;      /* its length */

static void
watchdog_fire(int sig)
{
	(void)sig;
	if (write(STDERR_FILENO, watchdog_msg, watchdog_len) < 0) {
		/* nothing left to do but exit */
	}
	_exit(WATCHDOG_STATUS);
}

/* Append s to the message (no stdio: also used before main). */
static void
msg_add(const char *s)
{
	size_t n = strlen(s);

	if (n > sizeof(watchdog_msg) - 1 - watchdog_len)
		n = sizeof(watchdog_msg) - 1 - watchdog_len;
	memcpy(watchdog_msg + watchdog_len, s, n);
	watchdog_len += n;
	watchdog_msg[watchdog_len] = '\0';
}

static void
msg_add_int(int v)
{
	char buf[16];
	int  i = (int)sizeof(buf) - 1;

	buf[i] = '\0';
	do {
		buf[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v > 0 && i > 0);
	msg_add(buf + i);
}

void
testenv_watchdog(int seconds, const char *what)
{
	struct sigaction sa;

	if (seconds <= 0) {
		alarm(0);
		return;
	}
	/* Disarm first: the handler must never see a half-written line. */
	alarm(0);
	watchdog_len    = 0;
	watchdog_msg[0] = '\0';
	msg_add("watchdog: ");
	msg_add(program_invocation_short_name);
	msg_add(": ");
	msg_add(what != NULL ? what : "the test");
	msg_add(" did not finish within ");
	msg_add_int(seconds);
	msg_add(" s; exiting with status 125\n");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = watchdog_fire;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);
	alarm((unsigned)seconds);
}

static int
env_seconds(const char *name, int dflt)
{
	const char *v = getenv(name);
	char       *end;
	long        n;

	if (v == NULL || *v == '\0')
		return dflt;
	n = strtol(v, &end, 10);
	if (*end != '\0' || n < 0 || n > 86400)
		return dflt;
	return (int)n;
}

static void
watchdog_at_exit(void)
{
	testenv_watchdog(env_seconds("INVENTORY_TEST_EXIT_S", WATCHDOG_EXIT_S),
	    "exit (atexit handlers, library teardown, the leak check)");
}

__attribute__((constructor)) static void
watchdog_init(void)
{
	int timeout = env_seconds("INVENTORY_TEST_TIMEOUT", 0);

	if (timeout > 2 * WATCHDOG_MARGIN_S)
		testenv_watchdog(timeout - WATCHDOG_MARGIN_S,
		    "the test (its ctest TIMEOUT is near)");
	atexit(watchdog_at_exit);
}
