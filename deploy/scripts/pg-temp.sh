#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# pg-temp.sh: a private, throw-away PostgreSQL cluster for running and
# testing inventoryd.
#
#   pg-temp.sh start DIR   create a cluster in DIR/data, listening on
#                          127.0.0.1:<free random port> and on a unix socket
#                          in DIR, trust auth, database "inventory"; write
#                          DIR/env (sourceable: PGHOST PGPORT PGUSER
#                          PGDATABASE INVENTORY_DB).  If a cluster in DIR is
#                          already running, reuse it and exit 0.
#   pg-temp.sh stop DIR    stop it (fast) and remove DIR.  A missing DIR or a
#                          dead cluster is fine.
#   pg-temp.sh status DIR  exit 0 if the cluster in DIR is running.
#
# PostgreSQL refuses to run as root: as root, DIR is chowned to "postgres"
# and initdb/pg_ctl run through `runuser -u postgres --`.  Binaries are
# taken from the newest /usr/lib/postgresql/*/bin unless PG_BINDIR is set.
set -euo pipefail

die() { echo "pg-temp.sh: $*" >&2; exit 1; }
log() { echo "pg-temp.sh: $*" >&2; }

usage() {
	echo "usage: pg-temp.sh start|stop|status DIR" >&2
	exit 2
}

[ $# -eq 2 ] || usage
cmd=$1
dir=$2
[ -n "$dir" ] || usage
case "$dir" in
/) die "refusing to use / as the cluster directory" ;;
esac

find_bindir() {
	if [ -n "${PG_BINDIR:-}" ]; then
		[ -x "$PG_BINDIR/pg_ctl" ] || die "PG_BINDIR=$PG_BINDIR has no pg_ctl"
		echo "$PG_BINDIR"
		return
	fi
	local best
	best=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
	[ -n "$best" ] && [ -x "$best/initdb" ] ||
		die "no PostgreSQL server found in /usr/lib/postgresql/*/bin (apt-get install postgresql)"
	echo "$best"
}

# Run a server binary as the right user.
as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Ports: tests/support/port.sh (port_free, port_retry), shared by every
# script that picks one.
# shellcheck source=../../tests/support/port.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/support/port.sh"

# The postmaster's pid if it is alive (not a zombie), else nothing.
postmaster_pid() {
	local pid state
	[ -f "$dir/data/postmaster.pid" ] || return 0
	pid=$(head -n 1 "$dir/data/postmaster.pid" 2>/dev/null || true)
	case "$pid" in '' | *[!0-9]*) return 0 ;; esac
	state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || true)
	case "$state" in '' | Z | X) return 0 ;; esac
	echo "$pid"
}

running() {
	[ -n "$(postmaster_pid)" ] || return 1
	as_pg "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

do_stop() {
	if [ ! -e "$dir" ]; then
		return 0
	fi
	if running; then
		if ! as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >/dev/null; then
			# A throw-away cluster: say so, then make sure it is gone.
			log "pg_ctl stop failed for $dir/data; killing it"
			tail -n 20 "$dir/log" >&2 || true
			local pid
			pid=$(postmaster_pid)
			[ -z "$pid" ] || kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	if [ -f "$dir/sockdir" ]; then
		local sd
		sd=$(cat "$dir/sockdir")
		case "$sd" in /tmp/pg-temp-sock.*) rm -rf -- "$sd" ;; esac
	fi
	rm -rf -- "$dir"
}

write_env() {
	local port=$1 tmp="$dir/env.tmp"
	cat >"$tmp" <<ENV
# Written by pg-temp.sh: source this file to talk to the private cluster.
export PGHOST='$sockdir'
export PGPORT='$port'
export PGUSER='postgres'
export PGDATABASE='inventory'
export INVENTORY_DB='host=127.0.0.1 port=$port user=postgres dbname=inventory'
ENV
	mv -f "$tmp" "$dir/env"
}

do_start() {
	if running && [ -f "$dir/env" ]; then
		log "cluster in $dir already running; reusing it"
		return 0
	fi
	# Anything else in DIR is left over from an aborted run.
	if [ -e "$dir" ]; then
		log "removing stale $dir"
		do_stop
	fi
	mkdir -p "$dir"
	dir=$(cd "$dir" && pwd -P)
	# A unix socket path is limited to 107 bytes: for a deep DIR the
	# socket goes to a short directory under /tmp, removed by stop.
	sockdir=$dir
	if [ $((${#dir} + 20)) -gt 100 ]; then
		sockdir=$(mktemp -d /tmp/pg-temp-sock.XXXXXX)
		chmod 755 "$sockdir"
		echo "$sockdir" >"$dir/sockdir"
	fi
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' user"
		chown postgres: "$dir" "$sockdir"
		runuser -u postgres -- test -x "$dir" ||
			die "user postgres cannot reach $dir (check the permissions of its parents)"
	fi

	as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 \
		--no-locale >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; die "initdb failed"; }

	local port attempt=0
	# One start on port_retry's $port1: 0, or PORT_IN_USE to try
	# another port (a lost race for it, or worse: retried as always).
	start_on_port() {
		attempt=$((attempt + 1))
		port=$port1
		cat >"$dir/data/postgresql.auto.conf" <<CONF
# pg-temp.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$sockdir'
max_connections = 200
CONF
		if as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 \
			-o "-c listen_addresses=127.0.0.1 -p $port" start >/dev/null; then
			return 0
		fi
		tail -n 5 "$dir/log" >&2 || true
		as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
		log "start on port $port failed (attempt $attempt)"
		return "$PORT_IN_USE"
	}
	port_retry 5 start_on_port || die "PostgreSQL did not start (see $dir/log)"

	"$bindir/createdb" -h 127.0.0.1 -p "$port" -U postgres inventory ||
		die "createdb inventory failed"
	write_env "$port"
	log "PostgreSQL running in $dir on 127.0.0.1:$port (source $dir/env)"
}

bindir=$(find_bindir)
case "$cmd" in
start) do_start ;;
stop) do_stop ;;
status) running ;;
*) usage ;;
esac
