#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# security.no_token_in_logs: no bearer token in any log the suite
# wrote.  Runs after the security tests (ctest fixture cleanup).
#
#   no_token_in_logs.sh STATE_DIR BUILD_DIR
#
# Looks for every token the security tests made (STATE_DIR/tokens) in:
# the logs they kept (STATE_DIR/logs: server logs, client output, audit
# files), the shared fixture server's directory (BUILD_DIR/testenv), the
# suite's own logs (BUILD_DIR/Testing/Temporary) and any fault-test work
# directory left in /tmp (kept on failure).  Fails if one appears, or if
# there is nothing to look for.  On success the token list and the kept
# logs are removed, so a later run starts clean.
set -euo pipefail
state=$1
build=$2
say() { echo "[no_token_in_logs] $*"; }

[ -s "$state/tokens" ] || { say "FAIL: $state/tokens is missing or empty: run the security.* tests first"; exit 1; }
dirs=()
for d in "$state/logs" "$build/testenv" "$build/Testing/Temporary" /tmp/inv-fault.*; do
	[ -d "$d" ] && dirs+=("$d")
done
[ "${#dirs[@]}" -gt 0 ] || { say "FAIL: no log directory to look in"; exit 1; }
n=$(grep -vc '^$' "$state/tokens" || true)
files=$(find "${dirs[@]}" -type f ! -path '*/tokens/*' ! -path '*/pg/data/*' 2>/dev/null | wc -l || true)
[ "$files" -gt 0 ] || { say "FAIL: no log files found under ${dirs[*]}"; exit 1; }
hits=$(find "${dirs[@]}" -type f ! -path '*/tokens/*' ! -path '*/pg/data/*' -print0 2>/dev/null |
	xargs -0 -r grep -lF -f <(grep -v '^$' "$state/tokens") 2>/dev/null || true)
if [ -n "$hits" ]; then
	say "FAIL: a bearer token appears in:"
	echo "$hits"
	exit 1
fi
say "$n token(s), $files file(s) under ${dirs[*]}: no token found"
rm -rf "$state/logs" "$state/tokens"
say "PASS"
