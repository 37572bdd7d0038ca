#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# common.sh: what failover-test.sh and partition-test.sh share:
# finding the binaries, the work directory and its cleanup, the write
# load (two history recorders), the history check and the figures read
# from the recorded history.  Sourced after ha-lib.sh.
#
#   SCRIPT [INVENTORYD INVENTORY_HISTORY]
# Without arguments the binaries are taken from $HA_BUILD (default build/).
#
# The load is two recorders against one inventoryd URL (or URL list):
#   stock  HA_STOCK_CLIENTS threads of AdjustStock/ReserveStock/reads; a
#          write whose outcome is unknown is resent with the SAME request
#          id until the server says what happened (the request log answers
#          a repeat with the first outcome), so every unknown outcome
#          resolves through its request id;
#   retry  HA_RETRY_CLIENTS threads of inventory_update_with_retry2()
#          (UpdateStock, resends of unknown outcomes with the same id).
# Both stream their histories; ha_check merges them, reads the final
# state (RPC and SQL) and runs the history checker.

set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/ha-lib.sh"

if [ $# -ge 2 ]; then
	inventoryd=$1
	hist=$2
else
	. "$root/deploy/scripts/deps.sh"
	inventoryd=$(inventory_find_bin "$root/${HA_BUILD:-build}" inventoryd)
	hist=$(inventory_find_bin "$root/${HA_BUILD:-build}" inventory-history)
fi

: "${HA_STOCK_CLIENTS:=6}"
: "${HA_RETRY_CLIENTS:=4}"
: "${HA_PRODUCTS:=16}"
: "${HA_TIMEOUT_MS:=1000}"
: "${HA_WORKERS:=2}"

test_name=$(basename "$0" .sh)
work=$(mktemp -d /tmp/inv-ha.XXXXXX)
ha_dir=$work
srv_pid=
load_pids=
ok=0
extra_cleanup=:

say() { echo "[$test_name] $*"; }

# Milliseconds on the recorder's clock (CLOCK_MONOTONIC), to 10 ms:
# /proc/uptime is CLOCK_BOOTTIME, the same clock on a machine that never
# suspends.
mono_ms() { awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime; }

dump_logs() {
	local f
	for f in "$work"/inventoryd.log "$work"/stock.log "$work"/retry.log \
		"$work"/check.log "$work"/node1/autoctl.log "$work"/node2/autoctl.log \
		"$work"/monitor/autoctl.log; do
		[ -f "$f" ] || continue
		echo "----- $f (last 30 lines) -----"
		tail -n 30 "$f" || true
	done
}

fail() {
	say "FAIL: $*"
	dump_logs
	exit 1
}

ha_cleanup() {
	local rc=$? p
	set +e
	for p in $load_pids $srv_pid ${load_pids_extra:-}; do
		kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	$extra_cleanup
	if [ "$ok" -ne 1 ] && [ "$rc" -eq 0 ]; then
		say "FAIL: the script ended without a verdict"
		rc=1
	fi
	if [ "$ok" -eq 1 ] && [ "${HA_KEEP:-0}" != 1 ]; then
		ha_stop "$work"
	else
		# Keep the logs, stop the processes.
		for p in node2 node1 monitor; do
			[ -d "$work/$p/pgdata" ] && ha_autoctl stop --pgdata "$work/$p/pgdata" >/dev/null 2>&1
		done
		say "work directory kept: $work"
	fi
	exit "$rc"
}
trap ha_cleanup EXIT
trap 'exit 1' INT TERM

# start_server URL [DB]: inventoryd in the background (its own pid in
# srv_pid); the database conninfo defaults to $INVENTORY_DB.
start_server() {
	"$inventoryd" --listen "$1" --db "${2:-$INVENTORY_DB}" --workers "$HA_WORKERS" \
		</dev/null >>"$work/inventoryd.log" 2>&1 &
	srv_pid=$!
}

# wait_up URL: until URL answers a GetProduct (a random id: NOT_FOUND).
wait_up() {
	local i out=
	for i in $(seq 1 150); do
		out=$("$hist" probe --server "$1" --timeout-ms 500 \
			--id "$(cat /proc/sys/kernel/random/uuid)" 2>&1 || true)
		case "$out" in *NOT_FOUND*) return 0 ;; esac
		sleep 0.1
	done
	fail "inventoryd at $1 did not answer within 15 s (last: $out)"
}

