/* SPDX-License-Identifier: MIT */
/*
 * Support for the raw-socket tests (hostile.h).
 */
#include "hostile.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/protocol/reqrep0/req.h>

#include "testenv.h"

int hostile_failures;

const char *
hostile_code_name(uint32_t code)
{
	const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(
	    &inventory__v1__code__descriptor, (int)code);

	return v != NULL ? v->name : "?";
}

nng_socket
hostile_open(const char *url, int recv_timeout_ms)
{
	nng_socket s;
	int        rv;

	if ((rv = nng_req0_open(&s)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, recv_timeout_ms)) !=
	        0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 5000)) != 0 ||
	    (rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 1 << 20)) != 0 ||
	    (rv = nng_dial(s, url, NULL, 0)) != 0) {
		fprintf(stderr, "cannot connect a REQ socket to %s: %s\n", url,
		    nng_strerror(rv));
		exit(1);
	}
	return s;
}

int
hostile_call(
    nng_socket s, const void *buf, size_t len, Inventory__V1__Response **out)
{
	nng_msg *msg;
	int      rv;

	*out = NULL;
	if ((rv = nng_msg_alloc(&msg, 0)) != 0) {
		return rv;
	}
	if ((rv = nng_msg_append(msg, buf, len)) != 0 ||
	    (rv = nng_sendmsg(s, msg, 0)) != 0) {
		nng_msg_free(msg);
		return rv;
	}
	if ((rv = nng_recvmsg(s, &msg, 0)) != 0) {
		return rv;
	}
	*out = inventory__v1__response__unpack(
	    NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	return *out != NULL ? 0 : NNG_EPROTO;
}

uint8_t *
hostile_envelope(const char *method, const char *request_id,
    const ProtobufCMessage *payload, size_t *len)
{
	Inventory__V1__Request env  = INVENTORY__V1__REQUEST__INIT;
	char                  *full = NULL;
	uint8_t               *body = NULL, *out;

	if (method != NULL && method[0] != '/') {
		size_t n = strlen(HOSTILE_PREFIX) + strlen(method) + 1;
		if ((full = malloc(n)) == NULL) {
			abort();
		}
		snprintf(full, n, "%s%s", HOSTILE_PREFIX, method);
		env.method = full;
	} else {
		env.method = (char *)method;
	}
	env.request_id = (char *)request_id;
	if (payload != NULL) {
		size_t n = protobuf_c_message_get_packed_size(payload);
		if ((body = malloc(n + 1)) == NULL) {
			abort();
		}
		protobuf_c_message_pack(payload, body);
		env.has_payload  = 1;
		env.payload.data = body;
		env.payload.len  = n;
	}
	*len = inventory__v1__request__get_packed_size(&env);
	if ((out = malloc(*len + 1)) == NULL) {
		abort();
	}
	inventory__v1__request__pack(&env, out);
	free(body);
	free(full);
	return out;
}

int
hostile_create(
    nng_socket s, const char *name, int64_t stock, const char *price, char *id)
{
	Inventory__V1__CreateProductRequest r =
	    INVENTORY__V1__CREATE_PRODUCT_REQUEST__INIT;
	Inventory__V1__CreateProductResponse *cr;
	Inventory__V1__Response              *resp;
	uint8_t                              *buf;
	size_t                                len;
	char                                  rid[64];
	int                                   rv = -1;

	r.name      = (char *)name;
	r.has_stock = 1;
	r.stock     = stock;
	r.price     = (char *)price;
	testenv_request_id(rid, sizeof(rid));
	buf = hostile_envelope("CreateProduct", rid, &r.base, &len);
	if (hostile_call(s, buf, len, &resp) == 0 && resp->code == 0 &&
	    resp->has_payload) {
		cr = inventory__v1__create_product_response__unpack(
		    NULL, resp->payload.len, resp->payload.data);
		if (cr != NULL && cr->product != NULL &&
		    cr->product->id != NULL) {
			snprintf(id, 37, "%s", cr->product->id);
			rv = 0;
		}
		if (cr != NULL) {
			inventory__v1__create_product_response__free_unpacked(
			    cr, NULL);
		}
	}
	if (resp != NULL) {
		inventory__v1__response__free_unpacked(resp, NULL);
	}
	free(buf);
	return rv;
}

int
hostile_get(nng_socket s, const char *id, int64_t *version)
{
	Inventory__V1__GetProductRequest r =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	Inventory__V1__GetProductResponse *gr;
	Inventory__V1__Response           *resp;
	uint8_t                           *buf;
	size_t                             len;
	int                                rv;

	r.id = (char *)id;
	buf  = hostile_envelope("GetProduct", NULL, &r.base, &len);
	rv   = hostile_call(s, buf, len, &resp);
	free(buf);
	if (rv != 0) {
		return 1000 + rv;
	}
	rv = (int)resp->code;
	if (rv == 0 && version != NULL) {
		gr = inventory__v1__get_product_response__unpack(
		    NULL, resp->payload.len, resp->payload.data);
		*version = gr != NULL && gr->product != NULL
		               ? gr->product->version
		               : -1;
		if (gr != NULL) {
			inventory__v1__get_product_response__free_unpacked(
			    gr, NULL);
		}
	}
	inventory__v1__response__free_unpacked(resp, NULL);
	return rv;
}

/* The code a GetProduct of a random id gets on a fresh socket to url
 * within timeout_ms (1000 + nng error when none). */
static int
get_code(const char *url, int timeout_ms)
{
	nng_socket s;
	char       id[37];
	int        code, rv;

	/* A non-blocking dial: a listener that accepts nothing shows as a
	 * receive timeout, not as a dial that blocks. */
	if ((rv = nng_req0_open(&s)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, timeout_ms)) != 0 ||
	    (rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		fprintf(
		    stderr, "REQ socket to %s: %s\n", url, nng_strerror(rv));
		return 1000 + rv;
	}

	testenv_uuid(id);
	code = hostile_get(s, id, NULL);
	nng_close(s);
	return code;
}

int
hostile_served(const char *url, int timeout_ms)
{
	int code = get_code(url, timeout_ms);

	if (code != 5 && code != 0) {
		fprintf(stderr, "server at %s: GetProduct answered %d (%s)\n",
		    url, code,
		    code >= 1000 ? nng_strerror(code - 1000)
		                 : hostile_code_name((uint32_t)code));
	}
	return code == 5 || code == 0;
}

int
hostile_raw_connect(const char *url)
{
	return hostile_raw_connect_rcvbuf(url, 0);
}

int
hostile_raw_connect_rcvbuf(const char *url, int rcvbuf)
{
	int fd = -1;

	if (strncmp(url, "ipc://", 6) == 0) {
		struct sockaddr_un sun;
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		if (strlen(url + 6) >= sizeof(sun.sun_path)) {
			return -1;
		}
		strcpy(sun.sun_path, url + 6);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) < 0) {
			return -1;
		}
		if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
			close(fd);
			return -1;
		}
		return fd;
	}
	if (strncmp(url, "tcp://", 6) == 0) {
		char            host[256], *colon;
		struct addrinfo hints, *ai = NULL;

		snprintf(host, sizeof(host), "%s", url + 6);
		if ((colon = strrchr(host, ':')) == NULL) {
			return -1;
		}
		*colon = '\0';
		memset(&hints, 0, sizeof(hints));
		hints.ai_family   = AF_UNSPEC;
		hints.ai_socktype = SOCK_STREAM;
		if (getaddrinfo(host, colon + 1, &hints, &ai) != 0) {
			return -1;
		}
		fd = socket(ai->ai_family, SOCK_STREAM, 0);
		/* Before connect(): the window it announces follows it. */
		if (fd >= 0 && rcvbuf > 0)
			(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf,
			    sizeof(rcvbuf));
		if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
			close(fd);
			fd = -1;
		}
		freeaddrinfo(ai);
		return fd;
	}
	return -1;
}

