/* SPDX-License-Identifier: MIT */
/*
 * inventoryd under overload , each case against its own
 * private inventoryd (hostile_spawn: a free loopback port, the fixtures'
 * database) so that the limits under test can be small and the shared
 * fixture's server is left alone:
 *
 *   pipeline  300 requests written on one raw connection without waiting,
 *             then read: every one is answered (NOT_FOUND) or refused
 *             RESOURCE_EXHAUSTED, by its own REQ id, and the connection
 *             stays usable
 *   noread    a raw connection keeps sending BatchGetProducts (1000 ids,
 *             ~120 KB replies) and never reads; meanwhile another client
 *             is served every time, quickly (the executors never wait on
 *             the reader), and the server closes the reader's connection
 *   trickle   ten connections each send one frame a byte at a time over
 *             ~2 s; another client is served quickly meanwhile, and each
 *             trickled frame is answered once complete
 *   flood     --max-connections 8: 40 raw connections; the ones over the
 *             cap are closed at once, those admitted are served, and once
 *             they close a new client is served again
 *   pending   --max-pending 8: a row locked from libpq holds a batch of
 *             8 writes in the executors; a further GetProduct and a batch
 *             of 3 reads get RESOURCE_EXHAUSTED at once (per call); after
 *             COMMIT the 8 writes are answered (1 OK, 7 ABORTED) and the
 *             server serves again
 *
 * Each private server must exit 0 on SIGTERM (so leaks fail under ASan).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <nng/nng.h>

#include "hostile.h"
#include "testenv.h"

/* Instrumented builds run the server several times slower: the bound of
 * "served normally" is a sanity bound, not a latency target (those are in
 * the benchmarks), so it scales with the build. */
#if defined(__SANITIZE_ADDRESS__)
#define SERVED_SCALE 3
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define SERVED_SCALE 3
#endif
#endif
#ifndef SERVED_SCALE
#define SERVED_SCALE 1
#endif

enum {
	CODE_OK_  = 0,
	CODE_NF   = 5,                   /* NOT_FOUND */
	CODE_RE   = 8,                   /* RESOURCE_EXHAUSTED */
	CODE_AB   = 10,                  /* ABORTED */
	SERVED_MS = 1000 * SERVED_SCALE, /* "served normally": each call
	                                    within this */
};

/* ---- requests ---------------------------------------------------------- */

static uint8_t *
get_body(const char *id, size_t *len)
{
	Inventory__V1__GetProductRequest g =
	    INVENTORY__V1__GET_PRODUCT_REQUEST__INIT;

	g.id = (char *)id;
	return hostile_envelope("GetProduct", NULL, &g.base, len);
}

static uint8_t *
batch_get_body(char ids[][37], size_t nids, size_t count, size_t *len)
{
	Inventory__V1__BatchGetProductsRequest b =
	    INVENTORY__V1__BATCH_GET_PRODUCTS_REQUEST__INIT;
	char   **v = calloc(count, sizeof(*v));
	uint8_t *buf;

	for (size_t i = 0; i < count; i++) {
		v[i] = ids[i % nids];
	}
	b.n_ids = count;
	b.ids   = v;
	buf     = hostile_envelope("BatchGetProducts", NULL, &b.base, len);
	free(v);
	return buf;
}

/* A batch frame of n calls (packed envelopes in calls[], lens[]). */
static uint8_t *
batch_frame(uint8_t **calls, size_t *lens, size_t n, size_t *len)
{
	Inventory__V1__Request   top = INVENTORY__V1__REQUEST__INIT;
	Inventory__V1__Request **v   = calloc(n, sizeof(*v));
	uint8_t                 *buf;

	for (size_t i = 0; i < n; i++) {
		v[i] = inventory__v1__request__unpack(NULL, lens[i], calls[i]);
	}
	top.n_batch = n;
	top.batch   = v;
	*len        = inventory__v1__request__get_packed_size(&top);
	buf         = malloc(*len + 1);
	inventory__v1__request__pack(&top, buf);
	for (size_t i = 0; i < n; i++) {
		inventory__v1__request__free_unpacked(v[i], NULL);
	}
	free(v);
	return buf;
}

