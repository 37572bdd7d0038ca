#!/usr/bin/env bash
# compare.sh: inventoryd against the limit, PostgreSQL itself.
#
# Starts a private PostgreSQL (deploy/scripts/pg-temp.sh: temp dir owned by
# postgres, 127.0.0.1, random port, trust auth; removed at exit) and
# inventoryd, seeds K products, then for every workload x skew x clients
# cell runs, side by side,
#   pgbench -M prepared -n -c N -j 2 -T D  with pgbench/<workload>.sql.in:
#       exactly the SQL statements one service request causes, in the same
#       number of round trips (see the comments in those files)
#   inventory-bench --clients N --duration D  through the service
# R times each, and prints the medians: pgbench tps, service rps, their
# ratio, p50/p99 of both.  Then samples inventoryd's VmRSS once a second
# during one longer run at the largest client count.  Writes
# OUT/compare.json (and every raw result under OUT/).
#
#   compare.sh [options]
#     --build DIR        where inventoryd and inventory-bench were built (build)
#     --duration S       seconds per run (5)
#     --repeat R         runs per cell, medians reported (3)
#     --clients "LIST"   client counts ("1 8 32")
#     --workloads "LIST" get update ("get update")
#     --skews "LIST"     uniform hot zipf:S ("uniform hot"); zipf needs S > 1
#     --products K       products seeded (1000)
#     --workers W        inventoryd --workers (16)
#     --rss-duration S   length of the memory run, 0 to skip (60)
#     --rss-workload W   workload of the memory run (get:50,update:50)
#     --pg-set NAME=VAL  ALTER SYSTEM SET for the private cluster (repeatable)
#     --out DIR          results directory (a new temp dir)
#     --keep             keep the cluster and the server running at the end
#
# Defaults take ~10 minutes on 2 cores (12 cells x 3 repeats x 2 tools x 5 s
# + 60 s).  Numbers on a shared machine are noisy: read medians and ratios.
# Not part of the test suite.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)

build=$root/build
duration=5
repeat=3
clients="1 8 32"
workloads="get update"
skews="uniform hot"
products=1000
workers=16
rss_duration=60
rss_workload="get:50,update:50"
out=""
keep=0
pg_sets=()

die() { echo "compare.sh: $*" >&2; exit 1; }
log() { echo "compare.sh: $*" >&2; }
usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--build) build=$2; shift 2 ;;
	--duration) duration=$2; shift 2 ;;
	--repeat) repeat=$2; shift 2 ;;
	--clients) clients=$2; shift 2 ;;
	--workloads) workloads=$2; shift 2 ;;
	--skews) skews=$2; shift 2 ;;
	--products) products=$2; shift 2 ;;
	--workers) workers=$2; shift 2 ;;
	--rss-duration) rss_duration=$2; shift 2 ;;
	--rss-workload) rss_workload=$2; shift 2 ;;
	--pg-set) pg_sets+=("$2"); shift 2 ;;
	--out) out=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) usage ;;
	*) echo "compare.sh: unknown option $1" >&2; usage ;;
	esac
done

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
command -v python3 >/dev/null || die "python3 is needed for the summary"
for w in $workloads; do
	[ -f "$here/pgbench/$w.sql.in" ] || die "no pgbench script for workload $w"
done

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

# --- inventoryd ------------------------------------------------------------
"$inventoryd" --db "$INVENTORY_DB" --migrate >"$out/migrate.log" 2>&1 ||
	{ cat "$out/migrate.log" >&2; die "inventoryd --migrate failed"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for attempt in 1 2 3 4 5; do
	while :; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		port_busy "$port" || break
	done
	url=tcp://127.0.0.1:$port
	"$inventoryd" --listen "$url" --db "$INVENTORY_DB" --workers "$workers" \
		</dev/null >>"$out/inventoryd.log" 2>&1 &
	srv_pid=$!
	up=0
	for i in $(seq 1 100); do
		kill -0 "$srv_pid" 2>/dev/null || break
		if port_busy "$port"; then up=1; break; fi
		sleep 0.1
	done
	[ "$up" -eq 1 ] && break
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=""
done
[ -n "$srv_pid" ] || { tail -n 20 "$out/inventoryd.log" >&2; die "inventoryd did not start"; }
log "inventoryd pid $srv_pid on $url, $workers workers; PostgreSQL on port $PGPORT"

# --- products: k = 1..K with id lpad(to_hex(k), 32, '0')::uuid --------------
psql_q -c "INSERT INTO products (id, name, stock, price)
	SELECT lpad(to_hex(k), 32, '0')::uuid, 'bench-' || k, 1000000, 1.00
	FROM generate_series(1, $products) k"
psql_q -c "SELECT lpad(to_hex(k), 32, '0')::uuid FROM generate_series(1, $products) k" >"$out/ids.txt"
psql_q -c "VACUUM ANALYZE products"

pick_line() { # skew -> the pgbench \set line
	case "$1" in
	uniform) echo '\set k random(1, :nprod)' ;;
	hot) echo '\set k 1' ;;
	zipf:*) echo "\\set k random_zipfian(1, :nprod, ${1#zipf:})" ;;
	*) die "unknown skew $1" ;;
	esac
}

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$srv_pid/status" 2>/dev/null || echo 0; }

