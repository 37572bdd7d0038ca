/* SPDX-License-Identifier: MIT */
/*
 * Connection slots held without a token, against a private inventoryd
 * (hostile_spawn) with --auth-file (one writer), --idle-timeout 3 and the
 * default --max-connections 1024 and --max-connections-per-peer 256:
 *
 *   flood     1,100 raw connections that complete the SP handshake and
 *             never send a call, from five loopback addresses
 *             (127.0.0.2-6, 220 each).  Before, they held every slot and
 *             a caller with a token got DEADLINE_EXCEEDED for as long as
 *             they stayed.  Now: once they are older than the 1 s grace,
 *             20 calls of a caller with a token from 127.0.0.1, each on a
 *             new connection, are all served (the untrusted connections
 *             make room), and within the idle timeout (+2 s) the server
 *             has closed every one of the flood's connections.
 *   badtoken  connections whose calls carry an unknown token stay
 *             untrusted: they are closed by the idle timeout as well.
 *   peer      300 connections from one address (127.0.0.7): no more than
 *             256 stay open; the caller from 127.0.0.1 is still served.
 *
 * The server then ends on SIGTERM with exit 0 within 15 s.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "hostile.h"

enum {
	FLOOD        = 1100,
	SOURCES      = 5,
	PER_PEER     = 256,
	PEER_FLOOD   = 300,
	BAD_TOKEN    = 50,
	IDLE_S       = 3,
	GOOD_CALLS   = 20,
	CODE_NF      = 5,
	CODE_UNAUTHN = 16,
};

#define GOOD_TOKEN "good-token"
/* sha256("good-token"), as --auth-file wants it. */
#define GOOD_HASH \
	"461caa80a52104436e34006189430d13aba103b2c4344d446ea3d9324b0de1c0"
#define UNKNOWN_ID "00000000-0000-4000-8000-000000000000"

/* A raw REQ connection to url's port from source address src, after the
 * SP handshake; -1 if refused or closed during it. */
static int
raw_open_from(const char *url, const char *src)
{
	static const uint8_t hdr[8] = { 0, 'S', 'P', 0, 0x00, 0x30, 0, 0 };
	struct sockaddr_in   a      = { .sin_family = AF_INET };
	struct sockaddr_in   b      = { .sin_family = AF_INET };
	const char          *colon  = strrchr(url, ':');
	uint8_t              peer[8];
	struct pollfd        pfd;
	size_t               got = 0;
	int                  fd;

	if (colon == NULL || (fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return -1;
	inet_pton(AF_INET, src, &b.sin_addr);
	inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
	a.sin_port = htons((uint16_t)atoi(colon + 1));
	if (bind(fd, (struct sockaddr *)&b, sizeof(b)) != 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    write(fd, hdr, sizeof(hdr)) != (ssize_t)sizeof(hdr))
		goto out_close;
	pfd = (struct pollfd) { .fd = fd, .events = POLLIN };
	while (got < sizeof(peer) && poll(&pfd, 1, 3000) == 1) {
		ssize_t n = read(fd, peer + got, sizeof(peer) - got);

		if (n <= 0)
			goto out_close;
		got += (size_t)n;
	}
	if (got == sizeof(peer))
		return fd;
out_close:
	close(fd);
	return -1;
}

/* Whether the server closed fd within ms (EOF or reset; a reply to a
 * call sent on it is read and skipped). */
static int
closed_within(int fd, int ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t       buf[4096];
	long long     end = hostile_now_ms() + ms;

	while (hostile_now_ms() < end) {
		int left = (int)(end - hostile_now_ms());

		if (poll(&pfd, 1, left > 0 ? left : 0) != 1)
			continue;
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n <= 0)
			return 1;
	}
	return 0;
}

/* A GetProduct (unknown id) envelope carrying token, packed into buf
 * (256 bytes); its length. */
static size_t
token_envelope(const char *token, uint8_t *buf)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;
	Inventory__V1__Request env = INVENTORY__V1__REQUEST__INIT;
	uint8_t                body[64];

	g.id             = UNKNOWN_ID;
	env.method       = HOSTILE_PREFIX "GetProduct";
	env.token        = (char *)token;
	env.has_payload  = 1;
	env.payload.data = body;
	env.payload.len  = inventory__v1__get_product_request__pack(&g, body);
	return inventory__v1__request__pack(&env, buf);
}

/* One GetProduct (unknown id) with token on a new connection; its code,
 * or -1 without an answer within 3 s. */
static int
token_call(const char *url, const char *token)
{
	Inventory__V1__Response *r = NULL;
	uint8_t                  buf[256];
	size_t                   len  = token_envelope(token, buf);
	nng_socket               s    = hostile_open(url, 3000);
	int                      code = -1;

	if (hostile_call(s, buf, len, &r) == 0 && r != NULL) {
		code = (int)r->code;
		inventory__v1__response__free_unpacked(r, NULL);
	}
	nng_close(s);
	return code;
}

