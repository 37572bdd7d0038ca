# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# lib.sh: what the side benchmarks (hotkey.sh, scrape.sh, security.sh)
# share.  Sourced before a script parses its options, with bench_name set:
#
#   die MSG / log MSG      a message on stderr prefixed with $bench_name
#   bench_help             print the script's header comment (for --help)
#   bench_median           the median of the numbers on stdin
#   bench_init KIND        after the options: the binaries under $build
#                          (inventoryd, inventory-bench), $out (a new
#                          /tmp/inventory-KIND-bench.* unless --out), the
#                          EXIT trap that stops every server in bench_pids,
#                          calls bench_on_exit if the script defines it,
#                          and removes the database
#   bench_db_start         a private PostgreSQL in $out/pg, migrated
#   bench_serve LOG ARGS   inventoryd ARGS in the background (--db given),
#                          its pid in bench_pid and in bench_pids
#   bench_serve_ports LOG ARGS  the same with @PORT1@..@PORT4@ in ARGS
#                          replaced by free ports ($port1..$port4), started
#                          again on others if one was taken, until it
#                          listens: 0, or 1 if it did not start
#
# compare.sh keeps its own set-up: it also samples the processes' CPU.

bench_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=../scripts/server.sh
. "$bench_root/deploy/scripts/server.sh"

bench_pids=()

die() { echo "$bench_name: $*" >&2; exit 1; }
log() { echo "$bench_name: $*" >&2; }

bench_help() {
	sed -n '3,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
}

bench_median() {
	sort -g | awk '{v[NR]=$1} END {print (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2}'
}

bench_cleanup() {
	local p
	set +e
	if declare -F bench_on_exit >/dev/null; then
		bench_on_exit
	fi
	for p in "${bench_pids[@]}"; do
		kill -TERM "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	bash "$bench_root/deploy/scripts/pg-temp.sh" stop "$pgdir" >/dev/null 2>&1
}

bench_init() {
	inventoryd=$build/src/inventoryd
	bench=$build/client/loadgen/inventory-bench
	[ -x "$inventoryd" ] || die "no $inventoryd (--build DIR)"
	[ -x "$bench" ] || die "no $bench (--build DIR)"
	command -v jq >/dev/null || die "needs jq"
	[ -n "$out" ] || out=$(mktemp -d "/tmp/inventory-$1-bench.XXXXXX")
	mkdir -p "$out"
	chmod 755 "$out" # PostgreSQL runs as "postgres" when we are root
	pgdir=$out/pg
	trap bench_cleanup EXIT
	trap 'exit 1' INT TERM
}

bench_db_start() {
	bash "$bench_root/deploy/scripts/pg-temp.sh" start "$pgdir" \
		>"$out/pg-start.log" 2>&1 ||
		{ cat "$out/pg-start.log" >&2; die "pg-temp.sh start failed"; }
	# shellcheck disable=SC1091
	. "$pgdir/env"
	inventory_migrate "$inventoryd" "$out/migrate.log" ||
		{ cat "$out/migrate.log" >&2; die "inventoryd --migrate failed"; }
}

bench_serve_ports() {
	local log=$1 rc=0
	shift
	inventory_serve_ports "$inventoryd" "$log" --db "$INVENTORY_DB" "$@" || rc=$?
	bench_pid=$inventory_pid
	bench_pids+=("$bench_pid")
	return "$rc"
}

bench_serve() {
	local log=$1
	shift
	inventory_serve "$inventoryd" "$log" --db "$INVENTORY_DB" "$@"
	bench_pid=$inventory_pid
	bench_pids+=("$bench_pid")
}
