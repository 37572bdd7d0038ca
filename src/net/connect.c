/* SPDX-License-Identifier: MIT */
/*
 * The Connect protocol's unary calls (see connect.h): request headers and
 * body to a packed inventory.v1.Request, packed Response to an answer.
 * The JSON codec is pbjson (proto/json), driven by the method's
 * descriptors, so no message is read or written by hand here; the error
 * body is built with jansson.
 *
 * A GET and a POST part only in where the request message comes from
 * (the query's message parameter, or the body) and how its codec is named
 * (encoding=, or Content-Type): from the message bytes on, both take the
 * one path (envelope_pack()), so a GET can never reach the server as
 * anything a POST could not.  A query is decoded strictly: a '%' without
 * two hex digits, bad base64 or a parameter twice refuses the call.
 */
#include "net/connect.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <jansson.h>

#include "base/code.h"
#include "inventory/v1/service.pb-c.h"
#include "pbjson.h"

#define CT_PROTO "application/proto"
#define CT_JSON  "application/json"

enum {
	CONNECT_METHOD_MAX         = 64, /* longer than any method name */
	CONNECT_TIMEOUT_DIGITS_MAX = 10, /* the protocol's limit */
	CONNECT_PARAM_MAX          = 16, /* a query name or short value */
};

/* The methods service.proto marks `option idempotency_level =
 * NO_SIDE_EFFECTS`, the ones Connect lets a client call by GET.  protoc-c
 * keeps no method options in its descriptors, so they are listed again
 * here; connect_test.sh calls every rpc of the .proto by GET and fails
 * when this list and the .proto disagree. */
static const char *const get_methods[] = {
	"GetProduct",
	"BatchGetProducts",
	"ListProducts",
};

/* The protocol's names and HTTP statuses, by Code number (gRPC's). */
static const struct {
	const char *name;
	unsigned    status;
} codes[] = {
	[0]  = { "ok", 200 },
	[1]  = { "canceled", 499 },
	[2]  = { "unknown", 500 },
	[3]  = { "invalid_argument", 400 },
	[4]  = { "deadline_exceeded", 504 },
	[5]  = { "not_found", 404 },
	[6]  = { "already_exists", 409 },
	[7]  = { "permission_denied", 403 },
	[8]  = { "resource_exhausted", 429 },
	[9]  = { "failed_precondition", 400 },
	[10] = { "aborted", 409 },
	[11] = { "out_of_range", 400 },
	[12] = { "unimplemented", 501 },
	[13] = { "internal", 500 },
	[14] = { "unavailable", 503 },
	[15] = { "data_loss", 500 },
	[16] = { "unauthenticated", 401 },
};

const char *
connect_code_name(unsigned code)
{
	return code < sizeof(codes) / sizeof(codes[0]) ? codes[code].name
	                                               : "unknown";
}

unsigned
connect_http_status(unsigned code)
{
	return code < sizeof(codes) / sizeof(codes[0]) ? codes[code].status
	                                               : 500;
}

/* ---- the error body ------------------------------------------------------
 */

/* {"type": "inventory.v1.ErrorDetails", "value": base64 (no padding, as
 * connect-go writes it; readers accept both), "debug": the same as JSON}.
 * NULL when out of memory. */
static json_t *
error_detail(const Inventory__V1__ErrorDetails *d)
{
	size_t   n   = inventory__v1__error_details__get_packed_size(d);
	uint8_t *bin = malloc(n > 0 ? n : 1);
	char    *b64 = NULL, *dbg = NULL;
	json_t  *o = NULL, *debug = NULL;
	size_t   blen;

	if (bin == NULL)
		goto out;
	inventory__v1__error_details__pack(d, bin);
	if ((b64 = pbjson_base64(bin, n)) == NULL)
		goto out;
	blen = strlen(b64);
	while (blen > 0 && b64[blen - 1] == '=')
		b64[--blen] = '\0';
	if ((dbg = pbjson_encode(&d->base, NULL)) != NULL)
		debug = json_loads(dbg, 0, NULL);
	o = json_pack(
	    "{s:s, s:s}", "type", "inventory.v1.ErrorDetails", "value", b64);
	if (o != NULL && debug != NULL)
		json_object_set_new(o, "debug", debug);
	else
		json_decref(debug);
out:
	free(dbg);
	free(b64);
	free(bin);
	return o;
}

