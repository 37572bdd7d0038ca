#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ARCHITECTURE.md matches the tree: every file path under src/, client/,
# tests/ or deploy/ it names exists, and every tracked source file under
# src/ is named in it (so a newcomer's map has no hole and no ghost).
# Run by the `format` gate.
#
#   deploy/scripts/check-architecture.sh
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$root"
doc=ARCHITECTURE.md
fails=0

# Paths it names: words starting with one of the top folders and ending
# in a file name with an extension (folders and globs are not checked).
mapfile -t named < <(grep -oE '\b(src|client|tests|deploy|proto)/[A-Za-z0-9_./-]+\.[a-z]+\b' "$doc" |
	sort -u)
for p in "${named[@]}"; do
	if [ ! -e "$p" ]; then
		echo "$doc names $p, which does not exist" >&2
		fails=$((fails + 1))
	fi
done

# Files under src/ it must name: by path, or by file name on a line that
# names their folder (e.g. "src/store/  ... conn.c (...), product.c").
while IFS= read -r f; do
	base=${f##*/}
	dir=${f%/*}
	if grep -qF "$f" "$doc"; then
		continue
	fi
	if grep -F "$dir/" "$doc" | grep -qwF "$base" ||
		grep -A4 -F "$dir/" "$doc" | grep -qwF "$base"; then
		continue
	fi
	echo "$doc does not name $f" >&2
	fails=$((fails + 1))
done < <(git ls-files -- 'src/*.c' 'src/*.h' 'src/*.cmake' | grep -v '\.h$')

if [ "$fails" -gt 0 ]; then
	echo "check-architecture: $fails mismatches between $doc and the tree" >&2
	exit 1
fi
echo "check-architecture: $doc names ${#named[@]} existing paths and every src/ source file"
