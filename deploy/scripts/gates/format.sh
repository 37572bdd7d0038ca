#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Gate: clang-format check (STYLE.md §10).
#
#   deploy/scripts/gates/format.sh          check every tracked .c/.h
#   deploy/scripts/gates/format.sh FILE...  check only these
#
# Runs clang-format (major version pinned: 14, as nng's etc/format-check.sh
# pins one, because versions disagree) with the repository's .clang-format
# in --dry-run --Werror mode over our C sources: src/, client/, tests/
# (generated code lives only in build directories and is never tracked).
# Prints each file that is not formatted and exits 1 if there is any.
# To fix one file: clang-format-14 -i FILE.  Then ARCHITECTURE.md is
# checked against the tree (deploy/scripts/check-architecture.sh).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$root"
want=${CLANG_FORMAT_MAJOR:-14}

cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
	for c in "clang-format-$want" clang-format; do
		if command -v "$c" >/dev/null 2>&1; then
			cf=$c
			break
		fi
	done
fi
[ -n "$cf" ] || { echo "format: clang-format-$want not found" >&2; exit 1; }
have=$("$cf" --version | sed -n 's/.*version \([0-9]*\).*/\1/p')
if [ "$have" != "$want" ]; then
	echo "format: $cf is version $have, the check is pinned to $want" >&2
	exit 1
fi

if [ $# -gt 0 ]; then
	files=("$@")
else
	mapfile -t files < <(git ls-files -- 'src/*.[ch]' 'client/*.[ch]' \
		'tests/*.[ch]')
fi
bad=()
for f in "${files[@]}"; do
	if ! "$cf" --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
		bad+=("$f")
	fi
done
echo "format: checked ${#files[@]} files with $cf ($("$cf" --version | head -n 1))"
if [ ${#bad[@]} -gt 0 ]; then
	echo "format: ${#bad[@]} not formatted (clang-format-$want -i FILE fixes):" >&2
	for f in "${bad[@]}"; do
		n=$("$cf" --style=file "$f" | diff "$f" - | grep -c '^[<>]' || true)
		echo "  $f ($n differing lines)" >&2
	done
	exit 1
fi
echo "format: all formatted"
bash deploy/scripts/check-architecture.sh
# Every source, build and script file names its license (SPDX), as a
# distribution's license checker expects.
mapfile -t nolicense < <(git ls-files -- '*.c' '*.h' '*.sh' '*.py' '*.cmake' \
	'*.proto' '*CMakeLists.txt' | xargs grep -L 'SPDX-License-Identifier: MIT')
if [ ${#nolicense[@]} -gt 0 ]; then
	echo "format: no SPDX-License-Identifier line in: ${nolicense[*]}" >&2
	exit 1
fi
echo "format: every source file carries its SPDX line"
