#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault (d): PostgreSQL unreachable for a while without closing anything:
# SIGSTOP the postmaster and every backend (the TCP connections stay open
# and silent, like a network partition or a stalled host), hold, SIGCONT.
# No root network changes.  The server must not crash, the client must time
# out (DEADLINE_EXCEEDED) rather than hang, and service must resume by itself.
#   pg_freeze.sh INVENTORYD INVENTORY_HISTORY PG_TEMP_SH
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

hold=${FAULT_FREEZE_S:-4}
fault_setup
load_start 12
sleep 3
pm=$(postmaster_pid)
[ -n "$pm" ] || fail "no postmaster pid"
stopped_pids="$pm $(children_of "$pm" | tr '\n' ' ')"
say "SIGSTOP PostgreSQL: $stopped_pids"
kill -STOP $stopped_pids
probe_down
sleep "$hold"
assert_server_alive "while PostgreSQL was frozen"
probe_down
say "SIGCONT PostgreSQL"
kill -CONT $stopped_pids
stopped_pids=
probe_recovery "PostgreSQL resumed after ${hold} s frozen"
load_wait
fault_finish
