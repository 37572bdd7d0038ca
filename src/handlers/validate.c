/* SPDX-License-Identifier: MIT */
/*
 * Request field validation (see validate.h).  Everything here is a pure
 * function of its arguments; the checks are byte-exact so that a value
 * accepted here is also accepted by the database's CHECK constraints and
 * column types (PostgreSQL still re-checks: defence in depth).
 */
#include <stddef.h>
#include <string.h>

#include "handlers/validate.h"

static int
hex_lower(int c)
{
	if (c >= '0' && c <= '9')
		return c;
	if (c >= 'a' && c <= 'f')
		return c;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 'a';
	return -1;
}

bool
validate_uuid(const char *s, char out[PRODUCT_ID_LEN + 1])
{
	char   buf[PRODUCT_ID_LEN + 1];
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; i < PRODUCT_ID_LEN; i++) {
		int c = (unsigned char)s[i];

		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (c != '-')
				return false;
			buf[i] = '-';
			continue;
		}
		if ((c = hex_lower(c)) <
		    0) /* also stops at a short string's NUL */
			return false;
		buf[i] = (char)c;
	}
	if (s[PRODUCT_ID_LEN] != '\0')
		return false;
	buf[PRODUCT_ID_LEN] = '\0';
	if (out != NULL)
		memcpy(out, buf, sizeof(buf));
	return true;
}

bool
validate_name(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t               len;

	if (s == NULL)
		return false;
	len = strlen(s);
	if (len < 1 || len > PRODUCT_NAME_MAX)
		return false;
	while (*p != '\0') {
		unsigned int cp;
		int          n, k;

		if (p[0] < 0x80) {
			if (p[0] < 0x20 || p[0] == 0x7f)
				return false;
			p++;
			continue;
		}
		if (p[0] >= 0xc2 && p[0] <= 0xdf) {
			cp = p[0] & 0x1fu;
			n  = 1;
		} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
			cp = p[0] & 0x0fu;
			n  = 2;
		} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
			cp = p[0] & 0x07u;
			n  = 3;
		} else {
			return false; /* continuation byte, 0xc0/0xc1, > 0xf4
			               */
		}
		for (k = 1; k <= n; k++) {
			if ((p[k] & 0xc0) != 0x80) /* also catches the NUL */
				return false;
			cp = (cp << 6) | (p[k] & 0x3fu);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000))
			return false; /* overlong */
		if (cp >= 0xd800 && cp <= 0xdfff)
			return false; /* UTF-16 surrogate */
		if (cp > 0x10ffff)
			return false;
		if (cp >= 0x80 && cp <= 0x9f)
			return false; /* C1 control */
		p += n + 1;
	}
	return true;
}

bool
validate_price(const char *s)
{
	size_t int_digits = 0, frac_digits = 0;

	if (s == NULL)
		return false;
	while (*s >= '0' && *s <= '9') {
		int_digits++;
		s++;
	}
	if (int_digits < 1 || int_digits > 10)
		return false;
	if (*s == '.') {
		s++;
		while (*s >= '0' && *s <= '9') {
			frac_digits++;
			s++;
		}
		if (frac_digits < 1 || frac_digits > 2)
			return false;
	}
	return *s == '\0';
}

bool
validate_stock(int64_t stock)
{
	return stock >= 0 && stock <= PRODUCT_STOCK_MAX;
}

bool
validate_request_id(const char *s)
{
	size_t i;

	if (s == NULL)
		return false;
	for (i = 0; s[i] != '\0'; i++) {
		if (i >= REQUEST_ID_MAX)
			return false;
		/* Printable ASCII without the characters that could forge
		 * a field of a log line (key=value "quoted" \escaped). */
		if ((unsigned char)s[i] <= 0x20 ||
		    (unsigned char)s[i] > 0x7e || s[i] == '=' || s[i] == '"' ||
		    s[i] == '\\')
			return false;
	}
	/* "-" is what the logs and the audit print for "no request id":
	 * as an id it could not be told from none. */
	return i >= 1 && strcmp(s, "-") != 0;
}

bool
validate_expected_version(int64_t version)
{
	return version >= 1;
}
