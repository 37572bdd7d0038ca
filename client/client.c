/*
 * client: libinventory's handle and its calls; the only file of the
 * library that speaks nng.
 *
 * A handle is one REQ socket dialled (non-blocking, so nng reconnects in
 * the background) `connections` times to every URL it was given; nng
 * spreads requests over those pipes.  Calls are coalesced by group
 * commit, with no thread of our own and no hand-off added: a caller
 * encodes its Request envelope on its own stack and queues itself
 * (struct call, on its stack too).  A frame slot (one nng context and one
 * aio whose completion callback drives it) takes everything queued, up to
 * max_batch calls and CLIENT_FRAME_BYTES, and sends it: one plain Request
 * when it carries one call (always so without coalescing), else a batch
 * frame whose entries are the callers' bytes as they are.  When the reply
 * arrives the callback hands every call its answer, by position, and if
 * calls queued meanwhile sends them at once on the same slot; otherwise
 * the slot goes back to the pool.  So a batch is whatever arrived while
 * the previous frames were in flight; nothing waits for one to fill.
 *
 * Slots are created on demand up to max_frames and freed only by
 * inventory_client_close(): besides saving allocations, freeing an aio
 * whose timeout nng 1.5.2's expiry thread may still be handling crashed
 * under many timeouts.  A REQ context reused after a timed-out frame
 * simply abandons the old request; a late reply to it is discarded by nng.
 *
 * Invariants: one mutex guards the queue, the pool and every call's
 * state; it is held for list surgery, frame building (a memcpy of the
 * queued bytes) and signalling, never across I/O, and nng callbacks never
 * block on anything else.  A caller waits on its own condition variable
 * (CLOCK_MONOTONIC) until its state is DONE or its own deadline passes:
 * then it leaves the queue if still queued (never sent: UNAVAILABLE), or
 * clears its slot in its frame (sent: DEADLINE_EXCEEDED; UNAVAILABLE if no
 * server had taken the frame yet), after which no callback touches its
 * stack.  Once a callback has marked a call DELIVERING it writes the
 * reply into the call outside the mutex, so the caller may no longer
 * leave and waits (briefly, untimed) for DONE.  While calls are queued,
 * every slot is in flight (each enqueue and each completion runs the
 * pump), so a queued call is always picked up by a completing frame.  A
 * frame's aio timeout is the latest deadline among its calls; nng's
 * timer-driven resend is off in practice on every context, but its resend
 * on pipe loss is on (the request id makes it harmless), so a connection
 * that drops under a frame moves the frame to another connection.
 *
 * A handle opened with a bearer token encodes it once, as the
 * Request.token field, and appends it to every frame it builds (after the
 * call, or after a batch's entries: the frame's token covers them all);
 * the bytes are wiped at close.  A tls+tcp:// URL is dialled with a TLS
 * configuration of our own (CA, server name, optional client
 * certificate, verification required); a failed handshake looks like a
 * refused connection to nng, so it is redialled and the calls see
 * UNAVAILABLE.
 *
 * The handle also keeps the retry budget (retry_budget.h) that every call
 * feeds with its outcome and inventory_update_with_retry() consults, and
 * gives each dialer its own random reconnect back-off (nng has no jitter
 * option), so its connections do not redial in lock step.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>
#include <nng/supplemental/tls/tls.h>

#include "codec.h"
#include "retry_budget.h"
#include "rng.h"
#include "tls_diag.h"

/* Largest reply accepted; a full BatchGetProducts is well under it. */
#define CLIENT_RECV_MAX   ((size_t)4 * 1024 * 1024)
#define CLIENT_TIMEOUT_MS 5000 /* default per-call timeout */
/* Reconnect back-off of each dialer: nng doubles the delay from its
 * minimum to its maximum, with no jitter of its own (1.5.2), so every
 * dialer draws its own minimum and maximum from these ranges: the
 * connections of one handle, and of many clients restarted together, do
 * not all redial a restarted server in the same millisecond. */
#define CLIENT_RECONNMIN_MS    50   /* first reconnect delay, at least */
#define CLIENT_RECONNMIN_HI_MS 100  /* ... and at most */
#define CLIENT_RECONNMAX_LO_MS 750  /* cap on the back-off, at least */
#define CLIENT_RECONNMAX_MS    1000 /* ... and at most */
#define CLIENT_CONNECTIONS     2    /* default dials per URL */
#define CLIENT_SETTLE_MS       300  /* close waits for handshakes this long */
#define CLIENT_CONNECTIONS_MAX 64
#define CLIENT_MAX_BATCH       64 /* default calls per frame */
#define CLIENT_FRAMES_PER_CONN 2  /* default frames in flight per pipe */
/* A coalesced frame stays under this many bytes, well below the server's
 * default request limit (64 KiB), so coalescing never turns calls that
 * would pass alone into a frame refused as too large. */
#define CLIENT_FRAME_BYTES ((size_t)32 * 1024)
/* nng's timer-driven resend of a frame: one day, i.e. never in practice;
 * only its resend on a lost connection matters (frame_create_locked). */
#define CLIENT_RESEND_MS ((nng_duration)(24 * 3600 * 1000))
/* Requests up to this size are encoded on the caller's stack. */
#define CLIENT_STACK_REQ 1024
/* Longest bearer token accepted (inventory_client_opts.token). */
#define CLIENT_TOKEN_MAX 4096
/* Largest PEM file read for a client certificate or key. */
#define CLIENT_PEM_MAX ((long)1024 * 1024)

enum call_state {
	CALL_QUEUED,     /* in the handle's queue */
	CALL_SENT,       /* in a frame in flight; may still give up */
	CALL_DELIVERING, /* a callback is writing its reply: must wait */
	CALL_DONE,       /* reply is final */
};

struct frame;

