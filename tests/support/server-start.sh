#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest fixture "server" setup.
#   server-start.sh INVENTORYD INVENTORYCTL TESTENV
#
# Applies the schema (inventoryd --migrate), then starts inventoryd in the
# background, detached from ctest's pipes, listening on
# ipc://TESTENV/inventory.sock (or /tmp/inventory-test-<hash>.sock when
# that path is too long for a unix socket) and tcp://127.0.0.1:<free port>.  A small
# supervisor shell records inventoryd's exit status in TESTENV/inventoryd.rc
# so that server-stop.sh can fail the run when the server does not exit 0.
# Waits until the server answers (inventoryctl get <random uuid> exits 69,
# NOT_FOUND), then writes TESTENV/server.env:
#   INVENTORY_SERVER=ipc://...     INVENTORY_SERVER_TCP=tcp://...
# A server left running by an aborted earlier run is stopped first.
set -euo pipefail
inventoryd=$1
inventoryctl=$2
testenv=$3
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../deploy/scripts/server.sh
. "$here/../../deploy/scripts/server.sh"

log() { echo "server-start: $*" >&2; }

[ -f "$testenv/pg/env" ] || { log "no $testenv/pg/env: the db fixture did not run"; exit 1; }
# shellcheck disable=SC1091
. "$testenv/pg/env"

# Leftovers from an earlier run.
if [ -f "$testenv/inventoryd.pid" ]; then
	bash "$here/server-stop.sh" "$testenv" --quiet || true
fi
rm -f "$testenv/inventoryd.pid" "$testenv/inventoryd.rc" "$testenv/server.env" \
	"$testenv/inventory.sock" "$testenv/inventoryd.log"

log "migrating"
# Idempotent: a second run must succeed too.
for _ in 1 2; do
	inventory_migrate "$inventoryd" "$testenv/migrate.log" ||
		{ cat "$testenv/migrate.log" >&2; exit 1; }
done
answers_both() {
	inventory_answers "$inventoryctl" "$ipc" &&
		inventory_answers "$inventoryctl" "$tcp"
}

# A unix socket path is limited to 107 bytes: for a deep build directory
# the socket goes to /tmp under a name derived from the directory.
sock=$testenv/inventory.sock
if [ ${#sock} -gt 100 ]; then
	sock=/tmp/inventory-test-$(printf '%s' "$testenv" | md5sum | cut -c1-16).sock
fi
ipc="ipc://$sock"
# One start on port_retry's $port1 (tests/support/port.sh): 0 up,
# PORT_IN_USE if the port was taken before the server bound it, 1 other.
attempt=0
start_fixture() {
	attempt=$((attempt + 1))
	tcp="tcp://127.0.0.1:$port1"
	rm -f "$testenv/inventoryd.rc" "$sock"

	# The supervisor: detached (setsid), every fd away from ctest's pipes.
	INVENTORYD="$inventoryd" LISTEN="$ipc,$tcp" TESTENV="$testenv" \
		setsid bash -c '
			"$INVENTORYD" --listen "$LISTEN" --db "$INVENTORY_DB" --workers 8 \
				</dev/null >>"$TESTENV/inventoryd.log" 2>&1 &
			pid=$!
			echo "$pid" >"$TESTENV/inventoryd.pid.tmp"
			mv "$TESTENV/inventoryd.pid.tmp" "$TESTENV/inventoryd.pid"
			wait "$pid"
			echo $? >"$TESTENV/inventoryd.rc.tmp"
			mv "$TESTENV/inventoryd.rc.tmp" "$TESTENV/inventoryd.rc"
		' </dev/null >/dev/null 2>&1 &

	# Wait for its pid, then for it to answer on both URLs: NOT_FOUND
	# (exit 69) for a random id.  An exit (say, the port was taken)
	# ends the wait at once.
	up=0
	if inventory_wait $$ 30 test -f "$testenv/inventoryd.pid" &&
		inventory_wait "$(cat "$testenv/inventoryd.pid")" 30 \
			answers_both; then
		up=1
	fi
	if [ "$up" -eq 1 ]; then
		return 0
	fi
	log "inventoryd did not come up (attempt $attempt); log:"
	cat "$testenv/inventoryd.log" >&2 || true
	bash "$here/server-stop.sh" "$testenv" --quiet || true
	# A taken port is the usual cause; any other failure is tried
	# again all the same, as it always was.
	return "$PORT_IN_USE"
}
port_retry 5 start_fixture || exit 1

cat >"$testenv/server.env" <<ENV
INVENTORY_SERVER=$ipc
INVENTORY_SERVER_TCP=$tcp
INVENTORY_DB=$INVENTORY_DB
ENV
log "inventoryd $(cat "$testenv/inventoryd.pid") up on $ipc and $tcp"
cat "$testenv/server.env"
