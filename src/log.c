/*
 * Logging to stderr, one event per line, each line emitted with a single
 * write(2) so concurrent workers never interleave within a line.  Lines
 * longer than the buffer are truncated, never split.  log_limit_allow()
 * caps lines of one kind per second and reports how many it dropped, so a
 * client that provokes errors cannot flood the log or hide other lines.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum log_level log_threshold = LOG_LEVEL_INFO;

static const char *const level_names[] = {
	[LOG_LEVEL_ERR]   = "error",
	[LOG_LEVEL_WARN]  = "warn",
	[LOG_LEVEL_INFO]  = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

int
log_level_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]);
	     i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			return (int)i;
		}
	}
	if (strcasecmp(s, "err") == 0) {
		return LOG_LEVEL_ERR;
	}
	return -1;
}

void
log_write(enum log_level level, const char *fmt, ...)
{
	char            line[1024];
	struct timespec ts;
	struct tm       tm;
	size_t          n;
	va_list         ap;
	int             rv;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	n  = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	rv = snprintf(line + n, sizeof(line) - n, ".%03ldZ %s ",
	    ts.tv_nsec / 1000000, level_names[level]);
	if (rv > 0) {
		n += (size_t)rv;
	}
	va_start(ap, fmt);
	rv = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (rv > 0) {
		n += (size_t)rv;
	}
	if (n > sizeof(line) - 2) {
		n = sizeof(line) - 2;
	}
	line[n++] = '\n';
	/* A failed log write has nowhere to be reported. */
	(void)!write(STDERR_FILENO, line, n);
}

bool
log_limit_allow(struct log_limit *l, enum log_level level)
{
	struct timespec ts;
	uint64_t        now, seen;
	unsigned        dropped;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now  = (uint64_t)ts.tv_sec;
	seen = atomic_load_explicit(&l->second, memory_order_relaxed);
	/* One thread wins the new window: it resets the count and reports
	 * what the last window(s) dropped, before its own line. */
	if (now != seen &&
	    atomic_compare_exchange_strong(&l->second, &seen, now)) {
		atomic_store(&l->count, 0);
		dropped = atomic_exchange(&l->suppressed, 0);
		if (dropped > 0)
			log_write(level, "%s: suppressed %u similar lines",
			    l->kind, dropped);
	}
	if (atomic_fetch_add(&l->count, 1) < l->per_second)
		return true;
	atomic_fetch_add(&l->suppressed, 1);
	return false;
}

unsigned
log_limit_pending(struct log_limit *l)
{
	return atomic_load(&l->suppressed);
}