/* Read exactly n bytes within timeout_ms; the count read. */
static size_t
read_full(int fd, uint8_t *buf, size_t n, int timeout_ms)
{
	size_t got = 0;

	while (got < n) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t       r;
		if (poll(&p, 1, timeout_ms) <= 0) {
			break;
		}
		if ((r = read(fd, buf + got, n - got)) <= 0) {
			break;
		}
		got += (size_t)r;
	}
	return got;
}

int
hostile_raw_oversize(const char *url, size_t len, int timeout_ms)
{
	static const uint8_t hdr[8] = { 0, 'S', 'P', 0, 0x00, 0x30, 0, 0 };
	uint8_t              peer[8], frame[12], chunk[65536], byte;
	uint64_t             flen = (uint64_t)len + 4; /* + REQ request id */
	size_t               sent = 0;
	int                  fd, closed = 0;
	struct pollfd        p;

	if ((fd = hostile_raw_connect(url)) < 0) {
		return -1;
	}
	if (write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr) ||
	    read_full(fd, peer, sizeof(peer), timeout_ms) != sizeof(peer) ||
	    peer[1] != 'S' || peer[2] != 'P') {
		close(fd);
		return -1;
	}
	for (int i = 0; i < 8; i++) { /* length, big-endian */
		frame[i] = (uint8_t)(flen >> (56 - 8 * i));
	}
	frame[8]  = 0x80; /* request id 0x80000001 (top bit: last hop) */
	frame[9]  = 0;
	frame[10] = 0;
	frame[11] = 1;
	memset(chunk, 'A', sizeof(chunk));
	if (send(fd, frame, sizeof(frame), MSG_NOSIGNAL) ==
	    (ssize_t)sizeof(frame)) {
		/* The server may close long before all of it is sent. */
		while (sent < len) {
			size_t  n = len - sent < sizeof(chunk) ? len - sent
			                                       : sizeof(chunk);
			ssize_t w = send(fd, chunk, n, MSG_NOSIGNAL);
			if (w <= 0) {
				break;
			}
			sent += (size_t)w;
		}
	}
	/* Closed means EOF or reset, with no reply bytes before it. */
	p.fd     = fd;
	p.events = POLLIN;
	if (poll(&p, 1, timeout_ms) > 0) {
		ssize_t r = read(fd, &byte, 1);
		closed    = r == 0 || (r < 0 && errno == ECONNRESET);
	}
	close(fd);
	return closed;
}

