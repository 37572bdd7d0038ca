#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# security.tls_diag: a TLS connection that never comes up says why
# (client/tls_diag.c), in inventoryctl's JSON message and the library's
# status message, instead of only "no server connected within N ms":
#
#   name mismatch   --tls-server-name wrong.example: the names the
#                   certificate carries
#   unknown CA      --tls-ca of another CA: not signed by a CA in it
#   expired         a server whose certificate expired: the date
#   plain server    a tls+tcp:// URL at a plain tcp:// listener
#   IP URL          tls+tcp://127.0.0.1 against a certificate that names
#                   127.0.0.1 only as an IP address: what to pass instead,
#                   and passing it works
#   client cert     a server requiring client certificates, none given
#
# Every failing call still exits 78 (UNAVAILABLE).  Runs its own servers
# on a private PostgreSQL (tests/security/lib.sh).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh" "$@"

sec_setup
ca=$certs/ca.crt
unknown=00000000-0000-4000-8000-000000000000

sec_start_ports ip --listen "tls+tcp://127.0.0.1:@PORT1@,tcp://127.0.0.1:@PORT2@" \
	--tls-cert "$certs/ipsan.crt" --tls-key "$certs/ipsan.key"
p_ip=$port1
p_plain=$port2
sec_start_ports expired --listen "tls+tcp://127.0.0.1:@PORT1@" \
	--tls-cert "$certs/expired.crt" --tls-key "$certs/expired.key"
p_exp=$port1
sec_start_ports mutual --listen "tls+tcp://127.0.0.1:@PORT1@" \
	--tls-cert "$certs/server.crt" --tls-key "$certs/server.key" --tls-client-ca "$ca"
p_mut=$port1
sec_wait_up ip "tls+tcp://localhost:$p_ip" --ca "$ca"
sec_wait_up expired "tcp://127.0.0.1:$p_plain" # the database path works
sec_wait_up mutual "tls+tcp://127.0.0.1:$p_mut" --ca "$ca" \
	--cert "$certs/client.crt" --key "$certs/client.key"

# diag LABEL PATTERN URL [inventoryctl options]: exit 78 and a message
# that matches PATTERN (grep -E).
diag() {
	local label=$1 pattern=$2 u=$3 t0 ms
	shift 3
	t0=$(now_ms)
	expect_cli 78 "$u" --timeout 1000 "$@" get "$unknown"
	ms=$(($(now_ms) - t0))
	echo "$cli_out" | grep -q '"code":"UNAVAILABLE"' || check_failed "$label: not UNAVAILABLE: $cli_out"
	echo "$cli_out" | grep -Eq "$pattern" || check_failed "$label: the message does not say /$pattern/: $cli_out"
	figure "$label ($ms ms): $(echo "$cli_out" | sed -n 's/.*"message":"\([^"]*\)".*/\1/p')"
}
diag "name mismatch" 'TLS handshake with localhost:[0-9]+ failed: the certificate is for IP 127.0.0.1, localhost, not wrong.example' \
	"tls+tcp://localhost:$p_ip" --tls-ca "$ca" --tls-server-name wrong.example
diag "unknown CA" 'not signed by a CA in .*other-ca.crt' \
	"tls+tcp://localhost:$p_ip" --tls-ca "$certs/other-ca.crt"
diag "expired" 'certificate expired on 2020-01-01' \
	"tls+tcp://127.0.0.1:$p_exp" --tls-ca "$ca"
diag "plain server" "127.0.0.1:$p_plain is not TLS but a plain listener \\(tcp://127.0.0.1:$p_plain\\)" \
	"tls+tcp://127.0.0.1:$p_plain" --tls-ca "$ca"
diag "IP URL" 'names 127.0.0.1 only as an IP address, which this TLS library cannot match; pass --tls-server-name localhost' \
	"tls+tcp://127.0.0.1:$p_ip" --tls-ca "$ca"
diag "client certificate" "requires a client certificate \\(--tls-cert, --tls-key\\)" \
	"tls+tcp://127.0.0.1:$p_mut" --tls-ca "$ca"
# What the IP URL's message says to do works.
expect_cli 69 "tls+tcp://127.0.0.1:$p_ip" --tls-ca "$ca" --tls-server-name localhost get "$unknown"
# The library's status message says the same.
expect_lib UNAVAILABLE get "tls+tcp://127.0.0.1:$p_ip" --ca "$ca" --timeout 1000
echo "$lib_out" | grep -q 'only as an IP address' || check_failed "library: the status message does not say why: $lib_out"
# 16 threads failing at once on one handle: one diagnoses, the others do
# not wait for it (all UNAVAILABLE, nothing shared is broken: ASan).
expect_lib UNAVAILABLE batch "tls+tcp://127.0.0.1:$p_ip" --ca "$ca" --timeout 1000
# A server that is simply not there is not a TLS failure: no diagnosis
# of a handshake, the connection error instead.
p_none=$(free_port)
expect_cli 78 "tls+tcp://127.0.0.1:$p_none" --timeout 500 --tls-ca "$ca" get "$unknown"
echo "$cli_out" | grep -q 'nothing listens there' || check_failed "no server: $cli_out"

new_token unused
sec_finish