static int
answer_error_details(struct connect_answer *a, unsigned code,
    const char *message, const Inventory__V1__ErrorDetails *details)
{
	json_t *o = json_pack("{s:s}", "code", connect_code_name(code));
	json_t *d;
	char   *text;

	if (o == NULL)
		return -1;
	if (message != NULL && message[0] != '\0')
		json_object_set_new(o, "message", json_string(message));
	if (details != NULL) {
		if ((d = error_detail(details)) == NULL) {
			json_decref(o);
			return -1;
		}
		json_object_set_new(o, "details", json_pack("[o]", d));
	}
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (text == NULL)
		return -1;
	a->status = connect_http_status(code);
	a->ctype  = CT_JSON; /* always, even for a binary call */
	a->allow  = NULL;
	a->code   = code;
	a->body   = text;
	a->len    = strlen(text);
	return 0;
}

int
connect_answer_error(
    struct connect_answer *a, unsigned code, const char *message)
{
	return answer_error_details(a, code, message, NULL);
}

/* ---- the request ---------------------------------------------------------
 */

/* Whether the media type of ct (before any ';' parameters) is want. */
static bool
media_is(const char *ct, const char *want)
{
	size_t n = strlen(want);

	while (*ct == ' ')
		ct++;
	if (strncasecmp(ct, want, n) != 0)
		return false;
	ct += n;
	while (*ct == ' ')
		ct++;
	return *ct == '\0' || *ct == ';';
}

/* Connect-Timeout-Ms: 1 to 10 ASCII digits; clamped to the envelope's
 * uint32 (49 days).  0, or -1 when malformed. */
static int
parse_timeout(const char *s, uint32_t *ms)
{
	unsigned long long v = 0;
	size_t             n = 0;

	for (; s[n] != '\0'; n++) {
		if (!isdigit((unsigned char)s[n]) ||
		    n == CONNECT_TIMEOUT_DIGITS_MAX)
			return -1;
		v = v * 10 + (unsigned)(s[n] - '0');
	}
	if (n == 0)
		return -1;
	*ms = v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
	return 0;
}

/* The token of `Authorization: Bearer TOKEN` (the scheme in any case,
 * RFC 7235); NULL for none or another scheme. */
static const char *
bearer_token(const char *v)
{
	static const char scheme[] = "Bearer ";

	if (v == NULL || strncasecmp(v, scheme, sizeof(scheme) - 1) != 0)
		return NULL;
	v += sizeof(scheme) - 1;
	while (*v == ' ')
		v++;
	return *v != '\0' ? v : NULL;
}

int
connect_method_index(const struct connect_call *call)
{
	if (call->method == NULL)
		return -1;
	return (int)(call->method -
	             inventory__v1__inventory_service__descriptor.methods);
}

bool
connect_get_allowed(const char *method)
{
	for (size_t i = 0; i < sizeof(get_methods) / sizeof(get_methods[0]);
	     i++)
		if (strcmp(method, get_methods[i]) == 0)
			return true;
	return false;
}

/* Whether every '%' of s[0..n) starts an escape (two hex digits). */
static bool
escapes_valid(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '%' &&
		    (i + 2 >= n || !isxdigit((unsigned char)s[i + 1]) ||
		        !isxdigit((unsigned char)s[i + 2])))
			return false;
	return true;
}

static unsigned
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned)(c - '0');
	return (unsigned)(tolower((unsigned char)c) - 'a' + 10);
}

/* Percent-decode s[0..n), whose escapes are valid, into out (room for n
 * bytes; any byte, NUL too), '+' read as a space as in a form (Go's
 * url.ParseQuery, which connect-go's servers use, does the same).  The
 * decoded length. */
