#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# scrape.sh: what a Prometheus scraper costs the RPC path.
#
# Starts a private PostgreSQL (deploy/scripts/pg-temp.sh, removed at exit)
# and one inventoryd with --http, then runs the same inventory-bench
# workload R times with nobody scraping and R times with a scraper that
# GETs /metrics every second (curl), interleaved (so a burst of other load
# hits both alike), and prints the medians side by side: requests/s, p50
# and p99 in ms, and the ratio, plus the size and time of one scrape.
#
#   scrape.sh [options]
#     --build DIR       where inventoryd and inventory-bench were built (build)
#     --duration S      seconds per run (10)
#     --repeat R        runs per case, medians reported (3)
#     --clients N       inventory-bench --clients (32)
#     --workload W      inventory-bench --workload (get)
#     --products K      products seeded (1000)
#     --out DIR         raw results (a new temp dir, kept)
#
# Not part of the test suite; the machine is shared and noisy: read
# medians and ratios.
set -euo pipefail

bench_name=scrape.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$bench_root

build=$root/build
duration=10
repeat=3
clients=32
workload=get
products=1000
out=""

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--workload) workload=$2; shift 2 ;;
	--products) products=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) bench_help; exit 0 ;;
	*) die "unknown option $1 (try --help)" ;;
	esac
done

command -v curl >/dev/null || die "needs curl"
bench_init scrape
scraper=""
bench_on_exit() {
	[ -n "$scraper" ] && kill "$scraper" 2>/dev/null && wait "$scraper" 2>/dev/null
}
bench_db_start
bench_serve_ports "$out/inventoryd.log" --listen "tcp://127.0.0.1:@PORT1@" \
	--http "http://127.0.0.1:@PORT2@" --log-level warn ||
	die "inventoryd did not start (see $out/inventoryd.log)"
port=$port1
http_port=$port2
url=tcp://127.0.0.1:$port
metrics=http://127.0.0.1:$http_port/metrics
"$bench" --server "$url" --products "$products" --requests 1 \
	--write-ids "$out/ids" --quiet --no-progress >/dev/null ||
	die "seeding failed"

run() { # CASE ROUND
	"$bench" --server "$url" --ids "$out/ids" --workload "$workload" \
		--clients "$clients" --duration "$duration" --quiet --no-progress \
		--json "$out/$1-r$2.json" >/dev/null || die "inventory-bench failed"
}

for r in $(seq "$repeat"); do
	log "round $r: no scraper"
	run quiet "$r"
	log "round $r: scraping every second"
	(while :; do
		curl -sS -o /dev/null -w '%{size_download} %{time_total}\n' \
			"$metrics" >>"$out/scrapes" 2>/dev/null || true
		sleep 1
	done) &
	scraper=$!
	run scraped "$r"
	kill "$scraper" 2>/dev/null
	wait "$scraper" 2>/dev/null || true
	scraper=""
done

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); $workload, $clients clients, $products products, ${duration} s runs, median of $repeat"
echo
echo "| case | req/s | vs no scraper | p50 / p99 ms |"
echo "|---|---:|---:|---:|"
base=""
for c in quiet scraped; do
	files=("$out"/$c-r*.json)
	rps=$(for f in "${files[@]}"; do jq '.throughput_rps' "$f"; done | bench_median)
	p50=$(for f in "${files[@]}"; do jq '.latency_us.p50 / 1000' "$f"; done | bench_median)
	p99=$(for f in "${files[@]}"; do jq '.latency_us.p99 / 1000' "$f"; done | bench_median)
	[ -n "$base" ] || base=$rps
	label=$([ "$c" = quiet ] && echo "nobody scrapes" || echo "/metrics every 1 s")
	printf '| %s | %.0f | %.3f | %.2f / %.2f |\n' "$label" "$rps" \
		"$(awk -v a="$rps" -v b="$base" 'BEGIN {print a / b}')" "$p50" "$p99"
done
echo
awk '{n++; b+=$1; t+=$2} END {if (n) printf "one scrape: %.0f bytes, %.2f ms on average (%d scrapes)\n", b/n, 1000*t/n, n}' "$out/scrapes"
echo "raw results: $out"
