#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ha-lib.sh: a pg_auto_failover formation on this machine, for the
# high-availability tests.  Sourced by deploy/ha/*.sh.
#
#   ha_start DIR        a monitor, a primary (node1) and a synchronous
#                       secondary (node2), each a pg_autoctl service in its
#                       own folder under DIR, on free loopback ports, run
#                       as the postgres user (PostgreSQL refuses root);
#                       the health checks tuned for fast failover (below);
#                       database "inventory" migrated.  Writes DIR/env:
#                       HA_MONITOR_PORT HA_PORT1 HA_PORT2 INVENTORY_DB (the
#                       multi-host conninfo, target_session_attrs=read-write);
#                       once more on other ports if one was taken meanwhile
#   ha_stop DIR         stop every service, kill what is left, remove DIR
#   ha_autoctl ARGS     pg_autoctl as postgres with DIR's private config
#   ha_primary          "node1" or "node2": the node the monitor calls
#                       primary (empty if none)
#   ha_wait_stable SECS until one primary and one secondary, both healthy
#   ha_postmaster NODE  pid of NODE's postmaster
#   ha_kill_node NODE   SIGKILL NODE's pg_autoctl, its children and its
#                       postmaster: the machine is lost
#   ha_run NODE         start NODE's pg_autoctl service again
#
# pg_autoctl keeps its configuration and state under XDG_CONFIG_HOME and
# XDG_DATA_HOME: both point into DIR, so nothing is written to the postgres
# user's home and several formations can coexist.
#
# Tuning (what decides how fast a failover happens):
#   monitor  pgautofailover.health_check_period       5000 -> 1000 ms
#            pgautofailover.health_check_timeout      5000 -> 1000 ms
#            pgautofailover.health_check_max_retries     2 -> 1
#            pgautofailover.health_check_retry_delay  2000 -> 500 ms
#            pgautofailover.node_considered_unhealthy_timeout 20000 -> 2000 ms
#            pgautofailover.primary_demote_timeout   30000 -> 3000 ms
#            pgautofailover.startup_grace_period     10000 -> 3000 ms
#   keepers  timeout.network_partition_timeout          20 -> 2 s
#            timeout.postgresql_restart_failure_timeout 20 -> 5 s
#            timeout.prepare_promotion_walreceiver       5 -> 1 s
#   nodes    wal_retrieve_retry_interval              5 s -> 500 ms
# primary_demote_timeout is how long the monitor waits for a primary that
# stopped reporting to demote itself before it promotes the secondary (the
# 30 s default is most of an unplanned failover); a primary cut off from
# the monitor and its standby demotes itself after
# network_partition_timeout, which must stay below it so that two
# primaries never accept writes at once.  Shorter timeouts fail over on
# shorter hiccups: right for loopback, too eager across a WAN.
# The secondary is synchronous: pg_auto_failover puts it in
# synchronous_standby_names (replication-quorum true, the default) once it
# has caught up, so a COMMIT the primary acknowledged is on both nodes.

: "${HA_PG_BINDIR:=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)}"
ha_dir=

ha_log() { echo "[ha] $*" >&2; }

ha_as_pg() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

ha_autoctl() {
	ha_as_pg env XDG_CONFIG_HOME="$ha_dir/xdg/config" \
		XDG_DATA_HOME="$ha_dir/xdg/data" PG_CONFIG="$HA_PG_BINDIR/pg_config" \
		PATH="$HA_PG_BINDIR:$PATH" pg_autoctl "$@"
}

# shellcheck source=../../tests/support/port.sh
. "$(dirname "${BASH_SOURCE[0]}")/../../tests/support/port.sh"

# A free 127.0.0.1 port (port_free), not one handed out before in this
# formation.
ha_free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$(port_free)
		case " ${ha_ports:-} " in *" $p "*) continue ;; esac
		ha_ports="${ha_ports:-} $p"
		echo "$p"
		return 0
	done
	return 1
}

ha_psql() { # PORT SQL...
	local port=$1
	shift
	"$HA_PG_BINDIR/psql" -X -q -At -h 127.0.0.1 -p "$port" -U postgres "$@"
}

ha_monitor_uri() {
	echo "postgres://autoctl_node@127.0.0.1:$HA_MONITOR_PORT/pg_auto_failover?sslmode=disable"
}

# The monitor's view: "name state" per node, reported and goal equal.
ha_states() {
	ha_psql "$HA_MONITOR_PORT" -d pg_auto_failover -F ' ' -c \
		"select nodename, reportedstate, goalstate, health from pgautofailover.node order by nodeid" \
		2>/dev/null || true
}

