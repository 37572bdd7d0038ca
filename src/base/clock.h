/* SPDX-License-Identifier: MIT */
/*
 * The server's one monotonic clock: CLOCK_MONOTONIC in nanoseconds, the
 * unit of every deadline, receive time and rate window in inventoryd.
 */
#ifndef INVENTORY_CLOCK_H
#define INVENTORY_CLOCK_H

#include <stdint.h>

/* CLOCK_MONOTONIC now, in nanoseconds. */
uint64_t clock_now_ns(void);

#endif
