/* SPDX-License-Identifier: MIT */
/*
 * options: the command line of inventory-bench, parsed into a
 * struct bench_config.  Every error is a usage error (exit status 2): the
 * caller prints the message this module wrote and the usage text.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "parse.h"

static const char *const op_names[OP_COUNT] = {
	[OP_GET]      = "get",
	[OP_UPDATE]   = "update",
	[OP_RETRY]    = "retry",
	[OP_BUY]      = "buy",
	[OP_ADJUST]   = "adjust",
	[OP_RESERVE]  = "reserve",
	[OP_BATCHGET] = "batchget",
};

const char *
bench_op_name(enum bench_op op)
{
	return op < OP_COUNT ? op_names[op] : "?";
}

void
bench_usage(FILE *f)
{
	fputs(
	    "usage: inventory-bench --server URL [--clients N] [--threads "
	    "N]\n"
	    "         [--duration S | --requests N]\n"
	    "         [--products K [--name-prefix P] | --ids FILE]\n"
	    "         [--workload get|update|retry|buy|adjust|reserve|MIX]\n"
	    "         [--skew "
	    "uniform|zipf:S|hot]\n"
	    "         [--rate R] [--json FILE] [--svg FILE] [--timeout MS] [--seed N]\n"
	    "         [--initial-stock N] [--max-attempts N] [--write-ids "
	    "FILE]\n"
	    "         [--connections N] [--no-coalesce] [--batch-size K]\n"
	    "         [--no-progress] [--quiet] [--tls-ca FILE] [--tls-cert "
	    "FILE]\n"
	    "         [--tls-key FILE] [--tls-server-name NAME] [--token-file "
	    "FILE]\n"
	    "\n"
	    "  --server URL        inventoryd URL(s), comma-separated (env "
	    "INVENTORY_SERVER)\n"
	    "  --clients N         concurrent callers: operations in flight "
	    "(default 8,\n"
	    "                      at most 100000)\n"
	    "  --threads N         worker threads running them, each with "
	    "its own\n"
	    "                      asynchronous client handle (env "
	    "INVENTORY_BENCH_THREADS;\n"
	    "                      default one per CPU, at most --clients)\n"
	    "  --duration S        run for S seconds (default 10 unless "
	    "--requests)\n"
	    "  --requests N        run N operations in all\n"
	    "  --products K        use K products (default 100): those named "
	    "--name-prefix\n"
	    "                      first, found with ListProducts and their "
	    "stock set back\n"
	    "                      to --initial-stock; only the missing ones "
	    "are created\n"
	    "  --name-prefix P     name prefix of the products it creates "
	    "and reuses (env\n"
	    "                      INVENTORY_BENCH_NAME_PREFIX; default "
	    "inventory-bench-);\n"
	    "                      runs at the same time need different "
	    "prefixes\n"
	    "  --ids FILE          use existing products, one UUID a line\n"
	    "  --workload W        get | update | retry | buy | adjust | "
	    "reserve |\n"
	    "                      batchget, or a weighted mix\n"
	    "                      such as get:90,update:10 (default get)\n"
	    "  --skew S            uniform | zipf:EXPONENT | hot (one "
	    "product) (default uniform)\n"
	    "  --rate R            open loop: R operations/s in all, latency "
	    "measured\n"
	    "                      from the intended send time (default: "
	    "closed loop)\n"
	    "  --json FILE         write the results as JSON ('-' for "
	    "stdout)\n"
	    "  --svg FILE          draw the run as a self-contained SVG: "
	    "requests,\n"
	    "                      conflicts and errors per second over time, "
	    "and\n"
	    "                      the latency distribution on a log scale\n"
	    "  --timeout MS        per-call timeout, and the overall "
	    "deadline of a retry\n"
	    "                      or buy operation (default 5000)\n"
	    "  --seed N            PRNG seed (default 1)\n"
	    "  --initial-stock N   stock of created and reused products "
	    "(default 100 for a\n"
	    "                      pure buy, adjust and reserve workload, "
	    "else 1000000)\n"
	    "  --max-attempts N    writes per retry/buy operation (default "
	    "100)\n"
	    "  --write-ids FILE    write the ids of the products used to "
	    "FILE\n"
	    "  --connections N     connections per server URL (env "
	    "INVENTORY_CONNECTIONS;\n"
	    "                      default 2)\n"
	    "  --no-coalesce       every call in its own frame (env "
	    "INVENTORY_COALESCE=0;\n"
	    "                      default: concurrent calls share frames)\n"
	    "  --batch-size K      ids per batchget operation, 1..1000 "
	    "(default 16)\n"
	    "  --no-progress       no live progress line even on a terminal\n"
	    "  --quiet             no human-readable summary\n"
	    "  --tls-ca FILE       PEM CA of the server's certificate, for "
	    "tls+tcp://\n"
	    "                      URLs (env INVENTORY_TLS_CA)\n"
	    "  --tls-cert FILE     PEM client certificate (env "
	    "INVENTORY_TLS_CERT);\n"
	    "                      with --tls-key\n"
	    "  --tls-key FILE      its PEM key (env INVENTORY_TLS_KEY)\n"
	    "  --tls-server-name NAME  name the server's certificate must "
	    "carry\n"
	    "                      (env INVENTORY_TLS_SERVER_NAME; default: "
	    "the URL's host)\n"
	    "  --token-file FILE   bearer token, the file's one line (env "
	    "INVENTORY_TOKEN\n"
	    "                      holds the token itself); never printed\n"
	    "\n"
	    "One operation is one request in every count: update = GetProduct "
	    "+\n"
	    "UpdateStock; retry and buy = the library's read-modify-write "
	    "loop;\n"
	    "batchget = one BatchGetProducts call of --batch-size ids;\n"
	    "adjust = AdjustStock(-1) on the product (no read, no conflict), "
	    "compare\n"
	    "with buy on the same --skew; reserve = one ReserveStock of 1..5 "
	    "distinct\n"
	    "products, 1 unit each.  adjust and reserve restock a product "
	    "that ran\n"
	    "out (AdjustStock(+initial stock)) and count FAILED_PRECONDITION "
	    "as a\n"
	    "refusal, never as a violation.\n"
	    "Exit status: 0 the invariant holds, 1 it does not (or the run "
	    "failed),\n"
	    "2 usage error.\n",
	    f);
}

static int
bad(const char *what, const char *arg)
{
	fprintf(stderr, "inventory-bench: invalid %s: '%s'\n", what,
	    arg ? arg : "");
	return -1;
}

/* parse.h's parser, for the unsigned fields of the configuration. */
static int
parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	int64_t v;

	if (max > INT64_MAX)
		max = INT64_MAX;
	if (parse_bounded(s, (int64_t)min, (int64_t)max, &v) != 0)
		return -1;
	*out = (uint64_t)v;
	return 0;
}

