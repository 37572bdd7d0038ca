#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh: inventoryd on a pg_auto_failover formation, in the foreground
# (deploy/run.sh with a failing-over database).
#
#   bash deploy/ha/run.sh [INVENTORYD] [LISTEN_URL]
#
# Starts a monitor, a primary and a synchronous secondary (ha-lib.sh) in
# /tmp/inv-ha.*, migrates, and runs inventoryd on LISTEN_URL (default
# tcp://127.0.0.1:7070) against
#   host=127.0.0.1,127.0.0.1 port=P1,P2 ... target_session_attrs=read-write
# Try, from another shell, with the printed DIR:
#   runuser -u postgres -- env XDG_CONFIG_HOME=DIR/xdg/config \
#       XDG_DATA_HOME=DIR/xdg/data pg_autoctl perform failover --pgdata DIR/monitor/pgdata
#   runuser -u postgres -- env XDG_CONFIG_HOME=DIR/xdg/config \
#       XDG_DATA_HOME=DIR/xdg/data pg_autoctl show state --pgdata DIR/monitor/pgdata
# Ctrl-C stops inventoryd and the formation and removes DIR.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$here/ha-lib.sh"
. "$root/deploy/scripts/deps.sh"

inventory_deps postgresql-15-auto-failover iproute2
if [ $# -ge 1 ]; then
	inventoryd=$1
else
	[ -d "$root/build" ] || { cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		cmake --build "$root/build" -j2 --target inventoryd; }
	inventoryd=$(inventory_find_bin "$root/build" inventoryd)
fi
listen=${2:-tcp://127.0.0.1:7070}

dir=$(mktemp -d /tmp/inv-ha.XXXXXX)
srv=
stop_all() {
	set +e
	[ -z "$srv" ] || { kill -TERM "$srv" 2>/dev/null; wait "$srv" 2>/dev/null; }
	ha_stop "$dir"
}
trap stop_all EXIT
trap 'exit 0' INT TERM

ha_start "$dir"
. "$dir/env"
"$inventoryd" --db "$INVENTORY_DB" --migrate
echo "formation in $dir (pg_autoctl show state: see the header of $0)"
echo "INVENTORY_DB=$INVENTORY_DB"
echo "inventoryd on $listen; Ctrl-C stops everything"
"$inventoryd" --listen "$listen" --db "$INVENTORY_DB" &
srv=$!
wait "$srv"
