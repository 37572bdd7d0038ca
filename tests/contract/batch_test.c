/* SPDX-License-Identifier: MIT */
/*
 * Batching never changes what a call means (DESIGN.md, "Batching
 * rules"), shown rule by rule with real batch frames: Request
 * envelopes built with protobuf-c, packed into one Request.batch, sent
 * over a bare nng REQ socket to the fixtures' inventoryd (real
 * PostgreSQL), Response.batch decoded by position, and the database read
 * back with libpq:
 *   - each call of a frame gets its own status and its own request id,
 *     at its own position, the status it gets when sent alone;
 *   - a conflict carries a current_version strictly above the expected one
 *     and the current product;
 *   - writes to one product run one per statement in arrival order (also
 *     when a frame holds more calls than one executor takes at once);
 *   - a request id twice for the same call applies once and both get the
 *     first outcome; reused for another call it gets ALREADY_EXISTS for
 *     that call only;
 *   - an expired deadline never reaches the database, and a slow
 *     statement is cancelled at the earliest deadline among its calls
 *     while its neighbours still get their own outcome;
 *   - rows are locked in id order: concurrent frames writing the same
 *     products in shuffled orders never deadlock, and every OK is exactly
 *     one version.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "batch_wire.h"
#include "contract_db.h"
#include "testenv.h"

enum {
	RECV_MS         = 20000, /* no reply within this: the test fails */
	CHAIN           = 300,   /* > EXECUTOR_BATCH_MAX (256) calls */
	STRESS_THREADS  = 4,
	STRESS_PRODUCTS = 8,
	STRESS_MS       = 2000,
};

static nng_socket sock;
static PGconn    *db;

/* ---- helpers ------------------------------------------------------------ */

static void
rid(char *buf)
{
	testenv_request_id(buf, 64);
}

static void
unique_name(char *buf, size_t len, const char *what)
{
	char r[64];

	rid(r);
	snprintf(buf, len, "batch %s %s", what, r);
}

static struct bw_product
make_product(const char *what, int64_t stock)
{
	struct bw_product p;
	char              name[128];
	int               code;

	unique_name(name, sizeof(name), what);
	code = bw_create_product(sock, name, stock, "1.50", &p);
	if (code != 0)
		fail_msg("CreateProduct %s: code %d", name, code);
	return p;
}

static long long
db_col(const char *col, const char *id)
{
	char sql[128];

	snprintf(sql, sizeof(sql),
	    "SELECT %s FROM products WHERE id = $1::uuid", col);
	return contract_db_exec(db, sql, id);
}

/* Send f, fail unless the reply is a batch of f->n answers. */
static Inventory__V1__Response *
send_frame(nng_socket s, const struct bw_frame *f)
{
	Inventory__V1__Response *resp;
	int                      rv = bw_send_frame(s, f, &resp);

	if (rv != 0)
		fail_msg(
		    "batch frame of %zu calls: %s", f->n, nng_strerror(rv));
	if (resp->n_batch != f->n)
		fail_msg(
		    "batch frame of %zu calls answered with %zu (code %s: "
		    "%s)",
		    f->n, resp->n_batch, bw_code_name(resp->code),
		    resp->message != NULL ? resp->message : "");
	/* An accepted frame carries no status of its own. */
	assert_true(!resp->has_code || resp->code == 0);
	return resp;
}

/* Send one call alone, as a single frame. */
static Inventory__V1__Response *
send_alone(nng_socket s, const Inventory__V1__Request *call)
{
	Inventory__V1__Response *resp;
	size_t                   len;
	uint8_t                 *buf = bw_single_pack(call, &len);
	int                      rv  = bw_exchange(s, buf, len, &resp);

	free(buf);
	if (rv != 0)
		fail_msg("single call: %s", nng_strerror(rv));
	return resp;
}

/* Send f while the row of product `locked` is held by another session for
 * hold_ms, then release it and wait for the reply (a batch of f->n). */
static Inventory__V1__Response *
send_frame_locked(
    nng_socket s, const struct bw_frame *f, const char *locked, int hold_ms)
{
	PGconn                  *holder = contract_db_connect();
	Inventory__V1__Response *resp;
	size_t                   len;
	uint8_t                 *buf = bw_frame_pack(f, &len);
	nng_msg                 *msg;

	contract_db_lock_product(holder, locked);
	assert_int_equal(nng_msg_alloc(&msg, 0), 0);
	assert_int_equal(nng_msg_append(msg, buf, len), 0);
	free(buf);
	assert_int_equal(nng_sendmsg(s, msg, 0), 0);
	testenv_sleep_ms(hold_ms);
	contract_db_exec(holder, "COMMIT", NULL);
	PQfinish(holder);
	assert_int_equal(nng_recvmsg(s, &msg, 0), 0);
	resp = inventory__v1__response__unpack(
	    NULL, nng_msg_len(msg), nng_msg_body(msg));
	nng_msg_free(msg);
	assert_non_null(resp);
	if (resp->n_batch != f->n)
		fail_msg("batch frame of %zu calls answered with %zu", f->n,
		    resp->n_batch);
	return resp;
}

/* Entry i of a batch reply has code `want` and echoes `rid` (NULL: no
 * request id echoed). */
#define check_entry(resp, i, want, r) \
	check_entry_at(resp, i, want, r, __LINE__)

