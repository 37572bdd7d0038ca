/* SPDX-License-Identifier: MIT */
/*
 * The operator endpoint (--http) under attack, each case against its own
 * private inventoryd (hostile_spawn_http: free loopback ports, the
 * fixtures' database), over raw sockets:
 *
 *   escapes  200 GETs of /mmm...m%41 of growing length (the path that
 *            corrupted nng 1.5.2's heap), then malformed escapes (%, %4,
 *            %zz, %00, ...): each answered 404 (a valid escape of a route
 *            decodes to it: 200), none crashes the server
 *   idle     with the server's descriptor limit lowered to 512, 800
 *            connections from 127.0.0.2 (bound before connect, so the
 *            per-address limit applies to them) held open and idle: a
 *            good RPC caller and a /metrics scrape from 127.0.0.1 still
 *            succeed, and the server holds far fewer than 800 descriptors
 *   headers  eight connections send distinct headers, a few every 2 ms,
 *            while a good RPC caller calls 20 times: every call is
 *            answered, and the flood is refused (431 or closed) once a
 *            connection's headers pass the server's bound, never
 *            answered 200
 *   auth     with --auth-file, /debug/hot is 401 without a token or with
 *            an unknown one (WWW-Authenticate: Bearer), 200 with a known
 *            caller's token; /metrics, /healthz, /readyz stay open
 *
 * Each case ends by checking that a good RPC caller and a good scrape are
 * served, that the server's descriptors (/proc/PID/fd) come back to what
 * they were before the attack, and that SIGTERM ends it, exit 0, within
 * 15 s.  Latencies are printed, not asserted (a loaded 2-core machine).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mbedtls/sha256.h>
#include <nng/nng.h>

#include "hostile.h"
#include "testenv.h"

enum {
	IO_MS      = 5000, /* a good caller's patience (not a latency bound) */
	FD_SLACK   = 4,    /* descriptors the server may open meanwhile */
	STOP_MS    = 15000,
	IDLE_CONNS = 800,
	IDLE_NOFILE = 512, /* the server's RLIMIT_NOFILE in the idle case */
};

/* ---- a tiny HTTP client ------------------------------------------------ */

/* A blocking TCP connection to 127.0.0.1:port from src (NULL: any), with
 * send and receive timeouts of ms; -1 on failure. */
static int
tcp_connect(int port, const char *src, int ms)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct timeval     tv = { .tv_sec = ms / 1000,
		    .tv_usec              = (ms % 1000) * 1000 };
	int                fd;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		return -1;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (src != NULL) {
		inet_pton(AF_INET, src, &sa.sin_addr);
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
			close(fd);
			return -1;
		}
	}
	sa.sin_port        = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t w = send(fd, p, len, MSG_NOSIGNAL);
		if (w <= 0) {
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Read until EOF (or the buffer is full, or the timeout): the HTTP status
 * of what arrived (0: no status line), the whole answer in resp. */
static int
read_status(int fd, char *resp, size_t cap)
{
	size_t used = 0;
	int    status;

	resp[0] = '\0';
	while (used + 1 < cap) {
		ssize_t r = recv(fd, resp + used, cap - used - 1, 0);
		if (r <= 0) {
			break;
		}
		used += (size_t)r;
	}
	resp[used] = '\0';
	if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
		return 0;
	}
	return status;
}

/* One request (the raw request line's target, extra header lines ending
 * in \r\n or NULL), Connection: close: the status, 0 for no answer; the
 * answer in resp (NULL: discarded). */
static int
http_req(int port, const char *method, const char *target, const char *headers,
    char *resp, size_t cap)
{
	static char scratch[1 << 16];
	char       *req;
	int         fd, status = 0, n;

	if (resp == NULL) {
		resp = scratch;
		cap  = sizeof(scratch);
	}
	n = asprintf(&req,
	    "%s %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", method,
	    target, headers != NULL ? headers : "");
	if (n < 0) {
		return 0;
	}
	if ((fd = tcp_connect(port, NULL, IO_MS)) >= 0) {
		if (send_all(fd, req, (size_t)n) == 0) {
			status = read_status(fd, resp, cap);
		}
		close(fd);
	}
	free(req);
	return status;
}

