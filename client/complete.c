/* SPDX-License-Identifier: MIT */
/*
 * complete: where a decided call's completion runs, and the event-loop
 * queue of INVENTORY_COMPLETE_LOOP mode.
 *
 * A synchronous caller's call (and each step of its helper) is handed
 * to the caller's waiter and runs in the caller's thread.  Otherwise, in
 * THREAD mode, the completion runs at once, in the thread that decided
 * the call: an nng callback, the deadline timer, a canceller, or close.  In
 * LOOP mode it is appended to the handle's completion queue and an eventfd is
 * made readable; the loop calls inventory_client_process(), which clears the
 * eventfd, takes the whole queue and runs it in the loop's thread (libpq's and
 * c-ares' way: one descriptor, one function).
 *
 * Invariants: the queue has its own mutex (never held with c->mtx, never
 * across a completion), so the loop never waits behind the frame pump;
 * the eventfd is written only when the queue goes from empty to
 * non-empty and read before the queue is taken, so a completion queued
 * at any moment either is taken now or makes the descriptor readable
 * again.  A call is freed, and leaves the pending count, only after its
 * completion returned.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "internal.h"
#include "tls_diag.h"

void
call_free(struct call *call)
{
	inventory_client *c = call->c;

	codec_reply_fini(&call->reply);
	free(call);
	atomic_fetch_sub(&c->npending, 1);
}

/* Run call's completion and release it. */
static void complete_run(inventory_client *c, struct call *call);

void
waiter_init(struct waiter *w)
{
	memset(w, 0, sizeof(*w));
	pthread_mutex_init(&w->mtx, NULL);
	pthread_cond_init(&w->cv, NULL);
}

void
waiter_fini(struct waiter *w)
{
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mtx);
}

void
waiter_cb(inventory_result *r, void *arg)
{
	struct waiter *w = arg;

	/* Runs in the waiting thread (waiter_wait), which reads done only
	 * under the mutex. */
	pthread_mutex_lock(&w->mtx);
	w->r = *r; /* takes every pointer */
	memset(r, 0, sizeof(*r));
	w->done = 1;
	pthread_mutex_unlock(&w->mtx);
}

inventory_code
waiter_wait(inventory_client *c, struct waiter *w, inventory_status *status)
{
	struct call *call;

	pthread_mutex_lock(&w->mtx);
	while (!w->done) {
		if ((call = w->head) != NULL) {
			if ((w->head = call->next) == NULL)
				w->tail = NULL;
			pthread_mutex_unlock(&w->mtx);
			complete_run(c, call);
			pthread_mutex_lock(&w->mtx);
			continue;
		}
		pthread_cond_wait(&w->cv, &w->mtx);
	}
	pthread_mutex_unlock(&w->mtx);
	waiter_fini(w);
	/* "No server connected" on a tls+tcp:// URL: say why the handshake
	 * fails, if a diagnostic one can tell (tls_diag.h).  Here, in the
	 * synchronous caller's thread, outside every lock; an asynchronous
	 * callback must not block, so only the synchronous calls get it. */
	if (w->r.code == INVENTORY_UNAVAILABLE && c->tls_diag != NULL &&
	    atomic_load(&c->pipes) <= 0)
		tls_diag_annotate(c->tls_diag, w->r.status.message,
		    sizeof(w->r.status.message), atomic_load(&c->timeout_ms));
	if (status != NULL && w->r.code != INVENTORY_OK) {
		inventory_status_fini(status);
		*status = w->r.status; /* takes current */
		memset(&w->r.status, 0, sizeof(w->r.status));
	}
	return w->r.code;
}

static void
complete_run(inventory_client *c, struct call *call)
{
	if (call->kind == CALL_RPC)
		retry_budget_record_shared(
		    &c->budget, call->reply.code, call->shared);
	call->done(call);
	call_free(call);
}

void
complete_call(inventory_client *c, struct call *call)
{
	int      was_empty;
	uint64_t one = 1;

	if (call->waiter != NULL) {
		struct waiter *w = call->waiter;

		/* Everything under w's mutex: once it is released the waiter
		 * may run the call and return. */
		pthread_mutex_lock(&w->mtx);
		call->next = NULL;
		if (w->tail != NULL)
			w->tail->next = call;
		else
			w->head = call;
		w->tail = call;
		pthread_cond_signal(&w->cv);
		pthread_mutex_unlock(&w->mtx);
		return;
	}
	if (!c->loop_mode) {
		complete_run(c, call);
		return;
	}
	pthread_mutex_lock(&c->cq_mtx);
	call->next = NULL;
	was_empty  = c->cq_head == NULL;
	if (c->cq_tail != NULL)
		c->cq_tail->next = call;
	else
		c->cq_head = call;
	c->cq_tail = call;
	pthread_mutex_unlock(&c->cq_mtx);
	/* Can only fail if the counter would overflow: it is read to 0 by
	 * every process, so it never comes close. */
	if (was_empty)
		(void)!write(c->efd, &one, sizeof(one));
}

void
complete_list(inventory_client *c, struct call *list)
{
	while (list != NULL) {
		struct call *call = list;

		list = call->next; /* the completion may reuse it */
		complete_call(c, call);
	}
}

int
inventory_client_fd(inventory_client *c)
{
	return c != NULL ? c->efd : -1;
}

int
inventory_client_process(inventory_client *c)
{
	struct call *list;
	uint64_t     count;
	int          n = 0;

	if (c == NULL || !c->loop_mode)
		return 0;
	/* Clear the descriptor first: whatever is queued after the take
	 * below finds the queue empty and writes it again. */
	while (read(c->efd, &count, sizeof(count)) < 0 && errno == EINTR)
		;
	pthread_mutex_lock(&c->cq_mtx);
	list       = c->cq_head;
	c->cq_head = c->cq_tail = NULL;
	pthread_mutex_unlock(&c->cq_mtx);
	while (list != NULL) {
		struct call *call = list;

		list = call->next;
		complete_run(c, call);
		n++;
	}
	return n;
}

size_t
inventory_client_pending(inventory_client *c)
{
	return c != NULL ? atomic_load(&c->npending) : 0;
}

int
complete_init(inventory_client *c)
{
	pthread_mutex_init(&c->cq_mtx, NULL);
	c->efd = -1;
	if (!c->loop_mode)
		return 0;
	if ((c->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
		pthread_mutex_destroy(&c->cq_mtx);
		return -1;
	}
	return 0;
}

void
complete_fini(inventory_client *c)
{
	if (c->efd >= 0)
		close(c->efd);
	c->efd = -1;
	pthread_mutex_destroy(&c->cq_mtx);
}
