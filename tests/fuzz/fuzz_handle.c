/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target, built once per RPC (FUZZ_METHOD names it): the fuzzed
 * bytes are the typed request payload; they are wrapped in a well-formed
 * Request envelope and run through dispatch_handle() with the fake store
 * (fake_store.c), so the real handler, its validation and the reply
 * encoding all see hostile field values.
 *
 * Invariants checked on every input:
 *  - the reply unpacks as a Response with a known code that this method
 *    may return, never INTERNAL, and a message whenever it is not OK;
 *  - OK carries a payload that unpacks as the method's reply type with a
 *    product of version >= 1; ABORTED carries details whose
 *    current_version is strictly greater than the expected version;
 *  - BatchGetProducts (AIP-231): OK has one product per requested id, in
 *    request order, each with that id in canonical form; NOT_FOUND names
 *    the first id the store does not have (the fake store has no id whose
 *    last hex digit is odd);
 *  - AdjustStock: OK is the fake's stock plus delta at the next version;
 *    FAILED_PRECONDITION and OUT_OF_RANGE only when the delta takes the
 *    stock out of 0..2147483647, with the current product in details;
 *  - ReserveStock: OK has one product per item, in item order; a failure
 *    names every failing item in details.items (indices increasing and in
 *    range, each with a code that is not OK), the first one's code is the
 *    call's, and only the fake's failing items are named;
 *  - ListProducts: page_size 0 asks the store for 50, more than 1000 for
 *    1000; the store gets the token's product id; the page is in strictly
 *    increasing id order after it, and next_page_token is set exactly when
 *    the store said more, naming the page's last id;
 *  - the handler's validation agrees with validate.h: the store is reached
 *    exactly when every field is present and valid, and otherwise the
 *    answer is INVALID_ARGUMENT (the fake store aborts if it is handed an
 *    invalid argument);
 *  - every string in the reply is well-formed UTF-8;
 *  - no crash, leak, overflow or undefined behaviour (ASan/UBSan/LSan).
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "core/dispatch_testing.h"
#include "fake_store.h"
#include "fuzz.h"
#include "handlers/validate.h"

#ifndef FUZZ_METHOD
#error "FUZZ_METHOD must name the RPC, e.g. -DFUZZ_METHOD=\"UpdateStock\""
#endif

#define PREFIX "/inventory.v1.InventoryService/"

static const ProtobufCServiceDescriptor *const svc =
    &inventory__v1__inventory_service__descriptor;
static const ProtobufCMethodDescriptor *method;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_threshold = LOG_LEVEL_ERR;
	method =
	    protobuf_c_service_descriptor_get_method_by_name(svc, FUZZ_METHOD);
	FUZZ_CHECK(method != NULL);
	return 0;
}

/* RFC 3629 UTF-8: no overlongs, no surrogates, nothing above U+10FFFF. */
static bool
utf8_ok(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s != 0) {
		unsigned c = *s, n, min, cp;
		if (c < 0x80) {
			s++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			n = 1, min = 0x80, cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			n = 2, min = 0x800, cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			n = 3, min = 0x10000, cp = c & 0x07;
		} else {
			return false;
		}
		for (unsigned i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80) {
				return false;
			}
			cp = (cp << 6) | (s[i] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff)) {
			return false;
		}
		s += n + 1;
	}
	return true;
}

static bool
str_ok(const char *s)
{
	return s == NULL || utf8_ok(s);
}

/* The product id a ListProducts token names: base64url, unpadded, of
 * "1:" and a canonical product id (the format page_token.c documents),
 * decoded here independently of the server's decoder. */
static bool
token_id(const char *tok, char id[PRODUCT_ID_LEN + 1])
{
	static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                          "abcdefghijklmnopqrstuvwxyz0123456789-_";
	unsigned char     raw[64];
	size_t            len = strlen(tok), o = 0;
	unsigned long     acc  = 0;
	int               bits = 0;

	if (len != 51) { /* ceil(38 * 4 / 3) */
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		const char *p = strchr(abc, tok[i]);

		if (tok[i] == '\0' || p == NULL) {
			return false;
		}
		acc = (acc << 6) | (unsigned long)(p - abc);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			raw[o++] = (unsigned char)(acc >> bits);
			acc &= (1UL << bits) - 1;
		}
	}
	if (o != 2 + PRODUCT_ID_LEN || raw[0] != '1' || raw[1] != ':') {
		return false;
	}
	memcpy(id, raw + 2, PRODUCT_ID_LEN);
	id[PRODUCT_ID_LEN] = '\0';
	{
		char canon[PRODUCT_ID_LEN + 1];

		return validate_uuid(id, canon) && strcmp(canon, id) == 0;
	}
}

