/* SPDX-License-Identifier: MIT */
/*
 * SIGTERM answers everything the server received, batch frames included,
 * on a private inventoryd (its own ipc:// socket and
 * log in a temporary directory, the fixtures' database) so that the shared
 * fixture's server keeps running.
 *
 * A product row is locked from libpq; single UpdateStock frames and batch
 * frames (a write to the locked product, a write to a free one and a
 * read) are sent from threads with long timeouts and wait on the lock in
 * the server's executors.  Then SIGTERM: the server must keep draining
 * (not exit, not drop anything) while the lock is held; once the lock is
 * released every call gets a reply with a definite status (exactly one
 * write to the locked product OK, the others ABORTED at version 2; the
 * other calls OK), never a transport error, and the server exits 0.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "batch_wire.h"
#include "contract_db.h"
#include "testenv.h"

enum {
	SINGLES   = 3,     /* threads sending one UpdateStock each */
	BATCHES   = 3,     /* threads sending one batch frame each */
	CALL_MS   = 30000, /* the calls' timeout: never the reason */
	QUEUED_MS = 300,   /* after the first blocked backend */
	EXIT_MS   = 10000, /* SIGTERM to exit, once the lock is gone */
};

static char  dir[] = "/tmp/inventory-batch-sigterm-XXXXXX";
static char  url[256];
static pid_t server = -1;

struct caller {
	pthread_t                thread;
	int                      batch; /* 0: a single UpdateStock frame */
	int                      k;
	const char              *locked;  /* the locked product */
	const char              *free_id; /* a free one (batch frames) */
	int                      rv;      /* nng result */
	Inventory__V1__Response *resp;
};

static atomic_int answered;

static void
dump_log(void)
{
	char  path[512], line[1024];
	FILE *fp;

	snprintf(path, sizeof(path), "%s/inventoryd.log", dir);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	printf("----- %s -----\n", path);
	while (fgets(line, sizeof(line), fp) != NULL)
		fputs(line, stdout);
	fclose(fp);
}

static void
start_server(void)
{
	const char *inventoryd = getenv("INVENTORY_INVENTORYD");
	const char *db         = testenv_get("INVENTORY_DB");
	char        logpath[512];

	if (inventoryd == NULL || db == NULL)
		fail_msg("INVENTORY_INVENTORYD or INVENTORY_DB is not set");
	if (mkdtemp(dir) == NULL)
		fail_msg("mkdtemp: %s", strerror(errno));
	snprintf(url, sizeof(url), "ipc://%s/inventory.sock", dir);
	snprintf(logpath, sizeof(logpath), "%s/inventoryd.log", dir);
	if ((server = fork()) == 0) {
		if (freopen(logpath, "w", stderr) == NULL ||
		    freopen(logpath, "a", stdout) == NULL)
			_exit(126);
		execl(inventoryd, inventoryd, "--listen", url, "--db", db,
		    "--workers", "2", (char *)NULL);
		_exit(127);
	}
	assert_true(server > 0);
	/* Up when a GetProduct of a random id is NOT_FOUND. */
	for (int i = 0; i < 100; i++) {
		Inventory__V1__Request  *g;
		Inventory__V1__Response *resp = NULL;
		nng_socket               s;
		char                     id[37];
		size_t                   len;
		uint8_t                 *buf;
		int                      status, code = -1;

		if (waitpid(server, &status, WNOHANG) == server) {
			server = -1;
			dump_log();
			fail_msg("inventoryd exited while starting");
		}
		testenv_uuid(id);
		g   = bw_get(NULL, id, 500);
		buf = bw_single_pack(g, &len);
		if (bw_open(url, 500, &s) == 0) {
			if (bw_exchange(s, buf, len, &resp) == 0) {
				code = (int)resp->code;
				inventory__v1__response__free_unpacked(
				    resp, NULL);
			}
			nng_close(s);
		}
		free(buf);
		bw_call_free(g);
		if (code == 5)
			return;
		testenv_sleep_ms(100);
	}
	dump_log();
	fail_msg("inventoryd did not come up on %s", url);
}

static void *
caller_main(void *arg)
{
	struct caller  *c = arg;
	struct bw_frame f = { 0 };
	nng_socket      s;
	char            r[64];

	if ((c->rv = bw_open(url, CALL_MS + 5000, &s)) != 0)
		return NULL;
	testenv_request_id(r, sizeof(r));
	if (!c->batch) {
		Inventory__V1__Request *u =
		    bw_update(r, c->locked, 100 + c->k, 1, CALL_MS);
		size_t   len;
		uint8_t *buf = bw_single_pack(u, &len);

		c->rv = bw_exchange(s, buf, len, &c->resp);
		free(buf);
		bw_call_free(u);
	} else {
		bw_frame_add(
		    &f, bw_update(r, c->locked, 200 + c->k, 1, CALL_MS));
		testenv_request_id(r, sizeof(r));
		bw_frame_add(&f, bw_update(r, c->free_id, c->k, 1, CALL_MS));
		bw_frame_add(&f, bw_get(NULL, c->locked, CALL_MS));
		c->rv = bw_send_frame(s, &f, &c->resp);
		bw_frame_fini(&f);
	}
	atomic_fetch_add(&answered, 1);
	nng_close(s);
	return NULL;
}

/* Count a write to the locked product: OK (its stock into *stock) or
 * ABORTED at version 2; anything else fails. */
