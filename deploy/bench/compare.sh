#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# compare.sh: inventoryd against the limit, PostgreSQL itself.
#
# Starts a private PostgreSQL (deploy/scripts/pg-temp.sh: temp dir owned by
# postgres, 127.0.0.1, random port, trust auth, fsync on; removed at exit)
# and inventoryd; for every product count K seeds K products, then for every
# workload x skew x clients cell runs, one after the other,
#   pgbench -M prepared -n -c N -j 2 -T D -P 1  with pgbench/<workload>.sql.in:
#       exactly the SQL statements one service request causes, in the same
#       number of round trips, one client per connection (see those files)
#   inventory-bench --clients N --duration D  through the service, once per
#       client mode (coalescing on, and off with --no-coalesce)
# R times each, and prints the medians as a markdown table: pgbench tps,
# service rps, their ratio, p50/p99 of both, and per process group CPU µs
# and context switches per request (inventoryd, the PostgreSQL backends,
# inventory-bench, pgbench), sampled from /proc between the tools' progress
# ticks at 1 s and D-1 s (benchutil.py window).  Then samples inventoryd's
# VmRSS once a second during one longer mixed run at the largest client
# count.  Writes OUT/compare.json (and every raw result under OUT/); with
# --svg, also the table as bars (svgbars.py: pgbench next to the service
# per cell, throughput and p99; one self-contained SVG).
#
#   compare.sh [options]
#     --build DIR        where inventoryd and inventory-bench were built (build)
#     --duration S       seconds per run, at least 3 (30)
#     --repeat R         runs per cell, medians reported (3)
#     --clients "LIST"   client counts ("1 8 32")
#     --products "LIST"  product counts, each seeded in turn ("1000 100000")
#     --workloads "LIST" get update batchget ("get update batchget"; batchget
#                        only if inventory-bench has it)
#     --batch B          ids per batchget call and per = ANY statement (16)
#     --skews "LIST"     uniform hot zipf:S ("uniform"); zipf needs S > 1
#     --modes "LIST"     coalesce no-coalesce ("coalesce no-coalesce";
#                        no-coalesce only if inventory-bench has it)
#     --connections N    inventory-bench --connections N (library default)
#     --bench-args "..." more inventory-bench options, for every run
#     --workers W        inventoryd --workers (inventoryd's default)
#     --rss-duration S   length of the memory run, 0 to skip (60)
#     --rss-workload W   workload of the memory run (get:50,update:50)
#     --pg-set NAME=VAL  ALTER SYSTEM SET for the private cluster (repeatable)
#     --out DIR          results directory (a new temp dir)
#     --keep             keep the cluster and the server running at the end
#     --svg FILE         also draw the table as bars into FILE (SVG)
#     --redraw JSON      run nothing: draw an earlier OUT/compare.json into
#                        the --svg FILE and exit
#
# The defaults are RESULTS.md's table: about 2 h on 2 cores (see README.md).
# Smoke check: --duration 3 --repeat 1 --clients 8 --products 1000
# --rss-duration 0.  Numbers on a shared machine are noisy: read medians,
# ratios, and the "other load" column.  Not part of the test suite.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
# shellcheck source=../scripts/server.sh
. "$root/deploy/scripts/server.sh"

build=$root/build
duration=30
repeat=3
clients="1 8 32"
products_list="1000 100000"
workloads="get update batchget"
workloads_given=0
batch=16
skews="uniform"
modes="coalesce no-coalesce"
modes_given=0
connections=""
bench_args=""
workers=""
rss_duration=60
rss_workload="get:50,update:50"
out=""
keep=0
pg_sets=()
svg=""
redraw=""

die() { echo "compare.sh: $*" >&2; exit 1; }
log() { echo "compare.sh: $*" >&2; }
usage() { sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--products) products_list=$2; shift 2 ;;
	--workloads) workloads=$2; workloads_given=1; shift 2 ;;
	--batch) batch=$2; shift 2 ;;
	--skews) skews=$2; shift 2 ;;
	--modes) modes=$2; modes_given=1; shift 2 ;;
	--connections) connections=$2; shift 2 ;;
	--bench-args) bench_args=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--rss-duration) rss_duration=$2; shift 2 ;;
	--rss-workload) rss_workload=$2; shift 2 ;;
	--pg-set) pg_sets+=("$2"); shift 2 ;;
	--out) out=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	--svg) svg=$2; shift 2 ;;
	--redraw) redraw=$2; shift 2 ;;
	-h | --help) usage ;;
	*) echo "compare.sh: unknown option $1" >&2; usage ;;
	esac
