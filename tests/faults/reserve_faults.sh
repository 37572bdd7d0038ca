#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Reservations and adjustments under faults: the recorder's
# stock workload (AdjustStock restocks and takes, ReserveStock of 1..3
# products, reads) runs for 16 s while, in turn,
#   1. inventoryd is killed with kill -9 and restarted on the same URL;
#   2. PostgreSQL is stopped with `pg_ctl -m immediate` (crash recovery on
#      the next start) and started again.
# Every write carries its own request id; a write whose outcome is unknown
# (UNAVAILABLE, DEADLINE_EXCEEDED) is resent with the same id until the
# outcome is known, so at the end no outcome may stay unknown.  The
# history checker's counter model then requires all or nothing: every
# reservation acknowledged OK took its quantities (each item one version
# of its product), no refused one took anything, every item of one call
# has the call's outcome, and per product the final stock (read through
# the RPC and straight from PostgreSQL) is the initial stock plus the
# deltas of the applied adjustments minus the quantities of the applied
# reservations, at version initial + applied writes.
#   reserve_faults.sh INVENTORYD INVENTORY_HISTORY PG_TEMP_SH
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# kill -9 closes the recorder's connections under load: nng 1.5.2's req0
# pipe-close race may leak a request message in the recorder (lib.sh,
# excuse_req0_race_leaks; upstream #1713, fixed in nng 1.6.0).  Seen in
# a clean-clone CI run's asan gate: 1 message, 439 bytes.
excuse_req0_race=1

fault_setup
load_start 16 --workload stock --resolve-ms 20000

# Wait (bounded) until the load has recorded some answers.
wait_history() {
	local want=$1 i n=0
	for ((i = 0; i < 100; i++)); do
		n=$(grep -c '^C ' "$work/main.hist" 2>/dev/null || true)
		[ "${n:-0}" -ge "$want" ] && return 0
		sleep 0.1
	done
	fail "the load recorded only ${n:-0} answers in 10 s (want $want)"
}

wait_history 500
say "kill -9 inventoryd $srv_pid"
kill -KILL "$srv_pid"
rc=0
wait "$srv_pid" || rc=$?
srv_pid=
[ "$rc" -eq 137 ] || fail "killed inventoryd exited $rc (want 137)"
probe_down
sleep 1
say "restarting inventoryd"
start_server
probe_recovery "inventoryd restarted after kill -9"

before=$(grep -c '^C ' "$work/main.hist" || true)
wait_history $((before + 500))
say "pg_ctl stop -m immediate"
pgctl -m immediate -w -t 30 stop >/dev/null || fail "pg_ctl stop -m immediate failed"
probe_down
sleep 1
assert_server_alive "while PostgreSQL was stopped"
say "pg_ctl start"
pgctl -l "$pgdir/log" -w -t 30 start >/dev/null || fail "pg_ctl start failed"
probe_recovery "PostgreSQL restarted after stop -m immediate"
assert_server_alive "after PostgreSQL came back"

load_wait
stock_line=$(grep -E '^stock: ' "$work/run.log" | head -n 1)
[ -n "$stock_line" ] || fail "the recorder printed no 'stock:' line"
figure "$stock_line"
unresolved=$(echo "$stock_line" | sed -n 's/.*unresolved \([0-9]*\).*/\1/p')
unexpected=$(echo "$stock_line" | sed -n 's/.*unexpected \([0-9]*\).*/\1/p')
resends=$(echo "$stock_line" | sed -n 's/.*resends \([0-9]*\).*/\1/p')
[ "${unresolved:-1}" -eq 0 ] ||
	fail "$unresolved writes still of unknown outcome after resending with the same request id"
[ "${resends:-0}" -gt 0 ] ||
	fail "no write needed a resend: the faults did not hit any write in flight"
# All or nothing, the final state, the server's clean exit.
fault_finish
# Only OK and FAILED_PRECONDITION are right answers for this workload's
# writes; judged after the all-or-nothing verdict above so that both show.
if [ "${unexpected:-1}" -ne 0 ]; then
	ok=0
	grep -E '^inventory-history: (AdjustStock|ReserveStock):' "$work/run.log" | head -n 5
	fail "$unexpected writes answered neither OK nor FAILED_PRECONDITION (above)"
fi
