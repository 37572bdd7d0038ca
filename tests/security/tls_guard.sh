#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# security.tls_guard: a TLS listener keeps serving good callers while
# others fail their handshakes (src/net/transport_guard.c).
#
#   sequence  inventoryd on tls+tcp://localhost:PORT with a certificate
#             for CN=127.0.0.1 (IP:127.0.0.1, DNS:localhost) and
#             --auth-file (a writer, a reader).  Four times: create, get,
#             update, a call without a token and one with an unknown
#             token, then three calls that fail their handshake one after
#             the other (a plain tcp:// client at the TLS port, a client
#             trusting another CA, a client dialing tls+tcp://127.0.0.1,
#             a name the certificate carries only as an IP address), then
#             a good call with a 3 s timeout: every good call must succeed
#   storm     tls_storm for 10 s: failing clients at 10/s (plain, wrong
#             CA, wrong name, leaving mid-handshake, a ClientHello and
#             gone: the last one wedges nng 1.5.2's listener) while a
#             fresh and a kept good client call every 100 ms: no good
#             call may fail
#   mutual    the same storm for 5 s on a second server that requires
#             client certificates (--tls-client-ca), good callers with
#             the test CA's client certificate
#   stop      each server exits 0 within 15 s of SIGTERM
#
# The listener repairs the guard logged (and how long after the first
# sign) and the failed connections it summed up are reported as figures.
# Runs its own servers on a private PostgreSQL (tests/security/lib.sh);
# the 8th argument is the tls_storm binary.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
storm=${8:?usage: tls_guard.sh ... STATE_DIR TLS_STORM}
# shellcheck source=lib.sh
. "$here/lib.sh" "$@"

sec_setup
new_token writer
new_token reader
new_token bogus
auth=$work/auth
printf 'guard-writer writer %s\nguard-reader reader %s\n' \
	"$(hash_of writer)" "$(hash_of reader)" >"$auth"
ca=$certs/ca.crt
W=(--tls-ca "$ca" --token-file "$work/tokens/writer")

# --- sequence ---------------------------------------------------------------
sec_start_ports g --listen "tls+tcp://localhost:@PORT1@" \
	--tls-cert "$certs/ipsan.crt" --tls-key "$certs/ipsan.key" --auth-file "$auth"
p=$port1
u=tls+tcp://localhost:$p
sec_wait_up g "$u" --ca "$ca" --token-file "$work/tokens/writer"

# run_ctl WANT_EXIT ARGS...: inventoryctl exits WANT_EXIT (else recorded).
run_ctl() {
	local want=$1 rc=0
	shift
	ctl_out=$("$ctl" "$@" 2>&1) || rc=$?
	echo "$ctl_out" >>"$work/client.log"
	[ "$rc" -eq "$want" ] || check_failed "inventoryctl $*: want exit $want, got $rc: $ctl_out"
}
good_failed=0
for run in 1 2 3 4; do
	run_ctl 0 --server "$u" "${W[@]}" create --name "guard $run" --stock 5 --price 1.00
	id=$(echo "$ctl_out" | sed -n 's/.*"id":"\([^"]*\)".*/\1/p')
	[ -n "$id" ] || fail "run $run: create printed no id: $ctl_out"
	run_ctl 0 --server "$u" "${W[@]}" get "$id"
	run_ctl 0 --server "$u" "${W[@]}" update-stock "$id" --stock 7 --version 1
	run_ctl 80 --server "$u" --tls-ca "$ca" get "$id"
	run_ctl 80 --server "$u" --tls-ca "$ca" --token-file "$work/tokens/bogus" get "$id"
	run_ctl 78 --server "tcp://localhost:$p" --timeout 1000 get "$id"
	run_ctl 78 --server "$u" --tls-ca "$certs/other-ca.crt" --timeout 1000 get "$id"
	run_ctl 78 --server "tls+tcp://127.0.0.1:$p" "${W[@]}" --timeout 1000 get "$id"
	t0=$(now_ms)
	rc=0
	out=$("$ctl" --server "$u" "${W[@]}" --timeout 3000 get "$id" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ]; then
		good_failed=$((good_failed + 1))
		check_failed "run $run: the good call after the failed handshakes exited $rc after $(($(now_ms) - t0)) ms: $out"
	fi
	say "run $run: good call exit $rc in $(($(now_ms) - t0)) ms"
