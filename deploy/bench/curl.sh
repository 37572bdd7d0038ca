#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# curl.sh: Connect calls from curl against the same calls over nng.
#
# Starts a private PostgreSQL (deploy/scripts/pg-temp.sh, removed at exit)
# and one inventoryd with --listen and --http, seeds K products, and for
# each client count runs, R times and interleaved (so a burst of other
# load hits every case alike):
#   - get:    inventory-bench --workload get over nng, then one curl
#             process with that many transfers in parallel (--parallel
#             --parallel-max N, HTTP/1.1 keep-alive), each a Connect
#             GetProduct POSTed as JSON, N_GET transfers in all;
#   - update: inventory-bench --workload update over nng (a GetProduct
#             and an UpdateStock per operation), then curl: one Connect
#             UpdateStock per product, JSON, each with the version a
#             BatchGetProducts just read (so every call is OK: no
#             conflicts to retry, one RPC per operation).
# It prints the medians side by side: operations/s, RPCs/s, p50 and p99
# in ms (curl: each transfer's time_total), and every curl answer that
# was not HTTP 200 is counted as a failure.
#
#   curl.sh [options]
#     --build DIR       where inventoryd and inventory-bench were built (build)
#     --clients "N..."  client counts (8 32)
#     --duration S      seconds per inventory-bench run (5)
#     --repeat R        runs per case, medians reported (3)
#     --products K      products seeded (2000; curl's update makes K calls)
#     --get-calls N     curl's GetProduct transfers per run (4000)
#     --out DIR         raw results (a new temp dir, kept)
#
# Not part of the test suite; the machine is shared and noisy: read
# medians and ratios.
set -euo pipefail

bench_name=curl.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$bench_root

build=$root/build
clients_list="8 32"
duration=5
repeat=3
products=2000
get_calls=4000
out=""

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--clients) clients_list=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--products) products=$2; shift 2 ;;
	--get-calls) get_calls=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) bench_help; exit 0 ;;
	*) die "unknown option $1 (try --help)" ;;
	esac
done

for tool in curl jq; do
	command -v "$tool" >/dev/null || die "needs $tool"
done
bench_init curl
bench_db_start
bench_serve_ports "$out/inventoryd.log" --listen "tcp://127.0.0.1:@PORT1@" \
	--http "http://127.0.0.1:@PORT2@" --log-level warn ||
	die "inventoryd did not start (see $out/inventoryd.log)"
url=tcp://127.0.0.1:$port1
svc=http://127.0.0.1:$port2/inventory.v1.InventoryService
"$bench" --server "$url" --products "$products" --requests 1 \
	--write-ids "$out/ids" --quiet --no-progress >/dev/null ||
	die "seeding failed"
mapfile -t ids <"$out/ids"

nng_run() { # WORKLOAD CLIENTS ROUND
	"$bench" --server "$url" --ids "$out/ids" --workload "$1" \
		--clients "$2" --duration "$duration" --quiet --no-progress \
		--json "$out/nng-$1-c$2-r$3.json" >/dev/null || die "inventory-bench failed"
}

# One transfer of a curl config file: a Connect call with a JSON body,
# "code seconds" written out.  A config's options hold for its transfer
# only (`next` separates them; none after the last, where curl would want
# one more URL).
transfer() { # METHOD JSON
	printf 'url = "%s/%s"\nheader = "Content-Type: application/json"\n' "$svc" "$1"
	printf 'data = "%s"\noutput = "/dev/null"\nsilent\nshow-error\n' "${2//\"/\\\"}"
	printf 'write-out = "%%{http_code} %%{time_total}\\n"\nnext\n'
}

# curl -K CONFIG with N in parallel; writes "code seconds" per transfer
# to OUT and the run's wall time (s) to OUT.wall.
curl_run() { # CONFIG CLIENTS OUT
	local t0 t1
	t0=$(date +%s%N)
	curl --no-progress-meter --parallel --parallel-immediate \
		--parallel-max "$2" -K "$1" >"$3" 2>"$3.err" || true
	t1=$(date +%s%N)
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f\n", (b - a) / 1e9 }' >"$3.wall"
}

