/* SPDX-License-Identifier: MIT */
/*
 * Test support: locating the fixtures' server and database.  See
 * testenv.h.
 */
#include "testenv.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

enum { VALUE_MAX = 512, SLOTS = 8 };

static struct {
	char key[64];
	char value[VALUE_MAX];
} cache[SLOTS];
static int cached;

/* Look KEY up in a file of KEY=VALUE or `export KEY='VALUE'` lines. */
static int
file_lookup(const char *path, const char *key, char *out, size_t outlen)
{
	FILE  *f;
	char   line[1024];
	size_t klen  = strlen(key);
	int    found = 0;

	if ((f = fopen(path, "r")) == NULL) {
		return 0;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char  *p = line;
		char  *v;
		size_t n;

		if (strncmp(p, "export ", 7) == 0) {
			p += 7;
		}
		if (strncmp(p, key, klen) != 0 || p[klen] != '=') {
			continue;
		}
		v    = p + klen + 1;
		n    = strcspn(v, "\r\n");
		v[n] = '\0';
		if (n >= 2 && v[0] == '\'' && v[n - 1] == '\'') {
			v[n - 1] = '\0';
			v++;
		}
		snprintf(out, outlen, "%s", v);
		found = 1;
	}
	fclose(f);
	return found;
}

const char *
testenv_get(const char *key)
{
	const char *env;
	const char *dir;
	char        path[1024];
	char        value[VALUE_MAX];

	if ((env = getenv(key)) != NULL && env[0] != '\0') {
		return env;
	}
	for (int i = 0; i < cached; i++) {
		if (strcmp(cache[i].key, key) == 0) {
			return cache[i].value;
		}
	}
	if ((dir = getenv("INVENTORY_TESTENV")) == NULL) {
		return NULL;
	}
	snprintf(path, sizeof(path), "%s/server.env", dir);
	if (!file_lookup(path, key, value, sizeof(value))) {
		snprintf(path, sizeof(path), "%s/pg/env", dir);
		if (!file_lookup(path, key, value, sizeof(value))) {
			return NULL;
		}
	}
	if (cached == SLOTS) {
		cached = 0;
	}
	snprintf(cache[cached].key, sizeof(cache[cached].key), "%s", key);
	snprintf(
	    cache[cached].value, sizeof(cache[cached].value), "%s", value);
	return cache[cached++].value;
}

const char *
testenv_server(void)
{
	const char *url = testenv_get("INVENTORY_SERVER");

	if (url == NULL) {
		fail_msg(
		    "no INVENTORY_SERVER: set it, or INVENTORY_TESTENV to "
		    "the fixtures' directory (run through ctest)");
	}
	return url;
}

const char *
testenv_server_tcp(void)
{
	const char *url = testenv_get("INVENTORY_SERVER_TCP");

	return url != NULL ? url : testenv_server();
}

static void
random_bytes(void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n <= 0) {
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
}

void
testenv_uuid(char *buf)
{
	uint8_t b[16];

	random_bytes(b, sizeof(b));
	b[6] = (uint8_t)((b[6] & 0x0f) | 0x40);
	b[8] = (uint8_t)((b[8] & 0x3f) | 0x80);
	snprintf(buf, 37,
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x",
	    b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10],
	    b[11], b[12], b[13], b[14], b[15]);
}

void
testenv_request_id(char *buf, size_t len)
{
	static atomic_uint counter;
	uint32_t           r;

	random_bytes(&r, sizeof(r));
	snprintf(buf, len, "t-%ld-%u-%08x", (long)getpid(),
	    atomic_fetch_add(&counter, 1), r);
}

long long
testenv_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
testenv_free_port(void)
{
	struct sockaddr_in sa  = { .sin_family = AF_INET };
	socklen_t          len = sizeof(sa);
	int                fd, port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

uint64_t
testenv_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

long long
testenv_mono_ms(void)
{
	return (long long)(testenv_mono_ns() / 1000000u);
}

void
testenv_sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int
testenv_log_in_use(const char *path)
{
	char  line[1024];
	FILE *fp;
	int   found = 0;

	if ((fp = fopen(path, "r")) == NULL)
		return 0;
	while (!found && fgets(line, sizeof(line), fp) != NULL)
		found = strcasestr(line, "address in use") != NULL ||
		        strcasestr(line, "address already in use") != NULL;
	fclose(fp);
	return found;
}
