/*
 * libFuzzer target: a reply from a (hostile or broken) server into
 * libinventory's codec_reply_decode() and codec_product_decode().  The
 * first byte picks the method the reply answers; the rest is the reply.
 *
 * Invariants checked on every input:
 *  - codec_reply_decode() returns OK or INTERNAL; on INTERNAL out.code is
 *    INTERNAL and out.message starts with "malformed reply"; on OK an OK
 *    verdict always has a product and codes above 16 are UNKNOWN;
 *  - every string in the decoded structs is NUL-terminated inside its
 *    fixed-size field;
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
	method = (enum codec_method)(data[0] % 3);
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
		if (out.code == INVENTORY_OK) {
			FUZZ_CHECK(out.has_product == 1);
		}
	}
	if (out.has_product) {
		check_product(&out.product);
	}
	if (out.has_current) {
		check_product(&out.current);
	}

	memset(&p, 0xa5, sizeof(p));
	rc = codec_product_decode(data, size, &p);
	FUZZ_CHECK(rc == INVENTORY_OK || rc == INVENTORY_INTERNAL);
	if (rc == INVENTORY_OK) {
		check_product(&p);
	}
	return 0;
}
