#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# partition-test.sh: network partitions and a slow, lossy network under a
# write load.
#
#   bash deploy/ha/partition-test.sh [INVENTORYD INVENTORY_HISTORY]
#
# Three network namespaces stand for three hosts, joined by veth pairs:
#
#   client 10.213.1.1 ──veth── 10.213.1.2 server 10.213.2.1 ──veth── 10.213.2.2 database
#
# (the client has no route to the database).  PostgreSQL runs in
# `database` (as the postgres user, private folder), inventoryd in `server`
# on tcp://10.213.1.2:7070 (A) and :7072 (B), the two history recorders
# of common.sh in `client`, dialing both.  While the load runs, each for
# PART_SECONDS:
#   0. client | B only (iptables on B's port): A stays reachable.  nng
#      still counts B's connections as up (no RST, no FIN, no keepalive);
#      the recorders' handles probe both URLs (client/watch.c, the
#      library's defaults unless HA_PROBE_MS is set), take B down when it
#      misses its probes and resend its frames to A.  Figures only, not a
#      pass mark: the writes acknowledged while B is cut off, as a share
#      of those in as long before (the aim: 80 % or more, so that a
#      silent server out of two costs its callers little), and in the 5 s
#      after it (deploy/README.md's High availability);
#   1. client | server (both) partitioned: iptables DROP both ways in `server`
#      (no RST, no FIN: connections hang, calls time out with an unknown
#      outcome and are resent with the same request id);
#   2. server | database partitioned: the same between server and database
#      (statements hang; the server's deadline cancel cannot reach the
#      database either);
#   3. 200 ms more on every round trip and 5 % packet loss, on both of the
#      server's links.  The loss is iptables' statistic match (real packet
#      drops, TCP retransmits).  The delay: this machine's kernel has no
#      netem qdisc (nor fq for a BPF earliest-departure-time delay), so
#      both links run, for the whole test, through a relay in `server`
#      (delay-proxy.py) that holds each chunk 100 ms each way while the
#      fault lasts and 0 otherwise: client -> 10.213.1.2:7071 -> inventoryd
#      on 10.213.1.2:7070, inventoryd -> 127.0.0.1:6432 -> 10.213.2.2:5432.
#      Caveat: inventoryd's own TCP link to the database is then the
#      loopback one to the relay, so its keepalives and tcp_user_timeout
#      see no partition (in these 5 s partitions they would not fire
#      anyway: tcp_user_timeout is 10 s).
# Then the merged history is checked from `server` (no acknowledged write
# lost, none applied twice, reads linearizable) and every write of unknown
# outcome must have been resolved through its request id (the stock
# recorder resends it until the server answers, "unresolved 0"), and no
# read (one call, HA_TIMEOUT_MS) may take longer than its timeout plus
# HA_CALL_SLACK_MS (1000): a silent server must not hold a call past its
# deadline, whatever the fault.  The last line is
#   partition: acked=N lost=0 unavailable_ms=M verdict=ok
# Skips (exit 0, "SKIP: ..." on the last line) only when the kernel or the
# container refuses network namespaces or veth pairs.  Everything
# (namespaces, database, work directory) is removed afterwards.  About 1
# minute.
# 200 ms round trips on both hops make a write take 600 ms or more: calls
# get 3 s (not common.sh's 1 s, which would time most of them out and
# measure only resends), and 8 executors so that statements waiting on the
# slow link do not queue behind each other.
: "${HA_TIMEOUT_MS:=3000}"
: "${HA_WORKERS:=8}"
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$here/common.sh"

: "${PART_SECONDS:=5}"
: "${HA_CALL_SLACK_MS:=1000}" # a read may end this long after its timeout (scheduling)
: "${HA_SECONDS:=46}"

tag=$(basename "$work" | tr -cd 'A-Za-z0-9' | tail -c 6)
ns_c=inv-c-$tag
ns_s=inv-s-$tag
ns_d=inv-d-$tag
ip_c=10.213.1.1
ip_sc=10.213.1.2
ip_sd=10.213.2.1
ip_d=10.213.2.2
pg_bin=$HA_PG_BINDIR

