#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# failover-test.sh: PostgreSQL failover under a write load.
#
#   bash deploy/ha/failover-test.sh [INVENTORYD INVENTORY_HISTORY]
#
# A pg_auto_failover formation (ha-lib.sh: monitor, primary, synchronous
# secondary, as the postgres user, in /tmp/inv-ha.*), one inventoryd on
# the multi-host conninfo with target_session_attrs=read-write, and a
# write load through the library (common.sh: two history recorders).
# While the load runs:
#   1. planned failover: `pg_autoctl perform failover` (the primary is
#      demoted, the synchronous secondary promoted); inventoryd's sessions
#      on the old primary end (57P01) or turn read-only (25006), both
#      reconnect, and the multi-host conninfo finds the new primary;
#   2. SIGKILL of the (new) primary's postmaster: its pg_autoctl keeper
#      restarts it (crash recovery), or the monitor fails over if it does
#      not come back, whichever is first (in practice the restart);
#   3. the primary's machine is lost: its pg_autoctl service and its
#      postmaster are SIGKILLed together, nothing restarts PostgreSQL, the
#      monitor sees the health checks fail and promotes the secondary;
#      the lost node's pg_autoctl is then started again and rejoins.
# Then the merged history is checked (no acknowledged write lost, none
# applied twice, reads linearizable, every unknown outcome resolved
# through its request id) and the figures printed.  The last line is
#   failover: acked=N lost=0 unavailable_ms=M verdict=ok
# with M the longest time no write succeeded during the whole load.
# Bounds (verdict=fail, exit 1, above them): HA_MAX_PLANNED_MS (3000) of
# unavailability around the planned failover, HA_MAX_KILL_MS (10000)
# around each SIGKILL.  Everything is removed afterwards (HA_KEEP=1 keeps
# the work directory of a failed run).  About 75 s.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/common.sh"

: "${HA_MAX_PLANNED_MS:=3000}"
: "${HA_MAX_KILL_MS:=10000}"
# The load outlasts the three events with room to measure the last: they
# take 25-40 s on a busy 2-core machine (the SIGKILL's recovery alone took
# 14 s in one CI run, and 36 s of load then ended before the third event).
: "${HA_SECONDS:=56}"

command -v pg_autoctl >/dev/null 2>&1 ||
	fail "pg_autoctl not found (apt-get install postgresql-15-auto-failover)"

say "work directory $work"
t0=$SECONDS
ha_start "$work" >"$work/ha-start.log" 2>&1 ||
	{ cat "$work/ha-start.log"; fail "the pg_auto_failover formation did not start"; }
. "$work/env"
say "formation up in $((SECONDS - t0)) s: monitor :$HA_MONITOR_PORT, node1 :$HA_PORT1 (primary), node2 :$HA_PORT2"
say "INVENTORY_DB=$INVENTORY_DB"
url=ipc://$work/inventory.sock
setup_db_and_server "$url"

load_start "$url" "$HA_SECONDS"
sleep 6

# 1. Planned failover.
before=$(ha_primary)
t_planned=$(mono_ms)
say "planned failover: pg_autoctl perform failover (primary $before)"
# The monitor's perform_failover() can lose a deadlock against a keeper's
# node_active() (PostgreSQL "deadlock detected": its transaction rolled
# back, nothing changed; seen once in CI): asked again, up to 3 times, as
# an operator would.  Any other failure fails the test.
for try in 1 2 3; do
	rc=0
	ha_autoctl perform failover --pgdata "$work/monitor/pgdata" --wait 60 \
		>"$work/perform.try" 2>&1 || rc=$?
	cat "$work/perform.try" >>"$work/perform.log"
	[ "$rc" -ne 0 ] && [ "$try" -lt 3 ] && grep -q 'deadlock detected' "$work/perform.try" || break
	say "perform failover lost a deadlock in the monitor (try $try): asking again"
	sleep 0.5
done
[ "$rc" -eq 0 ] || { cat "$work/perform.log"; fail "pg_autoctl perform failover failed"; }
say "perform failover returned after $(($(mono_ms) - t_planned)) ms; primary now $(ha_primary)"
ha_wait_stable 60 >/dev/null 2>&1 || fail "formation not stable after the planned failover: $(ha_states)"
after=$(ha_primary)
[ -n "$after" ] && [ "$after" != "$before" ] || fail "primary still $after after the failover"
say "stable again $(($(mono_ms) - t_planned)) ms after the failover began"
sleep 5

