/* SPDX-License-Identifier: MIT */
/*
 * The differential test of the batching rules (DESIGN.md, "Batching
 * rules"): a batch frame never changes what a call means.
 *
 * Two servers on two databases (A and B) start from the same products
 * (same ids).  A random sequence of calls of every RPC, over a few
 * products and one unknown id, with request ids drawn from a small pool
 * (so repeats and reuse of an id by another method are common) and
 * verbatim repeats of earlier calls, is sent one call at a time to A and
 * as one raw batch frame (Request.batch) to B.  Every reply (code,
 * product fields except timestamps, details, item errors) and the final
 * rows are compared; a mismatch is shrunk to a minimal sequence and
 * printed with its seed.
 *
 * The sequence is generated while it runs on A: each call's versions are
 * drawn around what A's earlier replies showed, so conflicts, fits and
 * misfits are all common.  The same seed gives the same sequence on an
 * unchanged server (--seed S --count 1 replays one).  Sequences use
 * products of their own (ids "fffffffe-RRRR-4000-8000-SSSSSSSSSSPP": run
 * tag, sequence, product) and request ids of their own, so they never
 * interfere; in parallel mode several frames run on B at once, each still
 * with a definite order because nothing else touches its rows.
 *
 * Usage: differential [--count N] [--seed S] [--parallel G] [--max-len L]
 *   --count N     sequences (INVENTORY_DIFF_COUNT; default 2000)
 *   --seed S      first sequence's seed; sequence k uses S + k
 *                 (INVENTORY_DIFF_SEED; default: from the clock)
 *   --parallel G  every other group of G sequences sends its G frames to B
 *                 at once (INVENTORY_DIFF_PARALLEL; default 4; 1: never)
 *   --max-len L   calls per sequence, at most (INVENTORY_DIFF_MAX_LEN;
 *                 default 12)
 * Servers and databases: A is the fixtures' (INVENTORY_SERVER,
 * INVENTORY_DB), B is INVENTORY_DIFF_SERVER_B and INVENTORY_DIFF_DB_B.
 * Exit 0 when nothing differs and the generator reached ABORTED,
 * ALREADY_EXISTS, FAILED_PRECONDITION and NOT_FOUND; 1 otherwise; 2 on a
 * usage error.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <nng/nng.h>

#include "batch_wire.h"
#include "testenv.h"

enum {
	NPROD = 3,         /* seeded products per sequence; index NPROD is
	                      the unknown id */
	NRID       = 3,    /* request ids in a sequence's pool */
	LEN_MAX    = 64,   /* calls per sequence, hard bound */
	ITEMS_MAX  = 3,    /* items of a reservation, ids of a batch read */
	GROUP_MAX  = 16,   /* --parallel, at most */
	CODE_MAX   = 17,   /* gRPC codes 0..16 */
	DESC_MAX   = 2048, /* one reply, as text */
	SHRINK_MAX = 300,  /* replays one shrink may spend */
	RECV_MS    = 30000,
};

enum method {
	M_GET,
	M_UPDATE,
	M_CREATE,
	M_BATCH_GET,
	M_ADJUST,
	M_RESERVE,
	M_LIST,
	M_COUNT,
};

static const char *const method_names[M_COUNT] = { "GetProduct", "UpdateStock",
	"CreateProduct", "BatchGetProducts", "AdjustStock", "ReserveStock",
	"ListProducts" };

/* One call, abstractly: products by index, request id by pool index, so a
 * sequence can be replayed on fresh products (shrinking). */
struct call {
	enum method m;
	int         rid;              /* 0..NRID-1, or -1: none */
	int         p;                /* product 0..NPROD (NPROD: unknown) */
	int64_t     stock, ev, delta; /* ev 0: none (AdjustStock) */
	int         name_k;           /* CreateProduct: which name */
	int         n;                /* items or ids */
	int         ip[ITEMS_MAX];    /* their products */
	int64_t     iq[ITEMS_MAX];    /* take quantity, 0: a set item */
	int64_t     iev[ITEMS_MAX], is[ITEMS_MAX];
	int         page_size;
};

/* The names one attempt (a sequence run, or a replay while shrinking)
 * uses: its products and its request ids. */
struct space {
	char ids[NPROD + 1][37];
	char token_id[37]; /* just before ids[0..NPROD) */
	char tag[48];      /* prefix of created names and request ids */
};

struct seq {
	uint64_t     seed;
	struct call  calls[LEN_MAX];
	int          n;
	char         a[LEN_MAX][DESC_MAX]; /* A's replies, as text */
	char         b[LEN_MAX][DESC_MAX];
	char        *rows_a, *rows_b; /* final rows, as text (malloc'd) */
	struct space sp;
};

