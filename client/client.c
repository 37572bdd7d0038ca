/*
 * client: libinventory's handle and its calls; the only file of the
 * library that speaks nng.
 *
 * A handle is one REQ socket dialled (non-blocking, so nng reconnects in
 * the background) to every URL it was given.  A call borrows a slot (one
 * nng context and one aio) from the handle's pool, sends one Request
 * envelope, waits for the matching Response and returns the slot, so two
 * calls never share a context.  Slots are created on demand and freed
 * only by inventory_client_close(): besides saving an allocation per call,
 * this avoids freeing an aio whose timeout nng 1.5.2's expiry thread may
 * still be handling (freeing per call crashed under many timeouts).  A
 * REQ context reused after a timed-out call simply abandons the old
 * request; a late reply to it is discarded by nng.  The pool's mutex is
 * held only to push or pop a slot, never across I/O.
 *
 * Invariants: the call's timeout bounds send and receive together (one
 * absolute deadline); nng's timer-driven resend is disabled on the
 * context (the request id makes nng's resend on pipe loss harmless); a
 * message whose send failed is freed here, a received one after decoding;
 * every failure becomes one inventory_code plus a status message.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#include "codec.h"
#include "rng.h"

/* Largest reply accepted; replies are well under 1 KiB today. */
#define CLIENT_RECV_MAX     ((size_t)1024 * 1024)
#define CLIENT_TIMEOUT_MS   5000 /* default per-call timeout */
#define CLIENT_RECONNMIN_MS 50   /* first reconnect delay */
#define CLIENT_RECONNMAX_MS 1000 /* cap on the reconnect backoff */

/* One context + aio, reused by successive calls. */
struct call_slot {
	nng_ctx           ctx;
	nng_aio          *aio;
	struct call_slot *next; /* in the free list */
};

struct inventory_client {
	nng_socket        sock;       /* REQ socket; one dialer per URL */
	atomic_int        timeout_ms; /* default per-call timeout, > 0 */
	pthread_mutex_t   pool_mtx;   /* guards free_slots */
	struct call_slot *free_slots; /* idle slots, LIFO */
};

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

/* Reset status for a new call, releasing what the last call left. */
static void
status_reset(inventory_status *status)
{
	inventory_status_fini(status);
}

/* Record a failure in status (if any) and return code. */
static inventory_code status_set(inventory_status *status, inventory_code code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static inventory_code
status_set(inventory_status *status, inventory_code code, const char *fmt, ...)
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

/* The nng error of a failed transport step, as a status code. */
static inventory_code
code_from_nng(int rv)
{
	switch (rv) {
	case NNG_ETIMEDOUT:
		return INVENTORY_DEADLINE_EXCEEDED;
	case NNG_ECANCELED:
		return INVENTORY_CANCELLED;
	case NNG_ENOMEM:
	case NNG_ENOFILES:
	case NNG_ENOSPC:
		return INVENTORY_RESOURCE_EXHAUSTED;
	case NNG_EMSGSIZE:
	case NNG_EPROTO:
		return INVENTORY_INTERNAL;
	case NNG_EPEERAUTH:
	case NNG_ECRYPTO:
		return INVENTORY_UNAUTHENTICATED;
	default: /* ECLOSED, ECONNREFUSED, ECONNRESET, ECONNSHUT, ... */
		return INVENTORY_UNAVAILABLE;
	}
}

inventory_code
inventory_client_open(inventory_client **out, const char *urls)
{
	inventory_client *c;
	char             *list, *url, *save = NULL;
	int               rv, ndial = 0;
	inventory_code    code;

	if (out == NULL || urls == NULL)
		return INVENTORY_INVALID_ARGUMENT;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return INVENTORY_RESOURCE_EXHAUSTED;
	if ((list = strdup(urls)) == NULL) {
		code = INVENTORY_RESOURCE_EXHAUSTED;
		goto out_free_client;
	}
	atomic_init(&c->timeout_ms, CLIENT_TIMEOUT_MS);
	pthread_mutex_init(&c->pool_mtx, NULL);
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		code = code_from_nng(rv);
		goto out_free_list;
	}
	/* Options a dialer inherits must be set on the socket before it
	 * dials.  They cannot fail on a fresh REQ socket with valid values. */
	(void)nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, CLIENT_RECV_MAX);
	(void)nng_socket_set_ms(
	    c->sock, NNG_OPT_RECONNMINT, CLIENT_RECONNMIN_MS);
	(void)nng_socket_set_ms(
	    c->sock, NNG_OPT_RECONNMAXT, CLIENT_RECONNMAX_MS);

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
		/* Non-blocking: an unreachable server is retried in the
		 * background instead of failing here. */
		if ((rv = nng_dial(c->sock, url, NULL, NNG_FLAG_NONBLOCK)) !=
		    0) {
			code = rv == NNG_ENOMEM ? INVENTORY_RESOURCE_EXHAUSTED
			                        : INVENTORY_INVALID_ARGUMENT;
			goto out_close_sock;
		}
		ndial++;
	}
	if (ndial == 0) {
		code = INVENTORY_INVALID_ARGUMENT;
		goto out_close_sock;
	}
	free(list);
	*out = c;
	return INVENTORY_OK;

