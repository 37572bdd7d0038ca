#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault (a): kill -9 inventoryd under load, restart it on the same URL.
# Calls in flight get UNAVAILABLE or DEADLINE_EXCEEDED (indeterminate);
# the restarted server must serve within FAULT_RECOVERY_MAX_MS and the
# history, with the final state, must check.
#   kill_server.sh INVENTORYD INVENTORY_HISTORY PG_TEMP_SH
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# kill -9 closes the recorder's connections under load: nng 1.5.2's req0
# pipe-close race may leak a request message in the recorder (lib.sh,
# excuse_req0_race_leaks; upstream #1713, fixed in nng 1.6.0).  Seen in
# a clean-clone CI run's asan gate: 1 message, 439 bytes.
excuse_req0_race=1

fault_setup
load_start 12
sleep 3
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
load_wait
fault_finish
