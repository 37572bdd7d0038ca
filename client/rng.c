/* SPDX-License-Identifier: MIT */
/*
 * rng: kernel randomness for request ids, a per-thread xorshift64*
 * generator for jitter (see rng.h).
 *
 * Request ids cost no system call per call: each thread draws 128 bits
 * from the kernel once, and its ids are the first 64 bits followed by a
 * counter started at the other 64.  Two threads (or processes, or hosts)
 * share ids only if their 64-bit prefixes collide.  A fork copies the
 * thread's state, so the child would repeat the parent's ids: a fork
 * handler bumps a generation number and every thread redraws when it
 * sees a new one.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "rng.h"

/* This thread's xorshift64* state; 0 means "not seeded yet" (xorshift
 * never reaches 0 from a non-zero seed). */
static _Thread_local uint64_t rng_state;

/* A seed when getrandom(2) fails: time, the state's address (differs per
 * thread) and a splitmix64 finaliser to spread the bits. */
static uint64_t
rng_fallback_seed(void)
{
	struct timespec ts;
	uint64_t        z;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	z = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	z ^= (uint64_t)(uintptr_t)&rng_state;
	z += 0x9E3779B97F4A7C15u;
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
	return z ^ (z >> 31);
}

/* getrandom(2) for all len bytes, retrying on EINTR.  Returns 0 or -1. */
static int
rng_kernel(void *buf, size_t len)
{
	unsigned char *p = buf;

	while (len > 0) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

uint64_t
rng_next(void)
{
	uint64_t x = rng_state;

	if (x == 0) {
		if (rng_kernel(&x, sizeof(x)) != 0 || x == 0)
			x = rng_fallback_seed();
		if (x == 0)
			x = 0x9E3779B97F4A7C15u;
	}
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	rng_state = x;
	return x * 0x2545F4914F6CDD1Du;
}

uint64_t
rng_between0(uint64_t bound)
{
	uint64_t range, limit, r;

	if (bound == UINT64_MAX)
		return rng_next();
	range = bound + 1;
	/* Reject the top partial block so every value is equally likely. */
	limit = UINT64_MAX - UINT64_MAX % range;
	do
		r = rng_next();
	while (r >= limit);
	return r % range;
}

int
rng_fill(void *buf, size_t len)
{
	unsigned char *p = buf;

	if (rng_kernel(buf, len) == 0)
		return 0;
	while (len > 0) {
		uint64_t r = rng_next();
		size_t   n = len < sizeof(r) ? len : sizeof(r);
		memcpy(p, &r, n);
		p += n;
		len -= n;
	}
	return -1;
}

/* Bumped in every child after fork(); 0 is never a live generation. */
static atomic_uint            rng_fork_gen    = 1;
static pthread_once_t         rng_atfork_once = PTHREAD_ONCE_INIT;
static _Thread_local unsigned rng_id_gen; /* 0: not drawn yet */
static _Thread_local uint64_t rng_id_prefix;
static _Thread_local uint64_t rng_id_counter;

static void
rng_on_fork_child(void)
{
	atomic_fetch_add(&rng_fork_gen, 1);
}

static void
rng_atfork_register(void)
{
	(void)pthread_atfork(NULL, NULL, rng_on_fork_child);
}

void
rng_request_id(char out[RNG_REQUEST_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned          gen;
	uint64_t          v[2];

	(void)pthread_once(&rng_atfork_once, rng_atfork_register);
	gen = atomic_load_explicit(&rng_fork_gen, memory_order_relaxed);
	if (rng_id_gen != gen) {
		(void)rng_fill(v, sizeof(v));
		rng_id_prefix  = v[0];
		rng_id_counter = v[1];
		rng_id_gen     = gen;
	}
	v[0] = rng_id_prefix;
	v[1] = rng_id_counter++;
	for (int w = 0; w < 2; w++)
		for (int i = 0; i < 16; i++)
			out[16 * w + i] = hex[(v[w] >> (60 - 4 * i)) & 0x0F];
	out[RNG_REQUEST_ID_LEN] = '\0';
}
