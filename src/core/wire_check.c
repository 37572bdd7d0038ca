/* SPDX-License-Identifier: MIT */
/*
 * The walk of a Request's raw bytes (see wire_check.h).
 *
 * Invariants: the walk never recurses: the frame, its batch entries and
 * their fields are three fixed levels of loops; it reads no byte outside
 * [buf, buf + len); it accepts every message protobuf-c would unpack at
 * the depths the contract allows (anything it refuses protobuf-c would
 * refuse too, or would have to recurse for).
 */
#include "core/wire_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Request's field numbers (proto/inventory/v1/service.proto). */
enum {
	FIELD_METHOD     = 1,
	FIELD_REQUEST_ID = 2,
	FIELD_BATCH      = 5,
	FIELD_TOKEN      = 6,
};

enum {
	WIRE_VARINT = 0,
	WIRE_I64    = 1,
	WIRE_LEN    = 2,
	WIRE_I32    = 5,
};

/* A cursor over one message's bytes. */
struct cursor {
	const uint8_t *p, *end;
};

/* One field: its number, wire type and, for WIRE_LEN, its bytes. */
struct field {
	uint32_t       number;
	unsigned       type;
	const uint8_t *data;
	size_t         len;
};

static bool
read_varint(struct cursor *c, uint64_t *out)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		if (c->p >= c->end)
			return false;
		v |= (uint64_t)(*c->p & 0x7f) << shift;
		if ((*c->p++ & 0x80) == 0) {
			*out = v;
			return true;
		}
	}
	return false; /* more than 10 bytes */
}

/* The next field of c; false at the end (*bad set if the bytes are not a
 * well-formed field). */
static bool
next_field(struct cursor *c, struct field *f, bool *bad)
{
	uint64_t tag, n;

	*bad = false;
	if (c->p >= c->end)
		return false;
	if (!read_varint(c, &tag) || (tag >> 3) == 0 ||
	    (tag >> 3) > UINT32_MAX)
		goto out_bad;
	f->number = (uint32_t)(tag >> 3);
	f->type   = (unsigned)(tag & 7);
	f->data   = NULL;
	f->len    = 0;
	switch (f->type) {
	case WIRE_VARINT:
		if (!read_varint(c, &n))
			goto out_bad;
		return true;
	case WIRE_I64:
	case WIRE_I32:
		n = f->type == WIRE_I64 ? 8 : 4;
		if ((size_t)(c->end - c->p) < n)
			goto out_bad;
		c->p += n;
		return true;
	case WIRE_LEN:
		if (!read_varint(c, &n) || n > (uint64_t)(c->end - c->p))
			goto out_bad;
		f->data = c->p;
		f->len  = (size_t)n;
		c->p += n;
		return true;
	default: /* groups, reserved types: protobuf-c refuses them too */
		goto out_bad;
	}
out_bad:
	*bad = true;
	return false;
}

/* A string field that can hide a NUL from the unpacked message. */
static bool
holds_nul(const struct field *f)
{
	return f->type == WIRE_LEN &&
	       (f->number == FIELD_METHOD || f->number == FIELD_REQUEST_ID ||
	           f->number == FIELD_TOKEN) &&
	       memchr(f->data, 0, f->len) != NULL;
}

/* The innermost level allowed: an entry's batch entry.  Well-formed, and
 * holding no batch of its own. */
static enum code
check_leaf(const uint8_t *buf, size_t len, char *msg, size_t msglen)
{
	struct cursor c = { buf, buf + len };
	struct field  f;
	bool          bad;

	while (next_field(&c, &f, &bad)) {
		if (f.number == FIELD_BATCH && f.type == WIRE_LEN) {
			snprintf(msg, msglen,
			    "batch: nested more than one level deep");
			return CODE_INVALID_ARGUMENT;
		}
	}
	if (bad) {
		snprintf(msg, msglen, "malformed request envelope");
		return CODE_INVALID_ARGUMENT;
	}
	return CODE_OK;
}

/* One batch entry: well-formed, its batch entries (if any: refused later
 * as that one call) leaves.  *nul: its strings hold a NUL. */
static enum code
check_entry(
    const uint8_t *buf, size_t len, bool *nul, char *msg, size_t msglen)
{
	struct cursor c = { buf, buf + len };
	struct field  f;
	bool          bad;
	enum code     code;

	*nul = false;
	while (next_field(&c, &f, &bad)) {
		if (holds_nul(&f))
			*nul = true;
		if (f.number == FIELD_BATCH && f.type == WIRE_LEN &&
		    (code = check_leaf(f.data, f.len, msg, msglen)) != CODE_OK)
			return code;
	}
	if (bad) {
		snprintf(msg, msglen, "malformed request envelope");
		return CODE_INVALID_ARGUMENT;
	}
	return CODE_OK;
}

enum code
wire_check_request(const uint8_t *buf, size_t len, struct wire_check *out,
    char *msg, size_t msglen)
{
	struct cursor c = { buf, buf + len };
	struct field  f;
	bool          bad, nul;
	enum code     code;

	memset(out, 0, sizeof(*out));
	while (next_field(&c, &f, &bad)) {
		if (holds_nul(&f))
			out->nul = true;
		if (f.number != FIELD_BATCH || f.type != WIRE_LEN)
			continue;
		code = check_entry(f.data, f.len, &nul, msg, msglen);
		if (code != CODE_OK)
			return code;
		/* Each entry takes at least 2 bytes of the frame, so len / 2
		 * + 1 flags hold every entry's. */
		if (nul && out->entry_nul == NULL &&
		    (out->entry_nul = calloc(len / 2 + 1, sizeof(bool))) ==
		        NULL) {
			snprintf(msg, msglen, "out of memory");
			return CODE_RESOURCE_EXHAUSTED;
		}
		if (nul)
			out->entry_nul[out->nentries] = true;
		out->nentries++;
	}
	if (bad) {
		snprintf(msg, msglen, "malformed request envelope");
		return CODE_INVALID_ARGUMENT;
	}
	return CODE_OK;
}

void
wire_check_fini(struct wire_check *wc)
{
	free(wc->entry_nul);
	wc->entry_nul = NULL;
}
