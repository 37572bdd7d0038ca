#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Contract: the operator endpoint (--http) and JSON logs, over real HTTP.
#   http_test.sh INVENTORYD INVENTORYCTL TESTENV
# Starts a private inventoryd (its own ipc:// socket, the fixtures'
# database) with --http on a free port and --log-format json, then checks
# with curl: each endpoint's status and Content-Type; HEAD answered
# without a body, POST 405, an unknown path 404; `promtool check metrics`
# on a live scrape; inventory_requests_total and the duration histogram
# moving by exactly the calls sent (OK, NOT_FOUND and ABORTED, the
# conflicts provoked with inventoryctl; a Connect POST and GET) and
# inventory_conflicts_total with them, inventory_connect_calls_total by
# HTTP method; /debug/hot naming the product a conflict storm hit, first, and the
# hot_product warning line; the server exiting 0 on SIGTERM; and every line
# it logged being one JSON object with ts, level and msg (parsed by jq).
set -uo pipefail
inventoryd=$1
ctl=$2
testenv=$3
fails=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

for tool in curl jq promtool; do
	command -v "$tool" >/dev/null 2>&1 ||
		die "$tool is missing (curl, jq and prometheus' promtool are test dependencies)"
done
[ -f "$testenv/pg/env" ] || die "no $testenv/pg/env: the db fixture did not run"
# shellcheck disable=SC1091
. "$testenv/pg/env"

