/* SPDX-License-Identifier: MIT */
/*
 * pbjson: protobuf-c messages to canonical JSON and back, by walking the
 * descriptors (see pbjson.h for the contract, README.md for the rules).
 *
 * Encoding builds a jansson tree in field-number order and dumps it
 * compact.  Presence follows protobuf_c_message_pack() field by field, so
 * the JSON names exactly what the binary form would carry.
 *
 * Decoding loads the text with jansson (duplicate keys refused, its own
 * depth limit), then fills a message allocated with malloc() the way
 * protobuf_c_message_free_unpacked() frees one: a value is stored in the
 * message (and counted: a repeated field's count is set before its
 * elements, which start zeroed) as soon as it is allocated, so the one
 * cleanup on any error is free_unpacked on the partial message.
 */
#include "pbjson.h"

#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

enum {
	PBJSON_PATH_MAX = 96, /* bytes of the field path an error names */
	PBJSON_KEY_MAX  = 40, /* bytes of an unknown key an error quotes */
	PBJSON_NAME_BUF = 64, /* camelCase names shorter than this: stack */
	PBJSON_DIGITS   = 17, /* significant digits that round-trip a double */
};

#define OOM "out of memory"

/* ---- text helpers --------------------------------------------------- */

/* Length of the well-formed UTF-8 sequence at s (n bytes left), 0 when
 * there is none: the same rules jansson checks (no overlongs, no
 * surrogates, nothing past U+10FFFF). */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t   k;

	if (s[0] < 0x80)
		return 1;
	if (s[0] < 0xc2)
		return 0;
	if (s[0] < 0xe0) {
		k  = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] < 0xf0) {
		k  = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] < 0xf5) {
		k  = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < k)
		return 0;
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (k == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
		return 0;
	if (k == 4 && (cp < 0x10000 || cp > 0x10ffff))
		return 0;
	return k;
}

static bool
utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0, k; i < n; i += k) {
		if ((k = utf8_seq(p + i, n - i)) == 0)
			return false;
	}
	return true;
}

/* Make a reason safe for one log line or a JSON string: control bytes
 * become '?', so do bytes of invalid UTF-8 (jansson's messages quote the
 * input, and a cut may split a character), a split one at the end goes. */
static void
err_sanitize(char *err, size_t errlen)
{
	unsigned char *p = (unsigned char *)err;
	size_t         n, k;

	if (err == NULL || errlen == 0)
		return;
	n = strlen(err);
	for (size_t i = 0; i < n; i += k) {
		if (p[i] < 0x20 || p[i] == 0x7f) {
			p[i] = '?';
			k    = 1;
		} else if ((k = utf8_seq(p + i, n - i)) == 0) {
			if (p[i] >= 0xc2 && p[i] < 0xf5 && n - i < 4) {
				p[i] =
				    '\0'; /* the last character, cut short */
				return;
			}
			p[i] = '?';
			k    = 1;
		}
	}
}

static void
err_clear(char *err, size_t errlen)
{
	if (err != NULL && errlen > 0)
		err[0] = '\0';
}

/* protoc's ToJsonName(): drop each '_' and upper-case the letter after
 * it ("request_id" -> "requestId").  protobuf-c keeps no json_name, so
 * this is the only JSON name a field has.  out has strlen(name) + 1. */
static void
camel_case(const char *name, char *out)
{
	bool up = false;

	for (; *name != '\0'; name++) {
		if (*name == '_') {
			up = true;
			continue;
		}
		/* ASCII only: toupper() would follow the locale */
		if (up && *name >= 'a' && *name <= 'z')
			*out++ = (char)(*name - 'a' + 'A');
		else
			*out++ = *name;
		up = false;
	}
	*out = '\0';
}

/* A field's JSON name: in buf when it fits (it always does for ours),
 * malloc'd otherwise. */
struct jname {
	char *s; /* the name: buf or malloc'd */
	char  buf[PBJSON_NAME_BUF];
};

/* 0, or -1 when out of memory (nothing to _fini then). */
static int
jname_init(struct jname *jn, const ProtobufCFieldDescriptor *f)
{
	size_t n = strlen(f->name);

	jn->s = n < sizeof(jn->buf) ? jn->buf : malloc(n + 1);
	if (jn->s == NULL)
		return -1;
	camel_case(f->name, jn->s);
	return 0;
}

static void
jname_fini(struct jname *jn)
{
	if (jn->s != jn->buf)
		free(jn->s);
}

/* ---- base64 --------------------------------------------------------- */

