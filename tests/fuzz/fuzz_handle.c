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

#include "dispatch.h"
#include "fake_store.h"
#include "fuzz.h"
#include "log.h"
#include "validate.h"

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

static void
check_ok(const Inventory__V1__Response *resp)
{
	ProtobufCMessage             *out;
	const Inventory__V1__Product *p;

	FUZZ_CHECK(resp->has_payload);
	FUZZ_CHECK(fake_store_last.called != FAKE_NONE);
	if (strcmp(FUZZ_METHOD, "BatchGetProducts") == 0) {
		return; /* check_batch_get() */
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
	n = dispatch_handle(fake_store_get(), buf, len, dispatch_now_ns(),
	    reply, sizeof(reply));
	free(buf);
	FUZZ_CHECK(n > 0 && n <= sizeof(reply));
	resp = inventory__v1__response__unpack(NULL, n, reply);
	FUZZ_CHECK(resp != NULL && resp->has_code);
	FUZZ_CHECK(resp->code != CODE_INTERNAL);
	FUZZ_CHECK(
	    resp->code == CODE_OK || resp->code == CODE_INVALID_ARGUMENT ||
	    resp->code == CODE_NOT_FOUND || resp->code == CODE_ABORTED ||
	    resp->code == CODE_ALREADY_EXISTS);
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
		 * answer is INVALID_ARGUMENT too); the write paths may not. */
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
	if (resp->code == CODE_ABORTED) {
		FUZZ_CHECK(fake_store_last.called == FAKE_UPDATE);
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