part_cleanup() {
	local p
	for p in ${proxy_pids:-}; do
		kill -KILL "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	if [ -f "$work/db/data/postmaster.pid" ]; then
		ha_as_pg "$pg_bin/pg_ctl" -D "$work/db/data" -m immediate stop >/dev/null 2>&1
	fi
	local n
	for n in "$ns_c" "$ns_s" "$ns_d"; do
		ip netns del "$n" 2>/dev/null
	done
}
extra_cleanup=part_cleanup

skip() {
	say "SKIP: $*"
	ok=1
	echo "partition: SKIP ($*)"
	exit 0
}

for t in ip tc iptables; do
	command -v "$t" >/dev/null 2>&1 || fail "$t not found (apt-get install iproute2 iptables)"
done
[ "$(id -u)" -eq 0 ] || skip "network namespaces need root"

# Namespaces and links.  A refusal here is the kernel's or the container's.
ip netns add "$ns_c" 2>"$work/netns.err" || skip "ip netns add refused: $(cat "$work/netns.err")"
ip netns add "$ns_s" && ip netns add "$ns_d" || skip "ip netns add refused"
ip link add "vc$tag" type veth peer name "vs$tag" 2>"$work/netns.err" ||
	skip "veth pairs refused: $(cat "$work/netns.err")"
ip link add "vt$tag" type veth peer name "vd$tag" || skip "veth pairs refused"
ip link set "vc$tag" netns "$ns_c" && ip link set "vs$tag" netns "$ns_s" &&
	ip link set "vt$tag" netns "$ns_s" && ip link set "vd$tag" netns "$ns_d" ||
	skip "moving veth ends into namespaces refused"
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }
for n in "$ns_c" "$ns_s" "$ns_d"; do nsx "$n" ip link set lo up; done
nsx "$ns_c" ip addr add "$ip_c/24" dev "vc$tag"
nsx "$ns_s" ip addr add "$ip_sc/24" dev "vs$tag"
nsx "$ns_s" ip addr add "$ip_sd/24" dev "vt$tag"
nsx "$ns_d" ip addr add "$ip_d/24" dev "vd$tag"
nsx "$ns_c" ip link set "vc$tag" up
nsx "$ns_s" ip link set "vs$tag" up
nsx "$ns_s" ip link set "vt$tag" up
nsx "$ns_d" ip link set "vd$tag" up
nsx "$ns_s" iptables -L -n >/dev/null 2>&1 || fail "iptables does not work in a namespace"
say "hosts: client $ns_c $ip_c | server $ns_s $ip_sc,$ip_sd | database $ns_d $ip_d"

# PostgreSQL in the database namespace.
mkdir -p "$work/db"
chmod 755 "$work" "$work/db"
chown postgres: "$work/db"
ha_as_pg "$pg_bin/initdb" -D "$work/db/data" -U postgres -A trust -E UTF8 --no-locale \
	>"$work/db/initdb.log" 2>&1 || { cat "$work/db/initdb.log"; fail "initdb failed"; }
echo "host all all 10.213.0.0/16 trust" >>"$work/db/data/pg_hba.conf"
nsx "$ns_d" runuser -u postgres -- "$pg_bin/pg_ctl" -D "$work/db/data" -l "$work/db/log" -w -t 60 \
	-o "-c listen_addresses=$ip_d -p 5432 -c unix_socket_directories=$work/db -c max_connections=100" \
	start >/dev/null || { tail -n 20 "$work/db/log"; fail "PostgreSQL did not start"; }
nsx "$ns_d" "$pg_bin/createdb" -h "$work/db" -U postgres inventory || fail "createdb failed"
export INVENTORY_DB="host=127.0.0.1 port=6432 user=postgres dbname=inventory"

# The delay relays (see 3. above), in the server namespace.
py=$(command -v /usr/bin/python3 || command -v python3) || fail "python3 not found"
echo 0 >"$work/delay_ms"
proxy_pids=
for spec in "$ip_sc:7071 $ip_sc:7070" "127.0.0.1:6432 $ip_d:5432"; do
	set -- $spec
	# Not through nsx (a function: $! would be its subshell, and killing
	# that would orphan the relay): ip netns exec execs python3 in place.
	ip netns exec "$ns_s" "$py" "$here/delay-proxy.py" "$1" "$2" "$work/delay_ms" \
		>>"$work/proxy.log" 2>&1 &
	proxy_pids="$proxy_pids $!"