/* Would a correct handler pass this request on to the store? */
static bool
request_valid(const ProtobufCMessage *m)
{
	if (strcmp(FUZZ_METHOD, "GetProduct") == 0) {
		const Inventory__V1__GetProductRequest *r = (const void *)m;
		return r->id != NULL && validate_uuid(r->id, NULL);
	}
	if (strcmp(FUZZ_METHOD, "UpdateStock") == 0) {
		const Inventory__V1__UpdateStockRequest *r = (const void *)m;
		return r->id != NULL && validate_uuid(r->id, NULL) &&
		       r->has_stock && validate_stock(r->stock) &&
		       r->has_expected_version &&
		       validate_expected_version(r->expected_version);
	}
	if (strcmp(FUZZ_METHOD, "BatchGetProducts") == 0) {
		const Inventory__V1__BatchGetProductsRequest *r =
		    (const void *)m;

		if (r->n_ids < 1 || r->n_ids > 1000) {
			return false;
		}
		for (size_t i = 0; i < r->n_ids; i++) {
			if (r->ids[i] == NULL ||
			    !validate_uuid(r->ids[i], NULL)) {
				return false;
			}
		}
		return true;
	}
	if (strcmp(FUZZ_METHOD, "CreateProduct") == 0) {
		const Inventory__V1__CreateProductRequest *r = (const void *)m;
		return r->name != NULL && validate_name(r->name) &&
		       r->has_stock && validate_stock(r->stock) &&
		       r->price != NULL && validate_price(r->price);
	}
	if (strcmp(FUZZ_METHOD, "AdjustStock") == 0) {
		const Inventory__V1__AdjustStockRequest *r = (const void *)m;
		return r->id != NULL && validate_uuid(r->id, NULL) &&
		       r->has_delta && r->delta != 0 &&
		       r->delta >= -PRODUCT_STOCK_MAX &&
		       r->delta <= PRODUCT_STOCK_MAX &&
		       (!r->has_expected_version ||
		           validate_expected_version(r->expected_version));
	}
	if (strcmp(FUZZ_METHOD, "ReserveStock") == 0) {
		const Inventory__V1__ReserveStockRequest *r = (const void *)m;
		char ids[RESERVE_MAX][PRODUCT_ID_LEN + 1];

		if (r->n_items < 1 || r->n_items > RESERVE_MAX) {
			return false;
		}
		for (size_t i = 0; i < r->n_items; i++) {
			const Inventory__V1__ReserveItem *it = r->items[i];

			if (it->id == NULL || !validate_uuid(it->id, ids[i])) {
				return false;
			}
			for (size_t j = 0; j < i; j++) {
				if (strcmp(ids[j], ids[i]) == 0) {
					return false;
				}
			}
			if (it->has_quantity) {
				if (it->has_expected_version ||
				    it->has_stock || it->quantity < 1 ||
				    it->quantity > PRODUCT_STOCK_MAX) {
					return false;
				}
			} else if (!it->has_expected_version ||
			           !it->has_stock ||
			           !validate_expected_version(
			               it->expected_version) ||
			           !validate_stock(it->stock)) {
				return false;
			}
		}
		return true;
	}
	if (strcmp(FUZZ_METHOD, "ListProducts") == 0) {
		const Inventory__V1__ListProductsRequest *r = (const void *)m;
		char id[PRODUCT_ID_LEN + 1];

		return (!r->has_page_size || r->page_size >= 0) &&
		       (r->page_token == NULL || r->page_token[0] == '\0' ||
		           token_id(r->page_token, id));
	}
	FUZZ_CHECK(!"unknown FUZZ_METHOD");
	return false;
}

