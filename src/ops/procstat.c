/* SPDX-License-Identifier: MIT */
/*
 * /proc/self readers for the process metrics (see procstat.h).  Each
 * figure is read independently, so one unreadable file (a hardened
 * /proc) drops one figure, not all of them.
 */
#include "ops/procstat.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static void
read_rss(struct procstat *ps)
{
	unsigned long long size, resident;
	long               page = sysconf(_SC_PAGESIZE);
	FILE              *fp   = fopen("/proc/self/statm", "r");

	if (fp == NULL)
		return;
	if (fscanf(fp, "%llu %llu", &size, &resident) == 2 && page > 0) {
		ps->rss_bytes = (uint64_t)resident * (uint64_t)page;
		ps->have_rss  = true;
	}
	fclose(fp);
}

/* Seconds since boot from /proc/uptime, for the start time. */
static int
read_uptime(double *out)
{
	FILE *fp = fopen("/proc/uptime", "r");
	int   rv = -1;

	if (fp == NULL)
		return -1;
	if (fscanf(fp, "%lf", out) == 1)
		rv = 0;
	fclose(fp);
	return rv;
}

/* utime, stime and starttime are fields 14, 15 and 22 of
 * /proc/self/stat; field 2 (comm) may hold spaces and parentheses, so
 * parsing starts after the last ')'. */
static void
read_cpu(struct procstat *ps)
{
	char               line[1024], *p;
	unsigned long long utime, stime, start;
	long               tck = sysconf(_SC_CLK_TCK);
	double             uptime;
	struct timespec    now;
	FILE              *fp = fopen("/proc/self/stat", "r");
	size_t             n;

	if (fp == NULL)
		return;
	n = fread(line, 1, sizeof(line) - 1, fp);
	fclose(fp);
	line[n] = '\0';
	if ((p = strrchr(line, ')')) == NULL || tck <= 0)
		return;
	/* After ')': state(3) ppid pgrp session tty_nr tpgid flags minflt
	 * cminflt majflt cmajflt utime(14) stime(15) cutime cstime priority
	 * nice num_threads itrealvalue starttime(22). */
	if (sscanf(p + 1,
	        " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d "
	        "%*d %*d %*d %*d %*d %llu",
	        &utime, &stime, &start) != 3)
		return;
	ps->cpu_seconds = (double)(utime + stime) / (double)tck;
	ps->have_cpu    = true;
	if (read_uptime(&uptime) == 0 &&
	    clock_gettime(CLOCK_REALTIME, &now) == 0)
		ps->start_time_s = (double)now.tv_sec -
		                   (uptime - (double)start / (double)tck);
}

static void
read_fds(struct procstat *ps)
{
	DIR           *d = opendir("/proc/self/fd");
	struct dirent *e;
	uint64_t       n = 0;
	struct rlimit  rl;

	if (d != NULL) {
		while ((e = readdir(d)) != NULL)
			if (e->d_name[0] != '.')
				n++;
		closedir(d);
		ps->open_fds = n > 0 ? n - 1 : 0; /* not the DIR's own fd */
		ps->have_fds = true;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
	    rl.rlim_cur != RLIM_INFINITY) {
		ps->max_fds      = (uint64_t)rl.rlim_cur;
		ps->have_max_fds = true;
	}
}

void
procstat_read(struct procstat *ps)
{
	memset(ps, 0, sizeof(*ps));
	read_rss(ps);
	read_cpu(ps);
	read_fds(ps);
}
