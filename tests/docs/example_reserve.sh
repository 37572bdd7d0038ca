#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The README example against the fixture server: reserve 3 of 5 units, then
# 3 more must fail with FAILED_PRECONDITION and leave the stock at 2.
set -euo pipefail
reserve=$1
inventoryctl=$2
testenv=$3
# shellcheck disable=SC1091
. "$testenv/server.env"
export INVENTORY_SERVER

json=$("$inventoryctl" create --name "example widget" --stock 5 --price 1.50)
id=$(sed -n 's/.*"id":"\([0-9a-f-]*\)".*/\1/p' <<<"$json")
[ -n "$id" ] || { echo "create failed: $json" >&2; exit 1; }

out=$("$reserve" "$INVENTORY_SERVER" "$id" 3)
echo "$out"
grep -q "stock now 2 at version 2" <<<"$out" || { echo "unexpected: $out" >&2; exit 1; }

rc=0
"$reserve" "$INVENTORY_SERVER" "$id" 3 2>/tmp/reserve.$$ || rc=$?
err=$(cat /tmp/reserve.$$); rm -f /tmp/reserve.$$
echo "$err"
[ "$rc" -eq 1 ] && grep -q FAILED_PRECONDITION <<<"$err" ||
	{ echo "second reserve: rc=$rc: $err" >&2; exit 1; }

json=$("$inventoryctl" get "$id")
grep -q '"stock":2,' <<<"$json" && grep -q '"version":2,' <<<"$json" ||
	{ echo "after a refused reserve: $json" >&2; exit 1; }
echo "example reserve: ok"