static const Inventory__V1__Response *
check_entry_at(const Inventory__V1__Response *resp, size_t i, uint32_t want,
    const char *r, int line)
{
	const Inventory__V1__Response *e = resp->batch[i];

	if (!e->has_code || e->code != want)
		fail_msg("line %d: entry %zu: got %s, want %s: %s", line, i,
		    e->has_code ? bw_code_name(e->code) : "(no code)",
		    bw_code_name(want), e->message != NULL ? e->message : "");
	if (r == NULL && e->request_id != NULL)
		fail_msg("line %d: entry %zu echoes request id %s, want none",
		    line, i, e->request_id);
	if (r != NULL &&
	    (e->request_id == NULL || strcmp(e->request_id, r) != 0))
		fail_msg("line %d: entry %zu echoes request id %s, want %s",
		    line, i, e->request_id ? e->request_id : "(none)", r);
	if (want == 0) {
		assert_true(e->has_payload);
	} else {
		/* An error has a reason and no payload. */
		assert_non_null(e->message);
		assert_true(e->message[0] != '\0');
		assert_false(e->has_payload);
	}
	return e;
}

static struct bw_product
entry_product(const Inventory__V1__Response *resp, size_t i)
{
	struct bw_product p;

	if (bw_reply_product(resp->batch[i], &p) != 0)
		fail_msg("entry %zu: OK without a product", i);
	return p;
}

static int
group_setup(void **state)
{
	int rv;

	(void)state;
	if ((rv = bw_open(testenv_server(), RECV_MS, &sock)) != 0) {
		print_error("nng: %s\n", nng_strerror(rv));
		return -1;
	}
	db = contract_db_connect();
	return 0;
}

static int
group_teardown(void **state)
{
	(void)state;
	nng_close(sock);
	PQfinish(db);
	nng_fini();
	return 0;
}

/* ---- a. each call its own status ---------------------------------------- */

static void
test_each_call_own_status(void **state)
{
	struct bw_product                 p = make_product("status p", 10);
	struct bw_product                 q = make_product("status q", 20);
	struct bw_product                 got;
	Inventory__V1__UpdateStockRequest no_stock =
	    INVENTORY__V1__UPDATE_STOCK_REQUEST__INIT;
	Inventory__V1__BatchGetProductsRequest bg =
	    INVENTORY__V1__BATCH_GET_PRODUCTS_REQUEST__INIT;
	Inventory__V1__Request  *nested;
	Inventory__V1__Response *resp, *alone, *setup;
	struct bw_frame          f = { 0 };
	char                     r[14][64], missing[37], name[128];
	char                    *bg_ids[2];
	const char *long_rid = "0123456789012345678901234567890123456789"
	                       "0123456789012345678901234";
	/* The code wanted at each position, and whether the call, sent
	 * alone afterwards, must get the same code (not for the calls that
	 * change the database or only mean something inside a batch). */
	static const uint32_t want[14] = { 0, 5, 3, 12, 10, 0, 3, 0, 5, 4, 3,
		3, 0, 5 };
	static const int alone_ok[14]  = { 1, 1, 1, 1, 1, 0, 1, 0, 1, 1, 0, 1,
		 1, 1 };

	(void)state;
	for (size_t i = 0; i < 14; i++)
		rid(r[i]);
	testenv_uuid(missing);
	unique_name(name, sizeof(name), "status new");

	/* q moves to version 2, so an UpdateStock expecting 1 conflicts. */
	{
		Inventory__V1__Request *u =
		    bw_update(NULL, q.id, 21, 1, 10000);

		setup = send_alone(sock, u);
		assert_int_equal(setup->code, 0);
		inventory__v1__response__free_unpacked(setup, NULL);
		bw_call_free(u);
	}

	no_stock.id                   = p.id;
	no_stock.has_expected_version = 1;
	no_stock.expected_version     = 1;
	bg_ids[0]                     = p.id;
	bg_ids[1]                     = missing;
	bg.n_ids                      = 2;
	bg.ids                        = bg_ids;
	nested           = bw_call(NULL, r[10], BW_NO_TIMEOUT, NULL);
	nested->n_batch  = 1;
	nested->batch    = malloc(sizeof(*nested->batch));
	nested->batch[0] = bw_get(NULL, p.id, BW_NO_TIMEOUT);

	bw_frame_add(&f, bw_get(r[0], p.id, BW_NO_TIMEOUT));
	bw_frame_add(&f, bw_get(r[1], missing, 10000));
	bw_frame_add(&f, bw_call("UpdateStock", r[2], 10000, &no_stock.base));
	bw_frame_add(&f, bw_call("DeleteProduct", r[3], 10000, NULL));
	bw_frame_add(&f, bw_update(r[4], q.id, 19, 1, 10000));
	bw_frame_add(&f, bw_update(r[5], p.id, 9, 1, 10000));
	bw_frame_add(&f, bw_get(r[6], "not-a-uuid", 10000));
	bw_frame_add(&f, bw_create(r[7], name, 3, "2.25", 10000));
	bw_frame_add(&f, bw_call("BatchGetProducts", r[8], 10000, &bg.base));
	bw_frame_add(&f, bw_get(r[9], p.id, 0));
	bw_frame_add(&f, nested);
	bw_frame_add(&f, bw_get(long_rid, p.id, 10000));
	bw_frame_add(&f, bw_get(NULL, q.id, 10000));
	bw_frame_add(&f, bw_update(r[13], missing, 1, 1, 10000));

	resp = send_frame(sock, &f);
	for (size_t i = 0; i < 14; i++) {
		/* 11's request id is too long (not echoed); 12 has none. */
		const char *echo = i == 11 || i == 12 ? NULL : r[i];

		check_entry(resp, i, want[i], echo);
	}
	got = entry_product(resp, 0);
	assert_string_equal(got.id, p.id);
	got = entry_product(resp, 5);
	assert_string_equal(got.id, p.id);
	assert_int_equal(got.version, 2);
	assert_int_equal(got.stock, 9);
	got = entry_product(resp, 7);
	assert_string_equal(got.name, name);
	assert_int_equal(got.version, 1);
	assert_int_equal(got.stock, 3);
	got = entry_product(resp, 12);
	assert_string_equal(got.id, q.id);
	assert_int_equal(got.stock, 21);
	assert_non_null(resp->batch[4]->details);
	assert_int_equal(resp->batch[4]->details->current_version, 2);
	/* BatchGetProducts names the first missing id. */
	assert_non_null(strstr(resp->batch[8]->message, missing));

	/* The same calls alone get the same codes. */
	for (size_t i = 0; i < 14; i++) {
		if (!alone_ok[i])
			continue;
		alone = send_alone(sock, f.calls[i]);
		if (alone->code != resp->batch[i]->code)
			fail_msg("entry %zu: %s in the batch, %s alone", i,
			    bw_code_name(resp->batch[i]->code),
			    bw_code_name(alone->code));
		inventory__v1__response__free_unpacked(alone, NULL);
	}
	/* Only entry 5 wrote p; the conflict left q alone. */
	assert_int_equal(db_col("version", p.id), 2);
	assert_int_equal(db_col("stock", p.id), 9);
	assert_int_equal(db_col("version", q.id), 2);
	assert_int_equal(db_col("stock", q.id), 21);

	inventory__v1__response__free_unpacked(resp, NULL);
	bw_frame_fini(&f);
}