/* GetProduct of id over s, timed: the code (1000 + nng error). */
static int
timed_get(nng_socket s, const char *id, long long *ms)
{
	long long t0 = hostile_now_ms();
	int       code;

	code = hostile_get(s, id, NULL);
	*ms  = hostile_now_ms() - t0;
	return code;
}

/* Send all of buf on a blocking fd; 0 or -1. */
static int
send_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = send(fd, buf, len, MSG_NOSIGNAL);
		if (w <= 0) {
			return -1;
		}
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* ---- pipeline ------------------------------------------------------------
 */

static void
test_pipeline(void)
{
	enum { N = 300 };
	struct hostile_server srv;
	static int            seen[N + 1];
	uint8_t              *all     = NULL;
	size_t                all_len = 0;
	int                   fd, answered = 0, refused = 0, other = 0;

	printf("== pipeline: %d requests on one raw connection, unread\n", N);
	hostile_spawn(&srv, NULL);
	CHECK((fd = hostile_raw_open(srv.url, 3000)) >= 0);
	for (uint32_t i = 1; i <= N; i++) {
		char     id[37];
		size_t   blen, flen;
		uint8_t *body, *frame;

		testenv_uuid(id);
		body  = get_body(id, &blen);
		frame = hostile_raw_frame(i, body, blen, &flen);
		all   = realloc(all, all_len + flen);
		memcpy(all + all_len, frame, flen);
		all_len += flen;
		free(frame);
		free(body);
	}
	CHECK(send_all(fd, all, all_len) == 0);
	free(all);
	for (int i = 0; i < N; i++) {
		Inventory__V1__Response *r;
		uint32_t                 reqid;
		uint8_t                 *body;
		size_t                   blen;

		if (hostile_raw_read(fd, 10000, &reqid, &body, &blen) != 0) {
			printf("FAIL reply %d of %d did not come\n", i + 1, N);
			hostile_failures++;
			break;
		}
		r = inventory__v1__response__unpack(NULL, blen, body);
		CHECK(r != NULL);
		CHECK(reqid >= 1 && reqid <= N && !seen[reqid]);
		if (reqid >= 1 && reqid <= N) {
			seen[reqid] = 1;
		}
		if (r != NULL && r->code == CODE_NF) {
			answered++;
		} else if (r != NULL && r->code == CODE_RE) {
			refused++;
		} else {
			other++;
		}
		if (r != NULL) {
			inventory__v1__response__free_unpacked(r, NULL);
		}
		free(body);
	}
	printf("   %d answered NOT_FOUND, %d refused RESOURCE_EXHAUSTED, "
	       "%d other\n",
	    answered, refused, other);
	CHECK(answered + refused == N && other == 0);
	{
		/* The connection is still usable. */
		char     id[37];
		size_t   blen, flen;
		uint8_t *body, *frame, *reply = NULL;
		uint32_t reqid = 0;

		testenv_uuid(id);
		body  = get_body(id, &blen);
		frame = hostile_raw_frame(N + 1, body, blen, &flen);
		CHECK(send_all(fd, frame, flen) == 0);
		CHECK(hostile_raw_read(fd, 5000, &reqid, &reply, &blen) == 0);
		CHECK(reqid == N + 1);
		free(reply);
		free(frame);
		free(body);
	}
	close(fd);
	CHECK(hostile_stop(&srv));
}

/* ---- noread --------------------------------------------------------------
 */