/* ---- raw SP framing ---------------------------------------------------- */

int
hostile_raw_open(const char *url, int timeout_ms)
{
	return hostile_raw_open_rcvbuf(url, timeout_ms, 0);
}

int
hostile_raw_open_rcvbuf(const char *url, int timeout_ms, int rcvbuf)
{
	static const uint8_t hdr[8] = { 0, 'S', 'P', 0, 0x00, 0x30, 0, 0 };
	uint8_t              peer[8];
	int                  fd;

	if ((fd = hostile_raw_connect_rcvbuf(url, rcvbuf)) < 0) {
		return -1;
	}
	if (send(fd, hdr, sizeof(hdr), MSG_NOSIGNAL) != (ssize_t)sizeof(hdr) ||
	    read_full(fd, peer, sizeof(peer), timeout_ms) != sizeof(peer) ||
	    peer[1] != 'S' || peer[2] != 'P') {
		close(fd);
		return -1;
	}
	return fd;
}

uint8_t *
hostile_raw_frame(
    uint32_t reqid, const uint8_t *body, size_t body_len, size_t *len)
{
	uint64_t flen = (uint64_t)body_len + 4;
	uint8_t *f;

	*len = 12 + body_len;
	if ((f = malloc(*len)) == NULL) {
		abort();
	}
	for (int i = 0; i < 8; i++) {
		f[i] = (uint8_t)(flen >> (56 - 8 * i));
	}
	reqid |= 0x80000000u;
	for (int i = 0; i < 4; i++) {
		f[8 + i] = (uint8_t)(reqid >> (24 - 8 * i));
	}
	memcpy(f + 12, body, body_len);
	return f;
}