static const char b64_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *
pbjson_base64(const uint8_t *bytes, size_t n)
{
	char  *out, *o;
	size_t i;

	if (n > (SIZE_MAX - 1) / 4 * 3 - 3)
		return NULL;
	if ((out = malloc((n + 2) / 3 * 4 + 1)) == NULL)
		return NULL;
	o = out;
	for (i = 0; i + 3 <= n; i += 3) {
		uint32_t v = (uint32_t)bytes[i] << 16 |
		             (uint32_t)bytes[i + 1] << 8 | bytes[i + 2];

		*o++ = b64_std[v >> 18];
		*o++ = b64_std[(v >> 12) & 63];
		*o++ = b64_std[(v >> 6) & 63];
		*o++ = b64_std[v & 63];
	}
	if (n - i == 1) {
		*o++ = b64_std[bytes[i] >> 2];
		*o++ = b64_std[(bytes[i] & 3) << 4];
		*o++ = '=';
		*o++ = '=';
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)bytes[i] << 8 | bytes[i + 1];

		*o++ = b64_std[v >> 10];
		*o++ = b64_std[(v >> 4) & 63];
		*o++ = b64_std[(v << 2) & 63];
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

/* Value of one base64 digit of either alphabet; *alpha notes which one
 * (1 standard, 2 URL-safe) so a mix of the two is refused. */
static int
b64_digit(unsigned char c, int *alpha)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+' || c == '/') {
		*alpha |= 1;
		return c == '+' ? 62 : 63;
	}
	if (c == '-' || c == '_') {
		*alpha |= 2;
		return c == '-' ? 62 : 63;
	}
	return -1;
}

/* s (n bytes) as the bytes it encodes: standard or URL-safe alphabet,
 * padded or not (protobuf's parsers accept all four).  Bits after the last
 * whole byte are ignored.  -1 on bad text, -2 out of memory. */
static int
b64_decode(const char *s, size_t n, ProtobufCBinaryData *out)
{
	const unsigned char *p     = (const unsigned char *)s;
	size_t               total = n, len, o = 0;
	int                  alpha = 0;
	uint32_t             acc   = 0;
	unsigned             bits  = 0;
	uint8_t             *buf;

	out->len  = 0;
	out->data = NULL;
	if (n > 0 && p[n - 1] == '=')
		n--;
	if (n > 0 && p[n - 1] == '=')
		n--;
	if ((n != total && total % 4 != 0) || n % 4 == 1)
		return -1;
	len = n / 4 * 3 + (n % 4 == 0 ? 0 : n % 4 - 1);
	if (len == 0)
		return 0;
	if ((buf = malloc(len)) == NULL)
		return -2;
	for (size_t i = 0; i < n; i++) {
		int v = b64_digit(p[i], &alpha);

		if (v < 0 || alpha == 3) {
			free(buf);
			return -1;
		}
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			buf[o++] = (uint8_t)(acc >> bits);
		}
	}
	out->len  = len;
	out->data = buf;
	return 0;
}

/* ---- encoding ------------------------------------------------------- */

struct enc {
	bool   strict; /* refuse what the decoder would (from_binary) */
	int    digits; /* significant digits the reals so far need */
	char  *err;    /* reason when strict refuses; NULL: none wanted */
	size_t errlen;
};

static void enc_fail(struct enc *e, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
enc_fail(struct enc *e, const char *fmt, ...)
{
	va_list ap;

	if (e->err == NULL || e->errlen == 0 || e->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(e->err, e->errlen, fmt, ap);
	va_end(ap);
}

static json_t *enc_message(
    struct enc *e, const ProtobufCMessage *m, unsigned depth);

/* Whether f is set in m, by protobuf_c_message_pack()'s rules. */
static bool
enc_present(const ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	const char *base   = (const char *)m;
	const void *member = base + f->offset;
	const void *q      = base + f->quantifier_offset;
	bool        ptr    = f->type == PROTOBUF_C_TYPE_STRING ||
	           f->type == PROTOBUF_C_TYPE_MESSAGE;
	const void *p = ptr ? *(const void *const *)member : NULL;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		return *(const size_t *)q > 0 &&
		       *(const void *const *)member != NULL;
	}
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		if (*(const uint32_t *)q != f->id)
			return false;
		return !ptr || (p != NULL && p != f->default_value);
	}
	switch (f->label) {
	case PROTOBUF_C_LABEL_REQUIRED:
		return !ptr || p != NULL;
	case PROTOBUF_C_LABEL_OPTIONAL:
		if (ptr)
			return p != NULL && p != f->default_value;
		return *(const protobuf_c_boolean *)q;
	default: /* LABEL_NONE (proto3): present unless the zero value */
		break;
	}
	switch (f->type) {
	case PROTOBUF_C_TYPE_BOOL:
		return *(const protobuf_c_boolean *)member != 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return *(const uint64_t *)member != 0;
	case PROTOBUF_C_TYPE_FLOAT:
		return *(const float *)member != 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		return *(const double *)member != 0;
	case PROTOBUF_C_TYPE_STRING:
		return p != NULL && *(const char *)p != '\0';
	case PROTOBUF_C_TYPE_BYTES:
		return ((const ProtobufCBinaryData *)member)->len > 0;
	case PROTOBUF_C_TYPE_MESSAGE:
		return p != NULL;
	default: /* the 32-bit integers and enums */
		return *(const uint32_t *)member != 0;
	}
}

