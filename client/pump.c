/* SPDX-License-Identifier: MIT */
/*
 * pump: the frame pump of a libinventory handle: the send queue, the
 * frame slots, the deadline timer and cancellation; the only file that
 * moves calls between them.
 *
 * Calls are coalesced by group commit, with no thread of our own: a call
 * (on the heap, its Request envelope encoded once by rpc.c) is queued,
 * and a frame slot (one nng context and one aio whose completion
 * callback drives it) takes everything queued, up to max_batch calls and
 * CLIENT_FRAME_BYTES, and sends it: one plain Request when it carries one
 * call (always so without coalescing), else a batch frame whose entries
 * are the calls' bytes as they are.  Each call's timeout is stamped as it
 * leaves (codec_timeout_field_put): what is left of its deadline, so time
 * spent queued counts.  When the reply arrives the callback hands every
 * call its answer, by position, sends what queued meanwhile on the same
 * slot (or returns it to the pool), and only then runs the completions.
 * A batch is whatever arrived while the previous frames were in flight;
 * nothing waits for one to fill.
 *
 * Deadlines: every pending call with a deadline is in one list sorted by
 * deadline (insertion from the tail: with one timeout per handle calls
 * arrive in deadline order, so it is O(1) in practice), and one nng
 * timer (an aio slept with nng_sleep_aio) is armed at its head.  When it
 * fires it ends every call whose deadline passed: a queued one is
 * UNAVAILABLE (never sent), one in a frame DEADLINE_EXCEEDED (or
 * UNAVAILABLE if no server took the frame yet), a back-off sleep OK.  A
 * frame's own aio timeout is the latest deadline among its calls.
 *
 * Slots are created on demand up to max_frames and freed only at close:
 * freeing an aio whose timeout nng 1.5.2's expiry thread may still be
 * handling crashed under many timeouts.  A REQ context reused after a
 * frame ended early simply abandons the old request; a late reply to it
 * is discarded by nng.  nng's timer-driven resend is off in practice on
 * every context, but its resend on pipe loss is on (the request id makes
 * it harmless), so a connection that drops under a frame moves the frame
 * to another connection.
 *
 * Invariants: c->mtx guards the queue, the frames, the deadline list, the
 * id table and every call's state; it is held for list surgery, frame
 * building (a memcpy of the queued bytes) and arming the timer, never
 * across a callback.  Whoever takes a call out (call_take_locked) owns
 * its completion.  While calls are queued every slot is in flight (each
 * start and each frame's end runs the pump), so a queued call is always
 * picked up by a completing frame.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "internal.h"
#include "watch.h"

/* A coalesced frame stays under this many bytes, well below the server's
 * default request limit (64 KiB), so coalescing never turns calls that
 * would pass alone into a frame refused as too large. */
#define CLIENT_FRAME_BYTES ((size_t)32 * 1024)
/* nng's timer-driven resend of a frame: one day, i.e. never in practice;
 * only its resend on a lost connection matters (frame_create_locked). */
#define CLIENT_RESEND_MS ((nng_duration)(24 * 3600 * 1000))
/* First capacity of the id table; it doubles as needed. */
#define CLIENT_SLOTS_INIT 64

int64_t
client_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Milliseconds from now until deadline_ns, rounded up, at least 1 (nng
 * treats 0 as "expire at once", and the server 0 as "already expired"). */
static int64_t
ms_until(int64_t deadline_ns)
{
	int64_t left = deadline_ns - client_now_ns();

	if (left <= 0)
		return 1;
	left = (left + 999999) / 1000000;
	return left > INT32_MAX ? INT32_MAX : left;
}

void
call_fail(struct call *call, inventory_code code, const char *fmt, ...)
{
	va_list ap;

	codec_reply_fini(&call->reply);
	memset(&call->reply, 0, sizeof(call->reply));
	call->reply.code = code;
	va_start(ap, fmt);
	vsnprintf(call->reply.message, sizeof(call->reply.message), fmt, ap);
	va_end(ap);
}

struct call *
call_alloc(inventory_client *c, enum call_kind kind, size_t req_len)
{
	struct call *call;

	if ((call = calloc(1, sizeof(*call) + req_len)) == NULL)
		return NULL;
	call->c       = c;
	call->kind    = kind;
	call->req     = (uint8_t *)(call + 1);
	call->req_len = req_len;
	return call;
}

/* ---- the id table ------------------------------------------------- */