ha_primary() {
	ha_states | awk '$2 == "primary" && $3 == "primary" { print $1; exit }'
}

ha_wait_stable() {
	local secs=$1 i s
	for ((i = 0; i < secs * 5; i++)); do
		s=$(ha_states)
		if [ "$(echo "$s" | awk '$2 == $3 && ($2 == "primary" || $2 == "secondary") && $4 == 1' | wc -l)" -eq 2 ] &&
			echo "$s" | grep -q ' primary primary ' &&
			echo "$s" | grep -q ' secondary secondary '; then
			return 0
		fi
		sleep 0.2
	done
	ha_log "formation not stable after $secs s:"
	echo "$s" >&2
	return 1
}

# ha_kill_node NODE: lose NODE's machine: SIGKILL its pg_autoctl service,
# every process under it and its postmaster, all at once (nothing is left
# to restart PostgreSQL, so the monitor has to fail over).
ha_kill_node() {
	local node=$1 pids= p todo
	todo=$(cat "$ha_dir/$node/autoctl.pid" 2>/dev/null || true)
	while [ -n "$todo" ]; do
		set -- $todo
		p=$1
		shift
		todo="$*"
		pids="$pids $p"
		todo="$todo $(pgrep -P "$p" | tr '\n' ' ')"
		todo=$(echo $todo)
	done
	p=$(ha_postmaster "$node")
	[ -z "$p" ] || pids="$pids $p"
	[ -n "$pids" ] || return 1
	kill -KILL $pids 2>/dev/null || true
}

ha_postmaster() {
	head -n 1 "$ha_dir/$1/pgdata/postmaster.pid" 2>/dev/null || true
}

# ha_run NAME: the pg_autoctl service of NAME in the background.
ha_run() {
	local name=$1
	# In a subshell: not a job of the caller's shell, so a SIGKILL of it
	# (ha_kill_node) prints no "Killed" line.
	(
		ha_autoctl run --pgdata "$ha_dir/$name/pgdata" \
			</dev/null >>"$ha_dir/$name/autoctl.log" 2>&1 &
		echo $! >"$ha_dir/$name/autoctl.pid"
	)
}

ha_write_env() {
	cat >"$ha_dir/env" <<ENV
# Written by deploy/ha/ha-lib.sh
export HA_MONITOR_PORT='$HA_MONITOR_PORT'
export HA_PORT1='$HA_PORT1'
export HA_PORT2='$HA_PORT2'
export INVENTORY_DB='host=127.0.0.1,127.0.0.1 port=$HA_PORT1,$HA_PORT2 user=postgres dbname=inventory target_session_attrs=read-write connect_timeout=2'
ENV
}

# ha_start DIR: ha_start_once, and once more on other ports when a port
# found free was taken before PostgreSQL bound it (another test on this
# machine picked it in between: port_free can only say it was free).
ha_start() {
	local try
	for try in 1 2; do
		ha_start_once "$1" && return 0
		[ "$try" -eq 1 ] && ha_port_was_taken || return 1
		ha_log "a port was taken before PostgreSQL bound it: once more on other ports"
		ha_teardown "$ha_dir"
		rm -rf -- "$ha_dir"/monitor "$ha_dir"/node1 "$ha_dir"/node2 "$ha_dir"/xdg
	done
}

# Whether a PostgreSQL of this formation failed to bind its port.
ha_port_was_taken() {
	grep -rqs -e 'Address already in use' -e 'could not bind' \
		"$ha_dir"/monitor "$ha_dir"/node1 "$ha_dir"/node2
}

