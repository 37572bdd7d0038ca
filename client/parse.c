/* SPDX-License-Identifier: MIT */
/* The command-line tools' integer parser (see parse.h). */
#include "parse.h"

#include <errno.h>
#include <stdlib.h>

int
parse_bounded(const char *s, int64_t min, int64_t max, int64_t *out)
{
	char     *end;
	long long v;

	/* strtoll skips blanks and takes '+': neither is a number here. */
	if (s == NULL || *s == '\0' || *s == ' ' || *s == '\t' || *s == '+')
		return -1;
	errno = 0;
	v     = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (int64_t)v;
	return 0;
}
