/* SPDX-License-Identifier: MIT */
/*
 * Logging: one event per line on stderr, stamped with time, level and
 * thread-supplied context.  The level test happens before the arguments
 * are evaluated (as redis' serverLog), so debug logging on the hot path
 * costs one comparison when it is off.  Thread-safe: each line is one
 * write(2).
 *
 * Two formats (--log-format).  text, the default:
 *   2026-11-29T22:59:00.123Z info conflict method=UpdateStock ...: why
 * json, one object per line, for log shippers:
 *   {"ts":"2026-11-29T22:59:00.123Z","level":"info","msg":"conflict",
 *    "method":"UpdateStock",...,"detail":"why"}
 * The json mapping of a line's text (log_json()): the words before the
 * first key=value word are "msg" (the whole text when it has none); each
 * key=value word is a string field (key: a letter or _ then letters,
 * digits, _ . -; value: up to the next space, or a "quoted" string);
 * the rest of the line after the fields (after a value's trailing ": ",
 * or from the first word that is not key=value) is "detail".  A key equal
 * to ts, level, msg, detail, truncated or an earlier key gets "_"
 * prefixes until it is none of them, so no key appears twice.  Values
 * stay strings (an id that looks like a number must not change type).
 * jansson writes the object: strings escaped as JSON requires (control
 * characters as \n, \t or \u00XX; DEL and non-ASCII as they are);
 * invalid UTF-8 becomes U+FFFD first (log_json_string()), as jansson's
 * dump refuses it.  A line too long for the buffer is cut from its end
 * (values shortened on a character boundary, a field cut to nothing
 * dropped; ts and level whole), still valid JSON, with "truncated":true.
 */
#ifndef INVENTORY_LOG_H
#define INVENTORY_LOG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_LEVEL_ERR   = 0,
	LOG_LEVEL_WARN  = 1,
	LOG_LEVEL_INFO  = 2,
	LOG_LEVEL_DEBUG = 3,
};

/* Current threshold; set once at start-up by main. */
extern enum log_level log_threshold;

/* Parse "error", "warn", "info" or "debug"; returns -1 if unknown. */
int log_level_parse(const char *s);

enum log_format {
	LOG_FORMAT_TEXT = 0, /* "ts level text" */
	LOG_FORMAT_JSON = 1, /* one JSON object per line */
};

/* Current format; set once at start-up by main, before any thread. */
extern enum log_format log_format;

/* Parse "text" or "json"; returns -1 if unknown. */
int log_format_parse(const char *s);

/* The json form of one line (see above) into dst (cap bytes, at least
 * 128), with a trailing newline and no NUL; returns its length.  ts and
 * level are plain ASCII (the line of last resort, when jansson is out of
 * memory, has them unescaped with an empty msg).  Pure but for jansson's
 * allocations, freed before it returns: exposed for the unit tests. */
size_t log_json(char *dst, size_t cap, const char *ts, const char *level,
    const char *text);

struct json_t;

/* A new jansson string of s[0..n) (NUL bytes allowed), each byte of
 * invalid UTF-8 replaced by U+FFFD: json_string() refuses such text and
 * json_dumpb() fails on it.  The caller owns the reference; NULL when
 * out of memory.  Thread-safe. */
struct json_t *log_json_string(const char *s, size_t n);

void log_write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...)                               \
	do {                                           \
		if ((lvl) <= log_threshold)            \
			log_write((lvl), __VA_ARGS__); \
	} while (0)
/* A rate limit for one kind of line (conflicts, refusals, ...), so that a
 * client cannot flood the log: at most `per_second` lines of the kind per
 * second; the rest are counted, and the first line of the kind after that
 * second is preceded by one "<kind>: suppressed K similar lines" line.
 * Declare one per call site with LOG_LIMIT_INIT (static storage, zeroed
 * counters); thread-safe, lock-free. */
struct log_limit {
	const char      *kind;       /* names the kind in the summary line */
	unsigned         per_second; /* lines let through per second */
	_Atomic uint64_t second;     /* the current window (monotonic s) */
	atomic_uint      count;      /* lines seen in the window */
	atomic_uint      suppressed; /* lines dropped since the last summary */
};

#define LOG_LIMIT_INIT(kind, per_second)      \
	{                                     \
		(kind), (per_second), 0, 0, 0 \
	}

/* True if one more line of l's kind may be written now (at level, for the
 * summary line); false if it is to be suppressed (and counted). */
bool log_limit_allow(struct log_limit *l, enum log_level level);

/* Lines of l's kind suppressed and not yet reported (for tests). */
unsigned log_limit_pending(struct log_limit *l);

/* log_at(), rate-limited by l (arguments evaluated only when written). */
#define log_at_limited(l, lvl, ...)                                        \
	do {                                                               \
		if ((lvl) <= log_threshold && log_limit_allow((l), (lvl))) \
			log_write((lvl), __VA_ARGS__);                     \
	} while (0)

#define log_err(...)   log_at(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
