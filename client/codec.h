/* SPDX-License-Identifier: MIT */
/*
 * codec: libinventory's wire code, private to the library.
 *
 * Turns call arguments into the bytes of an encoded Request envelope and
 * the bytes of a Response envelope into plain C structs, and builds and
 * takes apart batch frames (a Request whose `batch` holds several encoded
 * Request envelopes; a Response whose `batch` answers them by position).
 * It is pure: no
 * sockets, no clocks, no randomness, no globals; bytes in, structs out, so
 * unit tests call it directly.  Only this module and the test code see
 * protobuf-c types; client.c hands it bytes and gets inventory_* values.
 *
 * Invariants: every string copied into a fixed-size field is
 * NUL-terminated and, if it had to be truncated, cut at a UTF-8 character
 * boundary; every unpacked message is freed before a function returns; a
 * reply the codec cannot make sense of is INVENTORY_INTERNAL with the
 * message "malformed reply: ...", never a crash; a batch entry is only
 * accepted if it echoes its call's request id, so a reply can never be
 * handed to the wrong call.  The only memory a decoded reply keeps is its
 * product array (BatchGetProducts, ReserveStock, ListProducts), a
 * ListProducts page token and a ReserveStock error's item array
 * (codec_reply_fini() frees them all) and a decoded frame
 * (codec_frame_reply_fini()).
 */
#ifndef INVENTORY_CLIENT_CODEC_H
#define INVENTORY_CLIENT_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include <inventory/client.h>

/* The RPCs, in the order of the proto's service declaration. */
enum codec_method {
	CODEC_GET_PRODUCT        = 0,
	CODEC_UPDATE_STOCK       = 1,
	CODEC_CREATE_PRODUCT     = 2,
	CODEC_BATCH_GET_PRODUCTS = 3,
	CODEC_ADJUST_STOCK       = 4,
	CODEC_RESERVE_STOCK      = 5,
	CODEC_LIST_PRODUCTS      = 6,
};

/* Ids one BatchGetProducts call may carry (the contract's limit). */
#define CODEC_BATCH_IDS_MAX 1000

/* Items one ReserveStock call may carry (the contract's limit). */
#define CODEC_RESERVE_ITEMS_MAX INVENTORY_RESERVE_MAX

/* Entries one batch frame may carry (the contract's limit). */
#define CODEC_FRAME_ENTRIES_MAX 1000

/* Message used for any reply that does not decode (a protocol error). */
#define CODEC_MALFORMED "malformed reply"

/* One call's arguments, as the codec encodes them. */
struct codec_request {
	enum codec_method method;     /* which RPC; selects the union member */
	const char       *request_id; /* Request.request_id; NULL: not sent */
	uint32_t          timeout_ms; /* Request.timeout_ms (sent unless
	                               * no_timeout) */
	int no_timeout; /* non-zero: leave timeout_ms out; the frame builder
	                 * appends it when the call leaves
	                 * (codec_timeout_field_put) */
	union {
		struct {
			const char *id; /* product id; NULL: not sent */
		} get;
		struct {
			const char *id;               /* product id */
			int64_t     stock;            /* new stock */
			int64_t     expected_version; /* version read */
		} update;
		struct {
			const char *name;  /* 1..200 bytes of UTF-8 */
			int64_t     stock; /* initial stock */
			const char *price; /* decimal string */
		} create;
		struct {
			const char *const *ids; /* n product ids */
			size_t             n;   /* 1..CODEC_BATCH_IDS_MAX */
		} batch_get;
		struct {
			const char *id;               /* product id */
			int64_t     delta;            /* added to the stock */
			int64_t     expected_version; /* 0: not sent */
		} adjust;
		struct {
			/* n items; a take (quantity > 0) sends only its
			 * quantity, a set (quantity 0) only expected_version
			 * and stock */
			const inventory_reserve_item *items;
			size_t n; /* 1..CODEC_RESERVE_ITEMS_MAX */
		} reserve;
		struct {
			int32_t     page_size;  /* 0: not sent */
			const char *page_token; /* NULL or "": not sent */
		} list;
	} u;
};