static size_t
percent_decode(const char *s, size_t n, uint8_t *out)
{
	size_t w = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '%') {
			out[w++] = (uint8_t)(hex_value(s[i + 1]) << 4 |
			                     hex_value(s[i + 2]));
			i += 2;
		} else
			out[w++] = s[i] == '+' ? ' ' : (uint8_t)s[i];
	}
	return w;
}

/* Whether the query value s[0..n) decodes to want. */
static bool
param_is(const char *s, size_t n, const char *want)
{
	uint8_t buf[CONNECT_PARAM_MAX];
	size_t  len;

	if (n >= sizeof(buf))
		return false;
	len = percent_decode(s, n, buf);
	return len == strlen(want) && memcmp(buf, want, len) == 0;
}

/* Value of a URL-safe base64 digit (RFC 4648 section 5), or -1. */
static int
b64url_digit(uint8_t c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

/* URL-safe base64 in b[0..*n), padding optional, decoded in place: 0 with
 * the new *n, or -1 when it is not base64. */
static int
b64url_decode(uint8_t *b, size_t *n)
{
	size_t   len = *n, w = 0;
	unsigned acc = 0, bits = 0;

	if (len % 4 == 0 && len > 0 && b[len - 1] == '=')
		len -= len > 1 && b[len - 2] == '=' ? 2 : 1;
	if (len % 4 == 1)
		return -1;
	for (size_t i = 0; i < len; i++) {
		int v = b64url_digit(b[i]);

		if (v < 0)
			return -1;
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			b[w++] = (uint8_t)(acc >> bits);
		}
	}
	*n = w;
	return 0;
}

/* The query parameters the protocol names; others are ignored (a cache
 * buster, say). */
enum get_param {
	GET_CONNECT,
	GET_ENCODING,
	GET_MESSAGE,
	GET_BASE64,
	GET_COMPRESSION,
	GET_PARAMS
};

static const char *const get_param_names[GET_PARAMS] = {
	[GET_CONNECT]     = "connect",
	[GET_ENCODING]    = "encoding",
	[GET_MESSAGE]     = "message",
	[GET_BASE64]      = "base64",
	[GET_COMPRESSION] = "compression",
};

/* Refuse the call: an error answer for code and message, with status
 * (0: the code's own HTTP status).  Always -1. */
static int
refuse(struct connect_answer *a, unsigned code, const char *message,
    unsigned status)
{
	(void)connect_answer_error(a, code, message);
	if (status != 0)
		a->status = status;
	return -1;
}

/* A GET's query to its codec (call->json) and the request message:
 * 0 with *msg malloc'd (*len bytes), or -1 with the refusal in a. */
