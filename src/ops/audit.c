/* SPDX-License-Identifier: MIT */
/*
 * The audit trail (see audit.h).
 *
 * The JSON file gets each record in one write(2) on an O_APPEND
 * descriptor, so records of concurrent executors never interleave and a
 * crash loses at most the record being written.  Every string in a
 * record (caller name, request id, product id, method) was validated
 * upstream to printable ASCII without '"' or '\', so it needs no
 * escaping.  The syslog sink is syslog(3) (LOG_DAEMON, LOG_INFO) after
 * openlog("inventoryd-audit"): no libsystemd, and journald keeps the
 * identifier as SYSLOG_IDENTIFIER, so `journalctl -t inventoryd-audit`
 * shows the trail and the main log stays the service's own.  The sinks
 * are set once before the executors start and only read afterwards.
 */
#include "ops/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

static atomic_int audit_fd = -1;
/* An info line of the main log per record (--audit-in-log). */
static bool audit_in_main_log;
/* syslog(3) per record: no file and not in the main log. */
static bool audit_syslog;

int
audit_open(const char *path, bool in_main_log, char *err, size_t errlen)
{
	int fd;

	audit_in_main_log = in_main_log;
	if (path == NULL || path[0] == '\0') {
		audit_syslog = !in_main_log;
		/* LOG_NDELAY: connect now, before any sandboxing or load. */
		if (audit_syslog)
			openlog("inventoryd-audit", LOG_PID | LOG_NDELAY,
			    LOG_DAEMON);
		return 0;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(
		    err, errlen, "--audit-log %s: %s", path, strerror(errno));
		return -1;
	}
	atomic_store(&audit_fd, fd);
	return 0;
}

void
audit_close(void)
{
	int fd = atomic_exchange(&audit_fd, -1);

	if (fd >= 0)
		close(fd);
	if (audit_syslog)
		closelog();
	audit_syslog      = false;
	audit_in_main_log = false;
}

void
audit_record(const char *caller, const char *method, const struct product *p,
    const char *request_id)
{
	char           line[512], ts[32];
	struct timeval tv;
	struct tm      tm;
	int64_t        old_version = p->version - 1;
	int            fd          = atomic_load(&audit_fd);
	int            n;

	if (caller == NULL || caller[0] == '\0')
		caller = "-";
	if (request_id == NULL)
		request_id = "-";
	if (audit_in_main_log)
		log_info(
		    "audit caller=%s method=%s product=%s version=%" PRId64
		    "->%" PRId64 " stock=%" PRId64 "->%" PRId64
		    " request_id=%s",
		    caller, method, p->id, old_version, p->version,
		    p->prev_stock, p->stock, request_id);
	if (audit_syslog)
		syslog(LOG_INFO,
		    "caller=%s method=%s product=%s version=%" PRId64
		    "->%" PRId64 " stock=%" PRId64 "->%" PRId64
		    " request_id=%s",
		    caller, method, p->id, old_version, p->version,
		    p->prev_stock, p->stock, request_id);
	if (fd < 0)
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	n = snprintf(line, sizeof(line),
	    "{\"ts\":\"%s.%06ldZ\",\"caller\":\"%s\",\"method\":\"%s\","
	    "\"product\":\"%s\",\"version_old\":%" PRId64
	    ",\"version_new\":%" PRId64 ",\"stock_old\":%" PRId64
	    ",\"stock_new\":%" PRId64 ",\"request_id\":\"%s\"}\n",
	    ts, (long)tv.tv_usec, caller, method, p->id, old_version,
	    p->version, p->prev_stock, p->stock, request_id);
	if (n > 0 && (size_t)n < sizeof(line) &&
	    write(fd, line, (size_t)n) != n)
		log_warn(
		    "audit: cannot write the audit log: %s", strerror(errno));
}