# load_start URL SECONDS: both recorders in the background.
load_start() {
	local u=$1 secs=$2
	"$hist" run --server "$u" --ids "$work/ids" --workload stock \
		--clients "$HA_STOCK_CLIENTS" --duration "$secs" --skew uniform \
		--read-ratio 0.2 --timeout-ms "$HA_TIMEOUT_MS" --resolve-ms 30000 \
		--probe-interval-ms "${HA_PROBE_MS:-0}" \
		--history "$work/stock.hist" --client-base 0 >"$work/stock.log" 2>&1 &
	load_pids="$!"
	"$hist" run --server "$u" --ids "$work/ids" --workload retry \
		--clients "$HA_RETRY_CLIENTS" --duration "$secs" --skew uniform \
		--retry-attempts 50 --retry-max-backoff-ms 50 \
		--probe-interval-ms "${HA_PROBE_MS:-0}" \
		--timeout-ms "$HA_TIMEOUT_MS" --history "$work/retry.hist" \
		--client-base 500 >"$work/retry.log" 2>&1 &
	load_pids="$load_pids $!"
	load_secs=$secs
	load_t0=$(mono_ms)
}

# load_wait: both recorders end within their duration + 60 s.
load_wait() {
	local p rc i
	for p in $load_pids; do
		for ((i = 0; i < (load_secs + 60) * 10; i++)); do
			kill -0 "$p" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$p" 2>/dev/null || true
		rc=0
		wait "$p" || rc=$?
		[ "$rc" -eq 0 ] || fail "a recorder exited with status $rc"
	done
	load_pids=
	grep -hE '^(ops|stock|retry):|^  retry ' "$work/stock.log" "$work/retry.log" | sed "s/^/[$test_name] /"
	unresolved=$(sed -n 's/^stock: .*unresolved \([0-9]*\),.*/\1/p' "$work/stock.log")
	[ "${unresolved:-x}" = 0 ] || fail "stock recorder: ${unresolved:-?} write(s) of unknown outcome never resolved"
}

# ha_check URL: the history checker over both histories and the final
# state (RPC through URL, SQL through $INVENTORY_DB); PASS or fail.
ha_check() {
	local rc=0
	"$hist" check --server "$1" --db "$INVENTORY_DB" --final-wait-ms 20000 \
		"$work/stock.hist" "$work/retry.hist" >"$work/check.log" 2>&1 || rc=$?
	sed "s/^/[$test_name] check: /" "$work/check.log"
	[ "$rc" -eq 0 ] && grep -q 'verdict: *PASS' "$work/check.log" && return 0
	if ha_lost_sync_during_failover; then
		say "FAIL (database layer): a primary ran without its synchronous standby while"
		say "the monitor failed it over, and its acknowledged commits were rewound:"
		say "pg_auto_failover 2.0's race (hapostgres/pg_auto_failover#774, fixed upstream"
		say "by #1165). This run cannot judge inventoryd; exit 3 lets the gate run it again."
		dump_logs
		exit 3
	fi
	if ha_read_of_rewound_commit; then
		say "FAIL (database layer): a killed primary, restarted by its keeper, committed"
		say "a write locally while it waited for a synchronous standby that was being"
		say "promoted; inventoryd answered that write UNAVAILABLE (outcome unknown), but a"
		say "read on that primary saw the local commit before pg_rewind discarded it"
		say "(PostgreSQL makes a commit visible before its standby confirms it). This run"
		say "cannot judge inventoryd; exit 3 lets the gate run it again."
		dump_logs
		exit 3
	fi
	fail "history check failed (status $rc)"
}

