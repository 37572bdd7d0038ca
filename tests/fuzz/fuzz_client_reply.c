/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: a reply from a (hostile or broken) server into
 * libinventory's codec_reply_decode(), codec_product_decode() and the
 * batch-frame decoder (codec_frame_reply_decode/_entry).  The first byte
 * picks the method the reply answers (byte % 7: the seven RPCs) and, for
 * the frame decoder, how many calls the frame carried (byte / 7 % 8 + 1);
 * the rest is the reply.
 *
 * Invariants checked on every input:
 *  - codec_reply_decode() returns OK or INTERNAL; on INTERNAL out.code is
 *    INTERNAL and out.message starts with "malformed reply"; on OK an OK
 *    verdict always has a product (BatchGetProducts: a non-empty product
 *    array) and codes above 16 are UNKNOWN;
 *  - a batch reply either yields exactly the frame's number of entries,
 *    each decoding like a single reply, or one verdict for the whole
 *    frame that is never OK;
 *  - every string in the decoded structs is NUL-terminated inside its
 *    fixed-size field;
 *  - ListProducts OK has a next_page_token (maybe "") and ReserveStock OK
 *    a non-empty product array; per-item errors (ErrorDetails.items) are
 *    decoded only for ReserveStock and only on a failure, each with a
 *    code that is not OK, a terminated message and product;
 *  - codec_product_decode() returns OK or INTERNAL;
 *  - no crash, leak, overflow or undefined behaviour (ASan/UBSan/LSan).
 */
#include <string.h>

#include "codec.h"
#include "fuzz.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
check_product(const inventory_product *p)
{
	FUZZ_CHECK(fuzz_terminated(p->id, sizeof(p->id)));
	FUZZ_CHECK(fuzz_terminated(p->name, sizeof(p->name)));
	FUZZ_CHECK(fuzz_terminated(p->price, sizeof(p->price)));
}

/* The same bytes as the reply to a batch frame of n calls. */
static void
check_frame(
    enum codec_method method, size_t n, const uint8_t *data, size_t size)
{
	struct codec_frame_reply fr;
	struct codec_reply       whole, out;
	inventory_code           rc;

	memset(&whole, 0xa5, sizeof(whole));
	rc = codec_frame_reply_decode(data, size, n, &fr, &whole);
	if (rc != INVENTORY_OK) {
		FUZZ_CHECK(fr.pb == NULL);
		FUZZ_CHECK(whole.code == rc);
		FUZZ_CHECK(whole.products == NULL);
		FUZZ_CHECK(
		    fuzz_terminated(whole.message, sizeof(whole.message)));
		return;
	}
	FUZZ_CHECK(fr.n == n);
	for (size_t i = 0; i < n; i++) {
		rc = codec_frame_reply_entry(&fr, i, method, "", &out);
		FUZZ_CHECK(rc == INVENTORY_OK || rc == INVENTORY_INTERNAL);
		FUZZ_CHECK(fuzz_terminated(out.message, sizeof(out.message)));
		if (rc == INVENTORY_OK && out.code == INVENTORY_OK &&
		    method != CODEC_BATCH_GET_PRODUCTS &&
		    method != CODEC_RESERVE_STOCK &&
		    method != CODEC_LIST_PRODUCTS) {
			FUZZ_CHECK(out.has_product == 1);
		}
		codec_reply_fini(&out);
	}
	codec_frame_reply_fini(&fr);
	FUZZ_CHECK(fr.pb == NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct codec_reply out;
	inventory_product  p;
	inventory_code     rc;
	enum codec_method  method;

	if (size == 0) {
		rc = codec_reply_decode(CODEC_GET_PRODUCT, NULL, 0, &out);
		FUZZ_CHECK(rc == INVENTORY_INTERNAL);
		return 0;
	}
	method = (enum codec_method)(data[0] % 7);
	memset(&out, 0xa5, sizeof(out)); /* "fully overwritten" */
	rc = codec_reply_decode(method, data + 1, size - 1, &out);
	FUZZ_CHECK(rc == INVENTORY_OK || rc == INVENTORY_INTERNAL);
	FUZZ_CHECK(fuzz_terminated(out.message, sizeof(out.message)));
	FUZZ_CHECK(fuzz_terminated(out.request_id, sizeof(out.request_id)));
	if (rc == INVENTORY_INTERNAL) {
		FUZZ_CHECK(out.code == INVENTORY_INTERNAL);
		FUZZ_CHECK(strncmp(out.message, CODEC_MALFORMED,
		               strlen(CODEC_MALFORMED)) == 0);
	} else {
		FUZZ_CHECK(
		    (int)out.code >= 0 &&
		    ((int)out.code <= 16 || out.code == INVENTORY_UNKNOWN));
		if (out.code == INVENTORY_OK &&
		    (method == CODEC_BATCH_GET_PRODUCTS ||
		        method == CODEC_RESERVE_STOCK)) {
			FUZZ_CHECK(out.nproducts > 0 && out.products != NULL);
		} else if (out.code == INVENTORY_OK &&
		           method == CODEC_LIST_PRODUCTS) {
			FUZZ_CHECK(out.next_page_token != NULL);
			FUZZ_CHECK(
			    (out.nproducts == 0) == (out.products == NULL));
		} else if (out.code == INVENTORY_OK) {
			FUZZ_CHECK(out.has_product == 1);
		}
		if (out.nitems > 0) {
			FUZZ_CHECK(method == CODEC_RESERVE_STOCK);
			FUZZ_CHECK(out.code != INVENTORY_OK);
			FUZZ_CHECK(out.items != NULL);
		}
	}
	FUZZ_CHECK(out.nitems == 0 || out.items != NULL);
	for (size_t i = 0; i < out.nitems; i++) {
		const inventory_item_error *e = &out.items[i];

		FUZZ_CHECK(e->code != INVENTORY_OK);
		FUZZ_CHECK(fuzz_terminated(e->message, sizeof(e->message)));
		check_product(&e->current);
	}
	if (out.next_page_token != NULL) {
		FUZZ_CHECK(method == CODEC_LIST_PRODUCTS);
	}
	for (size_t i = 0; i < out.nproducts; i++) {
		check_product(&out.products[i]);
	}
	if (out.has_product) {
		check_product(&out.product);
	}
	if (out.has_current) {
		check_product(&out.current);
	}
	codec_reply_fini(&out);
	FUZZ_CHECK(out.products == NULL);
	check_frame(method, 1 + data[0] / 7 % 8, data + 1, size - 1);

	memset(&p, 0xa5, sizeof(p));
	rc = codec_product_decode(data, size, &p);
	FUZZ_CHECK(rc == INVENTORY_OK || rc == INVENTORY_INTERNAL);
	if (rc == INVENTORY_OK) {
		check_product(&p);
	}
	return 0;
}