static struct {
	const char *url_a, *url_b, *db_a, *db_b;
	nng_socket  sa;
	nng_socket  sb[GROUP_MAX];
	PGconn     *pa, *pb;
	unsigned    run;    /* tag of this run: its ids differ from others' */
	int         maxlen; /* calls per sequence, at most */
	uint64_t    attempt;
	long        counts[M_COUNT][CODE_MAX]; /* A's codes */
	long        calls, frames, mismatches;
} g;

static void die(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));

static void
die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "differential: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

/* splitmix64: a sequence's own generator. */
static uint64_t
rnd(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static int
rnd_int(uint64_t *s, int lo, int hi) /* lo..hi inclusive */
{
	return lo + (int)(rnd(s) % (uint64_t)(hi - lo + 1));
}

static bool
chance(uint64_t *s, int pct)
{
	return rnd_int(s, 0, 99) < pct;
}

/* ---- names -------------------------------------------------------------- */

static void
space_init(struct space *sp)
{
	uint64_t a = ++g.attempt;

	/* Later attempts sort first, so what follows a sequence's products
	 * in id order is an earlier sequence's, seeded on both sides. */
	a = 0xffffffffffULL - (a & 0xffffffffffULL);
	for (int p = 0; p < NPROD; p++)
		snprintf(sp->ids[p], sizeof(sp->ids[p]),
		    "fffffffe-%04x-4000-8000-%010" PRIx64 "%02x",
		    g.run & 0xffff, a, p + 1);
	snprintf(sp->token_id, sizeof(sp->token_id),
	    "fffffffe-%04x-4000-8000-%010" PRIx64 "00", g.run & 0xffff, a);
	testenv_uuid(sp->ids[NPROD]);
	snprintf(sp->tag, sizeof(sp->tag), "dx%04x-%" PRIu64, g.run & 0xffff,
	    g.attempt);
}

/* The ListProducts token that starts right before the sequence's
 * products: base64url("1:" + id), unpadded (src/handlers/page_token.c). */
static void
start_token(const struct space *sp, char *out, size_t cap)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopq"
	                          "rstuvwxyz0123456789-_";
	unsigned char     raw[2 + 36];
	size_t            o = 0;

	raw[0] = '1';
	raw[1] = ':';
	memcpy(raw + 2, sp->token_id, 36);
	for (size_t i = 0; i < sizeof(raw) && o + 5 < cap; i += 3) {
		size_t        left = sizeof(raw) - i;
		unsigned long v    = (unsigned long)raw[i] << 16;

		if (left > 1)
			v |= (unsigned long)raw[i + 1] << 8;
		if (left > 2)
			v |= raw[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		if (left > 1)
			out[o++] = b64[(v >> 6) & 63];
		if (left > 2)
			out[o++] = b64[v & 63];
	}
	out[o] = '\0';
}

static const char *
rid_name(const struct space *sp, int rid, char *buf, size_t cap)
{
	if (rid < 0)
		return NULL;
	snprintf(buf, cap, "%s-r%d", sp->tag, rid);
	return buf;
}

/* ---- calls on the wire -------------------------------------------------- */

static Inventory__V1__Request *
envelope(const struct call *c, const struct space *sp)
{
	char        rbuf[80], nbuf[80], tok[80];
	const char *rid = rid_name(sp, c->rid, rbuf, sizeof(rbuf));
	const long  tmo = RECV_MS / 2;

	switch (c->m) {
	case M_GET:
		return bw_get(rid, sp->ids[c->p], tmo);
	case M_UPDATE:
		return bw_update(rid, sp->ids[c->p], c->stock, c->ev, tmo);
	case M_CREATE:
		snprintf(nbuf, sizeof(nbuf), "%s-n%d", sp->tag, c->name_k);
		return bw_create(rid, nbuf, c->stock, "1.50", tmo);
	case M_BATCH_GET: {
		Inventory__V1__BatchGetProductsRequest r =
		    INVENTORY__V1__BATCH_GET_PRODUCTS_REQUEST__INIT;
		char *ids[ITEMS_MAX];

		for (int i = 0; i < c->n; i++)
			ids[i] = (char *)sp->ids[c->ip[i]];
		r.n_ids = (size_t)c->n;
		r.ids   = ids;
		return bw_call("BatchGetProducts", rid, tmo, &r.base);
	}
	case M_ADJUST: {
		Inventory__V1__AdjustStockRequest r =
		    INVENTORY__V1__ADJUST_STOCK_REQUEST__INIT;

		r.id        = (char *)sp->ids[c->p];
		r.has_delta = 1;
		r.delta     = c->delta;
		if (c->ev != 0) {
			r.has_expected_version = 1;
			r.expected_version     = c->ev;
		}
		return bw_call("AdjustStock", rid, tmo, &r.base);
	}
	case M_RESERVE: {
		Inventory__V1__ReserveStockRequest r =
		    INVENTORY__V1__RESERVE_STOCK_REQUEST__INIT;
		Inventory__V1__ReserveItem  it[ITEMS_MAX];
		Inventory__V1__ReserveItem *pit[ITEMS_MAX];

		for (int i = 0; i < c->n; i++) {
			inventory__v1__reserve_item__init(&it[i]);
			it[i].id = (char *)sp->ids[c->ip[i]];
			if (c->iq[i] > 0) {
				it[i].has_quantity = 1;
				it[i].quantity     = c->iq[i];
			} else {
				it[i].has_expected_version = 1;
				it[i].expected_version     = c->iev[i];
				it[i].has_stock            = 1;
				it[i].stock                = c->is[i];
			}
			pit[i] = &it[i];
		}
		r.n_items = (size_t)c->n;
		r.items   = pit;
		return bw_call("ReserveStock", rid, tmo, &r.base);
	}
	case M_LIST: {
		Inventory__V1__ListProductsRequest r =
		    INVENTORY__V1__LIST_PRODUCTS_REQUEST__INIT;

		start_token(sp, tok, sizeof(tok));
		r.has_page_size = 1;
		r.page_size     = c->page_size;
		r.page_token    = tok;
		return bw_call("ListProducts", rid, tmo, &r.base);
	}
	case M_COUNT:
		break;
	}
	return NULL;
}

static void
call_text(const struct call *c, char *buf, size_t cap)
{
	int o =
	    snprintf(buf, cap, "%-16s rid=%-2d", method_names[c->m], c->rid);

	switch (c->m) {
	case M_GET:
		snprintf(buf + o, cap - (size_t)o, " P%d", c->p);
		break;
	case M_UPDATE:
		snprintf(buf + o, cap - (size_t)o,
		    " P%d stock=%" PRId64 " ev=%" PRId64, c->p, c->stock,
		    c->ev);
		break;
	case M_CREATE:
		snprintf(buf + o, cap - (size_t)o, " name=n%d stock=%" PRId64,
		    c->name_k, c->stock);
		break;
	case M_ADJUST:
		snprintf(buf + o, cap - (size_t)o,
		    " P%d delta=%" PRId64 " ev=%" PRId64, c->p, c->delta,
		    c->ev);
		break;
	case M_BATCH_GET:
	case M_RESERVE:
		for (int i = 0; i < c->n && o < (int)cap; i++) {
			if (c->m == M_BATCH_GET)
				o += snprintf(buf + o, cap - (size_t)o, " P%d",
				    c->ip[i]);
			else if (c->iq[i] > 0)
				o += snprintf(buf + o, cap - (size_t)o,
				    " P%d:q=%" PRId64, c->ip[i], c->iq[i]);
			else
				o += snprintf(buf + o, cap - (size_t)o,
				    " P%d:v=%" PRId64 ",s=%" PRId64, c->ip[i],
				    c->iev[i], c->is[i]);
		}
		break;
	case M_LIST:
		snprintf(
		    buf + o, cap - (size_t)o, " page_size=%d", c->page_size);
		break;
	case M_COUNT:
		break;
	}
}

/* ---- replies as text ---------------------------------------------------- */

static const char *
id_text(const struct space *sp, const char *id)
{
	static const char *const names[] = { "P0", "P1", "P2", "U" };

	for (int p = 0; p <= NPROD; p++) {
		if (id != NULL && strcmp(id, sp->ids[p]) == 0)
			return names[p];
	}
	return "C"; /* created: its id differs between the two servers */
}

static int
product_text(const struct space *sp, const Inventory__V1__Product *w,
    char *buf, size_t cap)
{
	if (w == NULL)
		return snprintf(buf, cap, "-");
	return snprintf(buf, cap, "{%s %s s=%" PRId64 " $%s v=%" PRId64 "}",
	    id_text(sp, w->id), w->name != NULL ? w->name : "?", w->stock,
	    w->price != NULL ? w->price : "?", w->version);
}

/* Append to buf at *o, bounded. */
#define PUT(...)                                                      \
	do {                                                          \
		if (*o < (int)cap)                                    \
			*o += snprintf(                               \
			    buf + *o, cap - (size_t)*o, __VA_ARGS__); \
	} while (0)
#define PUT_PRODUCT(w)                                            \
	do {                                                      \
		if (*o < (int)cap)                                \
			*o += product_text(                       \
			    sp, (w), buf + *o, cap - (size_t)*o); \
	} while (0)

static void
payload_text(const struct space *sp, enum method m,
    const Inventory__V1__Response *r, char *buf, size_t cap, int *o)
{
	if (!r->has_payload)
		return;
	if (m == M_BATCH_GET || m == M_RESERVE) {
		Inventory__V1__BatchGetProductsResponse *b =
		    inventory__v1__batch_get_products_response__unpack(
		        NULL, r->payload.len, r->payload.data);

		if (b == NULL) {
			PUT(" payload=?");
			return;
		}
		PUT(" [");
		for (size_t i = 0; i < b->n_products; i++)
			PUT_PRODUCT(b->products[i]);
		PUT("]");
		inventory__v1__batch_get_products_response__free_unpacked(
		    b, NULL);
		return;
	}
	if (m == M_LIST) {
		Inventory__V1__ListProductsResponse *l =
		    inventory__v1__list_products_response__unpack(
		        NULL, r->payload.len, r->payload.data);

		if (l == NULL) {
			PUT(" payload=?");
			return;
		}
		PUT(" [");
		for (size_t i = 0; i < l->n_products; i++)
			PUT_PRODUCT(l->products[i]);
		PUT("] more=%d", l->next_page_token != NULL &&
		                     l->next_page_token[0] != '\0');
		inventory__v1__list_products_response__free_unpacked(l, NULL);
		return;
	}
	{
		Inventory__V1__GetProductResponse *p =
		    inventory__v1__get_product_response__unpack(
		        NULL, r->payload.len, r->payload.data);

		if (p == NULL) {
			PUT(" payload=?");
			return;
		}
		PUT(" ");
		PUT_PRODUCT(p->product);
		inventory__v1__get_product_response__free_unpacked(p, NULL);
	}
}

static void
reply_text(const struct space *sp, enum method m,
    const Inventory__V1__Response *r, char *buf, size_t cap)
{
	int  off = 0;
	int *o   = &off;

	PUT("%s", bw_code_name(r->code));
	payload_text(sp, m, r, buf, cap, o);
	if (r->details != NULL) {
		const Inventory__V1__ErrorDetails *d = r->details;

		PUT(" cv=%" PRId64 " cur=", d->current_version);
		PUT_PRODUCT(d->current);
		for (size_t i = 0; i < d->n_items; i++) {
			const Inventory__V1__ItemError *e = d->items[i];

			PUT(" item#%u %s %s ", e->index, id_text(sp, e->id),
			    bw_code_name(e->code));
			PUT_PRODUCT(e->current);
		}
	}
}

/* The code at the front of a reply's text, as a number (-1: unknown). */
static int
text_code(const char *t)
{
	for (uint32_t c = 0; c < CODE_MAX; c++) {
		const char *n = bw_code_name(c);
		size_t      l = strlen(n);

		if (strncmp(t, n, l) == 0 && (t[l] == ' ' || t[l] == '\0'))
			return (int)c;
	}
	return -1;
}

/* ---- the databases ------------------------------------------------------ */

static PGconn *
db_open(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);

	if (PQstatus(c) != CONNECTION_OK)
		die("cannot connect to %s: %s", conninfo, PQerrorMessage(c));
	return c;
}