static void
test_noread(void)
{
	enum { PRODUCTS = 20, IDS = 1000, SECONDS = 6 };
	struct hostile_server srv;
	char                  ids[PRODUCTS][37];
	nng_socket            s;
	uint8_t              *body, *frame;
	size_t                blen, flen, off = 0;
	long long             end, worst = 0, ms;
	int                   fd, calls = 0, bad = 0, closed = 0;
	uint32_t              reqid       = 1;
	long                  frames_sent = 0;

	printf("== noread: a connection that sends BatchGetProducts and "
	       "never reads\n");
	hostile_spawn(&srv, NULL);
	s = hostile_open(srv.url, 5000);
	for (int i = 0; i < PRODUCTS; i++) {
		CHECK(hostile_create(s, "noread", 1, "1.00", ids[i]) == 0);
	}
	CHECK((fd = hostile_raw_open(srv.url, 3000)) >= 0);
	CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
	body  = batch_get_body(ids, PRODUCTS, IDS, &blen);
	frame = hostile_raw_frame(reqid, body, blen, &flen);
	end   = hostile_now_ms() + SECONDS * 1000;
	while (hostile_now_ms() < end) {
		/* As much as the socket takes, never reading. */
		while (!closed) {
			ssize_t w = send(fd, frame + off, flen - off,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
				break;
			}
			if (w <= 0) {
				closed = 1; /* reset by the server */
				break;
			}
			off += (size_t)w;
			if (off == flen) {
				off = 0;
				frames_sent++;
			}
		}
		if (timed_get(s, ids[calls % PRODUCTS], &ms) != CODE_OK_) {
			bad++;
		}
		worst = ms > worst ? ms : worst;
		calls++;
		usleep(20000);
	}
	if (!closed) {
		closed = hostile_raw_closed(fd, 3000);
	}
	printf("   %ld frames sent unread; the other client: %d calls, %d "
	       "not OK, slowest %lld ms; reader's connection %s\n",
	    frames_sent, calls, bad, worst,
	    closed ? "closed by the server" : "still open");
	CHECK(bad == 0);
	CHECK(worst < SERVED_MS);
	CHECK(closed);
	CHECK(hostile_log_count(&srv, "closed: ") >= 1);
	close(fd);
	free(frame);
	free(body);
	/* Served afterwards too. */
	CHECK(timed_get(s, ids[0], &ms) == CODE_OK_);
	nng_close(s);
	CHECK(hostile_stop(&srv));
}

/* ---- trickle -------------------------------------------------------------
 */

static void
test_trickle(void)
{
	enum { CONNS = 10, BYTE_MS = 20 };
	struct hostile_server srv;
	int                   fds[CONNS];
	uint8_t              *frame[CONNS];
	size_t                flen[CONNS], maxlen = 0;
	nng_socket            s;
	char                  id[37];
	long long             worst = 0, ms;
	int                   bad = 0, calls = 0, answered = 0;

	printf(
	    "== trickle: %d frames sent a byte every %d ms\n", CONNS, BYTE_MS);
	hostile_spawn(&srv, NULL);
	s = hostile_open(srv.url, 5000);
	CHECK(hostile_create(s, "trickle", 1, "1.00", id) == 0);
	for (int i = 0; i < CONNS; i++) {
		char     rid[37];
		size_t   blen;
		uint8_t *body;

		testenv_uuid(rid);
		body = get_body(rid, &blen);
		frame[i] =
		    hostile_raw_frame((uint32_t)i + 1, body, blen, &flen[i]);
		maxlen = flen[i] > maxlen ? flen[i] : maxlen;
		free(body);
		CHECK((fds[i] = hostile_raw_open(srv.url, 3000)) >= 0);
	}
	for (size_t b = 0; b < maxlen; b++) {
		for (int i = 0; i < CONNS; i++) {
			if (b < flen[i] && fds[i] >= 0) {
				CHECK(send(fds[i], frame[i] + b, 1,
				          MSG_NOSIGNAL) == 1);
			}
		}
		if (b % 5 == 0) {
			bad += timed_get(s, id, &ms) != CODE_OK_;
			worst = ms > worst ? ms : worst;
			calls++;
		}
		usleep(BYTE_MS * 1000);
	}
	for (int i = 0; i < CONNS; i++) {
		uint32_t                 reqid;
		uint8_t                 *body;
		size_t                   blen;
		Inventory__V1__Response *r;

		if (fds[i] >= 0 && hostile_raw_read(fds[i], 5000, &reqid,
		                       &body, &blen) == 0) {
			r = inventory__v1__response__unpack(NULL, blen, body);
			answered += r != NULL && r->code == CODE_NF &&
			            reqid == (uint32_t)i + 1;
			if (r != NULL) {
				inventory__v1__response__free_unpacked(
				    r, NULL);
			}
			free(body);
		}
		close(fds[i]);
		free(frame[i]);
	}
	printf("   other client: %d calls, %d not OK, slowest %lld ms; %d "
	       "of %d trickled frames answered\n",
	    calls, bad, worst, answered, CONNS);
	CHECK(bad == 0 && worst < SERVED_MS);
	CHECK(answered == CONNS);
	nng_close(s);
	CHECK(hostile_stop(&srv));
}

/* ---- flood ---------------------------------------------------------------
 */

