/* SPDX-License-Identifier: MIT */
/*
 * sec_client: the security tests' library probe (tests/security/).
 *
 *   sec_client URL EXPECT OP [--ca F] [--cert F] [--key F]
 *              [--server-name N] [--token-file F] [--timeout MS]
 *              [--id UUID]
 *
 * Opens one libinventory handle with the given TLS files and bearer token
 * (read from a file, never printed) and runs OP through the library:
 *
 *   get     GetProduct of --id (a random UUID if none: NOT_FOUND is
 *           a successful round trip)
 *   create  CreateProduct; on OK prints "id=UUID"
 *   update  GetProduct of --id, then UpdateStock at its version
 *   batch   16 threads at once on a handle with one frame slot and one
 *           connection, so their calls travel coalesced in batch frames
 *           (the token is the frame's): each creates a product
 *   rbatch  as batch, each reads --id
 *
 * Every call must come back EXPECT (a code name, e.g. OK,
 * PERMISSION_DENIED, UNAVAILABLE; "NOT_FOUND" for a get of an unknown id).
 * Prints one line "sec_client: OP -> CODE: message" per distinct outcome
 * and exits 0 when every call matched, 1 when one did not, 2 on usage.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <inventory/client.h>

#define BATCH_THREADS 16

struct probe {
	inventory_client *c;
	const char       *op;
	const char       *id;
	inventory_code    code;         /* outcome */
	char              message[256]; /* its message */
	char              created[INVENTORY_ID_LEN + 1];
};

static inventory_code
code_by_name(const char *name)
{
	for (int i = 0; i <= INVENTORY_UNAUTHENTICATED; i++)
		if (strcmp(inventory_code_name((inventory_code)i), name) == 0)
			return (inventory_code)i;
	return (inventory_code)-1;
}

static void *
probe_run(void *arg)
{
	struct probe      *p   = arg;
	inventory_status   st  = { 0 };
	inventory_product *out = NULL, *cur = NULL;

	if (strcmp(p->op, "get") == 0 || strcmp(p->op, "rbatch") == 0) {
		p->code = inventory_get_product(p->c, p->id, NULL, &out, &st);
	} else if (strcmp(p->op, "create") == 0 ||
	           strcmp(p->op, "batch") == 0) {
		p->code = inventory_create_product(
		    p->c, "security probe", 10, "1.00", NULL, &out, &st);
		if (p->code == INVENTORY_OK)
			snprintf(
			    p->created, sizeof(p->created), "%s", out->id);
	} else { /* update */
		p->code = inventory_get_product(p->c, p->id, NULL, &cur, &st);
		if (p->code == INVENTORY_OK)
			p->code = inventory_update_stock(p->c, p->id,
			    cur->stock + 1, cur->version, NULL, &out, &st);
	}
	snprintf(p->message, sizeof(p->message), "%s",
	    p->code == INVENTORY_OK ? "" : st.message);
	inventory_product_free(out);
	inventory_product_free(cur);
	inventory_status_fini(&st);
	return NULL;
}

/* The file's one line, without its newline, in buf; 0 or -1. */
static int
read_token(const char *path, char *buf, size_t len)
{
	FILE  *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	return 0;
}

int
main(int argc, char **argv)
{
	inventory_client_opts o = { 0 };
	inventory_client     *c;
	struct probe          p[BATCH_THREADS];
	pthread_t             th[BATCH_THREADS];
	static char           token[4097];
	const char           *id = "00000000-0000-4000-8000-000000000000";
	inventory_code        want, code;
	int                   timeout = 2000, n = 1, bad = 0;

	if (argc < 4 || (int)(want = code_by_name(argv[2])) < 0) {
		fprintf(stderr, "usage: sec_client URL EXPECT OP [options]\n");
		return 2;
	}
	for (int i = 4; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--ca") == 0) {
			o.tls_ca_file = argv[i + 1];
		} else if (strcmp(argv[i], "--cert") == 0) {
			o.tls_cert_file = argv[i + 1];
		} else if (strcmp(argv[i], "--server-name") == 0) {
			o.tls_server_name = argv[i + 1];
		} else if (strcmp(argv[i], "--key") == 0) {
			o.tls_key_file = argv[i + 1];
		} else if (strcmp(argv[i], "--token-file") == 0) {
			if (read_token(argv[i + 1], token, sizeof(token)) !=
			    0) {
				fprintf(stderr, "sec_client: cannot read %s\n",
				    argv[i + 1]);
				return 2;
			}
			o.token = token;
		} else if (strcmp(argv[i], "--timeout") == 0) {
			timeout = atoi(argv[i + 1]);
		} else if (strcmp(argv[i], "--id") == 0) {
			id = argv[i + 1];
		} else {
			fprintf(stderr, "sec_client: unknown option %s\n",
			    argv[i]);
			return 2;
		}
	}
	if (strcmp(argv[3], "batch") == 0 || strcmp(argv[3], "rbatch") == 0) {
		n             = BATCH_THREADS;
		o.max_frames  = 1; /* one frame in flight: the rest coalesce */
		o.connections = 1;
		o.no_coalesce = 0;
	}
	if ((code = inventory_client_open_opts(&c, argv[1], &o)) !=
	    INVENTORY_OK) {
		printf("sec_client: open -> %s\n", inventory_code_name(code));
		return code == want ? 0 : 1;
	}
	inventory_client_set_timeout(c, timeout);
	for (int i = 0; i < n; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		p[i].c  = c;
		p[i].op = argv[3];
		p[i].id = id;
		if (pthread_create(&th[i], NULL, probe_run, &p[i]) != 0) {
			fprintf(stderr, "sec_client: pthread_create failed\n");
			return 1;
		}
	}
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < n; i++) {
		int seen = 0;

		for (int k = 0; k < i; k++)
			seen |= p[k].code == p[i].code;
		if (!seen)
			printf("sec_client: %s -> %s: %s\n", argv[3],
			    inventory_code_name(p[i].code), p[i].message);
		if (p[i].code != want)
			bad++;
	}
	if (n == 1 && p[0].created[0] != '\0')
		printf("id=%s\n", p[0].created);
	inventory_client_close(c);
	if (bad > 0)
		printf("sec_client: %d of %d call(s) were not %s\n", bad, n,
		    argv[2]);
	return bad > 0 ? 1 : 0;
}
