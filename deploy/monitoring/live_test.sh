#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# deploy/monitoring/live_test.sh: the alerts and the dashboard read what a
# real inventoryd exports, with the labels their tests assume.
#
#   bash deploy/monitoring/live_test.sh BUILD_DIR
#
# Starts a private PostgreSQL (deploy/scripts/pg-temp.sh) and BUILD_DIR's
# inventoryd with --http on free loopback ports; through inventoryctl
# creates a product, updates it once (OK), twice more at the stale version
# (2 ABORTED), reads a missing id (NOT_FOUND), and reads the product once
# with curl through the Connect protocol; scrapes GET /metrics and
# checks:
#   - `promtool check metrics` accepts the scrape;
#   - every metric check.sh allows in the dashboard is in it
#     (check.sh --scrape);
#   - the series the alert rules and their tests use, with those labels:
#     inventory_requests_total{method="UpdateStock",code="ABORTED"} 2,
#     {method="UpdateStock",code="OK"} 1, {method="GetProduct",
#     code="NOT_FOUND"} 1, inventory_conflicts_total{method="UpdateStock"} 2,
#     inventory_db_up 1, inventory_connect_calls_total{method="GetProduct",
#     http_method="POST",code="OK"} 1, and
#     inventory_request_duration_seconds_bucket with
#     method and le (le="+Inf" counting UpdateStock's 3 calls).
# Everything it started is stopped at exit.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:?usage: live_test.sh BUILD_DIR}
# shellcheck source=../scripts/deps.sh
. "$root/deploy/scripts/deps.sh"
inventoryd=$(inventory_find_bin "$build" inventoryd)
ctl=$(inventory_find_bin "$build" inventoryctl)
for tool in curl promtool; do
	command -v "$tool" >/dev/null 2>&1 ||
		{ echo "live_test: $tool is missing (apt-get install curl prometheus)" >&2; exit 1; }
done

tmp=$(mktemp -d /tmp/inventory-live.XXXXXX)
# The cluster's folder: its own short path that pg-temp.sh creates (and
# hands to the postgres user when root).
pgdir=$(mktemp -d /tmp/invlive-pg.XXXXXX)
rmdir "$pgdir"
srv_pid=""
cleanup() {
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -TERM "$srv_pid" 2>/dev/null || true
		wait "$srv_pid" 2>/dev/null || true
	fi
	bash "$root/deploy/scripts/pg-temp.sh" stop "$pgdir" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

bash "$root/deploy/scripts/pg-temp.sh" start "$pgdir" >"$tmp/pg.log" 2>&1 ||
	{ cat "$tmp/pg.log" >&2; echo "live_test: PostgreSQL did not start" >&2; exit 1; }
# shellcheck disable=SC1091
. "$pgdir/env"
"$inventoryd" --db "$INVENTORY_DB" --migrate >"$tmp/migrate.log" 2>&1 ||
	{ cat "$tmp/migrate.log" >&2; echo "live_test: --migrate failed" >&2; exit 1; }

# Ports: free ones, and others if a parallel test took one before the
# server bound it (tests/support/port.sh).
# shellcheck source=../../tests/support/port.sh
. "$root/tests/support/port.sh"
up=0
start_live() {
	local i
	rpc=tcp://127.0.0.1:$port1
	http_port=$port2
	"$inventoryd" --listen "$rpc" --http "http://127.0.0.1:$http_port" \
		--db "$INVENTORY_DB" </dev/null >>"$tmp/inventoryd.log" 2>&1 &
	srv_pid=$!
	for i in $(seq 1 50); do
		kill -0 "$srv_pid" 2>/dev/null || break
		if curl -fsS "http://127.0.0.1:$http_port/healthz" >/dev/null 2>&1 &&
			port_owned "$srv_pid" "$port1"; then
			up=1
			return 0
		fi
		sleep 0.1
	done
	kill -TERM "$srv_pid" 2>/dev/null || true
	wait "$srv_pid" 2>/dev/null || true
	srv_pid=""
	return "$PORT_IN_USE" # a taken port, or worse: tried again as always
}
port_retry 3 start_live || true
[ "$up" -eq 1 ] || { tail -n 20 "$tmp/inventoryd.log" >&2; echo "live_test: inventoryd did not start" >&2; exit 1; }
ok "inventoryd on $rpc, metrics on http://127.0.0.1:$http_port"

c() { "$ctl" --server "$rpc" "$@"; }
id=$(c create --name live-test --stock 10 --price 1.00 | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
[ -n "$id" ] || { echo "live_test: create failed" >&2; exit 1; }
c update-stock "$id" --stock 9 --version 1 >/dev/null || fail "the first update was refused"
for i in 1 2; do
	rc=0
	c update-stock "$id" --stock 8 --version 1 >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 74 ] || fail "a stale update exited $rc, not 74 (ABORTED)"
done
rc=0
c get 00000000-0000-0000-0000-000000000001 >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 69 ] || fail "get of a missing id exited $rc, not 69 (NOT_FOUND)"
# One Connect call on the --http port (the dashboard's Connect panel).
curl -fsS -H 'Content-Type: application/json' -d "{\"id\":\"$id\"}" \
	"http://127.0.0.1:$http_port/inventory.v1.InventoryService/GetProduct" >"$tmp/connect.json" ||
	fail "a Connect GetProduct by curl failed"

scrape=$tmp/metrics.txt
curl -fsS "http://127.0.0.1:$http_port/metrics" >"$scrape" || { fail "GET /metrics"; exit 1; }
if promtool check metrics <"$scrape" >"$tmp/promtool.log" 2>&1; then
	ok "promtool check metrics"
else
	cat "$tmp/promtool.log" >&2
	fail "promtool check metrics"
fi
bash "$here/check.sh" --scrape "$scrape" >"$tmp/check.log" 2>&1 &&
	ok "check.sh --scrape: the dashboard's metrics are all exported" ||
	{ cat "$tmp/check.log" >&2; fail "check.sh --scrape"; }

sample() { # exact series -> its value (first match)
	awk -v s="$1" 'index($0, s " ") == 1 { print $2; exit }' "$scrape"
}
expect() { # series value
	local v
	v=$(sample "$1")
	# integer-valued samples may print as 2 or 2.0 or 2.000000
	if [ -n "$v" ] && awk -v a="$v" -v b="$2" 'BEGIN { exit !(a + 0 == b + 0) }'; then
		ok "$1 $v"
	else
		fail "$1 is '${v:-absent}', expected $2"
	fi
}
expect 'inventory_requests_total{method="UpdateStock",code="OK"}' 1
expect 'inventory_requests_total{method="UpdateStock",code="ABORTED"}' 2
expect 'inventory_requests_total{method="GetProduct",code="NOT_FOUND"}' 1
expect 'inventory_conflicts_total{method="UpdateStock"}' 2
expect 'inventory_db_up' 1
expect 'inventory_connect_calls_total{method="GetProduct",http_method="POST",code="OK"}' 1
expect 'inventory_requests_total{method="GetProduct",code="OK"}' 1
expect 'inventory_request_duration_seconds_bucket{method="UpdateStock",le="+Inf"}' 3
expect 'inventory_request_duration_seconds_count{method="UpdateStock"}' 3

if [ "$fails" -gt 0 ]; then
	echo "live_test: $fails check(s) failed" >&2
	exit 1
fi
echo "live_test: all checks passed"