/* Fewest significant digits (1..17) from which "%.*g" of v, and of any
 * more digits, reads back as v (as a float when is_float).  Checking
 * every larger count too makes one count right for every real of the
 * message (jansson prints all reals of a dump with one precision). */
static int
enc_digits(double v, bool is_float)
{
	char buf[32];

	for (int d = PBJSON_DIGITS; d > 1; d--) {
		double back;

		snprintf(buf, sizeof(buf), "%.*g", d - 1, v);
		back = strtod(buf, NULL);
		if (is_float ? (float)back != (float)v : back != v)
			return d;
	}
	return 1;
}

/* A float or double: the special values as protobuf's strings, an
 * integral value as a JSON integer ("1", not jansson's "1.0"), any other
 * as a real printed with the fewest digits that read back exactly. */
static json_t *
enc_real(struct enc *e, double v, bool is_float)
{
	const double exact = 9007199254740992.0; /* 2^53 */
	int          d;

	if (isnan(v))
		return json_string("NaN");
	if (isinf(v))
		return json_string(v > 0 ? "Infinity" : "-Infinity");
	if (v > -exact && v < exact && v == (double)(int64_t)v &&
	    !(v == 0 && signbit(v)))
		return json_integer((json_int_t)v);
	if ((d = enc_digits(v, is_float)) > e->digits)
		e->digits = d;
	return json_real(v);
}

/* A string field: as is when it is valid UTF-8; otherwise refused
 * (strict) or with U+FFFD for each byte that does not decode. */
static json_t *
enc_string(struct enc *e, const char *key, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t               n = strlen(s), o = 0, k;
	json_t              *j;
	char                *buf;

	if (utf8_valid(s, n))
		return json_stringn(s, n);
	if (e->strict) {
		enc_fail(e, "%s: string is not valid UTF-8", key);
		return NULL;
	}
	if (n > (SIZE_MAX - 1) / 3 || (buf = malloc(n * 3 + 1)) == NULL)
		return NULL;
	for (size_t i = 0; i < n; i += k) {
		static const char fffd[3] = { '\xef', '\xbf', '\xbd' };

		if ((k = utf8_seq(p + i, n - i)) == 0) {
			for (size_t b = 0; b < sizeof(fffd); b++)
				buf[o++] = fffd[b];
			k = 1;
		} else {
			for (size_t b = 0; b < k; b++)
				buf[o++] = s[i + b];
		}
	}
	j = json_stringn(buf, o);
	free(buf);
	return j;
}

/* One value of field f (one element when repeated) at member. */
static json_t *
enc_value(struct enc *e, const ProtobufCFieldDescriptor *f, const char *key,
    const void *member, unsigned depth)
{
	char buf[24];

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		return json_integer(*(const int32_t *)member);
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		return json_integer(*(const uint32_t *)member);
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		/* strings: a JavaScript number would lose digits past 2^53 */
		snprintf(
		    buf, sizeof(buf), "%" PRId64, *(const int64_t *)member);
		return json_string(buf);
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		snprintf(
		    buf, sizeof(buf), "%" PRIu64, *(const uint64_t *)member);
		return json_string(buf);
	case PROTOBUF_C_TYPE_FLOAT:
		return enc_real(e, *(const float *)member, true);
	case PROTOBUF_C_TYPE_DOUBLE:
		return enc_real(e, *(const double *)member, false);
	case PROTOBUF_C_TYPE_BOOL:
		return json_boolean(*(const protobuf_c_boolean *)member);
	case PROTOBUF_C_TYPE_ENUM: {
		int32_t                   v = *(const int32_t *)member;
		const ProtobufCEnumValue *ev;

		ev = protobuf_c_enum_descriptor_get_value(f->descriptor, v);
		return ev != NULL ? json_string(ev->name) : json_integer(v);
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(const char *const *)member;

		return enc_string(e, key, s != NULL ? s : "");
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *bd = member;
		char                      *b64;
		json_t                    *j;

		if ((b64 = pbjson_base64(bd->data, bd->len)) == NULL)
			return NULL;
		j = json_string(b64);
		free(b64);
		return j;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub =
		    *(const ProtobufCMessage *const *)member;

		/* NULL only inside a repeated field a caller built badly */
		return sub != NULL ? enc_message(e, sub, depth + 1)
		                   : json_object();
	}
	}
	return NULL;
}

/* Size of one element of a repeated field of this type in protobuf-c. */
static size_t
elem_size(ProtobufCType type)
{
	switch (type) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		return sizeof(uint64_t);
	case PROTOBUF_C_TYPE_FLOAT:
		return sizeof(float);
	case PROTOBUF_C_TYPE_DOUBLE:
		return sizeof(double);
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
		return sizeof(char *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(ProtobufCMessage *);
	default: /* the 32-bit integers and enums */
		return sizeof(uint32_t);
	}
}

