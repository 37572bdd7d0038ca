/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: the credentials field (Request.token) and the roles,
 * with --auth-file in force.  The input is raw request bytes handed to
 * dispatch_handle() with no store, as a worker would; the auth table holds
 * a writer and a reader with known tokens.
 *
 * Invariants checked on every input:
 *  - auth_check() on the input as a token grants a role only to the exact
 *    tokens of the table, and names the right caller;
 *  - every reply unpacks; a single call whose envelope decodes and whose
 *    token is missing or unknown is UNAUTHENTICATED (INVALID_ARGUMENT when
 *    its method, request id or token holds a NUL byte: such a token cannot
 *    be read as sent; OK for an empty request, a liveness probe); a reader's
 * write is PERMISSION_DENIED; a writer is never refused for its role; in a
 * batch frame every entry gets the verdict of its own token, else the frame's;
 *  - no reply message contains a token of the table, unless the caller
 *    put its text in a field the server echoes (method, request id);
 *  - no crash, leak, overflow or undefined behaviour (ASan/UBSan/LSan).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mbedtls/sha256.h>

#include "base/log.h"
#include "core/dispatch_testing.h"
#include "core/wire_check.h"
#include "fuzz.h"
#include "ops/auth.h"

#define WRITER_TOKEN "fuzz-writer-token-0123456789"
#define READER_TOKEN "fuzz-reader-token-9876543210"
#define PREFIX       "/inventory.v1.InventoryService/"

static void
hex_sha256(const char *s, char out[65])
{
	unsigned char h[32];

	FUZZ_CHECK(mbedtls_sha256_ret(
	               (const unsigned char *)s, strlen(s), h, 0) == 0);
	for (int i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", h[i]);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char  path[] = "/tmp/fuzz-auth-XXXXXX", w[65], r[65], err[256];
	FILE *fp;
	int   fd;

	(void)argc;
	(void)argv;
	log_threshold = LOG_LEVEL_ERR;
	hex_sha256(WRITER_TOKEN, w);
	hex_sha256(READER_TOKEN, r);
	FUZZ_CHECK((fd = mkstemp(path)) >= 0);
	FUZZ_CHECK((fp = fdopen(fd, "w")) != NULL);
	fprintf(fp,
	    "# fuzz callers\nfz-writer writer %s\nfz-reader reader %s\n", w,
	    r);
	FUZZ_CHECK(fclose(fp) == 0);
	FUZZ_CHECK(auth_load(path, NULL, err, sizeof(err)) == 0);
	unlink(path);
	return 0;
}

/* The role the dispatcher must see for token t. */
static enum auth_role
expected_role(const char *t)
{
	if (t == NULL)
		return AUTH_ROLE_NONE;
	if (strcmp(t, WRITER_TOKEN) == 0)
		return AUTH_ROLE_WRITER;
	if (strcmp(t, READER_TOKEN) == 0)
		return AUTH_ROLE_READER;
	return AUTH_ROLE_NONE;
}

static int
is_write(const char *method)
{
	static const char *const writes[] = { PREFIX "UpdateStock",
		PREFIX "CreateProduct", PREFIX "AdjustStock",
		PREFIX "ReserveStock" };

	for (size_t i = 0; i < sizeof(writes) / sizeof(writes[0]); i++)
		if (method != NULL && strcmp(method, writes[i]) == 0)
			return 1;
	return 0;
}

static int
is_read(const char *method)
{
	static const char *const reads[] = { PREFIX "GetProduct",
		PREFIX "BatchGetProducts", PREFIX "ListProducts" };

	for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++)
		if (method != NULL && strcmp(method, reads[i]) == 0)
			return 1;
	return 0;
}

/* Whether t appears in a field of env the server may echo. */
static int
in_echoed(const Inventory__V1__Request *env, const char *t)
{
	return (env->method != NULL && strstr(env->method, t) != NULL) ||
	       (env->request_id != NULL && strstr(env->request_id, t) != NULL);
}

