/* SPDX-License-Identifier: MIT */
/*
 * sd_notify(3)'s datagrams, written out (see notify.h).
 *
 * Each message is one sendto() on a fresh SOCK_DGRAM socket: no state
 * shared between threads, and a manager that restarted meanwhile is found
 * at the same address.  An address starting with '@' is abstract (its
 * first byte becomes NUL and its length is exact, as systemd passes it);
 * anything else must be an absolute path.  The watchdog thread waits on a
 * condition variable with a timeout, so notify_watchdog_stop() ends it at
 * once instead of after a whole interval.
 */
#include "ops/notify.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

/* The watchdog thread and what it needs; one per process. */
static struct {
	pthread_t       thread;
	pthread_mutex_t mtx;
	pthread_cond_t  cv;      /* signalled by notify_watchdog_stop() */
	bool            running; /* the thread exists and must be joined */
	bool            stop;    /* under mtx: the thread must end */
	uint64_t        period_us;
	notify_alive_fn alive;
	void           *arg;
} wd = { .mtx = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

int
notify_send(const char *state)
{
	const char        *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t             len;
	socklen_t          salen;
	ssize_t            n;
	int                fd, saved;

	if (path == NULL || path[0] == '\0')
		return 0;
	len = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		errno = EINVAL;
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract: the length says where
		                          the name ends */
	else
		len++; /* a path: include its NUL */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);

	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	n     = sendto(fd, state, strlen(state), MSG_NOSIGNAL,
	        (struct sockaddr *)&sa, salen);
	saved = errno;
	close(fd);
	if (n < 0 || (size_t)n != strlen(state)) {
		errno = n < 0 ? saved : EMSGSIZE;
		return -1;
	}
	return 0;
}

static void *
watchdog_main(void *unused)
{
	struct timespec until;
	bool            alive = true;

	(void)unused;
	pthread_mutex_lock(&wd.mtx);
	while (!wd.stop) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_sec += (time_t)(wd.period_us / 1000000);
		until.tv_nsec += (long)(wd.period_us % 1000000) * 1000;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		while (!wd.stop &&
		       pthread_cond_timedwait(&wd.cv, &wd.mtx, &until) == 0)
			;
		if (wd.stop)
			break;
		pthread_mutex_unlock(&wd.mtx);
		/* Once stuck, stay silent: systemd's verdict, not ours, ends
		 * the process, and a late recovery must not hide the stall. */
		if (alive && !(alive = wd.alive(wd.arg)))
			log_err("watchdog: calls wait and none was answered "
			        "for %llu ms: no more WATCHDOG=1, the service "
			        "manager will restart inventoryd",
			    (unsigned long long)(wd.period_us / 1000));
		if (alive && notify_send("WATCHDOG=1") != 0)
			log_warn("watchdog: cannot notify $NOTIFY_SOCKET: %s",
			    strerror(errno));
		pthread_mutex_lock(&wd.mtx);
	}
	pthread_mutex_unlock(&wd.mtx);
	return NULL;
}

int
notify_watchdog_start(notify_alive_fn alive, void *arg)
{
	const char        *usec = getenv("WATCHDOG_USEC");
	const char        *pid  = getenv("WATCHDOG_PID");
	pthread_condattr_t ca;
	char              *end;
	unsigned long long v;
	int                rv;

	if (usec == NULL || usec[0] == '\0')
		return 0;
	if (pid != NULL && pid[0] != '\0' &&
	    strtoll(pid, NULL, 10) != (long long)getpid())
		return 0; /* meant for another process */
	errno = 0;
	v     = strtoull(usec, &end, 10);
	if (errno != 0 || *end != '\0' || v == 0) {
		log_warn("watchdog: WATCHDOG_USEC='%s' is not a number of "
		         "microseconds: no watchdog pings",
		    usec);
		return 0;
	}
	wd.period_us = v / 2; /* ping twice per interval, as systemd asks */
	wd.alive     = alive;
	wd.arg       = arg;
	wd.stop      = false;
	/* The deadline above is on CLOCK_MONOTONIC: a clock change must not
	 * stretch or shrink the interval. */
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_destroy(&wd.cv);
	pthread_cond_init(&wd.cv, &ca);
	pthread_condattr_destroy(&ca);
	if ((rv = pthread_create(&wd.thread, NULL, watchdog_main, NULL)) !=
	    0) {
		log_err("watchdog: cannot start its thread: %s", strerror(rv));
		return -1;
	}
	wd.running = true;
	log_info("watchdog: WATCHDOG=1 every %llu ms while the executors "
	         "make progress",
	    (unsigned long long)(wd.period_us / 1000));
	return 0;
}

void
notify_watchdog_stop(void)
{
	if (!wd.running)
		return;
	pthread_mutex_lock(&wd.mtx);
	wd.stop = true;
	pthread_cond_signal(&wd.cv);
	pthread_mutex_unlock(&wd.mtx);
	pthread_join(wd.thread, NULL);
	wd.running = false;
}