static int
good_calls(const char *url)
{
	int ok = 0;

	for (int i = 0; i < GOOD_CALLS; i++)
		ok += token_call(url, GOOD_TOKEN) == CODE_NF;
	return ok;
}

static void
case_flood(const char *url)
{
	static int fds[FLOOD];
	int        open_ = 0, closed = 0, ok;
	char       src[32];

	for (int i = 0; i < FLOOD; i++) {
		snprintf(src, sizeof(src), "127.0.0.%d", 2 + i % SOURCES);
		fds[i] = raw_open_from(url, src);
		open_ += fds[i] >= 0;
	}
	printf("flood: %d of %d idle connections completed the handshake\n",
	    open_, FLOOD);
	usleep(1200 * 1000); /* past the eviction grace */
	ok = good_calls(url);
	printf("flood: a caller with a token: %d of %d calls served\n", ok,
	    GOOD_CALLS);
	CHECK(ok == GOOD_CALLS);
	for (int i = 0; i < FLOOD; i++) {
		if (fds[i] < 0)
			continue;
		closed += closed_within(fds[i], 100);
	}
	printf("flood: %d closed by the server so far\n", closed);
	/* The rest end with the idle timeout. */
	for (int i = 0; i < FLOOD; i++) {
		if (fds[i] < 0)
			continue;
		if (!closed_within(fds[i], (IDLE_S + 2) * 1000))
			closed = -FLOOD; /* one stayed */
		close(fds[i]);
	}
	printf("flood: every flood connection closed within the idle "
	       "timeout: %s\n",
	    closed >= 0 ? "yes" : "no");
	CHECK(closed >= 0);
}

static void
case_badtoken(const char *url)
{
	int fds[BAD_TOKEN], open_ = 0, stayed = 0;

	for (int i = 0; i < BAD_TOKEN; i++) {
		uint8_t *frame, body[256];
		size_t   flen, blen = token_envelope("bad", body);

		if ((fds[i] = raw_open_from(url, "127.0.0.8")) < 0)
			continue;
		open_++;
		frame = hostile_raw_frame(1, body, blen, &flen);
		CHECK(write(fds[i], frame, flen) == (ssize_t)flen);
		free(frame);
	}
	for (int i = 0; i < BAD_TOKEN; i++) {
		if (fds[i] < 0)
			continue;
		stayed += !closed_within(fds[i], (IDLE_S + 3) * 1000);
		close(fds[i]);
	}
	printf("badtoken: %d connections calling with an unknown token, %d "
	       "still open after the idle timeout\n",
	    open_, stayed);
	CHECK(open_ == BAD_TOKEN && stayed == 0);
}

static void
case_peer(const char *url)
{
	static int fds[PEER_FLOOD];
	int        open_ = 0, ok;

	for (int i = 0; i < PEER_FLOOD; i++)
		fds[i] = raw_open_from(url, "127.0.0.7");
	usleep(300 * 1000);
	for (int i = 0; i < PEER_FLOOD; i++) {
		if (fds[i] < 0)
			continue;
		if (closed_within(fds[i], 10)) {
			close(fds[i]);
			fds[i] = -1;
			continue;
		}
		open_++;
	}
	ok = good_calls(url);
	printf("peer: %d of %d connections from one address stay open; a "
	       "caller with a token: %d of %d served\n",
	    open_, PEER_FLOOD, ok, GOOD_CALLS);
	CHECK(open_ <= PER_PEER);
	CHECK(ok == GOOD_CALLS);
	for (int i = 0; i < PEER_FLOOD; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

int
main(void)
{
	static const char *const args[] = { "--auth-file", NULL,
		"--idle-timeout", "3", NULL };
	const char              *argv[6];
	struct hostile_server    srv;
	char                     path[96];
	FILE                    *fp;

	snprintf(
	    path, sizeof(path), "/tmp/inventory-slots-auth-%d", (int)getpid());
	if ((fp = fopen(path, "w")) == NULL) {
		perror(path);
		return 1;
	}
	fprintf(fp, "good writer %s\n", GOOD_HASH);
	fclose(fp);
	memcpy(argv, args, sizeof(args));
	argv[1] = path;
	hostile_spawn(&srv, argv);
	CHECK(token_call(srv.url, GOOD_TOKEN) == CODE_NF);
	CHECK(token_call(srv.url, "wrong") == CODE_UNAUTHN);
	case_flood(srv.url);
	case_badtoken(srv.url);
	case_peer(srv.url);
	CHECK(hostile_log_count(&srv, "to make room") >= 1);
	CHECK(hostile_log_count(&srv, "idle connections closed") >= 1);
	unlink(path);
	return hostile_finish(&srv);
}
