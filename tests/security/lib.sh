#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# lib.sh: shared harness of the security tests, on top of the
# fault tests' harness (tests/faults/lib.sh: work directory, private
# PostgreSQL, cleanup trap, fail/say/figure, wait_exit).  Sourced by
# tests/security/<test>.sh, which ctest runs as
#
#   bash <test>.sh INVENTORYD INVENTORY_HISTORY PG_TEMP_SH INVENTORYCTL \
#       INVENTORY_BENCH SEC_CLIENT STATE_DIR
#
# STATE_DIR (in the build tree) collects, for security.no_token_in_logs,
# the tokens every test made (STATE_DIR/tokens) and a copy of every log it
# wrote (STATE_DIR/logs/<test>/), since the work directory is removed on
# success.  Certificates and tokens are made fresh in the work directory
# (tests/security/certs.sh, /dev/urandom); nothing is committed.
#
#   sec_setup               PostgreSQL + migrate + certificates
#   sec_start NAME ARGS...  an inventoryd with ARGS, its log in
#                           $work/NAME.log, its pid in ${pids[NAME]}
#   sec_start_ports NAME ARGS...  the same with @PORT1@..@PORT4@ in ARGS
#                           replaced by free ports ($port1..$port4),
#                           started again on others if one was taken
#   sec_wait_up NAME URL [client options]  until it answers NOT_FOUND
#   new_token NAME          a fresh token in $work/tokens/NAME
#   hash_of NAME            its SHA-256, lowercase hex
#   expect_lib / expect_cli a call through the library / inventoryctl
#   sec_finish              token grep, logs saved, servers stopped (exit 0
#                           after SIGTERM), PASS
here_sec=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
[ $# -ge 7 ] || { echo "usage: $0 INVENTORYD HISTORY PG_TEMP INVENTORYCTL BENCH SEC_CLIENT STATE_DIR" >&2; exit 2; }
ctl=$4
bench=$5
sec_client=$6
state_dir=$7
# shellcheck source=../faults/lib.sh
. "$here_sec/../faults/lib.sh" "$1" "$2" "$3"

certs=$work/certs
declare -A pids=()
failures=() # checks that failed; the run goes on and sec_finish fails

# check_failed MESSAGE: record a failed check and carry on, so one broken
# behaviour does not hide the verdicts of the independent checks after it.
check_failed() {
	say "CHECK FAILED: $*"
	failures+=("$*")
}
mkdir -p "$work/tokens" "$state_dir"
chmod 700 "$work/tokens"

sec_setup() {
	say "work directory $work"
	bash "$pg_temp" start "$pgdir" >"$work/pg-start.log" 2>&1 ||
		{ cat "$work/pg-start.log"; fail "pg-temp.sh start failed"; }
	# shellcheck disable=SC1091
	. "$pgdir/env"
	inventory_migrate "$inventoryd" "$work/inventoryd.log" ||
		fail "inventoryd --migrate failed"
	bash "$here_sec/certs.sh" "$certs" || fail "making the certificates failed"
}

# free_port: a TCP port nobody listens on (tests/support/port.sh); a
# server is started on it with sec_start_ports, which retries when a
# parallel test took it first.
free_port() { inventory_free_port; }

sec_start() {
	local name=$1
	shift
	inventory_serve "$inventoryd" "$work/$name.log" --db "$INVENTORY_DB" \
		--workers 2 "$@"
	pids[$name]=$inventory_pid
	extra_pids="$extra_pids $inventory_pid"
}

sec_start_ports() {
	local name=$1 rc=0
	shift
	inventory_serve_ports "$inventoryd" "$work/$name.log" \
		--db "$INVENTORY_DB" --workers 2 "$@" || rc=$?
	pids[$name]=$inventory_pid
	extra_pids="$extra_pids $inventory_pid"
	[ "$rc" -eq 0 ] || fail "inventoryd $name did not start listening (status $rc; $name.log)"
}

sec_alive() { kill -0 "${pids[$1]}" 2>/dev/null; }

# sec_wait_up NAME URL [sec_client options]: a GetProduct of an unknown id
# answers NOT_FOUND within 10 s.
sec_wait_up() {
	local name=$1 u=$2 i out
	shift 2
	for i in $(seq 1 100); do
		sec_alive "$name" || fail "inventoryd $name exited while starting"
		out=$("$sec_client" "$u" NOT_FOUND get --timeout 500 "$@" 2>&1) && return 0
		sleep 0.1
	done
	fail "inventoryd $name did not answer on $u within 10 s (last: $out)"
}

new_token() {
	printf 'tok-%s-%s' "$1" "$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" \
		>"$work/tokens/$1"
	cat "$work/tokens/$1" >>"$state_dir/tokens"
	echo >>"$state_dir/tokens"
}

hash_of() { sha256sum <"$work/tokens/$1" | cut -d' ' -f1; }

# expect_lib WANT OP URL [sec_client options]: the library's answer is WANT.
# Its output goes to $work/client.log (and the last line to ours).
expect_lib() {
	local want=$1 op=$2 u=$3 out rc=0
	shift 3
	out=$("$sec_client" "$u" "$want" "$op" "$@" 2>&1) || rc=$?
	echo "$out" >>"$work/client.log"
	lib_out=$out
	[ "$rc" -eq 0 ] || { check_failed "library $op at $u: want $want, got: $out"; return 0; }
	say "library $op: $(echo "$out" | head -n 1 | cut -c1-120)"
}

# expect_cli WANT_EXIT URL [inventoryctl args]: inventoryctl exits WANT_EXIT.
expect_cli() {
	local want=$1 u=$2 rc=0
	shift 2
	cli_out=$("$ctl" --server "$u" "$@" 2>&1) || rc=$?
	echo "$cli_out" >>"$work/client.log"
	cli_rc=$rc
	[ "$rc" -eq "$want" ] || { check_failed "inventoryctl $* at $u: want exit $want, got $rc: $cli_out"; return 0; }
	say "inventoryctl ${*: -2}: exit $rc $(echo "$cli_out" | head -n 1 | cut -c1-100)"
}

# grep_tokens DIR...: fail if any token made so far appears in any file
# under DIR (the token files themselves excepted).
grep_tokens() {
	local hits
	[ -s "$state_dir/tokens" ] || fail "no tokens recorded: nothing to look for"
	hits=$(grep -rlF -f <(grep -v '^$' "$state_dir/tokens") \
		--exclude-dir=tokens --exclude=tokens "$@" 2>/dev/null || true)
	[ -z "$hits" ] || fail "a bearer token appears in: $hits"
}

# sec_finish: every server still up, SIGTERM -> exit 0, no token in any
# file of the work directory, logs kept for security.no_token_in_logs.
sec_finish() {
	local name rc
	if [ "${#failures[@]}" -gt 0 ]; then
		local f
		for f in "${failures[@]}"; do say "failed check: $f"; done
		fail "${#failures[@]} check(s) failed (above)"
	fi
	for name in "${!pids[@]}"; do
		sec_alive "$name" || fail "inventoryd $name died"
		kill -TERM "${pids[$name]}"
		wait_exit "${pids[$name]}" 30
		rc=$exit_rc
		[ "$rc" -eq 0 ] || fail "inventoryd $name exited with status $rc after SIGTERM (want 0)"
		if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work/$name.log"; then
			fail "sanitizer report in $name.log"
		fi
	done
	grep_tokens "$work"
	mkdir -p "$state_dir/logs/$test_name"
	cp "$work"/*.log "$state_dir/logs/$test_name/" 2>/dev/null || true
	[ -z "${audit_file:-}" ] || cp "$audit_file" "$state_dir/logs/$test_name/"
	say "SUMMARY: ${figures[*]/%/;}"
	ok=1
	say "PASS"
}

# dump_logs (lib.sh's) shows inventoryd.log; show every server's log too.
dump_logs() {
	local f
	for f in "$work"/*.log "$pgdir"/log; do
		[ -f "$f" ] || continue
		echo "----- $f (last 30 lines) -----"
		tail -n 30 "$f" || true
	done
}