/* Under c->mtx: give call an id.  0, or -1 when out of memory. */
static int
slot_add_locked(inventory_client *c, struct call *call)
{
	uint32_t idx;

	if (c->nfree == 0) {
		size_t cap = c->nslots ? c->nslots * 2 : CLIENT_SLOTS_INIT;
		struct call **s;
		uint32_t     *g, *f;

		if (cap > UINT32_MAX - 1)
			return -1;
		/* NOLINTNEXTLINE(bugprone-sizeof-expression): pointers */
		if ((s = realloc(c->slots, cap * sizeof(*s))) == NULL)
			return -1;
		c->slots = s;
		if ((g = realloc(c->slot_gen, cap * sizeof(*g))) == NULL)
			return -1;
		c->slot_gen = g;
		if ((f = realloc(c->slot_free, cap * sizeof(*f))) == NULL)
			return -1;
		c->slot_free = f;
		/* New indices, the lowest on top of the stack. */
		for (size_t i = cap; i > c->nslots; i--) {
			c->slots[i - 1]          = NULL;
			c->slot_gen[i - 1]       = 1;
			c->slot_free[c->nfree++] = (uint32_t)(i - 1);
		}
		c->nslots = cap;
	}
	idx           = c->slot_free[--c->nfree];
	c->slots[idx] = call;
	/* The generation makes a stale id miss: ids are not reused. */
	call->id = ((uint64_t)c->slot_gen[idx] << 32) | (uint64_t)(idx + 1);
	return 0;
}

/* Under c->mtx: call gives its id back. */
static void
slot_del_locked(inventory_client *c, struct call *call)
{
	uint32_t idx = (uint32_t)(call->id & 0xffffffffu) - 1;

	c->slots[idx] = NULL;
	c->slot_gen[idx]++;
	c->slot_free[c->nfree++] = idx;
}

/* Under c->mtx: the pending call with this id, or NULL. */
static struct call *
slot_find_locked(inventory_client *c, inventory_call_id id)
{
	uint64_t idx = id & 0xffffffffu;

	if (idx == 0 || idx > c->nslots)
		return NULL;
	if (c->slots[idx - 1] == NULL || c->slots[idx - 1]->id != id)
		return NULL;
	return c->slots[idx - 1];
}

/* ---- the send queue and the deadline list -------------------------- */

/* Under c->mtx: append call to the send queue. */
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

/* Under c->mtx: take call out of the send queue. */
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

/* Under c->mtx: insert call in the deadline list, after every call due
 * no later than it (searching from the tail). */
static void
dl_insert_locked(inventory_client *c, struct call *call)
{
	struct call *at = c->dtail;

	while (at != NULL && at->deadline_ns > call->deadline_ns)
		at = at->dprev;
	call->dprev = at;
	call->dnext = at != NULL ? at->dnext : c->dhead;
	if (call->dnext != NULL)
		call->dnext->dprev = call;
	else
		c->dtail = call;
	if (at != NULL)
		at->dnext = call;
	else
		c->dhead = call;
}

/* Under c->mtx: take call out of the deadline list. */
static void
dl_remove_locked(inventory_client *c, struct call *call)
{
	if (call->dprev != NULL)
		call->dprev->dnext = call->dnext;
	else
		c->dhead = call->dnext;
	if (call->dnext != NULL)
		call->dnext->dprev = call->dprev;
	else
		c->dtail = call->dprev;
	call->dprev = call->dnext = NULL;
}

/* Under c->mtx: take a pending call out of everything; the caller now
 * owns its completion (sets its reply, then completes it unlocked). */
static void
call_take_locked(inventory_client *c, struct call *call)
{
	if (call->state == CALL_QUEUED)
		queue_remove(c, call);
	else if (call->state == CALL_SENT)
		call->frame->calls[call->index] = NULL;
	if (call->deadline_ns != 0)
		dl_remove_locked(c, call);
	slot_del_locked(c, call);
	call->state = CALL_DONE;
}

/* Append call to a completion list (linked by next, kept in order). */
static void
list_append(struct call **head, struct call **tail, struct call *call)
{
	call->next = NULL;
	if (*tail != NULL)
		(*tail)->next = call;
	else
		*head = call;
	*tail = call;
}

/* ---- the deadline timer ------------------------------------------- */

/* Under c->mtx: make the timer fire by the head of the deadline list.
 * Returns 1 when the armed timer fires too late and must be cancelled
 * (after unlocking: its callback then re-arms it). */
static int
timer_arm_locked(inventory_client *c)
{
	if (c->dhead == NULL || c->closing)
		return 0;
	switch (c->timer_state) {
	case TIMER_IDLE:
		c->timer_state = TIMER_ARMED;
		c->timer_at_ns = c->dhead->deadline_ns;
		nng_sleep_aio(
		    (nng_duration)ms_until(c->timer_at_ns), c->timer);
		return 0;
	case TIMER_ARMED:
		return c->dhead->deadline_ns < c->timer_at_ns;
	case TIMER_FIRING:
		return 0; /* its callback re-arms at the head */
	}
	return 0;
}