out_close_sock:
	nng_close(c->sock);
out_free_list:
	free(list);
out_free_client:
	pthread_mutex_destroy(&c->pool_mtx);
	free(c);
	return code;
}

void
inventory_client_close(inventory_client *c)
{
	struct call_slot *s;

	if (c == NULL)
		return;
	/* Closing the socket closes every context; only then free the
	 * aios (nng_aio_free waits for any operation still on them). */
	nng_close(c->sock);
	while ((s = c->free_slots) != NULL) {
		c->free_slots = s->next;
		nng_aio_free(s->aio);
		free(s);
	}
	pthread_mutex_destroy(&c->pool_mtx);
	free(c);
}

/* Take an idle slot or make one.  Returns 0 or an nng error. */
static int
slot_get(inventory_client *c, struct call_slot **out)
{
	struct call_slot *s;
	int               rv;

	pthread_mutex_lock(&c->pool_mtx);
	if ((s = c->free_slots) != NULL)
		c->free_slots = s->next;
	pthread_mutex_unlock(&c->pool_mtx);
	if (s != NULL) {
		*out = s;
		return 0;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NNG_ENOMEM;
	if ((rv = nng_aio_alloc(&s->aio, NULL, NULL)) != 0) {
		free(s);
		return rv;
	}
	if ((rv = nng_ctx_open(&s->ctx, c->sock)) != 0) {
		nng_aio_free(s->aio);
		free(s);
		return rv;
	}
	/* No timer-driven resend within a call (a request repeats only if
	 * its connection drops; the request id makes that harmless). */
	(void)nng_ctx_set_ms(
	    s->ctx, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	*out = s;
	return 0;
}

static void
slot_put(inventory_client *c, struct call_slot *s)
{
	pthread_mutex_lock(&c->pool_mtx);
	s->next       = c->free_slots;
	c->free_slots = s;
	pthread_mutex_unlock(&c->pool_mtx);
}

void
inventory_client_set_timeout(inventory_client *c, int timeout_ms)
{
	if (c == NULL || timeout_ms <= 0)
		return;
	atomic_store(&c->timeout_ms, timeout_ms);
}

/* Milliseconds on the monotonic clock. */
static int64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One exchange on its own context: send msg (always consumed), wait for
 * the reply until deadline_ms and decode it into *reply.  Returns the
 * transport's verdict; the server's is in reply->code. */
static inventory_code
client_exchange(inventory_client *c, enum codec_method method, nng_msg *msg,
    int timeout_ms, struct codec_reply *reply, inventory_status *status)
{
	struct call_slot *slot;
	nng_ctx           ctx;
	nng_aio          *aio;
	int64_t           deadline = now_ms() + timeout_ms, left;
	int               rv;
	inventory_code    code;

	if ((rv = slot_get(c, &slot)) != 0) {
		nng_msg_free(msg);
		return status_set(status, code_from_nng(rv),
		    "cannot open a context: %s", nng_strerror(rv));
	}
	ctx = slot->ctx;
	aio = slot->aio;

	/* The send completes once a connected pipe takes the request: a
	 * timeout here means no server was connected, so it was never
	 * sent and is safe to repeat. */
	nng_aio_set_timeout(aio, timeout_ms);
	nng_aio_set_msg(aio, msg);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		/* A failed send leaves the message with us. */
		if ((msg = nng_aio_get_msg(aio)) != NULL)
			nng_msg_free(msg);
		if (rv == NNG_ETIMEDOUT)
			code = status_set(status, INVENTORY_UNAVAILABLE,
			    "no server connected within %d ms", timeout_ms);
		else
			code = status_set(status, code_from_nng(rv),
			    "send failed: %s", nng_strerror(rv));
		goto out_put_slot;
	}

	left = deadline - now_ms();
	if (left <= 0) {
		code = status_set(status, INVENTORY_DEADLINE_EXCEEDED,
		    "no reply within %d ms", timeout_ms);
		goto out_put_slot;
	}
	nng_aio_set_timeout(aio, (nng_duration)left);
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0) {
		if (rv == NNG_ETIMEDOUT)
			code = status_set(status, INVENTORY_DEADLINE_EXCEEDED,
			    "no reply within %d ms", timeout_ms);
		else
			code = status_set(status, code_from_nng(rv),
			    "receive failed: %s", nng_strerror(rv));
		goto out_put_slot;
	}
	msg  = nng_aio_get_msg(aio);
	code = codec_reply_decode(
	    method, nng_msg_body(msg), nng_msg_len(msg), reply);
	nng_msg_free(msg);
	if (code != INVENTORY_OK)
		status_set(status, code, "%s", reply->message);

out_put_slot:
	slot_put(c, slot);
	return code;
}

/* Run one RPC: encode req, exchange, and turn the reply into the public
 * results (*out on OK, *status otherwise).  req->request_id and
 * req->timeout_ms are filled here from opts. */
