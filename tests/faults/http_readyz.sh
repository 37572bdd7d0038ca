#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault: PostgreSQL stops and comes back; the --http endpoint says so.
#   http_readyz.sh INVENTORYD INVENTORY_HISTORY PG_TEMP_SH
# /readyz is 200 while the database is up, turns 503 with a one-line
# reason (and inventory_db_up 0) within a few seconds of `pg_ctl stop -m
# fast`, while /healthz stays 200 and /metrics keeps answering; after
# `pg_ctl start` it is 200 again, and inventory_db_reconnects_total has
# counted the executors' new connections.  Then /readyz is 503 "schema at
# version ..." against a database whose schema is behind the binary, with
# inventory_ready 0 but inventory_db_up still 1.
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

command -v curl >/dev/null 2>&1 || fail "curl is missing (a test dependency)"
base=

# lib.sh's server, with the endpoint on.  A free port can be taken by a
# test running in parallel before the server binds it; the server then
# exits at once ("Address in use") and inventory_serve_ports starts it on
# another (tests/support/port.sh).
start_server() {
	inventory_serve_ports "$inventoryd" "$work/inventoryd.log" \
		--listen "$url" --db "$INVENTORY_DB" \
		--workers "$FAULT_WORKERS" --http "http://127.0.0.1:@PORT1@" ||
		fail "inventoryd --http did not start listening (see the log)"
	srv_pid=$inventory_pid
	base=http://127.0.0.1:$port1
}

# code PATH: the HTTP status (000: no answer), body in $work/body.
code() { curl -sS -m 5 -o "$work/body" -w '%{http_code}' "$base$1" 2>/dev/null || true; }

# wait_code PATH WANT SECONDS
wait_code() {
	local t0 got
	t0=$(now_ms)
	while :; do
		got=$(code "$1")
		[ "$got" = "$2" ] && return 0
		[ $(($(now_ms) - t0)) -lt $(($3 * 1000)) ] ||
			fail "$1 stayed $got (want $2) for $3 s: $(cat "$work/body" 2>/dev/null)"
		sleep 0.1
	done
}

metric() { curl -fsS -m 5 "$base/metrics" | awk -v s="$1" '$1 == s { print $2 }'; }

fault_setup
wait_code /readyz 200 10
say "/readyz 200: $(cat "$work/body")"
[ "$(metric inventory_db_up)" = 1 ] || fail "inventory_db_up is not 1 while the database is up"
[ "$(metric inventory_ready)" = 1 ] || fail "inventory_ready is not 1 while /readyz is 200"
reconnects0=$(metric inventory_db_reconnects_total)

say "pg_ctl stop -m fast"
t0=$(now_ms)
pgctl -m fast -w -t 30 stop >/dev/null || fail "pg_ctl stop failed"
wait_code /readyz 503 5
figure "readyz_503_after_ms=$(($(now_ms) - t0))"
reason=$(cat "$work/body")
[ "$(printf '%s\n' "$reason" | wc -l)" -eq 1 ] && [ -n "$reason" ] ||
	fail "the 503 reason is not one line: '$reason'"
say "/readyz 503: $reason"
[ "$(code /healthz)" = 200 ] || fail "/healthz is not 200 while the database is down"
[ "$(metric inventory_db_up)" = 0 ] || fail "inventory_db_up is not 0 while the database is down"
[ "$(metric inventory_ready)" = 0 ] || fail "inventory_ready is not 0 while the database is down"
# Some calls while it is down make the executors notice and reconnect.
probe_down
assert_server_alive "while PostgreSQL was stopped"

say "pg_ctl start"
t0=$(now_ms)
pgctl -l "$pgdir/log" -w -t 30 start >/dev/null || fail "pg_ctl start failed"
wait_code /readyz 200 10
figure "readyz_200_after_ms=$(($(now_ms) - t0))"
probe_recovery "PostgreSQL restarted"
[ "$(metric inventory_db_up)" = 1 ] || fail "inventory_db_up is not 1 after the database came back"
reconnects1=$(metric inventory_db_reconnects_total)
[ "${reconnects1:-0}" -gt "${reconnects0:-0}" ] ||
	fail "inventory_db_reconnects_total did not move ($reconnects0 -> $reconnects1)"
figure "db_reconnects=$((reconnects1 - reconnects0))"

# A schema behind the binary: not ready, and the reason says so.
"$(pg_bindir)/psql" -X -q "$INVENTORY_DB" -c \
	"DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)" \
	>/dev/null || fail "cannot edit schema_migrations"
wait_code /readyz 503 5
grep -q "^schema at version" "$work/body" || fail "the schema reason is '$(cat "$work/body")'"
# Reachable but behind: not ready, yet the database is not down.
[ "$(metric inventory_ready)" = 0 ] || fail "inventory_ready is not 0 with the schema behind"
[ "$(metric inventory_db_up)" = 1 ] || fail "inventory_db_up is not 1 with the schema behind (the database is up)"
say "/readyz 503: $(cat "$work/body")"

kill -TERM "$srv_pid"
wait_exit "$srv_pid" 30
srv_pid=
[ "$exit_rc" -eq 0 ] || fail "inventoryd exited $exit_rc after SIGTERM"
ok=1
say "PASS"