int
hostile_raw_read(
    int fd, int timeout_ms, uint32_t *reqid, uint8_t **out, size_t *out_len)
{
	uint8_t  hdr[12];
	uint64_t flen = 0;

	*out = NULL;
	if (read_full(fd, hdr, sizeof(hdr), timeout_ms) != sizeof(hdr)) {
		return -1;
	}
	for (int i = 0; i < 8; i++) {
		flen = flen << 8 | hdr[i];
	}
	if (flen < 4 || flen > (64u << 20)) {
		return -1;
	}
	*reqid = (uint32_t)hdr[8] << 24 | (uint32_t)hdr[9] << 16 |
	         (uint32_t)hdr[10] << 8 | hdr[11];
	*reqid &= 0x7fffffffu;
	*out_len = (size_t)flen - 4;
	if ((*out = malloc(*out_len + 1)) == NULL) {
		abort();
	}
	if (read_full(fd, *out, *out_len, timeout_ms) != *out_len) {
		free(*out);
		*out = NULL;
		return -1;
	}
	return 0;
}

int
hostile_raw_closed(int fd, int timeout_ms)
{
	long long end = hostile_now_ms() + timeout_ms;
	uint8_t   buf[65536];

	for (;;) {
		struct pollfd p    = { .fd = fd, .events = POLLIN };
		long long     left = end - hostile_now_ms();
		ssize_t       r;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			return 0;
		}
		r = read(fd, buf, sizeof(buf));
		if (r == 0 || (r < 0 && errno == ECONNRESET)) {
			return 1;
		}
		if (r < 0 && errno != EINTR && errno != EAGAIN) {
			return 1;
		}
	}
}

/* ---- a private inventoryd ---------------------------------------------- */

long long
hostile_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
hostile_free_port(void)
{
	return testenv_free_port(); /* the one port helper of the tests */
}