static void
ids_array(const struct space *sp, char *buf, size_t cap)
{
	snprintf(buf, cap, "{%s,%s,%s}", sp->ids[0], sp->ids[1], sp->ids[2]);
}

/* The same products on both sides: stock p + 2 (so takes fit, then run
 * out), version 1. */
static void
seed(PGconn *db, const struct space *sp)
{
	char        arr[160];
	const char *params[2];
	PGresult   *res;

	ids_array(sp, arr, sizeof(arr));
	params[0] = arr;
	params[1] = sp->tag;
	res       = PQexecParams(db,
	          "INSERT INTO products (id, name, stock, price)"
	                " SELECT id, $2 || '-s' || ord, ord + 1, 2.00"
	                " FROM unnest($1::uuid[]) WITH ORDINALITY AS t(id, ord)",
	          2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("seed: %s", PQerrorMessage(db));
	PQclear(res);
}

/* The sequence's rows (its products and those it created), as text. */
static char *
rows_text(PGconn *db, const struct space *sp)
{
	char        arr[160], like[64];
	const char *params[2];
	PGresult   *res;
	char       *out;
	size_t      cap = 4096;
	int         o   = 0;

	ids_array(sp, arr, sizeof(arr));
	snprintf(like, sizeof(like), "%s-n%%", sp->tag);
	params[0] = arr;
	params[1] = like;
	res       = PQexecParams(db,
	          "SELECT id::text, name, stock, price::text, version,"
	                " id = ANY($1::uuid[]) AS seeded"
	                " FROM products WHERE id = ANY($1::uuid[]) OR name LIKE $2"
	                " ORDER BY seeded DESC, id::text COLLATE \"C\"",
	          2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		die("rows: %s", PQerrorMessage(db));
	if ((out = malloc(cap)) == NULL)
		die("out of memory");
	out[0] = '\0';
	/* Created rows have random ids: order them by what they hold. */
	{
		int    n = PQntuples(res);
		char **lines;

		if ((lines = calloc((size_t)n + 1, sizeof(*lines))) == NULL)
			die("out of memory");
		for (int r = 0; r < n; r++) {
			if ((lines[r] = malloc(256)) == NULL)
				die("out of memory");
			snprintf(lines[r], 256, "%s %s s=%s $%s v=%s",
			    id_text(sp, PQgetvalue(res, r, 0)),
			    PQgetvalue(res, r, 1), PQgetvalue(res, r, 2),
			    PQgetvalue(res, r, 3), PQgetvalue(res, r, 4));
		}
		for (int i = 1; i < n; i++) { /* insertion sort, n is tiny */
			for (int j = i;
			     j > 0 && strcmp(lines[j - 1], lines[j]) > 0;
			     j--) {
				char *t      = lines[j];
				lines[j]     = lines[j - 1];
				lines[j - 1] = t;
			}
		}
		for (int r = 0; r < n; r++) {
			if (o < (int)cap)
				o += snprintf(out + o, cap - (size_t)o,
				    "  %s\n", lines[r]);
			free(lines[r]);
		}
		free(lines);
	}
	PQclear(res);
	return out;
}

/* Delete the sequence's rows once compared: the fixtures' database is
 * shared with suites that page through every product. */
static void
forget(PGconn *db, const struct space *sp)
{
	char        arr[160], like[64];
	const char *params[2];
	PGresult   *res;

	ids_array(sp, arr, sizeof(arr));
	snprintf(like, sizeof(like), "%s-n%%", sp->tag);
	params[0] = arr;
	params[1] = like;
	res       = PQexecParams(db,
	          "DELETE FROM products WHERE id = ANY($1::uuid[]) OR name LIKE $2",
	          2, NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		die("forget: %s", PQerrorMessage(db));
	PQclear(res);
}

/* ---- running ------------------------------------------------------------ */

/* Keep what a reply shows about the seeded products (for generating). */
struct model {
	int64_t ver[NPROD], stock[NPROD];
};

static void
model_product(
    struct model *md, const struct space *sp, const Inventory__V1__Product *w)
{
	if (w == NULL || w->id == NULL)
		return;
	for (int p = 0; p < NPROD; p++) {
		if (strcmp(w->id, sp->ids[p]) == 0 && w->version > 0) {
			md->ver[p]   = w->version;
			md->stock[p] = w->stock;
		}
	}
}

static void
model_reply(struct model *md, const struct space *sp, enum method m,
    const Inventory__V1__Response *r)
{
	if (r->details != NULL) {
		model_product(md, sp, r->details->current);
		for (size_t i = 0; i < r->details->n_items; i++)
			model_product(md, sp, r->details->items[i]->current);
	}
	if (!r->has_payload)
		return;
	if (m == M_BATCH_GET || m == M_RESERVE || m == M_LIST) {
		/* ListProductsResponse's products are field 1 as well. */
		Inventory__V1__BatchGetProductsResponse *b =
		    inventory__v1__batch_get_products_response__unpack(
		        NULL, r->payload.len, r->payload.data);

		if (b == NULL)
			return;
		for (size_t i = 0; i < b->n_products; i++)
			model_product(md, sp, b->products[i]);
		inventory__v1__batch_get_products_response__free_unpacked(
		    b, NULL);
		return;
	}
	Inventory__V1__GetProductResponse *p =
	    inventory__v1__get_product_response__unpack(
	        NULL, r->payload.len, r->payload.data);
	if (p != NULL) {
		model_product(md, sp, p->product);
		inventory__v1__get_product_response__free_unpacked(p, NULL);
	}
}

/* One call alone on A; its reply as text into out. */
static void
run_one_a(
    const struct call *c, const struct space *sp, struct model *md, char *out)
{
	Inventory__V1__Request  *env = envelope(c, sp);
	Inventory__V1__Response *r   = NULL;
	uint8_t                 *buf;
	size_t                   len;
	int                      rv;

	buf = bw_single_pack(env, &len);
	rv  = bw_exchange(g.sa, buf, len, &r);
	free(buf);
	bw_call_free(env);
	if (rv != 0)
		die("server A: %s", nng_strerror(rv));
	reply_text(sp, c->m, r, out, DESC_MAX);
	if (md != NULL)
		model_reply(md, sp, c->m, r);
	inventory__v1__response__free_unpacked(r, NULL);
}

/* The calls as one frame on B (socket s); replies as text into out. */
static void
run_frame_b(nng_socket s, const struct call *calls, int n,
    const struct space *sp, char (*out)[DESC_MAX])
{
	struct bw_frame          f = { 0 };
	Inventory__V1__Response *r = NULL;
	int                      rv;

	for (int i = 0; i < n; i++)
		bw_frame_add(&f, envelope(&calls[i], sp));
	rv = bw_send_frame(s, &f, &r);
	bw_frame_fini(&f);
	if (rv != 0)
		die("server B: %s", nng_strerror(rv));
	if ((int)r->n_batch != n)
		die("server B answered %zu of %d calls (code %s: %s)",
		    r->n_batch, n, bw_code_name(r->code),
		    r->message != NULL ? r->message : "");
	for (int i = 0; i < n; i++)
		reply_text(sp, calls[i].m, r->batch[i], out[i], DESC_MAX);
	inventory__v1__response__free_unpacked(r, NULL);
}

/* A version near what the model saw: mostly the current one. */
static int64_t
pick_version(uint64_t *s, const struct model *md, int p)
{
	int64_t v = p < NPROD ? md->ver[p] : 1;
	int     r = rnd_int(s, 0, 99);

	if (r < 65)
		return v;
	if (r < 85)
		return v > 1 ? v - 1 : v + 1;
	return v + 1;
}

static int
pick_product(uint64_t *s)
{
	return chance(s, 8) ? NPROD : rnd_int(s, 0, NPROD - 1);
}

static void
gen_call(
    uint64_t *s, const struct model *md, const struct seq *q, struct call *c)
{
	int w = rnd_int(s, 0, 99);

	if (q->n > 0 && chance(s, 15)) { /* a verbatim repeat */
		*c = q->calls[rnd_int(s, 0, q->n - 1)];
		return;
	}
	memset(c, 0, sizeof(*c));
	c->rid = chance(s, 35) ? -1 : rnd_int(s, 0, NRID - 1);
	c->p   = pick_product(s);
	if (w < 10) {
		c->m = M_GET;
	} else if (w < 32) {
		c->m     = M_UPDATE;
		c->stock = rnd_int(s, 0, 8);
		c->ev    = pick_version(s, md, c->p);
	} else if (w < 40) {
		c->m      = M_CREATE;
		c->name_k = rnd_int(s, 0, 1);
		c->stock  = rnd_int(s, 0, 5);
	} else if (w < 50) {
		c->m = M_BATCH_GET;
		c->n = rnd_int(s, 1, ITEMS_MAX);
		for (int i = 0; i < c->n; i++)
			c->ip[i] = pick_product(s);
	} else if (w < 72) {
		c->m = M_ADJUST;
		do
			c->delta = rnd_int(s, -5, 4);
		while (c->delta == 0);
		c->ev = chance(s, 70) ? 0 : pick_version(s, md, c->p);
	} else if (w < 90) {
		bool used[NPROD + 1] = { false };

		c->m = M_RESERVE;
		c->n = rnd_int(s, 1, ITEMS_MAX);
		for (int i = 0; i < c->n; i++) {
			int p;

			do
				p = pick_product(s);
			while (used[p]);
			used[p]  = true;
			c->ip[i] = p;
			if (chance(s, 70)) {
				c->iq[i] = rnd_int(s, 1, 4);
			} else {
				c->iev[i] = pick_version(s, md, p);
				c->is[i]  = rnd_int(s, 0, 8);
			}
		}
	} else {
		c->m = M_LIST;
		/* Within the sequence's own products: the next ones in id
		 * order belong to an earlier sequence. */
		c->page_size = rnd_int(s, 1, NPROD);
	}
}

/* Run q->calls on fresh products: one by one on A (generating them first
 * when `generate`), as one frame on B when s_b is given (else the caller
 * does), and the final rows when `rows`. */
static void
attempt_a(struct seq *q, bool generate)
{
	struct model md;
	uint64_t     s = q->seed;

	space_init(&q->sp);
	seed(g.pa, &q->sp);
	seed(g.pb, &q->sp);
	for (int p = 0; p < NPROD; p++) {
		md.ver[p]   = 1;
		md.stock[p] = p + 1;
	}
	if (generate) {
		uint64_t ls = s ^ 0x5bd1e995ULL;

		q->n = 0;
		for (int len = rnd_int(&ls, 1, g.maxlen); q->n < len;) {
			gen_call(&s, &md, q, &q->calls[q->n]);
			run_one_a(&q->calls[q->n], &q->sp, &md, q->a[q->n]);
			q->n++;
		}
		return;
	}
	for (int i = 0; i < q->n; i++)
		run_one_a(&q->calls[i], &q->sp, NULL, q->a[i]);
}

/* The final rows of both sides, then the rows are gone. */
static void
attempt_rows(struct seq *q)
{
	free(q->rows_a);
	free(q->rows_b);
	q->rows_a = rows_text(g.pa, &q->sp);
	q->rows_b = rows_text(g.pb, &q->sp);
	forget(g.pa, &q->sp);
	forget(g.pb, &q->sp);
}

static bool
differs(const struct seq *q)
{
	for (int i = 0; i < q->n; i++) {
		if (strcmp(q->a[i], q->b[i]) != 0)
			return true;
	}
	return strcmp(q->rows_a, q->rows_b) != 0;
}

static bool
replay(struct seq *q)
{
	attempt_a(q, false);
	run_frame_b(g.sb[0], q->calls, q->n, &q->sp, q->b);
	attempt_rows(q);
	return differs(q);
}

static void
print_seq(const struct seq *q, const char *what)
{
	char ct[256];

	printf("%s (seed %" PRIu64 ", %d calls; P0..P2 seeded with stock 1..3"
	       " at version 1, U unknown, C created):\n",
	    what, q->seed, q->n);
	for (int i = 0; i < q->n; i++) {
		bool diff = strcmp(q->a[i], q->b[i]) != 0;

		call_text(&q->calls[i], ct, sizeof(ct));
		printf("  %s%2d %s\n", diff ? "!" : " ", i, ct);
		printf("        alone: %s\n", q->a[i]);
		if (diff)
			printf("        frame: %s\n", q->b[i]);
	}
	if (strcmp(q->rows_a, q->rows_b) != 0)
		printf("  rows alone:\n%s  rows frame:\n%s", q->rows_a,
		    q->rows_b);
}

/* Drop calls while the mismatch stays; print the smallest found. */
static void
shrink_and_print(struct seq *q)
{
	struct seq *t        = calloc(1, sizeof(*t));
	int         budget   = SHRINK_MAX;
	bool        progress = true;

	if (t == NULL)
		die("out of memory");
	print_seq(q, "MISMATCH");
	*t        = *q;
	t->rows_a = NULL;
	t->rows_b = NULL;
	while (progress && budget > 0) {
		progress = false;
		for (int i = 0; i < t->n && budget > 0; i++) {
			struct seq *c = calloc(1, sizeof(*c));

			if (c == NULL)
				die("out of memory");
			c->seed = t->seed;
			for (int j = 0, k = 0; j < t->n; j++) {
				if (j != i)
					c->calls[k++] = t->calls[j];
			}
			c->n = t->n - 1;
			budget--;
			if (c->n > 0 && replay(c)) {
				free(t->rows_a);
				free(t->rows_b);
				free(t);
				t        = c;
				progress = true;
				break;
			}
			free(c->rows_a);
			free(c->rows_b);
			free(c);
		}
	}
	if (t->rows_a == NULL && !replay(t))
		printf("  (the mismatch did not replay: timing-dependent)\n");
	else
		print_seq(t, "MINIMAL");
	printf("  replay: differential --seed %" PRIu64
	       " --count 1 --parallel 1\n",
	    q->seed);
	free(t->rows_a);
	free(t->rows_b);
	free(t);
}

struct frame_job {
	struct seq *q;
	nng_socket  s;
};

static void *
frame_thread(void *arg)
{
	struct frame_job *j = arg;

	run_frame_b(j->s, j->q->calls, j->q->n, &j->q->sp, j->q->b);
	return NULL;
}

/* A group of sequences: generated on A one after the other, their frames
 * sent to B at once (parallel > 1) or one after the other. */
static void
run_group(struct seq **qs, int n, bool parallel)
{
	pthread_t        th[GROUP_MAX];
	struct frame_job jobs[GROUP_MAX];

	for (int k = 0; k < n; k++)
		attempt_a(qs[k], true);
	if (parallel && n > 1) {
		for (int k = 0; k < n; k++) {
			jobs[k] = (struct frame_job) { qs[k], g.sb[k] };
			if (pthread_create(
			        &th[k], NULL, frame_thread, &jobs[k]) != 0)
				die("pthread_create");
		}
		for (int k = 0; k < n; k++)
			pthread_join(th[k], NULL);
	} else {
		for (int k = 0; k < n; k++)
			run_frame_b(g.sb[0], qs[k]->calls, qs[k]->n,
			    &qs[k]->sp, qs[k]->b);
	}
	for (int k = 0; k < n; k++) {
		struct seq *q = qs[k];

		attempt_rows(q);
		g.frames++;
		g.calls += q->n;
		for (int i = 0; i < q->n; i++) {
			int c = text_code(q->a[i]);

			if (c >= 0)
				g.counts[q->calls[i].m][c]++;
		}
		if (differs(q)) {
			g.mismatches++;
			if (g.mismatches <= 5)
				shrink_and_print(q);
		}
	}
}

static long
env_long(const char *name, long dflt)
{
	const char *v = getenv(name);

	return v != NULL && v[0] != '\0' ? strtol(v, NULL, 10) : dflt;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: differential [--count N] [--seed S] [--parallel G] "
	    "[--max-len L]\n"
	    "  --count N     sequences (INVENTORY_DIFF_COUNT, default 2000)\n"
	    "  --seed S      first seed; sequence k uses S + k "
	    "(INVENTORY_DIFF_SEED)\n"
	    "  --parallel G  every other group of G frames runs at once on "
	    "B (INVENTORY_DIFF_PARALLEL, default 4; 1: never)\n"
	    "  --max-len L   calls per sequence at most "
	    "(INVENTORY_DIFF_MAX_LEN, default 12)\n"
	    "A: INVENTORY_SERVER, INVENTORY_DB; B: INVENTORY_DIFF_SERVER_B,"
	    " INVENTORY_DIFF_DB_B\n");
}

int
main(int argc, char **argv)
{
	long        count    = env_long("INVENTORY_DIFF_COUNT", 2000);
	long        parallel = env_long("INVENTORY_DIFF_PARALLEL", 4);
	long        maxlen   = env_long("INVENTORY_DIFF_MAX_LEN", 12);
	uint64_t    seed0    = (uint64_t)env_long("INVENTORY_DIFF_SEED", 0);
	struct seq *qs[GROUP_MAX];
	bool        reached = true;
	int         rv;

	for (int i = 1; i < argc; i += 2) {
		const char *a = argv[i],
		           *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (strcmp(a, "--help") == 0) {
			usage(stdout);
			return 0;
		}
		if (v == NULL) {
			usage(stderr);
			return 2;
		}
		if (strcmp(a, "--count") == 0)
			count = strtol(v, NULL, 10);
		else if (strcmp(a, "--seed") == 0)
			seed0 = strtoull(v, NULL, 10);
		else if (strcmp(a, "--parallel") == 0)
			parallel = strtol(v, NULL, 10);
		else if (strcmp(a, "--max-len") == 0)
			maxlen = strtol(v, NULL, 10);
		else {
			usage(stderr);
			return 2;
		}
	}
	if (count < 1 || parallel < 1 || parallel > GROUP_MAX || maxlen < 1 ||
	    maxlen > LEN_MAX) {
		usage(stderr);
		return 2;
	}
	if (seed0 == 0)
		seed0 = (uint64_t)time(NULL) * 1000;
	g.url_a = testenv_server();
	g.db_a  = testenv_get("INVENTORY_DB");
	g.url_b = getenv("INVENTORY_DIFF_SERVER_B");
	g.db_b  = getenv("INVENTORY_DIFF_DB_B");
	if (g.db_a == NULL || g.url_b == NULL || g.db_b == NULL)
		die("INVENTORY_DB, INVENTORY_DIFF_SERVER_B and "
		    "INVENTORY_DIFF_DB_B are needed (tests/differential/run.sh "
		    "sets them)");
	g.maxlen = (int)maxlen;
	g.run    = (unsigned)(seed0 ^ (seed0 >> 16)) ^ (unsigned)getpid();
	g.pa     = db_open(g.db_a);
	g.pb     = db_open(g.db_b);
	if ((rv = bw_open(g.url_a, RECV_MS, &g.sa)) != 0)
		die("dial %s: %s", g.url_a, nng_strerror(rv));
	for (int k = 0; k < (int)parallel; k++) {
		if ((rv = bw_open(g.url_b, RECV_MS, &g.sb[k])) != 0)
			die("dial %s: %s", g.url_b, nng_strerror(rv));
	}
	for (int k = 0; k < GROUP_MAX; k++) {
		if ((qs[k] = calloc(1, sizeof(*qs[k]))) == NULL)
			die("out of memory");
	}
	printf("differential: %ld sequences from seed %" PRIu64
	       ", up to %ld calls each, frames %ld at a time in every other "
	       "group\n",
	    count, seed0, maxlen, parallel);
	fflush(stdout);
	for (long done = 0, grp = 0; done < count; grp++) {
		int n =
		    (int)(count - done < parallel ? count - done : parallel);

		for (int k = 0; k < n; k++) {
			free(qs[k]->rows_a);
			free(qs[k]->rows_b);
			memset(qs[k], 0, sizeof(*qs[k]));
			qs[k]->seed = seed0 + (uint64_t)done + (uint64_t)k;
		}
		run_group(qs, n, grp % 2 == 1);
		done += n;
	}

	printf("differential: %ld sequences, %ld calls, %ld mismatching "
	       "sequences\n",
	    g.frames, g.calls, g.mismatches);
	printf("codes per method (the one-by-one side):\n");
	for (int m = 0; m < M_COUNT; m++) {
		printf("  %-16s", method_names[m]);
		for (uint32_t c = 0; c < CODE_MAX; c++) {
			if (g.counts[m][c] > 0)
				printf(" %s=%ld", bw_code_name(c),
				    g.counts[m][c]);
		}
		printf("\n");
	}
	if (count >= 200) {
		static const int need[] = { 10, 6, 9, 5 };

		for (size_t i = 0; i < sizeof(need) / sizeof(*need); i++) {
			long total = 0;

			for (int m = 0; m < M_COUNT; m++)
				total += g.counts[m][need[i]];
			if (total == 0) {
				printf("differential: the generator never "
				       "reached %s\n",
				    bw_code_name((uint32_t)need[i]));
				reached = false;
			}
		}
	}
	for (int k = 0; k < GROUP_MAX; k++) {
		free(qs[k]->rows_a);
		free(qs[k]->rows_b);
		free(qs[k]);
	}
	nng_close(g.sa);
	for (int k = 0; k < (int)parallel; k++)
		nng_close(g.sb[k]);
	PQfinish(g.pa);
	PQfinish(g.pb);
	nng_fini();
	return g.mismatches == 0 && reached ? 0 : 1;
}
