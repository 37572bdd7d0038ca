# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# server.sh: how every script starts an inventoryd of its own.  Sourced.
#
# The ctest fixture (tests/support/server-start.sh), the valgrind gate, the
# fault and security tests (tests/faults/lib.sh, tests/security/lib.sh),
# the benchmarks (deploy/bench/*.sh) and the large history run
# (deploy/scripts/history-large.sh) all start, migrate and wait for a
# server with these, so there is one way to do it:
#
#   inventory_free_port             a TCP port on 127.0.0.1 nobody listens on
#                                   (raced: start through inventory_serve_ports)
#   inventory_serve_ports BIN LOG ARGS...
#                                   inventory_serve with every @PORT1@..@PORT4@
#                                   in ARGS replaced by a fresh free port, until
#                                   it logs "listening on" or listens on them
#                                   (30 s at most); on
#                                   "Address in use" again on other ports
#                                   (tests/support/port.sh); the ports in
#                                   $port1..$port4.  0, or 1 if it did not start
#   inventory_port_open PORT        something listens on 127.0.0.1:PORT
#   inventory_migrate BIN LOG       apply the schema to $INVENTORY_DB,
#                                   output appended to LOG
#   inventory_serve BIN LOG ARGS... start $INVENTORY_TEST_PREFIX BIN ARGS in
#                                   the background, stdin from /dev/null,
#                                   output appended to LOG; the pid in
#                                   $inventory_pid
#   inventory_wait PID SECONDS CMD...
#                                   run CMD every 0.1 s until it succeeds: 0;
#                                   1 if PID exits first or SECONDS pass
#   inventory_answers CTL URL [MS]  one GetProduct of a random id through
#                                   inventoryctl CTL answers NOT_FOUND (exit
#                                   69): the whole path, database included,
#                                   works
#
# INVENTORY_TEST_PREFIX wraps the server, as hiredis's TEST_PREFIX does:
# the valgrind gate sets it to its valgrind command line.

# shellcheck source=../../tests/support/port.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/support/port.sh"

inventory_port_open() { port_busy "$1"; }

inventory_free_port() { port_free; }

# One start for port_retry: the placeholders replaced, then started or
# PORT_IN_USE (reaped).
inventory_serve_once() {
	local bin=$1 log=$2 offset a
	shift 2
	local args=() used=()
	for a in "$@"; do
		[[ "$a" == *@PORT1@* ]] && used+=("$port1")
		[[ "$a" == *@PORT2@* ]] && used+=("$port2")
		[[ "$a" == *@PORT3@* ]] && used+=("$port3")
		[[ "$a" == *@PORT4@* ]] && used+=("$port4")
		a=${a//@PORT1@/$port1}
		a=${a//@PORT2@/$port2}
		a=${a//@PORT3@/$port3}
		a=${a//@PORT4@/$port4}
		args+=("$a")
	done
	offset=$(stat -c %s "$log" 2>/dev/null || echo 0)
	inventory_serve "$bin" "$log" "${args[@]}"
	port_wait_started "$inventory_pid" "$log" "$offset" 'listening on' "${INVENTORY_START_S:-30}" \
		"${used[@]}"
}

inventory_serve_ports() {
	port_retry 5 inventory_serve_once "$@"
}

inventory_migrate() {
	"$1" --migrate --db "$INVENTORY_DB" >>"$2" 2>&1
}

inventory_serve() {
	local bin=$1 log=$2
	shift 2
	# shellcheck disable=SC2086 # the prefix is a command line
	${INVENTORY_TEST_PREFIX:-} "$bin" "$@" </dev/null >>"$log" 2>&1 &
	# shellcheck disable=SC2034 # the caller's
	inventory_pid=$!
}

inventory_wait() {
	local pid=$1 end=$((SECONDS + $2))
	shift 2
	while [ "$SECONDS" -lt "$end" ]; do
		"$@" && return 0
		kill -0 "$pid" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

inventory_answers() {
	local rc=0
	"$1" --server "$2" --timeout "${3:-1000}" get \
		"$(cat /proc/sys/kernel/random/uuid)" >/dev/null 2>&1 || rc=$?
	[ "$rc" -eq 69 ]
}
