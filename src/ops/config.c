/* SPDX-License-Identifier: MIT */
/*
 * inventoryd configuration.  One table describes every key: its long flag,
 * its environment variable, its type, bounds and default.  Loading applies
 * defaults, then the environment, then the command line, validating each
 * value with the same code so a bad INVENTORY_WORKERS and a bad --workers
 * get the same message.
 */
#include "ops/config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"

#ifndef INVENTORY_VERSION /* set by the build from project(VERSION) */
#define INVENTORY_VERSION "unknown"
#endif

enum key_type {
	KEY_STRING,
	KEY_INT,
	KEY_SIZE,
	KEY_BOOL,
	KEY_LEVEL,
	KEY_FORMAT,
};

struct key {
	const char   *flag; /* long option name */
	const char   *env;  /* environment variable, or NULL */
	enum key_type type;
	size_t        offset;   /* into struct config */
	const char   *def;      /* default as text; NULL: computed */
	long long     min, max; /* bounds for numbers */
};

static const struct key keys[] = {
	{ "listen", "INVENTORY_LISTEN", KEY_STRING,
	    offsetof(struct config, listen), "tcp://127.0.0.1:7070", 0, 0 },
	{ "db", "INVENTORY_DB", KEY_STRING, offsetof(struct config, db), "", 0,
	    0 },
	{ "workers", "INVENTORY_WORKERS", KEY_INT,
	    offsetof(struct config, workers), NULL, 1, 1024 },
	{ "migrate", NULL, KEY_BOOL, offsetof(struct config, migrate), "0", 0,
	    1 },
	{ "max-frame", "INVENTORY_MAX_FRAME", KEY_SIZE,
	    offsetof(struct config, max_frame), "65536", 256, 16777216 },
	{ "log-level", "INVENTORY_LOG_LEVEL", KEY_LEVEL,
	    offsetof(struct config, log_level), "info", 0, 0 },
	{ "request-ttl", "INVENTORY_REQUEST_TTL", KEY_INT,
	    offsetof(struct config, request_ttl_s), "86400", 60, 2592000 },
	{ "max-pending", "INVENTORY_MAX_PENDING", KEY_INT,
	    offsetof(struct config, max_pending), "4096", 1, 1000000 },
	{ "max-connections", "INVENTORY_MAX_CONNECTIONS", KEY_INT,
	    offsetof(struct config, max_connections), "1024", 1, 65536 },
	{ "max-connections-per-peer", "INVENTORY_MAX_CONNECTIONS_PER_PEER",
	    KEY_INT, offsetof(struct config, max_conns_per_peer), "256", 1,
	    65536 },
	{ "idle-timeout", "INVENTORY_IDLE_TIMEOUT", KEY_INT,
	    offsetof(struct config, idle_timeout_s), "60", 1, 86400 },
	{ "max-reply", "INVENTORY_MAX_REPLY", KEY_SIZE,
	    offsetof(struct config, max_reply), "8388608", 65536, 1073741824 },
	{ "reply-memory", "INVENTORY_REPLY_MEMORY", KEY_SIZE,
	    offsetof(struct config, reply_memory), "201326592", 1048576,
	    68719476736LL },
	{ "db-file", "INVENTORY_DB_FILE", KEY_STRING,
	    offsetof(struct config, db_file), "", 0, 0 },
	{ "auth-file", "INVENTORY_AUTH_FILE", KEY_STRING,
	    offsetof(struct config, auth_file), "", 0, 0 },
	{ "audit-log", "INVENTORY_AUDIT_LOG", KEY_STRING,
	    offsetof(struct config, audit_log), "", 0, 0 },
	{ "audit-in-log", "INVENTORY_AUDIT_IN_LOG", KEY_BOOL,
	    offsetof(struct config, audit_in_log), "0", 0, 1 },
	{ "tls-cert", "INVENTORY_TLS_CERT", KEY_STRING,
	    offsetof(struct config, tls_cert), "", 0, 0 },
	{ "tls-key", "INVENTORY_TLS_KEY", KEY_STRING,
	    offsetof(struct config, tls_key), "", 0, 0 },
	{ "tls-client-ca", "INVENTORY_TLS_CLIENT_CA", KEY_STRING,
	    offsetof(struct config, tls_client_ca), "", 0, 0 },
	{ "http", "INVENTORY_HTTP", KEY_STRING, offsetof(struct config, http),
	    "", 0, 0 },
	{ "http-max-connections", "INVENTORY_HTTP_MAX_CONNECTIONS", KEY_INT,
	    offsetof(struct config, http_max_connections), "256", 1, 65536 },
	{ "http-max-connections-per-peer",
	    "INVENTORY_HTTP_MAX_CONNECTIONS_PER_PEER", KEY_INT,
	    offsetof(struct config, http_max_conns_per_peer), "64", 1, 65536 },
	{ "log-format", "INVENTORY_LOG_FORMAT", KEY_FORMAT,
	    offsetof(struct config, log_format), "text", 0, 0 },
};