static json_t *
enc_field(struct enc *e, const ProtobufCMessage *m,
    const ProtobufCFieldDescriptor *f, const char *key, unsigned depth)
{
	const char *member = (const char *)m + f->offset;
	json_t     *arr;
	size_t      n, sz;

	if (f->label != PROTOBUF_C_LABEL_REPEATED)
		return enc_value(e, f, key, member, depth);
	n   = *(const size_t *)((const char *)m + f->quantifier_offset);
	sz  = elem_size(f->type);
	arr = json_array();
	for (size_t i = 0; arr != NULL && i < n; i++) {
		const char *el = *(const char *const *)member + i * sz;

		/* _new steals the value even when it fails */
		if (json_array_append_new(
		        arr, enc_value(e, f, key, el, depth)) != 0) {
			json_decref(arr);
			arr = NULL;
		}
	}
	return arr;
}

static json_t *
enc_message(struct enc *e, const ProtobufCMessage *m, unsigned depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	json_t                           *obj;

	if (e->strict && depth > PBJSON_MAX_DEPTH) {
		enc_fail(
		    e, "messages nested deeper than %d", PBJSON_MAX_DEPTH);
		return NULL;
	}
	if ((obj = json_object()) == NULL)
		return NULL;
	/* fields[] is in field-number order (protobuf-c needs it so) */
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		struct jname                    key;
		int                             rc;

		if (!enc_present(m, f))
			continue;
		if (jname_init(&key, f) != 0)
			goto out_decref;
		/* _new steals the value even when it fails */
		rc = json_object_set_new(
		    obj, key.s, enc_field(e, m, f, key.s, depth));
		jname_fini(&key);
		if (rc != 0)
			goto out_decref;
	}
	return obj;
out_decref:
	json_decref(obj);
	return NULL;
}

/* The JSON text of m; NULL with a reason in e->err, or out of memory. */
static char *
enc_dump(struct enc *e, const ProtobufCMessage *m, size_t *len)
{
	json_t *root;
	char   *s;

	if ((root = enc_message(e, m, 1)) == NULL) {
		enc_fail(e, OOM);
		return NULL;
	}
	s = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER |
	                         JSON_REAL_PRECISION(e->digits));
	json_decref(root);
	if (s == NULL)
		enc_fail(e, OOM);
	else if (len != NULL)
		*len = strlen(s);
	return s;
}

char *
pbjson_encode(const ProtobufCMessage *msg, size_t *len)
{
	struct enc e = { .digits = 1 };

	if (msg == NULL)
		return NULL;
	return enc_dump(&e, msg, len);
}

/* ---- decoding ------------------------------------------------------- */

struct dec {
	char  *err; /* the reason; NULL: none wanted */
	size_t errlen;
	bool   failed;
	size_t plen;                  /* strlen(path) */
	char   path[PBJSON_PATH_MAX]; /* where the walk is: items[2].id */
};

static void dec_fail(struct dec *dc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static size_t path_push(struct dec *dc, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
dec_fail(struct dec *dc, const char *fmt, ...)
{
	char    msg[PBJSON_ERR_MAX];
	va_list ap;

	if (dc->failed)
		return;
	dc->failed = true;
	if (dc->err == NULL || dc->errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (dc->plen > 0)
		snprintf(dc->err, dc->errlen, "%s: %s", dc->path, msg);
	else
		snprintf(dc->err, dc->errlen, "%s", msg);
}

/* Append to the path; returns what path_pop() needs to undo it.  A path
 * too long for the buffer is cut, never overrun. */
static size_t
path_push(struct dec *dc, const char *fmt, ...)
{
	size_t  old = dc->plen;
	va_list ap;
	int     n;

	va_start(ap, fmt);
	n = vsnprintf(dc->path + old, sizeof(dc->path) - old, fmt, ap);
	va_end(ap);
	if (n > 0)
		dc->plen += (size_t)n < sizeof(dc->path) - old
		                ? (size_t)n
		                : sizeof(dc->path) - old - 1;
	return old;
}

static void
path_pop(struct dec *dc, size_t old)
{
	dc->plen      = old;
	dc->path[old] = '\0';
}

static const char *
json_kind(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "object";
	case JSON_ARRAY:
		return "array";
	case JSON_STRING:
		return "string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "number";
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	default:
		return "null";
	}
}

static int
dec_type(struct dec *dc, const char *want, const json_t *v)
{
	dec_fail(dc, "expected %s, got %s", want, json_kind(v));
	return -1;
}

/* The protobuf type an integer field has, for range errors. */
static const char *
int_type_name(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
		return "int32";
	case PROTOBUF_C_TYPE_SINT32:
		return "sint32";
	case PROTOBUF_C_TYPE_SFIXED32:
		return "sfixed32";
	case PROTOBUF_C_TYPE_UINT32:
		return "uint32";
	case PROTOBUF_C_TYPE_FIXED32:
		return "fixed32";
	case PROTOBUF_C_TYPE_INT64:
		return "int64";
	case PROTOBUF_C_TYPE_SINT64:
		return "sint64";
	case PROTOBUF_C_TYPE_SFIXED64:
		return "sfixed64";
	case PROTOBUF_C_TYPE_UINT64:
		return "uint64";
	case PROTOBUF_C_TYPE_FIXED64:
		return "fixed64";
	default:
		return "enum";
	}
}

/* v as sign and magnitude: a JSON integer, a real without a fraction
 * (1.0, 1e3), or a string of decimal digits with an optional '-' (how
 * 64-bit values arrive).  0 or -1 (reason given). */
static int
dec_integer(struct dec *dc, const json_t *v, const char *type, bool *neg,
    uint64_t *mag)
{
	if (json_is_integer(v)) {
		json_int_t x = json_integer_value(v);

		*neg = x < 0;
		*mag = x < 0 ? (uint64_t)(-(x + 1)) + 1 : (uint64_t)x;
		return 0;
	}
	if (json_is_real(v)) {
		double x = json_real_value(v), a = x < 0 ? -x : x;

		*neg = x < 0;
		if (a >= 18446744073709551616.0) /* 2^64: integral anyway */
			goto out_range;
		*mag = (uint64_t)a;
		if ((double)*mag != a) {
			dec_fail(dc, "not an integer");
			return -1;
		}
		return 0;
	}
	if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t      n = json_string_length(v), i = 0;

		*neg = n > 0 && s[0] == '-';
		i    = *neg;
		if (i == n)
			goto out_syntax;
		for (*mag = 0; i < n; i++) {
			unsigned dgt = (unsigned char)s[i] - '0';

			if (dgt > 9)
				goto out_syntax;
			if (*mag > (UINT64_MAX - dgt) / 10)
				goto out_range;
			*mag = *mag * 10 + dgt;
		}
		return 0;
	}
	return dec_type(dc, "an integer (number or string)", v);
out_syntax:
	dec_fail(dc, "not an integer");
	return -1;
out_range:
	dec_fail(dc, "out of range for %s", type);
	return -1;
}