static inventory_code
client_call(inventory_client *c, struct codec_request *req,
    const inventory_call_opts *opts, inventory_product **out,
    inventory_status *status)
{
	char               id[RNG_REQUEST_ID_LEN + 1];
	int                timeout_ms = atomic_load(&c->timeout_ms);
	size_t             size;
	nng_msg           *msg;
	int                rv;
	inventory_code     code;
	struct codec_reply reply = { 0 };
	inventory_product *p;

	if (opts != NULL && opts->timeout_ms > 0)
		timeout_ms = opts->timeout_ms;
	if (opts != NULL && opts->request_id != NULL) {
		req->request_id = opts->request_id;
	} else {
		rng_request_id(id);
		req->request_id = id;
	}
	req->timeout_ms = (uint32_t)timeout_ms;

	size = codec_request_size(req);
	if ((rv = nng_msg_alloc(&msg, size)) != 0) {
		req->request_id = NULL;
		return status_set(status, code_from_nng(rv),
		    "cannot allocate request: %s", nng_strerror(rv));
	}
	if (codec_request_encode(req, nng_msg_body(msg), size) != size) {
		req->request_id = NULL;
		nng_msg_free(msg);
		return status_set(status, INVENTORY_RESOURCE_EXHAUSTED,
		    "cannot encode request");
	}

	code =
	    client_exchange(c, req->method, msg, timeout_ms, &reply, status);
	req->request_id = NULL; /* it may point at this frame's id[] */
	if (code != INVENTORY_OK)
		return code;
	if (reply.code != INVENTORY_OK) {
		if (status != NULL) {
			status->code = reply.code;
			codec_copy_str(status->message,
			    sizeof(status->message), reply.message);
			if (reply.code == INVENTORY_ABORTED) {
				status->current_version =
				    reply.current_version;
				if (reply.has_current &&
				    (status->current = malloc(
				         sizeof(*status->current))) != NULL)
					*status->current = reply.current;
			}
		}
		return reply.code;
	}
	if ((p = malloc(sizeof(*p))) == NULL)
		return status_set(
		    status, INVENTORY_RESOURCE_EXHAUSTED, "out of memory");
	*p   = reply.product;
	*out = p;
	return INVENTORY_OK;
}

/* Checks every call shares; returns OK or INVALID_ARGUMENT (in status). */
static inventory_code
call_check(inventory_client *c, const inventory_call_opts *opts,
    inventory_product **out, inventory_status *status)
{
	status_reset(status);
	if (c == NULL || out == NULL)
		return status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "client and out must not be NULL");
	if (opts != NULL && opts->timeout_ms < 0)
		return status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "timeout_ms must not be negative");
	if (opts != NULL && opts->request_id != NULL &&
	    (opts->request_id[0] == '\0' ||
	        strlen(opts->request_id) > INVENTORY_REQUEST_ID_MAX))
		return status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "request_id must be 1..%d bytes",
		    INVENTORY_REQUEST_ID_MAX);
	return INVENTORY_OK;
}

inventory_code
inventory_get_product(inventory_client *c, const char *id,
    const inventory_call_opts *opts, inventory_product **out,
    inventory_status *status)
{
	struct codec_request req = { .method = CODEC_GET_PRODUCT };
	inventory_code       code;

	if ((code = call_check(c, opts, out, status)) != INVENTORY_OK)
		return code;
	if (id == NULL)
		return status_set(
		    status, INVENTORY_INVALID_ARGUMENT, "id must not be NULL");
	req.u.get.id = id;
	return client_call(c, &req, opts, out, status);
}

inventory_code
inventory_create_product(inventory_client *c, const char *name, int64_t stock,
    const char *price, const inventory_call_opts *opts,
    inventory_product **out, inventory_status *status)
{
	struct codec_request req = { .method = CODEC_CREATE_PRODUCT };
	inventory_code       code;
	size_t               len;

	if ((code = call_check(c, opts, out, status)) != INVENTORY_OK)
		return code;
	if (name == NULL || price == NULL)
		return status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "name and price must not be NULL");
	len = strlen(name);
	if (len == 0 || len > INVENTORY_NAME_MAX)
		return status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "name must be 1..%d bytes, not %zu", INVENTORY_NAME_MAX,
		    len);
	/* stock and price are the server's to judge: one source of truth. */
	req.u.create.name  = name;
	req.u.create.stock = stock;
	req.u.create.price = price;
	return client_call(c, &req, opts, out, status);
}

inventory_code
inventory_update_stock(inventory_client *c, const char *id, int64_t stock,
    int64_t expected_version, const inventory_call_opts *opts,
    inventory_product **out, inventory_status *status)
{
	struct codec_request req = { .method = CODEC_UPDATE_STOCK };
	inventory_code       code;

	if ((code = call_check(c, opts, out, status)) != INVENTORY_OK)
		return code;
	if (id == NULL)
		return status_set(
		    status, INVENTORY_INVALID_ARGUMENT, "id must not be NULL");
	req.u.update.id               = id;
	req.u.update.stock            = stock;
	req.u.update.expected_version = expected_version;
	return client_call(c, &req, opts, out, status);
}