static void
test_flood(void)
{
	enum { CAP = 8, CONNS = 40 };
	static const char *const args[] = { "--max-connections", "8", NULL };
	struct hostile_server    srv;
	int                      fds[CONNS], closed = 0, open = 0, served = 0;

	printf("== flood: %d connections, --max-connections %d\n", CONNS, CAP);
	hostile_spawn(&srv, args);
	usleep(300000); /* the readiness probes' connections are gone */
	for (int i = 0; i < CONNS; i++) {
		fds[i] = hostile_raw_open(srv.url, 3000);
	}
	for (int i = 0; i < CONNS; i++) {
		if (fds[i] < 0 || hostile_raw_closed(fds[i], 200)) {
			closed++;
			if (fds[i] >= 0) {
				close(fds[i]);
			}
			fds[i] = -1;
			continue;
		}
		open++;
		/* An admitted connection is served. */
		{
			char     id[37];
			size_t   blen, flen;
			uint8_t *body, *frame, *reply = NULL;
			uint32_t reqid = 0;

			testenv_uuid(id);
			body  = get_body(id, &blen);
			frame = hostile_raw_frame(7, body, blen, &flen);
			if (send_all(fds[i], frame, flen) == 0 &&
			    hostile_raw_read(
			        fds[i], 5000, &reqid, &reply, &blen) == 0 &&
			    reqid == 7) {
				served++;
			}
			free(reply);
			free(frame);
			free(body);
		}
	}
	printf("   %d closed by the server, %d kept and %d of them served\n",
	    closed, open, served);
	CHECK(open == CAP);
	CHECK(closed == CONNS - CAP);
	CHECK(served == open);
	CHECK(hostile_log_count(&srv, "connection refused") >= 1);
	for (int i = 0; i < CONNS; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
		}
	}
	usleep(300000);
	CHECK(hostile_served(srv.url, 3000));
	CHECK(hostile_stop(&srv));
}

/* ---- pending -------------------------------------------------------------
 */

static long long
pq_value(PGconn *db, const char *sql, const char *param)
{
	const char *params[1] = { param };
	PGresult   *res;
	long long   v = -1;

	res = PQexecParams(
	    db, sql, param != NULL ? 1 : 0, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK &&
	    PQresultStatus(res) != PGRES_COMMAND_OK) {
		printf("FAIL %s: %s", sql, PQerrorMessage(db));
		hostile_failures++;
	} else if (PQntuples(res) == 1 && PQnfields(res) >= 1) {
		v = atoll(PQgetvalue(res, 0, 0));
	}
	PQclear(res);
	return v;
}