/* BatchGetProducts: in order, one per id; or the first missing id. */
static void
check_batch_get(
    const uint8_t *data, size_t size, const Inventory__V1__Response *resp)
{
	Inventory__V1__BatchGetProductsRequest  *req;
	Inventory__V1__BatchGetProductsResponse *out = NULL;
	char                                     canon[PRODUCT_ID_LEN + 1];
	size_t                                   missing;

	req = inventory__v1__batch_get_products_request__unpack(
	    NULL, size, size > 0 ? data : (const uint8_t *)"");
	FUZZ_CHECK(req != NULL); /* the call was valid */
	for (missing = 0; missing < req->n_ids; missing++) {
		FUZZ_CHECK(validate_uuid(req->ids[missing], canon));
		if ((canon[PRODUCT_ID_LEN - 1] & 1) != 0) {
			break;
		}
	}
	if (missing < req->n_ids) {
		FUZZ_CHECK(resp->code == CODE_NOT_FOUND);
		FUZZ_CHECK(resp->message != NULL &&
		           strstr(resp->message, canon) != NULL);
	} else {
		FUZZ_CHECK(resp->code == CODE_OK && resp->has_payload);
		out = inventory__v1__batch_get_products_response__unpack(
		    NULL, resp->payload.len, resp->payload.data);
		FUZZ_CHECK(out != NULL);
		FUZZ_CHECK(out->n_products == req->n_ids);
		for (size_t i = 0; i < req->n_ids; i++) {
			const Inventory__V1__Product *p = out->products[i];

			FUZZ_CHECK(validate_uuid(req->ids[i], canon));
			FUZZ_CHECK(p != NULL && p->id != NULL &&
			           strcmp(p->id, canon) == 0);
			FUZZ_CHECK(p->has_version && p->version >= 1);
			FUZZ_CHECK(str_ok(p->name) && str_ok(p->price));
		}
		inventory__v1__batch_get_products_response__free_unpacked(
		    out, NULL);
	}
	inventory__v1__batch_get_products_request__free_unpacked(req, NULL);
}

/* AdjustStock's outcome against the fake's product (FAKE_STOCK at
 * FAKE_VERSION). */
static void
check_adjust(const Inventory__V1__Response *resp)
{
	const struct fake_store_log *l = &fake_store_last;
	int64_t                      s = FAKE_STOCK + l->delta;

	if (resp->code == CODE_FAILED_PRECONDITION ||
	    resp->code == CODE_OUT_OF_RANGE) {
		FUZZ_CHECK(l->called == FAKE_ADJUST);
		FUZZ_CHECK(resp->code == CODE_FAILED_PRECONDITION
		               ? s < 0
		               : s > PRODUCT_STOCK_MAX);
		FUZZ_CHECK(resp->details != NULL &&
		           resp->details->current != NULL &&
		           resp->details->current->has_stock &&
		           resp->details->current->stock == FAKE_STOCK);
	}
	if (resp->code == CODE_OK) {
		Inventory__V1__AdjustStockResponse *out =
		    inventory__v1__adjust_stock_response__unpack(
		        NULL, resp->payload.len, resp->payload.data);

		FUZZ_CHECK(out != NULL && out->product != NULL);
		FUZZ_CHECK(out->product->stock == s);
		FUZZ_CHECK(out->product->version == FAKE_VERSION + 1);
		inventory__v1__adjust_stock_response__free_unpacked(out, NULL);
	}
}

/* ReserveStock: one product per item on OK; every failing item named. */
static void
check_reserve(
    const uint8_t *data, size_t size, const Inventory__V1__Response *resp)
{
	Inventory__V1__ReserveStockRequest *req;

	req = inventory__v1__reserve_stock_request__unpack(
	    NULL, size, size > 0 ? data : (const uint8_t *)"");
	FUZZ_CHECK(req != NULL); /* the call was valid */
	if (resp->code == CODE_OK) {
		Inventory__V1__ReserveStockResponse *out =
		    inventory__v1__reserve_stock_response__unpack(
		        NULL, resp->payload.len, resp->payload.data);

		FUZZ_CHECK(out != NULL && out->n_products == req->n_items);
		for (size_t i = 0; i < req->n_items; i++) {
			char canon[PRODUCT_ID_LEN + 1];

			FUZZ_CHECK(validate_uuid(req->items[i]->id, canon));
			FUZZ_CHECK(out->products[i]->id != NULL &&
			           strcmp(out->products[i]->id, canon) == 0);
			FUZZ_CHECK(
			    out->products[i]->version == FAKE_VERSION + 1);
		}
		inventory__v1__reserve_stock_response__free_unpacked(
		    out, NULL);
	} else if (resp->code != CODE_ALREADY_EXISTS) {
		/* An item's failure: every failing item, in order. */
		const Inventory__V1__ErrorDetails *d = resp->details;
		size_t                             k = 0;

		FUZZ_CHECK(d != NULL && d->n_items >= 1);
		FUZZ_CHECK(
		    d->items[0]->has_code && d->items[0]->code == resp->code);
		for (size_t i = 0; i < req->n_items; i++) {
			const Inventory__V1__ReserveItem *it = req->items[i];
			char canon[PRODUCT_ID_LEN + 1];
			bool fails;

			FUZZ_CHECK(validate_uuid(it->id, canon));
			fails =
			    (canon[PRODUCT_ID_LEN - 1] & 1) != 0 ||
			    (it->has_quantity && it->quantity > FAKE_STOCK) ||
			    (!it->has_quantity &&
			        it->expected_version != FAKE_VERSION);
			if (!fails) {
				continue;
			}
			FUZZ_CHECK(k < d->n_items);
			FUZZ_CHECK(
			    d->items[k]->has_index && d->items[k]->index == i);
			FUZZ_CHECK(d->items[k]->has_code &&
			           d->items[k]->code != CODE_OK);
			FUZZ_CHECK(d->items[k]->id != NULL &&
			           strcmp(d->items[k]->id, canon) == 0);
			FUZZ_CHECK(str_ok(d->items[k]->message));
			k++;
		}
		FUZZ_CHECK(k == d->n_items);
	}
	inventory__v1__reserve_stock_request__free_unpacked(req, NULL);
}

