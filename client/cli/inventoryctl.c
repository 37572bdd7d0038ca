/* SPDX-License-Identifier: MIT */
/*
 * inventoryctl: the inventory service from the command line.
 *
 *   inventoryctl [--server URL] [--timeout MS] [--connections N]
 *                [--no-coalesce] [--tls-ca FILE [--tls-cert FILE
 *                --tls-key FILE] [--tls-server-name NAME]]
 *                [--token-file FILE] COMMAND ...
 *
 * Built on <inventory/client.h> only.  Output contract (scripts rely on
 * it): on success one JSON object, the product, on one line of stdout and
 * exit 0 (`get` with several ids: {"products":[...]} in the order asked,
 * from one BatchGetProducts call; `reserve`: {"products":[...]} in item
 * order; `list`: {"products":[...],"next_page_token":"..."}); on an RPC
 * error one JSON object {"code":...,"message":...} (plus
 * "current_version" and "current" when the server named the product as
 * it is: a conflict, or adjust-stock's too little/too much stock; plus
 * "items" for a failed reservation) on stdout and exit 64 + the status
 * code; on a usage error one line on stderr, a hint, exit 2.  The JSON
 * is built with jansson and dumped compact, keys in the order above.  The
 * bearer token (--token-file or INVENTORY_TOKEN) is handed to the library and
 * never printed, not even in an error.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include <inventory/client.h>

#include "parse.h"

#ifndef INVENTORY_VERSION
#define INVENTORY_VERSION "unknown"
#endif

#define PROG           "inventoryctl"
#define DEFAULT_SERVER "tcp://127.0.0.1:7070"
#define EXIT_USAGE     2
#define EXIT_OUTPUT    1    /* stdout could not be written */
#define EXIT_RPC_BASE  64   /* + inventory_code */
#define TOKEN_FILE_MAX 4096 /* bytes of a token file, newline included */

static const char usage_text[] =
    "Usage: " PROG " [--server URL] [--timeout MS] [--connections N]\n"
    "                    [--no-coalesce] [--tls-ca FILE] [--tls-cert FILE]\n"
    "                    [--tls-key FILE] [--tls-server-name NAME]\n"
    "                    [--token-file FILE] COMMAND ...\n"
    "\n"
    "Commands:\n"
    "  get ID [ID...]                               print a product; with\n"
    "                                               several ids "
    "{\"products\":[...]}\n"
    "                                               (one BatchGetProducts, "
    "at most 1000)\n"
    "  create --name NAME --stock N --price DECIMAL create a product\n"
    "  update-stock ID --stock N --version V        set the stock if the\n"
    "                                               product is at version V\n"
    "  adjust-stock ID --delta N [--version V] [--request-id RID]\n"
    "                                               add N (may be negative)\n"
    "                                               to the stock atomically;\n"
    "                                               with V only at version V\n"
    "  reserve ITEM [ITEM...] [--request-id RID]    all or nothing, at most "
    "100\n"
    "                                               items: ID:QTY takes QTY\n"
    "                                               units, ID@V=N sets the\n"
    "                                               stock to N at version V;\n"
    "                                               prints "
    "{\"products\":[...]}\n"
    "  list [--page-size N] [--page-token T]        one page of products in "
    "id\n"
    "                                               order: "
    "{\"products\":[...],\n"
    "                                               "
    "\"next_page_token\":\"...\"} (\"\"\n"
    "                                               on the last page)\n"
    "\n"
    "Options:\n"
    "  --server URL   inventoryd URL(s), comma-separated (default: "
    "$INVENTORY_SERVER, else " DEFAULT_SERVER ")\n"
    "  --timeout MS   per-call timeout in milliseconds (default: 5000)\n"
    "  --connections N  connections per server URL (default: "
    "$INVENTORY_CONNECTIONS, else 1)\n"
    "  --no-coalesce  send every call in its own frame (default: coalesce;\n"
    "                 INVENTORY_COALESCE=0 does the same)\n"
    "  --tls-ca FILE  PEM CA that signed the server's certificate, for\n"
    "                 tls+tcp://HOST:PORT URLs (env INVENTORY_TLS_CA)\n"
    "  --tls-cert FILE  PEM client certificate, for a server that requires\n"
    "                 one (env INVENTORY_TLS_CERT); with --tls-key\n"
    "  --tls-key FILE PEM key of --tls-cert (env INVENTORY_TLS_KEY)\n"
    "  --tls-server-name NAME  name the server's certificate must carry\n"
    "                 (env INVENTORY_TLS_SERVER_NAME; default: the URL's "
    "host)\n"
    "  --token-file FILE  read the bearer token from FILE (one line; env\n"
    "                 INVENTORY_TOKEN holds the token itself); never "
    "printed\n"
    "  -h, --help     show this help and exit\n"
    "  --version      show the version and exit\n"
    "\n"
    "Prints the product as one JSON object on stdout and exits 0.  On an\n"
    "RPC error prints {\"code\":...,\"message\":...} on stdout and exits 64\n"
    "plus the status code (ABORTED 74, NOT_FOUND 69, INVALID_ARGUMENT 67,\n"
    "DEADLINE_EXCEEDED 68, FAILED_PRECONDITION 73 (too little stock),\n"
    "OUT_OF_RANGE 75, UNAVAILABLE 78 (also a failed TLS handshake),\n"
    "PERMISSION_DENIED 71 (a reader's write), UNAUTHENTICATED 80 (no or\n"
    "an unknown token)).  A failed reserve adds \"items\":\n"
    "[{\"index\",\"id\",\"code\",\"message\",\"current\"}], one per "
    "failing\n"
    "item.  Usage errors exit 2.\n";

