/* SPDX-License-Identifier: MIT */
/*
 * handle: opening and closing a libinventory handle, its options, and the
 * small public helpers every call shares (code names, statuses,
 * products, the version).
 *
 * Open reads the caller's options once (only as many bytes as the
 * caller's header declared: see inventory_client_open_opts), makes the
 * REQ socket and its dialers (dial.c), the frame pump and its deadline
 * timer (pump.c) and, in INVENTORY_COMPLETE_LOOP mode, the completion
 * queue's eventfd (complete.c).  Close cancels what is pending, waits
 * for every frame, and frees it all in the reverse order.
 *
 * A handle opened with a bearer token encodes it once, as the
 * Request.token field the pump appends to every frame; the bytes are
 * wiped at close.
 */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "internal.h"
#include "tls_diag.h"
#include "watch.h"

/* Largest reply accepted; a full BatchGetProducts is well under it. */
#define CLIENT_RECV_MAX        ((size_t)4 * 1024 * 1024)
#define CLIENT_CONNECTIONS     2 /* default dials per URL */
#define CLIENT_CONNECTIONS_MAX 64
#define CLIENT_MAX_BATCH       64 /* default calls per frame */
#define CLIENT_FRAMES_PER_CONN 2  /* default frames in flight per pipe */
/* Longest bearer token accepted (inventory_client_opts.token). */
#define CLIENT_TOKEN_MAX 4096
/* The size of inventory_client_opts in 0.1 (up to tls_server_name): the
 * smallest a caller may pass. */
#define CLIENT_OPTS_V01_SIZE                                \
	(offsetof(inventory_client_opts, tls_server_name) + \
	    sizeof(const char *))

unsigned
inventory_version(void)
{
	return INVENTORY_CLIENT_VERSION;
}

static const char *const code_names[] = {
	[INVENTORY_OK]                  = "OK",
	[INVENTORY_CANCELLED]           = "CANCELLED",
	[INVENTORY_UNKNOWN]             = "UNKNOWN",
	[INVENTORY_INVALID_ARGUMENT]    = "INVALID_ARGUMENT",
	[INVENTORY_DEADLINE_EXCEEDED]   = "DEADLINE_EXCEEDED",
	[INVENTORY_NOT_FOUND]           = "NOT_FOUND",
	[INVENTORY_ALREADY_EXISTS]      = "ALREADY_EXISTS",
	[INVENTORY_PERMISSION_DENIED]   = "PERMISSION_DENIED",
	[INVENTORY_RESOURCE_EXHAUSTED]  = "RESOURCE_EXHAUSTED",
	[INVENTORY_FAILED_PRECONDITION] = "FAILED_PRECONDITION",
	[INVENTORY_ABORTED]             = "ABORTED",
	[INVENTORY_OUT_OF_RANGE]        = "OUT_OF_RANGE",
	[INVENTORY_UNIMPLEMENTED]       = "UNIMPLEMENTED",
	[INVENTORY_INTERNAL]            = "INTERNAL",
	[INVENTORY_UNAVAILABLE]         = "UNAVAILABLE",
	[INVENTORY_DATA_LOSS]           = "DATA_LOSS",
	[INVENTORY_UNAUTHENTICATED]     = "UNAUTHENTICATED",
};

const char *
inventory_code_name(inventory_code code)
{
	if ((unsigned)code >= sizeof(code_names) / sizeof(code_names[0]))
		return "UNKNOWN";
	return code_names[code];
}

int
inventory_code_outcome_unknown(inventory_code code)
{
	switch (code) {
	case INVENTORY_OK:
	case INVENTORY_INVALID_ARGUMENT:
	case INVENTORY_NOT_FOUND:
	case INVENTORY_ALREADY_EXISTS:
	case INVENTORY_PERMISSION_DENIED:
	case INVENTORY_RESOURCE_EXHAUSTED:
	case INVENTORY_FAILED_PRECONDITION:
	case INVENTORY_ABORTED:
	case INVENTORY_OUT_OF_RANGE:
	case INVENTORY_UNIMPLEMENTED:
	case INVENTORY_UNAUTHENTICATED:
		return 0; /* the server decided: not applied (or, OK, applied)
		           */
	default:
		/* DEADLINE_EXCEEDED, UNAVAILABLE, CANCELLED: no answer;
		 * INTERNAL, UNKNOWN, DATA_LOSS, or a future code: none that
		 * says. */
		return 1;
	}
}