/* ---- b. a conflict carries the latest ----------------------------------- */

static void
test_conflict_carries_latest(void **state)
{
	struct bw_product        p = make_product("conflict p", 5);
	struct bw_product        o = make_product("conflict other", 5);
	struct bw_frame          f = { 0 };
	Inventory__V1__Response *resp;
	char                     r[4][64];

	(void)state;
	for (int i = 0; i < 4; i++)
		rid(r[i]);
	/* p moves to version 3, stock 3, behind the callers' backs. */
	for (int v = 1; v <= 2; v++) {
		Inventory__V1__Request *u =
		    bw_update(NULL, p.id, 5 - v, v, 10000);
		Inventory__V1__Response *a = send_alone(sock, u);

		assert_int_equal(a->code, 0);
		inventory__v1__response__free_unpacked(a, NULL);
		bw_call_free(u);
	}
	bw_frame_add(&f, bw_update(r[0], p.id, 1, 1, 10000));
	bw_frame_add(&f, bw_update(r[1], o.id, 4, 1, 10000));
	bw_frame_add(&f, bw_update(r[2], p.id, 2, 2, 10000));
	resp = send_frame(sock, &f);
	check_entry(resp, 1, 0, r[1]);
	for (size_t i = 0; i <= 2; i += 2) {
		const Inventory__V1__Response *e =
		    check_entry(resp, i, 10, r[i]);
		int64_t           ex = i == 0 ? 1 : 2;
		struct bw_product cur;

		assert_non_null(e->details);
		assert_true(e->details->has_current_version);
		if (e->details->current_version <= ex)
			fail_msg("entry %zu: current_version %" PRId64
			         " not above the expected %" PRId64,
			    i, e->details->current_version, ex);
		assert_int_equal(e->details->current_version, 3);
		assert_non_null(e->details->current);
		bw_product_copy(e->details->current, &cur);
		assert_string_equal(cur.id, p.id);
		assert_string_equal(cur.name, p.name);
		assert_string_equal(cur.price, p.price);
		assert_int_equal(cur.version, e->details->current_version);
		assert_int_equal(cur.version, db_col("version", p.id));
		assert_int_equal(cur.stock, db_col("stock", p.id));
	}
	assert_int_equal(db_col("version", p.id), 3);
	assert_int_equal(db_col("stock", p.id), 3);
	inventory__v1__response__free_unpacked(resp, NULL);
	bw_frame_fini(&f);
}

/* ---- c. writes to one product in arrival order -------------------------- */

static void
test_writes_in_arrival_order(void **state)
{
	struct bw_product        p = make_product("order p", 10);
	struct bw_product        q = make_product("order q", 10);
	struct bw_frame          f = { 0 };
	Inventory__V1__Response *resp;
	struct bw_product        got;
	char                     r[5][64];

	(void)state;
	for (int i = 0; i < 5; i++)
		rid(r[i]);
	bw_frame_add(&f, bw_update(r[0], p.id, 7, 1, 10000));
	bw_frame_add(&f, bw_update(r[1], q.id, 1, 1, 10000));
	bw_frame_add(&f, bw_update(r[2], p.id, 6, 2, 10000));
	bw_frame_add(&f, bw_update(r[3], p.id, 5, 2, 10000));
	bw_frame_add(&f, bw_update(r[4], q.id, 2, 2, 10000));
	resp = send_frame(sock, &f);

	check_entry(resp, 0, 0, r[0]);
	got = entry_product(resp, 0);
	assert_int_equal(got.version, 2);
	assert_int_equal(got.stock, 7);
	check_entry(resp, 2, 0, r[2]);
	got = entry_product(resp, 2);
	assert_int_equal(got.version, 3);
	assert_int_equal(got.stock, 6);
	check_entry(resp, 3, 10, r[3]);
	assert_int_equal(resp->batch[3]->details->current_version, 3);
	assert_int_equal(resp->batch[3]->details->current->stock, 6);
	check_entry(resp, 1, 0, r[1]);
	check_entry(resp, 4, 0, r[4]);
	got = entry_product(resp, 4);
	assert_int_equal(got.version, 3);

	assert_int_equal(db_col("version", p.id), 3);
	assert_int_equal(db_col("stock", p.id), 6);
	assert_int_equal(db_col("version", q.id), 3);
	assert_int_equal(db_col("stock", q.id), 2);
	inventory__v1__response__free_unpacked(resp, NULL);
	bw_frame_fini(&f);
}