static int
http_get(int port, const char *target)
{
	return http_req(port, "GET", target, NULL, NULL, 0);
}

/* ---- the server -------------------------------------------------------- */

/* A good scrape: /metrics 200 with the build info in it. */
static int
scrape_ok(int port)
{
	static char resp[1 << 18];

	return http_req(port, "GET", "/metrics", NULL, resp, sizeof(resp)) ==
	           200 &&
	       strstr(resp, "inventory_build_info{") != NULL;
}

/* Wait (at most 15 s) until the server's descriptors are back to at most
 * before + FD_SLACK: MHD closes what the attack left within its timeout. */
static int
fds_settle(int pid, int before)
{
	int n = -1;

	for (int i = 0; i < 150; i++) {
		if ((n = hostile_fd_count(pid)) >= 0 &&
		    n <= before + FD_SLACK) {
			break;
		}
		usleep(100000);
	}
	printf("   descriptors: %d before, %d after\n", before, n);
	return n >= 0 && n <= before + FD_SLACK;
}

/* The end of every case: still serving RPC and scrapes, descriptors back,
 * SIGTERM ends it (exit 0) within STOP_MS. */
static void
finish(struct hostile_server *srv, int port, int fds_before,
    int (*rpc_ok)(const char *url))
{
	long long t0;
	int       stopped;

	CHECK(rpc_ok(srv->url));
	CHECK(scrape_ok(port));
	CHECK(fds_settle(srv->pid, fds_before));
	t0      = hostile_now_ms();
	stopped = hostile_stop(srv);
	printf("   SIGTERM: %s after %lld ms\n", stopped ? "exit 0" : "FAILED",
	    hostile_now_ms() - t0);
	CHECK(stopped);
	CHECK(hostile_now_ms() - t0 < STOP_MS);
}

static int
rpc_open(const char *url)
{
	return hostile_served(url, IO_MS);
}

/* ---- escapes ----------------------------------------------------------- */

static void
test_escapes(void)
{
	static const struct {
		const char *target;
		int         want;
	} odd[] = {
		{ "/%", 404 },
		{ "/%4", 404 },
		{ "/%zz", 404 },
		{ "/%00", 404 },
		{ "/metrics%00", 404 },
		{ "/healthz%", 404 },
		{ "/healthz%4", 404 },
		{ "/%41%", 404 },
		{ "/%%41", 404 },
		{ "/%0", 404 },
		{ "/metrics%2", 404 },
		{ "%41", 404 },
		{ "/m%41%00%zz%", 404 },
		{ "/metrics?x=%00&y=%", 200 },
		{ "/metric%73", 200 }, /* a valid escape decodes */
		{ "/%68ealthz", 200 },
	};
	struct hostile_server srv;
	char                  target[2048];
	int                   port, fds, not404 = 0, answered = 0;

	printf("== escapes: 200 GETs of /mmm...m%%41, then malformed ones\n");
	hostile_spawn_http(&srv, NULL, &port);
	fds = hostile_fd_count(srv.pid);
	for (int i = 1; i <= 200; i++) {
		size_t len = (size_t)i * 7;
		int    st;

		target[0] = '/';
		memset(target + 1, 'm', len);
		memcpy(target + 1 + len, "%41", 4);
		st = http_get(port, target);
		answered += st != 0;
		not404 += st != 404;
	}
	printf("   %d of 200 answered, %d not 404\n", answered, not404);
	CHECK(answered == 200 && not404 == 0);
	for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
		int st = http_get(port, odd[i].target);

		if (st != odd[i].want) {
			printf("   GET %s: %d, want %d\n", odd[i].target, st,
			    odd[i].want);
			hostile_failures++;
		}
	}
	{
		/* A raw NUL in the request line: what follows it is never
		 * routed (MHD reads the line as a C string). */
		static const char nul[] =
		    "GET /nothing\0/metrics HTTP/1.1\r\n\r\n";
		char resp[512];
		int  fd, st = -1;

		if ((fd = tcp_connect(port, NULL, IO_MS)) >= 0) {
			send_all(fd, nul, sizeof(nul) - 1);
			st = read_status(fd, resp, sizeof(resp));
			close(fd);
		}
		printf("   a NUL in the request line: %d\n", st);
		CHECK(st != 200 && st != -1);
		CHECK(hostile_served(srv.url, IO_MS));
	}
	finish(&srv, port, fds, rpc_open);
}

