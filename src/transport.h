/*
 * The transport: the only module that includes <nng/nng.h>.
 *
 * One REP socket listens on every configured URL.  A pool of worker
 * threads each own one nng context, one aio and one per-worker state (the
 * store: one PostgreSQL connection), and loop receive -> handle -> send, so
 * N requests are in flight at once and a worker blocks only on its own
 * connection.  The receive size limit is set before listening.
 */
#ifndef INVENTORY_TRANSPORT_H
#define INVENTORY_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

struct transport;

/* What the workers run.  Callbacks are called on worker threads. */
struct transport_ops {
	/* Create worker `index`'s state; NULL on failure. */
	void *(*worker_init)(void *arg, int index);
	void (*worker_fini)(void *state);
	/* Handle one request; return the reply length written to reply. */
	size_t (*handle)(void *state, const uint8_t *req, size_t len,
	    uint64_t received_ns, uint8_t *reply, size_t cap);
	/* Called when a worker has been idle for a while (housekeeping). */
	void (*idle)(void *state);
};

/* Listen on urls (comma-separated) and start `workers` threads.  Returns 0,
 * or -1 with a reason in errbuf (nothing left running). */
int transport_start(struct transport **out, const char *urls, int workers,
    size_t max_frame, const struct transport_ops *ops, void *arg, char *errbuf,
    size_t errlen);

/* Drain and stop: close the listeners, let every worker finish the request
 * it holds and send its reply, join the threads, close the socket, free.
 * NULL is a no-op. */
void transport_stop(struct transport *t);

#endif