/* A frame may carry 1000 calls, more than one executor takes at once
 * (EXECUTOR_BATCH_MAX, 256): its writes to one product still run in
 * arrival order.  A write to a product z whose row is locked for 300 ms,
 * then CHAIN writes to p, write i expecting version i: all OK.  (z's lock
 * holds up the first writes of p, which share z's statement, so that a
 * later part of the frame run elsewhere meanwhile shows; the assertions
 * come after the frees, so a failure leaves nothing to the leak
 * checker.) */
static void
test_long_chain_in_arrival_order(void **state)
{
	struct bw_product        p = make_product("chain p", 0);
	struct bw_product        z = make_product("chain z", 0);
	struct bw_frame          f = { 0 };
	Inventory__V1__Response *resp;
	char                     r[64];
	int                      bad = 0, first_bad = -1;
	uint32_t                 zcode;

	(void)state;
	rid(r);
	bw_frame_add(&f, bw_update(r, z.id, 1, 1, 20000));
	for (int i = 1; i <= CHAIN; i++) {
		rid(r);
		bw_frame_add(&f, bw_update(r, p.id, i, i, 20000));
	}
	resp  = send_frame_locked(sock, &f, z.id, 300);
	zcode = resp->batch[0]->code;
	for (int i = 0; i < CHAIN; i++) {
		const Inventory__V1__Response *e = resp->batch[i + 1];
		struct bw_product              got;

		if (bw_reply_product(e, &got) == 0 && e->code == 0 &&
		    got.version == i + 2)
			continue;
		if (first_bad < 0) {
			first_bad = i;
			printf("write %d (expects version %d): %s: %s\n",
			    i + 1, i + 1, bw_code_name(e->code),
			    e->message ? e->message : "");
		}
		bad++;
	}
	printf("%d of %d chained writes in one frame not applied in order; "
	       "final version %lld\n",
	    bad, CHAIN, db_col("version", p.id));
	inventory__v1__response__free_unpacked(resp, NULL);
	bw_frame_fini(&f);
	assert_int_equal(zcode, 0);
	assert_int_equal(bad, 0);
	assert_int_equal(db_col("version", p.id), CHAIN + 1);
	assert_int_equal(db_col("stock", p.id), CHAIN);
}

/* ---- d. the same request id twice, same call ---------------------------- */

static void
test_repeat_applies_once(void **state)
{
	struct bw_product        p = make_product("repeat p", 10);
	struct bw_product        q = make_product("repeat q", 10);
	struct bw_product        a, b;
	struct bw_frame          f = { 0 }, c = { 0 };
	Inventory__V1__Response *resp;
	char                     x[64], y[64], z[64], name[128];

	(void)state;
	rid(x);
	rid(y);
	rid(z);
	bw_frame_add(&f, bw_update(x, p.id, 7, 1, 10000));
	bw_frame_add(&f, bw_update(y, q.id, 3, 1, 10000));
	bw_frame_add(&f, bw_update(x, p.id, 7, 1, 10000));
	/* The whole frame twice: the second as if the first reply was lost. */
	for (int round = 0; round < 2; round++) {
		resp = send_frame(sock, &f);
		check_entry(resp, 0, 0, x);
		check_entry(resp, 1, 0, y);
		check_entry(resp, 2, 0, x);
		a = entry_product(resp, 0);
		b = entry_product(resp, 2);
		assert_int_equal(a.version, 2);
		assert_int_equal(b.version, a.version);
		assert_int_equal(b.stock, 7);
		inventory__v1__response__free_unpacked(resp, NULL);
		assert_int_equal(db_col("version", p.id), 2);
		assert_int_equal(db_col("stock", p.id), 7);
		assert_int_equal(db_col("version", q.id), 2);
	}

	/* CreateProduct twice with one request id: one product. */
	unique_name(name, sizeof(name), "repeat create");
	bw_frame_add(&c, bw_create(z, name, 4, "3.00", 10000));
	bw_frame_add(&c, bw_create(z, name, 4, "3.00", 10000));
	resp = send_frame(sock, &c);
	check_entry(resp, 0, 0, z);
	check_entry(resp, 1, 0, z);
	a = entry_product(resp, 0);
	b = entry_product(resp, 1);
	assert_string_equal(a.id, b.id);
	assert_int_equal(
	    contract_db_exec(
	        db, "SELECT count(*) FROM products WHERE name = $1", name),
	    1);
	inventory__v1__response__free_unpacked(resp, NULL);
	bw_frame_fini(&f);
	bw_frame_fini(&c);
}

/* A repeat takes the first call's outcome only when that applied (OK):
 * a first call that failed logged nothing, so the repeat runs itself, as
 * it would sent after it: here after a write that makes its version the
 * current one (the first got INVALID_ARGUMENT, the repeat applies), and
 * after a first call that ran out of its deadline on a row lock (the
 * client's resend after a timeout, with a longer deadline, applies once
 * the lock is gone). */
