/* SPDX-License-Identifier: MIT */
/*
 * One reader's frame must not take the server's memory, against a
 * private inventoryd (hostile_spawn) with the default reply limits
 * (--max-reply 8 MiB a frame, --reply-memory 192 MiB in all):
 *
 *   - 1,000 products exist (created in batch frames of 250);
 *   - six connections at once each send a 52 KB frame of 1,000
 *     ListProducts(page_size 1000) calls (an 80 MB reply each before the
 *     limit: 315 MB of RSS for one frame, 1.9 GB for six);
 *   - each frame is answered in full by position: its first calls OK
 *     with 1,000 products each, no more of them than 8 MiB of reply
 *     costs allow, the rest RESOURCE_EXHAUSTED;
 *   - the server's peak RSS (VmHWM) stays under 160 MB;
 *   - a good call is served afterwards, and SIGTERM ends the server with
 *     exit 0 within 15 s.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <nng/nng.h>

#include "hostile.h"

enum {
	PRODUCTS  = 1000,
	CALLS     = 1000,
	PAGE      = 1000,
	CONNS     = 6,
	CODE_OK   = 0,
	CODE_RE   = 8,
	MAX_REPLY = 8 << 20,          /* the default --max-reply */
	CALL_COST = 512 + PAGE * 640, /* dispatch.h's reply cost */
	PEAK_MB   = 160,
};

/* The server's peak resident set, in kB (VmHWM), or -1. */
static long
peak_rss_kb(int pid)
{
	char  path[64], line[256];
	FILE *fp;
	long  kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), fp) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(fp);
	return kb;
}

/* A batch frame of n copies of one packed call. */
static uint8_t *
repeat_frame(const uint8_t *call, size_t clen, size_t n, size_t *len)
{
	Inventory__V1__Request   top = INVENTORY__V1__REQUEST__INIT;
	Inventory__V1__Request  *one;
	Inventory__V1__Request **v = calloc(n, sizeof(*v));
	uint8_t                 *buf;

	one = inventory__v1__request__unpack(NULL, clen, call);
	if (v == NULL || one == NULL)
		abort();
	for (size_t i = 0; i < n; i++)
		v[i] = one;
	top.n_batch = n;
	top.batch   = v;
	*len        = inventory__v1__request__get_packed_size(&top);
	if ((buf = malloc(*len)) == NULL)
		abort();
	inventory__v1__request__pack(&top, buf);
	inventory__v1__request__free_unpacked(one, NULL);
	free(v);
	return buf;
}

static void
create_products(const char *url)
{
	Inventory__V1__CreateProductRequest c =
	    INVENTORY__V1__CREATE_PRODUCT_REQUEST__INIT;
	Inventory__V1__Response *r = NULL;
	nng_socket               s = hostile_open(url, 30000);
	uint8_t                 *call, *frame;
	size_t                   clen, flen, ok = 0;

	c.name      = "memory-test product with a name of some length";
	c.has_stock = 1;
	c.stock     = 5;
	c.price     = "12.34";
	call        = hostile_envelope("CreateProduct", NULL, &c.base, &clen);
	/* In frames of 250 (107 bytes a call, under --max-frame). */
	frame = repeat_frame(call, clen, PRODUCTS / 4, &flen);
	for (int k = 0; k < 4; k++) {
		CHECK(hostile_call(s, frame, flen, &r) == 0);
		for (size_t i = 0; r != NULL && i < r->n_batch; i++)
			ok += r->batch[i]->code == CODE_OK;
		if (r != NULL && r->message != NULL)
			printf("create frame: %s\n", r->message);
		if (r != NULL)
			inventory__v1__response__free_unpacked(r, NULL);
		r = NULL;
	}
	printf("created %zu products\n", ok);
	CHECK(ok == PRODUCTS);
	free(frame);
	free(call);
	nng_close(s);
}

/* Read one frame's reply from fd and check it. */
static void
check_reply(int fd)
{
	Inventory__V1__Response *r;
	uint8_t                 *buf;
	size_t                   len, ok = 0, re = 0, other = 0;
	uint32_t                 reqid;

	if (hostile_raw_read(fd, 60000, &reqid, &buf, &len) != 0) {
		CHECK(!"a reply to the ListProducts frame");
		return;
	}
	r = inventory__v1__response__unpack(NULL, len, buf);
	CHECK(r != NULL && r->code == CODE_OK && r->n_batch == CALLS);
	for (size_t i = 0; r != NULL && i < r->n_batch; i++) {
		if (r->batch[i]->code == CODE_OK)
			ok++;
		else if (r->batch[i]->code == CODE_RE)
			re++;
		else
			other++;
	}
	printf("reply of %zu bytes: %zu OK, %zu RESOURCE_EXHAUSTED, %zu "
	       "other\n",
	    len, ok, re, other);
	CHECK(ok >= 1 && ok <= MAX_REPLY / CALL_COST);
	CHECK(re == CALLS - ok && other == 0);
	if (r != NULL)
		inventory__v1__response__free_unpacked(r, NULL);
	free(buf);
}

int
main(void)
{
	Inventory__V1__ListProductsRequest l =
	    INVENTORY__V1__LIST_PRODUCTS_REQUEST__INIT;
	struct hostile_server srv;
	uint8_t              *call, *body, *frame;
	size_t                clen, blen, flen;
	int                   fds[CONNS];
	long                  peak;

	hostile_spawn(&srv, NULL);
	create_products(srv.url);
	printf("peak RSS before: %ld kB\n", peak_rss_kb(srv.pid));

	l.has_page_size = 1;
	l.page_size     = PAGE;
	call  = hostile_envelope("ListProducts", NULL, &l.base, &clen);
	body  = repeat_frame(call, clen, CALLS, &blen);
	frame = hostile_raw_frame(1, body, blen, &flen);
	printf("frame: %zu calls, %zu bytes\n", (size_t)CALLS, blen);
	for (int i = 0; i < CONNS; i++) {
		fds[i] = hostile_raw_open(srv.url, 5000);
		CHECK(fds[i] >= 0);
		if (fds[i] >= 0)
			CHECK(write(fds[i], frame, flen) == (ssize_t)flen);
	}
	for (int i = 0; i < CONNS; i++) {
		if (fds[i] >= 0) {
			check_reply(fds[i]);
			close(fds[i]);
		}
	}
	peak = peak_rss_kb(srv.pid);
	printf("peak RSS after %d frames at once: %ld kB (limit %d MB)\n",
	    CONNS, peak, PEAK_MB);
	CHECK(peak > 0 && peak < PEAK_MB * 1024L);
	CHECK(hostile_served(srv.url, 5000));

	free(frame);
	free(body);
	free(call);
	return hostile_finish(&srv);
}
