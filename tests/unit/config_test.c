/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/ops/config.c: defaults, flags, environment variables,
 * precedence (command line > environment > default), bad values
 * (CONFIG_ERROR with a one-line reason naming the source), --help and
 * --version (CONFIG_HELP, text on the given stream).  Every path ends in
 * config_fini(), so ASan/LSan check the ownership rules too.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/log.h"
#include "ops/config.h"

static const char *const env_keys[] = { "INVENTORY_LISTEN", "INVENTORY_DB",
	"INVENTORY_WORKERS", "INVENTORY_MAX_FRAME", "INVENTORY_LOG_LEVEL",
	"INVENTORY_REQUEST_TTL", "INVENTORY_MAX_PENDING",
	"INVENTORY_MAX_CONNECTIONS", "INVENTORY_DB_FILE" };

static int
clear_env(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(env_keys) / sizeof(env_keys[0]); i++) {
		unsetenv(env_keys[i]);
	}
	return 0;
}

/* Run config_load over a NULL-terminated argument list (argv[0] added). */
struct run {
	struct config      cfg;
	enum config_result rv;
	char               err[256];
	char              *out; /* what went to the stream */
	size_t             out_len;
};

static void
load(struct run *r, const char *const *args)
{
	char *argv[32];
	int   argc = 0;
	FILE *f;

	argv[argc++] = (char *)"inventoryd";
	for (; *args != NULL; args++) {
		assert_true(argc < 31);
		argv[argc++] = (char *)*args;
	}
	argv[argc] = NULL;
	memset(r, 0, sizeof(*r));
	f = open_memstream(&r->out, &r->out_len);
	assert_non_null(f);
	r->rv = config_load(&r->cfg, argc, argv, r->err, sizeof(r->err), f);
	fclose(f);
}

static void
done(struct run *r)
{
	config_fini(&r->cfg);
	free(r->out);
}

#define ARGS(...) ((const char *const[]) { __VA_ARGS__, NULL })
#define NOARGS    ((const char *const[]) { NULL })

static void
test_defaults(void **state)
{
	struct run r;

	(void)state;
	load(&r, NOARGS);
	assert_int_equal(r.rv, CONFIG_OK);
	assert_string_equal(r.cfg.listen, "tcp://127.0.0.1:7070");
	assert_non_null(r.cfg.db);
	assert_string_equal(r.cfg.db, ""); /* hands the choice to libpq */
	assert_true(r.cfg.workers >= 2); /* one executor per CPU, at least 2 */
	assert_true(r.cfg.workers <= 1024);
	assert_false(r.cfg.migrate);
	assert_true(r.cfg.max_frame >= 256);
	assert_int_equal(r.cfg.log_level, LOG_LEVEL_INFO);
	assert_true(r.cfg.request_ttl_s > 0);
	assert_int_equal(r.cfg.max_pending, 4096);
	assert_int_equal(r.cfg.max_connections, 1024);
	assert_string_equal(r.cfg.db_file, "");
	done(&r);
}

static void
test_limits(void **state)
{
	struct run r;

	(void)state;
	load(&r, ARGS("--max-pending", "8", "--max-connections", "16"));
	assert_int_equal(r.rv, CONFIG_OK);
	assert_int_equal(r.cfg.max_pending, 8);
	assert_int_equal(r.cfg.max_connections, 16);
	done(&r);

	setenv("INVENTORY_MAX_PENDING", "100", 1);
	setenv("INVENTORY_MAX_CONNECTIONS", "50", 1);
	load(&r, NOARGS);
	assert_int_equal(r.rv, CONFIG_OK);
	assert_int_equal(r.cfg.max_pending, 100);
	assert_int_equal(r.cfg.max_connections, 50);
	done(&r);
	load(&r, ARGS("--max-pending=7"));
	assert_int_equal(r.rv, CONFIG_OK);
	assert_int_equal(r.cfg.max_pending, 7); /* the flag wins */
	assert_int_equal(r.cfg.max_connections, 50);
	done(&r);
	unsetenv("INVENTORY_MAX_PENDING");
	unsetenv("INVENTORY_MAX_CONNECTIONS");

	load(&r, ARGS("--max-pending", "0"));
	assert_int_equal(r.rv, CONFIG_ERROR);
	assert_non_null(strstr(r.err, "--max-pending"));
	done(&r);
	load(&r, ARGS("--max-connections", "-3"));
	assert_int_equal(r.rv, CONFIG_ERROR);
	assert_non_null(strstr(r.err, "--max-connections"));
	done(&r);
	setenv("INVENTORY_MAX_CONNECTIONS", "lots", 1);
	load(&r, NOARGS);
	assert_int_equal(r.rv, CONFIG_ERROR);
	assert_non_null(strstr(r.err, "INVENTORY_MAX_CONNECTIONS"));
	done(&r);
}