static int
dec_signed(struct dec *dc, const json_t *v, ProtobufCType t, int64_t min,
    int64_t max, int64_t *out)
{
	const char *type = int_type_name(t);
	uint64_t    mag;
	bool        neg;

	if (dec_integer(dc, v, type, &neg, &mag) != 0)
		return -1;
	/* -(min + 1) + 1: |min| without overflowing int64 */
	if (neg ? mag > (uint64_t)(-(min + 1)) + 1 : mag > (uint64_t)max) {
		dec_fail(dc, "out of range for %s", type);
		return -1;
	}
	*out = neg ? (int64_t)(0 - mag) : (int64_t)mag;
	return 0;
}

static int
dec_unsigned(struct dec *dc, const json_t *v, ProtobufCType t, uint64_t max,
    uint64_t *out)
{
	const char *type = int_type_name(t);
	uint64_t    mag;
	bool        neg;

	if (dec_integer(dc, v, type, &neg, &mag) != 0)
		return -1;
	if ((neg && mag != 0) || mag > max) {
		dec_fail(dc, "out of range for %s", type);
		return -1;
	}
	*out = mag;
	return 0;
}

/* s (n bytes) has JSON's number syntax: strtod() alone would also take
 * hex, "inf", leading blanks and a '+'. */
static bool
json_number_syntax(const char *s, size_t n)
{
	size_t i = 0, d;

	if (i < n && s[i] == '-')
		i++;
	if (i < n && s[i] == '0') {
		i++;
	} else {
		for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return false;
	}
	if (i < n && s[i] == '.') {
		for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return false;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			;
		if (i == d)
			return false;
	}
	return i == n;
}

/* A float or double: a JSON number, or a string holding one or "NaN",
 * "Infinity", "-Infinity". */
static int
dec_real(struct dec *dc, const json_t *v, bool is_float, double *out)
{
	const char  *what = is_float ? "float" : "double";
	json_error_t jerr;
	json_t      *num;

	if (json_is_integer(v)) {
		*out = (double)json_integer_value(v);
	} else if (json_is_real(v)) {
		*out = json_real_value(v);
	} else if (json_is_string(v)) {
		const char *s = json_string_value(v);
		size_t      n = json_string_length(v);

		if (strcmp(s, "NaN") == 0) {
			*out = NAN;
			return 0;
		}
		if (strcmp(s, "Infinity") == 0 ||
		    strcmp(s, "-Infinity") == 0) {
			*out = s[0] == '-' ? -INFINITY : INFINITY;
			return 0;
		}
		if (!json_number_syntax(s, n)) {
			dec_fail(dc, "not a number");
			return -1;
		}
		/* jansson reads it, as it read the numbers around it: no
		 * locale's decimal comma; with the syntax checked, the only
		 * failures left are overflow and memory */
		num = json_loadb(
		    s, n, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &jerr);
		if (num == NULL) {
			dec_fail(dc, "out of range for %s", what);
			return -1;
		}
		*out = json_number_value(num);
		json_decref(num);
	} else {
		return dec_type(dc, "a number", v);
	}
	if (is_float && isinf((float)*out) && !isinf(*out)) {
		dec_fail(dc, "out of range for %s", what);
		return -1;
	}
	return 0;
}

static ProtobufCMessage *dec_message(struct dec *dc,
    const ProtobufCMessageDescriptor *d, const json_t *obj, unsigned depth);

