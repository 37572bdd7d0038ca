/* SPDX-License-Identifier: MIT */
/*
 * The audit trail: one record for every write applied, naming its caller,
 * method, product, version and stock before and after, and request id.
 * Records go to the audit sink, never to the main log by default (ten
 * minutes of benchmark once wrote 200,795 audit lines into it): with
 * --audit-log FILE one JSON object per line in FILE, otherwise one syslog
 * message ("caller=... method=...") under the identifier inventoryd-audit,
 * which journald collects under that name.  --audit-in-log writes each
 * record into the main log as well, as an info line ("audit caller=...
 * method=..."), and then no syslog message.  Repeats answered from the
 * request log are not applied again and leave no record.  Never records a
 * token.
 */
#ifndef INVENTORY_AUDIT_H
#define INVENTORY_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "base/product.h"

#include <stdbool.h>

/* Choose the sinks: path (not NULL, not "") is the JSON lines file,
 * opened for appending (created 0600 if missing); without it syslog,
 * unless in_main_log.  in_main_log: also an info line of the main log.
 * Called once, before the first audit_record().  0, or -1 with a reason
 * in err. */
int audit_open(const char *path, bool in_main_log, char *err, size_t errlen);

/* Close the file or the syslog connection, if any. */
void audit_close(void);

/* Record one applied change of product p (p->prev_stock >= 0) by caller
 * ("" : none) through method, with request_id (may be NULL).  A create
 * has version 1 and prev_stock 0 and is recorded as from version 0.
 * Thread-safe: one write(2) per record on an O_APPEND descriptor. */
void audit_record(const char *caller, const char *method,
    const struct product *p, const char *request_id);

#endif
