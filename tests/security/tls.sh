#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# security.tls: TLS on the RPC port.
#
#   good     inventoryd on tls+tcp:// (test CA's server certificate) and a
#            plain tcp:// port: round trips through the library (single
#            calls and coalesced batch frames), inventoryctl and a short
#            inventory-bench run
#   failures a plain tcp:// client at the TLS port, a client trusting
#            another CA, a server whose certificate expired: each call
#            fails cleanly (library UNAVAILABLE, inventoryctl exit 78),
#            promptly, and the server still serves a good client after
#   mutual   inventoryd with --tls-client-ca: no client certificate fails
#            the same way; the test CA's client certificate gets in
#
# Runs its own servers on a private PostgreSQL (tests/security/lib.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh" "$@"

sec_setup
ca=(--ca "$certs/ca.crt")
cli_ca=(--tls-ca "$certs/ca.crt")
unknown=00000000-0000-4000-8000-000000000000

# --- good: a TLS port and a plain one --------------------------------------
sec_start_ports good --listen "tls+tcp://127.0.0.1:@PORT1@,tcp://127.0.0.1:@PORT2@" \
	--tls-cert "$certs/server.crt" --tls-key "$certs/server.key"
p_tls=$port1
p_tcp=$port2
tls=tls+tcp://127.0.0.1:$p_tls
tcp=tcp://127.0.0.1:$p_tcp
sec_wait_up good "$tls" "${ca[@]}"

expect_lib NOT_FOUND get "$tls" "${ca[@]}"
expect_lib OK create "$tls" "${ca[@]}"
id=$(echo "$lib_out" | sed -n 's/^id=//p')
[ -n "$id" ] || fail "create printed no id: $lib_out"
expect_lib OK update "$tls" "${ca[@]}" --id "$id"
expect_lib OK batch "$tls" "${ca[@]}"
expect_lib OK rbatch "$tls" "${ca[@]}" --id "$id"
# localhost names the same server (a DNS name of the certificate).
expect_lib OK get "tls+tcp://localhost:$p_tls" "${ca[@]}" --id "$id"

expect_cli 0 "$tls" "${cli_ca[@]}" get "$id"
echo "$cli_out" | grep -q "\"id\":\"$id\"" || check_failed "inventoryctl get over TLS printed: $cli_out"
expect_cli 0 "$tls" "${cli_ca[@]}" create --name "tls cli" --stock 3 --price 2.50
# The environment variables do what the flags do.
rc=0
INVENTORY_TLS_CA=$certs/ca.crt "$ctl" --server "$tls" get "$id" >>"$work/client.log" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || check_failed "inventoryctl with INVENTORY_TLS_CA: exit $rc"
# Many short-lived TLS clients in a row (each inventoryctl dials two
# connections and exits after its reply): every one is answered.
stalls=0
for i in $(seq 1 30); do
	rc=0
	"$ctl" --server "$tls" --tls-ca "$certs/ca.crt" --timeout 1000 get "$id" \
		>>"$work/client.log" 2>&1 || rc=$?
	[ "$rc" -eq 0 ] || stalls=$((stalls + 1))
done
figure "30 short-lived inventoryctl runs over TLS: $stalls unanswered"
[ "$stalls" -eq 0 ] || check_failed "$stalls of 30 short-lived inventoryctl runs over TLS got no answer (exit 68/78): the server's TLS connections stop being served"
# A tls+tcp:// URL without a CA is a usage error, not a silent downgrade.
expect_cli 2 "$tls" get "$id"

rc=0
"$bench" --server "$tls" --tls-ca "$certs/ca.crt" --duration 1 --products 10 \
	--clients 4 --workload get:50,update:50 --no-progress \
	>"$work/bench.log" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { tail -n 20 "$work/bench.log"; check_failed "inventory-bench over TLS exited $rc"; }
grep -q 'Invariant: HOLDS' "$work/bench.log" || check_failed "inventory-bench over TLS: no HOLDS verdict"
figure "bench over TLS: $(grep -E 'Requests/sec' "$work/bench.log" | head -n 1 | tr -s ' \t' ' ')"

