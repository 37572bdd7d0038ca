/* SPDX-License-Identifier: MIT */
/*
 * history.c: the history container and its text form.
 *
 * The text form is line-oriented so that a process killed at any moment
 * leaves a readable file (at worst a torn last line, which the reader
 * skips):
 *
 *   P <id> <v0> <s0>                                  a product
 *   I <seq> <client> <R|U|A> <id> <expected> <stock> <t_invoke>
 *   I <seq> <client> V <id> <group> <quantity> <t_invoke>  a reserve item
 *   C <seq> <code> <version> <stock> <t_complete>     its completion
 *   F <id> <rpc|sql> <version> <stock>                a final read
 *
 * seq numbers operations within one file; an I line without its C line is
 * an operation whose outcome was never learned (HIST_PENDING).
 */
#include "history.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

void
history_init(struct history *h)
{
	memset(h, 0, sizeof(*h));
}

void
history_fini(struct history *h)
{
	if (h == NULL)
		return;
	free(h->products);
	free(h->ops);
	memset(h, 0, sizeof(*h));
}

int
history_find_product(const struct history *h, const char *id)
{
	for (int i = 0; i < h->nproducts; i++)
		if (strcmp(h->products[i].id, id) == 0)
			return i;
	return -1;
}

int
history_add_product(struct history *h, const char *id, int64_t v0, int64_t s0)
{
	struct hist_product *p;
	int                  i;

	if ((i = history_find_product(h, id)) >= 0)
		return i;
	if (strlen(id) > HIST_ID_LEN)
		return -1;
	if (h->nproducts == h->capproducts) {
		int   cap = h->capproducts ? h->capproducts * 2 : 16;
		void *n   = realloc(h->products, (size_t)cap * sizeof(*p));
		if (n == NULL)
			return -1;
		h->products    = n;
		h->capproducts = cap;
	}
	p = &h->products[h->nproducts];
	memset(p, 0, sizeof(*p));
	strcpy(p->id, id);
	p->v0 = v0;
	p->s0 = s0;
	return h->nproducts++;
}

long
history_add_op(struct history *h, const struct hist_op *op)
{
	if (h->nops == h->capops) {
		size_t cap = h->capops ? h->capops * 2 : 1024;
		void  *n   = realloc(h->ops, cap * sizeof(*op));
		if (n == NULL)
			return -1;
		h->ops    = n;
		h->capops = cap;
	}
	h->ops[h->nops] = *op;
	return (long)h->nops++;
}

int
history_add_final(
    struct history *h, int p, const char *src, int64_t version, int64_t stock)
{
	struct hist_product *pr;
	size_t               len;

	if (p < 0 || p >= h->nproducts)
		return -1;
	pr = &h->products[p];
	if (pr->nfinal == HIST_FINAL_MAX)
		return -1;
	pr->final[pr->nfinal].version = version;
	pr->final[pr->nfinal].stock   = stock;
	/* A short label, cut to fit on purpose (memcpy, not snprintf: gcc's
	 * -Wformat-truncation flags the intended cut at -O3). */
	len = strnlen(src, sizeof(pr->final[0].src) - 1);
	memcpy(pr->final[pr->nfinal].src, src, len);
	pr->final[pr->nfinal].src[len] = '\0';
	pr->nfinal++;
	return 0;
}

int
history_fmt_product(char *buf, size_t len, const struct hist_product *p)
{
	return snprintf(
	    buf, len, "P %s %" PRId64 " %" PRId64 "\n", p->id, p->v0, p->s0);
}

int
history_fmt_invoke(char *buf, size_t len, long seq, const struct hist_op *op,
    const char *product_id)
{
	return snprintf(buf, len,
	    "I %ld %d %c %s %" PRId64 " %" PRId64 " %" PRId64 "\n", seq,
	    op->client, (char)op->type, product_id,
	    op->type == HIST_RESERVE ? op->group : op->expected, op->stock,
	    op->t_invoke);
}

int
history_fmt_complete(char *buf, size_t len, long seq, const struct hist_op *op)
{
	return snprintf(buf, len,
	    "C %ld %d %" PRId64 " %" PRId64 " %" PRId64 "\n", seq, op->code,
	    op->ret_version, op->ret_stock, op->t_complete);
}

int
history_fmt_final(char *buf, size_t len, const char *product_id,
    const char *src, int64_t version, int64_t stock)
{
	return snprintf(buf, len, "F %s %s %" PRId64 " %" PRId64 "\n",
	    product_id, src, version, stock);
}