/* A file under /tmp holding text with the given mode; path into buf. */
static void
write_file(char *buf, const char *text, mode_t mode)
{
	int fd;

	strcpy(buf, "/tmp/inventory-config-test-XXXXXX");
	assert_true((fd = mkstemp(buf)) >= 0);
	assert_int_equal(fchmod(fd, mode), 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static void
test_db_file(void **state)
{
	char       path[64], arg[80];
	struct run r;

	(void)state;
	/* First line, trimmed; the rest is ignored. */
	write_file(
	    path, "  host=/tmp dbname=secret password=s3cret \n# x\n", 0600);
	load(&r, ARGS("--db-file", path));
	assert_int_equal(r.rv, CONFIG_OK);
	assert_string_equal(
	    r.cfg.db, "host=/tmp dbname=secret password=s3cret");
	done(&r);
	snprintf(arg, sizeof(arg), "--db-file=%s", path);
	load(&r, ARGS(arg, "--migrate"));
	assert_int_equal(r.rv, CONFIG_OK);
	assert_string_equal(
	    r.cfg.db, "host=/tmp dbname=secret password=s3cret");
	done(&r);
	setenv("INVENTORY_DB_FILE", path, 1);
	load(&r, NOARGS);
	assert_int_equal(r.rv, CONFIG_OK);
	assert_string_equal(
	    r.cfg.db, "host=/tmp dbname=secret password=s3cret");
	done(&r);

	/* Mutually exclusive with --db, from either source. */
	load(&r, ARGS("--db", "dbname=x"));
	assert_int_equal(r.rv, CONFIG_ERROR);
	assert_non_null(strstr(r.err, "mutually exclusive"));
	done(&r);
	unsetenv("INVENTORY_DB_FILE");
	setenv("INVENTORY_DB", "dbname=x", 1);
	load(&r, ARGS("--db-file", path));
	assert_int_equal(r.rv, CONFIG_ERROR);
	assert_non_null(strstr(r.err, "mutually exclusive"));
	done(&r);
	unsetenv("INVENTORY_DB");

	/* Readable by others: refused, and the secret is not echoed. */
	assert_int_equal(chmod(path, 0644), 0);
	load(&r, ARGS("--db-file", path));
	assert_int_equal(r.rv, CONFIG_ERROR);
	assert_non_null(strstr(r.err, "group or others"));
	assert_null(strstr(r.err, "s3cret"));
	assert_null(strchr(r.err, '\n'));
	done(&r);
	assert_int_equal(chmod(path, 0640), 0);
	load(&r, ARGS("--db-file", path));
	assert_int_equal(r.rv, CONFIG_ERROR);
	done(&r);
	unlink(path);

	/* Missing, empty. */
	load(&r, ARGS("--db-file", "/nonexistent/inventory.conninfo"));
	assert_int_equal(r.rv, CONFIG_ERROR);
	assert_non_null(strstr(r.err, "--db-file"));
	done(&r);
	write_file(path, "   \nhost=second-line\n", 0600);
	load(&r, ARGS("--db-file", path));
	assert_int_equal(r.rv, CONFIG_ERROR);
	assert_non_null(strstr(r.err, "empty"));
	done(&r);
	unlink(path);
}

static void
test_flags(void **state)
{
	struct run r;

	(void)state;
	load(
	    &r, ARGS("--listen", "ipc:///tmp/a.sock,tcp://127.0.0.1:9", "--db",
	            "host=/tmp dbname=x", "--workers", "3", "--max-frame",
	            "1024", "--log-level", "debug", "--request-ttl", "120"));
	assert_int_equal(r.rv, CONFIG_OK);
	assert_string_equal(
	    r.cfg.listen, "ipc:///tmp/a.sock,tcp://127.0.0.1:9");
	assert_string_equal(r.cfg.db, "host=/tmp dbname=x");
	assert_int_equal(r.cfg.workers, 3);
	assert_int_equal(r.cfg.max_frame, 1024);
	assert_int_equal(r.cfg.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(r.cfg.request_ttl_s, 120);
	assert_false(r.cfg.migrate);
	done(&r);

	load(&r,
	    ARGS("--listen=tcp://127.0.0.1:1234", "--workers=1", "--migrate"));
	assert_int_equal(r.rv, CONFIG_OK);
	assert_string_equal(r.cfg.listen, "tcp://127.0.0.1:1234");
	assert_int_equal(r.cfg.workers, 1);
	assert_true(r.cfg.migrate);
	done(&r);

	/* A repeated flag: the last one wins, the first is not leaked. */
	load(&r, ARGS("--db", "first", "--db", "second"));
	assert_int_equal(r.rv, CONFIG_OK);
	assert_string_equal(r.cfg.db, "second");
	done(&r);
}

static void
test_env(void **state)
{
	struct run r;

	(void)state;
	setenv("INVENTORY_LISTEN", "ipc:///tmp/env.sock", 1);
	setenv("INVENTORY_DB", "dbname=fromenv", 1);
	setenv("INVENTORY_WORKERS", "5", 1);
	setenv("INVENTORY_LOG_LEVEL", "warn", 1);
	load(&r, NOARGS);
	assert_int_equal(r.rv, CONFIG_OK);
	assert_string_equal(r.cfg.listen, "ipc:///tmp/env.sock");
	assert_string_equal(r.cfg.db, "dbname=fromenv");
	assert_int_equal(r.cfg.workers, 5);
	assert_int_equal(r.cfg.log_level, LOG_LEVEL_WARN);
	done(&r);
}

static void
test_flag_beats_env(void **state)
{
	struct run r;

	(void)state;
	setenv("INVENTORY_LISTEN", "ipc:///tmp/env.sock", 1);
	setenv("INVENTORY_DB", "dbname=fromenv", 1);
	setenv("INVENTORY_WORKERS", "5", 1);
	load(&r, ARGS("--workers", "7", "--db", "dbname=fromflag"));
	assert_int_equal(r.rv, CONFIG_OK);
	assert_int_equal(r.cfg.workers, 7);
	assert_string_equal(r.cfg.db, "dbname=fromflag");
	assert_string_equal(r.cfg.listen, "ipc:///tmp/env.sock");
	done(&r);

	/* A bad environment value overridden by a flag: reporting it or
	 * ignoring it are both defensible; using it is not. */
	setenv("INVENTORY_WORKERS", "lots", 1);
	load(&r, ARGS("--workers", "7"));
	if (r.rv == CONFIG_OK) {
		assert_int_equal(r.cfg.workers, 7);
	} else {
		assert_int_equal(r.rv, CONFIG_ERROR);
	}
	done(&r);
}

static void
test_bad_values(void **state)
{
	const struct {
		const char *const *args;
		const char        *want_in_err; /* substring of the message */
	} cases[] = {
		{ ARGS("--workers", "0"), "--workers" },
		{ ARGS("--workers", "1025"), "--workers" },
		{ ARGS("--workers", "-1"), "--workers" },
		{ ARGS("--workers", "abc"), "--workers" },
		{ ARGS("--workers", "5x"), "--workers" },
		{ ARGS("--workers", ""), "--workers" },
		{ ARGS("--workers", "99999999999999999999"), "--workers" },
		{ ARGS("--max-frame", "10"), "--max-frame" },
		{ ARGS("--log-level", "loud"), "--log-level" },
		{ ARGS("--request-ttl", "1"), "--request-ttl" },
		{ ARGS("--nope"), "--nope" }, { ARGS("-x"), "-x" },
		{ ARGS("--listen"), "--listen" },   /* missing value */
		{ ARGS("extra"), "extra" },         /* stray argument */
		{ ARGS("--listen", ""), "listen" }, /* nothing to serve */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct run r;

		load(&r, cases[i].args);
		if (r.rv != CONFIG_ERROR) {
			fail_msg(
			    "case %zu (%s ...): got %d, want CONFIG_ERROR", i,
			    cases[i].args[0], r.rv);
		}
		if (strstr(r.err, cases[i].want_in_err) == NULL) {
			fail_msg("case %zu: error '%s' does not mention '%s'",
			    i, r.err, cases[i].want_in_err);
		}
		assert_null(strchr(r.err, '\n')); /* one line */
		done(&r);
	}
}

static void
test_bad_env(void **state)
{
	struct run r;

	(void)state;
	setenv("INVENTORY_WORKERS", "many", 1);
	load(&r, NOARGS);
	assert_int_equal(r.rv, CONFIG_ERROR);
	assert_non_null(strstr(r.err, "INVENTORY_WORKERS"));
	done(&r);
	unsetenv("INVENTORY_WORKERS");

	setenv("INVENTORY_LOG_LEVEL", "chatty", 1);
	load(&r, NOARGS);
	assert_int_equal(r.rv, CONFIG_ERROR);
	assert_non_null(strstr(r.err, "INVENTORY_LOG_LEVEL"));
	done(&r);
}

static void
test_migrate_without_listen(void **state)
{
	struct run r;

	(void)state;
	load(&r, ARGS("--listen", "", "--migrate"));
	assert_int_equal(r.rv, CONFIG_OK);
	assert_true(r.cfg.migrate);
	done(&r);
}

static void
test_help(void **state)
{
	struct run r;

	(void)state;
	load(&r, ARGS("--help"));
	assert_int_equal(r.rv, CONFIG_HELP);
	assert_non_null(r.out);
	assert_non_null(strstr(r.out, "--listen"));
	assert_non_null(strstr(r.out, "--db"));
	assert_non_null(strstr(r.out, "--workers"));
	assert_non_null(strstr(r.out, "--migrate"));
	assert_non_null(strstr(r.out, "--max-pending"));
	assert_non_null(strstr(r.out, "INVENTORY_MAX_PENDING"));
	assert_non_null(strstr(r.out, "--max-connections"));
	assert_non_null(strstr(r.out, "INVENTORY_MAX_CONNECTIONS"));
	assert_non_null(strstr(r.out, "--db-file"));
	assert_non_null(strstr(r.out, "INVENTORY_DB_FILE"));
	assert_string_equal(r.out, config_usage);
	done(&r);

	/* --help wins even after other flags. */
	load(&r, ARGS("--workers", "3", "--help"));
	assert_int_equal(r.rv, CONFIG_HELP);
	done(&r);

	load(&r, ARGS("--version"));
	assert_int_equal(r.rv, CONFIG_HELP);
	/* The version project() declares (the build passes it to both). */
	assert_string_equal(
	    r.out, "inventoryd " INVENTORY_PROJECT_VERSION "\n");
	done(&r);
}

static void
test_fini_is_safe(void **state)
{
	struct config cfg;

	(void)state;
	memset(&cfg, 0, sizeof(cfg));
	config_fini(&cfg);
	config_fini(&cfg); /* twice: fini leaves it zeroed */
	config_fini(NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_defaults, clear_env),
		cmocka_unit_test_setup(test_flags, clear_env),
		cmocka_unit_test_setup(test_limits, clear_env),
		cmocka_unit_test_setup(test_db_file, clear_env),
		cmocka_unit_test_setup(test_env, clear_env),
		cmocka_unit_test_setup(test_flag_beats_env, clear_env),
		cmocka_unit_test_setup(test_bad_values, clear_env),
		cmocka_unit_test_setup(test_bad_env, clear_env),
		cmocka_unit_test_setup(test_migrate_without_listen, clear_env),
		cmocka_unit_test_setup(test_help, clear_env),
		cmocka_unit_test_setup(test_fini_is_safe, clear_env),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
