/* SPDX-License-Identifier: MIT */
/*
 * rng: randomness for libinventory, private to the library.
 *
 * Two kinds: request ids are seeded from the kernel (getrandom(2)) once
 * per thread (and again after fork), so they are unique across
 * processes and hosts without a system call per id; backoff jitter comes from
 * a per-thread xorshift generator seeded from the kernel, so it costs no
 * system call and no lock, and never touches rand()'s shared state.
 */
#ifndef INVENTORY_CLIENT_RNG_H
#define INVENTORY_CLIENT_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Characters of a generated request id: 128 bits as lower-case hex. */
#define RNG_REQUEST_ID_LEN 32

/* Fill buf with len random bytes from getrandom(2).  Returns 0, or -1 if
 * the kernel would not give them (buf is then filled from the per-thread
 * generator instead, which is still fine for ids but not secret). */
int rng_fill(void *buf, size_t len);

/* Write a fresh id as 32 lower-case hex digits plus NUL: this thread's
 * random 64-bit prefix and a counter (see rng.c).  Never repeats within
 * a thread; across threads only if two random prefixes collide. */
void rng_request_id(char out[RNG_REQUEST_ID_LEN + 1]);

/* The next value of this thread's generator (seeded on first use). */
uint64_t rng_next(void);

/* A uniformly distributed value in [0, bound]; bound may be 0. */
uint64_t rng_between0(uint64_t bound);

#endif /* INVENTORY_CLIENT_RNG_H */