/* One call in flight, on its caller's stack. */
struct call {
	struct call       *prev, *next; /* in the queue while QUEUED */
	const uint8_t     *req;         /* the encoded Request envelope */
	size_t             req_len;     /* its bytes */
	enum codec_method  method;      /* how to decode the reply */
	const char        *request_id;  /* what the reply must echo */
	int                timeout_ms;  /* the budget, for messages */
	int64_t            deadline_ns; /* CLOCK_MONOTONIC */
	pthread_cond_t     cv;          /* signalled on DONE */
	enum call_state    state;       /* guarded by the handle's mutex */
	struct frame      *frame;       /* SENT/DELIVERING: carried by */
	size_t             index;       /* ... at this position */
	size_t             shared;      /* calls in that frame (0: unsent) */
	struct codec_reply reply;       /* the outcome once DONE */
};

/* A frame slot: one context + aio, driven by frame_cb(). */
struct frame {
	inventory_client *c;
	nng_ctx           ctx;
	nng_aio          *aio;         /* completion callback frame_cb */
	struct frame     *next_free;   /* in the pool while idle */
	struct frame     *next_all;    /* every slot, for close */
	struct frame     *next_send;   /* built, waiting to be sent */
	nng_msg          *msg;         /* built, not yet handed to nng */
	int               sending;     /* send not completed yet */
	int64_t           deadline_ns; /* latest deadline of its calls */
	size_t            ncalls;      /* calls it carries */
	struct call     **calls;       /* [max_batch]; NULL: gave up */
};

struct inventory_client {
	nng_socket          sock;       /* REQ socket; dialers per URL */
	atomic_int          timeout_ms; /* default per-call timeout, > 0 */
	int                 coalesce;   /* 0: one call per frame */
	size_t              max_batch;  /* calls per frame, >= 1 */
	size_t              max_frames; /* slots at most, >= 1 */
	pthread_condattr_t  cattr;      /* CLOCK_MONOTONIC, for calls */
	pthread_mutex_t     mtx;        /* guards everything below */
	struct call        *qhead;      /* queued calls, oldest first */
	struct call        *qtail;
	struct frame       *free_frames; /* idle slots, LIFO */
	struct frame       *all_frames;  /* every slot */
	size_t              nframes;     /* slots created */
	size_t              nidle;       /* slots in free_frames */
	pthread_cond_t      idle_cv;     /* close waits here for nidle */
	int                 closing;     /* close started: start nothing */
	struct retry_budget budget;      /* retry throttling; lock-free */
	uint8_t            *token_field; /* Request.token, encoded once and
	                                  * appended to every frame; NULL:
	                                  * no token.  Immutable once open */
	size_t token_field_len;          /* its bytes */
	/* Dialers are made by open and started by the first call, so a
	 * handle closed before any call (a CLI refusing its arguments) never
	 * leaves a connection half-negotiated: nng 1.5.2 leaks a dialer
	 * closed mid-connect, and a server's ipc:// listener can wedge on a
	 * peer that leaves during the handshake (nng#1518). */
	nng_dialer *dialers;  /* every dialer of every URL */
	size_t      ndialers; /* how many */
	atomic_bool dialing;  /* started (by the first call) */
	atomic_int  pipes;    /* connections attached now */

	/* Why tls+tcp:// connections fail (tls_diag.h), or NULL. */
	struct tls_diag *tls_diag;
};

static void client_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg);
static void client_settle(inventory_client *c);

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

/* Whether url names nng's TLS transport (tls+tcp://, tls+tcp4://, ...). */
static int
url_is_tls(const char *url)
{
	return strncmp(url, "tls+", 4) == 0;
}

/* The host of a tls+tcp URL ("127.0.0.1", "[::1]" without brackets) into
 * buf, the default TLS server name.  0, or -1 if there is none. */
static int
url_host(const char *url, char *buf, size_t len)
{
	const char *h = strstr(url, "://"), *end;
	size_t      n;

	if (h == NULL)
		return -1;
	h += 3;
	if (*h == '[') {
		h++;
		end = strchr(h, ']');
	} else {
		end = h + strcspn(h, ":/");
	}
	if (end == NULL || (n = (size_t)(end - h)) == 0 || n >= len)
		return -1;
	memcpy(buf, h, n);
	buf[n] = '\0';
	return 0;
}

/* The whole file at path as a NUL-terminated string (free() it), or NULL
 * when it cannot be read or is larger than CLIENT_PEM_MAX. */
static char *
pem_read(const char *path)
{
	FILE *f;
	char *buf = NULL;
	long  size;

	if ((f = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 ||
	    size > CLIENT_PEM_MAX || fseek(f, 0, SEEK_SET) != 0)
		goto out_close;
	if ((buf = malloc((size_t)size + 1)) == NULL)
		goto out_close;
	if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
		free(buf);
		buf = NULL;
		goto out_close;
	}
	buf[size] = '\0';
out_close:
	fclose(f);
	return buf;
}

/* A client TLS configuration for url from o: the CA that must have
 * signed the server's certificate (verification REQUIRED), the server
 * name it must carry (o's, else the URL's host), and our own certificate
 * if o names one.  Returns 0 with *out held by the caller
 * (nng_tls_config_free), or an nng error (NNG_EINVAL: o lacks the CA, or
 * names a certificate without its key). */