static void
locked_write(const Inventory__V1__Response *e, int *oks, int64_t *stock,
    const char *what)
{
	struct bw_product p;

	if (e->code == 0 && bw_reply_product(e, &p) == 0 && p.version == 2) {
		(*oks)++;
		*stock = p.stock;
		return;
	}
	if (e->code == 10 && e->details != NULL &&
	    e->details->current_version == 2)
		return;
	fail_msg("%s: %s: %s", what, bw_code_name(e->code),
	    e->message != NULL ? e->message : "");
}

static void
test_sigterm_answers_everything(void **state)
{
	struct caller     callers[SINGLES + BATCHES];
	struct bw_product locked, frees[BATCHES];
	nng_socket        s;
	PGconn           *holder, *monitor;
	long long         blocked = 0;
	int               status = 0, oks = 0, waited;
	int64_t           ok_stock = -1;

	(void)state;
	start_server();
	assert_int_equal(bw_open(url, 10000, &s), 0);
	assert_int_equal(
	    bw_create_product(s, "sigterm locked", 10, "1.00", &locked), 0);
	for (int i = 0; i < BATCHES; i++)
		assert_int_equal(bw_create_product(
		                     s, "sigterm free", 10, "1.00", &frees[i]),
		    0);
	nng_close(s);

	holder  = contract_db_connect();
	monitor = contract_db_connect();
	contract_db_lock_product(holder, locked.id);

	memset(callers, 0, sizeof(callers));
	for (int i = 0; i < SINGLES + BATCHES; i++) {
		callers[i].batch   = i >= SINGLES;
		callers[i].k       = i;
		callers[i].locked  = locked.id;
		callers[i].free_id = frees[i % BATCHES].id;
		assert_int_equal(pthread_create(&callers[i].thread, NULL,
		                     caller_main, &callers[i]),
		    0);
	}
	/* Wait until the server's executors wait on the lock, and a little
	 * longer so that every frame has been received. */
	for (waited = 0; waited < 5000 && blocked < 1; waited += 20) {
		blocked = contract_db_blocked_by(monitor, holder, false);
		testenv_sleep_ms(20);
	}
	assert_true(blocked >= 1);
	testenv_sleep_ms(QUEUED_MS);
	assert_int_equal(atomic_load(&answered), 0);

	printf("SIGTERM with %lld executor(s) waiting on the lock\n", blocked);
	assert_int_equal(kill(server, SIGTERM), 0);
	testenv_sleep_ms(300);
	/* Still draining: the calls it holds are not answered yet. */
	if (waitpid(server, &status, WNOHANG) == server) {
		server = -1;
		dump_log();
		fail_msg("inventoryd exited (status %d) with calls in flight",
		    status);
	}
	assert_int_equal(atomic_load(&answered), 0);

	contract_db_exec(holder, "COMMIT", NULL);
	for (int i = 0; i < SINGLES + BATCHES; i++)
		pthread_join(callers[i].thread, NULL);

	for (int i = 0; i < SINGLES + BATCHES; i++) {
		struct caller *c = &callers[i];

		if (c->rv != 0) {
			dump_log();
			fail_msg("caller %d (%s): no reply: %s", i,
			    c->batch ? "batch" : "single",
			    nng_strerror(c->rv));
		}
		if (!c->batch) {
			locked_write(c->resp, &oks, &ok_stock, "single write");
			continue;
		}
		assert_int_equal(c->resp->n_batch, 3);
		locked_write(
		    c->resp->batch[0], &oks, &ok_stock, "batched write");
		if (c->resp->batch[1]->code != 0 ||
		    c->resp->batch[2]->code != 0)
			fail_msg("caller %d: free write %s, read %s", i,
			    bw_code_name(c->resp->batch[1]->code),
			    bw_code_name(c->resp->batch[2]->code));
	}
	printf("%d calls answered, %d write(s) to the locked product OK\n",
	    SINGLES + BATCHES * 3, oks);
	assert_int_equal(oks, 1);

	for (waited = 0; waited < EXIT_MS; waited += 50) {
		if (waitpid(server, &status, WNOHANG) == server)
			break;
		testenv_sleep_ms(50);
	}
	if (waited >= EXIT_MS) {
		dump_log();
		fail_msg("inventoryd did not exit within %d ms of the drain",
		    EXIT_MS);
	}
	server = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		dump_log();
		fail_msg(
		    "inventoryd exit status %d after SIGTERM, want 0", status);
	}
	assert_int_equal(
	    contract_db_exec(monitor,
	        "SELECT version FROM products WHERE id = $1::uuid", locked.id),
	    2);
	assert_int_equal(
	    contract_db_exec(monitor,
	        "SELECT stock FROM products WHERE id = $1::uuid", locked.id),
	    ok_stock);
	for (int i = 0; i < BATCHES; i++)
		assert_int_equal(
		    contract_db_exec(monitor,
		        "SELECT version FROM products WHERE id = $1::uuid",
		        frees[i].id),
		    2);
	for (int i = 0; i < SINGLES + BATCHES; i++)
		inventory__v1__response__free_unpacked(callers[i].resp, NULL);
	PQfinish(monitor);
	PQfinish(holder);
}

static int
teardown(void **state)
{
	char cmd[512];

	(void)state;
	if (server > 0) {
		kill(server, SIGKILL);
		waitpid(server, NULL, 0);
		printf("server log kept in %s\n", dir);
	} else if (dir[strlen(dir) - 1] != 'X') {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			printf("could not remove %s\n", dir);
	}
	nng_fini();
	return 0;
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sigterm_answers_everything),
	};

	return cmocka_run_group_tests_name(
	    "contract.batch_sigterm", tests, NULL, teardown);
}