static int
get_message(const char *q, struct connect_call *call, uint8_t **msg,
    size_t *len, struct connect_answer *a)
{
	const char *val[GET_PARAMS]  = { NULL };
	size_t      vlen[GET_PARAMS] = { 0 };
	size_t      qlen             = q != NULL ? strlen(q) : 0;
	bool        b64              = false;

	*msg = NULL;
	if (!escapes_valid(q != NULL ? q : "", qlen))
		return refuse(a, CODE_INVALID_ARGUMENT,
		    "the query has a '%' without two hex digits", 0);
	for (const char *p = q; p != NULL && *p != '\0';) {
		size_t      n  = strcspn(p, "&");
		const char *eq = memchr(p, '=', n);
		size_t      kn = eq != NULL ? (size_t)(eq - p) : n;

		for (int i = 0; i < GET_PARAMS; i++) {
			if (!param_is(p, kn, get_param_names[i]))
				continue;
			if (val[i] != NULL)
				return refuse(a, CODE_INVALID_ARGUMENT,
				    "a query parameter is given twice", 0);
			val[i]  = eq != NULL ? eq + 1 : p + n;
			vlen[i] = eq != NULL ? n - kn - 1 : 0;
		}
		p += n;
		if (*p == '&')
			p++;
	}
	if (val[GET_CONNECT] != NULL &&
	    !param_is(val[GET_CONNECT], vlen[GET_CONNECT], "v1"))
		return refuse(
		    a, CODE_INVALID_ARGUMENT, "connect must be v1", 0);
	if (val[GET_ENCODING] != NULL &&
	    param_is(val[GET_ENCODING], vlen[GET_ENCODING], "proto"))
		call->json = false;
	else if (val[GET_ENCODING] != NULL &&
	         param_is(val[GET_ENCODING], vlen[GET_ENCODING], "json"))
		call->json = true;
	else
		return refuse(a, CODE_UNIMPLEMENTED,
		    "encoding must be proto or json", 415);
	if (val[GET_COMPRESSION] != NULL &&
	    !param_is(val[GET_COMPRESSION], vlen[GET_COMPRESSION], "identity"))
		return refuse(a, CODE_UNIMPLEMENTED,
		    "compression: only identity (no compression)", 0);
	if (val[GET_BASE64] != NULL) {
		if (param_is(val[GET_BASE64], vlen[GET_BASE64], "1"))
			b64 = true;
		else if (!param_is(val[GET_BASE64], vlen[GET_BASE64], "0"))
			return refuse(a, CODE_INVALID_ARGUMENT,
			    "base64 must be 1 or 0", 0);
	}
	if (val[GET_MESSAGE] == NULL)
		return refuse(a, CODE_INVALID_ARGUMENT,
		    "a GET needs the request in its message parameter", 0);
	if ((*msg = malloc(vlen[GET_MESSAGE] + 1)) == NULL)
		return refuse(a, CODE_RESOURCE_EXHAUSTED, "out of memory", 0);
	*len = percent_decode(val[GET_MESSAGE], vlen[GET_MESSAGE], *msg);
	if (b64 && b64url_decode(*msg, len) != 0) {
		free(*msg);
		*msg = NULL;
		return refuse(a, CODE_INVALID_ARGUMENT,
		    "message is not URL-safe base64", 0);
	}
	return 0;
}

/* A POST's codec from its headers: 0 with call->json, or -1 with the
 * refusal in a. */
static int
post_codec(const struct connect_request *r, struct connect_call *call,
    struct connect_answer *a)
{
	if (r->content_type != NULL && media_is(r->content_type, CT_PROTO))
		call->json = false;
	else if (r->content_type != NULL && media_is(r->content_type, CT_JSON))
		call->json = true;
	else
		return refuse(a, CODE_UNIMPLEMENTED,
		    "Content-Type must be application/proto or "
		    "application/json",
		    415);
	if (r->content_encoding != NULL &&
	    strcasecmp(r->content_encoding, "identity") != 0)
		return refuse(a, CODE_UNIMPLEMENTED,
		    "Content-Encoding: only identity (no compression)", 0);
	return 0;
}

/* The request message (msg, len bytes in call's codec) and r's headers
 * as the packed envelope: what a GET and a POST share.  0, or -1 with the
 * refusal in a. */
static int
envelope_pack(const struct connect_request *r, const struct connect_call *call,
    const uint8_t *msg, size_t len, uint8_t **env, size_t *env_len,
    struct connect_answer *a)
{
	Inventory__V1__Request req = INVENTORY__V1__REQUEST__INIT;
	char        full[sizeof(CONNECT_PREFIX) + CONNECT_METHOD_MAX];
	char        why[PBJSON_ERR_MAX + 32];
	uint8_t    *json_bin = NULL;
	size_t      json_len = 0;
	uint32_t    timeout;
	const char *token;

