/* SPDX-License-Identifier: MIT */
/*
 * inventoryd's configuration: one table of keys, each with its flag, its
 * environment variable and its default (as pgbouncer's CfKey table).  The
 * command line wins over the environment, the environment over defaults.
 * libpq's own PG* variables keep working because an empty --db hands the
 * choice to libpq.  --db-file reads the conninfo from a file (first line,
 * trimmed) that only its owner may read, so the secret stays out of argv
 * and the environment; it excludes --db/INVENTORY_DB.
 */
#ifndef INVENTORY_CONFIG_H
#define INVENTORY_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

struct config {
	char  *listen;        /* comma-separated nng URLs (owned) */
	char  *db;            /* libpq conninfo (owned); "" = PG* variables */
	int    workers;       /* worker threads = DB connections, 1..1024 */
	bool   migrate;       /* apply the schema and exit */
	size_t max_frame;     /* largest request accepted, bytes */
	int    log_level;     /* enum log_level */
	int    request_ttl_s; /* how long request ids are remembered */
	int    max_pending;   /* calls queued for or at the database */
	int    max_connections;    /* connections served at once */
	int    max_conns_per_peer; /* of them from one address */
	int    idle_timeout_s;     /* a connection that sent no call with a
	                              valid token (or any call, without
	                              --auth-file) is closed after it */
	size_t max_reply;          /* reply memory one frame may reserve */
	size_t reply_memory;       /* reply memory all frames may reserve */
	char  *db_file;      /* file holding the conninfo (owned); "" none */
	char  *auth_file;    /* callers and roles (owned); "" none: open */
	char  *audit_log;    /* JSON lines audit file (owned); "" none:
	                        syslog, as inventoryd-audit */
	bool  audit_in_log;  /* audit records in the main log too */
	char *tls_cert;      /* PEM certificate for tls+tcp:// (owned) */
	char *tls_key;       /* PEM private key for tls+tcp:// (owned) */
	char *tls_client_ca; /* PEM CA that must sign client certificates
	                        (owned); "" none: no client certificates */
	char *http;          /* operator endpoint http://HOST:PORT (owned);
	                        "" off */
	int http_max_connections;    /* HTTP connections at once */
	int http_max_conns_per_peer; /* of them from one address */
	int log_format;              /* enum log_format */
};

enum config_result {
	CONFIG_OK    = 0, /* *cfg filled: run */
	CONFIG_HELP  = 1, /* --help or --version printed: exit 0 */
	CONFIG_ERROR = 2, /* usage error, explained in errbuf: exit 2 */
};

/* Parse argv and the environment into cfg (zeroed first).  On
 * CONFIG_ERROR errbuf holds one line.  On CONFIG_HELP the text was written
 * to `out`.  cfg must be released with config_fini() in every case. */
enum config_result config_load(struct config *cfg, int argc, char **argv,
    char *errbuf, size_t errlen, void *out /* FILE * */);

/* Free what cfg owns.  Safe on a zeroed or partially filled cfg. */
void config_fini(struct config *cfg);

/* The usage text. */
extern const char config_usage[];

#endif