done
# svgbars.py writes the SVG from compare.json; --redraw needs nothing else.
draw_svg() { # compare.json
	python3 "$here/svgbars.py" "$1" "$svg" || die "svgbars.py failed"
	log "bars in $svg"
}
if [ -n "$redraw" ]; then
	[ -n "$svg" ] || die "--redraw needs --svg FILE"
	[ -f "$redraw" ] || die "no $redraw"
	draw_svg "$redraw"
	exit 0
fi
[ "$duration" -ge 3 ] 2>/dev/null ||
	die "--duration must be at least 3 (the window is 1 s .. D-1 s)"

find_bin() { # name: first match under $build
	local f
	for f in "$build/$1" "$build/src/$1" "$build/client/$1" "$build/client/loadgen/$1"; do
		[ -x "$f" ] && { echo "$f"; return; }
	done
	die "no $1 under $build (build first, or pass --build DIR)"
}
inventoryd=$(find_bin inventoryd)
bench=$(find_bin inventory-bench)
bindir=${PG_BINDIR:-/usr/lib/postgresql/15/bin}
pgbench=$bindir/pgbench
[ -x "$pgbench" ] || pgbench=$(command -v pgbench) || die "no pgbench"
command -v python3 >/dev/null || die "python3 is needed (benchutil.py)"
# The client library reads these; the modes here are set by options only.
unset INVENTORY_COALESCE INVENTORY_CONNECTIONS

# What this inventory-bench can do: drop what it lacks unless asked for.
bench_help=$("$bench" --help 2>&1 || true)
bench_has() { grep -q -e "$1" <<<"$bench_help"; }
if ! bench_has batchget; then
	[ "$workloads_given" -eq 0 ] || ! grep -qw batchget <<<"$workloads" ||
		die "this inventory-bench has no batchget workload"
	workloads=$(echo $workloads | tr ' ' '\n' | grep -vx batchget | xargs)
	log "inventory-bench has no batchget workload: no batchget rows"
fi
if ! bench_has --no-coalesce; then
	[ "$modes_given" -eq 0 ] || ! grep -qw no-coalesce <<<"$modes" ||
		die "this inventory-bench has no --no-coalesce"
	modes=$(echo $modes | tr ' ' '\n' | grep -vx no-coalesce | xargs)
	log "inventory-bench has no --no-coalesce: no rows with coalescing off"
fi
[ -z "$connections" ] || bench_has --connections ||
	die "this inventory-bench has no --connections"
# The bench's option for the ids per batchget call.
batch_opt=""
if grep -qw batchget <<<"$workloads"; then
	for o in --batch-size --batch --ids-per-call; do
		if bench_has "$o "; then batch_opt=$o; break; fi
	done
	[ -n "$batch_opt" ] || log "no batch-size option in inventory-bench --help:" \
		"assuming its batchget sends $batch ids per call (check!)"
fi
for w in $workloads; do
	[ -f "$here/pgbench/$w.sql.in" ] || die "no pgbench script for workload $w"
done
for m in $modes; do
	case "$m" in coalesce | no-coalesce) ;; *) die "unknown mode $m" ;; esac
done
# Every run of inventory-bench gets these.
common_args=()
[ -z "$connections" ] || common_args+=(--connections "$connections")
# shellcheck disable=SC2206
[ -z "$bench_args" ] || common_args+=($bench_args)

[ -n "$out" ] || out=$(mktemp -d /tmp/inventory-compare.XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)
# The cluster lives in its own short path (unix socket length limit).
pgdir=$(mktemp -d /tmp/invbench-pg.XXXXXX)
rmdir "$pgdir"
runs=$out/runs.jsonl
: >"$runs"
srv_pid=""