/* One value of field f (one element when repeated) into out, which holds
 * the type's zero (or default) value.  On error nothing is left
 * allocated that out does not own. */
static int
dec_value(struct dec *dc, const ProtobufCFieldDescriptor *f, const json_t *v,
    void *out, unsigned depth)
{
	int64_t  s64;
	uint64_t u64;
	double   dbl;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		if (dec_signed(dc, v, f->type, INT32_MIN, INT32_MAX, &s64))
			return -1;
		*(int32_t *)out = (int32_t)s64;
		return 0;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		if (dec_unsigned(dc, v, f->type, UINT32_MAX, &u64))
			return -1;
		*(uint32_t *)out = (uint32_t)u64;
		return 0;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		if (dec_signed(dc, v, f->type, INT64_MIN, INT64_MAX, &s64))
			return -1;
		*(int64_t *)out = s64;
		return 0;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
		if (dec_unsigned(dc, v, f->type, UINT64_MAX, &u64))
			return -1;
		*(uint64_t *)out = u64;
		return 0;
	case PROTOBUF_C_TYPE_FLOAT:
		if (dec_real(dc, v, true, &dbl))
			return -1;
		*(float *)out = (float)dbl;
		return 0;
	case PROTOBUF_C_TYPE_DOUBLE:
		if (dec_real(dc, v, false, &dbl))
			return -1;
		*(double *)out = dbl;
		return 0;
	case PROTOBUF_C_TYPE_BOOL:
		if (!json_is_boolean(v))
			return dec_type(dc, "true or false", v);
		*(protobuf_c_boolean *)out = json_is_true(v);
		return 0;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumDescriptor *ed = f->descriptor;
		const ProtobufCEnumValue      *ev;

		if (json_is_string(v)) {
			ev = protobuf_c_enum_descriptor_get_value_by_name(
			    ed, json_string_value(v));
			if (ev == NULL) {
				dec_fail(dc, "no value of %s has that name",
				    ed->name);
				return -1;
			}
			*(int32_t *)out = ev->value;
			return 0;
		}
		if (!json_is_number(v))
			return dec_type(dc, "an enum name or number", v);
		/* any int32: proto3's enums are open, and the encoder
		 * writes a number it has no name for as the number */
		if (dec_signed(dc, v, f->type, INT32_MIN, INT32_MAX, &s64))
			return -1;
		*(int32_t *)out = (int32_t)s64;
		return 0;
	}
	case PROTOBUF_C_TYPE_STRING: {
		size_t n;
		char  *s;

		if (!json_is_string(v))
			return dec_type(dc, "a string", v);
		/* jansson has checked the UTF-8; a C string ends at NUL */
		n = json_string_length(v);
		if (memchr(json_string_value(v), '\0', n) != NULL) {
			dec_fail(dc, "string holds a NUL character");
			return -1;
		}
		if ((s = malloc(n + 1)) == NULL) {
			dec_fail(dc, OOM);
			return -1;
		}
		memcpy(s, json_string_value(v), n + 1);
		*(char **)out = s;
		return 0;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		int rc;

		if (!json_is_string(v))
			return dec_type(dc, "a base64 string", v);
		rc = b64_decode(
		    json_string_value(v), json_string_length(v), out);
		if (rc != 0)
			dec_fail(dc, rc == -2 ? OOM : "not valid base64");
		return rc != 0 ? -1 : 0;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		ProtobufCMessage *sub;

		if (!json_is_object(v))
			return dec_type(dc, "an object", v);
		if ((sub = dec_message(dc, f->descriptor, v, depth + 1)) ==
		    NULL)
			return -1;
		*(ProtobufCMessage **)out = sub;
		return 0;
	}
	}
	dec_fail(dc, "field type %d not supported", (int)f->type);
	return -1;
}

/* A repeated field: the array and its count are in m before the first
 * element is decoded, the elements zeroed, so free_unpacked() frees a
 * partial array like a whole one. */
static int
dec_repeated(struct dec *dc, ProtobufCMessage *m,
    const ProtobufCFieldDescriptor *f, const json_t *v, unsigned depth)
{
	char  *base = (char *)m;
	size_t n, sz = elem_size(f->type);
	char  *arr;

	if (!json_is_array(v))
		return dec_type(dc, "an array", v);
	if ((n = json_array_size(v)) == 0)
		return 0;
	if ((arr = calloc(n, sz)) == NULL) {
		dec_fail(dc, OOM);
		return -1;
	}
	*(size_t *)(base + f->quantifier_offset) = n;
	*(void **)(base + f->offset)             = arr;
	for (size_t i = 0; i < n; i++) {
		const json_t *el  = json_array_get(v, i);
		size_t        old = path_push(dc, "[%zu]", i);
		int           rc  = 0;

		if (json_is_null(el))
			rc = dec_type(dc, "a value", el);
		else
			rc = dec_value(dc, f, el, arr + i * sz, depth);
		path_pop(dc, old);
		if (rc != 0)
			return -1;
	}
	return 0;
}