/* Under c->mtx: end call, whose deadline passed. */
static void
call_expire_locked(inventory_client *c, struct call *call)
{
	enum call_state was = call->state;
	struct frame   *f   = call->frame;

	call_take_locked(c, call);
	if (call->kind == CALL_SLEEP) {
		call->reply.code = INVENTORY_OK;
	} else if (was == CALL_QUEUED) {
		call_fail(call, INVENTORY_UNAVAILABLE,
		    "not sent within %d ms: no server took it",
		    call->timeout_ms);
	} else if (f->sending) {
		call_fail(call, INVENTORY_UNAVAILABLE,
		    "no server connected within %d ms", call->timeout_ms);
	} else {
		call_fail(call, INVENTORY_DEADLINE_EXCEEDED,
		    "no reply within %d ms", call->timeout_ms);
	}
}

/* The timer fired (or was cancelled to be re-armed earlier): end every
 * call that is due, complete them, then re-arm at the next deadline.  It
 * stays FIRING until then, so nobody else starts the aio while its
 * callback runs. */
static void
timer_cb(void *arg)
{
	inventory_client *c    = arg;
	struct call      *head = NULL, *tail = NULL, *call;
	int64_t           now;

	pthread_mutex_lock(&c->mtx);
	c->timer_state = TIMER_FIRING;
	now            = client_now_ns();
	while ((call = c->dhead) != NULL && call->deadline_ns <= now) {
		call_expire_locked(c, call);
		list_append(&head, &tail, call);
	}
	pthread_mutex_unlock(&c->mtx);
	complete_list(c, head);
	pthread_mutex_lock(&c->mtx);
	c->timer_state = TIMER_IDLE;
	(void)timer_arm_locked(c); /* IDLE: never asks for a cancel */
	pthread_mutex_unlock(&c->mtx);
}

/* ---- frames ------------------------------------------------------- */

static void frame_cb(void *arg);

