#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# smoke.sh: a few hundred requests of inventory-bench against the test
# server; fails unless every run exits 0 (the invariant holds) and its JSON
# says so.  Registered by smoke.cmake as the ctest test bench.smoke.
#
#   smoke.sh INVENTORY_BENCH [TESTENV]
# The server URL comes from $INVENTORY_SERVER, else from TESTENV/server.env
# (written by the ctest "server" fixture).
set -euo pipefail
bench=$1
testenv=${2:-${INVENTORY_TESTENV:-}}

if [ -z "${INVENTORY_SERVER:-}" ] && [ -n "$testenv" ] && [ -f "$testenv/server.env" ]; then
	# shellcheck disable=SC1091
	. "$testenv/server.env"
fi
[ -n "${INVENTORY_SERVER:-}" ] || { echo "smoke: no INVENTORY_SERVER and no server.env" >&2; exit 1; }
export INVENTORY_SERVER
# The runs below reuse each other's products (by name prefix, their stock
# set back to --initial-stock); a prefix of this run's own keeps other
# benches on the same server out of them.
export INVENTORY_BENCH_NAME_PREFIX="smoke-$$-$RANDOM-"
command -v jq >/dev/null || { echo "smoke: needs jq" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

run() { # name args...
	local name=$1 rc=0
	shift
	echo "== $name: inventory-bench $*"
	"$bench" --server "$INVENTORY_SERVER" --no-progress --timeout 10000 \
		--json "$tmp/$name.json" "$@" || rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "smoke: $name: exit status $rc" >&2
		fail=1
		return
	fi
	if ! jq -e '.invariant_ok == true' "$tmp/$name.json" >/dev/null; then
		echo "smoke: $name: JSON does not say invariant_ok: true" >&2
		fail=1
	fi
}

# The last-items race: 8 buyers, 3 products with 20 items each, 300 buys.
run buy --clients 8 --requests 300 --products 3 --initial-stock 20 \
	--workload buy --skew zipf:1.1 --seed 7
# Every buy that was acknowledged sold exactly one item: all 60 are gone.
if [ "$fail" -eq 0 ] && ! jq -e '.invariant.purchases == 60' "$tmp/buy.json" >/dev/null; then
	echo "smoke: buy: expected 60 purchases: $(jq '.invariant.purchases' "$tmp/buy.json")" >&2
	fail=1
fi
# Read-then-write on one hot product: conflicts are outcomes, versions
# must advance by exactly the acknowledged updates.
run update --clients 8 --requests 300 --products 4 --workload update \
	--skew hot --seed 8
# A mix through the retry helper, Zipf-skewed.
run mix --clients 4 --requests 200 --products 10 \
	--workload get:40,update:20,retry:20,buy:20 --skew zipf:1.0 --seed 9
# The same hot update race with every call in its own frame, over three
# connections: coalescing must not be what keeps the invariant.
run update_single --clients 8 --requests 300 --products 4 --workload update \
	--skew hot --seed 10 --no-coalesce --connections 3
# BatchGetProducts mixed with writes: every batch read answers in request
# order (a product out of place is a contract violation, exit 1).
run batchget --clients 8 --requests 300 --products 20 --batch-size 8 \
	--workload batchget:50,get:25,update:25 --seed 11
if [ "$fail" -eq 0 ] && ! jq -e '.workloads.batchget.requests > 0' "$tmp/batchget.json" >/dev/null; then
	echo "smoke: batchget: no batchget requests in the JSON" >&2
	fail=1
fi
# AdjustStock(-1) on one hot product with 20 items: sold out again and
# again, restocked each time; FAILED_PRECONDITION is a refusal, and the
# stock must equal the seeded one plus every acknowledged delta.
run adjust --clients 8 --requests 300 --products 3 --initial-stock 20 \
	--workload adjust --skew hot --seed 12
# Reservations of 1..5 distinct products over a Zipf spread, with buys
# racing them on the same products.
run reserve --clients 8 --requests 300 --products 10 --initial-stock 5 \
	--workload reserve:70,buy:30 --skew zipf:1.1 --seed 13
if [ "$fail" -eq 0 ] && ! jq -e '.workloads.reserve.requests > 0' "$tmp/reserve.json" >/dev/null; then
	echo "smoke: reserve: no reserve requests in the JSON" >&2
	fail=1
fi
# Many sessions on a few threads: 5,000 operations in flight from 2
# worker threads (the asynchronous API), reads and read->update cycles.
run many --clients 5000 --threads 2 --requests 20000 --products 50 \
	--workload get:50,update:50 --seed 15
# Open loop: sessions wait for their due time in their worker's queue.
run open --clients 20 --threads 1 --rate 500 --duration 1 --products 5 \
	--workload get:70,retry:30 --seed 16
# --svg: a 3 s run drawn as SVG; it must parse as XML (xmllint) and hold
# the two panels, a requests series with one point per second, and the
# latency bars.
run svg --clients 4 --duration 3 --products 10 --workload get:80,update:20 \
	--seed 14 --svg "$tmp/run.svg"
if [ "$fail" -eq 0 ]; then
	if ! command -v xmllint >/dev/null; then
		echo "smoke: svg: xmllint is missing (libxml2-utils)" >&2
		fail=1
	elif ! xmllint --noout "$tmp/run.svg"; then
		echo "smoke: svg: not well-formed XML" >&2
		fail=1
	else
		points=$(xmllint --xpath 'string(//*[@id="series-requests"]/@points)' \
			"$tmp/run.svg" | wc -w)
		bars=$(xmllint --xpath 'count(//*[@id="latency"]/*[@class="lat"])' \
			"$tmp/run.svg")
		ops=$(xmllint --xpath 'count(//*[@id="throughput"]/*[@class="hit"])' \
			"$tmp/run.svg")
		if [ "$points" -lt 2 ] || [ "$points" -gt 4 ] || [ "$ops" != "$points" ] ||
			[ "$bars" -ne 40 ] ||
			! xmllint --xpath '//*[@id="series-conflicts"]' "$tmp/run.svg" >/dev/null 2>&1 ||
			! xmllint --xpath '//*[@id="errors"]' "$tmp/run.svg" >/dev/null 2>&1; then
			echo "smoke: svg: points=$points seconds=$ops latency bars=$bars" >&2
			fail=1
		fi
		# The seconds' requests add up to no more than the run's.
		sum=$(grep -o '<title>second [0-9]*: [0-9]* requests' "$tmp/run.svg" |
			awk '{s += $3} END {print s + 0}')
		total=$(jq '.requests' "$tmp/svg.json")
		if [ "$sum" -le 0 ] || [ "$sum" -gt "$total" ]; then
			echo "smoke: svg: per-second requests sum to $sum, run total $total" >&2
			fail=1
		fi
	fi
fi

exit "$fail"