static int
dec_field(struct dec *dc, ProtobufCMessage *m,
    const ProtobufCFieldDescriptor *f, const json_t *v, unsigned depth)
{
	char *base = (char *)m;
	void *q    = base + f->quantifier_offset;

	if (f->label == PROTOBUF_C_LABEL_REPEATED)
		return dec_repeated(dc, m, f, v, depth);
	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		/* the members share storage: a second one would overwrite
		 * (and leak) the first */
		if (*(uint32_t *)q != 0) {
			dec_fail(dc, "another member of its oneof is set");
			return -1;
		}
		if (dec_value(dc, f, v, base + f->offset, depth) != 0)
			return -1;
		*(uint32_t *)q = f->id;
		return 0;
	}
	if (dec_value(dc, f, v, base + f->offset, depth) != 0)
		return -1;
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL &&
	    f->type != PROTOBUF_C_TYPE_STRING &&
	    f->type != PROTOBUF_C_TYPE_MESSAGE)
		*(protobuf_c_boolean *)q = 1;
	return 0;
}

/* The value obj gives field f (NULL: none), under its JSON name or its
 * proto name; *key is the name it came under.  -1 when it has both. */
static int
dec_lookup(struct dec *dc, const json_t *obj,
    const ProtobufCFieldDescriptor *f, const struct jname *jn, json_t **v,
    const char **key)
{
	json_t *a = json_object_get(obj, jn->s);
	json_t *b = NULL;

	if (strcmp(jn->s, f->name) != 0)
		b = json_object_get(obj, f->name);
	if (a != NULL && b != NULL) {
		dec_fail(dc, "field given twice, as \"%s\" and \"%s\"", jn->s,
		    f->name);
		return -1;
	}
	*v   = a != NULL ? a : b;
	*key = a != NULL ? jn->s : f->name;
	return 0;
}

/* Whether key names a field of d, by either name (out of memory: no). */
static bool
dec_known(const ProtobufCMessageDescriptor *d, const char *key)
{
	for (unsigned i = 0; i < d->n_fields; i++) {
		struct jname jn;
		bool         hit;

		if (strcmp(d->fields[i].name, key) == 0)
			return true;
		if (jname_init(&jn, &d->fields[i]) != 0)
			return false;
		hit = strcmp(jn.s, key) == 0;
		jname_fini(&jn);
		if (hit)
			return true;
	}
	return false;
}

/* Refuse the first key of obj that is no field of d. */
static void
dec_unknown(
    struct dec *dc, const ProtobufCMessageDescriptor *d, const json_t *obj)
{
	const char *key;
	json_t     *v;

	json_object_foreach((json_t *)obj, key, v)
	{
		char   q[PBJSON_KEY_MAX];
		size_t n = strlen(key);

		if (dec_known(d, key))
			continue;
		if (n >= sizeof(q)) {
			n = sizeof(q) - 4; /* room for "..." */
			while (n > 0 && ((unsigned char)key[n] & 0xc0) == 0x80)
				n--; /* not in the middle of a character */
			snprintf(q, sizeof(q), "%.*s...", (int)n, key);
		} else {
			memcpy(q, key, n + 1);
		}
		dec_fail(dc, "unknown field \"%s\" in %s", q, d->name);
		return;
	}
	/* every key is a field's, so one key named two fields ("a_b" and
	 * "aB": protoc warns of that JSON name clash) */
	dec_fail(dc, "a key names two fields of %s", d->name);
}

/* Field f of m from obj, if obj has it (null is absent, as protobuf
 * says); a required field it lacks is refused. */
static int
dec_field_of(struct dec *dc, ProtobufCMessage *m,
    const ProtobufCFieldDescriptor *f, const json_t *obj, unsigned depth)
{
	struct jname jn;
	const char  *key;
	json_t      *v;
	size_t       old;
	int          rc;

	if (jname_init(&jn, f) != 0) {
		dec_fail(dc, OOM);
		return -1;
	}
	if ((rc = dec_lookup(dc, obj, f, &jn, &v, &key)) != 0)
		goto out_name;
	if (v == NULL || json_is_null(v)) {
		if (f->label == PROTOBUF_C_LABEL_REQUIRED) {
			old = path_push(dc, dc->plen > 0 ? ".%s" : "%s", jn.s);
			dec_fail(dc, "missing required field");
			path_pop(dc, old);
			rc = -1;
		}
		goto out_name;
	}
	old = path_push(dc, dc->plen > 0 ? ".%s" : "%s", key);
	rc  = dec_field(dc, m, f, v, depth);
	path_pop(dc, old);
out_name:
	jname_fini(&jn);
	return rc;
}

/* Fill m from obj.  Every key is matched to a field first, so an unknown
 * key or a field under both names is refused before any value is built;
 * then the values, in field-number order. */
static int
dec_fields(
    struct dec *dc, ProtobufCMessage *m, const json_t *obj, unsigned depth)
{
	const ProtobufCMessageDescriptor *d    = m->descriptor;
	size_t                            seen = 0;