static int
parse_double(const char *s, double min, double *out)
{
	char  *end;
	double v;

	if (s == NULL || *s == '\0') {
		return -1;
	}
	errno = 0;
	v     = strtod(s, &end);
	if (errno != 0 || *end != '\0' || !isfinite(v) || v < min) {
		return -1;
	}
	*out = v;
	return 0;
}

static int
op_by_name(const char *s, size_t len)
{
	int i;

	for (i = 0; i < OP_COUNT; i++) {
		if (strlen(op_names[i]) == len &&
		    strncmp(op_names[i], s, len) == 0) {
			return i;
		}
	}
	return -1;
}

/* "get" or "get:90,update:10" (a bare name in a list weighs 1). */
static int
parse_workload(struct bench_config *cfg, const char *spec)
{
	const char *p = spec;

	memset(cfg->weight, 0, sizeof(cfg->weight));
	cfg->weight_total = 0;
	while (*p != '\0') {
		const char *end = strchr(p, ',');
		const char *colon;
		size_t      len;
		uint64_t    w = 1;
		int         op;
		char        num[32];

		if (end == NULL) {
			end = p + strlen(p);
		}
		colon = memchr(p, ':', (size_t)(end - p));
		len   = (size_t)((colon ? colon : end) - p);
		if ((op = op_by_name(p, len)) < 0) {
			return -1;
		}
		if (colon != NULL) {
			size_t nl = (size_t)(end - colon - 1);
			if (nl == 0 || nl >= sizeof(num)) {
				return -1;
			}
			memcpy(num, colon + 1, nl);
			num[nl] = '\0';
			if (parse_u64(num, 0, 1000000, &w) != 0) {
				return -1;
			}
		}
		cfg->weight[op] += (unsigned)w;
		cfg->weight_total += (unsigned)w;
		p = *end == ',' ? end + 1 : end;
	}
	return cfg->weight_total > 0 ? 0 : -1;
}

