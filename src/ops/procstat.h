/* SPDX-License-Identifier: MIT */
/*
 * The process's own figures for /metrics, read from /proc/self on demand
 * (a scrape), never kept: resident memory, CPU time, open descriptors and
 * their limit, start time.  Linux only; a figure that cannot be read is
 * reported as missing rather than as 0.
 */
#ifndef INVENTORY_PROCSTAT_H
#define INVENTORY_PROCSTAT_H

#include <stdbool.h>
#include <stdint.h>

struct procstat {
	bool     have_rss;     /* resident_bytes is valid */
	uint64_t rss_bytes;    /* resident set size */
	bool     have_cpu;     /* cpu_seconds and start_time_s are valid */
	double   cpu_seconds;  /* user + system CPU time */
	double   start_time_s; /* process start, seconds since the epoch */
	bool     have_fds;     /* open_fds is valid */
	uint64_t open_fds;     /* entries of /proc/self/fd */
	bool     have_max_fds; /* max_fds is valid */
	uint64_t max_fds;      /* RLIMIT_NOFILE soft limit */
};

/* Fill *ps (zeroed first).  Thread-safe; opens a few /proc files. */
void procstat_read(struct procstat *ps);

#endif