/* Print a usage error and return the exit code for it. */
static int usage_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

static int
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry '" PROG " --help' for more information.\n", stderr);
	return EXIT_USAGE;
}

/* --- JSON output ------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t
utf8_seq_len(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xC2 && c <= 0xDF)
		return (s[1] & 0xC0) == 0x80 ? 2 : 0;
	if (c >= 0xE0 && c <= 0xEF) {
		if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F))
			return 0; /* overlong or surrogate */
		return 3;
	}
	if (c >= 0xF0 && c <= 0xF4) {
		if ((s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
		    (s[3] & 0xC0) != 0x80)
			return 0;
		if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
			return 0; /* overlong or beyond U+10FFFF */
		return 4;
	}
	return 0;
}

/* str as a JSON string value: valid UTF-8 as it is, each invalid byte
 * as U+FFFD, so the output is always valid JSON whatever the server or
 * argv held (jansson takes only valid UTF-8).  NULL: out of memory. */
static json_t *
json_text(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	json_t              *v;
	char                *buf, *o;

	if ((v = json_string(str)) != NULL)
		return v;
	/* Each byte becomes at most the 3 bytes of U+FFFD. */
	if ((buf = malloc(3 * strlen(str) + 1)) == NULL)
		return NULL;
	o = buf;
	while (*s != '\0') {
		size_t n = utf8_seq_len(s);

		if (n == 0) { /* U+FFFD in UTF-8 */
			*o++ = (char)0xEF;
			*o++ = (char)0xBF;
			*o++ = (char)0xBD;
			s++;
		} else {
			memcpy(o, s, n);
			o += n;
			s += n;
		}
	}
	v = json_stringn(buf, (size_t)(o - buf));
	free(buf);
	return v;
}

/* µs since the epoch as an RFC 3339 UTC string with microseconds,
 * "2026-11-25T17:08:50.123456Z"; null if it is not a representable time. */
