/* SPDX-License-Identifier: MIT */
/*
 * The audit trail (see audit.h).
 *
 * The JSON file gets each record in one write(2) on an O_APPEND
 * descriptor, so records of concurrent executors never interleave and a
 * crash loses at most the record being written.  jansson writes the
 * record: every string in it (caller name, request id, product id,
 * method) was validated upstream to printable ASCII without '"' or '\',
 * and is escaped all the same, so a validation missed upstream cannot
 * break the file's one-object-per-line form.  The syslog sink is syslog(3)
 * (LOG_DAEMON, LOG_INFO) after openlog("inventoryd-audit"): no libsystemd, and
 * journald keeps the identifier as SYSLOG_IDENTIFIER, so `journalctl -t
 * inventoryd-audit` shows the trail and the main log stays the service's own.
 * The sinks are set once before the executors start and only read afterwards.
 */
#include "ops/audit.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"

/* The record's members in the order they were set, without spaces. */
#define AUDIT_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER)

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

/* The JSON record of one change, or NULL when out of memory.
 * json_object_set_new() takes (and on failure drops) each value, so a
 * NULL value leaks nothing. */
static json_t *
record_json(const char *ts, const char *caller, const char *method,
    const struct product *p, const char *request_id)
{
	json_t *o = json_object();

	if (o == NULL || json_object_set_new(o, "ts", json_string(ts)) != 0 ||
	    json_object_set_new(
	        o, "caller", log_json_string(caller, strlen(caller))) != 0 ||
	    json_object_set_new(
	        o, "method", log_json_string(method, strlen(method))) != 0 ||
	    json_object_set_new(o, "product",
	        log_json_string(p->id, strnlen(p->id, PRODUCT_ID_LEN))) != 0 ||
	    json_object_set_new(
	        o, "version_old", json_integer(p->version - 1)) != 0 ||
	    json_object_set_new(o, "version_new", json_integer(p->version)) !=
	        0 ||
	    json_object_set_new(o, "stock_old", json_integer(p->prev_stock)) !=
	        0 ||
	    json_object_set_new(o, "stock_new", json_integer(p->stock)) != 0 ||
	    json_object_set_new(o, "request_id",
	        log_json_string(request_id, strlen(request_id))) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

void
audit_record(const char *caller, const char *method, const struct product *p,
    const char *request_id)
{
	char           line[1024], ts[40], *big = NULL, *rec = line;
	struct timeval tv;
	struct tm      tm;
	int64_t        old_version = p->version - 1;
	int            fd          = atomic_load(&audit_fd);
	json_t        *o           = NULL;
	size_t         n;
	const char    *why = "out of memory";

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
	n = strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof(ts) - n, ".%06ldZ", (long)tv.tv_usec);
	if ((o = record_json(ts, caller, method, p, request_id)) == NULL)
		goto out_warn;
	/* The line's newline has its byte.  A record of escape-heavy
	 * strings may not fit the stack's line: then one on the heap, as
	 * the trail loses no record. */
	n = json_dumpb(o, line, sizeof(line) - 1, AUDIT_JSON_FLAGS);
	if (n > sizeof(line) - 1) {
		if ((big = malloc(n + 1)) == NULL)
			goto out_warn;
		rec = big;
		n   = json_dumpb(o, big, n, AUDIT_JSON_FLAGS);
	}
	if (n == 0)
		goto out_warn;
	rec[n++] = '\n';
	if (write(fd, rec, n) == (ssize_t)n)
		goto out_free;
	why = strerror(errno);
out_warn:
	log_warn("audit: cannot write the audit log: %s", why);
out_free:
	free(big);
	json_decref(o);
}
