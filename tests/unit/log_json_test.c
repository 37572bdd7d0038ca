/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for log_json() (src/base/log.c), the --log-format json mapping:
 * msg is the words before the first key=value, each key=value a string
 * field, the rest after "value: " the detail; quotes, backslashes,
 * control characters and invalid UTF-8 escaped; reserved and repeated
 * keys prefixed; a line too long for the buffer cut and still one valid
 * object.  (contract.http parses a real server's lines with jq.)
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

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
	    "\"_msg\":\"1\",\"_msg\":\"2\",\"_ts\":\"3\","
	    "\"name\":\"two words\"}\n");
}

static void
test_escaping(void **state)
{
	(void)state;
	check("say \"hi\" \\ \t\x01 \xff\xc3\xa9",
	    "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"say \\\"hi\\\" "
	    "\\\\ \\t\\u0001 \\ufffd\xc3\xa9\"}\n");
	check("", "{\"ts\":\"" TS "\",\"level\":\"info\",\"msg\":\"\"}\n");
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
		cmocka_unit_test(test_truncated),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