# 2. SIGKILL of the primary's postmaster.
pm=$(ha_postmaster "$after")
[ -n "$pm" ] || fail "no postmaster pid for $after"
t_kill=$(mono_ms)
say "SIGKILL postmaster $pm of primary $after"
kill -KILL "$pm"
sleep 3 # the monitor and the keeper notice within ~1 s
ha_wait_stable 90 >/dev/null 2>&1 || fail "formation not stable after the SIGKILL: $(ha_states)"
say "stable again $(($(mono_ms) - t_kill)) ms after the SIGKILL; primary $(ha_primary)"

sleep 4

# 3. The primary's machine is lost: SIGKILL its pg_autoctl and postmaster.
# Its gap can only be measured while the load runs.
left_ms=$((load_secs * 1000 - ($(mono_ms) - load_t0)))
[ "$left_ms" -ge "$HA_MAX_KILL_MS" ] ||
	fail "only $left_ms ms of load left for the third event (it needs $HA_MAX_KILL_MS): raise HA_SECONDS ($load_secs)"
lost_node=$(ha_primary)
[ -n "$lost_node" ] || fail "no primary before the node kill: $(ha_states)"
t_node=$(mono_ms)
say "SIGKILL pg_autoctl and postmaster of primary $lost_node (machine lost)"
ha_kill_node "$lost_node" || fail "nothing to kill for $lost_node"
for i in $(seq 1 300); do
	p=$(ha_primary)
	[ -n "$p" ] && [ "$p" != "$lost_node" ] && break
	p=$(ha_states | awk -v n="$lost_node" '$1 != n && $2 == $3 && ($2 == "wait_primary" || $2 == "primary") { print $1 }')
	[ -n "$p" ] && break
	sleep 0.2
done
[ -n "$p" ] && [ "$p" != "$lost_node" ] || fail "no failover 60 s after losing $lost_node: $(ha_states)"
say "monitor promoted $p $(($(mono_ms) - t_node)) ms after the kill"
sleep 2
say "restarting $lost_node's pg_autoctl (it rejoins as a secondary)"
ha_run "$lost_node"

load_wait
ha_wait_stable 60 >/dev/null 2>&1 && say "formation stable again: $(ha_states | tr '\n' ';')" ||
	say "note: $lost_node has not rejoined yet: $(ha_states | tr '\n' ';')"
ha_check "$url"
ok_writes
planned_ms=$(gap_in "$t_planned" "$t_kill")
kill_ms=$(gap_in "$t_kill" "$t_node")
node_ms=$(gap_in "$t_node" "$(mono_ms)")
worst=$(max_gap)
say "figures: gaps over 200 ms between acknowledged writes (ms after the load began + length): $(gaps_over 200)"
say "figures: events (ms after the load began): planned failover $((t_planned - load_t0)), SIGKILL postmaster $((t_kill - load_t0)), machine lost $((t_node - load_t0))"
say "figures: planned failover: writes unavailable $planned_ms ms (limit $HA_MAX_PLANNED_MS)"
say "figures: SIGKILL of the primary's postmaster: writes unavailable $kill_ms ms (limit $HA_MAX_KILL_MS)"
say "figures: primary's machine lost (pg_autoctl + postmaster SIGKILLed): writes unavailable $node_ms ms (limit $HA_MAX_KILL_MS)"
say "figures: acked $acked writes; longest gap between two acknowledged writes $worst ms"
grep -E '^ *(ok|conflicts|indeterminate|violations|verdict):' "$work/check.log" | sed "s/^/[$test_name] /"

verdict=ok
[ "$planned_ms" -ge 0 ] && [ "$planned_ms" -le "$HA_MAX_PLANNED_MS" ] ||
	{ say "planned failover: $planned_ms ms is over $HA_MAX_PLANNED_MS ms"; verdict=fail; }
[ "$kill_ms" -ge 0 ] && [ "$kill_ms" -le "$HA_MAX_KILL_MS" ] ||
	{ say "SIGKILL: $kill_ms ms is over $HA_MAX_KILL_MS ms"; verdict=fail; }
[ "$node_ms" -ge 0 ] && [ "$node_ms" -le "$HA_MAX_KILL_MS" ] ||
	{ say "machine lost: $node_ms ms is over $HA_MAX_KILL_MS ms"; verdict=fail; }

kill -TERM "$srv_pid"
rc=0
wait "$srv_pid" || rc=$?
srv_pid=
[ "$rc" -eq 0 ] || { say "inventoryd exited $rc after SIGTERM"; verdict=fail; }
ok=1
echo "failover: acked=$acked lost=0 unavailable_ms=$worst verdict=$verdict"
[ "$verdict" = ok ]
