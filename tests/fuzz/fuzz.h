/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers for the libFuzzer targets in tests/fuzz/.
 *
 * FUZZ_CHECK states an invariant: when it does not hold the target prints
 * the expression and aborts, which libFuzzer reports as a crash and saves
 * the input that caused it.  Never compiled out (no NDEBUG games).
 */
#ifndef INVENTORY_FUZZ_H
#define INVENTORY_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "inventory/v1/service.pb-c.h"

#define FUZZ_CHECK(cond)                                                 \
	do {                                                             \
		if (!(cond)) {                                           \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", \
			    __FILE__, __LINE__, #cond);                  \
			abort();                                         \
		}                                                        \
	} while (0)

/* libFuzzer's entry points (no header ships them). */
int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True if env is a liveness probe as the server sees one: nothing but,
 * at most, a token (dispatch.c answers it OK without a call). */
static inline int
fuzz_is_probe(const Inventory__V1__Request *env)
{
	return env->n_batch == 0 && env->method == NULL &&
	       env->request_id == NULL && !env->has_payload &&
	       !env->has_timeout_ms;
}

/* True if s is NUL-terminated within size bytes. */
static inline int
fuzz_terminated(const char *s, size_t size)
{
	for (size_t i = 0; i < size; i++) {
		if (s[i] == '\0') {
			return 1;
		}
	}
	return 0;
}

#endif
