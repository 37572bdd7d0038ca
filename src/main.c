/*
 * inventoryd: argv, signals and wiring.  Nothing else lives here.
 *
 * Signals are blocked in every thread (workers and nng's own inherit the
 * mask) and taken synchronously by the main thread with sigwait(), so no
 * code runs in a signal handler: SIGTERM/SIGINT drain and exit 0, SIGUSR1
 * logs the metrics.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "dispatch.h"
#include "log.h"
#include "metrics.h"
#include "store/store.h"
#include "transport.h"

enum {
	HARD_FRAME_MIN = 1 << 20, /* nng drops connections sending more */
};

static void *
worker_init(void *arg, int index)
{
	const struct store_options *opts = arg;
	struct store               *st;

	(void)index;
	if (store_create(&st, opts) != 0) {
		return NULL;
	}
	return st;
}

static void
worker_fini(void *state)
{
	store_destroy(state);
}

static size_t
worker_handle(void *state, const uint8_t *req, size_t len,
    uint64_t received_ns, uint8_t *reply, size_t cap)
{
	return dispatch_handle(state, req, len, received_ns, reply, cap);
}

static void
worker_idle(void *state)
{
	store_maintain(state);
}

static const struct transport_ops worker_ops = {
	.worker_init = worker_init,
	.worker_fini = worker_fini,
	.handle      = worker_handle,
	.idle        = worker_idle,
};

static int
serve(const struct config *cfg)
{
	struct store_options opts = {
		.conninfo      = cfg->db,
		.request_ttl_s = cfg->request_ttl_s,
	};
	struct transport *t;
	sigset_t          sigs;
	char              err[256];
	size_t            hard_frame;
	int               sig;

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	/* Two limits: a request over max_frame gets a clear
	 * RESOURCE_EXHAUSTED reply; one over the hard limit is not even
	 * read (nng closes that connection), which caps memory per pipe. */
	dispatch_set_max_request(cfg->max_frame);
	hard_frame = cfg->max_frame * 4 > HARD_FRAME_MIN ? cfg->max_frame * 4
	                                                 : HARD_FRAME_MIN;
	if (transport_start(&t, cfg->listen, cfg->workers, hard_frame,
	        &worker_ops, &opts, err, sizeof(err)) != 0) {
		log_err("%s", err);
		return 1;
	}
	log_info("inventoryd listening on %s with %d workers", cfg->listen,
	    cfg->workers);

	for (;;) {
		if (sigwait(&sigs, &sig) != 0) {
			continue;
		}
		if (sig == SIGUSR1) {
			metrics_log();
			continue;
		}
		break;
	}
	log_info("signal %d: draining in-flight requests", sig);
	transport_stop(t);
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
