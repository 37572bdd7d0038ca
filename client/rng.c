/*
 * rng: kernel randomness for request ids, a per-thread xorshift64*
 * generator for jitter (see rng.h).
 */
#include <errno.h>
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

void
rng_request_id(char out[RNG_REQUEST_ID_LEN + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char     raw[RNG_REQUEST_ID_LEN / 2];
	size_t            i;

	(void)rng_fill(raw, sizeof(raw));
	for (i = 0; i < sizeof(raw); i++) {
		out[2 * i]     = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 0x0F];
	}
	out[RNG_REQUEST_ID_LEN] = '\0';
}
