# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# port.sh: the one way scripts and tests pick TCP ports and start
# something on them.  Sourced (deploy/scripts/server.sh sources it, so
# every script that starts an inventoryd has it).
#
# A port that nobody listens on is free only at the moment it is looked
# at: a test running in parallel can bind it before our server does, and
# the server then fails with "Address in use".  So whatever starts on a
# picked port starts through port_retry, which tries again on fresh ports
# when the start says the port was taken.
#
#   port_free                 a TCP port on 127.0.0.1 nobody listens on
#                             now (from 20000-59999, random)
#   port_retry TRIES CMD...   run CMD with port1..port4 set to fresh free
#                             ports (distinct); CMD returns 0 (started),
#                             PORT_IN_USE (a port was taken: CMD cleaned
#                             up, try again on others) or any other status
#                             (failed: port_retry returns it).  After TRIES
#                             starts that all found a port taken, returns
#                             PORT_IN_USE.  The ports of the start that
#                             succeeded stay in port1..port4.
#   port_wait_started PID LOG OFFSET READY_RE SECONDS [PORT...]
#                             for a server started in the background with
#                             its output appended to LOG (OFFSET: LOG's size
#                             before the start): 0 once LOG shows READY_RE
#                             after OFFSET, or PID itself listens on every
#                             PORT (ss; for a quiet log level); PORT_IN_USE
#                             if PID exited and its output says a port was
#                             in use (reaped); 1 if it exited otherwise or
#                             SECONDS passed
#   port_owned PID PORT       PID listens on TCP PORT
PORT_IN_USE=98

port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

port_free() {
	local port
	while :; do
		port=$((20000 + (RANDOM * 32768 + RANDOM) % 40000))
		port_busy "$port" || break
	done
	echo "$port"
}

port_retry() {
	local tries=$1 attempt rc
	shift
	for ((attempt = 1; attempt <= tries; attempt++)); do
		port1=$(port_free)
		port2=$(port_free)
		while [ "$port2" = "$port1" ]; do port2=$(port_free); done
		port3=$(port_free)
		while [ "$port3" = "$port1" ] || [ "$port3" = "$port2" ]; do port3=$(port_free); done
		port4=$(port_free)
		while [ "$port4" = "$port1" ] || [ "$port4" = "$port2" ] || [ "$port4" = "$port3" ]; do
			port4=$(port_free)
		done
		rc=0
		"$@" || rc=$?
		[ "$rc" -eq "$PORT_IN_USE" ] || return "$rc"
		echo "port.sh: a port was taken before it was bound (attempt $attempt of $tries); trying others" >&2
	done
	return "$PORT_IN_USE"
}

port_owned() {
	if command -v ss >/dev/null 2>&1; then
		ss -Htlnp "sport = :$2" 2>/dev/null | grep -q "pid=$1,"
	else # without ss: alive, and something listens there
		kill -0 "$1" 2>/dev/null && port_busy "$2"
	fi
}

port_wait_started() {
	local pid=$1 log=$2 offset=$3 ready=$4 secs=$5 end p all
	shift 5
	end=$((SECONDS + secs))
	while [ "$SECONDS" -le "$end" ]; do
		if tail -c +"$((offset + 1))" "$log" 2>/dev/null | grep -Eq "$ready"; then
			return 0
		fi
		all=$#
		for p in "$@"; do port_owned "$pid" "$p" && all=$((all - 1)); done
		[ "$#" -gt 0 ] && [ "$all" -eq 0 ] && return 0
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid" 2>/dev/null || true
			if tail -c +"$((offset + 1))" "$log" 2>/dev/null | grep -Eqi 'address (already )?in use|EADDRINUSE'; then
				return "$PORT_IN_USE"
			fi
			return 1
		fi
		sleep 0.05
	done
	return 1
}