done
load_pids_extra=$proxy_pids

# The binaries, each run in its host's namespace.
real_hist=$hist
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$ns_s" "$inventoryd" >"$work/inventoryd-server"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$ns_c" "$real_hist" >"$work/hist-client"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$ns_s" "$real_hist" >"$work/hist-server"
chmod 755 "$work/inventoryd-server" "$work/hist-client" "$work/hist-server"
inventoryd=$work/inventoryd-server
hist=$work/hist-client
url=tcp://$ip_sc:7070
for i in $(seq 1 50); do
	nsx "$ns_s" bash -c "exec 3<>/dev/tcp/127.0.0.1/6432" 2>/dev/null && break
	sleep 0.1
done
setup_db_and_server "$url"
a_pid=$srv_pid
# Server B, straight on 10.213.1.2:7072 (no relay), same database.
start_server "tcp://$ip_sc:7072"
b_pid=$srv_pid
srv_pid=$a_pid
load_pids_extra="$load_pids_extra $b_pid"
wait_up "tcp://$ip_sc:7072"
# The client dials A through the relay, and B.
url="tcp://$ip_sc:7071,tcp://$ip_sc:7072"

# Faults, applied in the server namespace.
drop() { # ADDR: drop everything to and from ADDR
	nsx "$ns_s" iptables -I INPUT -s "$1" -j DROP &&
		nsx "$ns_s" iptables -I OUTPUT -d "$1" -j DROP
}
undrop() {
	nsx "$ns_s" iptables -D INPUT -s "$1" -j DROP &&
		nsx "$ns_s" iptables -D OUTPUT -d "$1" -j DROP
}

load_start "$url" "$HA_SECONDS"
sleep 5

t_b=$(mono_ms)
say "partition client | server B only for $PART_SECONDS s (A still reachable)"
nsx "$ns_s" iptables -I INPUT -p tcp --dport 7072 -j DROP &&
	nsx "$ns_s" iptables -I OUTPUT -p tcp --sport 7072 -j DROP || fail "iptables DROP failed"
sleep "$PART_SECONDS"
nsx "$ns_s" iptables -D INPUT -p tcp --dport 7072 -j DROP &&
	nsx "$ns_s" iptables -D OUTPUT -p tcp --sport 7072 -j DROP || fail "iptables -D failed"
t_b_end=$(mono_ms)
say "healed client | server B"
sleep 5

t_cs=$(mono_ms)
say "partition client | server for $PART_SECONDS s"
drop "$ip_c" || fail "iptables DROP failed"
sleep "$PART_SECONDS"
undrop "$ip_c" || fail "iptables -D failed"
t_cs_end=$(mono_ms)
say "healed client | server"
sleep 5

t_sd=$(mono_ms)
say "partition server | database for $PART_SECONDS s"
drop "$ip_d" || fail "iptables DROP failed"
sleep "$PART_SECONDS"
undrop "$ip_d" || fail "iptables -D failed"
t_sd_end=$(mono_ms)
say "healed server | database"
sleep 5

t_lat=$(mono_ms)
say "+200 ms per round trip and 5 % loss on the server's links for $((PART_SECONDS + 3)) s"
lossy() { # -I or -D
	local dev
	for dev in "vs$tag" "vt$tag"; do
		nsx "$ns_s" iptables "$1" INPUT -i "$dev" -m statistic --mode random --probability 0.05 -j DROP &&
			nsx "$ns_s" iptables "$1" OUTPUT -o "$dev" -m statistic --mode random --probability 0.05 -j DROP ||
			return 1
	done
}
lossy -I || fail "iptables statistic (loss) failed"
echo 100 >"$work/delay_ms"
sleep $((PART_SECONDS + 3))
echo 0 >"$work/delay_ms"
lossy -D || fail "iptables -D (loss) failed"
t_lat_end=$(mono_ms)
say "latency and loss removed"