static int
parse_skew(struct bench_config *cfg, const char *s)
{
	cfg->skew_name = s;
	if (strcmp(s, "uniform") == 0) {
		cfg->skew = SKEW_UNIFORM;
		return 0;
	}
	if (strcmp(s, "hot") == 0) {
		cfg->skew = SKEW_HOT;
		return 0;
	}
	if (strncmp(s, "zipf", 4) == 0) {
		cfg->skew   = SKEW_ZIPF;
		cfg->zipf_s = 1.0;
		if (s[4] == '\0') {
			return 0;
		}
		if (s[4] != ':' ||
		    parse_double(s + 5, 0.0, &cfg->zipf_s) != 0 ||
		    cfg->zipf_s > 100.0) {
			return -1;
		}
		return 0;
	}
	return -1;
}

enum {
	OPT_INITIAL_STOCK = 256,
	OPT_MAX_ATTEMPTS,
	OPT_WRITE_IDS,
	OPT_NO_PROGRESS,
	OPT_CONNECTIONS,
	OPT_NO_COALESCE,
	OPT_BATCH_SIZE,
	OPT_TLS_CA,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_SERVER_NAME,
	OPT_TOKEN_FILE,
	OPT_SVG,
	OPT_THREADS,
	OPT_NAME_PREFIX,
};

/* The bearer token in path: its one line without the newline, malloc'd;
 * NULL (and a message naming the file, never its content) if the file
 * cannot be read, is empty, longer than 4 KiB or has several lines. */