static void
test_repeat_of_failure_runs(void **state)
{
	struct bw_product        p = make_product("repeat failed p", 10);
	struct bw_product        q = make_product("repeat expired q", 10);
	struct bw_product        got;
	struct bw_frame          f = { 0 }, g = { 0 };
	Inventory__V1__Response *resp;
	char                     x[64], y[64];

	(void)state;
	rid(x);
	rid(y);
	bw_frame_add(&f, bw_update(x, p.id, 7, 2, 10000)); /* future: 3 */
	bw_frame_add(&f, bw_update(NULL, p.id, 3, 1, 10000));
	bw_frame_add(&f, bw_update(x, p.id, 7, 2, 10000)); /* now fits */
	resp = send_frame(sock, &f);
	check_entry(resp, 0, 3, x);
	check_entry(resp, 1, 0, NULL);
	check_entry(resp, 2, 0, x);
	got = entry_product(resp, 2);
	assert_int_equal(got.version, 3);
	assert_int_equal(got.stock, 7);
	assert_int_equal(db_col("version", p.id), 3);
	inventory__v1__response__free_unpacked(resp, NULL);

	/* The first waits on q's lock past its 300 ms; the lock goes at
	 * 1 s, within the resend's 10 s. */
	bw_frame_add(&g, bw_update(y, q.id, 4, 1, 300));
	bw_frame_add(&g, bw_update(y, q.id, 4, 1, 10000));
	resp = send_frame_locked(sock, &g, q.id, 1000);
	check_entry(resp, 0, 4, y);
	check_entry(resp, 1, 0, y);
	got = entry_product(resp, 1);
	assert_int_equal(got.version, 2);
	assert_int_equal(db_col("version", q.id), 2);
	assert_int_equal(db_col("stock", q.id), 4);
	inventory__v1__response__free_unpacked(resp, NULL);
	bw_frame_fini(&f);
	bw_frame_fini(&g);
}

/* A read after a write of the same product in the frame sees the write,
 * as it would sent after it; a read before it does not. */
static void
test_read_after_write_sees_it(void **state)
{
	struct bw_product        p = make_product("read after write", 10);
	struct bw_product        got;
	struct bw_frame          f = { 0 };
	Inventory__V1__Response *resp;

	(void)state;
	bw_frame_add(&f, bw_get(NULL, p.id, 10000));
	bw_frame_add(&f, bw_update(NULL, p.id, 5, 1, 10000));
	bw_frame_add(&f, bw_get(NULL, p.id, 10000));
	resp = send_frame(sock, &f);
	check_entry(resp, 0, 0, NULL);
	check_entry(resp, 1, 0, NULL);
	check_entry(resp, 2, 0, NULL);
	got = entry_product(resp, 0);
	assert_int_equal(got.version, 1);
	assert_int_equal(got.stock, 10);
	got = entry_product(resp, 2);
	assert_int_equal(got.version, 2);
	assert_int_equal(got.stock, 5);
	inventory__v1__response__free_unpacked(resp, NULL);
	bw_frame_fini(&f);
}

static Inventory__V1__Request *
adjust_call(const char *id, int64_t delta, long timeout_ms)
{
	Inventory__V1__AdjustStockRequest r =
	    INVENTORY__V1__ADJUST_STOCK_REQUEST__INIT;

	r.id        = (char *)id;
	r.has_delta = 1;
	r.delta     = delta;
	return bw_call("AdjustStock", NULL, timeout_ms, &r.base);
}

static Inventory__V1__Request *
reserve_call(const char *id, int64_t quantity, long timeout_ms)
{
	Inventory__V1__ReserveStockRequest r =
	    INVENTORY__V1__RESERVE_STOCK_REQUEST__INIT;
	Inventory__V1__ReserveItem  it  = INVENTORY__V1__RESERVE_ITEM__INIT;
	Inventory__V1__ReserveItem *pit = &it;

	it.id           = (char *)id;
	it.has_quantity = 1;
	it.quantity     = quantity;
	r.n_items       = 1;
	r.items         = &pit;
	return bw_call("ReserveStock", NULL, timeout_ms, &r.base);
}

/* A call that waits on a row lock (here without a deadline of its own)
 * never spends the deadline of the calls behind it that do not depend on
 * it: AdjustStock and ReserveStock of a product another session holds
 * for 1.5 s, then calls of other products with 500 ms each.  Sent one
 * after the other those would each have their 500 ms once sent; in the
 * frame they run while the first waits, and the first applies once the
 * lock is gone. */
static void
test_waiter_spares_neighbours(void **state)
{
	struct bw_product        p = make_product("waiter p", 10);
	struct bw_product        q = make_product("neighbour q", 10);
	struct bw_product        r = make_product("neighbour r", 10);
	struct bw_frame          f = { 0 };
	Inventory__V1__Response *resp;

	(void)state;
	bw_frame_add(&f, adjust_call(p.id, -1, BW_NO_TIMEOUT));
	bw_frame_add(&f, reserve_call(p.id, 2, BW_NO_TIMEOUT));
	bw_frame_add(&f, adjust_call(q.id, 1, 500));
	bw_frame_add(&f, reserve_call(r.id, 3, 500));
	bw_frame_add(&f, bw_update(NULL, q.id, 4, 2, 500));
	resp = send_frame_locked(sock, &f, p.id, 1500);
	check_entry(resp, 0, 0, NULL);
	check_entry(resp, 1, 0, NULL);
	check_entry(resp, 2, 0, NULL);
	check_entry(resp, 3, 0, NULL);
	check_entry(resp, 4, 0, NULL);
	assert_int_equal(db_col("stock", p.id), 7);
	assert_int_equal(db_col("version", p.id), 3);
	assert_int_equal(db_col("stock", q.id), 4);
	assert_int_equal(db_col("version", q.id), 3);
	assert_int_equal(db_col("stock", r.id), 7);
	inventory__v1__response__free_unpacked(resp, NULL);
	bw_frame_fini(&f);
}

