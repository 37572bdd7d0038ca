#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README's C example must be client/examples/reserve.c (from its first
# #include on), so that the example readers copy is the one the build
# compiles.
set -euo pipefail
root=$1
want=$(sed -n '/^#include <stdio.h>/,$p' "$root/client/examples/reserve.c")
got=$(awk '/^```c$/{inside=1; next} inside && /^```$/{exit} inside' "$root/README.md")
if [ "$want" != "$got" ]; then
	echo "README.md's C example differs from client/examples/reserve.c:" >&2
	diff <(echo "$want") <(echo "$got") >&2 || true
	exit 1
fi
echo "README example matches client/examples/reserve.c"
