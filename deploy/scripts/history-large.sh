#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# history-large.sh: a large Jepsen-style history run.
#
#   history-large.sh [BUILD_DIR]
#
# Starts its own private PostgreSQL (pg-temp.sh) and its own inventoryd
# from BUILD_DIR (default: <repo>/build), then records and checks two
# histories with tests/history's inventory-history: one hot product, and a
# Zipf spread over many products.  Each run reads the final state through
# GetProduct and straight from PostgreSQL and runs the checker; the script
# exits 0 only if both print PASS.  Knobs (environment):
#   CLIENTS=128 OPS=50000 PRODUCTS=50 ZIPF=1.1 WORKERS=8 TIMEOUT_MS=10000
#   KEEP=1 keeps the work directory (histories, logs).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=server.sh
. "$here/server.sh"
repo=$(cd "$here/../.." && pwd)
build=${1:-$repo/build}
: "${CLIENTS:=128}" "${OPS:=50000}" "${PRODUCTS:=50}" "${ZIPF:=1.1}"
: "${WORKERS:=8}" "${TIMEOUT_MS:=10000}" "${KEEP:=0}"

find_bin() {
	local f
	f=$(find "$build" -type f -name "$1" -perm -u+x 2>/dev/null | head -n 1)
	[ -n "$f" ] || { echo "history-large: no $1 under $build (build first)" >&2; exit 2; }
	echo "$f"
}
inventoryd=$(find_bin inventoryd)
hist=$(find_bin inventory-history)

work=$(mktemp -d /tmp/inv-history-large.XXXXXX)
chmod 755 "$work"
srv_pid=
cleanup() {
	set +e
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -TERM "$srv_pid"
		wait "$srv_pid"
	fi
	bash "$here/pg-temp.sh" stop "$work/pg" >/dev/null 2>&1
	if [ "$KEEP" = 1 ]; then
		echo "history-large: kept $work"
	else
		rm -rf "$work"
	fi
}
trap cleanup EXIT

bash "$here/pg-temp.sh" start "$work/pg" >"$work/pg-start.log" 2>&1 ||
	{ cat "$work/pg-start.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/pg/env"
inventory_migrate "$inventoryd" "$work/inventoryd.log" ||
	{ cat "$work/inventoryd.log" >&2; exit 1; }
url=ipc://$work/inventory.sock
inventory_serve "$inventoryd" "$work/inventoryd.log" --listen "$url" \
	--db "$INVENTORY_DB" --workers "$WORKERS"
srv_pid=$inventory_pid
hist_answers() {
	local out
	out=$("$hist" probe --server "$url" --timeout-ms 500 \
		--id "$(cat /proc/sys/kernel/random/uuid)" 2>&1 || true)
	case "$out" in *NOT_FOUND*) return 0 ;; esac
	return 1
}
inventory_wait "$srv_pid" 10 hist_answers ||
	{ echo "history-large: inventoryd did not come up" >&2; cat "$work/inventoryd.log" >&2; exit 1; }
echo "history-large: inventoryd $srv_pid on $url ($WORKERS workers), PostgreSQL port $PGPORT"

verdict=0
run() {
	local name=$1
	shift
	echo "=== $name: $CLIENTS clients, $OPS ops $* ==="
	local t0=$SECONDS rc=0
	"$hist" run --server "$url" --db "$INVENTORY_DB" --clients "$CLIENTS" \
		--ops "$OPS" --timeout-ms "$TIMEOUT_MS" --history "$work/$name.hist" \
		--check "$@" | tee "$work/$name.out" || rc=$?
	echo "=== $name: exit $rc in $((SECONDS - t0)) s ==="
	[ "$rc" -eq 0 ] || verdict=1
}
run hot --products 1 --skew hot
run zipf --products "$PRODUCTS" --skew "zipf:$ZIPF"

kill -TERM "$srv_pid"
rc=0
wait "$srv_pid" || rc=$?
srv_pid=
if [ "$rc" -ne 0 ]; then
	echo "history-large: inventoryd exited $rc after SIGTERM (want 0)" >&2
	tail -n 40 "$work/inventoryd.log" >&2
	verdict=1
fi
[ "$verdict" -eq 0 ] && echo "history-large: PASS" || echo "history-large: FAIL"
exit "$verdict"