/* Under c->mtx: return f to the pool (and tell a waiting close). */
static void
frame_put_locked(inventory_client *c, struct frame *f)
{
	f->busy        = 0;
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

/* The timeout a call carries when it leaves now: what is left of its
 * deadline, at least 1 ms. */
static uint32_t
call_send_ms(const struct call *call)
{
	return (uint32_t)ms_until(call->deadline_ns);
}

/* Under c->mtx: move queued calls into the idle slot f and build its
 * message.  Returns 0, or -1 when no message could be allocated (the
 * calls taken then failed with RESOURCE_EXHAUSTED and were appended to
 * the completion list; f stays idle). */
static int
frame_fill_locked(inventory_client *c, struct frame *f, struct call **dhead,
    struct call **dtail)
{
	struct call *call;
	size_t       n = 0, bytes = 0, off = 0;
	int64_t      deadline = 0;
	uint8_t     *body;

	/* The oldest calls first, as many as fit. */
	for (call = c->qhead; call != NULL && n < c->max_batch;
	     call = call->next) {
		size_t e;

		call->send_ms = call_send_ms(call);
		e             = codec_frame_entry_size(
		                call->req_len + codec_timeout_field_size(call->send_ms));
		if (n > 0 && bytes + e > CLIENT_FRAME_BYTES)
			break;
		bytes += e;
		n++;
	}
	if (n == 1) /* alone: a plain Request */
		bytes = c->qhead->req_len +
		        codec_timeout_field_size(c->qhead->send_ms);
	/* The token travels once per frame, after the call(s): in a batch
	 * the server applies the frame's token to every entry. */
	bytes += c->token_field_len;
	if (nng_msg_alloc(&f->msg, bytes) != 0) {
		f->msg = NULL;
		for (size_t i = 0; i < n; i++) {
			call = c->qhead;
			call_take_locked(c, call);
			call_fail(call, INVENTORY_RESOURCE_EXHAUSTED,
			    "cannot allocate a request frame");
			list_append(dhead, dtail, call);
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
			off +=
			    codec_timeout_field_put(body + off, call->send_ms);
		} else {
			off += codec_frame_entry_put_timed(body + off,
			    call->req, call->req_len, call->send_ms);
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
 * pushed on *tosend, to be sent by frames_send() after unlocking; calls
 * that failed here are appended to the completion list. */
static void
pump_locked(inventory_client *c, struct frame *own, struct frame **tosend,
    struct call **dhead, struct call **dtail)
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

				call_take_locked(c, call);
				call_fail(call, INVENTORY_RESOURCE_EXHAUSTED,
				    "cannot open an nng context");
				list_append(dhead, dtail, call);
			}
		}
		if (f == NULL)
			break; /* every slot is in flight: they will pump */
		f->busy = 1;
		if (frame_fill_locked(c, f, dhead, dtail) != 0) {
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
		nng_aio_set_timeout(
		    f->aio, (nng_duration)ms_until(f->deadline_ns));
		nng_aio_set_msg(f->aio, f->msg);
		f->msg = NULL;
		nng_ctx_send(f->ctx, f->aio);
	}
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

/* Write the reply of each call of the list (the frame's live calls, n in
 * the frame) from the frame's outcome: rv the nng result, msg the reply
 * when rv is 0.  Outside the mutex: the calls are taken, ours alone. */
static void
frame_deliver(struct call *list, size_t n, int rv, int sent, nng_msg *msg)
{
	struct codec_frame_reply fr;
	struct codec_reply       whole;
	struct call             *call;

	if (rv != 0) {
		for (call = list; call != NULL; call = call->next) {
			if (!sent && rv == NNG_ETIMEDOUT)
				call_fail(call, INVENTORY_UNAVAILABLE,
				    "no server connected within %d ms",
				    call->timeout_ms);
			else if (rv == NNG_ETIMEDOUT)
				call_fail(call, INVENTORY_DEADLINE_EXCEEDED,
				    "no reply within %d ms", call->timeout_ms);
			else if (rv == NNG_ECANCELED || rv == NNG_ECLOSED)
				call_fail(call, INVENTORY_CANCELLED,
				    "the handle was closed");
			else
				call_fail(call, code_from_nng(rv), "%s: %s",
				    sent ? "receive failed" : "send failed",
				    nng_strerror(rv));
		}
		return;
	}
	if (n == 1) {
		/* A single frame is a plain Request; REQ/REP matched it. */
		if (list != NULL)
			(void)codec_reply_decode(list->method,
			    nng_msg_body(msg), nng_msg_len(msg), &list->reply);
		return;
	}
	if (codec_frame_reply_decode(nng_msg_body(msg), nng_msg_len(msg), n,
	        &fr, &whole) != INVENTORY_OK) {
		for (call = list; call != NULL; call = call->next)
			call->reply = whole;
		return;
	}
	for (call = list; call != NULL; call = call->next)
		(void)codec_frame_reply_entry(&fr, call->index, call->method,
		    call->request_id, &call->reply);
	codec_frame_reply_fini(&fr);
}

/* The frame is over (reply, or failure rv): take its live calls, write
 * their replies, send what queued meanwhile on the same slot (or return
 * it to the pool), and only then run the completions. */
static void
frame_finish(
    inventory_client *c, struct frame *f, int rv, int sent, nng_msg *msg)
{
	struct frame *tosend = NULL;
	struct call  *head = NULL, *tail = NULL;
	struct call  *fhead = NULL, *ftail = NULL;
	size_t        n = f->ncalls;

	pthread_mutex_lock(&c->mtx);
	for (size_t i = 0; i < n; i++) {
		struct call *call = f->calls[i];

		if (call != NULL) {
			call_take_locked(c, call);
			list_append(&head, &tail, call);
		}
	}
	pthread_mutex_unlock(&c->mtx);

	frame_deliver(head, n, rv, sent, msg);
	if (msg != NULL)
		nng_msg_free(msg);

	pthread_mutex_lock(&c->mtx);
	f->ncalls = 0;
	pump_locked(c, f, &tosend, &fhead, &ftail);
	pthread_mutex_unlock(&c->mtx);
	frames_send(tosend);
	complete_list(c, head);
	complete_list(c, fhead);
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
			pthread_mutex_lock(&c->mtx);
			f->sending = 0;
			pthread_mutex_unlock(&c->mtx);
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
		nng_aio_set_timeout(
		    f->aio, (nng_duration)ms_until(f->deadline_ns));
		nng_ctx_recv(f->ctx, f->aio);
		return;
	}
	msg = rv == 0 ? nng_aio_get_msg(f->aio) : NULL;
	if (msg != NULL)
		watch_heard(c, nng_msg_get_pipe(msg));
	frame_finish(c, f, rv, 1, msg);
}

/* ---- starting, cancelling, closing ---------------------------------- */

inventory_code
pump_start(inventory_client *c, struct call *call)
{
	struct frame *tosend = NULL;
	struct call  *head = NULL, *tail = NULL;
	int           cancel;

	if (call->kind == CALL_RPC)
		dial_start(c);
	pthread_mutex_lock(&c->mtx);
	if (c->closing || (call->parent != NULL && call->parent->cancelled)) {
		pthread_mutex_unlock(&c->mtx);
		return INVENTORY_CANCELLED;
	}
	if (slot_add_locked(c, call) != 0) {
		pthread_mutex_unlock(&c->mtx);
		return INVENTORY_RESOURCE_EXHAUSTED;
	}
	atomic_fetch_add(&c->npending, 1);
	if (call->parent != NULL)
		call->parent->child = call->id;
	if (call->deadline_ns != 0)
		dl_insert_locked(c, call);
	if (call->kind == CALL_RPC) {
		queue_push(c, call);
		pump_locked(c, NULL, &tosend, &head, &tail);
	} else {
		call->state = CALL_WAIT;
	}
	cancel = timer_arm_locked(c);
	pthread_mutex_unlock(&c->mtx);
	if (cancel)
		nng_aio_cancel(c->timer);
	frames_send(tosend);
	complete_list(c, head);
	return INVENTORY_OK;
}

int
pump_cancel(inventory_client *c, inventory_call_id id)
{
	struct call      *call;
	inventory_call_id child;

	pthread_mutex_lock(&c->mtx);
	if ((call = slot_find_locked(c, id)) == NULL ||
	    call->state == CALL_DONE) {
		pthread_mutex_unlock(&c->mtx);
		return -1;
	}
	if (call->kind == CALL_OP) {
		/* The helper ends by itself once its step is cancelled;
		 * between steps it sees `cancelled` when it starts the next
		 * one (pump_start refuses it). */
		call->cancelled = 1;
		child           = call->child;
		pthread_mutex_unlock(&c->mtx);
		if (child != 0)
			(void)pump_cancel(c, child);
		return 0;
	}
	call_take_locked(c, call);
	pthread_mutex_unlock(&c->mtx);
	call_fail(call, INVENTORY_CANCELLED, "cancelled by the caller");
	complete_call(c, call);
	return 0;
}

void
pump_op_finish(inventory_client *c, struct call *op)
{
	pthread_mutex_lock(&c->mtx);
	if (op->state != CALL_DONE)
		call_take_locked(c, op);
	pthread_mutex_unlock(&c->mtx);
	complete_call(c, op);
}

void
pump_shutdown(inventory_client *c)
{
	struct call  *head = NULL, *tail = NULL, *call;
	struct frame *f;

	pthread_mutex_lock(&c->mtx);
	c->closing = 1;
	for (size_t i = 0; i < c->nslots; i++) {
		call = c->slots[i];
		if (call == NULL || call->kind == CALL_OP)
			continue; /* a helper ends when its step does */
		call_take_locked(c, call);
		call_fail(call, INVENTORY_CANCELLED, "the handle was closed");
		list_append(&head, &tail, call);
	}
	pthread_mutex_unlock(&c->mtx);
	complete_list(c, head);
	/* Frames in flight now carry no call: end them now rather than at
	 * their deadline.  The slots stay allocated until every callback
	 * has returned them to the pool. */
	for (f = c->all_frames; f != NULL; f = f->next_all)
		nng_aio_cancel(f->aio);
	nng_aio_stop(c->timer);
	pthread_mutex_lock(&c->mtx);
	while (c->nidle < c->nframes)
		pthread_cond_wait(&c->idle_cv, &c->mtx);
	pthread_mutex_unlock(&c->mtx);
	/* In LOOP mode the completions of what was cancelled (and of the
	 * helpers they end) are queued: run them here, as promised.  In
	 * THREAD mode a helper may be between steps on another thread:
	 * wait until every callback has returned. */
	while (atomic_load(&c->npending) > 0) {
		if (inventory_client_process(c) == 0)
			nng_msleep(1);
	}
}

int
pump_init(inventory_client *c)
{
	c->timer_state = TIMER_IDLE;
	return nng_aio_alloc(&c->timer, timer_cb, c) == 0 ? 0 : -1;
}

void
pump_fini(inventory_client *c)
{
	struct frame *f;

	while ((f = c->all_frames) != NULL) {
		c->all_frames = f->next_all;
		nng_aio_free(f->aio);
		if (f->msg != NULL)
			nng_msg_free(f->msg);
		free(f->calls);
		free(f);
	}
	if (c->timer != NULL)
		nng_aio_free(c->timer);
	c->timer = NULL;
	free(c->slots);
	free(c->slot_gen);
	free(c->slot_free);
}
