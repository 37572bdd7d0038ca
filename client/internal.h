/* SPDX-License-Identifier: MIT */
/*
 * internal: what the files of libinventory share, private to the library.
 *
 * The handle (struct inventory_client) and one pending call (struct call)
 * are defined here so that each concern keeps its own file: dial.c (TLS
 * and dialling), handle.c (open, close, options), pump.c (the queue, the
 * frames, the deadline timer, cancellation: the only file that moves
 * calls and frames), complete.c (turning a reply into an inventory_result
 * and running or queueing the callback; the event-loop queue), rpc.c (the
 * RPC wrappers, asynchronous and synchronous), retry.c and retry_async.c,
 * watch.c (a probe per server URL).  Only dial.c, handle.c, pump.c,
 * watch.c and tls_diag.c speak nng.
 *
 * Invariants: every call is on the heap, owned by the library from its
 * start until its callback has returned; while pending it is in the
 * handle's id table and deadline list and in exactly one of the send
 * queue or a frame (an RPC) or neither (a sleep or a retry helper).  The
 * one who takes it out of them, under c->mtx, owns its completion: a
 * frame's reply, its deadline, a cancellation, or close.  Callbacks never
 * run under c->mtx.
 */
#ifndef INVENTORY_CLIENT_INTERNAL_H
#define INVENTORY_CLIENT_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include <inventory/client.h>

#include "codec.h"
#include "retry_budget.h"

#define CLIENT_TIMEOUT_MS 5000 /* default per-call timeout */

enum call_kind {
	CALL_RPC,   /* a request: queued, then carried by a frame */
	CALL_SLEEP, /* a back-off: only waits for its deadline (OK then) */
	CALL_OP,    /* a helper's handle: only in the id table, cancelled by
	             * its cancel hook */
};

enum call_state {
	CALL_QUEUED, /* RPC in the send queue */
	CALL_SENT,   /* RPC in a frame in flight, at f->calls[index] */
	CALL_WAIT,   /* SLEEP or OP: pending, in no queue */
	CALL_DONE,   /* taken out: its owner completes it */
};

struct frame;
struct call;

/* Completion hook: called once, outside every lock, with the outcome. */
typedef void (*call_fn)(struct call *call);

/* One pending call.  For an RPC the encoded Request envelope (without
 * timeout_ms, stamped when the frame leaves) follows the struct. */
struct call {
	struct call      *prev, *next;   /* send queue; completion lists */
	struct call      *dprev, *dnext; /* deadline list, earliest first */
	inventory_client *c;
	enum call_kind    kind;
	enum call_state   state;  /* guarded by c->mtx */
	inventory_call_id id;     /* in c's id table */
	enum codec_method method; /* how to decode the reply */
	char              request_id[INVENTORY_REQUEST_ID_MAX + 1];
	int               timeout_ms;  /* the budget, for messages */
	int64_t           deadline_ns; /* CLOCK_MONOTONIC; 0: none (OP) */
	uint32_t          send_ms;     /* timeout stamped into the frame */
	struct frame     *frame;       /* SENT: carried by */
	size_t            index;       /* ... at this position */
	size_t            shared;      /* calls in that frame (0: unsent) */
	size_t            expect_n;    /* products an OK must hold */
	struct waiter    *waiter;      /* a synchronous caller's: complete
	                                * in its thread; NULL: as the
	                                * handle's mode says */
	struct codec_reply reply;      /* the outcome, once DONE */
	call_fn            done;       /* the owner's completion */
	inventory_callback cb;         /* the caller's, for rpc.c */
	void              *arg;        /* cb's (RPC, SLEEP); the helper's
	                                * state (OP) */
	void             *cb_arg;      /* OP: cb's argument */
	struct call      *parent;      /* a helper's step: its OP call */
	int               cancelled;   /* OP: cancel asked (under c->mtx) */
	inventory_call_id child;       /* OP: its step in progress */
	size_t            req_len;     /* bytes of req */
	uint8_t          *req;         /* the encoded envelope (after the
	                                * struct) */
};

/* A frame slot: one context + aio, driven by frame_cb() (pump.c). */
struct frame {
	inventory_client *c;
	nng_ctx           ctx;
	nng_aio          *aio;         /* completion callback frame_cb */
	struct frame     *next_free;   /* in the pool while idle */
	struct frame     *next_all;    /* every slot, for close */
	struct frame     *next_send;   /* built, waiting to be sent */
	nng_msg          *msg;         /* built, not yet handed to nng */
	int               sending;     /* send not completed yet */
	int               busy;        /* out of the pool */
	int64_t           deadline_ns; /* latest deadline of its calls */
	size_t            ncalls;      /* calls it carries */
	struct call     **calls;       /* [max_batch]; NULL: left */
};

/* A synchronous caller waiting for its call (complete.c): the
 * completions of its call (and of a helper's steps) are handed to it
 * and run in its thread, as they ran before calls were asynchronous. */