load_wait
hist=$work/hist-server
ha_check "$url"
ok_writes
# acked_in FROM TO: writes acknowledged in [FROM, TO).
acked_in() { awk -v a="$1" -v b="$2" '$1 >= a && $1 < b { n++ } END { print n + 0 }' "$work/ok.ms"; }
b_ms=$(gap_in "$t_b" "$t_b_end")
cs_ms=$(gap_in "$t_cs" "$t_cs_end")
sd_ms=$(gap_in "$t_sd" "$t_sd_end")
lat_ms=$(gap_in "$t_lat" "$t_lat_end")
worst=$(max_gap)
resends=$(sed -n 's/^stock: .*resends \([0-9]*\),.*/\1/p' "$work/stock.log")
say "figures: gaps over 200 ms between acknowledged writes (ms after the load began + length): $(gaps_over 200)"
b_during=$(acked_in "$t_b" "$t_b_end")
b_before=$(acked_in "$((t_b - PART_SECONDS * 1000))" "$t_b")
b_after=$(acked_in "$t_b_end" "$((t_b_end + PART_SECONDS * 1000))")
pct() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%d %%", 100 * a / b + 0.5; else print "n/a" }'; }
say "figures: client | server B only $PART_SECONDS s: longest gap $b_ms ms, acked during it $b_during ($(pct "$b_during" "$b_before") of the $b_before in as long before it), in as long after it $b_after ($(pct "$b_after" "$b_before"))"
# Past the first second B is down and A serves alone, through the delay
# relay (a Python process on this machine's 2 cores): its rate then,
# against both servers' before, tells what is left once detection is paid.
b_steady=$(acked_in "$((t_b + 1000))" "$t_b_end")
say "figures: client | server B only, from 1 s in: $(pct "$((b_steady * PART_SECONDS))" "$((b_before * (PART_SECONDS - 1)))") of the rate before (A alone)"
say "figures: client | server $PART_SECONDS s: writes unavailable $cs_ms ms, acked during it $(acked_in "$t_cs" "$t_cs_end")"
say "figures: server | database $PART_SECONDS s: writes unavailable $sd_ms ms, acked during it $(acked_in "$t_sd" "$t_sd_end")"
say "figures: 200 ms + 5 % loss $((PART_SECONDS + 3)) s: longest gap $lat_ms ms, acked during it $(acked_in "$t_lat" "$t_lat_end") (vs $(acked_in "$((t_b - PART_SECONDS * 1000))" "$t_b") in as long before the faults, $PART_SECONDS s)"
say "figures: acked $acked writes; unknown outcomes resent with their request id: $resends (unresolved 0)"
# slowest_read FROM TO: the longest GetProduct (ms) invoked in [FROM, TO),
# from the stock history (I: $8 invoked, C: $6 completed, CLOCK_MONOTONIC
# ns).  A read is one call with its own HA_TIMEOUT_MS; writes are not
# measured here, as their history ops span the resends of an unknown
# outcome.
slowest_read() {
	awk -v a="$1" -v b="$2" '$1 == "I" && $4 == "R" { t[$2] = $8 / 1000000 }
		$1 == "C" && ($2 in t) && t[$2] >= a && t[$2] < b {
			d = $6 / 1000000 - t[$2]; if (d > m) m = d }
		END { printf "%d\n", m }' "$work/stock.hist"
}
read_max=$(slowest_read 0 9999999999999)
say "figures: slowest read $read_max ms, $(slowest_read "$t_b" "$t_b_end") ms while B was cut off (timeout $HA_TIMEOUT_MS ms)"
grep -E '^ *(ok|conflicts|indeterminate|violations|verdict):' "$work/check.log" | sed "s/^/[$test_name] /"

verdict=ok
if [ "$read_max" -gt $((HA_TIMEOUT_MS + HA_CALL_SLACK_MS)) ]; then
	say "a read took $read_max ms, beyond its $HA_TIMEOUT_MS ms timeout (+ $HA_CALL_SLACK_MS ms slack)"
	verdict=fail
fi
for p in "$srv_pid" "$b_pid"; do
	kill -TERM "$p"
	rc=0
	wait "$p" || rc=$?
	[ "$rc" -eq 0 ] || { say "inventoryd $p exited $rc after SIGTERM"; verdict=fail; }
done
srv_pid=
load_pids_extra=$proxy_pids
ok=1
echo "partition: acked=$acked lost=0 unavailable_ms=$worst verdict=$verdict"
[ "$verdict" = ok ]
