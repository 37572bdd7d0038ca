#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# deploy/run.sh: build inventoryd and run it against a private PostgreSQL.
#
#   bash deploy/run.sh            listen on tcp://127.0.0.1:7070, metrics
#                                 and health on http://127.0.0.1:9464
#   INVENTORY_LISTEN=ipc:///tmp/inv.sock bash deploy/run.sh
#   INVENTORY_HTTP=http://127.0.0.1:9465 bash deploy/run.sh
#
# Installs missing dependencies (apt-get), builds into build/, starts a
# throw-away PostgreSQL cluster in a temporary directory, applies the schema
# (inventoryd --migrate) and runs inventoryd in the foreground.  Ctrl-C or
# SIGTERM stops inventoryd and removes the cluster.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/deps.sh
. deploy/scripts/deps.sh

listen=${INVENTORY_LISTEN:-tcp://127.0.0.1:7070}
http=${INVENTORY_HTTP:-http://127.0.0.1:9464}
build=${INVENTORY_BUILD_DIR:-build}

inventory_deps
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)"
build=$(cd "$build" && pwd)
inventoryd=$(inventory_find_bin "$build" inventoryd)
inventoryctl=$(inventory_find_bin "$build" inventoryctl || echo "$build/client/inventoryctl")

tmp=$(mktemp -d "${TMPDIR:-/tmp}/inventory-run.XXXXXX")
chmod 755 "$tmp" # PostgreSQL runs as "postgres" when we are root
server_pid=

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -TERM "$server_pid" 2>/dev/null || true
		wait "$server_pid" 2>/dev/null || true
	fi
	bash deploy/scripts/pg-temp.sh stop "$tmp/pg" || true
	rm -rf -- "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash deploy/scripts/pg-temp.sh start "$tmp/pg"
# shellcheck disable=SC1091
. "$tmp/pg/env"
export INVENTORY_DB INVENTORY_LISTEN="$listen"

"$inventoryd" --migrate --db "$INVENTORY_DB"

first=${listen%%,*}
cat <<MSG

inventoryd is starting on $listen (database: $INVENTORY_DB),
with /metrics, /healthz, /readyz and /debug/hot on $http.
Try, from another terminal:

  export INVENTORY_SERVER=$first
  $inventoryctl create --name "Widget" --stock 10 --price 19.90
  $inventoryctl get ID
  $inventoryctl update-stock ID --stock 9 --version 1
  curl -s $http/metrics | grep ^inventory_requests_total

Press Ctrl-C to stop (the database is thrown away).

MSG

# In the background + wait, so that SIGTERM reaches the trap at once.
"$inventoryd" --listen "$listen" --db "$INVENTORY_DB" --http "$http" &
server_pid=$!
set +e
wait "$server_pid"
rc=$?
set -e
server_pid=
exit "$rc"