static int
tls_config_make(
    const inventory_client_opts *o, const char *url, nng_tls_config **out)
{
	nng_tls_config *cfg;
	char            host[256];
	const char     *name = o->tls_server_name;
	char           *cert = NULL, *key = NULL;
	int             rv;

	if (o->tls_ca_file == NULL ||
	    (o->tls_cert_file == NULL) != (o->tls_key_file == NULL))
		return NNG_EINVAL;
	if (name == NULL) {
		if (url_host(url, host, sizeof(host)) != 0)
			return NNG_EINVAL;
		name = host;
	}
	if ((rv = nng_tls_config_alloc(&cfg, NNG_TLS_MODE_CLIENT)) != 0)
		return rv;
	if ((rv = nng_tls_config_auth_mode(cfg, NNG_TLS_AUTH_MODE_REQUIRED)) !=
	        0 ||
	    (rv = nng_tls_config_ca_file(cfg, o->tls_ca_file)) != 0 ||
	    (rv = nng_tls_config_server_name(cfg, name)) != 0)
		goto out_free_cfg;
	if (o->tls_cert_file != NULL) {
		/* nng wants PEM text for a separate certificate and key. */
		if ((cert = pem_read(o->tls_cert_file)) == NULL ||
		    (key = pem_read(o->tls_key_file)) == NULL) {
			rv = NNG_EINVAL;
			goto out_free_pem;
		}
		if ((rv = nng_tls_config_own_cert(cfg, cert, key, NULL)) != 0)
			goto out_free_pem;
		free(cert);
		free(key);
	}
	*out = cfg;
	return 0;

out_free_pem:
	free(cert);
	free(key);
out_free_cfg:
	nng_tls_config_free(cfg);
	return rv;
}

/* Dial url `n` times on c's socket, each dialer with its own random
 * reconnect back-off (see CLIENT_RECONNMIN_MS) and, for a tls+tcp URL,
 * o's TLS configuration.  Returns 0 or an nng error. */
static int
client_dial(inventory_client *c, const char *url, int n,
    const inventory_client_opts *o)
{
	nng_tls_config *tls = NULL;
	nng_dialer      d, *grown;
	int             rv = 0;

	if (url_is_tls(url) && (rv = tls_config_make(o, url, &tls)) != 0)
		return rv;
	for (int i = 0; i < n; i++) {
		nng_duration lo =
		    CLIENT_RECONNMIN_MS +
		    (nng_duration)rng_between0(
		        CLIENT_RECONNMIN_HI_MS - CLIENT_RECONNMIN_MS);
		nng_duration hi =
		    CLIENT_RECONNMAX_LO_MS +
		    (nng_duration)rng_between0(
		        CLIENT_RECONNMAX_MS - CLIENT_RECONNMAX_LO_MS);

		if ((rv = nng_dialer_create(&d, c->sock, url)) != 0)
			break;
		/* Cannot fail on a fresh dialer with valid values. */
		(void)nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, lo);
		(void)nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, hi);
		/* The dialer holds its own reference to the configuration. */
		if (tls != NULL && (rv = nng_dialer_set_ptr(
		                        d, NNG_OPT_TLS_CONFIG, tls)) != 0) {
			(void)nng_dialer_close(d);
			break;
		}
		/* Started by the first call (client_start_dialers()). */
		grown = realloc(
		    c->dialers, (c->ndialers + 1) * sizeof(*c->dialers));
		if (grown == NULL) {
			(void)nng_dialer_close(d);
			rv = NNG_ENOMEM;
			break;
		}
		c->dialers                = grown;
		c->dialers[c->ndialers++] = d;
	}
	if (tls != NULL)
		nng_tls_config_free(tls);
	return rv;
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
inventory_client_open_opts(inventory_client **out, const char *urls,
    const inventory_client_opts *opts)
{
	inventory_client_opts o = { 0 };
	inventory_client     *c;
	char                 *list, *url, *save = NULL;
	int                   rv, nurls = 0;
	inventory_code        code;

	if (opts != NULL)
		o = *opts;
	if (out == NULL || urls == NULL || o.connections < 0 ||
	    o.connections > CLIENT_CONNECTIONS_MAX || o.max_batch < 0 ||
	    o.max_frames < 0 || o.retry_max_tokens < 0 ||
	    o.retry_token_milli < 0)
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
	pthread_mutex_init(&c->mtx, NULL);
	pthread_cond_init(&c->idle_cv, NULL);
	pthread_condattr_init(&c->cattr);
	pthread_condattr_setclock(&c->cattr, CLOCK_MONOTONIC);
	if (client_token_init(c, o.token, &code) != 0)
		goto out_free_list;
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		code = rv == NNG_ENOMEM ? INVENTORY_RESOURCE_EXHAUSTED
		                        : INVENTORY_UNAVAILABLE;
		goto out_free_list;
	}
	/* Options a dialer inherits must be set on the socket before it
	 * dials.  They cannot fail on a fresh REQ socket with valid values. */
	(void)nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, CLIENT_RECV_MAX);
	(void)nng_socket_set_ms(
	    c->sock, NNG_OPT_RECONNMINT, CLIENT_RECONNMIN_MS);
	(void)nng_socket_set_ms(
	    c->sock, NNG_OPT_RECONNMAXT, CLIENT_RECONNMAX_MS);
	/* ... and client_dial() gives each dialer a jittered pair. */
	(void)nng_pipe_notify(
	    c->sock, NNG_PIPE_EV_ADD_POST, client_pipe_event, c);
	(void)nng_pipe_notify(
	    c->sock, NNG_PIPE_EV_REM_POST, client_pipe_event, c);

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
		if ((rv = client_dial(c, url, o.connections, &o)) != 0) {
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
	c->tls_diag = tls_diag_create(urls, &o); /* NULL: no diagnosis */
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
	*out = c;
	return INVENTORY_OK;

out_close_sock:
	nng_close(c->sock);
	free(c->dialers);
out_free_list:
	free(list);
	client_token_fini(c);
	pthread_cond_destroy(&c->idle_cv);
	pthread_condattr_destroy(&c->cattr);
	pthread_mutex_destroy(&c->mtx);
	free(c);
	return code;
}

inventory_code
inventory_client_open(inventory_client **out, const char *urls)
{
	return inventory_client_open_opts(out, urls, NULL);
}

