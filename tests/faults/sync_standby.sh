#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault: a synchronous standby that never confirms.  PostgreSQL commits
# each write locally and then waits for the standby; our deadline's cancel
# ends that wait, and PostgreSQL then reports the statement as done, with
# only a WARNING ("canceling wait for synchronous replication due to user
# request").  Such a write may be on no standby, so a failover can lose
# it: the server must answer UNAVAILABLE (outcome unknown), never OK.  The
# failover test once saw exactly that: an AdjustStock acknowledged by a
# primary that had just restarted, then lost when the standby took over.
#
# Here the standby is a name nobody answers to (synchronous_standby_names
# = 'ghost'), under the recorder's load: no write may be acknowledged
# while it is set, a read is still answered, the server says why in its log, and
# after the setting is cleared the load goes on and the history (the
# unknown outcomes resolved by the final state) checks.
#   sync_standby.sh INVENTORYD INVENTORY_HISTORY PG_TEMP_SH
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

psql_c() { "$(pg_bindir)/psql" -X -q -At "$INVENTORY_DB" -c "$1"; }

fault_setup
say "synchronous_standby_names = 'ghost': every commit waits for a standby that never comes"
psql_c "ALTER SYSTEM SET synchronous_standby_names = 'ghost'" >/dev/null ||
	fail "ALTER SYSTEM failed"
psql_c "SELECT pg_reload_conf()" >/dev/null || fail "pg_reload_conf() failed"
sleep 0.5
v0=$(psql_c "SELECT coalesce(sum(version), 0) FROM products")

load_start 4
load_wait
ok_updates=$(awk '$1 == "OK" { gsub(",", "", $5); print $5 }' "$work/run.log")
ok_reads=$(awk '$1 == "OK" { gsub(",", "", $3); print $3 }' "$work/run.log")
unavailable=$(awk '$1 == "UNAVAILABLE" { print $5 }' "$work/run.log")
# The writes did commit locally: the versions moved although none was OK.
v1=$(psql_c "SELECT coalesce(sum(version), 0) FROM products")
figure "standby never confirms: updates OK ${ok_updates:-0}, UNAVAILABLE ${unavailable:-0}, reads OK ${ok_reads:-0}, versions committed locally $((v1 - v0))"
[ "${ok_updates:-0}" -eq 0 ] ||
	fail "${ok_updates} write(s) acknowledged OK while no standby confirmed a commit"
# The server answers them UNAVAILABLE; on a slow machine (ASan) the
# answer may reach the recorder after its own timeout (DEADLINE_EXCEEDED),
# so the server's log is what says it answered so.
grep -q "synchronous standby: committed locally, maybe on no standby, outcome unknown (UNAVAILABLE)" \
	"$work/inventoryd.log" || fail "the server never answered a write UNAVAILABLE for want of a standby"
# Reads need no standby: once the writes still queued have met their
# deadlines, a read is answered (within 10 s).
read_ok=0
for _ in $(seq 1 20); do
	if hist_answers; then read_ok=1; break; fi
	sleep 0.5
done
[ "$read_ok" = 1 ] || fail "no read was answered while the standby was missing"
[ "$v1" -gt "$v0" ] || fail "no write committed locally: the fault did not happen as intended"
mv "$work/main.hist" "$work/ghost.hist"

say "synchronous_standby_names cleared: writes are acknowledged again"
psql_c "ALTER SYSTEM RESET synchronous_standby_names" >/dev/null ||
	fail "ALTER SYSTEM RESET failed"
psql_c "SELECT pg_reload_conf()" >/dev/null || fail "pg_reload_conf() failed"
sleep 0.5
load_start 3
load_wait
ok_updates=$(awk '$1 == "OK" { gsub(",", "", $5); print $5 }' "$work/run.log")
[ "${ok_updates:-0}" -gt 0 ] || fail "no write acknowledged after the standby setting was cleared"
# The first run's file first: its products' versions are the start.
mv "$work/main.hist" "$work/after.hist"
mv "$work/ghost.hist" "$work/main.hist"
fault_finish "$work/after.hist"