enum { NKEYS = sizeof(keys) / sizeof(keys[0]) };

const char config_usage[] =
    "usage: inventoryd [--listen URL[,URL...]] [--db CONNINFO | --db-file "
    "FILE]\n"
    "                  [--workers N] [--max-frame BYTES] [--max-pending N]\n"
    "                  [--max-connections N] [--max-connections-per-peer N]\n"
    "                  [--idle-timeout SECONDS] [--max-reply BYTES]\n"
    "                  [--reply-memory BYTES] [--log-level LEVEL]\n"
    "                  [--request-ttl SECONDS] [--auth-file FILE]\n"
    "                  [--audit-log FILE] [--audit-in-log]\n"
    "                  [--tls-cert FILE --tls-key FILE\n"
    "                  [--tls-client-ca FILE]] [--log-format text|json]\n"
    "                  [--http URL] [--http-max-connections N]\n"
    "                  [--http-max-connections-per-peer N] [--migrate]\n"
    "\n"
    "  --listen URLS      nng URLs to serve, comma-separated\n"
    "                     (tcp://HOST:PORT, tls+tcp://HOST:PORT with\n"
    "                     --tls-cert/--tls-key, ipc:///PATH); env "
    "INVENTORY_LISTEN;\n"
    "                     default tcp://127.0.0.1:7070\n"
    "  --db CONNINFO      libpq connection string or URI; env INVENTORY_DB;\n"
    "                     empty: libpq's PG* variables\n"
    "  --db-file FILE     read the conninfo from FILE's first line instead;\n"
    "                     FILE must not be readable by group or others;\n"
    "                     env INVENTORY_DB_FILE; excludes --db\n"
    "  --workers N        database executors = database connections\n"
    "                     (1..1024); each runs whole batches of requests;\n"
    "                     env INVENTORY_WORKERS; default 1 per CPU, at least "
    "2\n"
    "  --max-frame BYTES  largest request accepted; env INVENTORY_MAX_FRAME;\n"
    "                     default 65536\n"
    "  --max-pending N    calls queued for or at the database at once; the\n"
    "                     calls beyond get RESOURCE_EXHAUSTED at once;\n"
    "                     env INVENTORY_MAX_PENDING; default 4096\n"
    "  --max-connections N  connections served at once; newer ones are\n"
    "                     closed; env INVENTORY_MAX_CONNECTIONS; default "
    "1024\n"
    "  --max-connections-per-peer N  of them from one address; env\n"
    "                     INVENTORY_MAX_CONNECTIONS_PER_PEER; default 256\n"
    "  --idle-timeout S   close a connection that sent no call with a valid\n"
    "                     token (any call, without --auth-file) within S\n"
    "                     seconds; when all connections are taken such\n"
    "                     connections make room for new ones; env\n"
    "                     INVENTORY_IDLE_TIMEOUT; default 60\n"
    "  --max-reply BYTES  reply memory one frame may take; its calls\n"
    "                     beyond get RESOURCE_EXHAUSTED; env\n"
    "                     INVENTORY_MAX_REPLY; default 8388608\n"
    "  --reply-memory BYTES  reply memory all frames in flight may take;\n"
    "                     calls beyond get RESOURCE_EXHAUSTED; env\n"
    "                     INVENTORY_REPLY_MEMORY; default 201326592\n"
    "  --log-level LEVEL  error, warn, info or debug; env "
    "INVENTORY_LOG_LEVEL\n"
    "  --log-format FMT   text (default) or json: one object per line\n"
    "                     with ts, level, msg and the event's fields;\n"
    "                     env INVENTORY_LOG_FORMAT\n"
    "  --http URL         serve /metrics, /healthz, /readyz and /debug/hot\n"
    "                     (GET, HEAD; /debug/hot wants a caller's Bearer\n"
    "                     token with --auth-file) and the Connect\n"
    "                     protocol (POST /inventory.v1.InventoryService/\n"
    "                     METHOD, JSON or binary) on http://HOST:PORT,\n"
    "                     or https://HOST:PORT with --tls-cert/--tls-key;\n"
    "                     env INVENTORY_HTTP; default off\n"
    "  --http-max-connections N  HTTP connections served at once (Connect\n"
    "                     callers, scrapers, probes); newer ones wait in\n"
    "                     the kernel's backlog; env\n"
    "                     INVENTORY_HTTP_MAX_CONNECTIONS; default 256\n"
    "  --http-max-connections-per-peer N  of them from one address (so\n"
    "                     that one host cannot take a scraper's slot); env\n"
    "                     INVENTORY_HTTP_MAX_CONNECTIONS_PER_PEER; default 64\n"
    "  --request-ttl S    how long request ids are remembered for safe\n"
    "                     retries; env INVENTORY_REQUEST_TTL; default 86400\n"
    "  --auth-file FILE   callers allowed in, one a line: NAME ROLE\n"
    "                     SHA256HEX (reader or writer; the lowercase hex\n"
    "                     SHA-256 of the caller's token); re-read on\n"
    "                     SIGHUP; env INVENTORY_AUTH_FILE; default none:\n"
    "                     every caller may call everything\n"
    "  --audit-log FILE   write the audit record of every applied write as\n"
    "                     a JSON line to FILE; env INVENTORY_AUDIT_LOG;\n"
    "                     default: syslog (the journal) as inventoryd-audit\n"
    "  --audit-in-log     also write audit records into the main log, as\n"
    "                     info lines (then no syslog); env\n"
    "                     INVENTORY_AUDIT_IN_LOG=1\n"
    "  --tls-cert FILE    PEM certificate (chain) for tls+tcp:// URLs and\n"
    "                     an https:// --http;\n"
    "                     env INVENTORY_TLS_CERT\n"
    "  --tls-key FILE     its PEM private key; env INVENTORY_TLS_KEY\n"
    "  --tls-client-ca FILE  require client certificates signed by this\n"
    "                     PEM CA on tls+tcp:// URLs;\n"
    "                     env INVENTORY_TLS_CLIENT_CA\n"
    "  --migrate          apply the database schema and exit\n"
    "  --help, --version\n"
    "\n"
    "SIGTERM or SIGINT drains in-flight requests and exits 0; SIGUSR1 logs\n"
    "the request metrics; SIGHUP re-reads --auth-file.\n";

