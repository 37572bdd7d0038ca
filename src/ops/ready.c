/* SPDX-License-Identifier: MIT */
/*
 * The readiness thread (see ready.h): probe, publish the verdict under
 * the lock, sleep a second (or until told to stop), again.  The probe
 * itself runs without the lock, so a reader never waits for the database.
 */
#include "ops/ready.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/store.h"

enum {
	READY_INTERVAL_MS = 1000, /* between two probes */
};

struct ready {
	pthread_mutex_t     mtx;      /* guards the fields below */
	pthread_cond_t      cond;     /* stopping */
	bool                stopping; /* ready_stop() was called */
	int                 state;    /* 1 ready, 0 not, -1 unknown */
	int                 db_up;    /* 1 answered, 0 not, -1 unknown */
	char                why[STORE_PROBE_WHY_MAX]; /* the reason */
	struct store_probe *probe;                    /* the thread's only */
	pthread_t           thread;                   /* the probing thread */
};

static void *
ready_main(void *arg)
{
	struct ready           *r = arg;
	char                    why[STORE_PROBE_WHY_MAX];
	struct timespec         ts;
	enum store_probe_result res;

	pthread_mutex_lock(&r->mtx);
	while (!r->stopping) {
		pthread_mutex_unlock(&r->mtx);
		res = store_probe_check(r->probe, why, sizeof(why));
		pthread_mutex_lock(&r->mtx);
		r->state = res == STORE_PROBE_READY ? 1 : 0;
		r->db_up = res == STORE_PROBE_DOWN ? 0 : 1;
		memcpy(r->why, why, sizeof(r->why));

		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += READY_INTERVAL_MS / 1000;
		while (!r->stopping &&
		       pthread_cond_timedwait(&r->cond, &r->mtx, &ts) == 0)
			; /* a spurious wake-up: wait out the second */
	}
	pthread_mutex_unlock(&r->mtx);
	return NULL;
}

int
ready_start(struct ready **out, const char *conninfo)
{
	struct ready      *r;
	pthread_condattr_t ca;

	*out = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL)
		return -1;
	r->state = -1;
	r->db_up = -1;
	snprintf(r->why, sizeof(r->why), "not checked yet");
	if (store_probe_create(&r->probe, conninfo) != 0)
		goto out_free;
	pthread_mutex_init(&r->mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&r->thread, NULL, ready_main, r) != 0)
		goto out_sync;
	*out = r;
	return 0;

out_sync:
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mtx);
	store_probe_destroy(r->probe);
out_free:
	free(r);
	return -1;
}

void
ready_stop(struct ready *r)
{
	if (r == NULL)
		return;
	pthread_mutex_lock(&r->mtx);
	r->stopping = true;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->mtx);
	pthread_join(r->thread, NULL);
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->mtx);
	store_probe_destroy(r->probe);
	free(r);
}

int
ready_get(struct ready *r, char *why, size_t cap, int *db_up)
{
	int state;

	pthread_mutex_lock(&r->mtx);
	state = r->state;
	if (db_up != NULL)
		*db_up = r->db_up;
	snprintf(why, cap, "%s", r->why);
	pthread_mutex_unlock(&r->mtx);
	return state;
}
