/* SPDX-License-Identifier: MIT */
/*
 * A request resent by the REQ socket is applied exactly once.
 *
 * The product row is locked from a libpq connection (SELECT ... FOR
 * UPDATE in an open transaction on INVENTORY_DB), so the server's
 * UpdateStock blocks; meanwhile a REQ socket with a 50 ms resend time
 * sends the same request (same bytes, same request id) again and again,
 * and several copies reach the server's workers.  The lock is then
 * released.  Required: the reply is OK at expected_version + 1, and the
 * stored version advanced by exactly 1 (checked through the server and
 * directly in the database); a later explicit repeat of the request id
 * returns the first outcome.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "hostile.h"
#include "testenv.h"

enum {
	RESEND_MS = 50,  /* NNG_OPT_REQ_RESENDTIME */
	HOLD_MS   = 800, /* how long the row stays locked */
};

static PGresult *
sql(PGconn *db, const char *query, const char *param)
{
	const char *params[1] = { param };
	PGresult   *res       = PQexecParams(
	            db, query, param != NULL ? 1 : 0, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		fprintf(
		    stderr, "resend_test: %s: %s", query, PQerrorMessage(db));
		exit(1);
	}
	return res;
}

static long long
sql_int(PGconn *db, const char *query, const char *param)
{
	PGresult *res = sql(db, query, param);
	long long v = PQntuples(res) == 1 ? atoll(PQgetvalue(res, 0, 0)) : -1;

	PQclear(res);
	return v;
}

/* Decode an UpdateStock reply: code, and version/stock when OK. */
static uint32_t
update_reply(nng_msg *msg, int64_t *version, int64_t *stock)
{
	Inventory__V1__Response *resp = inventory__v1__response__unpack(
	    NULL, nng_msg_len(msg), nng_msg_body(msg));
	uint32_t code = 1000;

	*version = *stock = -1;
	if (resp == NULL) {
		return code;
	}
	code = resp->code;
	if (code == 0 && resp->has_payload) {
		Inventory__V1__UpdateStockResponse *u =
		    inventory__v1__update_stock_response__unpack(
		        NULL, resp->payload.len, resp->payload.data);
		if (u != NULL && u->product != NULL) {
			*version = u->product->version;
			*stock   = u->product->stock;
		}
		if (u != NULL) {
			inventory__v1__update_stock_response__free_unpacked(
			    u, NULL);
		}
	} else if (code != 0) {
		printf("  reply: %s %s\n", hostile_code_name(code),
		    resp->message != NULL ? resp->message : "");
	}
	inventory__v1__response__free_unpacked(resp, NULL);
	return code;
}

int
main(void)
{
	const char *url      = testenv_server();
	const char *conninfo = testenv_get("INVENTORY_DB");

	setvbuf(
	    stdout, NULL, _IOLBF, 0); /* progress survives a timeout kill */
	Inventory__V1__UpdateStockRequest u =
	    INVENTORY__V1__UPDATE_STOCK_REQUEST__INIT;
	nng_socket plain, resender;
	nng_msg   *msg;
	PGconn    *db;
	uint8_t   *buf;
	size_t     len;
	char       id[37], rid[64];
	int64_t    version = -1, stock = -1;
	long long  waiting, stored;
	uint32_t   code;
	int        rv;

	if (url == NULL || conninfo == NULL) {
		fprintf(stderr, "resend_test: server or database unknown\n");
		return 1;
	}
	plain = hostile_open(url, 10000);
	if (hostile_create(plain, "resend target", 10, "1.00", id) != 0) {
		fprintf(stderr, "resend_test: cannot create a product\n");
		return 1;
	}
	db = PQconnectdb(conninfo);
	if (PQstatus(db) != CONNECTION_OK) {
		fprintf(stderr, "resend_test: %s", PQerrorMessage(db));
		return 1;
	}

	/* Lock the row: the server's conditional UPDATE now waits. */
	PQclear(sql(db, "BEGIN", NULL));
	PQclear(sql(
	    db, "SELECT id FROM products WHERE id = $1::uuid FOR UPDATE", id));

	resender = hostile_open(url, 20000);
	CHECK(nng_socket_set_ms(resender, NNG_OPT_REQ_RESENDTIME, RESEND_MS) ==
	      0);
	u.id                   = id;
	u.has_stock            = 1;
	u.stock                = 7;
	u.has_expected_version = 1;
	u.expected_version     = 1;
	testenv_request_id(rid, sizeof(rid));
	buf = hostile_envelope("UpdateStock", rid, &u.base, &len);
	CHECK(nng_msg_alloc(&msg, 0) == 0);
	CHECK(nng_msg_append(msg, buf, len) == 0);
	CHECK(nng_sendmsg(resender, msg, 0) == 0);

	usleep(HOLD_MS * 1000);
	/* How many copies are queued behind our lock right now. */
	waiting = sql_int(db,
	    "SELECT count(*) FROM pg_stat_activity WHERE datname = "
	    "current_database() AND wait_event_type = 'Lock' AND pid <> "
	    "pg_backend_pid()",
	    NULL);
	printf("row locked for %d ms with resend every %d ms: %lld server "
	       "statements waiting on the lock\n",
	    HOLD_MS, RESEND_MS, waiting);
	CHECK(waiting >= 2); /* the resends really reached the server */
	PQclear(sql(db, "COMMIT", NULL));

	rv = nng_recvmsg(resender, &msg, 0);
	CHECK(rv == 0);
	if (rv == 0) {
		code = update_reply(msg, &version, &stock);
		nng_msg_free(msg);
		printf("reply: %s version %lld stock %lld\n",
		    hostile_code_name(code), (long long)version,
		    (long long)stock);
		CHECK(code == 0);
		CHECK(version == 2);
		CHECK(stock == 7);
	} else {
		printf("no reply: %s\n", nng_strerror(rv));
	}

	/* Let the other copies finish, then look at what is stored. */
	for (int i = 0; i < 50; i++) {
		if (sql_int(db,
		        "SELECT count(*) FROM pg_stat_activity WHERE datname "
		        "= "
		        "current_database() AND state = 'active' AND pid <> "
		        "pg_backend_pid()",
		        NULL) == 0) {
			break;
		}
		usleep(100 * 1000);
	}
	CHECK(hostile_get(plain, id, &version) == 0);
	stored = sql_int(
	    db, "SELECT version FROM products WHERE id = $1::uuid", id);
	printf("after the resends: version %lld via GetProduct, %lld in the "
	       "database (want 2)\n",
	    (long long)version, stored);
	CHECK(version == 2);
	CHECK(stored == 2);

	/* An explicit repeat of the request id: the first outcome again. */
	{
		Inventory__V1__Response *resp;
		CHECK(hostile_call(plain, buf, len, &resp) == 0);
		if (resp != NULL) {
			printf("explicit repeat of the request id: %s\n",
			    hostile_code_name(resp->code));
			CHECK(resp->code == 0);
			inventory__v1__response__free_unpacked(resp, NULL);
		}
		CHECK(hostile_get(plain, id, &version) == 0 && version == 2);
	}

	free(buf);
	PQfinish(db);
	nng_close(resender);
	nng_close(plain);
	nng_fini();
	printf("%s\n",
	    hostile_failures == 0 ? "ok: applied exactly once" : "FAILED");
	return hostile_failures == 0 ? 0 : 1;
}