ha_start_once() {
	ha_dir=$1
	local n name port
	mkdir -p "$ha_dir"/xdg/config "$ha_dir"/xdg/data "$ha_dir"/monitor \
		"$ha_dir"/node1 "$ha_dir"/node2
	ha_dir=$(cd "$ha_dir" && pwd -P)
	chmod 755 "$ha_dir"
	[ "$(id -u)" -ne 0 ] || chown -R postgres: "$ha_dir"
	HA_MONITOR_PORT=$(ha_free_port) && HA_PORT1=$(ha_free_port) &&
		HA_PORT2=$(ha_free_port) || { ha_log "no free port"; return 1; }
	ha_write_env

	ha_autoctl create monitor --pgdata "$ha_dir/monitor/pgdata" \
		--pgport "$HA_MONITOR_PORT" --hostname 127.0.0.1 --auth trust \
		--no-ssl --pgctl "$HA_PG_BINDIR/pg_ctl" \
		>>"$ha_dir/monitor/autoctl.log" 2>&1 ||
		{ tail -n 20 "$ha_dir/monitor/autoctl.log" >&2; return 1; }
	ha_run monitor
	for n in $(seq 1 100); do
		ha_psql "$HA_MONITOR_PORT" -d pg_auto_failover -c 'select 1' >/dev/null 2>&1 && break
		sleep 0.1
	done
	ha_psql "$HA_MONITOR_PORT" -d pg_auto_failover >/dev/null <<'SQL' || return 1
alter system set pgautofailover.health_check_period = 1000;
alter system set pgautofailover.health_check_timeout = 1000;
alter system set pgautofailover.health_check_max_retries = 1;
alter system set pgautofailover.health_check_retry_delay = 500;
alter system set pgautofailover.node_considered_unhealthy_timeout = 2000;
alter system set pgautofailover.primary_demote_timeout = 3000;
alter system set pgautofailover.startup_grace_period = 3000;
select pg_reload_conf();
SQL

	for n in 1 2; do
		name=node$n
		port=$HA_PORT1
		[ "$n" -eq 1 ] || port=$HA_PORT2
		ha_autoctl create postgres --pgdata "$ha_dir/$name/pgdata" \
			--pgport "$port" --pghost 127.0.0.1 --listen 127.0.0.1 \
			--hostname 127.0.0.1 --name "$name" --auth trust --no-ssl \
			--dbname inventory --monitor "$(ha_monitor_uri)" \
			--pgctl "$HA_PG_BINDIR/pg_ctl" \
			>>"$ha_dir/$name/autoctl.log" 2>&1 ||
			{ tail -n 20 "$ha_dir/$name/autoctl.log" >&2; return 1; }
		ha_autoctl config set --pgdata "$ha_dir/$name/pgdata" \
			timeout.network_partition_timeout 2 >/dev/null &&
			ha_autoctl config set --pgdata "$ha_dir/$name/pgdata" \
				timeout.postgresql_restart_failure_timeout 5 >/dev/null &&
			ha_autoctl config set --pgdata "$ha_dir/$name/pgdata" \
				timeout.prepare_promotion_walreceiver 1 >/dev/null ||
			{ ha_log "pg_autoctl config set failed for $name"; return 1; }
		ha_run "$name"
		if [ "$n" -eq 1 ]; then
			# Alone, the first node is "single"; with a
			# secondary it becomes "primary".
			for i in $(seq 1 300); do
				ha_states | grep -Eq '^node1 (single|primary) \1 ' && break
				sleep 0.2
			done
			ha_states | grep -Eq '^node1 (single|primary) \1 ' ||
				{ ha_log "node1 did not start"; ha_states >&2; return 1; }
		fi
	done
	ha_wait_stable 120 || return 1
	# A standby's WAL receiver waits wal_retrieve_retry_interval (5 s)
	# before it reconnects to a primary that restarted, and synchronous
	# COMMITs wait for it: 500 ms on both nodes.
	for port in "$HA_PORT1" "$HA_PORT2"; do
		ha_psql "$port" -d postgres -c "alter system set wal_retrieve_retry_interval = '500ms'" \
			-c 'select pg_reload_conf()' >/dev/null || return 1
	done
	ha_log "formation up: monitor :$HA_MONITOR_PORT, node1 :$HA_PORT1, node2 :$HA_PORT2"
}

ha_stop() {
	local d=${1:-$ha_dir}
	[ -n "$d" ] && [ -d "$d" ] || return 0
	ha_teardown "$d"
	case "$d" in /tmp/inv-ha.*) rm -rf -- "$d" ;; *) ha_log "not removing $d (not /tmp/inv-ha.*)" ;; esac
}

# ha_teardown DIR: stop every service of DIR's formation and kill what is
# left; the files stay.
ha_teardown() {
	local d=$1 name pid
	ha_dir=$d
	for name in node2 node1 monitor; do
		[ -d "$d/$name/pgdata" ] || continue
		ha_autoctl stop --pgdata "$d/$name/pgdata" >/dev/null 2>&1 || true
	done
	for name in node2 node1 monitor; do
		pid=$(cat "$d/$name/autoctl.pid" 2>/dev/null || true)
		if [ -n "$pid" ]; then
			for i in $(seq 1 50); do
				kill -0 "$pid" 2>/dev/null || break
				sleep 0.1
			done
			kill -KILL "$pid" 2>/dev/null || true
		fi
		pid=$(head -n 1 "$d/$name/pgdata/postmaster.pid" 2>/dev/null || true)
		case "$pid" in '' | *[!0-9]*) ;; *)
			if [ -d "/proc/$pid" ] && grep -q "$d" "/proc/$pid/cmdline" 2>/dev/null; then
				kill -KILL "$pid" 2>/dev/null || true
			fi ;;
		esac
	done
}