/* ListProducts: what the store was asked, and the page it answered. */
static void
check_list(
    const uint8_t *data, size_t size, const Inventory__V1__Response *resp)
{
	Inventory__V1__ListProductsRequest  *req;
	Inventory__V1__ListProductsResponse *out;
	char                                 after[PRODUCT_ID_LEN + 1] = "";
	int                                  want;

	req = inventory__v1__list_products_request__unpack(
	    NULL, size, size > 0 ? data : (const uint8_t *)"");
	FUZZ_CHECK(req != NULL);
	want = !req->has_page_size || req->page_size == 0 ? 50
	       : req->page_size > 1000                    ? 1000
	                                                  : req->page_size;
	FUZZ_CHECK(fake_store_last.called == FAKE_LIST);
	FUZZ_CHECK(fake_store_last.limit == want);
	if (req->page_token != NULL && req->page_token[0] != '\0') {
		FUZZ_CHECK(token_id(req->page_token, after));
	}
	FUZZ_CHECK(strcmp(fake_store_last.after, after) == 0);
	FUZZ_CHECK(resp->code == CODE_OK);
	out = inventory__v1__list_products_response__unpack(
	    NULL, resp->payload.len, resp->payload.data);
	FUZZ_CHECK(out != NULL);
	FUZZ_CHECK(out->n_products <= (size_t)want);
	for (size_t i = 0; i < out->n_products; i++) {
		const char *id = out->products[i]->id;

		FUZZ_CHECK(id != NULL && validate_uuid(id, NULL));
		FUZZ_CHECK(
		    strcmp(id, i == 0 ? after : out->products[i - 1]->id) > 0);
	}
	if (out->next_page_token != NULL && out->next_page_token[0] != '\0') {
		char next[PRODUCT_ID_LEN + 1];

		FUZZ_CHECK(out->n_products == (size_t)want);
		FUZZ_CHECK(token_id(out->next_page_token, next));
		FUZZ_CHECK(
		    strcmp(next, out->products[out->n_products - 1]->id) == 0);
	}
	inventory__v1__list_products_response__free_unpacked(out, NULL);
	inventory__v1__list_products_request__free_unpacked(req, NULL);
}

