#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# reuse.sh: inventory-bench pointed at a server twice adds no products the
# second time.  It names what it creates with --name-prefix and on the
# next run reuses the products that carry it (found with ListProducts,
# their stock set back to --initial-stock), creating only the missing
# ones; --ids leaves all that alone.  Registered by smoke.cmake as the
# ctest test bench.reuse; talks to the fixture server.
#
#   reuse.sh INVENTORY_BENCH INVENTORYCTL [TESTENV]
# The server URL comes from $INVENTORY_SERVER, else from TESTENV/server.env.
set -euo pipefail
bench=$1
ctl=$2
testenv=${3:-${INVENTORY_TESTENV:-}}

if [ -z "${INVENTORY_SERVER:-}" ] && [ -n "$testenv" ] && [ -f "$testenv/server.env" ]; then
	# shellcheck disable=SC1091
	. "$testenv/server.env"
fi
[ -n "${INVENTORY_SERVER:-}" ] || { echo "reuse: no INVENTORY_SERVER and no server.env" >&2; exit 1; }
command -v jq >/dev/null || { echo "reuse: needs jq" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# Other tests create products on the same server at the same time: count
# only this test's own, by a prefix nobody else uses.
prefix="reuse-test-$$-$RANDOM-"
fail=0
failed() { echo "reuse: $*" >&2; fail=1; }

# named: how many products the server lists whose name starts with
# $prefix, every page of ListProducts read.
named() {
	local token="" n=0 page
	while :; do
		page=$("$ctl" --server "$INVENTORY_SERVER" list --page-size 1000 --page-token "$token")
		n=$((n + $(jq --arg p "$prefix" '[.products[] | select(.name | startswith($p))] | length' <<<"$page")))
		token=$(jq -r '.next_page_token' <<<"$page")
		[ -n "$token" ] || break
	done
	echo "$n"
}

run() { # name args...
	local name=$1 rc=0
	shift
	echo "== $name: inventory-bench $*"
	"$bench" --server "$INVENTORY_SERVER" --no-progress --timeout 10000 \
		--json "$tmp/$name.json" "$@" >"$tmp/$name.txt" || rc=$?
	cat "$tmp/$name.txt"
	[ "$rc" -eq 0 ] || failed "$name: exit status $rc"
	jq -e '.invariant_ok == true' "$tmp/$name.json" >/dev/null ||
		failed "$name: JSON does not say invariant_ok: true"
}

# expect NAME JQ-FILTER WANT: the run's JSON says WANT.
expect() {
	local got
	got=$(jq -c "$2" "$tmp/$1.json")
	if [ "$got" = "$3" ]; then
		echo "ok: $1: $2 = $got"
	else
		failed "$1: $2 is $got, want $3"
	fi
}

[ "$(named)" = 0 ] || failed "products named $prefix before the first run"

# First run: nothing to reuse, 5 created under the prefix.
run first --name-prefix "$prefix" --products 5 --requests 100 \
	--workload get:50,update:50 --seed 21
expect first '[.products_reused, .products_created]' '[0,5]'
expect first '.config.name_prefix' "\"$prefix\""
grep -q "Products:.*0 reused (named $prefix\\*), 5 created" "$tmp/first.txt" ||
	failed "first: the summary does not say 0 reused, 5 created"
n1=$(named)
[ "$n1" = 5 ] || failed "after the first run $n1 products are named $prefix, want 5"

# Second run, the same count, the prefix from the environment as a
# deployment would set it: all 5 reused, none created, the list did not
# grow.
INVENTORY_BENCH_NAME_PREFIX=$prefix run second --products 5 --requests 100 \
	--workload get:50,update:50 --seed 22
expect second '[.products_reused, .products_created]' '[5,0]'
grep -q "Products:.*5 reused (named $prefix\\*), 0 created" "$tmp/second.txt" ||
	failed "second: the summary does not say 5 reused, 0 created"
n2=$(named)
[ "$n2" = "$n1" ] || failed "the second run grew the products named $prefix from $n1 to $n2"

# One update is two RPCs (GetProduct + UpdateStock), one get is one: the
# report counts operations and RPCs apart.
expect second '.requests' '100'
jq -e '.rpcs > .requests' "$tmp/second.json" >/dev/null ||
	failed "second: rpcs $(jq .rpcs "$tmp/second.json") not above requests 100 with updates in the mix"
grep -q '^  RPCs:' "$tmp/second.txt" || failed "second: no RPCs line in the summary"

# Asking for more: the 5 reused, 2 created.  Their stock was 1000000 and
# the update runs moved it; a pure buy run sets it back to 3, so 200 buys
# spread over 7 x 3 items sell exactly the 21 (a reused product left at
# its old stock would sell far more).
run third --name-prefix "$prefix" --products 7 --requests 200 \
	--workload buy --initial-stock 3 --seed 23 --write-ids "$tmp/ids"
expect third '[.products_reused, .products_created]' '[5,2]'
expect third '.invariant.purchases' '21'
n3=$(named)
[ "$n3" = 7 ] || failed "after the third run $n3 products are named $prefix, want 7"

# --ids: those products as they are, nothing listed, reused or created.
run ids --ids "$tmp/ids" --requests 50 --workload get --seed 24
expect ids '[.products_reused, .products_created, .config.products]' '[0,0,7]'
expect ids '.config.name_prefix' 'null'
n4=$(named)
[ "$n4" = 7 ] || failed "after the --ids run $n4 products are named $prefix, want 7"

# An empty prefix would take every product of the server: refused.
rc=0
"$bench" --server "$INVENTORY_SERVER" --name-prefix "" --requests 1 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 2 ] || failed "--name-prefix '' exited $rc, want 2 (usage)"

exit "$fail"