void
inventory_product_free(inventory_product *p)
{
	free(p);
}

void
inventory_status_fini(inventory_status *status)
{
	if (status == NULL)
		return;
	free(status->current);
	memset(status, 0, sizeof(*status));
}

/* Record a failure in status (if any) and return code. */
inventory_code
client_status_set(
    inventory_status *status, inventory_code code, const char *fmt, ...)
{
	va_list ap;

	if (status == NULL)
		return code;
	status->code = code;
	va_start(ap, fmt);
	vsnprintf(status->message, sizeof(status->message), fmt, ap);
	va_end(ap);
	return code;
}

/* Encode o's bearer token as the Request.token field appended to every
 * frame.  0, or -1 for a token that is too long or not printable ASCII,
 * or when out of memory (*code says which). */
static int
client_token_init(inventory_client *c, const char *token, inventory_code *code)
{
	size_t len;

	if (token == NULL || token[0] == '\0')
		return 0;
	len = strnlen(token, CLIENT_TOKEN_MAX + 1);
	for (size_t i = 0; i < len; i++) {
		if (token[i] <= ' ' || token[i] > '~') {
			*code = INVENTORY_INVALID_ARGUMENT;
			return -1;
		}
	}
	if (len > CLIENT_TOKEN_MAX) {
		*code = INVENTORY_INVALID_ARGUMENT;
		return -1;
	}
	c->token_field_len = codec_token_field_size(len);
	if ((c->token_field = malloc(c->token_field_len)) == NULL) {
		*code = INVENTORY_RESOURCE_EXHAUSTED;
		return -1;
	}
	(void)codec_token_field_put(c->token_field, token, len);
	return 0;
}

/* Forget the token: overwrite it before freeing, so it does not linger
 * in freed memory. */
static void
client_token_fini(inventory_client *c)
{
	if (c->token_field == NULL)
		return;
	explicit_bzero(c->token_field, c->token_field_len);
	free(c->token_field);
	c->token_field     = NULL;
	c->token_field_len = 0;
}

