#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# security.sh: what TLS and caller authentication cost.
#
# Starts a private PostgreSQL (deploy/scripts/pg-temp.sh, removed at exit),
# makes test certificates (tests/security/certs.sh) and a writer token in
# a temporary folder, and two inventoryd processes with the same workers:
#
#   plain  tcp://127.0.0.1:P1 and tls+tcp://127.0.0.1:P2 (--tls-cert/key)
#   auth   tcp://127.0.0.1:P3 with --auth-file (one writer)
#
# Then, for every workload, runs inventory-bench the same way over each
# of the three paths (tcp, tls, tcp+auth), R rounds with the paths
# interleaved within a round so that a burst of other load hits all three
# alike, and prints the medians side by side: requests/s, p50 and p99 in
# ms, and throughput relative to plain tcp://.  The same products (seeded
# once over tcp:// and passed with --ids) serve every run.
#
#   security.sh [options]
#     --build DIR       where inventoryd and inventory-bench were built (build)
#     --duration S      seconds per run (5)
#     --repeat R        runs per cell, medians reported (3)
#     --clients N       inventory-bench --clients (8)
#     --products K      products seeded (1000)
#     --workloads "L"   inventory-bench workloads ("get update")
#     --workers W       inventoryd --workers (2)
#     --bench-args "."  more inventory-bench options for every run
#     --out DIR         raw results (a new temp dir, kept)
#
# Each run opens fresh connections, so the TLS handshake is part of every
# run (once per connection, not per request).  The machine is shared and
# noisy: read medians and ratios, and repeat before believing a small
# difference.  Not part of the test suite.
set -euo pipefail

bench_name=security.sh
# shellcheck source=lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
root=$bench_root

build=$root/build
duration=5
repeat=3
clients=8
products=1000
workloads="get update"
workers=2
bench_args=""
out=""

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--products) products=$2; shift 2 ;;
	--workloads) workloads=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--bench-args) bench_args=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	-h | --help) bench_help; exit 0 ;;
	*) die "unknown option $1 (try --help)" ;;
	esac
done

bench_init security
secret=$(mktemp -d /tmp/inventory-security-secret.XXXXXX)
bench_on_exit() { rm -rf "$secret"; }
bench_db_start
bash "$root/tests/security/certs.sh" "$secret/certs" || die "certs.sh failed"
# The token lives in the secret folder only (removed at exit).
od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$secret/token"
printf 'bench writer %s\n' "$(sha256sum <"$secret/token" | cut -d' ' -f1)" >"$secret/auth"

bench_serve_ports "$out/inventoryd-plain.log" --workers "$workers" \
	--listen "tcp://127.0.0.1:@PORT1@,tls+tcp://127.0.0.1:@PORT2@" \
	--tls-cert "$secret/certs/server.crt" --tls-key "$secret/certs/server.key" ||
	die "inventoryd did not start (see $out/inventoryd-plain.log)"
p_tcp=$port1
p_tls=$port2
bench_serve_ports "$out/inventoryd-auth.log" --workers "$workers" \
	--listen "tcp://127.0.0.1:@PORT1@" --auth-file "$secret/auth" ||
	die "inventoryd did not start (see $out/inventoryd-auth.log)"
p_auth=$port1

declare -A url=(
	[tcp]="tcp://127.0.0.1:$p_tcp"
	[tls]="tls+tcp://127.0.0.1:$p_tls"
	[auth]="tcp://127.0.0.1:$p_auth"
)
declare -A extra=(
	[tcp]=""
	[tls]="--tls-ca $secret/certs/ca.crt"
	[auth]="--token-file $secret/token"
)
paths="tcp tls auth"

# Seed once (also waits until both servers answer).
for i in $(seq 1 100); do
	# shellcheck disable=SC2086
	if "$bench" --server "${url[tcp]}" --products "$products" --requests 1 \
		--write-ids "$out/ids" --quiet --no-progress >"$out/seed.log" 2>&1 &&
		"$bench" --server "${url[auth]}" ${extra[auth]} --ids "$out/ids" \
			--requests 1 --quiet --no-progress >>"$out/seed.log" 2>&1; then
		break
	fi
	[ "$i" -lt 100 ] || { cat "$out/seed.log" >&2; die "the servers did not come up"; }
	sleep 0.2
done
log "results in $out; $products products, $clients clients, ${duration}s x $repeat per cell"

for w in $workloads; do
	for r in $(seq 1 "$repeat"); do
		for p in $paths; do
			f=$out/$w-$p-$r.json
			# shellcheck disable=SC2086
			"$bench" --server "${url[$p]}" ${extra[$p]} --ids "$out/ids" \
				--workload "$w" --clients "$clients" --duration "$duration" \
				--quiet --no-progress --json "$f" $bench_args \
				>"$out/$w-$p-$r.log" 2>&1 ||
				die "inventory-bench $w over $p failed: $(tail -n 3 "$out/$w-$p-$r.log")"
			log "$w $p run $r: $(python3 -c 'import json,sys; print(round(json.load(open(sys.argv[1]))["throughput_rps"]))' "$f") req/s"
		done
	done
done

python3 - "$out" "$repeat" "$workloads" "$paths" <<'PY'
import json, statistics, sys
out, repeat, workloads, paths = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
names = {"tcp": "tcp://", "tls": "tls+tcp://", "auth": "tcp:// + auth"}
print("| workload | path | req/s (median) | vs tcp:// | p50 ms | p99 ms |")
print("| --- | --- | ---: | ---: | ---: | ---: |")
for w in workloads:
    base = None
    for p in paths:
        runs = [json.load(open(f"{out}/{w}-{p}-{r}.json")) for r in range(1, repeat + 1)]
        rps = statistics.median(x["throughput_rps"] for x in runs)
        p50 = statistics.median(x["latency_us"]["p50"] for x in runs) / 1000
        p99 = statistics.median(x["latency_us"]["p99"] for x in runs) / 1000
        if base is None:
            base = rps
        print(f"| {w} | {names[p]} | {rps:.0f} | {rps / base:.2f} | {p50:.2f} | {p99:.2f} |")
PY
