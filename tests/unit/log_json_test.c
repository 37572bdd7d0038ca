/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for log_json() (src/base/log.c), the --log-format json mapping:
 * msg is the words before the first key=value, each key=value a string
 * field, the rest after "value: " the detail; quotes, backslashes,
 * control characters and invalid UTF-8 escaped (jansson writes the
 * object; invalid UTF-8 is U+FFFD before it sees it); reserved and
 * repeated keys prefixed until unique; a line too long for the buffer cut
 * from its end and still one valid object, parsed back by jansson.
 * (contract.http parses a real server's lines with jq.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "base/log.h"

#define TS "2026-11-29T23:00:00.000Z"

static void
check(const char *text, const char *want)
{
	char   out[4096];
	size_t n = log_json(out, sizeof(out), TS, "info", text);

	assert_true(n > 0 && n < sizeof(out));
	out[n] = '\0';
	assert_string_equal(out, want);
}

static void
test_mapping(void **state)
{
	(void)state;
	check("inventoryd listening on tcp://127.0.0.1:7070 with 8 executors",
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"inventoryd "
	    "listening on tcp://127.0.0.1:7070 with 8 executors\"}\n");
	check("conflict method=UpdateStock request_id=- product=abc "
	      "current_version=5: version mismatch: expected 3",
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"conflict\","
	    "\"method\":\"UpdateStock\",\"request_id\":\"-\","
	    "\"product\":\"abc\",\"current_version\":\"5\","
	    "\"detail\":\"version mismatch: expected 3\"}\n");
	check("metrics method=Get total=3 p50_us<=64 p99_us<=128",
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"metrics\","
	    "\"method\":\"Get\",\"total\":\"3\","
	    "\"detail\":\"p50_us<=64 p99_us<=128\"}\n");
	check("x msg=1 msg=2 ts=3 name=\"two words\"",
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"x\","
	    "\"_msg\":\"1\",\"__msg\":\"2\",\"_ts\":\"3\","
	    "\"name\":\"two words\"}\n");
}

static void
test_escaping(void **state)
{
	(void)state;
	check("say \"hi\" \\ \t\x01 \xff\xc3\xa9",
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"say \\\"hi\\\" "
	    "\\\\ \\t\\u0001 \xef\xbf\xbd\xc3\xa9\"}\n");
	check("", "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"\"}\n");
}

/* More escaping: every control character jansson names, the rest as
 * \u00XX (upper-case hex), DEL and valid UTF-8 as they are; keys the mapping
 * sets itself (detail, truncated) prefixed when a line names them. */
static void
test_escaping_more(void **state)
{
	(void)state;
	check("a\b\f\n\r\x1f\x7f/ z=\"q\\\"\"",
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"a\\b\\f\\n"
	    "\\r\\u001F\x7f/\",\"z\":\"q\\\\\\\"\"}\n");
	check("ev detail=1 truncated=2 _detail=3: rest",
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"ev\","
	    "\"_detail\":\"1\",\"_truncated\":\"2\",\"__detail\":\"3\","
	    "\"detail\":\"rest\"}\n");
}

/* Invalid UTF-8, byte by byte U+FFFD: json_string() refuses such text
 * and json_dumpb() fails on it, so log_json_string() replaces it. */
static void
test_invalid_utf8(void **state)
{
	static const struct {
		const char *in;
		size_t      len;
		const char *want;
	} cases[] = {
		{ "\x80", 1, "\xef\xbf\xbd" }, /* lone continuation */
		{ "\xc0\xaf", 2,
		    "\xef\xbf\xbd\xef\xbf\xbd" }, /* overlong '/' */
		{ "\xed\xa0\x80", 3,
		    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" }, /* surrogate */
		{ "\xf5\x80\x80\x80", 4,
		    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ "ok\xe2\x82", 4,
		    "ok\xef\xbf\xbd\xef\xbf\xbd" }, /* cut short */
		{ "\xe2\x82\xac\xf0\x9f\x98\x80", 7,
		    "\xe2\x82\xac\xf0\x9f\x98\x80" }, /* valid: unchanged */
		{ "a\0b", 3, "a\0b" },                /* NUL kept */
	};

	(void)state;
	assert_null(json_string("\xff"));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_t *j = log_json_string(cases[i].in, cases[i].len);

		assert_non_null(j);
		assert_int_equal(json_string_length(j),
		    strlen(cases[i].want) + (i == 6 ? 2 : 0));
		assert_memory_equal(json_string_value(j), cases[i].want,
		    json_string_length(j));
		json_decref(j);
	}
	check("ev k=\xff\xfe: x\xc3",
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"ev\","
	    "\"k\":\"\xef\xbf\xbd\xef\xbf\xbd\",\"detail\":\"x\xef\xbf\xbd\"}\n");
}

/* Past JSON_KEYS (32) fields the rest is detail. */
static void
test_many_fields(void **state)
{
	char    text[1024], out[4096];
	size_t  n, len = 0;
	json_t *o;

	(void)state;
	len += (size_t)snprintf(text + len, sizeof(text) - len, "ev");
	for (int i = 0; i < 40; i++)
		len += (size_t)snprintf(
		    text + len, sizeof(text) - len, " k%d=%d", i, i);
	n = log_json(out, sizeof(out), TS, "info", text);
	o = json_loadb(out, n, 0, NULL);
	assert_non_null(o);
	assert_int_equal(json_object_size(o), 3 + 32 + 1);
	assert_string_equal(
	    json_string_value(json_object_get(o, "k31")), "31");
	assert_null(json_object_get(o, "k32"));
	assert_string_equal(json_string_value(json_object_get(o, "detail")),
	    "k32=32 k33=33 k34=34 k35=35 k36=36 k37=37 k38=38 k39=39");
	json_decref(o);
}

/* A cut line, at every size from the least to past the whole: within
 * cap, one valid object (jansson parses it, so no character was split),
 * ts and level whole, members in order, "truncated":true last, and
 * nothing cut when it fits. */
static void
test_cut_parses(void **state)
{
	static const char *const texts[] = {
		"conflict method=UpdateStock request_id=r-1 product=abc "
		"current_version=5: version mismatch: expected 3 \xc3\xa9\xc3\xa9"
		"\xc3\xa9 \"\"\" \x01\x02",
		"just words \xe2\x82\xac\xe2\x82\xac\xe2\x82\xac\xe2\x82\xac "
		"\xe2\x82\xac\xe2\x82\xac and more words \\\\\\\\ to cut",
	};
	char out[512];

	(void)state;
	for (size_t t = 0; t < sizeof(texts) / sizeof(texts[0]); t++) {
		for (size_t cap = 128; cap <= sizeof(out); cap++) {
			size_t  n = log_json(out, cap, TS, "warn", texts[t]);
			json_t *o, *tr;
			const char *k = NULL;

			assert_true(n > 0 && n <= cap);
			assert_int_equal(out[n - 1], '\n');
			o = json_loadb(out, n, 0, NULL);
			assert_non_null(o);
			assert_string_equal(
			    json_string_value(json_object_get(o, "ts")), TS);
			assert_string_equal(
			    json_string_value(json_object_get(o, "level")),
			    "warn");
			assert_non_null(json_object_get(o, "msg"));
			tr = json_object_get(o, "truncated");
			if (tr != NULL) {
				void *it = json_object_iter(o);

				assert_true(json_is_true(tr));
				while (it != NULL) {
					k  = json_object_iter_key(it);
					it = json_object_iter_next(o, it);
				}
				assert_string_equal(k, "truncated");
			} else {
				/* whole: what the largest buffer writes */
				char   all[4096];
				size_t m = log_json(
				    all, sizeof(all), TS, "warn", texts[t]);

				assert_int_equal(n, m);
				assert_memory_equal(out, all, n);
			}
			json_decref(o);
		}
	}
}

static void
test_truncated(void **state)
{
	char   text[3000], out[256];
	size_t n;

	(void)state;
	memset(text, '"', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	memcpy(text, "ev k=v rest ", 12);
	n = log_json(out, sizeof(out), TS, "warn", text);
	assert_true(n <= sizeof(out));
	assert_memory_equal(out + n - 19, ",\"truncated\":true}\n", 19);
	/* every quote escaped or structural: an even count of bare ones */
	out[n - 1] = '\0';
	{
		unsigned bare = 0;
		for (size_t i = 0; out[i] != '\0'; i++)
			if (out[i] == '"' &&
			    (i == 0 || out[i - 1] != '\\' ||
			        (i >= 2 && out[i - 2] == '\\')))
				bare++;
		assert_int_equal(bare % 2, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mapping),
		cmocka_unit_test(test_escaping),
		cmocka_unit_test(test_escaping_more),
		cmocka_unit_test(test_invalid_utf8),
		cmocka_unit_test(test_many_fields),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_cut_parses),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