/* ---- idle -------------------------------------------------------------- */

static void
test_idle(void)
{
	static int            fdv[IDLE_CONNS];
	struct hostile_server srv;
	struct rlimit         rl = { IDLE_NOFILE, IDLE_NOFILE };
	int port, fds, during, connected = 0, rpc = 0, scrapes = 0;

	printf(
	    "== idle: %d connections from 127.0.0.2 held open\n", IDLE_CONNS);
	hostile_spawn_http(&srv, NULL, &port);
	if (prlimit(srv.pid, RLIMIT_NOFILE, &rl, NULL) != 0) {
		printf("   prlimit: %s\n", strerror(errno));
		hostile_failures++;
	}
	fds = hostile_fd_count(srv.pid);
	for (int i = 0; i < IDLE_CONNS; i++) {
		/* Short timeouts: a listener that stopped accepting shows as
		 * failed connects, not as a test that hangs. */
		fdv[i] = tcp_connect(port, "127.0.0.2", 300);
		connected += fdv[i] >= 0;
	}
	during = hostile_fd_count(srv.pid);
	for (int i = 0; i < 5; i++) {
		rpc += hostile_served(srv.url, IO_MS);
		scrapes += scrape_ok(port);
	}
	printf("   %d connected; server descriptors %d (%d before); "
	       "meanwhile %d/5 RPC calls, %d/5 scrapes served\n",
	    connected, during, fds, rpc, scrapes);
	if (connected == 0) {
		printf("   no connection from 127.0.0.2: is the loopback "
		       "network 127.0.0.0/8 usable here?\n");
	}
	CHECK(connected > 0);
	CHECK(rpc == 5);
	CHECK(scrapes == 5);
	CHECK(during >= 0 && during < fds + IDLE_CONNS / 4);
	for (int i = 0; i < IDLE_CONNS; i++) {
		if (fdv[i] >= 0) {
			close(fdv[i]);
		}
	}
	finish(&srv, port, fds, rpc_open);
}

/* ---- headers ----------------------------------------------------------- */

struct flood {
	int         port;
	atomic_bool stop;
	long        lines;   /* header lines sent */
	int         refused; /* answered 431 (or 400) */
	int         closed;  /* closed without an answer */
	int         ok;      /* answered 200: headers past the limit taken */
};