/* ---- e. a request id reused for another call ---------------------------- */

static void
test_reuse_already_exists(void **state)
{
	struct bw_product        p = make_product("reuse p", 10);
	struct bw_product        q = make_product("reuse q", 10);
	struct bw_product        got;
	struct bw_frame          f = { 0 };
	Inventory__V1__Response *resp;
	char                     x[64], y[64], g[64], name[128];

	(void)state;
	rid(x);
	rid(y);
	rid(g);
	unique_name(name, sizeof(name), "reuse create");
	bw_frame_add(&f, bw_update(x, p.id, 7, 1, 10000));
	bw_frame_add(&f, bw_update(x, p.id, 8, 1, 10000));
	bw_frame_add(&f, bw_update(y, q.id, 3, 1, 10000));
	bw_frame_add(&f, bw_create(x, name, 1, "1.00", 10000));
	bw_frame_add(&f, bw_get(g, q.id, 10000));
	resp = send_frame(sock, &f);
	check_entry(resp, 0, 0, x);
	check_entry(resp, 1, 6, x);
	check_entry(resp, 2, 0, y);
	check_entry(resp, 3, 6, x);
	check_entry(resp, 4, 0, g);
	got = entry_product(resp, 0);
	assert_int_equal(got.version, 2);
	assert_int_equal(got.stock, 7);
	assert_int_equal(db_col("version", p.id), 2);
	assert_int_equal(db_col("stock", p.id), 7);
	assert_int_equal(db_col("version", q.id), 2);
	assert_int_equal(
	    contract_db_exec(
	        db, "SELECT count(*) FROM products WHERE name = $1", name),
	    0);
	inventory__v1__response__free_unpacked(resp, NULL);
	bw_frame_fini(&f);
}

/* The same, with the two calls on either side of the most one executor
 * takes at once (positions 255 and 256 of a frame of 257 calls that need
 * the database): the first still applies, the second still gets
 * ALREADY_EXISTS.  Position 0 writes a product z whose row is locked for
 * 300 ms, which holds up the first call (they share a statement), so a
 * second executor running the second call meanwhile shows.  (The
 * assertions come after the frees: a failure leaves nothing to the leak
 * checker.) */
static void
test_reuse_across_executor_cap(void **state)
{
	struct bw_product        p = make_product("reuse cap p", 10);
	struct bw_product        z = make_product("reuse cap z", 10);
	struct bw_frame          f = { 0 };
	Inventory__V1__Response *resp;
	uint32_t                 zcode, first, again;
	char                     x[64], r[64];

	/* z before p in id order, so that the first executor waits for
	 * z's lock without holding p's. */
	while (strcmp(z.id, p.id) > 0)
		z = make_product("reuse cap z", 10);

	(void)state;
	rid(x);
	rid(r);
	bw_frame_add(&f, bw_update(r, z.id, 1, 1, 20000));
	for (int i = 1; i < 255; i++)
		bw_frame_add(&f, bw_get(NULL, p.id, 20000));
	bw_frame_add(&f, bw_update(x, p.id, 7, 1, 20000));
	bw_frame_add(&f, bw_update(x, p.id, 8, 1, 20000));
	resp  = send_frame_locked(sock, &f, z.id, 300);
	zcode = resp->batch[0]->code;
	first = resp->batch[255]->code;
	again = resp->batch[256]->code;
	printf("first call with %s: %s; second: %s; stock now %lld\n", x,
	    bw_code_name(first), bw_code_name(again), db_col("stock", p.id));
	for (int i = 255; i <= 256; i++) {
		assert_non_null(resp->batch[i]->request_id);
		assert_string_equal(resp->batch[i]->request_id, x);
	}
	inventory__v1__response__free_unpacked(resp, NULL);
	bw_frame_fini(&f);
	assert_int_equal(zcode, 0);
	assert_int_equal(first, 0);
	assert_int_equal(again, 6);
	assert_int_equal(db_col("version", p.id), 2);
	assert_int_equal(db_col("stock", p.id), 7);
}

/* ---- f. an expired deadline never reaches the database ------------------ */

static void
test_expired_never_reaches_db(void **state)
{
	struct bw_product        p = make_product("expired p", 10);
	struct bw_product        q = make_product("expired q", 10);
	struct bw_frame          f = { 0 }, g = { 0 };
	Inventory__V1__Response *resp;
	char                     r[4][64], name[128];

	(void)state;
	for (int i = 0; i < 4; i++)
		rid(r[i]);
	unique_name(name, sizeof(name), "expired create");
	bw_frame_add(&f, bw_update(r[0], p.id, 99, 1, 0));
	bw_frame_add(&f, bw_update(r[1], q.id, 3, 1, 10000));
	bw_frame_add(&f, bw_get(r[2], p.id, 0));
	bw_frame_add(&f, bw_create(r[3], name, 1, "1.00", 0));
	resp = send_frame(sock, &f);
	check_entry(resp, 0, 4, r[0]);
	check_entry(resp, 1, 0, r[1]);
	check_entry(resp, 2, 4, r[2]);
	check_entry(resp, 3, 4, r[3]);
	inventory__v1__response__free_unpacked(resp, NULL);
	assert_int_equal(db_col("version", p.id), 1);
	assert_int_equal(db_col("stock", p.id), 10);
	assert_int_equal(db_col("version", q.id), 2);
	assert_int_equal(
	    contract_db_exec(
	        db, "SELECT count(*) FROM products WHERE name = $1", name),
	    0);

	/* A deadline that passes while an earlier write of the same product
	 * waits on a row lock: the later write is never run.  p is locked
	 * for 600 ms; write 1 (10 s) waits and applies, write 2 (200 ms,
	 * the next round) has expired by then.  Had it reached the
	 * database, p would be at version 3. */
	bw_frame_add(&g, bw_update(r[0], p.id, 50, 1, 10000));
	bw_frame_add(&g, bw_update(r[1], p.id, 40, 2, 200));
	resp = send_frame_locked(sock, &g, p.id, 600);
	check_entry(resp, 0, 0, r[0]);
	check_entry(resp, 1, 4, r[1]);
	assert_int_equal(db_col("version", p.id), 2);
	assert_int_equal(db_col("stock", p.id), 50);
	inventory__v1__response__free_unpacked(resp, NULL);
	bw_frame_fini(&f);
	bw_frame_fini(&g);
}

