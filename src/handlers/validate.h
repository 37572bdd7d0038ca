/* SPDX-License-Identifier: MIT */
/*
 * Validation of request fields: pure functions, no allocation, no I/O, no
 * global state, so they are thread-safe and unit-testable on their own.
 * Each returns true if the value is acceptable under the contract's
 * limits (product.h).  A NULL string is never valid.  The handlers turn a
 * false into INVALID_ARGUMENT with a message naming the field.
 */
#ifndef INVENTORY_VALIDATE_H
#define INVENTORY_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/product.h"

/* A UUID in the canonical 8-4-4-4-12 hex form, either case.  On success
 * `out` (PRODUCT_ID_LEN + 1 bytes) receives the lower-case text; on
 * failure `out` is left unspecified.  `out` may be NULL to only check. */
bool validate_uuid(const char *s, char out[PRODUCT_ID_LEN + 1]);

/* A product name: 1..PRODUCT_NAME_MAX bytes of well-formed UTF-8 (no
 * overlong forms, no surrogates, nothing above U+10FFFF) with no control
 * characters (U+0000..U+001F, U+007F..U+009F). */
bool validate_name(const char *s);

/* A price: ASCII digits, optionally '.' and one or two more digits;
 * at most 10 digits before the point (leading zeros count), so it always
 * fits numeric(12,2).  No sign, exponent, spaces, "NaN" or empty string:
 * "0", "19.9" and "19.90" pass; "-1", "1e3", "1.234", "1.", ".5" fail. */
bool validate_price(const char *s);

/* A stock level: 0 .. PRODUCT_STOCK_MAX. */
bool validate_stock(int64_t stock);

/* A request id: 1..REQUEST_ID_MAX bytes of printable ASCII (0x21..0x7e)
 * except '=', '"' and '\\', so that an id logged as request_id=... can
 * never forge another field or line (the client's hex ids qualify), and
 * not "-", which the logs print for "none". */
bool validate_request_id(const char *s);

/* An expected version: >= 1 (versions start at 1). */
bool validate_expected_version(int64_t version);

#endif