# --- failures, each followed by a good call --------------------------------
# check_fail LABEL URL [sec_client options] -- [inventoryctl options]
check_fail() {
	local label=$1 u=$2 t0 ms
	shift 2
	local lib=() cli=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do lib+=("$1"); shift; done
	[ $# -gt 0 ] && shift
	cli=("$@")
	t0=$(now_ms)
	expect_lib UNAVAILABLE get "$u" --timeout 1500 "${lib[@]}"
	ms=$(($(now_ms) - t0))
	[ "$ms" -lt 5000 ] || check_failed "$label: the failing call took $ms ms"
	expect_cli 78 "$u" --timeout 1500 "${cli[@]}" get "$unknown"
	echo "$cli_out" | grep -q '"code":"UNAVAILABLE"' || check_failed "$label: inventoryctl printed $cli_out"
	figure "$label: library UNAVAILABLE ($ms ms with a 1500 ms timeout), inventoryctl exit 78"
}
lines_before=$(wc -l <"$work/good.log")
check_fail "plain tcp:// client at the TLS port" "tcp://127.0.0.1:$p_tls" --
check_fail "client trusting another CA" "$tls" --ca "$certs/other-ca.crt" -- --tls-ca "$certs/other-ca.crt"
check_fail "wrong server name" "$tls" "${ca[@]}" --server-name wrong.example -- "${cli_ca[@]}" --tls-server-name wrong.example
sec_alive good || fail "the server died after the failed handshakes"
expect_lib OK get "$tls" "${ca[@]}" --id "$id"
expect_lib OK get "$tcp" --id "$id"
expect_cli 0 "$tls" "${cli_ca[@]}" get "$id"
lines_after=$(wc -l <"$work/good.log")
figure "server log lines during the failed handshakes: $((lines_after - lines_before))"

# --- an expired server certificate -----------------------------------------
sec_start_ports expired --listen "tls+tcp://127.0.0.1:@PORT1@,tcp://127.0.0.1:@PORT2@" \
	--tls-cert "$certs/expired.crt" --tls-key "$certs/expired.key"
p_exp=$port1
p_exp_tcp=$port2
expired=tls+tcp://127.0.0.1:$p_exp
sec_wait_up expired "tcp://127.0.0.1:$p_exp_tcp"
check_fail "expired server certificate" "$expired" "${ca[@]}" -- "${cli_ca[@]}"
sec_alive expired || fail "the server with the expired certificate died"
expect_lib OK get "tcp://127.0.0.1:$p_exp_tcp" --id "$id"

# --- client certificates required ------------------------------------------
sec_start_ports mutual --listen "tls+tcp://127.0.0.1:@PORT1@" --tls-cert "$certs/server.crt" \
	--tls-key "$certs/server.key" --tls-client-ca "$certs/ca.crt"
p_mut=$port1
mutual=tls+tcp://127.0.0.1:$p_mut
mine=(--cert "$certs/client.crt" --key "$certs/client.key")
sec_wait_up mutual "$mutual" "${ca[@]}" "${mine[@]}"
expect_lib OK get "$mutual" "${ca[@]}" "${mine[@]}" --id "$id"
expect_lib OK batch "$mutual" "${ca[@]}" "${mine[@]}"
expect_cli 0 "$mutual" "${cli_ca[@]}" --tls-cert "$certs/client.crt" --tls-key "$certs/client.key" get "$id"
rc=0
INVENTORY_TLS_CA=$certs/ca.crt INVENTORY_TLS_CERT=$certs/client.crt INVENTORY_TLS_KEY=$certs/client.key \
	"$bench" --server "$mutual" --duration 1 --products 5 --clients 2 --no-progress \
	>"$work/bench-mutual.log" 2>&1 || rc=$?
[ "$rc" -eq 0 ] || { tail -n 20 "$work/bench-mutual.log"; check_failed "inventory-bench with a client certificate exited $rc"; }
# A certificate without its key is a usage error.
expect_cli 2 "$mutual" "${cli_ca[@]}" --tls-cert "$certs/client.crt" get "$id"
# Last, because after it nng 1.5.2 may stop this listener from taking new
# connections (nanomsg/nng#1518; the listener guard then notices from the
# listener's counters and listens again): the call fails cleanly and the
# server stays up.
check_fail "no client certificate where one is required" "$mutual" "${ca[@]}" -- "${cli_ca[@]}"
sec_alive mutual || fail "the server requiring client certificates died"

# No token was used here, but the grep must still find none of the others'.
new_token unused
sec_finish
