/* SPDX-License-Identifier: MIT */
/*
 * pbjson: any protobuf-c message to protobuf's canonical JSON mapping and
 * back (https://protobuf.dev/programming-guides/json/), driven only by the
 * message's descriptor, so a new field or message needs no code here.  It
 * is the JSON codec of the Connect endpoint: the binary form stays the
 * one the server dispatches, JSON is translated at the edge.
 *
 * Invariants: what pbjson_encode() writes, pbjson_decode() reads back as
 * the same message (fields present in the binary form are exactly the
 * fields named in the JSON); a decoded message is built with malloc() only,
 * so protobuf_c_message_free_unpacked(msg, NULL) frees all of it, on every
 * path; decoding never recurses deeper than PBJSON_MAX_DEPTH messages, so
 * hostile input is bounded.  Every error reason is one line of valid UTF-8
 * (control bytes and invalid sequences replaced), fit for a log line or a
 * JSON reply.  No global state: every function is thread-safe.
 * proto/json/README.md lists the mapping rules and what is refused.
 */
#ifndef INVENTORY_PBJSON_H
#define INVENTORY_PBJSON_H

#include <stddef.h>
#include <stdint.h>
#include <protobuf-c/protobuf-c.h>

/* Enough room for any reason pbjson writes (longer ones are cut). */
enum { PBJSON_ERR_MAX = 160 };

/* Messages nested deeper than this (the top-level message is depth 1) are
 * refused by pbjson_decode(), pbjson_to_binary() and pbjson_from_binary(). */
enum { PBJSON_MAX_DEPTH = 32 };

/* msg as canonical JSON (protobuf's JSON mapping): a malloc'd
 * NUL-terminated string (length in *len when len != NULL), NULL when out of
 * memory.  msg must not be NULL.  The caller frees the string with free().
 * A string field that is not valid UTF-8 is written with U+FFFD in place
 * of each bad byte (JSON cannot carry it); the message is not changed. */
char *pbjson_encode(const ProtobufCMessage *msg, size_t *len);

/* JSON text (len bytes, need not be NUL-terminated) as a new message of
 * type d, allocated so that protobuf_c_message_free_unpacked(msg, NULL)
 * frees it; NULL with a one-line reason in err (at most errlen bytes) when
 * the text is not valid JSON, not an object, names an unknown field, has a
 * value of the wrong type or out of range, or nesting deeper than 32.
 * err may be NULL (errlen 0): no reason is written. */
ProtobufCMessage *pbjson_decode(const ProtobufCMessageDescriptor *d,
    const char *json, size_t len, char *err, size_t errlen);

/* Binary <-> JSON conveniences for the Connect protocol: */

/* bytes (a binary message of type d) as JSON; NULL with a reason when they
 * do not unpack or on out of memory.  Stricter than pbjson_encode(): a
 * string that is not valid UTF-8 or messages nested deeper than 32 are
 * refused, so the JSON always decodes again.  Unknown fields are dropped.
 * protobuf-c unpacks recursively: bound untrusted bytes before (as
 * wire_check does for the envelope).  The caller frees the string. */
char *pbjson_from_binary(const ProtobufCMessageDescriptor *d,
    const uint8_t *bytes, size_t n, size_t *len, char *err, size_t errlen);

/* JSON text as the binary message of type d: a malloc'd buffer (length in
 * *n; a zero-length message returns a non-NULL 1-byte allocation with
 * *n = 0), NULL with a reason in err (the reasons of pbjson_decode(), or
 * out of memory).  The caller frees the buffer. */
uint8_t *pbjson_to_binary(const ProtobufCMessageDescriptor *d,
    const char *json, size_t len, size_t *n, char *err, size_t errlen);

/* Standard base64 (RFC 4648, with padding) of n bytes: malloc'd
 * NUL-terminated string, NULL on out of memory.  bytes may be NULL when n
 * is 0 (the result is ""). */
char *pbjson_base64(const uint8_t *bytes, size_t n);

#endif