	for (unsigned i = 0; i < d->n_fields; i++) {
		struct jname jn;
		const char  *key;
		json_t      *v;
		int          rc;

		if (jname_init(&jn, &d->fields[i]) != 0) {
			dec_fail(dc, OOM);
			return -1;
		}
		rc = dec_lookup(dc, obj, &d->fields[i], &jn, &v, &key);
		jname_fini(&jn);
		if (rc != 0)
			return -1;
		seen += v != NULL;
	}
	if (seen != json_object_size(obj)) {
		dec_unknown(dc, d, obj);
		return -1;
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		if (dec_field_of(dc, m, &d->fields[i], obj, depth) != 0)
			return -1;
	}
	return 0;
}

static ProtobufCMessage *
dec_message(struct dec *dc, const ProtobufCMessageDescriptor *d,
    const json_t *obj, unsigned depth)
{
	ProtobufCMessage *m;

	if (depth > PBJSON_MAX_DEPTH) {
		dec_fail(
		    dc, "messages nested deeper than %d", PBJSON_MAX_DEPTH);
		return NULL;
	}
	if ((m = malloc(d->sizeof_message)) == NULL) {
		dec_fail(dc, OOM);
		return NULL;
	}
	protobuf_c_message_init(d, m);
	if (dec_fields(dc, m, obj, depth) != 0) {
		protobuf_c_message_free_unpacked(m, NULL);
		return NULL;
	}
	return m;
}

static bool
descriptor_ok(const ProtobufCMessageDescriptor *d)
{
	return d != NULL && d->magic == PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC;
}

ProtobufCMessage *
pbjson_decode(const ProtobufCMessageDescriptor *d, const char *json,
    size_t len, char *err, size_t errlen)
{
	struct dec        dc = { .err = err, .errlen = errlen };
	ProtobufCMessage *m  = NULL;
	json_error_t      jerr;
	json_t           *root;

	err_clear(err, errlen);
	if (!descriptor_ok(d)) {
		dec_fail(&dc, "not a message descriptor");
		goto out;
	}
	if (json == NULL) {
		if (len > 0) {
			dec_fail(&dc, "no text");
			goto out;
		}
		json = "";
	}
	/* DECODE_ANY: a scalar gets our message below, not jansson's */
	root = json_loadb(
	    json, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
	if (root == NULL) {
		dec_fail(&dc, "invalid JSON at line %d column %d: %s",
		    jerr.line, jerr.column, jerr.text);
		goto out;
	}
	if (!json_is_object(root)) {
		dec_fail(
		    &dc, "expected a JSON object, got %s", json_kind(root));
		goto out_decref;
	}
	m = dec_message(&dc, d, root, 1);
	/* our walk finds missing required fields; this is the runtime's
	 * own word on the whole message before anyone packs it */
	if (m != NULL && !protobuf_c_message_check(m)) {
		dec_fail(&dc, "missing required field");
		protobuf_c_message_free_unpacked(m, NULL);
		m = NULL;
	}
out_decref:
	json_decref(root);
out:
	if (m == NULL)
		err_sanitize(err, errlen);
	return m;
}

/* ---- binary <-> JSON ------------------------------------------------ */

char *
pbjson_from_binary(const ProtobufCMessageDescriptor *d, const uint8_t *bytes,
    size_t n, size_t *len, char *err, size_t errlen)
{
	struct enc e = {
		.strict = true, .digits = 1, .err = err, .errlen = errlen
	};
	ProtobufCMessage *m;
	char             *s = NULL;

	err_clear(err, errlen);
	if (!descriptor_ok(d)) {
		enc_fail(&e, "not a message descriptor");
		goto out;
	}
	if (bytes == NULL && n > 0) {
		enc_fail(&e, "no bytes");
		goto out;
	}
	m = protobuf_c_message_unpack(
	    d, NULL, n, bytes != NULL ? bytes : (const uint8_t *)"");
	if (m == NULL) {
		enc_fail(&e, "bytes are not a valid %s", d->name);
		goto out;
	}
	s = enc_dump(&e, m, len);
	protobuf_c_message_free_unpacked(m, NULL);
out:
	if (s == NULL)
		err_sanitize(err, errlen);
	return s;
}

uint8_t *
pbjson_to_binary(const ProtobufCMessageDescriptor *d, const char *json,
    size_t len, size_t *n, char *err, size_t errlen)
{
	ProtobufCMessage *m;
	uint8_t          *buf;
	size_t            size;

	if ((m = pbjson_decode(d, json, len, err, errlen)) == NULL)
		return NULL;
	size = protobuf_c_message_get_packed_size(m);
	/* never malloc(0): NULL must mean failure */
	if ((buf = malloc(size > 0 ? size : 1)) == NULL) {
		if (err != NULL && errlen > 0)
			snprintf(err, errlen, OOM);
	} else {
		protobuf_c_message_pack(m, buf);
		*n = size;
	}
	protobuf_c_message_free_unpacked(m, NULL);
	return buf;
}