	if (r->protocol_version != NULL &&
	    strcmp(r->protocol_version, "1") != 0)
		return refuse(a, CODE_INVALID_ARGUMENT,
		    "Connect-Protocol-Version must be 1", 0);
	if (r->timeout_ms != NULL) {
		if (parse_timeout(r->timeout_ms, &timeout) != 0)
			return refuse(a, CODE_INVALID_ARGUMENT,
			    "Connect-Timeout-Ms must be 1 to 10 digits", 0);
		req.has_timeout_ms = 1;
		req.timeout_ms     = timeout;
	}
	if (call->json) {
		char err[PBJSON_ERR_MAX];

		json_bin = pbjson_to_binary(call->method->input,
		    (const char *)msg, len, &json_len, err, sizeof(err));
		if (json_bin == NULL) {
			snprintf(why, sizeof(why), "JSON %s: %s",
			    call->method->input->name, err);
			return refuse(a, CODE_INVALID_ARGUMENT, why, 0);
		}
		req.payload.data = json_bin;
		req.payload.len  = json_len;
	} else {
		req.payload.data = (uint8_t *)msg;
		req.payload.len  = len;
	}
	req.has_payload = 1;
	snprintf(full, sizeof(full), CONNECT_PREFIX "%s", call->method->name);
	req.method = full;
	if (r->idempotency_key != NULL)
		req.request_id = (char *)r->idempotency_key;
	if ((token = bearer_token(r->authorization)) != NULL)
		req.token = (char *)token;

	*env_len = inventory__v1__request__get_packed_size(&req);
	if ((*env = malloc(*env_len > 0 ? *env_len : 1)) == NULL) {
		free(json_bin);
		return refuse(a, CODE_RESOURCE_EXHAUSTED, "out of memory", 0);
	}
	inventory__v1__request__pack(&req, *env);
	free(json_bin);
	return 0;
}

int
connect_envelope(const struct connect_request *r, struct connect_call *call,
    uint8_t **env, size_t *env_len, struct connect_answer *a)
{
	uint8_t *msg = NULL;
	size_t   len = 0;
	int      rv;

	*env         = NULL;
	*env_len     = 0;
	call->json   = false;
	call->method = protobuf_c_service_descriptor_get_method_by_name(
	    &inventory__v1__inventory_service__descriptor, r->method);
	if (call->method == NULL) /* an unknown procedure is an HTTP 404 */
		return refuse(a, CODE_UNIMPLEMENTED,
		    "no such method in inventory.v1.InventoryService", 404);
	if (!r->get) {
		if (post_codec(r, call, a) != 0)
			return -1;
		return envelope_pack(
		    r, call, r->body, r->body_len, env, env_len, a);
	}
	if (!connect_get_allowed(call->method->name)) {
		/* As connect-go: a call with side effects is POST only. */
		rv       = refuse(a, CODE_UNIMPLEMENTED,
		          "this method has side effects: POST only", 405);
		a->allow = "POST";
		return rv;
	}
	if (get_message(r->query, call, &msg, &len, a) != 0)
		return -1;
	rv = envelope_pack(r, call, msg, len, env, env_len, a);
	free(msg);
	return rv;
}

/* ---- the answer ----------------------------------------------------------
 */

int
connect_answer_reply(const struct connect_call *call, const uint8_t *reply,
    size_t len, struct connect_answer *a)
{
	Inventory__V1__Response *res;
	unsigned                 code;
	int                      rv = -1;

	memset(a, 0, sizeof(*a));
	if ((res = inventory__v1__response__unpack(NULL, len, reply)) == NULL)
		return connect_answer_error(
		    a, CODE_INTERNAL, "the server's reply did not decode");
	code = res->has_code ? res->code : 0;
	if (code != 0) {
		rv = answer_error_details(a, code, res->message, res->details);
		goto out;
	}
	if (call->json) {
		char err[PBJSON_ERR_MAX];

		a->body =
		    pbjson_from_binary(call->method->output, res->payload.data,
		        res->payload.len, &a->len, err, sizeof(err));
		if (a->body == NULL) {
			rv = connect_answer_error(a, CODE_INTERNAL, err);
			goto out;
		}
		a->ctype = CT_JSON;
	} else {
		a->len = res->has_payload ? res->payload.len : 0;
		if (a->len > 0) {
			if ((a->body = malloc(a->len)) == NULL)
				goto out;
			memcpy(a->body, res->payload.data, a->len);
		}
		a->ctype = CT_PROTO;
	}
	a->status = 200;
	rv        = 0;
out:
	inventory__v1__response__free_unpacked(res, NULL);
	return rv;
}