work=$(mktemp -d /tmp/inv-http.XXXXXX)
srv_pid=
cleanup() {
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -KILL "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null
	fi
	if [ "$fails" -eq 0 ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

url=ipc://$work/inventory.sock
log=$work/inventoryd.log
: >"$log"
# The --http port: a free one, and another if a parallel test took it
# before the server bound it (tests/support/port.sh).
# shellcheck source=../support/port.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/port.sh"
start_http() {
	local offset
	offset=$(stat -c %s "$log")
	"$inventoryd" --listen "$url" --db "$INVENTORY_DB" --workers 2 \
		--http "http://127.0.0.1:$port1" --log-format json </dev/null >>"$log" 2>&1 &
	srv_pid=$!
	port_wait_started "$srv_pid" "$log" "$offset" 'listening on' 30 "$port1"
}
port_retry 5 start_http || { cat "$log"; die "inventoryd --http did not start"; }
port=$port1
base=http://127.0.0.1:$port

# Wait for /healthz, then for the first readiness verdict.
up=0
for _ in $(seq 1 100); do
	kill -0 "$srv_pid" 2>/dev/null || { cat "$log"; die "inventoryd exited while starting"; }
	if curl -fsS -o /dev/null "$base/healthz" 2>/dev/null; then up=1; break; fi
	sleep 0.1
done
[ "$up" -eq 1 ] || { cat "$log"; die "/healthz did not answer within 10 s"; }

# get PATH [curl args...]: sets $status, $ctype and the body in $work/body.
get() {
	local path=$1
	shift
	local out
	out=$(curl -sS -o "$work/body" -w '%{http_code} %{content_type}' "$@" "$base$path") ||
		{ status=000; ctype=; return 1; }
	status=${out%% *}
	ctype=${out#* }
}

expect() { # expect PATH STATUS CTYPE_PREFIX [curl args...]
	local path=$1 want=$2 wantct=$3
	shift 3
	get "$path" "$@"
	if [ "$status" = "$want" ] && [[ "$ctype" == "$wantct"* ]]; then
		ok "$* $path: $status $ctype"
	else
		fail "$* $path: got $status '$ctype', want $want '$wantct...'; body: $(head -c 300 "$work/body")"
	fi
}

# Flag errors: a bad format is a usage error (2); a port in use or a
# scheme other than http:// fails the start (1) with a line saying so.
"$inventoryd" --listen "ipc://$work/other.sock" --log-format xml >"$work/err" 2>&1
rc=$?
[ "$rc" -eq 2 ] && grep -q "log format 'xml'" "$work/err" && ok "--log-format xml: exit 2" ||
	fail "--log-format xml exited $rc: $(cat "$work/err")"
for bad in "$base" "ftp://127.0.0.1:$port"; do
	timeout 20 "$inventoryd" --listen "ipc://$work/other.sock" --db "$INVENTORY_DB" \
		--workers 1 --http "$bad" >"$work/err" 2>&1
	rc=$?
	[ "$rc" -eq 1 ] && grep -q -- "--http $bad" "$work/err" && ok "--http $bad: exit 1" ||
		fail "--http $bad (in use or not http) exited $rc: $(tail -n 3 "$work/err")"
done

expect /healthz 200 "text/plain"
[ "$(cat "$work/body")" = ok ] || fail "/healthz body is '$(cat "$work/body")', want ok"

ready=0
for _ in $(seq 1 50); do
	get /readyz
	[ "$status" = 200 ] && { ready=1; break; }
	sleep 0.1
done
[ "$ready" -eq 1 ] && ok "/readyz 200 ($(cat "$work/body"))" ||
	fail "/readyz stayed $status: $(cat "$work/body")"
expect /readyz 200 "text/plain"
expect /metrics 200 "text/plain; version=0.0.4"
expect /debug/hot 200 "application/json"
jq -e '.products | type == "array"' "$work/body" >/dev/null ||
	fail "/debug/hot is not JSON with a products array: $(cat "$work/body")"

# Only GET and HEAD: HEAD has the headers and no body; anything else 405.
for path in /metrics /healthz /readyz /debug/hot; do
	expect "$path" 200 "" -I
	[ ! -s "$work/body" ] || [ "$(head -c 4 "$work/body")" = "HTTP" ] ||
		fail "HEAD $path returned a body"
	expect "$path" 405 "" -X POST -d x
	expect "$path" 405 "" -X PUT -d x
	expect "$path" 405 "" -X DELETE
done
expect /nothing-here 404 ""

# promtool on a live scrape.
curl -fsS "$base/metrics" >"$work/m0" || fail "scrape failed"
if promtool check metrics <"$work/m0" >"$work/promtool.out" 2>&1; then
	ok "promtool check metrics"
else
	fail "promtool check metrics: $(cat "$work/promtool.out")"
fi
for name in inventory_requests_total inventory_request_duration_seconds_bucket \
	inventory_conflicts_total inventory_db_up inventory_db_reconnects_total \
	inventory_requests_queued inventory_requests_in_flight \
	process_resident_memory_bytes process_cpu_seconds_total process_open_fds \
	inventory_build_info; do
	grep -q "^$name[ {]" "$work/m0" && ok "metric $name" || fail "metric $name missing"
done
version=$("$inventoryd" --version | awk '{print $2}')
grep -qx "inventory_build_info{version=\"$version\"} 1" "$work/m0" ||
	fail "inventory_build_info does not say version $version"
grep -qx "inventory_db_up 1" "$work/m0" || fail "inventory_db_up is not 1"
grep -qx "inventory_ready 1" "$work/m0" || fail "inventory_ready is not 1"
rss=$(awk '$1 == "process_resident_memory_bytes" { print $2 }' "$work/m0")
awk -v v="$rss" 'BEGIN { exit !(v + 0 > 1000000) }' || fail "process_resident_memory_bytes $rss"

# value FILE SERIES: the sample's value, 0 when the series is absent.
value() { awk -v s="$2" '$1 == s { v = $2 } END { print v + 0 }' "$1"; }

# Calls: 3 creates, 4 gets (OK), 2 gets of a missing id (NOT_FOUND), one
# update (OK), 3 updates at a stale version (ABORTED).
ids=()
for i in 1 2 3; do
	out=$("$ctl" --server "$url" create --name "http-$i" --stock 10 --price 1.00) ||
		fail "create $i: $out"
	ids+=("$(jq -r .id <<<"$out")")
done
for i in 0 1 2 0; do
	"$ctl" --server "$url" get "${ids[$i]}" >/dev/null || fail "get ${ids[$i]}"
done
for _ in 1 2; do
	"$ctl" --server "$url" get "$(cat /proc/sys/kernel/random/uuid)" >/dev/null
	[ $? -eq 69 ] || fail "get of a missing id did not exit 69"
done
"$ctl" --server "$url" update-stock "${ids[0]}" --stock 5 --version 1 >/dev/null ||
	fail "update-stock at version 1"
for _ in 1 2 3; do
	"$ctl" --server "$url" update-stock "${ids[0]}" --stock 4 --version 1 >/dev/null
	[ $? -eq 74 ] || fail "update-stock at a stale version did not exit 74 (ABORTED)"
done
# And one GetProduct by Connect POST, one by Connect GET (no --auth-file
# here): in inventory_requests_total as any call, and counted apart in
# inventory_connect_calls_total by HTTP method.
svc=$base/inventory.v1.InventoryService
curl -fsS -o /dev/null -H 'Content-Type: application/json' \
	--data-binary "{\"id\":\"${ids[1]}\"}" "$svc/GetProduct" || fail "Connect POST GetProduct"
curl -fsS -o /dev/null "$svc/GetProduct?encoding=json&message=%7B%22id%22%3A%22${ids[1]}%22%7D" ||
	fail "Connect GET GetProduct"
curl -fsS "$base/metrics" >"$work/m1" || fail "scrape failed"
promtool check metrics <"$work/m1" >"$work/promtool.out" 2>&1 &&
	ok "promtool check metrics after traffic" ||
	fail "promtool check metrics after traffic: $(cat "$work/promtool.out")"

delta() { # delta SERIES WANT
	local a b
	a=$(value "$work/m0" "$1")
	b=$(value "$work/m1" "$1")
	if [ $((b - a)) -eq "$2" ]; then
		ok "$1 +$2"
	else
		fail "$1 moved by $((b - a)) ($a -> $b), want $2"
	fi
}
delta 'inventory_requests_total{method="CreateProduct",code="OK"}' 3
delta 'inventory_requests_total{method="GetProduct",code="OK"}' 6
delta 'inventory_requests_total{method="GetProduct",code="NOT_FOUND"}' 2
delta 'inventory_requests_total{method="UpdateStock",code="OK"}' 1
delta 'inventory_requests_total{method="UpdateStock",code="ABORTED"}' 3
delta 'inventory_conflicts_total{method="UpdateStock"}' 3
delta 'inventory_request_duration_seconds_count{method="GetProduct"}' 8
delta 'inventory_connect_calls_total{method="GetProduct",http_method="POST",code="OK"}' 1
delta 'inventory_connect_calls_total{method="GetProduct",http_method="GET",code="OK"}' 1
delta 'inventory_request_duration_seconds_count{method="UpdateStock"}' 4
delta 'inventory_request_duration_seconds_bucket{method="UpdateStock",le="+Inf"}' 4
# Nothing else moved: the totals over every method and code.
total() { awk '/^inventory_requests_total\{/ { s += $2 } END { print s + 0 }' "$1"; }
[ $(($(total "$work/m1") - $(total "$work/m0"))) -eq 15 ] ||
	fail "inventory_requests_total moved by $(($(total "$work/m1") - $(total "$work/m0"))) in all, want 15"

# A conflict storm on ids[1], a little noise on ids[2]: /debug/hot names
# ids[1] first with every conflict; past 60 conflicts in the minute the
# warning line names it (checked at most once a second: one more conflict
# after a pause makes sure the check ran).
"$ctl" --server "$url" update-stock "${ids[1]}" --stock 9 --version 1 >/dev/null
"$ctl" --server "$url" update-stock "${ids[2]}" --stock 9 --version 1 >/dev/null
storm=70
for _ in $(seq 1 "$storm"); do
	"$ctl" --server "$url" update-stock "${ids[1]}" --stock 1 --version 1 >/dev/null
done
for _ in 1 2; do
	"$ctl" --server "$url" update-stock "${ids[2]}" --stock 1 --version 1 >/dev/null
done
sleep 1.2
"$ctl" --server "$url" update-stock "${ids[1]}" --stock 1 --version 1 >/dev/null
storm=$((storm + 1))
expect /debug/hot 200 "application/json"
if jq -e --arg id "${ids[1]}" --argjson n "$storm" '
	.products[0].id == $id and .products[0].conflicts >= $n and
	.products[0].last_version == 2 and .products[0].method == "UpdateStock" and
	.products[0].conflicts_per_second > 0' "$work/body" >/dev/null; then
	ok "/debug/hot names ${ids[1]} first"
else
	fail "/debug/hot does not name ${ids[1]} first with >= $storm conflicts: $(cat "$work/body")"
fi
jq -e --arg id "${ids[2]}" '[.products[] | select(.id == $id)] | length == 1' \
	"$work/body" >/dev/null || fail "/debug/hot lacks ${ids[2]}"

# SIGTERM: drain and exit 0.
kill -TERM "$srv_pid"
rc=0
for _ in $(seq 1 300); do
	kill -0 "$srv_pid" 2>/dev/null || break
	sleep 0.1
done
wait "$srv_pid" || rc=$?
srv_pid=
[ "$rc" -eq 0 ] && ok "inventoryd exited 0" || fail "inventoryd exited $rc"

# Every line one JSON object with ts, level and msg; the events' fields
# are keys.
lines=$(wc -l <"$log")
objects=$(jq -c 'select(type == "object" and (.ts | type) == "string" and
	(.level | type) == "string" and (.msg | type) == "string")' "$log" | wc -l)
if [ "$lines" -gt 0 ] && [ "$objects" -eq "$lines" ]; then
	ok "$lines log lines, each a JSON object with ts, level, msg"
else
	fail "$objects of $lines log lines are JSON objects with ts, level, msg"
	head -n 20 "$log" >&2
fi
jq -e -s --arg id "${ids[0]}" 'map(select(.msg == "conflict" and .product == $id and
	.method == "UpdateStock" and .current_version == "2")) | length >= 1' "$log" >/dev/null ||
	fail "no conflict line for ${ids[0]} with method and current_version as keys"
jq -e -s --arg id "${ids[1]}" 'map(select(.msg == "hot_product" and .level == "warn" and
	.product == $id)) | length == 1' "$log" >/dev/null ||
	fail "not exactly one hot_product warning naming ${ids[1]}"
jq -e -s 'map(select(.ts | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$") | not)) | length == 0' \
	"$log" >/dev/null || fail "a ts is not RFC 3339 UTC"

if [ "$fails" -ne 0 ]; then
	echo "----- inventoryd log (last 20 lines) -----" >&2
	tail -n 20 "$log" >&2
	echo "$fails failure(s)"
	exit 1
fi
echo "all http checks passed"
