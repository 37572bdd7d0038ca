/*
 * The audit trail (issue 9): one record for every write applied, naming
 * its caller, method, product, version and stock before and after, and
 * request id.  Each record is an info log line ("audit caller=... method=
 * ..."); with --audit-log FILE it is also one JSON object per line in
 * FILE.  Repeats answered from the request log are not applied again and
 * leave no record.  Never records a token.
 */
#ifndef INVENTORY_AUDIT_H
#define INVENTORY_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include "product.h"

/* Open the JSON lines file for appending (created 0600 if missing).  NULL
 * or "": log lines only.  0, or -1 with a reason in err. */
int audit_open(const char *path, char *err, size_t errlen);

/* Close the file, if any. */
void audit_close(void);

/* Record one applied change of product p (p->prev_stock >= 0) by caller
 * ("" : none) through method, with request_id (may be NULL).  A create
 * has version 1 and prev_stock 0 and is recorded as from version 0.
 * Thread-safe: one write(2) per record on an O_APPEND descriptor. */
void audit_record(const char *caller, const char *method,
    const struct product *p, const char *request_id);

#endif