cleanup() {
	local rc=$?
	if [ "$keep" -eq 1 ]; then
		log "kept: cluster in $pgdir (source $pgdir/env), inventoryd pid ${srv_pid:-none}"
		exit $rc
	fi
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -TERM "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	PG_BINDIR=$bindir bash "$root/deploy/scripts/pg-temp.sh" stop "$pgdir" || true
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- PostgreSQL ------------------------------------------------------------
PG_BINDIR=$bindir bash "$root/deploy/scripts/pg-temp.sh" start "$pgdir"
# shellcheck disable=SC1091
. "$pgdir/env"
psql_q() { "$bindir/psql" -h 127.0.0.1 -X -q -At -v ON_ERROR_STOP=1 "$@"; }
for s in "${pg_sets[@]}"; do
	psql_q -c "ALTER SYSTEM SET ${s%%=*} = '${s#*=}'"
done
[ ${#pg_sets[@]} -eq 0 ] || psql_q -c "SELECT pg_reload_conf()" >/dev/null
# Every process of the cluster is a child of the postmaster.
pm_pid=$(head -n 1 "$pgdir/data/postmaster.pid")
[ "$pm_pid" -gt 0 ] 2>/dev/null || die "no postmaster pid in $pgdir/data/postmaster.pid"

# --- inventoryd ------------------------------------------------------------
inventory_migrate "$inventoryd" "$out/migrate.log" ||
	{ cat "$out/migrate.log" >&2; die "inventoryd --migrate failed"; }
srv_args=()
[ -z "$workers" ] || srv_args+=(--workers "$workers")
srv_pid=""
if inventory_serve_ports "$inventoryd" "$out/inventoryd.log" \
	--listen "tcp://127.0.0.1:@PORT1@" --db "$INVENTORY_DB" "${srv_args[@]}"; then
	srv_pid=$inventory_pid
fi
port=$port1
url=tcp://127.0.0.1:$port
[ -n "$srv_pid" ] || { tail -n 20 "$out/inventoryd.log" >&2; die "inventoryd did not start"; }
executors=$(sed -n 's/.* with \([0-9]*\) executors.*/\1/p' "$out/inventoryd.log" | tail -n 1)
log "inventoryd pid $srv_pid on $url, ${executors:-?} executors; PostgreSQL on port $PGPORT (postmaster $pm_pid)"

# --- products: k = 1..K with id lpad(to_hex(k), 32, '0')::uuid --------------
seed() { # K
	psql_q -c "TRUNCATE products, request_log" -c "INSERT INTO products (id, name, stock, price)
		SELECT lpad(to_hex(k), 32, '0')::uuid, 'bench-' || k, 1000000, 1.00
		FROM generate_series(1, $1) k"
	psql_q -c "SELECT lpad(to_hex(k), 32, '0')::uuid FROM generate_series(1, $1) k" >"$out/ids-$1.txt"
	psql_q -c "VACUUM ANALYZE products"
}

pick_line() { # skew var -> the pgbench \set line for variable var
	case "$1" in
	uniform) echo "\\set $2 random(1, :nprod)" ;;
	hot) echo "\\set $2 1" ;;
	zipf:*) echo "\\set $2 random_zipfian(1, :nprod, ${1#zipf:})" ;;
	*) die "unknown skew $1" ;;
	esac
}

