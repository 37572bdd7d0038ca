/* SPDX-License-Identifier: MIT */
/*
 * ListProducts page tokens (see handlers.h).
 *
 * A token is "1:" and the last product id of the page, in base64url
 * without padding (RFC 4648 §5): opaque to callers, as AIP-158 asks, so
 * the format may change (the "1" is its version), and safe in URLs and
 * shells.  Decoding accepts only tokens of this version that name a
 * canonical product id.
 */
#include <string.h>

#include "handlers/handlers.h"
#include "handlers/validate.h"

enum {
	TOKEN_RAW_LEN = 2 + PRODUCT_ID_LEN,          /* "1:" + UUID */
	TOKEN_LEN     = (TOKEN_RAW_LEN * 4 + 2) / 3, /* base64, unpadded */
};

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

void
page_token_encode(
    const char id[PRODUCT_ID_LEN + 1], char out[PAGE_TOKEN_MAX + 1])
{
	unsigned char raw[TOKEN_RAW_LEN];
	size_t        o = 0;

	raw[0] = '1';
	raw[1] = ':';
	memcpy(raw + 2, id, PRODUCT_ID_LEN);
	for (size_t i = 0; i < TOKEN_RAW_LEN; i += 3) {
		unsigned long v    = (unsigned long)raw[i] << 16;
		size_t        left = TOKEN_RAW_LEN - i;

		if (left > 1)
			v |= (unsigned long)raw[i + 1] << 8;
		if (left > 2)
			v |= raw[i + 2];
		out[o++] = b64url[(v >> 18) & 63];
		out[o++] = b64url[(v >> 12) & 63];
		if (left > 1)
			out[o++] = b64url[(v >> 6) & 63];
		if (left > 2)
			out[o++] = b64url[v & 63];
	}
	out[o] = '\0';
}

static int
b64url_value(char c)
{
	const char *p = c != '\0' ? strchr(b64url, c) : NULL;

	return p != NULL ? (int)(p - b64url) : -1;
}

bool
page_token_decode(const char *token, char id[PRODUCT_ID_LEN + 1])
{
	unsigned char raw[TOKEN_RAW_LEN + 1] = { 0 };
	char          text[PRODUCT_ID_LEN + 1];
	size_t        o = 0;

	if (strlen(token) != TOKEN_LEN)
		return false;
	for (size_t i = 0; i < TOKEN_LEN; i += 4) {
		unsigned long v = 0;
		size_t        k = TOKEN_LEN - i < 4 ? TOKEN_LEN - i : 4;

		for (size_t j = 0; j < 4; j++) {
			int d = j < k ? b64url_value(token[i + j]) : 0;

			if (d < 0)
				return false;
			v = v << 6 | (unsigned long)d;
		}
		for (size_t j = 0; j + 1 < k; j++)
			raw[o++] = (unsigned char)(v >> (16 - 8 * j));
	}
	if (o != TOKEN_RAW_LEN || raw[0] != '1' || raw[1] != ':')
		return false;
	memcpy(text, raw + 2, PRODUCT_ID_LEN);
	text[PRODUCT_ID_LEN] = '\0';
	/* Canonical only: the encoder's output, not any spelling of it. */
	return validate_uuid(text, id) && strcmp(text, id) == 0;
}
