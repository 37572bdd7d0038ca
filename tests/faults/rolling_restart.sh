#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault: a rolling restart under a write load.
#
# Two inventoryd servers, A and B, on the same private database; one
# client handle dials both ("urlA,urlB").  RESTART_CLIENTS threads loop on
# inventory_update_with_retry(), recorded by the history recorder
# (--workload retry).  While the load runs, A gets SIGTERM, must exit 0
# within 30 s (its drain answers every request it received and keeps the
# connections open until the replies are handed to nng), and is started
# again on the same URL; then B the same way.  Requests that reach a
# draining server are not received by it, and the REQ socket resends them
# to the other server when the connection closes.
#
# Passes only if: no inventory_update_with_retry() call returned an error
# (the count is printed and must be 0), the history checker passes (no
# acknowledged write lost, none applied twice, every read linearizable)
# on the recorder's own history and on the merged file, no acknowledged
# write is above the final version, and both servers exit 0 at the end.
# The last line is the figures:
#   rolling_restart: requests N, errors E, lost writes L, ...
#   rolling_restart.sh INVENTORYD INVENTORY_HISTORY PG_TEMP_SH
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

: "${RESTART_CLIENTS:=8}"     # threads calling inventory_update_with_retry
: "${RESTART_PRODUCTS:=64}"   # products, uniform
: "${RESTART_SECONDS:=20}"    # length of the load
: "${RESTART_ATTEMPTS:=50}"   # max_attempts of each retry call
# The conflict back-off is capped low: the helper re-applies the change to
# the conflict's product and then sleeps, so a long sleep on a busy
# product only makes the next write stale too (and 50 stale writes in a
# row would be an ABORTED error that has nothing to do with restarts).
: "${RESTART_BACKOFF_MS:=10}"
: "${RESTART_TIMEOUT_MS:=3000}" # per call
FAULT_PRODUCTS=$RESTART_PRODUCTS

# nng 1.5.2's req0 pipe-close race (lib.sh, excuse_req0_race_leaks) leaks
# about 1 run in 5 one request message in the recorder when a server's
# connection closes: excuse exactly that leak (at most 4 messages), in this
# test only.  Remove with nng >= 1.6.0 (upstream #1713).
excuse_req0_race=1

url_b=ipc://$work/inventory-b.sock
srv_b_pid=

dump_logs() {
	local f
	for f in "$work"/inventoryd.log "$work"/inventoryd-b.log "$work"/run.log \
		"$work"/check.log "$pgdir"/log; do
		[ -f "$f" ] || continue
		echo "----- $f (last 40 lines) -----"
		tail -n 40 "$f" || true
	done
}

start_b() {
	inventory_serve "$inventoryd" "$work/inventoryd-b.log" --listen "$url_b" \
		--db "$INVENTORY_DB" --workers "$FAULT_WORKERS"
	srv_b_pid=$inventory_pid
	extra_pids=$srv_b_pid
}

# sigterm NAME PID: SIGTERM, exit 0 within 30 s; prints the drain time.
sigterm() {
	local name=$1 pid=$2 t0
	t0=$(now_ms)
	say "SIGTERM inventoryd $name ($pid)"
	kill -TERM "$pid"
	wait_exit "$pid" 30
	[ "$exit_rc" -eq 0 ] || fail "inventoryd $name exited with status $exit_rc after SIGTERM (want 0)"
	figure "stop $name: exit 0 after $(($(now_ms) - t0)) ms"
}

fault_setup # A on $url, migrate, products
start_b
wait_up "$url_b" "$srv_b_pid" B
say "inventoryd B $srv_b_pid on $url_b"

load_start "$RESTART_SECONDS" --server "$url,$url_b" --workload retry \
	--clients "$RESTART_CLIENTS" --skew uniform \
	--retry-attempts "$RESTART_ATTEMPTS" --timeout-ms "$RESTART_TIMEOUT_MS" \
	--retry-max-backoff-ms "$RESTART_BACKOFF_MS" \
	--db "$INVENTORY_DB" --check
third=$((RESTART_SECONDS / 4))
sleep "$third"

sigterm A "$srv_pid"
srv_pid=
start_server
wait_up "$url" "$srv_pid" A
say "inventoryd A restarted ($srv_pid)"
sleep "$third"

sigterm B "$srv_b_pid"
srv_b_pid=
extra_pids=
start_b
wait_up "$url_b" "$srv_b_pid" B
say "inventoryd B restarted ($srv_b_pid)"

load_wait
grep -q '^verdict: *PASS' "$work/run.log" || fail "the recorder's own check did not pass"
figures_line=$(sed -n 's/^retry: calls \([0-9]*\), ok \([0-9]*\), errors \([0-9]*\), attempts \([0-9]*\)$/\1 \2 \3 \4/p' "$work/run.log")
[ -n "$figures_line" ] || fail "no 'retry:' line in the recorder's output"
read -r calls okcalls errors attempts <<<"$figures_line"
lost=$(sed -n 's/^lost writes: \([0-9]*\)$/\1/p' "$work/run.log")
[ -n "$lost" ] || fail "no 'lost writes:' line in the recorder's output"
[ "$calls" -gt 0 ] || fail "no inventory_update_with_retry call was made"
figure "retry calls $calls, errors $errors, attempts $attempts, lost writes $lost"

# B is stopped (and must exit 0) before fault_finish checks the merged
# history through A and stops A.
sigterm B "$srv_b_pid"
srv_b_pid=
extra_pids=
for f in "$work"/inventoryd.log "$work"/inventoryd-b.log; do
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$f"; then
		fail "sanitizer report in $f"
	fi
done
[ "$errors" -eq 0 ] || fail "$errors inventory_update_with_retry call(s) returned an error (want 0)"
[ "$lost" -eq 0 ] || fail "$lost acknowledged write(s) lost"
fault_finish
echo "rolling_restart: requests $calls, errors $errors, lost writes $lost," \
	"write attempts $attempts, clients $RESTART_CLIENTS, ${RESTART_SECONDS} s," \
	"restarts 2 (A then B)"
