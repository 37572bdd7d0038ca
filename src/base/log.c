/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr, one event per line, each line emitted with a single
 * write(2) so concurrent workers never interleave within a line.  Lines
 * longer than the buffer are truncated, never split.  log_limit_allow()
 * caps lines of one kind per second and reports how many it dropped, so a
 * client that provokes errors cannot flood the log or hide other lines.
 * log_json() maps a line's "event key=value ...: detail" text to one JSON
 * object (the mapping is documented in log.h) with a bounded writer that
 * keeps room for the closing bytes, so a cut line is still valid JSON.
 */
#include "base/log.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
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
	JSON_RESERVE = 32, /* kept free for `","truncated":true}\n` */
	JSON_KEYS    = 32, /* fields de-duplicated; more go to detail */
	JSON_KEY_MAX = 64, /* longer keys are not keys */
};

/* A bounded writer: once a write does not fit (minus the reserve), it
 * stops writing and remembers it was cut. */
struct jw {
	char  *buf;
	size_t cap; /* usable bytes: the caller's cap minus the reserve */
	size_t len;
	bool   cut;
};

static bool
jw_raw(struct jw *w, const char *s, size_t n)
{
	if (w->cut || w->len + n > w->cap) {
		w->cut = true;
		return false;
	}
	memcpy(w->buf + w->len, s, n);
	w->len += n;
	return true;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), 0 if
 * invalid (overlong forms, surrogates and values past U+10FFFF too). */
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

/* s[0..n) as a JSON string, quotes included; false if not even the
 * opening quote fitted.  A string cut short still gets its closing quote
 * (the reserve has room for it). */
static bool
jw_str(struct jw *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	char                 esc[8];
	size_t               i = 0, k;

	if (!jw_raw(w, "\"", 1))
		return false;
	while (i < n && !w->cut) {
		unsigned char c = p[i];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			jw_raw(w, esc, 2);
			i++;
		} else if (c == '\n' || c == '\r' || c == '\t') {
			jw_raw(w,
			    c == '\n'   ? "\\n"
			    : c == '\r' ? "\\r"
			                : "\\t",
			    2);
			i++;
		} else if (c < 0x20 || c == 0x7F) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			jw_raw(w, esc, 6);
			i++;
		} else if ((k = utf8_len(p + i, n - i)) == 0) {
			jw_raw(w, "\\ufffd", 6);
			i++;
		} else {
			jw_raw(w, s + i, k);
			i += k;
		}
	}
	w->buf[w->len++] = '"'; /* within the reserve when cut */
	return true;
}

/* ,"key":"value" -- or nothing at all if the key or the value's opening
 * quote does not fit, so a cut line never ends in a dangling key. */
static void
jw_field(
    struct jw *w, const char *key, size_t klen, const char *val, size_t vlen)
{
	size_t mark = w->len;

	if (!jw_raw(w, ",", 1))
		return;
	if (!jw_str(w, key, klen) || w->cut || !jw_raw(w, ":", 1) ||
	    !jw_str(w, val, vlen)) {
		w->len = mark;
		w->cut = true;
	}
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

static bool
key_taken(const char *key, size_t klen, const char *const *keys,
    const size_t *lens, size_t n)
{
	static const char *const reserved[] = { "ts", "level", "msg",
		"detail" };

	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (strlen(reserved[i]) == klen &&
		    memcmp(reserved[i], key, klen) == 0)
			return true;
	for (size_t i = 0; i < n; i++)
		if (lens[i] == klen && memcmp(keys[i], key, klen) == 0)
			return true;
	return false;
}

size_t
log_json(
    char *dst, size_t cap, const char *ts, const char *level, const char *text)
{
	struct jw   w = { dst, cap - JSON_RESERVE, 0, false };
	const char *p = text, *word, *msg_end = NULL, *keys[JSON_KEYS];
	size_t      lens[JSON_KEYS], nkeys = 0, klen, vlen;
	char        key[JSON_KEY_MAX + 2];
	const char *val;

	/* ts and level always fit: cap is at least 128. */
	jw_raw(&w, "{\"ts\":", 6);
	jw_str(&w, ts, strlen(ts));
	jw_raw(&w, ",\"level\":", 9);
	jw_str(&w, level, strlen(level));

	/* msg: the words before the first key=value word. */
	for (word = p; *word != '\0';) {
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
	jw_field(&w, "msg", 3, text, vlen);

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
		if (key_taken(p, klen, keys, lens, nkeys)) {
			key[0] = '_';
			memcpy(key + 1, p, klen);
			jw_field(&w, key, klen + 1, val, vlen);
		} else {
			jw_field(&w, p, klen, val, vlen);
		}
		keys[nkeys]   = p;
		lens[nkeys++] = klen;
		p             = end;
		while (*p == ' ')
			p++;
		if (last)
			break;
	}
	if (*p != '\0')
		jw_field(&w, "detail", 6, p, strlen(p));
	/* The reserve holds the end whether or not the line was cut. */
	if (w.cut) {
		static const char cut[] = ",\"truncated\":true";

		memcpy(dst + w.len, cut, sizeof(cut) - 1);
		w.len += sizeof(cut) - 1;
	}
	dst[w.len++] = '}';
	dst[w.len++] = '\n';
	return w.len;
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