# The pgbench script of a workload and skew: @PICK@ becomes the \set line
# of k; for batchget @PICKS@ the lines of k1..kB and @IDS@ the B ids.
make_script() { # workload skew file
	local w=$1 skew=$2 f=$3 i picks="" ids=""
	for i in $(seq 1 "$batch"); do
		picks+="$(pick_line "$skew" "k$i")"$'\n'
		ids+="${ids:+, }lpad(to_hex(:k$i::int8), 32, '0')"
	done
	W=$w PICK=$(pick_line "$skew" k) PICKS=${picks%$'\n'} IDS=$ids python3 -c '
import os, sys
s = open(sys.argv[1]).read()
for k in ("PICKS", "PICK", "IDS"):
    s = s.replace("@" + k + "@", os.environ[k])
open(sys.argv[2], "w").write(s)' "$here/pgbench/$w.sql.in" "$f"
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$srv_pid/status" 2>/dev/null || echo 0; }

# Between runs: the same starting state for both tools.  request_log is
# vacuumed and analysed, not truncated: a truncated table has no
# statistics, a cached generic plan made then scans it sequentially, and a
# 10-30 s run ends before autovacuum's first ANALYZE would replace the
# plan (measured: 4x slower writes through inventoryd).  A service in
# production holds --request-ttl worth of request ids anyway.
reset_db() {
	psql_q -c "VACUUM ANALYZE products" -c "VACUUM ANALYZE request_log" 2>/dev/null ||
		log "reset between runs failed (continuing)"
}

# benchutil.py window: runs the tool, samples the groups at ticks 1 and D-1.
window() { # json log groups... -- cmd...
	python3 "$here/benchutil.py" window "$1" "$2" 1 $((duration - 1)) "${@:3}"
}

run_pgbench() { # products workload skew clients rep
	local k=$1 w=$2 skew=$3 c=$4 rep=$5 j tag script rc=0
	tag=pg-$w-${skew//:/_}-k$k-c$c-r$rep
	script=$out/$w-${skew//:/_}.sql
	make_script "$w" "$skew" "$script"
	j=$((c < 2 ? c : 2))
	rm -rf "${out:?}/$tag" && mkdir -p "$out/$tag"
	: >"$out/$tag.txt"
	window "$out/$tag.window.json" "$out/$tag.txt" postgres="tree:$pm_pid" pgbench=child -- \
		"$pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -M prepared -n -c "$c" -j "$j" \
		-T "$duration" -P 1 -D nprod="$k" -f "$script" -l --log-prefix="$out/$tag/log" \
		inventory || rc=$?
	if [ "$rc" -ne 0 ]; then
		tail -n 5 "$out/$tag.txt" >&2
		log "pgbench failed: $tag"
	else
		python3 "$here/benchutil.py" pg "$out/$tag.txt" "$out/$tag" "$out/$tag.window.json" \
			"$k" "$w" "$skew" "$c" "$rep" >>"$runs"
	fi
	rm -rf "${out:?}/$tag"
}

run_service() { # products workload skew clients rep mode
	local k=$1 w=$2 skew=$3 c=$4 rep=$5 mode=$6 tag rc=0 args=()
	tag=svc-$w-${skew//:/_}-k$k-c$c-r$rep-$mode
	[ "$mode" = coalesce ] || args+=(--no-coalesce)
	[ "$w" != batchget ] || [ -z "$batch_opt" ] || args+=("$batch_opt" "$batch")
	: >"$out/$tag.txt"
	# No --quiet: inventory-bench draws its progress line only then (on the
	# pty benchutil.py gives it); the summary lands in $tag.txt.
	window "$out/$tag.window.json" "$out/$tag.txt" inventoryd="$srv_pid" \
		postgres="tree:$pm_pid" bench=child -- \
		"$bench" --server "$url" --clients "$c" --duration "$duration" --ids "$out/ids-$k.txt" \
		--workload "$w" --skew "$skew" --seed "$rep" --json "$out/$tag.json" \
		"${common_args[@]}" "${args[@]}" || rc=$?
	[ "$rc" -eq 0 ] || log "inventory-bench exited $rc: $tag ($(tail -n 1 "$out/$tag.txt"))"
	[ -f "$out/$tag.json" ] &&
		python3 "$here/benchutil.py" svc "$out/$tag.json" "$out/$tag.window.json" \
			"$k" "$w" "$skew" "$c" "$rep" "$mode" >>"$runs"
	return 0
}

total=0
for k in $products_list; do for w in $workloads; do for s in $skews; do for c in $clients; do
	total=$((total + 1))
done; done; done; done
log "$total cells x $repeat runs x (pgbench + modes: $modes), ${duration} s each"
cell=0
for k in $products_list; do
	log "seeding $k products"
	seed "$k"
	# Warm-up: plans, caches, connections.
	"$bench" --server "$url" --clients 4 --duration 2 --ids "$out/ids-$k.txt" \
		--workload get:50,update:50 --quiet --no-progress "${common_args[@]}" >/dev/null 2>&1 || true
	for w in $workloads; do
		for s in $skews; do
			for c in $clients; do
				cell=$((cell + 1))
				log "cell $cell/$total: $k products, $w $s, $c clients x $repeat"
				for rep in $(seq 1 "$repeat"); do
					reset_db
					run_pgbench "$k" "$w" "$s" "$c" "$rep"
					for m in $modes; do
						reset_db
						run_service "$k" "$w" "$s" "$c" "$rep" "$m"
					done
				done
			done
		done
	done
done

# --- memory: VmRSS once a second during one long run ------------------------
# (on the last product count seeded, at the largest client count)
rss_c=$(echo "$clients" | tr ' ' '\n' | sort -n | tail -n 1)
rss_k=$k
: >"$out/rss.txt"
if [ "$rss_duration" -gt 0 ]; then
	log "memory run: $rss_workload, $rss_c clients, $rss_k products, ${rss_duration}s"
	reset_db
	echo "$(date +%s) $(rss_kib)" >>"$out/rss.txt"
	"$bench" --server "$url" --clients "$rss_c" --duration "$rss_duration" --ids "$out/ids-$rss_k.txt" \
		--workload "$rss_workload" --quiet --no-progress --json "$out/rss-bench.json" \
		"${common_args[@]}" >"$out/rss-bench.txt" 2>&1 &
	bpid=$!
	while kill -0 "$bpid" 2>/dev/null; do
		sleep 1
		echo "$(date +%s) $(rss_kib)" >>"$out/rss.txt"
	done
	wait "$bpid" || log "memory run: inventory-bench exited $?"
fi

machine="$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
python3 "$here/benchutil.py" summarize "$runs" "$out/rss.txt" "$out/compare.json" \
	"machine=$machine" "duration_s=$duration" "repeat=$repeat" \
	"executors=${executors:-?}" "workers_option=${workers:-default}" \
	"products=$products_list" "workloads=$workloads" "skews=$skews" "modes=$modes" \
	"clients=$clients" "batch=$batch" "batch_option=${batch_opt:-none}" \
	"bench_args=${common_args[*]:-}" \
	"rss_clients=$rss_c" "rss_products=$rss_k" "rss_workload=$rss_workload" \
	"pg_sets=${pg_sets[*]:-}" "commit=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo ?)"
[ -z "$svg" ] || draw_svg "$out/compare.json"
log "results in $out (compare.json, runs.jsonl, raw outputs)"
