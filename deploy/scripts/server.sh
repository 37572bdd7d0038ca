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
#                                   (raced: a caller retries on a bind error)
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

inventory_port_open() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

inventory_free_port() {
	local port
	while :; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		inventory_port_open "$port" || break
	done
	echo "$port"
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