/* One call's reply against its envelope and the token that applies. */
static void
check_call(const Inventory__V1__Request *env, const char *token,
    const Inventory__V1__Response *resp)
{
	enum auth_role role = expected_role(token);

	FUZZ_CHECK(resp->has_code);
	if (resp->message != NULL) {
		/* The token field is never echoed; the method and request id
		 * may be, so the token text may come back only from them. */
		FUZZ_CHECK(strstr(resp->message, WRITER_TOKEN) == NULL ||
		           in_echoed(env, WRITER_TOKEN));
		FUZZ_CHECK(strstr(resp->message, READER_TOKEN) == NULL ||
		           in_echoed(env, READER_TOKEN));
	}
	if (env->n_batch > 0)
		return; /* a nested batch: refused for that, not judged here */
	if (role == AUTH_ROLE_NONE) {
		/* Decoded far enough to be a call: refused for its token. */
		FUZZ_CHECK(resp->code == CODE_UNAUTHENTICATED);
		return;
	}
	FUZZ_CHECK(resp->code != CODE_UNAUTHENTICATED);
	if (role == AUTH_ROLE_READER && is_write(env->method)) {
		/* Unless its request id is malformed (refused first). */
		FUZZ_CHECK(resp->code == CODE_PERMISSION_DENIED ||
		           resp->code == CODE_INVALID_ARGUMENT);
	}
	if (role == AUTH_ROLE_WRITER || is_read(env->method))
		FUZZ_CHECK(resp->code != CODE_PERMISSION_DENIED);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t                  reply[DISPATCH_REPLY_MAX];
	char                     token[64], name[CALLER_MAX + 1];
	Inventory__V1__Response *resp;
	Inventory__V1__Request  *env;
	enum auth_role           role;
	struct wire_check        wc;
	enum code                walk;
	char                     msg[256];
	size_t                   n;

	/* The input as a token: only the table's tokens get in. */
	n = size < sizeof(token) - 1 ? size : sizeof(token) - 1;
	memcpy(token, data, n);
	token[n] = '\0';
	role     = auth_check(token, name);
	FUZZ_CHECK(role == expected_role(token));
	FUZZ_CHECK(role == AUTH_ROLE_NONE ? name[0] == '\0'
	                                  : strncmp(name, "fz-", 3) == 0);

	n = dispatch_handle(
	    NULL, data, size, clock_now_ns(), reply, sizeof(reply));
	FUZZ_CHECK(n > 0 && n <= sizeof(reply));
	FUZZ_CHECK(
	    (resp = inventory__v1__response__unpack(NULL, n, reply)) != NULL);
	/* The server's first look, before protobuf-c and before the token
	 * (wire_check.c): a call whose method, request id or token holds a
	 * NUL byte is refused for that, since its token cannot be read as
	 * sent. */
	walk = wire_check_request(data, size, &wc, msg, sizeof(msg));
	env  = inventory__v1__request__unpack(NULL, size, data);
	if (env != NULL && walk == CODE_OK && resp->n_batch == 0 &&
	    env->n_batch == 0 && size <= DISPATCH_REPLY_MAX) {
		if (fuzz_is_probe(env))
			FUZZ_CHECK(resp->code == CODE_OK); /* needs no token */
		else if (wc.nul)
			FUZZ_CHECK(resp->code == CODE_INVALID_ARGUMENT);
		else
			check_call(env, env->token, resp);
	}
	if (env != NULL && resp->n_batch > 0) {
		FUZZ_CHECK(walk == CODE_OK && resp->n_batch == env->n_batch);
		for (size_t i = 0; i < env->n_batch; i++) {
			if (wc.entry_nul != NULL && i < wc.nentries &&
			    wc.entry_nul[i])
				FUZZ_CHECK(resp->batch[i]->code ==
				           CODE_INVALID_ARGUMENT);
			else
				check_call(env->batch[i],
				    env->batch[i]->token != NULL
				        ? env->batch[i]->token
				        : env->token,
				    resp->batch[i]);
		}
	}
	wire_check_fini(&wc);
	if (env != NULL)
		inventory__v1__request__free_unpacked(env, NULL);
	inventory__v1__response__free_unpacked(resp, NULL);
	return 0;
}