done
figure "sequence: $good_failed of 4 good calls after three failed handshakes failed"

# --- storm ------------------------------------------------------------------
# tls_storm runs for its --seconds plus its calls' timeouts; a run that
# outlives that by STORM_GRACE_S is hung (seen 3 times in full suites
# under load, the mutual storm each time): its threads' stacks are printed
# (gdb, when installed) so the failure says where, and it is killed,
# instead of running into ctest's 240 s timeout with nothing said.
: "${STORM_GRACE_S:=30}"
storm_stacks() { # PID
	command -v gdb >/dev/null 2>&1 || { say "(gdb not installed: no stacks)"; return 0; }
	timeout 60 gdb -p "$1" -batch -ex 'set pagination off' \
		-ex 'thread apply all bt 12' 2>/dev/null |
		grep -E '^(Thread|#)' | sed 's/^/  /' || true
}
storm_run() {
	local label=$1 rc=0 pid secs i
	shift
	secs=$(printf '%s\n' "$@" | awk 'prev == "--seconds" { print $0 } { prev = $0 }')
	"$storm" "$@" >"$work/storm-$label.log" 2>&1 &
	pid=$!
	for ((i = 0; i < (${secs:-10} + STORM_GRACE_S) * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		say "$label: tls_storm still running $((${secs:-10} + STORM_GRACE_S)) s after it started; its threads:"
		storm_stacks "$pid" | tee -a "$work/client.log"
		kill -KILL "$pid" 2>/dev/null
		check_failed "$label: tls_storm hung (stacks above)"
	fi
	wait "$pid" || rc=$?
	cat "$work/storm-$label.log" >>"$work/client.log"
	grep '^tls_storm: ' "$work/storm-$label.log" | tail -n 3 | while read -r line; do say "$label: $line"; done
	figure "$label: $(grep -E 'good (fresh|kept)' "$work/storm-$label.log" | sed 's/tls_storm: //' | tr '\n' ';')"
	[ "$rc" -eq 0 ] || check_failed "$label: good calls failed while others failed their handshakes (exit $rc; $work/storm-$label.log)"
}
storm_run storm "$u" --ca "$ca" --token-file "$work/tokens/writer" \
	--bad-ca "$certs/other-ca.crt" --seconds 10 --rate 10 --every-ms 100 --timeout 3000

# --- mutual -----------------------------------------------------------------
sec_start_ports m --listen "tls+tcp://127.0.0.1:@PORT1@" \
	--tls-cert "$certs/server.crt" --tls-key "$certs/server.key" --tls-client-ca "$ca"
listen_url=tls+tcp://127.0.0.1:$port1
mine=(--cert "$certs/client.crt" --key "$certs/client.key")
sec_wait_up m "$listen_url" --ca "$ca" "${mine[@]}"
storm_run mutual "$listen_url" --ca "$ca" "${mine[@]}" \
	--bad-ca "$certs/other-ca.crt" --seconds 5 --rate 10 --every-ms 100 --timeout 3000

# --- stop -------------------------------------------------------------------
for name in g m; do
	t0=$(now_ms)
	kill -TERM "${pids[$name]}"
	wait_exit "${pids[$name]}" 15
	[ "$exit_rc" -eq 0 ] || fail "inventoryd $name: exit status $exit_rc within 15 s of SIGTERM (want 0)"
	figure "server $name stopped $(($(now_ms) - t0)) ms after SIGTERM"
	if grep -Eq 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$work/$name.log"; then
		fail "sanitizer report in $name.log"
	fi
	unset "pids[$name]"
done
# --- what the servers logged (after the stop: the last sums) ----------------
for name in g m; do
	repairs=$(grep -c 'transport guard: listener' "$work/$name.log" || true)
	lat=$(sed -n 's/.*listening again \([0-9]*\) ms after.*/\1/p' "$work/$name.log" | sort -n | tr '\n' ' ')
	failed=$(sed -n 's/.*: \([0-9]*\) connection(s) failed before.*/\1/p' "$work/$name.log" | awk '{ s += $1 } END { print s + 0 }')
	figure "server $name: $repairs listener repair(s) (ms after the first sign: ${lat:-none}); ${failed:-0} failed connection(s) logged"
	grep -q 'connection(s) failed before reaching the service' "$work/$name.log" ||
		check_failed "server $name logged no line about the failed handshakes"
done

sec_finish