get_config=$out/get.curl
: >"$get_config"
for ((i = 0; i < get_calls; i++)); do
	transfer GetProduct "{\"id\":\"${ids[i % ${#ids[@]}]}\"}" >>"$get_config"
done
sed -i '$d' "$get_config" # the last `next`

# The products' versions now, as "id version" lines: BatchGetProducts
# through Connect, 500 ids a call (the server takes at most 1,000).
versions() {
	local body
	split -l 500 "$out/ids" "$out/ids.part."
	for part in "$out"/ids.part.*; do
		body=$(jq -R . "$part" | jq -sc '{ids: .}')
		curl -fsS -H 'Content-Type: application/json' -d "$body" \
			"$svc/BatchGetProducts" | jq -r '.products[] | "\(.id) \(.version)"' ||
			die "BatchGetProducts through Connect failed"
	done
	rm -f "$out"/ids.part.*
}

update_config() { # OUT
	local id v
	: >"$1"
	while read -r id v; do
		transfer UpdateStock "{\"id\":\"$id\",\"stock\":\"1000000\",\"expectedVersion\":\"$v\"}" >>"$1"
	done < <(versions)
	sed -i '$d' "$1"
	[ "$(grep -c '^url' "$1")" -eq "${#ids[@]}" ] ||
		die "read the versions of $(grep -c '^url' "$1") products, not ${#ids[@]}"
}

for r in $(seq "$repeat"); do
	for c in $clients_list; do
		log "round $r, $c clients: get"
		nng_run get "$c" "$r"
		curl_run "$get_config" "$c" "$out/curl-get-c$c-r$r"
		log "round $r, $c clients: update"
		nng_run update "$c" "$r"
		update_config "$out/update.curl"
		curl_run "$out/update.curl" "$c" "$out/curl-update-c$c-r$r"
	done
done

pct() { # P FILE: the P-th percentile of column 2, in ms
	awk '{print $2}' "$2" | sort -g |
		awk -v p="$1" '{v[NR]=$1} END { i = int(NR * p / 100 + 0.5); if (i < 1) i = 1; printf "%.2f\n", v[i] * 1000 }'
}

echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); $products products, median of $repeat; nng: ${duration} s runs; curl: $get_calls GetProduct or $products UpdateStock transfers per run"
echo
echo "| workload, clients | nng ops/s (RPCs/s) · p50/p99 ms | curl Connect JSON calls/s · p50/p99 ms | curl / nng RPCs/s | curl failures |"
echo "|---|---|---|---:|---:|"
failures_total=0
for w in get update; do
	for c in $clients_list; do
		nf=("$out"/nng-$w-c$c-r*.json)
		ops=$(for f in "${nf[@]}"; do jq '.throughput_rps' "$f"; done | bench_median)
		rpcs=$(for f in "${nf[@]}"; do jq '(.rpcs | tonumber) / (.duration_s | tonumber)' "$f"; done | bench_median)
		p50=$(for f in "${nf[@]}"; do jq '.latency_us.p50 / 1000' "$f"; done | bench_median)
		p99=$(for f in "${nf[@]}"; do jq '.latency_us.p99 / 1000' "$f"; done | bench_median)
		cf=("$out"/curl-$w-c$c-r?)
		cps=$(for f in "${cf[@]}"; do awk -v w="$(cat "$f.wall")" 'END { printf "%.1f\n", NR / w }' "$f"; done | bench_median)
		c50=$(for f in "${cf[@]}"; do pct 50 "$f"; done | bench_median)
		c99=$(for f in "${cf[@]}"; do pct 99 "$f"; done | bench_median)
		bad=$(cat "${cf[@]}" | awk '$1 != 200' | wc -l)
		failures_total=$((failures_total + bad))
		printf '| %s, %s | %.0f (%.0f) · %.2f/%.2f | %.0f · %.2f/%.2f | %.2f | %d |\n' \
			"$w" "$c" "$ops" "$rpcs" "$p50" "$p99" "$cps" "$c50" "$c99" \
			"$(awk -v a="$cps" -v b="$rpcs" 'BEGIN {print a / b}')" "$bad"
	done
done
echo
echo "raw results: $out"
[ "$failures_total" -eq 0 ] || die "$failures_total curl calls were not answered 200 (see $out/curl-*)"