# Between cells: the same starting state for both tools.
reset_db() {
	psql_q -c "TRUNCATE request_log" -c "VACUUM ANALYZE products" 2>/dev/null ||
		log "reset between cells failed (continuing)"
}

run_pgbench() { # workload skew clients rep
	local w=$1 skew=$2 c=$3 rep=$4 j tag script tps
	tag=pg-$w-${skew//:/_}-c$c-r$rep
	script=$out/$w-${skew//:/_}.sql
	sed "s|@PICK@|$(pick_line "$skew" | sed 's/\\/\\\\/g')|" "$here/pgbench/$w.sql.in" >"$script"
	j=$((c < 2 ? c : 2))
	mkdir -p "$out/$tag"
	"$pgbench" -h 127.0.0.1 -p "$PGPORT" -U postgres -M prepared -n -c "$c" -j "$j" \
		-T "$duration" -D nprod="$products" -f "$script" -l --log-prefix="$out/$tag/log" \
		inventory >"$out/$tag.txt" 2>&1 ||
		{ tail -n 5 "$out/$tag.txt" >&2; log "pgbench failed: $tag"; return 0; }
	tps=$(sed -n 's/^tps = \([0-9.]*\) .*/\1/p' "$out/$tag.txt" | tail -n 1)
	python3 "$here/benchutil.py" pglog "$out/$tag" |
		python3 "$here/benchutil.py" record pgbench "$w" "$skew" "$c" "$rep" "${tps:-0}" >>"$runs"
	rm -rf "${out:?}/$tag"
}

run_service() { # workload skew clients rep
	local w=$1 skew=$2 c=$3 rep=$4 tag rc=0
	tag=svc-$w-${skew//:/_}-c$c-r$rep
	"$bench" --server "$url" --clients "$c" --duration "$duration" --ids "$out/ids.txt" \
		--workload "$w" --skew "$skew" --seed "$rep" --quiet --no-progress \
		--json "$out/$tag.json" >"$out/$tag.txt" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || log "inventory-bench exited $rc: $tag ($(tail -n 1 "$out/$tag.txt"))"
	[ -f "$out/$tag.json" ] &&
		python3 "$here/benchutil.py" svc "$out/$tag.json" "$w" "$skew" "$c" "$rep" >>"$runs"
	return 0
}

# Warm-up: plans, caches, connections.
"$bench" --server "$url" --clients 4 --duration 2 --ids "$out/ids.txt" --workload get:50,update:50 \
	--quiet --no-progress >/dev/null 2>&1 || true

total=0
for w in $workloads; do for s in $skews; do for c in $clients; do total=$((total + 1)); done; done; done
cell=0
for w in $workloads; do
	for s in $skews; do
		for c in $clients; do
			cell=$((cell + 1))
			log "cell $cell/$total: $w $s $c clients x $repeat"
			for rep in $(seq 1 "$repeat"); do
				reset_db
				run_pgbench "$w" "$s" "$c" "$rep"
				reset_db
				run_service "$w" "$s" "$c" "$rep"
			done
		done
	done
done

# --- memory: VmRSS once a second during one long run ------------------------
rss_c=$(echo "$clients" | tr ' ' '\n' | sort -n | tail -n 1)
: >"$out/rss.txt"
if [ "$rss_duration" -gt 0 ]; then
	log "memory run: $rss_workload, $rss_c clients, ${rss_duration}s"
	reset_db
	echo "$(date +%s) $(rss_kib)" >>"$out/rss.txt"
	"$bench" --server "$url" --clients "$rss_c" --duration "$rss_duration" --ids "$out/ids.txt" \
		--workload "$rss_workload" --quiet --no-progress --json "$out/rss-bench.json" \
		>"$out/rss-bench.txt" 2>&1 &
	bpid=$!
	while kill -0 "$bpid" 2>/dev/null; do
		sleep 1
		echo "$(date +%s) $(rss_kib)" >>"$out/rss.txt"
	done
	wait "$bpid" || log "memory run: inventory-bench exited $?"
fi

machine="$(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
python3 "$here/benchutil.py" summarize "$runs" "$out/rss.txt" "$out/compare.json" \
	"machine=$machine" "duration_s=$duration" "repeat=$repeat" "workers=$workers" \
	"products=$products" "rss_clients=$rss_c" "rss_workload=$rss_workload" \
	"pg_sets=${pg_sets[*]:-}"
log "results in $out (compare.json, runs.jsonl, raw outputs)"
