/*
 * Logging to stderr, one event per line, each line emitted with a single
 * write(2) so concurrent workers never interleave within a line.  Lines
 * longer than the buffer are truncated, never split.
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