static void
dump_log(const struct hostile_server *srv)
{
	char  path[128], line[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/inventoryd.log", srv->dir);
	if ((fp = fopen(path, "r")) == NULL) {
		return;
	}
	printf("----- %s -----\n", path);
	while (fgets(line, sizeof(line), fp) != NULL) {
		fputs(line, stdout);
	}
	fclose(fp);
}

/* Start inventoryd as hostile_spawn() says.  1 when it serves; 0 when it
 * exited while starting and may_fail (its directory removed); any other
 * failure exits the test. */
static int
spawn(struct hostile_server *srv, const char *const *args, int may_fail)
{
	const char *inventoryd = getenv("INVENTORY_INVENTORYD");
	const char *db         = testenv_get("INVENTORY_DB");
	char        logpath[128], cmd[128];
	const char *argv[32];
	int         argc = 0;

	if (inventoryd == NULL || db == NULL) {
		fprintf(
		    stderr, "INVENTORY_INVENTORYD or INVENTORY_DB unset\n");
		exit(1);
	}
	snprintf(srv->dir, sizeof(srv->dir), "/tmp/inventory-hostile-XXXXXX");
	if (mkdtemp(srv->dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	/* A port taken by a parallel test before the server bound it:
	 * another port (testenv_free_port()). */
	for (int attempt = 1;; attempt++) {
		int exited = 0;

		argc = 0;
		snprintf(srv->url, sizeof(srv->url), "tcp://127.0.0.1:%d",
		    testenv_free_port());
		snprintf(
		    logpath, sizeof(logpath), "%s/inventoryd.log", srv->dir);
		argv[argc++] = inventoryd;
		argv[argc++] = "--listen";
		argv[argc++] = srv->url;
		argv[argc++] = "--db";
		argv[argc++] = db;
		argv[argc++] = "--workers";
		argv[argc++] = "2";
		for (const char *const *a = args;
		     a != NULL && *a != NULL && argc < 31; a++) {
			argv[argc++] = *a;
		}
		argv[argc] = NULL;
		fflush(stdout);
		if ((srv->pid = fork()) == 0) {
			if (freopen(logpath, "w", stderr) == NULL ||
			    freopen(logpath, "a", stdout) == NULL) {
				_exit(126);
			}
			execv(inventoryd, (char *const *)argv);
			_exit(127);
		}
		for (int i = 0; i < 100 && !exited; i++) {
			int status;

			if (waitpid(srv->pid, &status, WNOHANG) == srv->pid) {
				exited = 1;
				break;
			}
			/* Any answer will do: with --auth-file a call
			 * without a token is answered UNAUTHENTICATED. */
			if (get_code(srv->url, 500) < 1000) {
				printf("private inventoryd on %s\n", srv->url);
				return 1;
			}
			usleep(50000);
		}
		if (!exited)
			break;
		srv->pid = -1;
		if (attempt < TESTENV_PORT_TRIES &&
		    testenv_log_in_use(logpath)) {
			printf("%s was taken before inventoryd bound it; "
			       "another port\n",
			    srv->url);
			continue;
		}
		dump_log(srv);
		fprintf(stderr, "inventoryd exited while starting\n");
		if (!may_fail) {
			exit(1);
		}
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv->dir);
		if (system(cmd) != 0) {
			printf("could not remove %s\n", srv->dir);
		}
		return 0;
	}
	dump_log(srv);
	kill(srv->pid, SIGKILL);
	fprintf(stderr, "inventoryd did not come up on %s\n", srv->url);
	exit(1);
}

void
hostile_spawn(struct hostile_server *srv, const char *const *args)
{
	spawn(srv, args, 0);
}

void
hostile_spawn_http(
    struct hostile_server *srv, const char *const *args, int *http_port)
{
	const char *argv[32];
	char        url[64];
	int         argc = 0, attempt;

	argv[argc++] = "--http";
	argv[argc++] = url;
	for (; args != NULL && *args != NULL && argc < 31; args++) {
		argv[argc++] = *args;
	}
	argv[argc] = NULL;
	for (attempt = 1; attempt <= 5; attempt++) {
		*http_port = hostile_free_port();
		snprintf(url, sizeof(url), "http://127.0.0.1:%d", *http_port);
		if (spawn(srv, argv, attempt < 5)) {
			return;
		}
		printf("a port was taken before inventoryd bound it "
		       "(attempt %d); another\n",
		    attempt);
	}
}

int
hostile_stop(struct hostile_server *srv)
{
	char cmd[128];
	int  status = 0, ok = 0;

	if (srv->pid <= 0) {
		return 0;
	}
	kill(srv->pid, SIGTERM);
	for (int i = 0; i < 300; i++) { /* 15 s: systemd's stop budget */
		if (waitpid(srv->pid, &status, WNOHANG) == srv->pid) {
			ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
			break;
		}
		usleep(50000);
	}
	if (waitpid(srv->pid, &status, WNOHANG) == 0) {
		kill(srv->pid, SIGKILL);
		waitpid(srv->pid, &status, 0);
	}
	srv->pid = -1;
	if (!ok) {
		printf("inventoryd did not exit 0 on SIGTERM (status %d)\n",
		    status);
		dump_log(srv);
		printf("server log kept in %s\n", srv->dir);
		return 0;
	}
	if (getenv("HOSTILE_KEEP") != NULL) { /* to read the log after */
		printf("server log kept in %s (HOSTILE_KEEP)\n", srv->dir);
		return 1;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", srv->dir);
	if (system(cmd) != 0) {
		printf("could not remove %s\n", srv->dir);
	}
	return 1;
}

int
hostile_log_count(const struct hostile_server *srv, const char *needle)
{
	char  path[128], line[2048];
	FILE *fp;
	int   n = 0;

	snprintf(path, sizeof(path), "%s/inventoryd.log", srv->dir);
	if ((fp = fopen(path, "r")) == NULL) {
		return 0;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		n += strstr(line, needle) != NULL;
	}
	fclose(fp);
	return n;
}

int
hostile_fd_count(int pid)
{
	char           path[64];
	DIR           *d;
	struct dirent *de;
	int            n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

int
hostile_finish(struct hostile_server *srv)
{
	long long t0 = hostile_now_ms();

	CHECK(hostile_stop(srv));
	printf("SIGTERM to exit: %lld ms\n", hostile_now_ms() - t0);
	CHECK(hostile_now_ms() - t0 < 15000);
	nng_fini();
	printf("%s\n", hostile_failures == 0 ? "PASS" : "FAIL");
	return hostile_failures == 0 ? 0 : 1;
}
