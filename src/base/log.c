/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr, one event per line, each line emitted with a single
 * write(2) so concurrent workers never interleave within a line.  Lines
 * longer than the buffer are truncated, never split.  log_limit_allow()
 * caps lines of one kind per second and reports how many it dropped, so a
 * client that provokes errors cannot flood the log or hide other lines.
 * log_json() maps a line's "event key=value ...: detail" text to one JSON
 * object (the mapping is documented in log.h), built and escaped by
 * jansson and dumped straight into the caller's buffer; a dump that does
 * not fit is shortened from its end and dumped again, so a cut line is
 * still valid JSON.  jansson allocates the object and a copy of each
 * string (freed before log_json() returns); the line itself is never
 * allocated.
 */
#include "base/log.h"

#include <ctype.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

enum log_level  log_threshold = LOG_LEVEL_INFO;
enum log_format log_format    = LOG_FORMAT_TEXT;

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

/* ---- json ------------------------------------------------------------ */

enum {
	JSON_KEYS    = 32, /* key=value fields; more go to detail */
	JSON_KEY_MAX = 64, /* longer keys are not keys */
	/* ts, level, msg, the fields, detail, truncated */
	JSON_MEMBERS = JSON_KEYS + 5,
};

/* jansson writes each object's members in the order they were set (its
 * default since 2.8; the flag says so), with no whitespace. */
#define LOG_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if
 * invalid (overlong forms, surrogates and values past U+10FFFF too: what
 * jansson's dump refuses). */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t   len;
	uint32_t cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xC2 && s[0] <= 0xDF)
		len = 2, cp = s[0] & 0x1F;
	else if (s[0] >= 0xE0 && s[0] <= 0xEF)
		len = 3, cp = s[0] & 0x0F;
	else if (s[0] >= 0xF0 && s[0] <= 0xF4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xC0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3F);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)))
		return 0;
	return len;
}

json_t *
log_json_string(const char *s, size_t n)
{
	static const char    fffd[3] = { '\xef', '\xbf', '\xbd' };
	const unsigned char *p       = (const unsigned char *)s;
	size_t               i, k, o;
	char                *buf;
	json_t              *j;

	/* Valid text (nearly every line) is copied once, by jansson, and
	 * not checked a second time. */
	for (i = 0; i < n && p[i] < 0x80; i++)
		;
	for (; i < n && (k = utf8_len(p + i, n - i)) != 0; i += k)
		;
	if (i == n)
		return json_stringn_nocheck(s, n);
	if (n > SIZE_MAX / 3 || (buf = malloc(n * 3)) == NULL)
		return NULL;
	memcpy(buf, s, i);
	for (o = i; i < n; i += k) {
		if ((k = utf8_len(p + i, n - i)) == 0) {
			memcpy(buf + o, fffd, sizeof(fffd));
			o += sizeof(fffd);
			k = 1;
		} else {
			memcpy(buf + o, s + i, k);
			o += k;
		}
	}
	j = json_stringn_nocheck(buf, o);
	free(buf);
	return j;
}

/* If the word at s (up to a space or the end) is key=value, set *klen
 * and return true. */
