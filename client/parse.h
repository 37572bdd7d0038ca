/* SPDX-License-Identifier: MIT */
/*
 * The command-line tools' one integer parser (inventoryctl,
 * inventory-bench), in the manner of OpenBSD's strtonum(3): a whole
 * base-10 number within [min, max], or an error; never a silent 0, a
 * wrap-around, trailing junk or leading blanks.  Not part of libinventory.
 */
#ifndef INVENTORY_CLIENT_PARSE_H
#define INVENTORY_CLIENT_PARSE_H

#include <stdint.h>

/* Parse s into *out.  Returns 0, or -1 (*out untouched) when s is NULL,
 * empty, not all digits (with an optional leading '-'), or outside
 * [min, max]. */
int parse_bounded(const char *s, int64_t min, int64_t max, int64_t *out);

#endif