static void *
flood_run(void *arg)
{
	enum { CONNS = 8, PER_ROUND = 4 };
	struct flood *f = arg;
	int           fd[CONNS];
	long          seq = 0;

	for (int i = 0; i < CONNS; i++) {
		fd[i] = -1;
	}
	while (!atomic_load(&f->stop)) {
		for (int i = 0; i < CONNS; i++) {
			char line[PER_ROUND * 64];
			int  n = 0;

			if (fd[i] < 0) {
				if ((fd[i] = tcp_connect(
				         f->port, NULL, 1000)) < 0) {
					continue;
				}
				send_all(
				    fd[i], "GET /metrics HTTP/1.1\r\n", 23);
			}
			for (int k = 0; k < PER_ROUND; k++) {
				n += snprintf(line + n,
				    sizeof(line) - (size_t)n,
				    "X-Flood-%ld: %ld\r\n", seq, seq * 7919);
				seq++;
			}
			if (send_all(fd[i], line, (size_t)n) == 0) {
				f->lines += PER_ROUND;
				continue;
			}
			{
				/* Refused: read what the server said. */
				char resp[1024];
				int  st =
				    read_status(fd[i], resp, sizeof(resp));

				if (st == 431 || st == 400) {
					f->refused++;
				} else if (st == 200) {
					f->ok++;
				} else {
					f->closed++;
				}
			}
			close(fd[i]);
			fd[i] = -1;
		}
		usleep(2000);
	}
	for (int i = 0; i < CONNS; i++) {
		if (fd[i] >= 0) {
			close(fd[i]); /* a request never completed */
		}
	}
	return NULL;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;

	return (x > y) - (x < y);
}

static void
test_headers(void)
{
	enum { CALLS = 20 };
	struct hostile_server srv;
	struct flood          f = { 0 };
	pthread_t             th;
	long long             ms[CALLS], quiet[CALLS];
	int                   port, fds, served = 0;

	printf("== headers: a paced flood of distinct headers\n");
	hostile_spawn_http(&srv, NULL, &port);
	fds = hostile_fd_count(srv.pid);
	for (int i = 0; i < CALLS; i++) {
		long long t0 = hostile_now_ms();

		hostile_served(srv.url, IO_MS);
		quiet[i] = hostile_now_ms() - t0;
	}
	f.port = port;
	atomic_init(&f.stop, false);
	if (pthread_create(&th, NULL, flood_run, &f) != 0) {
		printf("   pthread_create failed\n");
		hostile_failures++;
		hostile_stop(&srv);
		return;
	}
	usleep(1000000);
	for (int i = 0; i < CALLS; i++) {
		long long t0 = hostile_now_ms();

		served += hostile_served(srv.url, IO_MS);
		ms[i] = hostile_now_ms() - t0;
	}
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	qsort(quiet, CALLS, sizeof(quiet[0]), cmp_ll);
	qsort(ms, CALLS, sizeof(ms[0]), cmp_ll);
	printf("   RPC ms (fresh connection + GetProduct): quiet median %lld "
	       "max %lld; during the flood median %lld max %lld\n",
	    quiet[CALLS / 2], quiet[CALLS - 1], ms[CALLS / 2], ms[CALLS - 1]);
	printf("   flood: %ld header lines sent, %d refused (431/400), %d "
	       "closed, %d answered 200\n",
	    f.lines, f.refused, f.closed, f.ok);
	CHECK(served == CALLS);
	CHECK(f.ok == 0);
	CHECK(f.refused + f.closed > 0);
	finish(&srv, port, fds, rpc_open);
}

/* ---- auth -------------------------------------------------------------- */

static const char TOKEN[] = "http-test-token-6f1c0d2e9a";

/* GetProduct of a random id with TOKEN in the envelope: NOT_FOUND. */
static int
rpc_token(const char *url)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	Inventory__V1__Request  *env;
	Inventory__V1__Response *resp = NULL;
	nng_socket               s;
	uint8_t                 *buf, *buf2;
	size_t                   len;
	char                     id[37];
	int                      code = -1;

	testenv_uuid(id);
	g.id = id;
	buf  = hostile_envelope("GetProduct", NULL, &g.base, &len);
	env  = inventory__v1__request__unpack(NULL, len, buf);
	free(buf);
	if (env == NULL) {
		return 0;
	}
	env->token = (char *)TOKEN;
	len        = inventory__v1__request__get_packed_size(env);
	buf2       = malloc(len + 1);
	inventory__v1__request__pack(env, buf2);
	env->token = NULL;
	inventory__v1__request__free_unpacked(env, NULL);
	s = hostile_open(url, IO_MS);
	if (hostile_call(s, buf2, len, &resp) == 0) {
		code = (int)resp->code;
		inventory__v1__response__free_unpacked(resp, NULL);
	}
	nng_close(s);
	free(buf2);
	if (code != 5) {
		printf("   GetProduct with a token answered %d\n", code);
	}
	return code == 5;
}