/* ---- g. a slow statement is bounded by the earliest deadline ------------ */

static void
test_earliest_deadline_bounds_statement(void **state)
{
	struct bw_product        p = make_product("slow p", 10);
	struct bw_product        q = make_product("slow q", 10);
	struct bw_frame          f = { 0 };
	Inventory__V1__Response *resp;
	PGconn                  *holder, *monitor;
	char                     r[2][64];
	long long                t0, took, blocked = -1;
	int                      waited;

	(void)state;
	rid(r[0]);
	rid(r[1]);
	holder  = contract_db_connect();
	monitor = contract_db_connect();
	contract_db_lock_product(holder, p.id);

	/* One round, one statement for both writes: it waits on p's lock
	 * and is cancelled at 300 ms; q's write, not locked, then runs on
	 * its own 10 s budget and succeeds although p's lock is still
	 * held. */
	bw_frame_add(&f, bw_update(r[0], p.id, 1, 1, 300));
	bw_frame_add(&f, bw_update(r[1], q.id, 2, 1, 10000));
	t0   = testenv_mono_ms();
	resp = send_frame(sock, &f);
	took = testenv_mono_ms() - t0;
	printf(
	    "frame answered after %lld ms with the lock still held\n", took);
	check_entry(resp, 0, 4, r[0]);
	check_entry(resp, 1, 0, r[1]);
	assert_true(took >= 250);
	assert_true(took < 2000); /* not the 10 s budget */

	/* No inventoryd backend is left waiting on the lock. */
	for (waited = 0; waited <= 2000; waited += 50) {
		blocked = contract_db_blocked_by(monitor, holder, true);
		if (blocked == 0)
			break;
		testenv_sleep_ms(50);
	}
	printf("inventoryd backends blocked %d ms after the frame: %lld\n",
	    waited, blocked);
	assert_int_equal(blocked, 0);
	assert_int_equal(db_col("version", q.id), 2);

	contract_db_exec(holder, "COMMIT", NULL);
	assert_int_equal(db_col("version", p.id), 1);
	assert_int_equal(db_col("stock", p.id), 10);
	inventory__v1__response__free_unpacked(resp, NULL);
	PQfinish(monitor);
	PQfinish(holder);
	bw_frame_fini(&f);
}

/* ---- h. rows locked in id order: no deadlock ---------------------------- */

struct stress {
	pthread_t thread;
	unsigned  seed;
	long long end_ms;
	char (*ids)[37];
	long ok[STRESS_PRODUCTS];
	long aborted, frames, bad;
	char first_bad[256];
};

static void
stress_bad(struct stress *s, const char *what, uint32_t code, const char *msg)
{
	if (s->bad++ == 0)
		snprintf(s->first_bad, sizeof(s->first_bad), "%s: %s: %s",
		    what, bw_code_name(code), msg != NULL ? msg : "");
}

