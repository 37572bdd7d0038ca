#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Gate: valgrind memcheck of the contract tests and of the server they talk
# to (STYLE.md §11: one -O0 -g job, never combined with ASan).
#
#   deploy/scripts/gates/valgrind.sh
#   VALGRIND_LABEL=contract|hostile|... (ctest label of the test programs)
#
# 1. Configures and builds build-valgrind/ with -O0 -g and no sanitizer.
# 2. Starts a private PostgreSQL (deploy/scripts/pg-temp.sh), migrates it
#    and starts inventoryd itself under valgrind (ipc:// and tcp://).
# 3. Writes the same server.env the ctest `server` fixture writes, so the
#    test programs find that server, and runs every test program with the
#    label under valgrind.
# 4. Stops the server with SIGTERM (it must exit 0 after draining).
# valgrind runs with --error-exitcode=99 --leak-check=full
# --errors-for-leak-kinds=definite: any memory error or definite leak in a
# test program or in inventoryd fails the gate.  So does a gate that
# checked nothing: no test with the label, or fewer test programs run
# under valgrind than VALGRIND_MIN_PROGRAMS (default 5; the contract label
# has more than 10).  The count is printed.  Logs: build-valgrind/vg/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$root"
# shellcheck source=../server.sh
. deploy/scripts/server.sh
build=${VALGRIND_BUILD_DIR:-build-valgrind}
label=${VALGRIND_LABEL:-contract}
jobs=$(nproc 2>/dev/null || echo 2)
command -v valgrind >/dev/null || { echo "valgrind: not installed" >&2; exit 1; }
vg=(valgrind --error-exitcode=99 --leak-check=full
	--errors-for-leak-kinds=definite --show-leak-kinds=definite
	--track-origins=yes --num-callers=30)

CC=${CC:-gcc} cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug \
	-DCMAKE_C_FLAGS="-O0 -g" -DINVENTORY_SANITIZER= -DINVENTORY_FUZZ=OFF \
	>/dev/null
cmake --build "$build" -j "$jobs" >/dev/null

env_dir=$root/$build/vg
logs=$env_dir/logs
server_pid=
cleanup() {
	if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
		kill -KILL "$server_pid" 2>/dev/null || true
	fi
	bash deploy/scripts/pg-temp.sh stop "$env_dir/pg" >/dev/null 2>&1 || true
}
trap cleanup EXIT
rm -rf "$env_dir"
mkdir -p "$logs"

bash deploy/scripts/pg-temp.sh start "$env_dir/pg" >/dev/null
# shellcheck disable=SC1091
. "$env_dir/pg/env"
inventoryd=$build/src/inventoryd
inventoryctl=$build/client/inventoryctl
inventory_migrate "$inventoryd" "$logs/migrate.log"

ipc="ipc://$env_dir/inventory.sock"
INVENTORY_START_S=120 INVENTORY_TEST_PREFIX="${vg[*]} --log-file=$logs/inventoryd.vg.log" \
	inventory_serve_ports "$inventoryd" "$logs/inventoryd.log" \
	--listen "$ipc,tcp://127.0.0.1:@PORT1@" --db "$INVENTORY_DB" --workers 4 ||
	{ echo "valgrind: inventoryd did not start listening" >&2; cat "$logs/inventoryd.log" >&2; exit 1; }
tcp="tcp://127.0.0.1:$port1"
server_pid=$inventory_pid
# Probe over tcp:// only, and wait for the listeners first: a client that
# times out during the SP handshake on ipc:// wedges nng 1.5.2's ipc
# listener (nanomsg/nng#1518; src/net/transport_guard.c recovers it, but only
# within a second or two), and a server under valgrind is slow.
listening() { grep -q "listening on" "$logs/inventoryd.log" 2>/dev/null; }
inventory_wait "$server_pid" 120 listening &&
	inventory_wait "$server_pid" 60 inventory_answers "$inventoryctl" "$tcp" 10000 ||
	{ echo "valgrind: inventoryd did not come up" >&2; cat "$logs/inventoryd.log" >&2; exit 1; }
# The tests, too, use tcp:// (see above: a slow handshake on ipc:// can
# wedge the listener for a moment).
cat >"$env_dir/server.env" <<ENV
INVENTORY_SERVER=$tcp
INVENTORY_SERVER_TCP=$tcp
INVENTORY_DB=$INVENTORY_DB
ENV
# Everything is ~20x slower under valgrind: give exit() a longer bound
# than the test watchdog's default (tests/support/watchdog.c).
export INVENTORY_TESTENV=$env_dir CMOCKA_MESSAGE_OUTPUT=STDOUT \
	INVENTORY_TEST_EXIT_S=120
# What the ctest fixtures give a test besides server.env: the server's log
# where the fixture keeps it (contract.batch greps it for deadlocks) and
# the server binary (contract.batch_sigterm starts a private one).
ln -sf "$logs/inventoryd.log" "$env_dir/inventoryd.log"
export INVENTORY_INVENTORYD=$inventoryd

# The label's test programs: ctest knows their names; executables are
# named like their tests (inventory_test()); scripts are skipped.
mapfile -t tests < <(ctest --test-dir "$build" -N -L "$label" |
	sed -n 's/^ *Test *#[0-9]*: *\([^ ]*\)$/\1/p')
min_programs=${VALGRIND_MIN_PROGRAMS:-5}
if [ ${#tests[@]} -eq 0 ]; then
	echo "valgrind: FAILED: no test has the label '$label' in $build" >&2
	exit 1
fi
failed=()
checked=0
for t in "${tests[@]}"; do
	exe=$(find "$build" -type f -name "$t" -perm -u+x | head -n 1)
	if [ -z "$exe" ]; then
		echo "skip $t (not a test program)"
		continue
	fi
	checked=$((checked + 1))
	rc=0
	"${vg[@]}" --log-file="$logs/$t.vg.log" "$exe" >"$logs/$t.log" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ]; then
		echo "ok   $t"
	else
		echo "FAIL $t (exit $rc$([ "$rc" -eq 99 ] && echo ': valgrind errors'))"
		grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|.*definitely lost)' \
			"$logs/$t.vg.log" | head -n 10 || true
		[ "$rc" -eq 99 ] || tail -n 20 "$logs/$t.log"
		failed+=("$t")
	fi
done

kill -TERM "$server_pid"
rc=0
wait "$server_pid" || rc=$?
server_pid=
if [ "$rc" -eq 0 ]; then
	echo "ok   inventoryd (exit 0 after SIGTERM, no valgrind errors)"
else
	echo "FAIL inventoryd (exit $rc$([ "$rc" -eq 99 ] && echo ': valgrind errors'))"
	grep -E '^==[0-9]+== (Invalid|Conditional|Use of|Syscall|Mismatched|.*definitely lost)' \
		"$logs/inventoryd.vg.log" | head -n 10 || true
	failed+=(inventoryd)
fi
echo "valgrind: $checked '$label' test programs (of ${#tests[@]} tests with" \
	"the label) and inventoryd under ${vg[*]}; logs in $logs/"
if [ "$checked" -lt "$min_programs" ]; then
	echo "valgrind: FAILED: only $checked test programs ran under valgrind" \
		"(want at least $min_programs): the gate checked (almost) nothing" >&2
	exit 1
fi
if [ ${#failed[@]} -gt 0 ]; then
	echo "valgrind: FAILED: ${failed[*]}" >&2
	exit 1
fi
echo "valgrind: clean"
