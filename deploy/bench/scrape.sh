#!/usr/bin/env bash
# scrape.sh: what a Prometheus scraper costs the RPC path (issue 11).
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

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../scripts/server.sh
. "$root/deploy/scripts/server.sh"

build=$root/build
duration=10
repeat=3
clients=32
workload=get
products=1000
out=""

die() { echo "scrape.sh: $*" >&2; exit 1; }
log() { echo "scrape.sh: $*" >&2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--workload) workload=$2; shift 2 ;;
	--products) products=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown option $1 (try --help)" ;;
	esac
done

inventoryd=$build/src/inventoryd
bench=$build/client/loadgen/inventory-bench
[ -x "$inventoryd" ] || die "no $inventoryd (--build DIR)"
[ -x "$bench" ] || die "no $bench (--build DIR)"
command -v jq >/dev/null || die "needs jq"
command -v curl >/dev/null || die "needs curl"
[ -n "$out" ] || out=$(mktemp -d /tmp/inventory-scrape-bench.XXXXXX)
mkdir -p "$out"
chmod 755 "$out"
pgdir=$out/pg
srv=""
scraper=""

cleanup() {
	set +e
	[ -n "$scraper" ] && kill "$scraper" 2>/dev/null && wait "$scraper" 2>/dev/null
	[ -n "$srv" ] && kill "$srv" 2>/dev/null && wait "$srv" 2>/dev/null
	bash "$root/deploy/scripts/pg-temp.sh" stop "$pgdir" >/dev/null 2>&1
}
trap cleanup EXIT

bash "$root/deploy/scripts/pg-temp.sh" start "$pgdir" >/dev/null
# shellcheck disable=SC1091
. "$pgdir/env"
inventory_migrate "$inventoryd" "$out/migrate.log" ||
	die "inventoryd --migrate failed (see $out/migrate.log)"
port=$(inventory_free_port)
http_port=$(inventory_free_port)
url=tcp://127.0.0.1:$port
metrics=http://127.0.0.1:$http_port/metrics
inventory_serve "$inventoryd" "$out/inventoryd.log" --db "$INVENTORY_DB" \
	--listen "$url" --http "http://127.0.0.1:$http_port" --log-level warn
srv=$inventory_pid
inventory_wait "$srv" 10 inventory_port_open "$port" ||
	die "inventoryd did not start (see $out/inventoryd.log)"
"$bench" --server "$url" --products "$products" --requests 1 \
	--write-ids "$out/ids" --quiet --no-progress >/dev/null ||
	die "seeding failed"

median() { sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'; }

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
	rps=$(for f in "${files[@]}"; do jq '.throughput_rps' "$f"; done | median)
	p50=$(for f in "${files[@]}"; do jq '.latency_us.p50 / 1000' "$f"; done | median)
	p99=$(for f in "${files[@]}"; do jq '.latency_us.p99 / 1000' "$f"; done | median)
	[ -n "$base" ] || base=$rps
	label=$([ "$c" = quiet ] && echo "nobody scrapes" || echo "/metrics every 1 s")
	printf '| %s | %.0f | %.3f | %.2f / %.2f |\n' "$label" "$rps" \
		"$(awk -v a="$rps" -v b="$base" 'BEGIN {print a / b}')" "$p50" "$p99"
done
echo
awk '{n++; b+=$1; t+=$2} END {if (n) printf "one scrape: %.0f bytes, %.2f ms on average (%d scrapes)\n", b/n, 1000*t/n, n}' "$out/scrapes"
echo "raw results: $out"