static void *
stress_main(void *arg)
{
	struct stress *s = arg;
	nng_socket     ns;
	int            rv;

	if ((rv = bw_open(testenv_server(), RECV_MS, &ns)) != 0) {
		stress_bad(s, "open", 1000 + (uint32_t)rv, nng_strerror(rv));
		return NULL;
	}
	while (testenv_mono_ms() < s->end_ms) {
		struct bw_frame          reads = { 0 }, writes = { 0 };
		Inventory__V1__Response *resp;
		int64_t                  ver[STRESS_PRODUCTS];
		int64_t                  expect[STRESS_PRODUCTS + 1];
		int  which[STRESS_PRODUCTS + 1], order[STRESS_PRODUCTS];
		char r[64];
		int  n = 0;

		for (int i = 0; i < STRESS_PRODUCTS; i++)
			bw_frame_add(&reads, bw_get(NULL, s->ids[i], 10000));
		rv = bw_send_frame(ns, &reads, &resp);
		bw_frame_fini(&reads);
		if (rv != 0 || resp->n_batch != STRESS_PRODUCTS) {
			stress_bad(s, "read frame", 1000 + (uint32_t)rv,
			    rv != 0 ? nng_strerror(rv) : "short reply");
			if (resp != NULL)
				inventory__v1__response__free_unpacked(
				    resp, NULL);
			break;
		}
		for (int i = 0; i < STRESS_PRODUCTS; i++) {
			struct bw_product p;

			if (resp->batch[i]->code != 0 ||
			    bw_reply_product(resp->batch[i], &p) != 0) {
				stress_bad(s, "read", resp->batch[i]->code,
				    resp->batch[i]->message);
				ver[i] = 1;
				continue;
			}
			ver[i] = p.version;
		}
		inventory__v1__response__free_unpacked(resp, NULL);

		/* All products in a shuffled order, sometimes one of them
		 * twice (the second based on the first's version: a later
		 * round of the same statement batch). */
		for (int i = 0; i < STRESS_PRODUCTS; i++)
			order[i] = i;
		for (int i = STRESS_PRODUCTS - 1; i > 0; i--) {
			int j = (int)(rand_r(&s->seed) % (unsigned)(i + 1));
			int t = order[i];

			order[i] = order[j];
			order[j] = t;
		}
		for (int i = 0; i < STRESS_PRODUCTS; i++) {
			which[n]  = order[i];
			expect[n] = ver[order[i]];
			n++;
		}
		if (rand_r(&s->seed) % 3 == 0) {
			int k     = (int)(rand_r(&s->seed) % STRESS_PRODUCTS);
			which[n]  = k;
			expect[n] = ver[k] + 1;
			n++;
		}
		for (int i = 0; i < n; i++) {
			testenv_request_id(r, sizeof(r));
			bw_frame_add(
			    &writes, bw_update(r, s->ids[which[i]],
			                 (int64_t)(rand_r(&s->seed) % 1000),
			                 expect[i], 10000));
		}
		rv = bw_send_frame(ns, &writes, &resp);
		bw_frame_fini(&writes);
		if (rv != 0 || resp->n_batch != (size_t)n) {
			stress_bad(s, "write frame", 1000 + (uint32_t)rv,
			    rv != 0 ? nng_strerror(rv) : "short reply");
			if (resp != NULL)
				inventory__v1__response__free_unpacked(
				    resp, NULL);
			break;
		}
		s->frames++;
		for (int i = 0; i < n; i++) {
			const Inventory__V1__Response *e = resp->batch[i];
			struct bw_product              p;

			if (e->code == 0 && bw_reply_product(e, &p) == 0 &&
			    p.version == expect[i] + 1) {
				s->ok[which[i]]++;
			} else if (e->code == 10 && e->details != NULL &&
			           e->details->current_version > expect[i]) {
				s->aborted++;
			} else {
				stress_bad(s, "write", e->code, e->message);
			}
		}
		inventory__v1__response__free_unpacked(resp, NULL);
	}
	nng_close(ns);
	return NULL;
}

/* Lines of the fixture server's log that report a deadlock. */
static long
log_deadlocks(void)
{
	const char *env = getenv("INVENTORY_TESTENV");
	char        path[1024], line[4096];
	FILE       *fp;
	long        n = 0;

	if (env == NULL)
		fail_msg("INVENTORY_TESTENV is not set");
	snprintf(path, sizeof(path), "%s/inventoryd.log", env);
	if ((fp = fopen(path, "r")) == NULL)
		fail_msg("cannot read %s", path);
	while (fgets(line, sizeof(line), fp) != NULL)
		n += strstr(line, "deadlock detected") != NULL;
	fclose(fp);
	return n;
}

static void
test_no_deadlock_in_id_order(void **state)
{
	static char   ids[STRESS_PRODUCTS][37];
	struct stress st[STRESS_THREADS];
	long          before = log_deadlocks(), after, frames = 0, aborted = 0;

	(void)state;
	for (int i = 0; i < STRESS_PRODUCTS; i++) {
		struct bw_product p = make_product("stress", 1000);

		snprintf(ids[i], sizeof(ids[i]), "%.36s", p.id);
	}
	memset(st, 0, sizeof(st));
	for (int t = 0; t < STRESS_THREADS; t++) {
		st[t].seed = (unsigned)(t + 1) * 7919u ^ (unsigned)time(NULL);
		st[t].end_ms = testenv_mono_ms() + STRESS_MS;
		st[t].ids    = ids;
		assert_int_equal(
		    pthread_create(&st[t].thread, NULL, stress_main, &st[t]),
		    0);
	}
	for (int t = 0; t < STRESS_THREADS; t++)
		pthread_join(st[t].thread, NULL);
	for (int t = 0; t < STRESS_THREADS; t++) {
		frames += st[t].frames;
		aborted += st[t].aborted;
		if (st[t].bad != 0)
			fail_msg("thread %d: %ld bad replies, first: %s", t,
			    st[t].bad, st[t].first_bad);
	}
	for (int i = 0; i < STRESS_PRODUCTS; i++) {
		long ok = 0;

		for (int t = 0; t < STRESS_THREADS; t++)
			ok += st[t].ok[i];
		if (db_col("version", ids[i]) != 1 + ok)
			fail_msg("product %d: version %lld, but 1 + %ld OK "
			         "writes",
			    i, db_col("version", ids[i]), ok);
	}
	after = log_deadlocks();
	printf("%ld write frames, %ld conflicts, %ld deadlocks logged\n",
	    frames, aborted, after - before);
	assert_true(frames >= STRESS_THREADS);
	assert_int_equal(after - before, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_each_call_own_status),
		cmocka_unit_test(test_conflict_carries_latest),
		cmocka_unit_test(test_writes_in_arrival_order),
		cmocka_unit_test(test_long_chain_in_arrival_order),
		cmocka_unit_test(test_repeat_applies_once),
		cmocka_unit_test(test_repeat_of_failure_runs),
		cmocka_unit_test(test_read_after_write_sees_it),
		cmocka_unit_test(test_waiter_spares_neighbours),
		cmocka_unit_test(test_reuse_already_exists),
		cmocka_unit_test(test_reuse_across_executor_cap),
		cmocka_unit_test(test_expired_never_reaches_db),
		cmocka_unit_test(test_earliest_deadline_bounds_statement),
		cmocka_unit_test(test_no_deadlock_in_id_order),
	};

	return cmocka_run_group_tests_name(
	    "contract.batch", tests, group_setup, group_teardown);
}