/* A decoded Response envelope. */
struct codec_reply {
	inventory_code     code;         /* Response.code; > 16: UNKNOWN */
	char               message[256]; /* Response.message, may be "" */
	char               request_id[INVENTORY_REQUEST_ID_MAX + 1]; /* echo */
	int                has_product;     /* OK: product holds the reply */
	inventory_product  product;         /* the typed reply's product */
	int64_t            current_version; /* error details, else 0 */
	int                has_current;     /* error details: current is set */
	inventory_product  current;         /* ... the latest product */
	inventory_product *products;        /* BatchGetProducts, ReserveStock,
	                                     * ListProducts OK: malloc'd, in order;
	                                     * NULL otherwise (and for an empty
	                                     * page) */
	size_t nproducts;                   /* entries in products */
	char  *next_page_token;      /* ListProducts OK: malloc'd, "" on the
	                              * last page; NULL otherwise */
	inventory_item_error *items; /* ReserveStock error: malloc'd, one per
	                              * ErrorDetails.items entry (an absent
	                              * current is zeroed but for its id);
	                              * NULL otherwise */
	size_t nitems;               /* entries in items */
};

/* A decoded batch reply, kept unpacked until every entry was read. */
struct codec_frame_reply {
	void  *pb; /* the unpacked Response (protobuf-c's); NULL when fini'd */
	size_t n;  /* entries, == the frame's calls */
};

/* The full method name, "/inventory.v1.InventoryService/GetProduct";
 * NULL for a value outside the enum.  Static storage. */
const char *codec_method_name(enum codec_method method);

/* Bytes codec_request_encode() will write for req: the packed size of
 * the envelope.  0 for an unknown method. */
size_t codec_request_size(const struct codec_request *req);

/* Encode req as a Request envelope into buf (cap bytes; use
 * codec_request_size() to size it).  Returns the bytes written, or 0 if
 * the method is unknown or cap is too small. */
size_t codec_request_encode(
    const struct codec_request *req, uint8_t *buf, size_t cap);

/* Encode req into a new malloc'd buffer: *out (free() it) and *out_len.
 * Returns INVENTORY_OK, INVENTORY_INVALID_ARGUMENT for an unknown method,
 * or INVENTORY_RESOURCE_EXHAUSTED when out of memory (*out untouched). */
inventory_code codec_request_encode_alloc(
    const struct codec_request *req, uint8_t **out, size_t *out_len);

/* Decode the len bytes of a Response envelope answering a call of method
 * into *out (fully overwritten).  Returns INVENTORY_OK when the envelope
 * made sense; the server's verdict is then out->code, and when it is OK
 * out->has_product is 1 (for BatchGetProducts: out->products holds
 * out->nproducts >= 1 products instead, for ListProducts out->products
 * holds the page (possibly empty) and out->next_page_token its token;
 * release with codec_reply_fini()).  A ReserveStock error fills
 * out->items from ErrorDetails.items.
 * Returns INVENTORY_INTERNAL, with out->code
 * INVENTORY_INTERNAL and out->message starting with "malformed reply",
 * when the bytes are not a Response, or an OK reply lacks a decodable
 * typed payload with a product.  buf may be NULL when len is 0. */
inventory_code codec_reply_decode(enum codec_method method, const uint8_t *buf,
    size_t len, struct codec_reply *out);

/* Release what a decoded reply owns (products, next_page_token, items)
 * and zero those fields.  NULL is a no-op; safe to call twice. */
void codec_reply_fini(struct codec_reply *r);

/* Bytes an encoded Request envelope of len bytes takes as one entry of a
 * batch frame (field tag, length, the bytes). */
size_t codec_frame_entry_size(size_t len);

