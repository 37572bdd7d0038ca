/* SPDX-License-Identifier: MIT */
/*
 * inventoryd: argv, signals and wiring.  Nothing else lives here.
 *
 * Signals are blocked in every thread (executors and nng's own inherit the
 * mask) and taken synchronously by the main thread with sigwait(), so no
 * code runs in a signal handler: SIGTERM/SIGINT drain and exit 0, SIGUSR1
 * logs the metrics, SIGHUP re-reads --auth-file (a bad file is refused and
 * the callers in force stay).  Under systemd (Type=notify) it says READY=1
 * once it serves, STOPPING=1 when it starts to drain, and feeds the
 * watchdog while the executors make progress (notify.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/code.h"
#include "base/log.h"
#include "ops/audit.h"
#include "ops/auth.h"
#include "ops/config.h"
#include "ops/metrics.h"
#include "ops/notify.h"
#include "server.h"
#include "store/store.h"

/* Load --auth-file at start (fatal if bad) or on SIGHUP (the old table
 * stays if bad).  0 or -1, logged. */
static int
load_callers(const struct config *cfg, bool reload)
{
	char   err[256];
	size_t n;

	if (cfg->auth_file[0] == '\0') {
		if (!reload)
			log_warn("no --auth-file: every caller may call every "
			         "RPC, unauthenticated");
		return 0;
	}
	if (auth_load(cfg->auth_file, &n, err, sizeof(err)) != 0) {
		if (reload)
			log_err("%s; the callers loaded before stay in force",
			    err);
		else
			log_err("%s", err);
		return -1;
	}
	log_info("auth: %zu caller(s) loaded from %s%s", n, cfg->auth_file,
	    n == 0 ? ": every call will be UNAUTHENTICATED" : "");
	return 0;
}

/* The watchdog's test: the executors make progress when no call waits for
 * them, or some call got an answer only the database gives since the
 * previous test.  Refusals made before the queue (RESOURCE_EXHAUSTED,
 * INVALID_ARGUMENT, ...) do not count: a full queue in front of stuck
 * executors keeps producing those.  Only the watchdog thread calls it. */
static bool
executors_progress(void *arg)
{
	static const int db_codes[] = { CODE_OK, CODE_NOT_FOUND,
		CODE_ALREADY_EXISTS, CODE_ABORTED, CODE_FAILED_PRECONDITION,
		CODE_OUT_OF_RANGE, CODE_INTERNAL, CODE_UNAVAILABLE };
	static uint64_t  last;
	uint64_t         answered = 0;
	size_t           queued, running;
	bool             progress;

	for (int m = 0; m < METRICS_METHODS; m++)
		for (size_t i = 0; i < sizeof(db_codes) / sizeof(db_codes[0]);
		     i++)
			answered += metrics_count(m, db_codes[i]);
	server_load(arg, &queued, &running);
	progress = queued + running == 0 || answered != last;
	last     = answered;
	return progress;
}

static int
serve(const struct config *cfg)
{
	struct server *s;
	sigset_t       sigs;
	char           err[256];
	int            sig;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (load_callers(cfg, false) != 0)
		return 1;
	if (audit_open(cfg->audit_log, cfg->audit_in_log, err, sizeof(err)) !=
	    0) {
		log_err("%s", err);
		auth_fini();
		return 1;
	}
	if (server_start(&s, cfg, err, sizeof(err)) != 0) {
		log_err("%s", err);
		audit_close();
		auth_fini();
		return 1;
	}
	log_info("inventoryd listening on %s with %d executors", cfg->listen,
	    cfg->workers);
	if (notify_send("READY=1\nSTATUS=serving") != 0)
		log_warn("cannot notify $NOTIFY_SOCKET: %s", strerror(errno));
	(void)notify_watchdog_start(executors_progress, s);

	for (;;) {
		if (sigwait(&sigs, &sig) != 0) {
			continue;
		}
		if (sig == SIGUSR1) {
			metrics_log();
			continue;
		}
		if (sig == SIGHUP) {
			(void)load_callers(cfg, true);
			continue;
		}
		break;
	}
	log_info("signal %d: draining in-flight requests", sig);
	(void)notify_send("STOPPING=1\nSTATUS=draining");
	notify_watchdog_stop(); /* before the server it reads is freed */
	server_stop(s);
	audit_close();
	auth_fini();
	metrics_log();
	log_info("inventoryd stopped");
	return 0;
}

int
main(int argc, char **argv)
{
	struct config cfg;
	char          err[256];
	int           rv;

	switch (config_load(&cfg, argc, argv, err, sizeof(err), stdout)) {
	case CONFIG_HELP:
		config_fini(&cfg);
		return 0;
	case CONFIG_ERROR:
		fprintf(stderr, "inventoryd: %s\n%s", err,
		    "Try 'inventoryd --help'.\n");
		config_fini(&cfg);
		return 2;
	case CONFIG_OK:
		break;
	}
	log_threshold = (enum log_level)cfg.log_level;
	log_format    = (enum log_format)cfg.log_format;

	if (cfg.migrate) {
		rv = store_migrate(cfg.db) == 0 ? 0 : 1;
		if (rv == 0) {
			log_info("migrations applied");
		}
	} else {
		rv = serve(&cfg);
	}
	config_fini(&cfg);
	return rv;
}