static void
check_ok(const Inventory__V1__Response *resp)
{
	ProtobufCMessage             *out;
	const Inventory__V1__Product *p;

	FUZZ_CHECK(resp->has_payload);
	FUZZ_CHECK(fake_store_last.called != FAKE_NONE);
	if (strcmp(FUZZ_METHOD, "BatchGetProducts") == 0 ||
	    strcmp(FUZZ_METHOD, "ReserveStock") == 0 ||
	    strcmp(FUZZ_METHOD, "ListProducts") == 0) {
		return; /* check_batch_get(), check_reserve(), check_list() */
	}
	out = protobuf_c_message_unpack(
	    method->output, NULL, resp->payload.len, resp->payload.data);
	FUZZ_CHECK(out != NULL);
	/* Every reply type of the service is { Product product = 1; }. */
	p = ((const Inventory__V1__GetProductResponse *)(const void *)out)
	        ->product;
	FUZZ_CHECK(p != NULL && p->has_version && p->version >= 1);
	FUZZ_CHECK(p->id != NULL && validate_uuid(p->id, NULL));
	FUZZ_CHECK(str_ok(p->name) && str_ok(p->price));
	if (fake_store_last.called == FAKE_UPDATE) {
		FUZZ_CHECK(p->version == fake_store_last.expected_version + 1);
	}
	if (fake_store_last.called == FAKE_CREATE) {
		FUZZ_CHECK(p->version == 1);
	}
	protobuf_c_message_free_unpacked(out, NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Inventory__V1__Request   env = INVENTORY__V1__REQUEST__INIT;
	Inventory__V1__Response *resp;
	ProtobufCMessage        *mine;
	static uint8_t           reply[1 << 20]; /* 1000 products fit */
	uint8_t                 *buf;
	size_t                   len, n;
	bool                     valid;

	env.method = PREFIX FUZZ_METHOD;
	/* Half the inputs carry a request id, half do not. */
	env.request_id   = size % 2 == 0 ? "fuzz-request-0001" : NULL;
	env.has_payload  = 1;
	env.payload.data = (uint8_t *)data;
	env.payload.len  = size;
	len              = inventory__v1__request__get_packed_size(&env);
	buf              = malloc(len);
	FUZZ_CHECK(buf != NULL);
	inventory__v1__request__pack(&env, buf);

	fake_store_reset();
	n = dispatch_handle(
	    fake_store_get(), buf, len, clock_now_ns(), reply, sizeof(reply));
	free(buf);
	FUZZ_CHECK(n > 0 && n <= sizeof(reply));
	resp = inventory__v1__response__unpack(NULL, n, reply);
	FUZZ_CHECK(resp != NULL && resp->has_code);
	FUZZ_CHECK(resp->code != CODE_INTERNAL);
	FUZZ_CHECK(
	    resp->code == CODE_OK || resp->code == CODE_INVALID_ARGUMENT ||
	    resp->code == CODE_NOT_FOUND || resp->code == CODE_ABORTED ||
	    resp->code == CODE_ALREADY_EXISTS ||
	    ((resp->code == CODE_FAILED_PRECONDITION ||
	         resp->code == CODE_OUT_OF_RANGE) &&
	        (strcmp(FUZZ_METHOD, "AdjustStock") == 0 ||
	            strcmp(FUZZ_METHOD, "ReserveStock") == 0)));
	FUZZ_CHECK(str_ok(resp->message) && str_ok(resp->request_id));
	if (resp->code != CODE_OK) {
		FUZZ_CHECK(resp->message != NULL && resp->message[0] != '\0');
		FUZZ_CHECK(!resp->has_payload);
	}

	mine = protobuf_c_message_unpack(
	    method->input, NULL, size, size > 0 ? data : (const uint8_t *)"");
	valid = mine != NULL && request_valid(mine);
	if (mine != NULL) {
		protobuf_c_message_free_unpacked(mine, NULL);
	}
	if (!valid) {
		FUZZ_CHECK(resp->code == CODE_INVALID_ARGUMENT);
		/* GetProduct may leave a malformed id to the store (whose
		 * answer is INVALID_ARGUMENT too); the write paths and
		 * ListProducts may not. */
		FUZZ_CHECK(fake_store_last.called == FAKE_NONE ||
		           fake_store_last.called == FAKE_GET);
	} else {
		FUZZ_CHECK(fake_store_last.called != FAKE_NONE);
	}

	if (resp->code == CODE_OK) {
		check_ok(resp);
	}
	if (valid && strcmp(FUZZ_METHOD, "BatchGetProducts") == 0) {
		check_batch_get(data, size, resp);
	}
	if (valid && strcmp(FUZZ_METHOD, "AdjustStock") == 0) {
		check_adjust(resp);
	}
	if (valid && strcmp(FUZZ_METHOD, "ReserveStock") == 0) {
		check_reserve(data, size, resp);
	}
	if (valid && strcmp(FUZZ_METHOD, "ListProducts") == 0) {
		check_list(data, size, resp);
	}
	if (resp->code == CODE_ABORTED &&
	    fake_store_last.called == FAKE_RESERVE) {
		FUZZ_CHECK(
		    resp->details != NULL && resp->details->n_items >= 1);
	} else if (resp->code == CODE_ABORTED) {
		FUZZ_CHECK(fake_store_last.called == FAKE_UPDATE ||
		           fake_store_last.called == FAKE_ADJUST);
		FUZZ_CHECK(resp->details != NULL &&
		           resp->details->has_current_version &&
		           resp->details->current != NULL);
		FUZZ_CHECK(resp->details->current_version >
		           fake_store_last.expected_version);
		FUZZ_CHECK(str_ok(resp->details->current->name));
	}
	inventory__v1__response__free_unpacked(resp, NULL);
	return 0;
}
