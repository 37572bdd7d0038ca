#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Gate: static analysis with clang-tidy 14 (and cppcheck, when installed).
#
#   deploy/scripts/gates/tidy.sh            src/ and client/
#   TIDY_SKIP_CPPCHECK=1 deploy/scripts/gates/tidy.sh
#
# Configures and builds build-tidy/ (its own directory; the build makes the
# generated protobuf-c and SQL headers the sources include) and runs
# clang-tidy-14 with the repository's .clang-tidy (clang-analyzer-*,
# bugprone-*; each disabled check says why) on every src/ and client/
# translation unit in build-tidy/compile_commands.json.  Generated code
# (under build-tidy/) is not checked.  Then cppcheck 2.x over the same
# compile database with --enable=warning,portability and
# --error-exitcode=1.  Prints what it checked and every finding; exits
# non-zero on any.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$root"
build=${TIDY_BUILD_DIR:-build-tidy}
jobs=$(nproc 2>/dev/null || echo 2)
tidy=${CLANG_TIDY:-clang-tidy-14}
command -v "$tidy" >/dev/null || { echo "tidy: $tidy not found" >&2; exit 1; }

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DBUILD_TESTING=OFF \
	-DCMAKE_EXPORT_COMPILE_COMMANDS=ON -DINVENTORY_SANITIZER= >/dev/null
cmake --build "$build" -j "$jobs" >/dev/null

# Our translation units: src/ and client/ sources in the compile database.
mapfile -t files < <(sed -n 's/^ *"file": "\(.*\)",*$/\1/p' \
	"$build/compile_commands.json" | grep -E "^$root/(src|client)/" |
	grep -v "^$root/$build/" | sort -u)
if [ ${#files[@]} -eq 0 ]; then
	echo "tidy: no src/ or client/ files in $build/compile_commands.json" >&2
	exit 1
fi
echo "tidy: $($tidy --version | grep -m1 version) on ${#files[@]} files:"
printf '  %s\n' "${files[@]#"$root"/}"
echo "tidy: enabled checks: $("$tidy" -p "$build" --list-checks "${files[0]}" | tail -n +2 | wc -l) (.clang-tidy)"

out=$build/tidy.log
rc=0
printf '%s\n' "${files[@]}" |
	xargs -P "$jobs" -n 1 "$tidy" -p "$build" --quiet >"$out" 2>&1 || rc=$?
findings=$(grep -cE ': (warning|error): ' "$out" || true)
if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ]; then
	grep -E ': (warning|error): ' "$out" | sort -u >&2 || true
	echo "tidy: clang-tidy: $findings finding(s) (full output: $out)" >&2
	status=1
else
	echo "tidy: clang-tidy: no findings"
	status=0
fi

if [ -z "${TIDY_SKIP_CPPCHECK:-}" ] && command -v cppcheck >/dev/null; then
	cout=$build/cppcheck.log
	# Same translation units; system headers are not ours to check, so
	# protobuf-c.h's version macros (which the generated header tests)
	# are given here.
	if ! cppcheck --project="$build/compile_commands.json" \
		--file-filter="src/*" --file-filter="client/*" \
		--enable=warning,portability --inline-suppr --quiet \
		--error-exitcode=1 -j "$jobs" \
		--suppress=missingIncludeSystem \
		-DPROTOBUF_C_VERSION_NUMBER=1004001 \
		-DPROTOBUF_C_MIN_COMPILER_VERSION=1000000 >"$cout" 2>&1; then
		cat "$cout" >&2
		echo "tidy: cppcheck: findings above ($cout)" >&2
		status=1
	else
		echo "tidy: $(cppcheck --version): no findings"
	fi
fi
exit $status