static char *
token_read(const char *path)
{
	char   buf[4097];
	FILE  *f;
	size_t n;
	char  *token = NULL;

	if ((f = fopen(path, "r")) == NULL) {
		fprintf(stderr,
		    "inventory-bench: cannot read --token-file %s: %s\n", path,
		    strerror(errno));
		return NULL;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	if (!ferror(f) && !(n == sizeof(buf) - 1 && fgetc(f) != EOF)) {
		buf[n] = '\0';
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
			buf[--n] = '\0';
		if (n > 0 && strchr(buf, '\n') == NULL)
			token = strdup(buf);
	}
	fclose(f);
	explicit_bzero(buf, sizeof(buf));
	if (token == NULL)
		fprintf(stderr,
		    "inventory-bench: --token-file %s: want one line, the "
		    "token\n",
		    path);
	return token;
}

void
bench_options_fini(struct bench_config *cfg)
{
	if (cfg->token != NULL) {
		explicit_bzero(cfg->token, strlen(cfg->token));
		free(cfg->token);
		cfg->token = NULL;
	}
}

/* The value of env variable name, or NULL when unset or empty. */
static const char *
env_str(const char *name)
{
	const char *v = getenv(name);

	return v != NULL && *v != '\0' ? v : NULL;
}

static const struct option long_opts[] = {
	{ "server", required_argument, NULL, 's' },
	{ "clients", required_argument, NULL, 'c' },
	{ "duration", required_argument, NULL, 'd' },
	{ "requests", required_argument, NULL, 'n' },
	{ "products", required_argument, NULL, 'k' },
	{ "ids", required_argument, NULL, 'i' },
	{ "workload", required_argument, NULL, 'w' },
	{ "skew", required_argument, NULL, 'z' },
	{ "rate", required_argument, NULL, 'r' },
	{ "json", required_argument, NULL, 'j' },
	{ "timeout", required_argument, NULL, 't' },
	{ "seed", required_argument, NULL, 'S' },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, 'h' },
	{ "initial-stock", required_argument, NULL, OPT_INITIAL_STOCK },
	{ "max-attempts", required_argument, NULL, OPT_MAX_ATTEMPTS },
	{ "write-ids", required_argument, NULL, OPT_WRITE_IDS },
	{ "no-progress", no_argument, NULL, OPT_NO_PROGRESS },
	{ "connections", required_argument, NULL, OPT_CONNECTIONS },
	{ "no-coalesce", no_argument, NULL, OPT_NO_COALESCE },
	{ "svg", required_argument, NULL, OPT_SVG },
	{ "batch-size", required_argument, NULL, OPT_BATCH_SIZE },
	{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
	{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
	{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
	{ "tls-server-name", required_argument, NULL, OPT_TLS_SERVER_NAME },
	{ "token-file", required_argument, NULL, OPT_TOKEN_FILE },
	{ "threads", required_argument, NULL, OPT_THREADS },
	{ "name-prefix", required_argument, NULL, OPT_NAME_PREFIX },
	{ NULL, 0, NULL, 0 },
};

int
bench_options_parse(struct bench_config *cfg, int argc, char **argv)
{
	uint64_t    v;
	int         opt;
	bool        have_stock  = false;
	bool        no_progress = false;
	bool        have_k      = false;
	const char *env;
	const char *token_file = NULL;

	memset(cfg, 0, sizeof(*cfg));
	cfg->server       = getenv("INVENTORY_SERVER");
	cfg->clients      = 8;
	cfg->workload     = "get";
	cfg->skew         = SKEW_UNIFORM;
	cfg->skew_name    = "uniform";
	cfg->timeout_ms   = 5000;
	cfg->seed         = 1;
	cfg->max_attempts = 100;
	cfg->products     = 100;
	cfg->batch_size   = 16;
	cfg->name_prefix  = env_str("INVENTORY_BENCH_NAME_PREFIX");
	if (cfg->name_prefix == NULL)
		cfg->name_prefix = BENCH_NAME_PREFIX_DEFAULT;
	cfg->tls_ca          = env_str("INVENTORY_TLS_CA");
	cfg->tls_cert        = env_str("INVENTORY_TLS_CERT");
	cfg->tls_key         = env_str("INVENTORY_TLS_KEY");
	cfg->tls_server_name = env_str("INVENTORY_TLS_SERVER_NAME");
	if ((env = getenv("INVENTORY_CONNECTIONS")) != NULL && *env != '\0') {
		if (parse_u64(env, 1, 64, &v) != 0) {
			return bad("INVENTORY_CONNECTIONS", env);
		}
		cfg->connections = (int)v;
	}
	/* Default: one worker per CPU (at least one). */
	{
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		cfg->threads = cpus < 1                   ? 1
		               : cpus > BENCH_THREADS_MAX ? BENCH_THREADS_MAX
		                                          : (int)cpus;
	}
	if ((env = getenv("INVENTORY_BENCH_THREADS")) != NULL &&
	    *env != '\0') {
		if (parse_u64(env, 1, BENCH_THREADS_MAX, &v) != 0) {
			return bad("INVENTORY_BENCH_THREADS", env);
		}
		cfg->threads = (int)v;
	}
	if ((env = getenv("INVENTORY_COALESCE")) != NULL &&
	    strcmp(env, "0") == 0) {
		cfg->no_coalesce = true;
	}

	opterr = 0;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "s:c:d:n:k:i:w:z:r:j:t:S:qh",
	            long_opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			cfg->server = optarg;
			break;
		case 'c':
			if (parse_u64(optarg, 1, BENCH_CLIENTS_MAX, &v) != 0) {
				return bad("--clients", optarg);
			}
			cfg->clients = (int)v;
			break;
		case 'd':
			if (parse_double(optarg, 0.0, &cfg->duration_s) != 0 ||
			    cfg->duration_s <= 0.0 || cfg->duration_s > 1e6) {
				return bad("--duration", optarg);
			}
			break;
		case 'n':
			if (parse_u64(optarg, 1, UINT64_MAX / 2, &v) != 0) {
				return bad("--requests", optarg);
			}
			cfg->requests = v;
			break;
		case 'k':
			if (parse_u64(optarg, 1, 10000000, &v) != 0) {
				return bad("--products", optarg);
			}
			cfg->products = (int)v;
			have_k        = true;
			break;
		case 'i':
			cfg->ids_file = optarg;
			break;
		case 'w':
			cfg->workload = optarg;
			if (parse_workload(cfg, optarg) != 0) {
				return bad("--workload", optarg);
			}
			break;
		case 'z':
			if (parse_skew(cfg, optarg) != 0) {
				return bad("--skew", optarg);
			}
			break;
		case 'r':
			if (parse_double(optarg, 0.0, &cfg->rate) != 0 ||
			    cfg->rate <= 0.0 || cfg->rate > 1e9) {
				return bad("--rate", optarg);
			}
			break;
		case 'j':
			cfg->json_file = optarg;
			break;
		case 't':
			if (parse_u64(optarg, 1, INT_MAX, &v) != 0) {
				return bad("--timeout", optarg);
			}
			cfg->timeout_ms = (int)v;
			break;
		case 'S':
			if (parse_u64(optarg, 0, UINT64_MAX, &v) != 0) {
				return bad("--seed", optarg);
			}
			cfg->seed = v;
			break;
		case 'q':
			cfg->quiet = true;
			break;
		case 'h':
			bench_usage(stdout);
			exit(BENCH_EXIT_OK);
		case OPT_INITIAL_STOCK:
			if (parse_u64(optarg, 0, 2147483647, &v) != 0) {
				return bad("--initial-stock", optarg);
			}
			cfg->initial_stock = (int64_t)v;
			have_stock         = true;
			break;
		case OPT_MAX_ATTEMPTS:
			if (parse_u64(optarg, 1, 1000000, &v) != 0) {
				return bad("--max-attempts", optarg);
			}
			cfg->max_attempts = (int)v;
			break;
		case OPT_WRITE_IDS:
			cfg->write_ids_file = optarg;
			break;
		case OPT_NO_PROGRESS:
			no_progress = true;
			break;
		case OPT_CONNECTIONS:
			if (parse_u64(optarg, 1, 64, &v) != 0) {
				return bad("--connections", optarg);
			}
			cfg->connections = (int)v;
			break;
		case OPT_NO_COALESCE:
			cfg->no_coalesce = true;
			break;
		case OPT_SVG:
			cfg->svg_file = optarg;
			break;
		case OPT_BATCH_SIZE:
			if (parse_u64(
			        optarg, 1, INVENTORY_BATCH_GET_MAX, &v) != 0) {
				return bad("--batch-size", optarg);
			}
			cfg->batch_size = (int)v;
			break;
		case OPT_TLS_CA:
			cfg->tls_ca = optarg;
			break;
		case OPT_TLS_CERT:
			cfg->tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			cfg->tls_key = optarg;
			break;
		case OPT_TLS_SERVER_NAME:
			cfg->tls_server_name = optarg;
			break;
		case OPT_TOKEN_FILE:
			token_file = optarg;
			break;
		case OPT_NAME_PREFIX:
			cfg->name_prefix = optarg;
			break;
		case OPT_THREADS:
			if (parse_u64(optarg, 1, BENCH_THREADS_MAX, &v) != 0) {
				return bad("--threads", optarg);
			}
			cfg->threads = (int)v;
			break;
		default:
			return bad(
			    "option or missing argument", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		return bad("argument", argv[optind]);
	}
	if (cfg->server == NULL || *cfg->server == '\0') {
		fprintf(stderr, "inventory-bench: --server is required\n");
		return -1;
	}
	if ((cfg->tls_cert == NULL) != (cfg->tls_key == NULL)) {
		fprintf(stderr, "inventory-bench: give --tls-cert and "
		                "--tls-key together\n");
		return -1;
	}
	if (token_file != NULL) {
		if ((cfg->token = token_read(token_file)) == NULL)
			return -1;
	} else if ((env = env_str("INVENTORY_TOKEN")) != NULL &&
	           (cfg->token = strdup(env)) == NULL) {
		fprintf(stderr, "inventory-bench: out of memory\n");
		return -1;
	}
	if (cfg->duration_s > 0.0 && cfg->requests > 0) {
		fprintf(stderr,
		    "inventory-bench: give --duration or --requests, "
		    "not both\n");
		return -1;
	}
	if (cfg->duration_s == 0.0 && cfg->requests == 0) {
		cfg->duration_s = 10.0;
	}
	if (cfg->ids_file != NULL && have_k) {
		fprintf(stderr, "inventory-bench: give --products or --ids, "
		                "not both\n");
		return -1;
	}
	if (cfg->ids_file != NULL) {
		cfg->products = 0;
	}
	/* An empty prefix would take every product of the server for the
	 * bench's own; the server's name limit leaves room for the suffix
	 * (seed.c). */
	if (*cfg->name_prefix == '\0' ||
	    strlen(cfg->name_prefix) > BENCH_NAME_PREFIX_MAX) {
		fprintf(stderr,
		    "inventory-bench: --name-prefix must be 1..%d bytes\n",
		    BENCH_NAME_PREFIX_MAX);
		return -1;
	}
	if (cfg->weight_total == 0 &&
	    parse_workload(cfg, cfg->workload) != 0) {
		return bad("--workload", cfg->workload);
	}
	if (!have_stock) {
		/* Sales only: a small stock, so selling out (and for
		 * adjust and reserve, restocking) is part of the run. */
		bool only_buy = cfg->weight[OP_BUY] + cfg->weight[OP_ADJUST] +
		                    cfg->weight[OP_RESERVE] ==
		                cfg->weight_total;
		cfg->initial_stock = only_buy ? 100 : 1000000;
	}
	cfg->progress = !no_progress && !cfg->quiet && isatty(STDERR_FILENO);
	return 0;
}
