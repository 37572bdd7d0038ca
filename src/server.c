/*
 * The request path (see server.h).
 *
 * A frame arrives on an nng callback thread (on_request): dispatch decodes
 * it and the calls that need the database go to the executors' queue, all
 * without blocking.  Whichever thread completes the frame's last call
 * (an executor, or the callback itself when nothing needed the database)
 * packs the reply and hands it to the transport (on_done).
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>

#include "config.h"
#include "dispatch.h"
#include "executor.h"
#include "store/store.h"
#include "transport.h"

enum {
	/* Frames in flight at once (nng contexts).  Each may carry up to
	 * DISPATCH_BATCH_MAX calls; beyond it, frames wait in nng. */
	SERVER_CONTEXTS = 256,
	HARD_FRAME_MIN  = 1 << 20, /* nng drops connections sending more */
};

struct server {
	struct store_options opts; /* borrowed strings from the config */
	struct executor     *ex;
	struct transport    *t;
};

static void
on_done(struct frame *f, void *arg)
{
	struct transport_call *call = arg;
	uint8_t                scratch[DISPATCH_REPLY_MAX];
	ProtobufCBufferSimple  out = PROTOBUF_C_BUFFER_SIMPLE_INIT(scratch);

	dispatch_frame_pack(f, &out.base);
	dispatch_frame_free(f);
	transport_reply(call, out.data, out.len);
	PROTOBUF_C_BUFFER_SIMPLE_CLEAR(&out);
}

static void
on_request(void *arg, struct transport_call *call, const uint8_t *buf,
    size_t len, uint64_t received_ns)
{
	struct server *s = arg;
	struct frame  *f;
	struct op     *pending;

	f = dispatch_frame_open(buf, len, received_ns, on_done, call, &pending);
	if (f == NULL) {
		/* Out of memory: answer with what needs none. */
		static const uint8_t exhausted[] = { 0x08,
			CODE_RESOURCE_EXHAUSTED };
		transport_reply(call, exhausted, sizeof(exhausted));
		return;
	}
	executor_submit(s->ex, pending);
	dispatch_frame_release(f);
}

static const struct transport_ops server_ops = {
	.request = on_request,
};

int
server_start(struct server **out, const struct config *cfg, char *errbuf,
    size_t errlen)
{
	struct server *s;
	size_t         hard_frame;

	if (dispatch_check_table() != 0) {
		snprintf(errbuf, errlen, "the method table is out of step");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(errbuf, errlen, "out of memory");
		return -1;
	}
	s->opts.conninfo      = cfg->db;
	s->opts.request_ttl_s = cfg->request_ttl_s;
	/* Two limits: a request over max_frame gets a clear
	 * RESOURCE_EXHAUSTED reply; one over the hard limit is not even
	 * read (nng closes that connection), which caps memory per pipe. */
	dispatch_set_max_request(cfg->max_frame);
	hard_frame = cfg->max_frame * 4 > HARD_FRAME_MIN ? cfg->max_frame * 4
	                                                 : HARD_FRAME_MIN;
	if (executor_start(&s->ex, cfg->workers, &s->opts) != 0) {
		snprintf(errbuf, errlen, "cannot start the executors");
		free(s);
		return -1;
	}
	if (transport_start(&s->t, cfg->listen, SERVER_CONTEXTS, hard_frame,
	        &server_ops, s, errbuf, errlen) != 0) {
		executor_stop(s->ex);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

void
server_stop(struct server *s)
{
	if (s == NULL)
		return;
	transport_stop(s->t); /* every received frame answered */
	executor_stop(s->ex); /* nothing queued any more */
	free(s);
}