static int
default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	if (n < 2) {
		n = 2;
	}
	if (n > 64) {
		n = 64;
	}
	/* Batching makes a few connections enough: more only split the
	 * batches (and PostgreSQL's CPU) into smaller pieces. */
	return (int)n;
}

/* Parse `text` as key k's type and store it in cfg.  Returns 0 or -1 with
 * errbuf filled. */
static int
key_set(struct config *cfg, const struct key *k, const char *text,
    const char *source, char *errbuf, size_t errlen)
{
	char     *field = (char *)cfg + k->offset;
	char     *end;
	long long v;
	int       lvl;

	switch (k->type) {
	case KEY_STRING: {
		char *copy = strdup(text);
		if (copy == NULL) {
			snprintf(errbuf, errlen, "out of memory");
			return -1;
		}
		free(*(char **)field);
		*(char **)field = copy;
		return 0;
	}
	case KEY_BOOL:
		*(bool *)field = strcmp(text, "0") != 0 && text[0] != '\0';
		return 0;
	case KEY_LEVEL:
		if ((lvl = log_level_parse(text)) < 0) {
			snprintf(errbuf, errlen,
			    "%s: log level '%s' is not one of error, warn, "
			    "info, debug",
			    source, text);
			return -1;
		}
		*(int *)field = lvl;
		return 0;
	case KEY_FORMAT:
		if ((lvl = log_format_parse(text)) < 0) {
			snprintf(errbuf, errlen,
			    "%s: log format '%s' is not one of text, json",
			    source, text);
			return -1;
		}
		*(int *)field = lvl;
		return 0;
	case KEY_INT:
	case KEY_SIZE:
		errno = 0;
		v     = strtoll(text, &end, 10);
		if (errno != 0 || end == text || *end != '\0' || v < k->min ||
		    v > k->max) {
			snprintf(errbuf, errlen,
			    "%s: '%s' is not a whole number from %lld to %lld",
			    source, text, k->min, k->max);
			return -1;
		}
		if (k->type == KEY_INT) {
			*(int *)field = (int)v;
		} else {
			*(size_t *)field = (size_t)v;
		}
		return 0;
	}
	return -1;
}

/* --db-file: the conninfo is the file's first line, trimmed.  The file
 * must be a regular file that neither group nor others may read (as libpq
 * demands of PGPASSFILE): a secret readable by all is refused rather than
 * used.  Messages name the file, never its content. */