static json_t *
json_time(int64_t us)
{
	int64_t   secs = us / 1000000, frac = us % 1000000;
	time_t    t;
	struct tm tm;

	if (frac < 0) { /* floor, so times before 1970 come out right */
		frac += 1000000;
		secs -= 1;
	}
	t = (time_t)secs;
	if (gmtime_r(&t, &tm) == NULL || tm.tm_year + 1900 < 0 ||
	    tm.tm_year + 1900 > 9999)
		return json_null();
	return json_sprintf("%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, (long)frac);
}

/* The product as the object every command prints; NULL: out of memory.
 * json_object_set_new() consumes its value even when it fails, so each
 * builder sets every field and checks once. */
static json_t *
json_product(const inventory_product *p)
{
	json_t *o  = json_object();
	int     rv = 0;

	rv |= json_object_set_new(o, "id", json_text(p->id));
	rv |= json_object_set_new(o, "name", json_text(p->name));
	rv |= json_object_set_new(o, "stock", json_integer(p->stock));
	rv |= json_object_set_new(o, "price", json_text(p->price));
	rv |= json_object_set_new(o, "version", json_integer(p->version));
	rv |=
	    json_object_set_new(o, "created_at", json_time(p->created_at_us));
	rv |=
	    json_object_set_new(o, "updated_at", json_time(p->updated_at_us));
	if (rv != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* {"products":[...]} of n products, plus the fields the caller adds. */
static json_t *
json_products(const inventory_product *p, size_t n)
{
	json_t *o = json_object(), *a = json_array();
	int     rv = 0;

	for (size_t i = 0; i < n; i++)
		rv |= json_array_append_new(a, json_product(&p[i]));
	rv |= json_object_set_new(o, "products", a);
	if (rv != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Flush stdout; a failed write is reported and turned into its exit. */
static int
finish_output(int rc)
{
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, PROG ": cannot write output: %s\n",
		    strerror(errno));
		return EXIT_OUTPUT;
	}
	return rc;
}

/* Print doc (taken: freed here) as one line of stdout and return rc, or
 * the exit for output that could not be made or written. */
static int
emit(json_t *doc, int rc)
{
	if (doc == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return EXIT_OUTPUT;
	}
	/* Compact, in insertion order: the one-line objects of the output
	 * contract, key for key. */
	if (json_dumpf(doc, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER) == 0)
		putc('\n', stdout);
	json_decref(doc);
	return finish_output(rc);
}

/* The error object {"code":...,"message":...} plus the fields that name
 * the product as it is: always for a conflict, else when the server sent
 * it (adjust-stock's refusals).  NULL: out of memory. */
static json_t *
json_error(inventory_code code, const inventory_status *st)
{
	json_t *o  = json_object();
	int     rv = 0;

	rv |= json_object_set_new(
	    o, "code", json_text(inventory_code_name(code)));
	rv |= json_object_set_new(o, "message", json_text(st->message));
	if (code == INVENTORY_ABORTED || st->current != NULL) {
		rv |= json_object_set_new(
		    o, "current_version", json_integer(st->current_version));
		if (st->current != NULL)
			rv |= json_object_set_new(
			    o, "current", json_product(st->current));
	}
	if (rv != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Print the outcome of an RPC and return the exit code. */
static int
report(inventory_code code, const inventory_product *p,
    const inventory_status *st)
{
	if (code == INVENTORY_OK && p != NULL)
		return emit(json_product(p), 0);
	return emit(json_error(code, st), EXIT_RPC_BASE + (int)code);
}

/* --- command-line parsing ---------------------------------------------- */

/* One --flag VALUE option of a command. */
struct flag {
	const char *name;     /* "--stock" */
	const char *value;    /* NULL until given */
	int         optional; /* non-zero: may be left out */
};

/* If argv[*i] is the flag f (as "--f VALUE" or "--f=VALUE"), take its
 * value and advance *i.  Returns 1 if taken, 0 if argv[*i] is another
 * argument, or -1 after printing a usage error (exit code in *rc). */
static int
take_flag(struct flag *f, int argc, char **argv, int *i, int *rc)
{
	const char *arg = argv[*i];
	size_t      n   = strlen(f->name);
	const char *value;

	if (strncmp(arg, f->name, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
		return 0;
	if (f->value != NULL) {
		*rc = usage_error("%s given twice", f->name);
		return -1;
	}
	if (arg[n] == '=') {
		value = arg + n + 1;
	} else {
		if (*i + 1 >= argc) {
			*rc = usage_error("%s needs a value", f->name);
			return -1;
		}
		value = argv[++*i];
	}
	f->value = value;
	return 1;
}

/* parse_command() saw --help and printed the usage: exit 0. */
#define PARSE_HELP (-1)

/* Parse a command's arguments: its flags (any order) and npos_min to
 * npos_max positional arguments into pos[] (*ngot of them, when ngot is
 * not NULL).  Returns 0, a usage exit code, or PARSE_HELP. */
static int
parse_command(const char *cmd, int argc, char **argv, struct flag *flags,
    size_t nflags, const char **pos, int npos_min, int npos_max, int *ngot)
{
	int got = 0, rc = 0;

	for (int i = 0; i < argc; i++) {
		int taken = 0;

		for (size_t k = 0; k < nflags && taken == 0; k++)
			taken = take_flag(&flags[k], argc, argv, &i, &rc);
		if (taken < 0)
			return rc;
		if (taken > 0)
			continue;
		if (strcmp(argv[i], "--help") == 0 ||
		    strcmp(argv[i], "-h") == 0) {
			fputs(usage_text, stdout);
			return PARSE_HELP;
		}
		if (argv[i][0] == '-' && argv[i][1] == '-')
			return usage_error(
			    "%s: unknown option '%s'", cmd, argv[i]);
		if (got >= npos_max)
			return npos_max > 1
			           ? usage_error(
			                 "%s: at most %d ids", cmd, npos_max)
			           : usage_error(
			                 "%s: unexpected argument '%s'", cmd,
			                 argv[i]);
		pos[got++] = argv[i];
	}
	if (got < npos_min)
		return usage_error("%s: missing ID", cmd);
	if (ngot != NULL)
		*ngot = got;
	for (size_t k = 0; k < nflags; k++)
		if (flags[k].value == NULL && !flags[k].optional)
			return usage_error(
			    "%s: missing %s", cmd, flags[k].name);
	return 0;
}

/* Read the bearer token from path into buf (len bytes): the file's one
 * line, without its newline.  0, or a usage exit code (the message names
 * the file, never its content). */
static int
read_token_file(const char *path, char *buf, size_t len)
{
	FILE  *f;
	size_t n;

	if ((f = fopen(path, "r")) == NULL)
		return usage_error(
		    "cannot read --token-file %s: %s", path, strerror(errno));
	n = fread(buf, 1, len - 1, f);
	if (ferror(f) || (n == len - 1 && fgetc(f) != EOF)) {
		fclose(f);
		return usage_error(
		    "--token-file %s: unreadable or too long", path);
	}
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	if (n == 0 || strchr(buf, '\n') != NULL)
		return usage_error(
		    "--token-file %s: want one line, the token", path);
	return 0;
}

/* What the global options say about the handle. */
struct conn_opts {
	const char           *server;     /* URL list */
	int                   timeout_ms; /* 0: the library's default */
	inventory_client_opts opts;       /* connections, coalescing */
};

/* Open a handle or report why not (a usage error: the URL is bad). */
static int
open_client(const struct conn_opts *co, inventory_client **c)
{
	const char    *server     = co->server;
	int            timeout_ms = co->timeout_ms;
	inventory_code code = inventory_client_open_opts(c, server, &co->opts);

	if (code == INVENTORY_INVALID_ARGUMENT)
		return usage_error(
		    "invalid server URL '%s', token or TLS files "
		    "(a tls+tcp:// URL needs --tls-ca)",
		    server);
	if (code != INVENTORY_OK) {
		fprintf(stderr, PROG ": cannot open client: %s\n",
		    inventory_code_name(code));
		return EXIT_RPC_BASE + (int)code;
	}
	if (timeout_ms > 0)
		inventory_client_set_timeout(*c, timeout_ms);
	return 0;
}

/* Print {"products":[...]} and return exit 0. */
static int
report_products(const inventory_product *p, size_t n)
{
	return emit(json_products(p, n), 0);
}

static int
cmd_get(
    inventory_client **c, const struct conn_opts *co, int argc, char **argv)
{
	const char       **ids;
	inventory_product *p  = NULL;
	inventory_status   st = { 0 };
	inventory_code     code;
	int                rc, n = 0;

	/* Never more ids than arguments. */
	if ((ids = calloc((size_t)argc + 1, sizeof(*ids))) == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		return EXIT_OUTPUT;
	}
	if ((rc = parse_command("get", argc, argv, NULL, 0, ids, 1,
	         INVENTORY_BATCH_GET_MAX, &n)) != 0) {
		free(ids);
		return rc == PARSE_HELP ? finish_output(0) : rc;
	}
	if ((rc = open_client(co, c)) != 0) {
		free(ids);
		return rc;
	}
	if (n == 1) {
		code = inventory_get_product(*c, ids[0], NULL, &p, &st);
		rc   = report(code, p, &st);
	} else {
		code = inventory_batch_get_products(
		    *c, ids, (size_t)n, NULL, &p, &st);
		rc = code == INVENTORY_OK ? report_products(p, (size_t)n)
		                          : report(code, NULL, &st);
	}
	inventory_product_free(p);
	inventory_status_fini(&st);
	free(ids);
	return rc;
}

static int
cmd_create(
    inventory_client **c, const struct conn_opts *co, int argc, char **argv)
{
	struct flag flags[] = {
		{ "--name", NULL, 0 },
		{ "--stock", NULL, 0 },
		{ "--price", NULL, 0 },
	};
	inventory_product *p  = NULL;
	inventory_status   st = { 0 };
	inventory_code     code;
	int64_t            stock;
	int                rc;

	if ((rc = parse_command(
	         "create", argc, argv, flags, 3, NULL, 0, 0, NULL)) != 0)
		return rc == PARSE_HELP ? finish_output(0) : rc;
	if (parse_bounded(flags[1].value, INT64_MIN, INT64_MAX, &stock) != 0)
		return usage_error("create: --stock must be an integer, not "
		                   "'%s'",
		    flags[1].value);
	if ((rc = open_client(co, c)) != 0)
		return rc;
	code = inventory_create_product(
	    *c, flags[0].value, stock, flags[2].value, NULL, &p, &st);
	rc = report(code, p, &st);
	inventory_product_free(p);
	inventory_status_fini(&st);
	return rc;
}

static int
cmd_update_stock(
    inventory_client **c, const struct conn_opts *co, int argc, char **argv)
{
	struct flag flags[] = {
		{ "--stock", NULL, 0 },
		{ "--version", NULL, 0 },
	};
	const char        *id = NULL;
	inventory_product *p  = NULL;
	inventory_status   st = { 0 };
	inventory_code     code;
	int64_t            stock, version;
	int                rc;

	if ((rc = parse_command(
	         "update-stock", argc, argv, flags, 2, &id, 1, 1, NULL)) != 0)
		return rc == PARSE_HELP ? finish_output(0) : rc;
	if (parse_bounded(flags[0].value, INT64_MIN, INT64_MAX, &stock) != 0)
		return usage_error("update-stock: --stock must be an integer, "
		                   "not '%s'",
		    flags[0].value);
	if (parse_bounded(flags[1].value, INT64_MIN, INT64_MAX, &version) != 0)
		return usage_error("update-stock: --version must be an "
		                   "integer, not '%s'",
		    flags[1].value);
	if ((rc = open_client(co, c)) != 0)
		return rc;
	code = inventory_update_stock(*c, id, stock, version, NULL, &p, &st);
	rc   = report(code, p, &st);
	inventory_product_free(p);
	inventory_status_fini(&st);
	return rc;
}

static int
cmd_adjust_stock(
    inventory_client **c, const struct conn_opts *co, int argc, char **argv)
{
	struct flag flags[] = {
		{ "--delta", NULL, 0 },
		{ "--version", NULL, 1 },
		{ "--request-id", NULL, 1 },
	};
	const char         *id = NULL;
	inventory_product  *p  = NULL;
	inventory_status    st = { 0 };
	inventory_call_opts o  = { 0 };
	inventory_code      code;
	int64_t             delta, version = 0;
	int                 rc;

	if ((rc = parse_command(
	         "adjust-stock", argc, argv, flags, 3, &id, 1, 1, NULL)) != 0)
		return rc == PARSE_HELP ? finish_output(0) : rc;
	if (parse_bounded(flags[0].value, INT64_MIN, INT64_MAX, &delta) != 0)
		return usage_error("adjust-stock: --delta must be an integer, "
		                   "not '%s'",
		    flags[0].value);
	if (flags[1].value != NULL &&
	    parse_bounded(flags[1].value, INT64_MIN, INT64_MAX, &version) != 0)
		return usage_error("adjust-stock: --version must be an "
		                   "integer, not '%s'",
		    flags[1].value);
	o.request_id = flags[2].value;
	if ((rc = open_client(co, c)) != 0)
		return rc;
	code = inventory_adjust_stock(*c, id, delta, version, &o, &p, &st);
	rc   = report(code, p, &st);
	inventory_product_free(p);
	inventory_status_fini(&st);
	return rc;
}

/* Parse one reserve item: ID:QTY (take) or ID@VERSION=STOCK (set).  The
 * id is cut out of arg in place.  Returns 0 or -1. */
static int
parse_reserve_item(char *arg, inventory_reserve_item *it)
{
	char *at = strchr(arg, '@'), *colon = strrchr(arg, ':'), *eq;

	memset(it, 0, sizeof(*it));
	it->id = arg;
	if (at != NULL) {
		if ((eq = strchr(at, '=')) == NULL)
			return -1;
		*at = '\0';
		*eq = '\0';
		if (parse_bounded(at + 1, INT64_MIN, INT64_MAX,
		        &it->expected_version) != 0 ||
		    parse_bounded(eq + 1, INT64_MIN, INT64_MAX, &it->stock) !=
		        0)
			return -1;
		/* quantity 0: a set; the library checks version >= 1. */
		return 0;
	}
	if (colon == NULL)
		return -1;
	*colon = '\0';
	if (parse_bounded(colon + 1, INT64_MIN, INT64_MAX, &it->quantity) != 0)
		return -1;
	/* A take of 0 would read as a set: let the library refuse it by
	 * name instead of sending a set with version 0. */
	return it->quantity == 0 ? -1 : 0;
}

/* One failing item of a reservation; its id as the caller gave it. */
static json_t *
json_item_error(const inventory_item_error *e, const char *id)
{
	json_t *o  = json_object();
	int     rv = 0;

	rv |= json_object_set_new(
	    o, "index", json_integer((json_int_t)e->index));
	rv |= json_object_set_new(o, "id", json_text(id));
	rv |= json_object_set_new(
	    o, "code", json_text(inventory_code_name(e->code)));
	rv |= json_object_set_new(o, "message", json_text(e->message));
	rv |= json_object_set_new(o, "current",
	    e->current.version > 0 ? json_product(&e->current) : json_null());
	if (rv != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* Print a failed reservation: the error object plus its items. */
static int
report_reserve_error(inventory_code code, const inventory_status *st,
    const inventory_reserve_item *items, const inventory_item_error *errs,
    size_t nerrs)
{
	json_t *o  = json_error(code, st), *a;
	int     rv = 0;

	if (o != NULL && nerrs > 0) {
		a = json_array();
		/* The library checked index < n. */
		for (size_t i = 0; i < nerrs; i++)
			rv |= json_array_append_new(
			    a, json_item_error(
			           &errs[i], items[errs[i].index].id));
		rv |= json_object_set_new(o, "items", a);
	}
	if (rv != 0) {
		json_decref(o);
		o = NULL;
	}
	return emit(o, EXIT_RPC_BASE + (int)code);
}

static int
cmd_reserve(
    inventory_client **c, const struct conn_opts *co, int argc, char **argv)
{
	struct flag             flags[] = { { "--request-id", NULL, 1 } };
	const char            **args;
	inventory_reserve_item *items = NULL;
	inventory_item_error   *errs  = NULL;
	size_t                  nerrs = 0;
	inventory_product      *p     = NULL;
	inventory_status        st    = { 0 };
	inventory_call_opts     o     = { 0 };
	inventory_code          code;
	int                     rc, n = 0;

	/* Never more items than arguments. */
	if ((args = calloc((size_t)argc + 1, sizeof(*args))) == NULL ||
	    (items = calloc((size_t)argc + 1, sizeof(*items))) == NULL) {
		fprintf(stderr, PROG ": out of memory\n");
		rc = EXIT_OUTPUT;
		goto out_free;
	}
	if ((rc = parse_command("reserve", argc, argv, flags, 1, args, 1,
	         INVENTORY_RESERVE_MAX, &n)) != 0) {
		rc = rc == PARSE_HELP ? finish_output(0) : rc;
		goto out_free;
	}
	for (int i = 0; i < n; i++) {
		char shown[128]; /* args[i] before it is cut */

		snprintf(shown, sizeof(shown), "%s", args[i]);
		/* argv is ours to cut: the id ends where ':' or '@' was. */
		if (parse_reserve_item((char *)args[i], &items[i]) != 0) {
			rc = usage_error("reserve: '%s' is not ID:QTY (QTY >= "
			                 "1) or ID@VERSION=STOCK",
			    shown);
			goto out_free;
		}
	}
	o.request_id = flags[0].value;
	if ((rc = open_client(co, c)) != 0)
		goto out_free;
	code = inventory_reserve(
	    *c, items, (size_t)n, &o, &p, &st, &errs, &nerrs);
	rc = code == INVENTORY_OK
	         ? report_products(p, (size_t)n)
	         : report_reserve_error(code, &st, items, errs, nerrs);
out_free:
	inventory_product_free(p);
	inventory_status_fini(&st);
	free(errs);
	free(items);
	free(args);
	return rc;
}

static int
cmd_list(
    inventory_client **c, const struct conn_opts *co, int argc, char **argv)
{
	struct flag flags[] = {
		{ "--page-size", NULL, 1 },
		{ "--page-token", NULL, 1 },
	};
	inventory_product *p     = NULL;
	inventory_status   st    = { 0 };
	char              *token = NULL;
	size_t             n     = 0;
	inventory_code     code;
	int64_t            size = 0;
	int                rc;

	if ((rc = parse_command(
	         "list", argc, argv, flags, 2, NULL, 0, 0, NULL)) != 0)
		return rc == PARSE_HELP ? finish_output(0) : rc;
	if (flags[0].value != NULL &&
	    parse_bounded(flags[0].value, 0, INT_MAX, &size) != 0)
		return usage_error("list: --page-size must be a non-negative "
		                   "integer, not '%s'",
		    flags[0].value);
	if ((rc = open_client(co, c)) != 0)
		return rc;
	code = inventory_list_products(
	    *c, (int)size, flags[1].value, NULL, &p, &n, &token, &st);
	if (code == INVENTORY_OK) {
		json_t *doc = json_products(p, n);

		if (doc != NULL && json_object_set_new(doc, "next_page_token",
		                       json_text(token)) != 0) {
			json_decref(doc);
			doc = NULL;
		}
		rc = emit(doc, 0);
	} else {
		rc = report(code, NULL, &st);
	}
	inventory_product_free(p);
	free(token);
	inventory_status_fini(&st);
	return rc;
}

static const struct command {
	const char *name;
	int (*run)(inventory_client **c, const struct conn_opts *co, int argc,
	    char **argv);
} commands[] = {
	{ "get", cmd_get },
	{ "create", cmd_create },
	{ "update-stock", cmd_update_stock },
	{ "adjust-stock", cmd_adjust_stock },
	{ "reserve", cmd_reserve },
	{ "list", cmd_list },
};

int
main(int argc, char **argv)
{
	struct flag server = { "--server", NULL, 0 };
	struct flag tmo    = { "--timeout", NULL, 0 };
	struct flag conns  = { "--connections", NULL, 0 };
	struct flag tls[]  = {
		 { "--tls-ca", NULL, 0 },
		 { "--tls-cert", NULL, 0 },
		 { "--tls-key", NULL, 0 },
		 { "--tls-server-name", NULL, 0 },
		 { "--token-file", NULL, 0 },
	};
	static const char *const tls_env[] = { "INVENTORY_TLS_CA",
		"INVENTORY_TLS_CERT", "INVENTORY_TLS_KEY",
		"INVENTORY_TLS_SERVER_NAME", NULL };
	static char              token[TOKEN_FILE_MAX + 1];
	struct conn_opts         co = { 0 };
	const char              *url, *env;
	/* One connection by default: a command makes one call, and a
	 * second connection would only be left mid-handshake at exit, which
	 * nng 1.5.2 servers can wedge a listener on (nng#1518). */
	int64_t timeout_ms = 0, nconn = 1;
	int     i, rc                 = 0;

	/* Global options, up to the command. */
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		int taken = take_flag(&server, argc, argv, &i, &rc);
		if (taken == 0)
			taken = take_flag(&tmo, argc, argv, &i, &rc);
		if (taken == 0)
			taken = take_flag(&conns, argc, argv, &i, &rc);
		for (size_t k = 0;
		     k < sizeof(tls) / sizeof(tls[0]) && taken == 0; k++)
			taken = take_flag(&tls[k], argc, argv, &i, &rc);
		if (taken < 0)
			return rc;
		if (taken == 0 && strcmp(argv[i], "--no-coalesce") == 0) {
			co.opts.no_coalesce = 1;
			continue;
		}
		if (taken == 0) {
			if (strcmp(argv[i], "--help") == 0 ||
			    strcmp(argv[i], "-h") == 0) {
				fputs(usage_text, stdout);
				return finish_output(0);
			}
			if (strcmp(argv[i], "--version") == 0) {
				printf(PROG " " INVENTORY_VERSION "\n");
				return finish_output(0);
			}
			return usage_error("unknown option '%s'", argv[i]);
		}
	}
	if (tmo.value != NULL &&
	    parse_bounded(tmo.value, 1, INT_MAX, &timeout_ms) != 0)
		return usage_error("--timeout must be a positive integer "
		                   "(milliseconds), not '%s'",
		    tmo.value);
	if (conns.value == NULL &&
	    (env = getenv("INVENTORY_CONNECTIONS")) != NULL && *env != '\0')
		conns.value = env;
	if (conns.value != NULL &&
	    parse_bounded(conns.value, 1, 64, &nconn) != 0)
		return usage_error(
		    "--connections must be 1..64, not '%s'", conns.value);
	co.opts.connections = (int)nconn;
	if ((env = getenv("INVENTORY_COALESCE")) != NULL &&
	    strcmp(env, "0") == 0)
		co.opts.no_coalesce = 1;
	for (size_t k = 0; tls_env[k] != NULL; k++)
		if (tls[k].value == NULL &&
		    (env = getenv(tls_env[k])) != NULL && *env != '\0')
			tls[k].value = env;
	co.opts.tls_ca_file     = tls[0].value;
	co.opts.tls_cert_file   = tls[1].value;
	co.opts.tls_key_file    = tls[2].value;
	co.opts.tls_server_name = tls[3].value;
	if ((tls[1].value == NULL) != (tls[2].value == NULL))
		return usage_error("give --tls-cert and --tls-key together");
	if (tls[4].value != NULL) {
		if ((rc = read_token_file(
		         tls[4].value, token, sizeof(token))) != 0)
			return rc;
		co.opts.token = token;
	} else if ((env = getenv("INVENTORY_TOKEN")) != NULL && *env != '\0') {
		co.opts.token = env;
	}
	if (i >= argc)
		return usage_error("missing COMMAND");

	url = server.value;
	if (url == NULL && (url = getenv("INVENTORY_SERVER")) != NULL &&
	    *url == '\0')
		url = NULL;
	if (url == NULL)
		url = DEFAULT_SERVER;

	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++) {
		if (strcmp(argv[i], commands[k].name) == 0) {
			inventory_client *c = NULL;

			co.server     = url;
			co.timeout_ms = (int)timeout_ms;
			rc            = commands[k].run(
			               &c, &co, argc - i - 1, argv + i + 1);
			inventory_client_close(c);
			return rc;
		}
	}
	return usage_error("unknown command '%s'", argv[i]);
}