static void
test_auth(void)
{
	struct hostile_server srv;
	unsigned char         hash[32];
	char                  path[128], dir[] = "/tmp/inventory-http-XXXXXX";
	char                  hdr[128], resp[4096];
	const char           *args[] = { "--auth-file", path, NULL };
	FILE                 *fp;
	int                   port, fds, st;

	printf("== auth: /debug/hot needs a known bearer token\n");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/callers", dir);
	mbedtls_sha256_ret(
	    (const unsigned char *)TOKEN, strlen(TOKEN), hash, 0);
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		exit(1);
	}
	fprintf(fp, "# name role sha256(token)\nscraper reader ");
	for (size_t i = 0; i < sizeof(hash); i++) {
		fprintf(fp, "%02x", hash[i]);
	}
	fprintf(fp, "\n");
	fclose(fp);
	hostile_spawn_http(&srv, args, &port);
	fds = hostile_fd_count(srv.pid);

	st = http_req(port, "GET", "/debug/hot", NULL, resp, sizeof(resp));
	printf("   no token: %d\n", st);
	CHECK(st == 401);
	CHECK(strstr(resp, "WWW-Authenticate: Bearer") != NULL);
	CHECK(strstr(resp, "\"products\"") == NULL);
	st = http_req(port, "HEAD", "/debug/hot", NULL, NULL, 0);
	CHECK(st == 401);
	st = http_req(port, "GET", "/debug/hot",
	    "Authorization: Bearer not-a-known-token\r\n", resp, sizeof(resp));
	printf("   unknown token: %d\n", st);
	CHECK(st == 401);
	st = http_req(port, "GET", "/debug/hot",
	    "Authorization: Basic aHR0cDp0ZXN0\r\n", NULL, 0);
	CHECK(st == 401);
	st = http_req(
	    port, "GET", "/debug/hot", "Authorization: Bearer\r\n", NULL, 0);
	CHECK(st == 401);
	snprintf(hdr, sizeof(hdr), "Authorization: Bearer %s\r\n", TOKEN);
	st = http_req(port, "GET", "/debug/hot", hdr, resp, sizeof(resp));
	printf("   known token: %d\n", st);
	CHECK(st == 200);
	CHECK(strstr(resp, "\"products\"") != NULL);
	snprintf(hdr, sizeof(hdr), "Authorization: bearer %s\r\n", TOKEN);
	CHECK(http_req(port, "GET", "/debug/hot", hdr, NULL, 0) == 200);
	/* A method the route does not take is 405 whatever the token. */
	CHECK(http_req(port, "POST", "/debug/hot", NULL, NULL, 0) == 405);
	/* Scrapers and probes need no token. */
	CHECK(http_get(port, "/metrics") == 200);
	CHECK(http_get(port, "/healthz") == 200);
	st = http_get(port, "/readyz");
	CHECK(st == 200 || st == 503);
	CHECK(rpc_token(srv.url));
	finish(&srv, port, fds, rpc_token);
	unlink(path);
	rmdir(dir);
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "escapes", test_escapes },
		{ "idle", test_idle },
		{ "headers", test_headers },
		{ "auth", test_auth },
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int before = hostile_failures;

		if (argc > 1 && strcmp(argv[1], cases[i].name) != 0) {
			continue;
		}
		cases[i].fn();
		printf("%s %s\n", hostile_failures == before ? "ok  " : "FAIL",
		    cases[i].name);
	}
	nng_fini();
	return hostile_failures == 0 ? 0 : 1;
}