void
inventory_client_close(inventory_client *c)
{
	struct frame *f;

	if (c == NULL)
		return;
	/* No call is running (the contract), but frames of calls that gave
	 * up may still be in flight.  Their aios are left to finish by
	 * themselves, which is soon: a frame times out at the latest
	 * deadline of its calls, and each of those calls has given up
	 * because its deadline passed.  Aborting them instead (nng_close
	 * with operations and timeouts pending, then freeing the aios)
	 * crashes nng 1.5.2 ("pthread_mutex_lock: Invalid argument").
	 * closing keeps the callbacks from starting anything new. */
	pthread_mutex_lock(&c->mtx);
	c->closing = 1;
	while (c->nidle < c->nframes)
		pthread_cond_wait(&c->idle_cv, &c->mtx);
	pthread_mutex_unlock(&c->mtx);
	client_settle(c);
	nng_close(c->sock); /* closes the dialers too */
	free(c->dialers);
	while ((f = c->all_frames) != NULL) {
		c->all_frames = f->next_all;
		nng_aio_free(f->aio);
		if (f->msg != NULL)
			nng_msg_free(f->msg);
		free(f->calls);
		free(f);
	}
	client_token_fini(c);
	tls_diag_free(c->tls_diag);
	pthread_cond_destroy(&c->idle_cv);
	pthread_condattr_destroy(&c->cattr);
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

/* Nanoseconds on the monotonic clock. */
static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Milliseconds from now until deadline_ns, rounded up, at least 1 (nng
 * treats 0 as "expire at once", which would turn a frame whose budget
 * is nearly spent into a spurious send failure). */
static nng_duration
ms_until(int64_t deadline_ns)
{
	int64_t left = deadline_ns - now_ns();

	if (left <= 0)
		return 1;
	left = (left + 999999) / 1000000;
	return left > INT32_MAX ? INT32_MAX : (nng_duration)left;
}

/* Set call's outcome to a failure of its own (not the server's). */
static void call_fail(struct call *call, inventory_code code, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
call_fail(struct call *call, inventory_code code, const char *fmt, ...)
{
	va_list ap;

	memset(&call->reply, 0, sizeof(call->reply));
	call->reply.code = code;
	va_start(ap, fmt);
	vsnprintf(call->reply.message, sizeof(call->reply.message), fmt, ap);
	va_end(ap);
}

/* Under c->mtx: append call to the queue. */
static void
queue_push(inventory_client *c, struct call *call)
{
	call->state = CALL_QUEUED;
	call->next  = NULL;
	call->prev  = c->qtail;
	if (c->qtail != NULL)
		c->qtail->next = call;
	else
		c->qhead = call;
	c->qtail = call;
}

/* Under c->mtx: take call out of the queue. */
static void
queue_remove(inventory_client *c, struct call *call)
{
	if (call->prev != NULL)
		call->prev->next = call->next;
	else
		c->qhead = call->next;
	if (call->next != NULL)
		call->next->prev = call->prev;
	else
		c->qtail = call->prev;
	call->prev = call->next = NULL;
}

/* Under c->mtx: mark call DONE and wake its caller. */
static void
call_done_locked(struct call *call)
{
	call->state = CALL_DONE;
	pthread_cond_signal(&call->cv);
}

static void frame_cb(void *arg);

/* Under c->mtx: return f to the pool (and tell a waiting close). */
static void
frame_put_locked(inventory_client *c, struct frame *f)
{
	f->next_free   = c->free_frames;
	c->free_frames = f;
	if (++c->nidle == c->nframes && c->closing)
		pthread_cond_signal(&c->idle_cv);
}

/* Under c->mtx: a new slot, or NULL (out of memory or resources).
 * Allocation only, no I/O: nng_ctx_open takes only nng's socket lock. */
static struct frame *
frame_create_locked(inventory_client *c)
{
	struct frame *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return NULL;
	f->c = c;
	/* NOLINTNEXTLINE(bugprone-sizeof-expression): an array of pointers */
	if ((f->calls = calloc(c->max_batch, sizeof(*f->calls))) == NULL)
		goto out_free_frame;
	if (nng_aio_alloc(&f->aio, frame_cb, f) != 0)
		goto out_free_calls;
	if (nng_ctx_open(&f->ctx, c->sock) != 0)
		goto out_free_aio;
	/* No timer-driven resend within a frame, but a resend on another
	 * connection as soon as its own drops (a server restarting or
	 * gone): request ids make the repeat harmless, and the caller sees
	 * no error and spends no retry budget (gRPC's transparent retry).
	 * With an infinite resend time nng 1.5.2 fails the frame with
	 * ECONNRESET instead, so the time is finite but longer than any
	 * call's timeout in practice. */
	(void)nng_ctx_set_ms(f->ctx, NNG_OPT_REQ_RESENDTIME, CLIENT_RESEND_MS);
	f->next_all   = c->all_frames;
	c->all_frames = f;
	c->nframes++;
	return f;

out_free_aio:
	nng_aio_free(f->aio);
out_free_calls:
	free(f->calls);
out_free_frame:
	free(f);
	return NULL;
}

/* Under c->mtx: move queued calls into the idle slot f and build its
 * message.  Returns 0, or -1 when no message could be allocated (the
 * calls taken then failed with RESOURCE_EXHAUSTED; f stays idle). */
static int
frame_fill_locked(inventory_client *c, struct frame *f)
{
	struct call *call;
	size_t       n = 0, bytes = 0, off = 0;
	int64_t      deadline = 0;
	uint8_t     *body;

	/* The oldest calls first, as many as fit. */
	for (call = c->qhead; call != NULL && n < c->max_batch;
	     call = call->next) {
		size_t e = codec_frame_entry_size(call->req_len);

		if (n > 0 && bytes + e > CLIENT_FRAME_BYTES)
			break;
		bytes += e;
		n++;
	}
	if (n == 1)
		bytes = c->qhead->req_len; /* alone: a plain Request */
	/* The token travels once per frame, after the call(s): in a batch
	 * the server applies the frame's token to every entry. */
	bytes += c->token_field_len;
	if (nng_msg_alloc(&f->msg, bytes) != 0) {
		f->msg = NULL;
		for (size_t i = 0; i < n; i++) {
			call = c->qhead;
			queue_remove(c, call);
			call_fail(call, INVENTORY_RESOURCE_EXHAUSTED,
			    "cannot allocate a request frame");
			call_done_locked(call);
		}
		return -1;
	}
	body = nng_msg_body(f->msg);
	for (size_t i = 0; i < n; i++) {
		call = c->qhead;
		queue_remove(c, call);
		if (n == 1) {
			memcpy(body, call->req, call->req_len);
			off = call->req_len;
		} else {
			off += codec_frame_entry_put(
			    body + off, call->req, call->req_len);
		}
		if (call->deadline_ns > deadline)
			deadline = call->deadline_ns;
		call->state  = CALL_SENT;
		call->frame  = f;
		call->index  = i;
		call->shared = n;
		f->calls[i]  = call;
	}
	if (c->token_field != NULL)
		memcpy(body + off, c->token_field, c->token_field_len);
	f->ncalls      = n;
	f->deadline_ns = deadline;
	f->sending     = 1;
	return 0;
}

/* Under c->mtx: send what is queued.  own (may be NULL) is a slot the
 * caller holds (a callback's, just finished): it is used first, and
 * returned to the pool if nothing is queued.  Slots that got calls are
 * pushed on *tosend, to be sent by frames_send() after unlocking. */
static void
pump_locked(inventory_client *c, struct frame *own, struct frame **tosend)
{
	while (c->qhead != NULL && !c->closing) {
		struct frame *f = own;

		own = NULL;
		if (f == NULL && (f = c->free_frames) != NULL) {
			c->free_frames = f->next_free;
			c->nidle--;
		}
		if (f == NULL && c->nframes < c->max_frames &&
		    (f = frame_create_locked(c)) == NULL &&
		    c->nframes == (size_t)0) {
			/* No slot exists and none can be made: nothing in
			 * flight would ever pick the queue up. */
			while (c->qhead != NULL) {
				struct call *call = c->qhead;

				queue_remove(c, call);
				call_fail(call, INVENTORY_RESOURCE_EXHAUSTED,
				    "cannot open an nng context");
				call_done_locked(call);
			}
		}
		if (f == NULL)
			break; /* every slot is in flight: they will pump */
		if (frame_fill_locked(c, f) != 0) {
			frame_put_locked(c, f);
			continue;
		}
		f->next_send = *tosend;
		*tosend      = f;
	}
	if (own != NULL)
		frame_put_locked(c, own);
}

/* Hand each built frame of the list to nng.  Outside the mutex. */
static void
frames_send(struct frame *list)
{
	while (list != NULL) {
		struct frame *f = list;

		/* After nng_ctx_send the callback may already be running
		 * and reuse next_send: read it first. */
		list = f->next_send;
		nng_aio_set_timeout(f->aio, ms_until(f->deadline_ns));
		nng_aio_set_msg(f->aio, f->msg);
		f->msg = NULL;
		nng_ctx_send(f->ctx, f->aio);
	}
}

/* Write each live call's reply from the frame's outcome.  Outside the
 * mutex: the calls are DELIVERING, so their callers wait.  rv is the nng
 * result; msg the reply when rv is 0. */
static void
frame_deliver(struct frame *f, int rv, int sent, nng_msg *msg)
{
	struct codec_frame_reply fr;
	struct codec_reply       whole;
	size_t                   n = f->ncalls;

	if (rv != 0) {
		for (size_t i = 0; i < n; i++) {
			struct call *call = f->calls[i];

			if (call == NULL)
				continue;
			if (!sent && rv == NNG_ETIMEDOUT)
				call_fail(call, INVENTORY_UNAVAILABLE,
				    "no server connected within %d ms",
				    call->timeout_ms);
			else if (rv == NNG_ETIMEDOUT)
				call_fail(call, INVENTORY_DEADLINE_EXCEEDED,
				    "no reply within %d ms", call->timeout_ms);
			else
				call_fail(call, code_from_nng(rv), "%s: %s",
				    sent ? "receive failed" : "send failed",
				    nng_strerror(rv));
		}
		return;
	}
	if (n == 1) {
		/* A single frame is a plain Request; REQ/REP matched it. */
		if (f->calls[0] != NULL)
			(void)codec_reply_decode(f->calls[0]->method,
			    nng_msg_body(msg), nng_msg_len(msg),
			    &f->calls[0]->reply);
		return;
	}
	if (codec_frame_reply_decode(nng_msg_body(msg), nng_msg_len(msg), n,
	        &fr, &whole) != INVENTORY_OK) {
		for (size_t i = 0; i < n; i++)
			if (f->calls[i] != NULL)
				f->calls[i]->reply = whole;
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct call *call = f->calls[i];

		if (call != NULL)
			(void)codec_frame_reply_entry(&fr, i, call->method,
			    call->request_id, &call->reply);
	}
	codec_frame_reply_fini(&fr);
}

/* The frame is over (reply, or failure rv): answer its calls, then send
 * what queued meanwhile on the same slot, or return it to the pool. */
static void
frame_finish(
    inventory_client *c, struct frame *f, int rv, int sent, nng_msg *msg)
{
	struct frame *tosend = NULL;
	size_t        live   = 0;

	pthread_mutex_lock(&c->mtx);
	for (size_t i = 0; i < f->ncalls; i++) {
		if (f->calls[i] != NULL) {
			f->calls[i]->state = CALL_DELIVERING;
			live++;
		}
	}
	pthread_mutex_unlock(&c->mtx);

	if (live > 0)
		frame_deliver(f, rv, sent, msg);
	if (msg != NULL)
		nng_msg_free(msg);

	pthread_mutex_lock(&c->mtx);
	for (size_t i = 0; i < f->ncalls; i++) {
		if (f->calls[i] != NULL)
			call_done_locked(f->calls[i]);
		f->calls[i] = NULL;
	}
	f->ncalls = 0;
	pump_locked(c, f, &tosend);
	pthread_mutex_unlock(&c->mtx);
	frames_send(tosend);
}

/* The slot's aio completed: a send (then receive the reply on the same
 * aio) or a receive (then finish).  Runs on an nng task thread: never
 * blocks, only takes the handle's mutex briefly. */
static void
frame_cb(void *arg)
{
	struct frame     *f  = arg;
	inventory_client *c  = f->c;
	int               rv = nng_aio_result(f->aio);
	nng_msg          *msg;
	int               closing;

	if (f->sending) {
		if (rv != 0) {
			/* A failed send leaves the message with us. */
			if ((msg = nng_aio_get_msg(f->aio)) != NULL)
				nng_msg_free(msg);
			frame_finish(c, f, rv, 0, NULL);
			return;
		}
		pthread_mutex_lock(&c->mtx);
		f->sending = 0;
		closing    = c->closing;
		pthread_mutex_unlock(&c->mtx);
		if (closing) {
			frame_finish(c, f, NNG_ECLOSED, 1, NULL);
			return;
		}
		nng_aio_set_timeout(f->aio, ms_until(f->deadline_ns));
		nng_ctx_recv(f->ctx, f->aio);
		return;
	}
	msg = rv == 0 ? nng_aio_get_msg(f->aio) : NULL;
	frame_finish(c, f, rv, 1, msg);
}

/* Under c->mtx: call's deadline passed before its reply.  Afterwards no
 * callback touches it. */
static void
call_give_up_locked(inventory_client *c, struct call *call)
{
	if (call->state == CALL_QUEUED) {
		queue_remove(c, call);
		call_fail(call, INVENTORY_UNAVAILABLE,
		    "not sent within %d ms: no server took it",
		    call->timeout_ms);
	} else {
		struct frame *f = call->frame;

		f->calls[call->index] = NULL;
		if (f->sending)
			call_fail(call, INVENTORY_UNAVAILABLE,
			    "no server connected within %d ms",
			    call->timeout_ms);
		else
			call_fail(call, INVENTORY_DEADLINE_EXCEEDED,
			    "no reply within %d ms", call->timeout_ms);
	}
	call->state = CALL_DONE;
}

/* nng calls this on its own thread as connections come and go. */
static void
client_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	inventory_client *c = arg;

	(void)p;
	atomic_fetch_add(&c->pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

/* Before closing: when some connection is up but not all of them yet,
 * give the others a moment (CLIENT_SETTLE_MS at most) to finish their
 * handshake, so that a short-lived process does not leave one mid-way:
 * nng 1.5.2 servers can stop accepting on a listener a peer left that way
 * (nanomsg/nng#1518).  With none up (no server there) it does not wait. */
static void
client_settle(inventory_client *c)
{
	for (int waited = 0; waited < CLIENT_SETTLE_MS; waited += 5) {
		int up = atomic_load(&c->pipes);

		if (!atomic_load(&c->dialing) || up <= 0 ||
		    (size_t)up >= c->ndialers)
			return;
		nng_msleep(5);
	}
}

/* Start every dialer, once.  Non-blocking: an unreachable server is
 * retried in the background instead of failing here.  Each dialer is its
 * own connection (pipe) to the same server.  A TLS handshake that fails
 * (wrong CA, expired certificate, a plain server) is retried the same
 * way, so calls see UNAVAILABLE; so does a dialer that cannot start. */
static void
client_start_dialers(inventory_client *c)
{
	if (atomic_exchange(&c->dialing, true))
		return;
	for (size_t i = 0; i < c->ndialers; i++)
		(void)nng_dialer_start(c->dialers[i], NNG_FLAG_NONBLOCK);
}

/* Queue call, start a frame if a slot is free, and wait for the reply or
 * the call's deadline.  On return call->reply is the outcome. */
static void
client_exchange(inventory_client *c, struct call *call)
{
	struct frame   *tosend = NULL;
	struct timespec abs    = {
		   .tv_sec  = (time_t)(call->deadline_ns / 1000000000),
		   .tv_nsec = (long)(call->deadline_ns % 1000000000),
	};

	client_start_dialers(c);
	pthread_cond_init(&call->cv, &c->cattr);
	pthread_mutex_lock(&c->mtx);
	queue_push(c, call);
	pump_locked(c, NULL, &tosend);
	if (tosend != NULL) {
		pthread_mutex_unlock(&c->mtx);
		frames_send(tosend);
		pthread_mutex_lock(&c->mtx);
	}
	while (call->state != CALL_DONE) {
		if (call->state == CALL_DELIVERING) {
			pthread_cond_wait(&call->cv, &c->mtx);
			continue;
		}
		if (pthread_cond_timedwait(&call->cv, &c->mtx, &abs) ==
		        ETIMEDOUT &&
		    (call->state == CALL_QUEUED || call->state == CALL_SENT))
			call_give_up_locked(c, call);
	}
	pthread_mutex_unlock(&c->mtx);
	pthread_cond_destroy(&call->cv);
}

/* Run one RPC: encode req, exchange, and leave the outcome in *reply
 * (release with codec_reply_fini()).  Returns reply->code; on failure
 * *status describes it (with the latest product for a conflict).
 * req->request_id and req->timeout_ms are filled here from opts. */
static inventory_code
client_call(inventory_client *c, struct codec_request *req,
    const inventory_call_opts *opts, struct codec_reply *reply,
    inventory_status *status)
{
	char        id[RNG_REQUEST_ID_LEN + 1];
	int         timeout_ms = atomic_load(&c->timeout_ms);
	uint8_t     stackbuf[CLIENT_STACK_REQ];
	uint8_t    *buf = stackbuf;
	size_t      size;
	struct call call;

	if (opts != NULL && opts->timeout_ms > 0)
		timeout_ms = opts->timeout_ms;
	if (opts != NULL && opts->request_id != NULL) {
		req->request_id = opts->request_id;
	} else {
		rng_request_id(id);
		req->request_id = id;
	}
	req->timeout_ms = (uint32_t)timeout_ms;

	memset(reply, 0, sizeof(*reply));
	size = codec_request_size(req);
	if (size > sizeof(stackbuf) && (buf = malloc(size)) == NULL) {
		req->request_id = NULL; /* it may point at this frame's id[] */
		return status_set(status, INVENTORY_RESOURCE_EXHAUSTED,
		    "cannot allocate request");
	}
	if (size == 0 || codec_request_encode(req, buf, size) != size) {
		if (buf != stackbuf)
			free(buf);
		req->request_id = NULL;
		return status_set(status, INVENTORY_RESOURCE_EXHAUSTED,
		    "cannot encode request");
	}

	memset(&call, 0, sizeof(call));
	call.req         = buf;
	call.req_len     = size;
	call.method      = req->method;
	call.request_id  = req->request_id;
	call.timeout_ms  = timeout_ms;
	call.deadline_ns = now_ns() + (int64_t)timeout_ms * 1000000;
	client_exchange(c, &call);
	/* "No server connected" on a tls+tcp:// URL: say why the handshake
	 * fails, if a diagnostic one can tell (tls_diag.h).  Here, in the
	 * caller's thread, outside every lock. */
	if (call.reply.code == INVENTORY_UNAVAILABLE && c->tls_diag != NULL &&
	    atomic_load(&c->pipes) <= 0)
		tls_diag_annotate(c->tls_diag, call.reply.message,
		    sizeof(call.reply.message), timeout_ms);
	if (buf != stackbuf)
		free(buf);
	req->request_id = NULL; /* it may point at this frame's id[] */
	*reply          = call.reply;
	retry_budget_record_shared(&c->budget, reply->code, call.shared);

	if (reply->code != INVENTORY_OK && status != NULL) {
		status->code = reply->code;
		codec_copy_str(
		    status->message, sizeof(status->message), reply->message);
		/* A conflict always names the latest product; AdjustStock's
		 * refusals (too little stock, too much) do when they can. */
		if (reply->code == INVENTORY_ABORTED ||
		    ((reply->code == INVENTORY_FAILED_PRECONDITION ||
		         reply->code == INVENTORY_OUT_OF_RANGE) &&
		        reply->has_current)) {
			status->current_version = reply->current_version;
			if (reply->has_current &&
			    (status->current =
			            malloc(sizeof(*status->current))) != NULL)
				*status->current = reply->current;
		}
	}
	return reply->code;
}

/* client_call() for the RPCs that answer one product: *out on OK. */
static inventory_code
client_call_one(inventory_client *c, struct codec_request *req,
    const inventory_call_opts *opts, inventory_product **out,
    inventory_status *status)
{
	struct codec_reply reply;
	inventory_code     code;
	inventory_product *p;

	if ((code = client_call(c, req, opts, &reply, status)) !=
	    INVENTORY_OK) {
		codec_reply_fini(&reply);
		return code;
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
	return client_call_one(c, &req, opts, out, status);
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
	return client_call_one(c, &req, opts, out, status);
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
	return client_call_one(c, &req, opts, out, status);
}

inventory_code
inventory_batch_get_products(inventory_client *c, const char *const *ids,
    size_t n, const inventory_call_opts *opts, inventory_product **out,
    inventory_status *status)
{
	struct codec_request req = { .method = CODEC_BATCH_GET_PRODUCTS };
	struct codec_reply   reply;
	inventory_code       code;

	if ((code = call_check(c, opts, out, status)) != INVENTORY_OK)
		return code;
	if (ids == NULL || n == 0 || n > INVENTORY_BATCH_GET_MAX)
		return status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "1..%d ids, not %zu", INVENTORY_BATCH_GET_MAX,
		    ids == NULL ? (size_t)0 : n);
	for (size_t i = 0; i < n; i++)
		if (ids[i] == NULL)
			return status_set(status, INVENTORY_INVALID_ARGUMENT,
			    "ids[%zu] must not be NULL", i);
	req.u.batch_get.ids = ids;
	req.u.batch_get.n   = n;
	if ((code = client_call(c, &req, opts, &reply, status)) !=
	    INVENTORY_OK) {
		codec_reply_fini(&reply);
		return code;
	}
	if (reply.nproducts != n) {
		code = status_set(status, INVENTORY_INTERNAL,
		    "%s: %zu products for %zu ids", CODEC_MALFORMED,
		    reply.nproducts, n);
		codec_reply_fini(&reply);
		return code;
	}
	*out = reply.products; /* the caller's now */
	return INVENTORY_OK;
}

/* 1 if s is a UUID in its canonical text form (either case): 36
 * characters, hex digits with hyphens at 8, 13, 18 and 23.  The server
 * judges the rest (it answers NOT_FOUND for a well-formed unknown id). */
static int
uuid_valid(const char *s)
{
	static const char hex[] = "0123456789abcdefABCDEF";

	if (s == NULL || strlen(s) != INVENTORY_ID_LEN)
		return 0;
	for (size_t i = 0; i < INVENTORY_ID_LEN; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return 0;
		} else if (s[i] == '\0' || strchr(hex, s[i]) == NULL) {
			return 0;
		}
	}
	return 1;
}

/* The largest stock, delta and quantity the contract allows. */
#define CLIENT_INT32_MAX ((int64_t)INVENTORY_STOCK_MAX)

inventory_code
inventory_adjust_stock(inventory_client *c, const char *id, int64_t delta,
    int64_t expected_version, const inventory_call_opts *opts,
    inventory_product **out, inventory_status *status)
{
	struct codec_request req = { .method = CODEC_ADJUST_STOCK };
	inventory_code       code;

	if ((code = call_check(c, opts, out, status)) != INVENTORY_OK)
		return code;
	if (!uuid_valid(id))
		return status_set(
		    status, INVENTORY_INVALID_ARGUMENT, "id must be a UUID");
	if (delta == 0 || delta < -CLIENT_INT32_MAX ||
	    delta > CLIENT_INT32_MAX)
		return status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "delta must be non-zero and within +-2147483647, not "
		    "%lld",
		    (long long)delta);
	if (expected_version < 0)
		return status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "expected_version must be 0 (any) or >= 1, not %lld",
		    (long long)expected_version);
	req.u.adjust.id               = id;
	req.u.adjust.delta            = delta;
	req.u.adjust.expected_version = expected_version;
	return client_call_one(c, &req, opts, out, status);
}

