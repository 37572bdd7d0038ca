/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target: raw bytes as the JSON body of a Connect call, decoded
 * by pbjson (proto/json) as the request message of every method of
 * inventory.v1.InventoryService in turn (the service descriptor's
 * methods[i].input), as the server's Connect endpoint would.
 *
 * Invariants checked on every input and every request type:
 *  - pbjson_decode() either returns a message of that type or NULL with a
 *    non-empty one-line reason inside PBJSON_ERR_MAX;
 *  - a decoded message encodes, the text decodes again, and encoding
 *    that gives the same text (one message, one canonical text);
 *  - the binary path agrees: pbjson_to_binary() of the input is the
 *    message's packed bytes and pbjson_from_binary() of them is the same
 *    canonical text;
 *  - no crash, leak, overflow or undefined behaviour (ASan/UBSan/LSan).
 */
#include <string.h>

#include "fuzz.h"
#include "pbjson.h"

static const ProtobufCServiceDescriptor *const svc =
    &inventory__v1__inventory_service__descriptor;

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static void
check_reason(const char *err)
{
	FUZZ_CHECK(fuzz_terminated(err, PBJSON_ERR_MAX));
	FUZZ_CHECK(err[0] != '\0');
	for (const char *p = err; *p != '\0'; p++)
		FUZZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
}

/* A message that decoded: its text, that text again, and the bytes. */
static void
check_round_trip(const ProtobufCMessageDescriptor *d,
    const ProtobufCMessage *m, const uint8_t *data, size_t size)
{
	char              err[PBJSON_ERR_MAX];
	ProtobufCMessage *again;
	char             *text, *text2, *text3;
	uint8_t          *packed, *bin;
	size_t            len, len2, n, bn;

	text = pbjson_encode(m, &len);
	FUZZ_CHECK(text != NULL && len == strlen(text));
	again = pbjson_decode(d, text, len, err, sizeof(err));
	FUZZ_CHECK(again != NULL);
	text2 = pbjson_encode(again, &len2);
	FUZZ_CHECK(text2 != NULL && strcmp(text, text2) == 0);

	n      = protobuf_c_message_get_packed_size(m);
	packed = malloc(n > 0 ? n : 1);
	FUZZ_CHECK(packed != NULL);
	FUZZ_CHECK(protobuf_c_message_pack(m, packed) == n);
	bin = pbjson_to_binary(
	    d, (const char *)data, size, &bn, err, sizeof(err));
	FUZZ_CHECK(bin != NULL && bn == n);
	FUZZ_CHECK(n == 0 || memcmp(bin, packed, n) == 0);
	text3 = pbjson_from_binary(d, packed, n, &len, err, sizeof(err));
	FUZZ_CHECK(text3 != NULL && strcmp(text, text3) == 0);

	free(text3);
	free(bin);
	free(packed);
	free(text2);
	protobuf_c_message_free_unpacked(again, NULL);
	free(text);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (unsigned i = 0; i < svc->n_methods; i++) {
		const ProtobufCMessageDescriptor *d = svc->methods[i].input;
		char                              err[PBJSON_ERR_MAX];
		ProtobufCMessage                 *m;

		m = pbjson_decode(
		    d, (const char *)data, size, err, sizeof(err));
		if (m == NULL) {
			check_reason(err);
			continue;
		}
		FUZZ_CHECK(m->descriptor == d);
		check_round_trip(d, m, data, size);
		protobuf_c_message_free_unpacked(m, NULL);
	}
	return 0;
}
