#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# hotkey.sh: what the conflict-free AdjustStock buys over optimistic
# read-modify-write on contended products, and what a multi-item
# reservation costs.
#
# Starts a private PostgreSQL (deploy/scripts/pg-temp.sh, removed at exit)
# and one inventoryd, then for every skew and client count runs
# inventory-bench's
#   buy      GetProduct + UpdateStock(expected_version), retried on conflict
#            (the library's read-modify-write helper)
#   adjust   one AdjustStock(-1): no read, no conflict
#   reserve  one ReserveStock of 1 to 5 distinct products, 1 unit each
# R rounds with the workloads interleaved within a round (so a burst of
# other load hits all alike), and prints the medians side by side:
# purchases per second (an operation that took stock), the mean, p50, p99
# and p99.9 of one operation in ms (a buy includes its back-off sleeps), conflicts per operation (ABORTED answers the buy loop
# absorbed), and requests per operation.  Each run starts its products
# (created by the first, reused by name prefix after) at a stock of
# 100,000,000, so nothing sells out and no run inherits another's stock.
#
#   hotkey.sh [options]
#     --build DIR       where inventoryd and inventory-bench were built (build)
#     --duration S      seconds per run (10)
#     --repeat R        runs per cell, medians reported (3)
#     --clients "L"     client counts ("8 32")
#     --skews "L"       inventory-bench skews ("hot zipf:1.1")
#     --products K      products per run (100)
#     --workers W       inventoryd --workers (2)
#     --out DIR         raw JSON results (a new temp dir, kept)
#
# Not part of the test suite; the machine is shared and noisy: read
# medians and ratios.
set -euo pipefail

bench_name=hotkey.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$bench_root

build=$root/build
duration=10
repeat=3
clients="8 32"
skews="hot zipf:1.1"
products=100
workers=2
out=""
workloads="buy adjust reserve"

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--skews) skews=$2; shift 2 ;;
	--products) products=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) bench_help; exit 0 ;;
	*) die "unknown option $1 (try --help)" ;;
	esac
done

bench_init hotkey
bench_db_start
bench_serve_ports "$out/inventoryd.log" --listen "tcp://127.0.0.1:@PORT1@" \
	--workers "$workers" --log-level warn ||
	die "inventoryd did not start (see $out/inventoryd.log)"
port=$port1
url=tcp://127.0.0.1:$port

for r in $(seq "$repeat"); do
	for skew in $skews; do
		for c in $clients; do
			for w in $workloads; do
				f=$out/$w-${skew/:/_}-c$c-r$r.json
				log "round $r: $w $skew c$c"
				"$bench" --server "$url" --workload "$w" --skew "$skew" \
					--clients "$c" --duration "$duration" \
					--products "$products" --initial-stock 100000000 \
					--quiet --no-progress \
					--json "$f" >/dev/null ||
					die "inventory-bench failed (invariant or run): $f"
			done
		done
	done
done

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); ${duration} s runs, median of $repeat; inventoryd --workers $workers; $products products"
echo
echo "| skew | clients | workload | purchases/s | vs buy | mean / p50 / p99 / p99.9 ms | conflicts per op | requests per op | refusals per op |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|"
for skew in $skews; do
	for c in $clients; do
		base=""
		for w in $workloads; do
			files=("$out"/$w-${skew/:/_}-c$c-r*.json)
			# A purchase: an operation that took stock (OK), per second.
			ps=$(for f in "${files[@]}"; do jq '((.status.OK // 0) - (if .config.workload == "reserve" or .config.workload == "adjust" then (.restocks // 0) else 0 end)) / .duration_s' "$f"; done | bench_median)
			p50=$(for f in "${files[@]}"; do jq '.latency_us.p50 / 1000' "$f"; done | bench_median)
			p99=$(for f in "${files[@]}"; do jq '.latency_us.p99 / 1000' "$f"; done | bench_median)
			p999=$(for f in "${files[@]}"; do jq '.latency_us.p999 / 1000' "$f"; done | bench_median)
			mean=$(for f in "${files[@]}"; do jq '.latency_us.mean / 1000' "$f"; done | bench_median)
			cf=$(for f in "${files[@]}"; do jq '.conflicts / .requests' "$f"; done | bench_median)
			rq=$(for f in "${files[@]}"; do jq '.rpcs / .requests' "$f"; done | bench_median)
			rf=$(for f in "${files[@]}"; do jq '(.refusals // 0) / .requests' "$f"; done | bench_median)
			[ -n "$base" ] || base=$ps
			printf '| %s | %s | %s | %.0f | %.2f | %.2f / %.2f / %.2f / %.0f | %.3f | %.2f | %.3f |\n' \
				"$skew" "$c" "$w" "$ps" "$(awk -v a="$ps" -v b="$base" 'BEGIN {print (b > 0) ? a / b: 0}')" \
				"$mean" "$p50" "$p99" "$p999" "$cf" "$rq" "$rf"
		done
	done
done
echo
echo "raw results: $out"