# ha_read_of_rewound_commit: true when there are stray reads (reads of a
# stock the serial history does not have at that version) and every
# violation is on their products (a later write of such a product looks
# "stale" against the version the read showed), and the run shows how
# such a read comes about without a fault of ours: the
# store logged a commit made while PostgreSQL waited for a synchronous
# standby (answered UNAVAILABLE, never OK: src/store/exec.c), and a
# keeper then rewound its node ("rewinding from last common checkpoint":
# commits discarded), after the SIGKILL restart of that primary.  Reads
# run beside the waiting commit and see it; no client can be kept from
# that on PostgreSQL 15 short of reading from the standby.
ha_read_of_rewound_commit() {
	local f
	local n stray
	n=$(sed -n 's/^violations: *\([0-9]*\).*/\1/p' "$work/check.log")
	stray=$(sed -n 's/^  stray reads: *\([0-9]*\) .*violations on their products: \([0-9]*\)$/\1 \2/p' "$work/check.log")
	set -- $stray
	[ -n "$n" ] && [ "$n" -gt 0 ] && [ "${1:-0}" -gt 0 ] && [ "${2:-0}" = "$n" ] || return 1
	grep -q 'waited for a synchronous standby: committed locally' "$work/inventoryd.log" || return 1
	for f in "$work"/node*/autoctl.log; do
		[ -f "$f" ] && grep -q 'rewinding from last common checkpoint' "$f" && return 0
	done
	return 1
}

# ha_lost_sync_during_failover: true when a node's keeper log shows the
# monitor's race of pg_auto_failover#774: the primary, already told to
# drain, was sent to wait_primary (synchronous replication off, commits
# acknowledged on the primary alone), then demoted and rewound, so those
# commits are gone.  The keeper logs the impossible transition it was
# then asked for; that line and the one before it are the signature.
ha_lost_sync_during_failover() {
	local f
	for f in "$work"/node*/autoctl.log; do
		[ -f "$f" ] || continue
		grep -q 'Disabling synchronous replication' "$f" &&
			grep -q 'does not know how to reach state "demote_timeout" from "wait_primary"' "$f" &&
			return 0
	done
	return 1
}

# ok_writes: the completion times (ms, CLOCK_MONOTONIC) of every write
# acknowledged OK, one a line, sorted; and acked (writes acknowledged:
# UpdateStock and AdjustStock calls, ReserveStock calls counted once).
ok_writes() {
	awk '
		FNR == 1 { f++ }
		$1 == "I" { t[f, $2] = $4; g[f, $2] = $6 }
		$1 == "C" && $3 == 0 && (t[f, $2] == "U" || t[f, $2] == "A" || t[f, $2] == "V") {
			if (t[f, $2] == "V") { k = f SUBSEP g[f, $2]; if (k in seen) next; seen[k] = 1 }
			printf "%d\n", $6 / 1000000
		}' "$work/stock.hist" "$work/retry.hist" | sort -n >"$work/ok.ms"
	acked=$(wc -l <"$work/ok.ms")
}

# gap_in FROM TO: the longest gap between two consecutive OK writes that
# ends after FROM and starts before TO (ms): the unavailability an event
# in [FROM, TO) caused.  -1 if no write succeeded after FROM.
gap_in() {
	awk -v a="$1" -v b="$2" '
		NR > 1 && $1 > a && p < b { if ($1 - p > m) m = $1 - p; seen = 1 }
		{ p = $1 }
		END { print seen ? m: -1 }' "$work/ok.ms"
}

# gaps_over MS: every gap between OK writes longer than MS, as
# "start+duration" relative to the load's start.
gaps_over() {
	awk -v t="$1" -v z="$load_t0" 'NR > 1 && $1 - p > t { printf "%s%d+%d", sep, p - z, $1 - p; sep = " " } { p = $1 }
		END { print "" }' "$work/ok.ms"
}

# max_gap: the longest time between two OK writes during the load.
max_gap() {
	awk 'NR > 1 && $1 - p > m { m = $1 - p } { p = $1 } END { print m + 0 }' "$work/ok.ms"
}

# setup_db_and_server URL: migrate through $INVENTORY_DB, start inventoryd
# on URL, create the products.
setup_db_and_server() {
	"$inventoryd" --db "$INVENTORY_DB" --migrate >>"$work/inventoryd.log" 2>&1 ||
		fail "inventoryd --migrate failed"
	start_server "$1"
	wait_up "$1"
	"$hist" setup --server "$1" --products "$HA_PRODUCTS" \
		--write-ids "$work/ids" >>"$work/setup.log" 2>&1 ||
		fail "creating the products failed"
}