static bool
is_pair(const char *s, size_t *klen)
{
	size_t i = 0;

	if (!(isalpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	while (isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == '.' ||
	       s[i] == '-')
		i++;
	if (s[i] != '=' || i > JSON_KEY_MAX)
		return false;
	*klen = i;
	return true;
}

/* The value after '=' at s: a "quoted" string (with \" inside) or up to
 * the next space.  Sets *vlen (quotes excluded) and returns where the
 * word ends. */
static const char *
pair_value(const char *s, const char **val, size_t *vlen)
{
	const char *e;

	if (s[0] == '"') {
		for (e = s + 1; *e != '\0' && *e != '"'; e++)
			if (e[0] == '\\' && e[1] != '\0')
				e++;
		if (*e == '"') {
			*val  = s + 1;
			*vlen = (size_t)(e - s - 1);
			return e + 1;
		}
	}
	for (e = s; *e != '\0' && *e != ' '; e++)
		;
	*val  = s;
	*vlen = (size_t)(e - s);
	return e;
}

/* Member `key` (klen bytes) of o, a string of s[0..n): 0, or -1 when out
 * of memory.  The key is unique: one already in o, or one the mapping
 * sets later (detail, truncated), gets a '_' in front until it is not.
 * Keys are letters, digits, _ . - only (is_pair()): jansson need not
 * check them. */
static int
set_field(json_t *o, const char *key, size_t klen, const char *s, size_t n)
{
	char    buf[JSON_KEY_MAX + JSON_MEMBERS + 1];
	size_t  lead = sizeof(buf) - klen;
	json_t *v;

	memcpy(buf + lead, key, klen);
	/* Each '_' passes at most one member already there, so the buffer
	 * has room for all the underscores a key can need. */
	while (lead > 0 &&
	       (json_object_getn(o, buf + lead, klen) != NULL ||
	           (klen == 6 && memcmp(buf + lead, "detail", 6) == 0) ||
	           (klen == 9 && memcmp(buf + lead, "truncated", 9) == 0))) {
		buf[--lead] = '_';
		klen++;
	}
	if ((v = log_json_string(s, n)) == NULL)
		return -1;
	return json_object_setn_new_nocheck(o, buf + lead, klen, v);
}

/* Make o's dump fit in budget bytes: from the last member back to msg,
 * shorten each string value on a UTF-8 boundary, and drop a field cut to
 * nothing; ts and level stay whole.  A value keeps the share of its text
 * that its escaped form can keep (escapes spread evenly, as a guess) and
 * loses at least a byte, so each round is a dump closer to fitting.
 * Adds "truncated":true.  Returns the dump's length in dst, or 0 if even
 * that does not fit or jansson fails. */
static size_t
fit(json_t *o, char *dst, size_t budget)
{
	void  *it[JSON_MEMBERS];
	size_t n = 0, size;

	if (json_object_setn_new_nocheck(o, "truncated", 9, json_true()) != 0)
		return 0;
	for (void *i = json_object_iter(o); i != NULL && n < JSON_MEMBERS;) {
		it[n++] = i;
		i       = json_object_iter_next(o, i);
	}
	if (n < 4) /* NEVER: ts, level, msg and truncated are there */
		return 0;
	n--; /* truncated stays */
	while ((size = json_dumpb(o, dst, budget, LOG_JSON_FLAGS)) > budget) {
		size_t      over = size - budget, len, esc, keep;
		json_t     *v;
		const char *s;

		if (n <= 2) /* down to ts and level */
			return 0;
		v   = json_object_iter_value(it[n - 1]);
		s   = json_string_value(v);
		len = json_string_length(v);
		esc = json_dumpb(v, NULL, 0, JSON_ENCODE_ANY);
		/* esc counts the quotes: more than the text's escaped bytes */
		if (esc <= over + 2 || len == 0)
			len = 0;
		else if ((keep = len * (esc - 2 - over) / (esc - 2)) < len)
			len = keep;
		else
			len--;
		while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
			len--;
		if (len == 0 && n > 3) {
			/* the iterator dies with its member; n-- forgets it */
			json_object_del(o, json_object_iter_key(it[n - 1]));
			n--;
		} else if (json_string_setn_nocheck(v, s, len) != 0) {
			return 0;
		} else if (len == 0) {
			n--; /* msg is empty: nothing more to cut from it */
		}
	}
	return size;
}

size_t
log_json(
    char *dst, size_t cap, const char *ts, const char *level, const char *text)
{
	const char *p, *word, *msg_end = NULL, *val;
	size_t      nkeys = 0, klen, vlen, len = 0;
	json_t     *o = json_object();

	if (o == NULL ||
	    json_object_setn_new_nocheck(
	        o, "ts", 2, log_json_string(ts, strlen(ts))) != 0 ||
	    json_object_setn_new_nocheck(
	        o, "level", 5, log_json_string(level, strlen(level))) != 0)
		goto out_fail;

	/* msg: the words before the first key=value word. */
	for (word = text; *word != '\0';) {
		if (is_pair(word, &klen)) {
			msg_end = word;
			break;
		}
		while (*word != '\0' && *word != ' ')
			word++;
		while (*word == ' ')
			word++;
	}
	if (msg_end == NULL)
		msg_end = text + strlen(text);
	vlen = (size_t)(msg_end - text);
	while (vlen > 0 && text[vlen - 1] == ' ')
		vlen--;
	if (set_field(o, "msg", 3, text, vlen) != 0)
		goto out_fail;

	/* The fields, then the detail. */
	p = msg_end;
	while (*p != '\0' && nkeys < JSON_KEYS && is_pair(p, &klen)) {
		const char *end  = pair_value(p + klen + 1, &val, &vlen);
		bool        last = false;

		/* "key=value: rest" ends the fields. */
		if (vlen > 0 && val[vlen - 1] == ':' && end[0] == ' ' &&
		    val + vlen == end) {
			vlen--;
			last = true;
		}
		if (set_field(o, p, klen, val, vlen) != 0)
			goto out_fail;
		nkeys++;
		p = end;
		while (*p == ' ')
			p++;
		if (last)
			break;
	}
	if (*p != '\0' && json_object_setn_new_nocheck(o, "detail", 6,
	                      log_json_string(p, strlen(p))) != 0)
		goto out_fail;

	/* The newline always has its byte. */
	len = json_dumpb(o, dst, cap - 1, LOG_JSON_FLAGS);
	if (len == 0 || len > cap - 1)
		len = fit(o, dst, cap - 1);
out_fail:
	json_decref(o);
	if (len == 0) {
		/* Out of memory: a line of the fixed parts, still JSON (ts and
		 * level are log_write()'s own, nothing to escape). */
		int rv = snprintf(dst, cap,
		    "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":\"\","
		    "\"truncated\":true}",
		    ts, level);

		len = rv < 0 ? 0 : (size_t)rv < cap ? (size_t)rv : cap - 1;
	}
	dst[len++] = '\n';
	return len;
}

/* ---- writing ----------------------------------------------------------- */

void
log_write(enum log_level level, const char *fmt, ...)
{
	char            text[1024];
	char            line[4096];
	char            ts[40];
	struct timespec now;
	struct tm       tm;
	size_t          n;
	va_list         ap;
	int             rv;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%03ldZ", now.tv_nsec / 1000000);
	va_start(ap, fmt);
	rv = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (rv < 0)
		text[0] = '\0';

	if (log_format == LOG_FORMAT_JSON) {
		n = log_json(line, sizeof(line), ts, level_names[level], text);
	} else {
		rv        = snprintf(line, sizeof(line) - 1, "%s %s %s", ts,
		           level_names[level], text);
		n         = rv < 0                          ? 0
		            : (size_t)rv > sizeof(line) - 2 ? sizeof(line) - 2
		                                            : (size_t)rv;
		line[n++] = '\n';
	}
	/* A failed log write has nowhere to be reported. */
	(void)!write(STDERR_FILENO, line, n);
}

int
log_format_parse(const char *s)
{
	if (strcasecmp(s, "text") == 0)
		return LOG_FORMAT_TEXT;
	if (strcasecmp(s, "json") == 0)
		return LOG_FORMAT_JSON;
	return -1;
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