static void
test_pending(void)
{
	enum { CAP = 8 };
	static const char *const args[] = { "--max-pending", "8", NULL };
	struct hostile_server    srv;
	char                     locked[37], free_id[37], pid[16], rid[48];
	uint8_t                 *calls[CAP], *body, *frame, *reply = NULL;
	size_t                   lens[CAP], blen, flen;
	nng_socket               s;
	PGconn                  *holder, *monitor;
	Inventory__V1__Response *r;
	uint32_t                 reqid;
	long long                blocked = 0, ms;
	int                      fd, code, oks = 0, aborted = 0;

	printf("== pending: --max-pending %d with a row lock held\n", CAP);
	hostile_spawn(&srv, args);
	s = hostile_open(srv.url, 5000);
	CHECK(hostile_create(s, "pending locked", 10, "1.00", locked) == 0);
	CHECK(hostile_create(s, "pending free", 10, "1.00", free_id) == 0);
	holder  = PQconnectdb(testenv_get("INVENTORY_DB"));
	monitor = PQconnectdb(testenv_get("INVENTORY_DB"));
	CHECK(PQstatus(holder) == CONNECTION_OK);
	CHECK(PQstatus(monitor) == CONNECTION_OK);
	pq_value(holder, "BEGIN", NULL);
	pq_value(holder,
	    "SELECT 1 FROM products WHERE id = $1::uuid FOR UPDATE", locked);

	/* CAP writes to the locked row in one frame: CAP calls pending. */
	for (int i = 0; i < CAP; i++) {
		Inventory__V1__UpdateStockRequest u =
		    INVENTORY__V1__UPDATE_STOCK_REQUEST__INIT;

		u.id                   = locked;
		u.has_stock            = 1;
		u.stock                = 100 + i;
		u.has_expected_version = 1;
		u.expected_version     = 1;
		testenv_request_id(rid, sizeof(rid));
		calls[i] =
		    hostile_envelope("UpdateStock", rid, &u.base, &lens[i]);
	}
	body  = batch_frame(calls, lens, CAP, &blen);
	frame = hostile_raw_frame(1, body, blen, &flen);
	CHECK((fd = hostile_raw_open(srv.url, 3000)) >= 0);
	CHECK(send_all(fd, frame, flen) == 0);
	free(frame);
	free(body);
	snprintf(pid, sizeof(pid), "%d", PQbackendPID(holder));
	for (int i = 0; i < 250 && blocked < 1; i++) {
		blocked = pq_value(monitor,
		    "SELECT count(*) FROM pg_stat_activity"
		    " WHERE $1::int = ANY (pg_blocking_pids(pid))",
		    pid);
		usleep(20000);
	}
	CHECK(blocked >= 1);

	/* Over the cap: refused at once, though an executor is free. */
	code = timed_get(s, free_id, &ms);
	printf("   GetProduct with %d calls pending: %s in %lld ms\n", CAP,
	    code >= 1000 ? nng_strerror(code - 1000)
	                 : hostile_code_name((uint32_t)code),
	    ms);
	CHECK(code == CODE_RE);
	CHECK(ms < SERVED_MS);
	{
		uint8_t *gets[3];
		size_t   glens[3];
		int      fd2;

		for (int i = 0; i < 3; i++) {
			gets[i] = get_body(free_id, &glens[i]);
		}
		body  = batch_frame(gets, glens, 3, &blen);
		frame = hostile_raw_frame(2, body, blen, &flen);
		CHECK((fd2 = hostile_raw_open(srv.url, 3000)) >= 0);
		CHECK(send_all(fd2, frame, flen) == 0);
		CHECK(hostile_raw_read(
		          fd2, SERVED_MS, &reqid, &reply, &blen) == 0);
		r = reply != NULL
		        ? inventory__v1__response__unpack(NULL, blen, reply)
		        : NULL;
		CHECK(r != NULL && r->n_batch == 3);
		for (size_t i = 0; r != NULL && i < r->n_batch; i++) {
			CHECK(r->batch[i]->code == CODE_RE);
			CHECK(r->batch[i]->message != NULL &&
			      strstr(r->batch[i]->message, "max-pending") !=
			          NULL);
		}
		if (r != NULL) {
			inventory__v1__response__free_unpacked(r, NULL);
		}
		free(reply);
		reply = NULL;
		free(frame);
		free(body);
		for (int i = 0; i < 3; i++) {
			free(gets[i]);
		}
		close(fd2);
	}

	/* Release the lock: the held writes are answered. */
	pq_value(holder, "COMMIT", NULL);
	CHECK(hostile_raw_read(fd, 10000, &reqid, &reply, &blen) == 0);
	r = reply != NULL ? inventory__v1__response__unpack(NULL, blen, reply)
	                  : NULL;
	CHECK(r != NULL && r->n_batch == CAP);
	for (size_t i = 0; r != NULL && i < r->n_batch; i++) {
		oks += r->batch[i]->code == CODE_OK_;
		aborted += r->batch[i]->code == CODE_AB;
	}
	printf("   the held frame: %d OK, %d ABORTED\n", oks, aborted);
	CHECK(oks == 1 && aborted == CAP - 1);
	if (r != NULL) {
		inventory__v1__response__free_unpacked(r, NULL);
	}
	free(reply);
	close(fd);
	code = timed_get(s, free_id, &ms);
	if (code != CODE_OK_)
		printf(
		    "   GetProduct after the lock's release: code %d\n", code);
	CHECK(code == CODE_OK_);
	CHECK(hostile_log_count(&srv, "overload:") >= 1);
	for (int i = 0; i < CAP; i++) {
		free(calls[i]);
	}
	nng_close(s);
	PQfinish(holder);
	PQfinish(monitor);
	CHECK(hostile_stop(&srv));
}

int
main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(void);
	} cases[] = {
		{ "pipeline", test_pipeline },
		{ "noread", test_noread },
		{ "trickle", test_trickle },
		{ "flood", test_flood },
		{ "pending", test_pending },
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