/* Check the items of a reservation; INVALID_ARGUMENT (in status) names
 * the first bad field. */
static inventory_code
reserve_check(
    const inventory_reserve_item *items, size_t n, inventory_status *status)
{
	if (items == NULL || n == 0 || n > INVENTORY_RESERVE_MAX)
		return status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "items: 1..%d, not %zu", INVENTORY_RESERVE_MAX,
		    items == NULL ? (size_t)0 : n);
	for (size_t i = 0; i < n; i++) {
		const inventory_reserve_item *it = &items[i];

		if (!uuid_valid(it->id))
			return status_set(status, INVENTORY_INVALID_ARGUMENT,
			    "items[%zu].id must be a UUID", i);
		if (it->quantity < 0 || it->quantity > CLIENT_INT32_MAX)
			return status_set(status, INVENTORY_INVALID_ARGUMENT,
			    "items[%zu].quantity must be 1..2147483647 (or 0 "
			    "to set the stock), not %lld",
			    i, (long long)it->quantity);
		if (it->quantity > 0 &&
		    (it->expected_version != 0 || it->stock != 0))
			return status_set(status, INVENTORY_INVALID_ARGUMENT,
			    "items[%zu]: a take (quantity > 0) has no "
			    "expected_version or stock",
			    i);
		if (it->quantity == 0 && it->expected_version < 1)
			return status_set(status, INVENTORY_INVALID_ARGUMENT,
			    "items[%zu].expected_version must be >= 1 to set "
			    "the stock, not %lld",
			    i, (long long)it->expected_version);
		if (it->quantity == 0 &&
		    (it->stock < 0 || it->stock > CLIENT_INT32_MAX))
			return status_set(status, INVENTORY_INVALID_ARGUMENT,
			    "items[%zu].stock must be 0..2147483647, not %lld",
			    i, (long long)it->stock);
		for (size_t j = 0; j < i; j++)
			if (strcasecmp(items[j].id, it->id) == 0)
				return status_set(status,
				    INVENTORY_INVALID_ARGUMENT,
				    "items[%zu].id repeats items[%zu].id", i,
				    j);
	}
	return INVENTORY_OK;
}