static int fail(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

int
history_read_file(
    struct history *h, const char *path, char *err, size_t errlen)
{
	FILE  *f;
	char   line[512], id[64], src[16], type;
	long  *seqmap = NULL; /* seq -> index into h->ops, -1 if none */
	size_t nseq = 0, lineno = 0;
	int    rv = -1;

	if ((f = fopen(path, "r")) == NULL)
		return fail(err, errlen, "%s: %s", path, strerror(errno));
	while (fgets(line, sizeof(line), f) != NULL) {
		struct hist_op op;
		long           seq;
		int64_t        a, b, c;
		int            p, code, n = 0;

		lineno++;
		if (line[0] == '#' || line[0] == '\n')
			continue;
		if (strchr(line, '\n') == NULL) {
			if (!feof(f)) {
				fail(err, errlen, "%s:%zu: line too long",
				    path, lineno);
				goto out;
			}
			continue; /* torn last line of a killed writer */
		}
		switch (line[0]) {
		case 'P':
			if (sscanf(line, "P %63s %" SCNd64 " %" SCNd64 " %n",
			        id, &a, &b, &n) != 3 ||
			    line[n] != '\0')
				goto bad;
			if (history_add_product(h, id, a, b) < 0)
				goto nomem;
			break;
		case 'I':
			memset(&op, 0, sizeof(op));
			if (sscanf(line,
			        "I %ld %d %c %63s %" SCNd64 " %" SCNd64
			        " %" SCNd64 " %n",
			        &seq, &op.client, &type, id, &op.expected,
			        &op.stock, &op.t_invoke, &n) != 7 ||
			    line[n] != '\0' || seq < 0 ||
			    (type != HIST_READ && type != HIST_UPDATE &&
			        type != HIST_ADJUST && type != HIST_RESERVE))
				goto bad;
			if (type == HIST_RESERVE) {
				op.group    = op.expected;
				op.expected = 0;
			}
			if ((p = history_find_product(h, id)) < 0) {
				fail(err, errlen, "%s:%zu: unknown product %s",
				    path, lineno, id);
				goto out;
			}
			op.type       = (enum hist_type)type;
			op.product    = p;
			op.t_complete = HIST_NO_TIME;
			op.code       = HIST_PENDING;
			op.ret_stock  = -1;
			if ((size_t)seq >= nseq) {
				size_t cap = nseq ? nseq : 1024;
				long  *nm;
				while (cap <= (size_t)seq)
					cap *= 2;
				if ((nm = realloc(
				         seqmap, cap * sizeof(*nm))) == NULL)
					goto nomem;
				for (size_t i = nseq; i < cap; i++)
					nm[i] = -1;
				seqmap = nm;
				nseq   = cap;
			}
			if (seqmap[seq] != -1)
				goto bad;
			if ((seqmap[seq] = history_add_op(h, &op)) < 0)
				goto nomem;
			break;
		case 'C':
			if (sscanf(line,
			        "C %ld %d %" SCNd64 " %" SCNd64 " %" SCNd64
			        " %n",
			        &seq, &code, &a, &b, &c, &n) != 5 ||
			    line[n] != '\0' || seq < 0 ||
			    (size_t)seq >= nseq || seqmap[seq] < 0)
				goto bad;
			h->ops[seqmap[seq]].code        = code;
			h->ops[seqmap[seq]].ret_version = a;
			h->ops[seqmap[seq]].ret_stock   = b;
			h->ops[seqmap[seq]].t_complete  = c;
			break;
		case 'F':
			if (sscanf(line,
			        "F %63s %15s %" SCNd64 " %" SCNd64 " %n", id,
			        src, &a, &b, &n) != 4 ||
			    line[n] != '\0')
				goto bad;
			if ((p = history_find_product(h, id)) < 0 ||
			    history_add_final(h, p, src, a, b) != 0)
				goto bad;
			break;
		default:
			goto bad;
		}
	}
	if (ferror(f)) {
		fail(err, errlen, "%s: read error", path);
		goto out;
	}
	rv = 0;
	goto out;
bad:
	fail(err, errlen, "%s:%zu: malformed line: %.80s", path, lineno, line);
	goto out;
nomem:
	fail(err, errlen, "%s:%zu: out of memory", path, lineno);
out:
	free(seqmap);
	fclose(f);
	return rv;
}