inventory_code
inventory_client_open_opts_size(inventory_client **out, const char *urls,
    const inventory_client_opts *opts, size_t opts_size)
{
	inventory_client_opts o = { 0 };
	inventory_client     *c;
	char                 *list, *url, *save = NULL;
	int                   rv, nurls = 0;
	inventory_code        code;

	if (opts != NULL) {
		/* Only what the caller's header declared; the rest stays 0. */
		if (opts_size < CLIENT_OPTS_V01_SIZE)
			return INVENTORY_INVALID_ARGUMENT;
		memcpy(
		    &o, opts, opts_size < sizeof(o) ? opts_size : sizeof(o));
	}
	if (out == NULL || urls == NULL || o.connections < 0 ||
	    o.connections > CLIENT_CONNECTIONS_MAX || o.max_batch < 0 ||
	    o.max_frames < 0 || o.retry_max_tokens < 0 ||
	    o.retry_token_milli < 0 ||
	    (o.completion != INVENTORY_COMPLETE_THREAD &&
	        o.completion != INVENTORY_COMPLETE_LOOP))
		return INVENTORY_INVALID_ARGUMENT;
	if (o.probe_misses < 0)
		return INVENTORY_INVALID_ARGUMENT;
	if (o.connections == 0)
		o.connections = CLIENT_CONNECTIONS;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return INVENTORY_RESOURCE_EXHAUSTED;
	if ((list = strdup(urls)) == NULL) {
		free(c);
		return INVENTORY_RESOURCE_EXHAUSTED;
	}
	atomic_init(&c->timeout_ms, CLIENT_TIMEOUT_MS);
	retry_budget_init(&c->budget, o.retry_max_tokens, o.retry_token_milli,
	    o.no_retry_throttle);
	c->coalesce = !o.no_coalesce;
	c->max_batch =
	    o.max_batch > 0 ? (size_t)o.max_batch : CLIENT_MAX_BATCH;
	if (c->max_batch > CODEC_FRAME_ENTRIES_MAX)
		c->max_batch = CODEC_FRAME_ENTRIES_MAX;
	if (!c->coalesce)
		c->max_batch = 1;
	c->loop_mode = o.completion == INVENTORY_COMPLETE_LOOP;
	c->efd       = -1;
	pthread_mutex_init(&c->mtx, NULL);
	pthread_cond_init(&c->idle_cv, NULL);
	if (client_token_init(c, o.token, &code) != 0)
		goto out_free_list;
	code = INVENTORY_RESOURCE_EXHAUSTED;
	if (complete_init(c) != 0)
		goto out_free_list;
	if (pump_init(c) != 0)
		goto out_complete_fini;
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		code = rv == NNG_ENOMEM ? INVENTORY_RESOURCE_EXHAUSTED
		                        : INVENTORY_UNAVAILABLE;
		goto out_pump_fini;
	}
	dial_socket_init(c, CLIENT_RECV_MAX);
	if (watch_create(c, &o) != 0)
		goto out_close_sock;

	for (url = strtok_r(list, ",", &save); url != NULL;
	     url = strtok_r(NULL, ",", &save)) {
		char *end;

		while (*url == ' ' || *url == '\t')
			url++;
		end = url + strlen(url);
		while (end > url && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';
		if (*url == '\0')
			continue;
		if ((rv = dial_url(c, url, o.connections, &o)) != 0) {
			code = rv == NNG_ENOMEM ? INVENTORY_RESOURCE_EXHAUSTED
			                        : INVENTORY_INVALID_ARGUMENT;
			goto out_close_sock;
		}
		nurls++;
	}
	if (nurls == 0) {
		code = INVENTORY_INVALID_ARGUMENT;
		goto out_close_sock;
	}
	/* With coalescing, a few frames per connection keep every pipe busy
	 * (one in the server while the next is on the wire) and leave the
	 * rest of the callers to share frames.  Without it every call needs
	 * its own context, as before. */
	if (o.max_frames > 0)
		c->max_frames = (size_t)o.max_frames;
	else if (c->coalesce)
		c->max_frames = (size_t)CLIENT_FRAMES_PER_CONN *
		                (size_t)o.connections * (size_t)nurls;
	else
		c->max_frames = SIZE_MAX;
	free(list);
	c->tls_diag = tls_diag_create(urls, &o); /* NULL: no diagnosis */
	*out        = c;
	return INVENTORY_OK;

out_close_sock:
	nng_close(c->sock);
	watch_free(c);
	free(c->dialers);
out_pump_fini:
	pump_fini(c);
out_complete_fini:
	complete_fini(c);
out_free_list:
	free(list);
	client_token_fini(c);
	pthread_cond_destroy(&c->idle_cv);
	pthread_mutex_destroy(&c->mtx);
	free(c);
	return code;
}

inventory_code
inventory_client_open(inventory_client **out, const char *urls)
{
	return inventory_client_open_opts_size(out, urls, NULL, 0);
}

void
inventory_client_close(inventory_client *c)
{
	if (c == NULL)
		return;
	/* Cancels every pending call (their callbacks run here) and waits
	 * for every frame in flight to come back. */
	pump_shutdown(c);
	dial_settle(c);
	watch_stop(c);
	nng_close(c->sock); /* closes the dialers too */
	watch_free(c);      /* after the last pipe event */
	free(c->dialers);
	pump_fini(c);
	complete_fini(c);
	client_token_fini(c);
	tls_diag_free(c->tls_diag);
	pthread_cond_destroy(&c->idle_cv);
	pthread_mutex_destroy(&c->mtx);
	free(c);
}

void
inventory_client_set_timeout(inventory_client *c, int timeout_ms)
{
	if (c == NULL || timeout_ms <= 0)
		return;
	atomic_store(&c->timeout_ms, timeout_ms);
}

struct retry_budget *
client_retry_budget(inventory_client *c)
{
	return &c->budget;
}

int
client_timeout_ms(inventory_client *c)
{
	return atomic_load(&c->timeout_ms);
}