inventory_code
inventory_reserve(inventory_client *c, const inventory_reserve_item *items,
    size_t n, const inventory_call_opts *opts, inventory_product **out,
    inventory_status *status, inventory_item_error **errors, size_t *nerrors)
{
	struct codec_request req = { .method = CODEC_RESERVE_STOCK };
	struct codec_reply   reply;
	inventory_code       code;

	if (errors != NULL)
		*errors = NULL;
	if (nerrors != NULL)
		*nerrors = 0;
	if ((code = call_check(c, opts, out, status)) != INVENTORY_OK)
		return code;
	if ((code = reserve_check(items, n, status)) != INVENTORY_OK)
		return code;
	/* client_call() always sends a request id (opts' or a fresh one),
	 * which is what makes a resend after an unknown outcome safe. */
	req.u.reserve.items = items;
	req.u.reserve.n     = n;
	code                = client_call(c, &req, opts, &reply, status);
	if (code == INVENTORY_OK && reply.nproducts != n) {
		code = status_set(status, INVENTORY_INTERNAL,
		    "%s: %zu products for %zu items", CODEC_MALFORMED,
		    reply.nproducts, n);
	}
	for (size_t i = 0; i < reply.nitems && code != INVENTORY_OK; i++) {
		if (reply.items[i].index >= n) {
			code = status_set(status, INVENTORY_INTERNAL,
			    "%s: item error for item %zu of %zu",
			    CODEC_MALFORMED, reply.items[i].index, n);
			free(reply.items);
			reply.items  = NULL;
			reply.nitems = 0;
		}
	}
	if (code == INVENTORY_OK) {
		*out           = reply.products; /* the caller's now */
		reply.products = NULL;
	} else if (errors != NULL && reply.nitems > 0) {
		*errors     = reply.items; /* the caller's now */
		reply.items = NULL;
		if (nerrors != NULL)
			*nerrors = reply.nitems;
	}
	codec_reply_fini(&reply);
	return code;
}

inventory_code
inventory_list_products(inventory_client *c, int page_size,
    const char *page_token, const inventory_call_opts *opts,
    inventory_product **out, size_t *n, char **next_page_token,
    inventory_status *status)
{
	struct codec_request req = { .method = CODEC_LIST_PRODUCTS };
	struct codec_reply   reply;
	inventory_code       code;

	if ((code = call_check(c, opts, out, status)) != INVENTORY_OK)
		return code;
	if (n == NULL || next_page_token == NULL)
		return status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "n and next_page_token must not be NULL");
	if (page_size < 0)
		return status_set(status, INVENTORY_INVALID_ARGUMENT,
		    "page_size must not be negative, not %d", page_size);
	req.u.list.page_size  = page_size;
	req.u.list.page_token = page_token;
	if ((code = client_call(c, &req, opts, &reply, status)) !=
	    INVENTORY_OK) {
		codec_reply_fini(&reply);
		return code;
	}
	*out             = reply.products; /* the caller's now */
	*n               = reply.nproducts;
	*next_page_token = reply.next_page_token;
	return INVENTORY_OK;
}
