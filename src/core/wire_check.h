/* SPDX-License-Identifier: MIT */
/*
 * A look at a frame's raw bytes before protobuf-c unpacks them.
 *
 * protobuf-c unpacks a message and every sub-message recursively, so a
 * frame of Requests nested in `batch` thousands deep (2-3 bytes a level)
 * would recurse until the stack ends.  The contract allows a batch of
 * single calls, nothing deeper: wire_check_request() walks the envelope's
 * fields without recursion beyond that depth and refuses anything deeper
 * before a single byte is unpacked.
 *
 * It also finds what unpacking hides: a string field is handed back
 * NUL-terminated, so a token or request id with a NUL byte inside would
 * silently be read as its prefix.  The walk marks the calls whose method,
 * request id or token holds one, so dispatch can refuse exactly those.
 *
 * No allocation unless a NUL is found; no I/O; no protobuf-c.
 */
#ifndef INVENTORY_WIRE_CHECK_H
#define INVENTORY_WIRE_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/code.h"

/* What the walk learnt about a frame that passed it. */
struct wire_check {
	bool nul;        /* the frame's own method, request_id or token
	                    holds a NUL byte */
	bool *entry_nul; /* per batch entry, in order: the same for that
	                    entry; NULL when no entry has one (owned: free
	                    with wire_check_fini) */
	size_t nentries; /* batch entries seen */
};

/* Walk the len bytes of a Request.  Returns CODE_OK (out filled), or
 * CODE_INVALID_ARGUMENT with a reason in msg: bytes that are not a
 * well-formed message, or a batch entry that holds a batch whose entries
 * hold batches again (deeper than a caller can mean: a batch entry that is
 * itself a batch is refused later, as that one call); RESOURCE_EXHAUSTED
 * when out of memory.
 * out is always safe to _fini. */
enum code wire_check_request(const uint8_t *buf, size_t len,
    struct wire_check *out, char *msg, size_t msglen);

void wire_check_fini(struct wire_check *wc);

#endif