static int
read_db_file(struct config *cfg, char *errbuf, size_t errlen)
{
	const char *path = cfg->db_file;
	char        line[4096], *start, *end, *copy;
	struct stat st;
	FILE       *fp;

	if (cfg->db[0] != '\0') {
		snprintf(errbuf, errlen,
		    "--db-file and --db (or INVENTORY_DB) are mutually "
		    "exclusive");
		return -1;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		snprintf(errbuf, errlen, "--db-file: cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(errbuf, errlen, "--db-file: %s is not a regular file",
		    path);
		goto out_close;
	}
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		snprintf(errbuf, errlen,
		    "--db-file: %s is accessible by group or others "
		    "(mode %03o); chmod 600 it",
		    path, (unsigned)(st.st_mode & 0777));
		goto out_close;
	}
	if (fgets(line, sizeof(line), fp) == NULL)
		line[0] = '\0';
	fclose(fp);
	for (start = line; isspace((unsigned char)*start); start++)
		;
	end = start + strlen(start);
	while (end > start && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (*start == '\0') {
		snprintf(errbuf, errlen,
		    "--db-file: the first line of %s is empty", path);
		goto out_clear;
	}
	if ((copy = strdup(start)) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		goto out_clear;
	}
	free(cfg->db);
	cfg->db = copy;
	explicit_bzero(line, sizeof(line));
	return 0;

out_close:
	fclose(fp);
out_clear:
	explicit_bzero(line, sizeof(line));
	return -1;
}

void
config_fini(struct config *cfg)
{
	if (cfg == NULL) {
		return;
	}
	free(cfg->listen);
	free(cfg->db);
	free(cfg->db_file);
	free(cfg->auth_file);
	free(cfg->audit_log);
	free(cfg->tls_cert);
	free(cfg->tls_key);
	free(cfg->tls_client_ca);
	free(cfg->http);
	cfg->listen        = NULL;
	cfg->db            = NULL;
	cfg->db_file       = NULL;
	cfg->auth_file     = NULL;
	cfg->audit_log     = NULL;
	cfg->tls_cert      = NULL;
	cfg->tls_key       = NULL;
	cfg->tls_client_ca = NULL;
	cfg->http          = NULL;
}

enum config_result
config_load(struct config *cfg, int argc, char **argv, char *errbuf,
    size_t errlen, void *out)
{
	struct option opts[NKEYS + 3];
	char          source[64];
	char          wdef[16];
	int           c, idx;

	memset(cfg, 0, sizeof(*cfg));
	errbuf[0] = '\0';

	/* Defaults, then the environment. */
	snprintf(wdef, sizeof(wdef), "%d", default_workers());
	for (size_t i = 0; i < NKEYS; i++) {
		const char *env;
		const char *def = keys[i].def != NULL ? keys[i].def : wdef;

		if (key_set(cfg, &keys[i], def, "default", errbuf, errlen) !=
		    0) {
			return CONFIG_ERROR;
		}
		if (keys[i].env != NULL &&
		    (env = getenv(keys[i].env)) != NULL) {
			if (key_set(cfg, &keys[i], env, keys[i].env, errbuf,
			        errlen) != 0) {
				return CONFIG_ERROR;
			}
		}
	}

	/* Then the command line. */
	for (size_t i = 0; i < NKEYS; i++) {
		opts[i].name = keys[i].flag;
		opts[i].has_arg =
		    keys[i].type == KEY_BOOL ? no_argument : required_argument;
		opts[i].flag = NULL;
		opts[i].val  = 0;
	}
	opts[NKEYS] = (struct option) { "help", no_argument, NULL, 'h' };
	opts[NKEYS + 1] =
	    (struct option) { "version", no_argument, NULL, 'V' };
	opts[NKEYS + 2] = (struct option) { NULL, 0, NULL, 0 };

	optind = 1;
	opterr = 0;
	idx    = -1;
	while ((c = getopt_long(argc, argv, ":h", opts, &idx)) != -1) {
		switch (c) {
		case 0:
			snprintf(
			    source, sizeof(source), "--%s", keys[idx].flag);
			if (key_set(cfg, &keys[idx],
			        keys[idx].type == KEY_BOOL ? "1" : optarg,
			        source, errbuf, errlen) != 0) {
				return CONFIG_ERROR;
			}
			break;
		case 'h':
			fputs(config_usage, (FILE *)out);
			return CONFIG_HELP;
		case 'V':
			fprintf(
			    (FILE *)out, "inventoryd %s\n", INVENTORY_VERSION);
			return CONFIG_HELP;
		case ':':
			snprintf(errbuf, errlen, "%s needs a value",
			    argv[optind - 1]);
			return CONFIG_ERROR;
		default:
			snprintf(errbuf, errlen, "unknown option '%s'",
			    argv[optind - 1]);
			return CONFIG_ERROR;
		}
		idx = -1;
	}
	if (optind < argc) {
		snprintf(
		    errbuf, errlen, "unexpected argument '%s'", argv[optind]);
		return CONFIG_ERROR;
	}
	if (cfg->db_file[0] != '\0' && read_db_file(cfg, errbuf, errlen) != 0)
		return CONFIG_ERROR;
	if (!cfg->migrate && cfg->listen[0] == '\0') {
		snprintf(errbuf, errlen, "--listen: at least one URL needed");
		return CONFIG_ERROR;
	}
	return CONFIG_OK;
}
