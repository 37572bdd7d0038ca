#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault (b): `pg_ctl stop -m fast` under load (clean shutdown: backends
# are terminated, connections closed), then start PostgreSQL again.  The
# server must stay up, answer UNAVAILABLE/DEADLINE_EXCEEDED while the
# database is gone, reconnect by itself, and lose no acknowledged write.
#   pg_stop_fast.sh INVENTORYD INVENTORY_HISTORY PG_TEMP_SH
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

pg_mode=${PG_STOP_MODE:-fast}
fault_setup
load_start 12
sleep 3
say "pg_ctl stop -m $pg_mode"
pgctl -m "$pg_mode" -w -t 30 stop >/dev/null || fail "pg_ctl stop -m $pg_mode failed"
probe_down
sleep 2
assert_server_alive "while PostgreSQL was stopped"
probe_down
say "pg_ctl start"
pgctl -l "$pgdir/log" -w -t 30 start >/dev/null || fail "pg_ctl start failed"
probe_recovery "PostgreSQL restarted after stop -m $pg_mode"
assert_server_alive "after PostgreSQL came back"
load_wait
fault_finish