struct waiter {
	pthread_mutex_t  mtx;
	pthread_cond_t   cv;
	struct call     *head, *tail; /* completions to run, in order */
	int              done;        /* r is set */
	inventory_result r;           /* the outcome, taken from the
	                               * callback */
};

/* The deadline timer's state (pump.c). */
enum timer_state {
	TIMER_IDLE,   /* nothing armed */
	TIMER_ARMED,  /* sleeping until timer_at_ns */
	TIMER_FIRING, /* its callback runs: it re-arms by itself */
};

struct inventory_client {
	nng_socket       sock;       /* REQ socket; dialers per URL */
	atomic_int       timeout_ms; /* default per-call timeout, > 0 */
	int              coalesce;   /* 0: one call per frame */
	size_t           max_batch;  /* calls per frame, >= 1 */
	size_t           max_frames; /* slots at most, >= 1 */
	int              loop_mode;  /* INVENTORY_COMPLETE_LOOP */
	pthread_mutex_t  mtx;        /* guards everything below */
	struct call     *qhead;      /* queued calls, oldest first */
	struct call     *qtail;
	struct call     *dhead; /* pending, by deadline */
	struct call     *dtail;
	struct frame    *free_frames; /* idle slots, LIFO */
	struct frame    *all_frames;  /* every slot */
	size_t           nframes;     /* slots created */
	size_t           nidle;       /* slots in free_frames */
	pthread_cond_t   idle_cv;     /* close waits here for nidle */
	int              closing;     /* close started: start nothing */
	nng_aio         *timer;       /* the deadline timer */
	enum timer_state timer_state;
	int64_t          timer_at_ns; /* ARMED: when it fires */
	struct call    **slots;       /* id table: index -> call */
	uint32_t        *slot_gen;    /* ... generation of each index */
	uint32_t        *slot_free;   /* free indices, a stack */
	size_t           nslots;      /* capacity */
	size_t           nfree;       /* entries in slot_free */
	atomic_size_t    npending;    /* calls started, callback not run */
	/* The event-loop queue (complete.c), its own lock so that the loop
	 * never waits behind the frame pump. */
	pthread_mutex_t     cq_mtx;
	struct call        *cq_head, *cq_tail; /* completions to run */
	int                 efd;               /* eventfd; -1 in THREAD mode */
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
	/* Which URLs still answer (watch.h), or NULL: no probes. */
	struct watch *watch;
};

/* ---- dial.c ---- */
int  dial_url(inventory_client *c, const char *url, int n,
     const inventory_client_opts *o);
void dial_start(inventory_client *c);
void dial_settle(inventory_client *c);
void dial_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg);
void dial_socket_init(inventory_client *c, size_t recv_max);

/* ---- pump.c ---- */
int64_t client_now_ns(void);
/* Allocate a call of kind with room for req_len bytes of request. */
struct call *call_alloc(
    inventory_client *c, enum call_kind kind, size_t req_len);
/* Start call (filled in by the caller): register it, queue an RPC and
 * send what can be sent.  Returns OK, or CANCELLED when the handle is
 * closing / RESOURCE_EXHAUSTED (the call is then freed, never done). */
inventory_code pump_start(inventory_client *c, struct call *call);
/* Take a pending call out of everything and complete it with
 * CANCELLED (an OP: cancel its step, which ends it).  0, or -1 if it was
 * not pending. */
int pump_cancel(inventory_client *c, inventory_call_id id);
/* An OP ends: take it out of the id table and complete it. */
void pump_op_finish(inventory_client *c, struct call *op);
/* Close: cancel every pending call and frame; wait for the frames. */
void pump_shutdown(inventory_client *c);
int  pump_init(inventory_client *c);
void pump_fini(inventory_client *c);
/* Set call's outcome to a failure of the client's own. */
void call_fail(struct call *call, inventory_code code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- complete.c ---- */
/* The call is decided (call->reply): run call->done now or queue it. */
void complete_call(inventory_client *c, struct call *call);
/* Run every completion in the list linked by next (pump.c's batches). */
void complete_list(inventory_client *c, struct call *list);
int  complete_init(inventory_client *c);
void complete_fini(inventory_client *c);
/* Release a call after its completion ran. */
void call_free(struct call *call);
void waiter_init(struct waiter *w);
/* The callback of a synchronous call: hands r to the waiter (arg). */
void waiter_cb(inventory_result *r, void *arg);
/* Run w's completions in this thread until its result is set, then
 * move a failure's status into *status (may be NULL); the rest stays in
 * w->r.  Destroys w's mutex and condition variable. */
inventory_code waiter_wait(
    inventory_client *c, struct waiter *w, inventory_status *status);
/* Destroy a waiter whose call never started. */
void waiter_fini(struct waiter *w);

/* ---- handle.c ---- */
inventory_code client_status_set(inventory_status *status, inventory_code code,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* INVENTORY_CLIENT_INTERNAL_H */