/* Append the len bytes of an encoded Request envelope at dst as one entry
 * of a batch frame; dst has codec_frame_entry_size(len) bytes.  A frame is
 * exactly the concatenation of its entries (the Request's only field is
 * `batch`), so calls are encoded once, by their callers, and never
 * re-encoded.  Returns the bytes written. */
size_t codec_frame_entry_put(uint8_t *dst, const uint8_t *req, size_t len);

/* Bytes Request.timeout_ms takes as a field for ms. */
size_t codec_timeout_field_size(uint32_t ms);

/* Write Request.timeout_ms = ms at dst (codec_timeout_field_size(ms)
 * bytes).  Appended to an envelope encoded with no_timeout, it is the
 * call's timeout: the client stamps what is left of the call's deadline
 * when its frame leaves, so time spent queued in the client counts.
 * Returns the bytes written. */
size_t codec_timeout_field_put(uint8_t *dst, uint32_t ms);

/* codec_frame_entry_put() for an envelope encoded with no_timeout, with
 * Request.timeout_ms = ms appended inside the entry; dst has
 * codec_frame_entry_size(len + codec_timeout_field_size(ms)) bytes.
 * Returns the bytes written. */
size_t codec_frame_entry_put_timed(
    uint8_t *dst, const uint8_t *req, size_t len, uint32_t ms);

/* Bytes Request.token takes in a frame for a token of len bytes. */
size_t codec_token_field_size(size_t len);

/* Write Request.token (len bytes of token) at dst, which has
 * codec_token_field_size(len) bytes.  Appended to a frame (a plain
 * Request or a batch), it is the frame's token: a protobuf message may
 * carry its fields in any order, so the callers' encoded envelopes stay
 * as they are and the token is written once per frame, never per call.
 * Returns the bytes written. */
size_t codec_token_field_put(uint8_t *dst, const char *token, size_t len);

/* Decode the len bytes of the Response to a batch frame of n calls.
 * Returns INVENTORY_OK when *out holds n entries (read them with
 * codec_frame_reply_entry(), then codec_frame_reply_fini()).  Otherwise
 * *out holds nothing and *whole is the one reply every call of the frame
 * gets; the return value is whole->code: the server's refusal of the
 * frame as a whole (a code and an empty batch, e.g. RESOURCE_EXHAUSTED),
 * or INVENTORY_INTERNAL "malformed reply: ..." when the bytes are not a
 * Response or hold a number of entries other than n. */
inventory_code codec_frame_reply_decode(const uint8_t *buf, size_t len,
    size_t n, struct codec_frame_reply *out, struct codec_reply *whole);

/* Decode entry i (< f->n) as the reply to a call of method whose request
 * id was request_id, with codec_reply_decode()'s contract; an entry that
 * does not echo request_id is INVENTORY_INTERNAL "malformed reply". */
inventory_code codec_frame_reply_entry(const struct codec_frame_reply *f,
    size_t i, enum codec_method method, const char *request_id,
    struct codec_reply *out);

/* Free a decoded frame.  Safe on a zeroed or already-fini'd one. */
void codec_frame_reply_fini(struct codec_frame_reply *f);

/* Decode the len bytes of an encoded Product message into *out (fully
 * overwritten; absent fields are 0 or "").  Returns INVENTORY_OK, or
 * INVENTORY_INTERNAL when the bytes are not a Product. */
inventory_code codec_product_decode(
    const uint8_t *buf, size_t len, inventory_product *out);

/* Copy the NUL-terminated src into dst of size dstsz (> 0): at most
 * dstsz - 1 bytes, cut back to a UTF-8 character boundary when truncated,
 * always NUL-terminated.  src NULL copies "".  Returns 1 if src fit
 * entirely, 0 if it was truncated. */
int codec_copy_str(char *dst, size_t dstsz, const char *src);

/* Map a wire code number to inventory_code; numbers above 16 are
 * INVENTORY_UNKNOWN. */
inventory_code codec_code_from_wire(uint32_t wire);

#endif /* INVENTORY_CLIENT_CODEC_H */
