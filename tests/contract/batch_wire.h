/* SPDX-License-Identifier: MIT */
/*
 * Batch frames at the wire level, for the batch contract tests: Request
 * envelopes built with the generated protobuf-c code, several packed into
 * one Request.batch frame, sent over a bare nng REQ socket, and the
 * Response (whose `batch` answers by position) decoded.  Nothing here
 * asserts, so every helper is safe on any thread; the tests check the
 * results on their main thread.
 */
#ifndef INVENTORY_BATCH_WIRE_H
#define INVENTORY_BATCH_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "inventory/v1/service.pb-c.h"

#define BW_PREFIX "/inventory.v1.InventoryService/"

/* timeout_ms argument: the envelope carries no timeout_ms at all. */
#define BW_NO_TIMEOUT (-1L)

/* A product as a reply carries it, copied out of the wire message. */
struct bw_product {
	char    id[64];
	char    name[256];
	int64_t stock;
	char    price[32];
	int64_t version;
};

/* One call: a malloc'd envelope owning copies of everything it points at.
 * method is the short name ("GetProduct"), or a full path when it starts
 * with '/', or NULL (no method); rid NULL: no request id; payload NULL: no
 * payload field.  Free with bw_call_free(). */
Inventory__V1__Request *bw_call(const char *method, const char *rid,
    long timeout_ms, const ProtobufCMessage *payload);
Inventory__V1__Request *bw_get(
    const char *rid, const char *id, long timeout_ms);
Inventory__V1__Request *bw_update(const char *rid, const char *id,
    int64_t stock, int64_t expected_version, long timeout_ms);
Inventory__V1__Request *bw_create(const char *rid, const char *name,
    int64_t stock, const char *price, long timeout_ms);
void                    bw_call_free(Inventory__V1__Request *call);

/* A batch frame under construction: owns its calls. */
struct bw_frame {
	Inventory__V1__Request **calls;
	size_t                   n, cap;
};

/* Append call (ownership passes to the frame). */
void bw_frame_add(struct bw_frame *f, Inventory__V1__Request *call);
/* The frame's bytes (malloc'd), *len their length. */
uint8_t *bw_frame_pack(const struct bw_frame *f, size_t *len);
/* One call alone, as a single-request frame (malloc'd). */
uint8_t *bw_single_pack(const Inventory__V1__Request *call, size_t *len);
void     bw_frame_fini(struct bw_frame *f);

/* A REQ socket dialled to url; 0 or an nng error. */
int bw_open(const char *url, int recv_timeout_ms, nng_socket *s);
/* Send len bytes, wait for and decode the reply: 0 and *out (free with
 * inventory__v1__response__free_unpacked), an nng error, or NNG_EPROTO
 * when the reply is not a Response. */
int bw_exchange(nng_socket s, const uint8_t *buf, size_t len,
    Inventory__V1__Response **out);
/* bw_frame_pack() + bw_exchange(). */
int bw_send_frame(
    nng_socket s, const struct bw_frame *f, Inventory__V1__Response **out);

/* The product in an OK reply's payload (GetProduct, UpdateStock and
 * CreateProduct replies all carry `Product product = 1`): 0, or -1 when
 * there is none. */
int  bw_reply_product(const Inventory__V1__Response *r, struct bw_product *p);
void bw_product_copy(const Inventory__V1__Product *w, struct bw_product *p);

/* CreateProduct alone over s: the reply's code (0: *out filled), or
 * 1000 + an nng error. */
int bw_create_product(nng_socket s, const char *name, int64_t stock,
    const char *price, struct bw_product *out);

/* "OK", "ABORTED", ... or "?". */
const char *bw_code_name(uint32_t code);

#endif
