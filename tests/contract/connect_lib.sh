#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# connect_lib.sh: what the Connect contract tests share, sourced with
# INVENTORYD TESTENV as arguments: ok/fail/die, a work folder removed on
# success, a writer's and a reader's token ($writer, $reader) in an
# --auth-file, and a private inventoryd (its own ipc:// socket, the
# fixtures' database, --max-frame $max_frame) with --http on a free port,
# up and healthy: $srv_pid, $log, $port1, $base (the service's URL prefix).
set -uo pipefail
inventoryd=$1
testenv=$2
fails=0

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
die() { echo "FAIL: $*" >&2; exit 1; }

for tool in curl jq base64 sha256sum ${connect_tools:-}; do
	command -v "$tool" >/dev/null 2>&1 || die "$tool is missing"
done
[ -f "$testenv/pg/env" ] || die "no $testenv/pg/env: the db fixture did not run"
# shellcheck disable=SC1091
. "$testenv/pg/env"

work=$(mktemp -d /tmp/inv-connect.XXXXXX)
chmod 755 "$work"
srv_pid=
cleanup() {
	if [ -n "$srv_pid" ] && kill -0 "$srv_pid" 2>/dev/null; then
		kill -KILL "$srv_pid" 2>/dev/null
		wait "$srv_pid" 2>/dev/null
	fi
	if [ "$fails" -eq 0 ]; then rm -rf "$work"; else echo "kept $work"; fi
}
trap cleanup EXIT

writer=w-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
reader=r-$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
cat >"$work/auth" <<EOF
connect-writer writer $(printf %s "$writer" | sha256sum | cut -d' ' -f1)
connect-reader reader $(printf %s "$reader" | sha256sum | cut -d' ' -f1)
EOF

url=ipc://$work/inventory.sock
log=$work/inventoryd.log
: >"$log"
# The body limit is the hard frame limit: twice --max-frame, at least
# 128 KiB (src/server.c); 256 KiB is over it.
max_frame=16384
big_body=$((256 * 1024))
# shellcheck source=../support/port.sh
. "$(dirname "${BASH_SOURCE[0]}")/../support/port.sh"
# connect_tls=1: the listener is https:// with a self-signed certificate
# for 127.0.0.1 ($work/cert.pem, which curl must be given: $cacert).
scheme=http
tls_args=()
cacert=()
if [ "${connect_tls:-0}" = 1 ]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-days 2 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
		-keyout "$work/key.pem" -out "$work/cert.pem" >"$work/openssl.log" 2>&1 ||
		{ cat "$work/openssl.log"; die "openssl could not make a certificate"; }
	scheme=https
	tls_args=(--tls-cert "$work/cert.pem" --tls-key "$work/key.pem")
	cacert=(--cacert "$work/cert.pem")
fi
start_http() {
	local offset
	offset=$(stat -c %s "$log")
	"$inventoryd" --listen "$url" --db "$INVENTORY_DB" --workers 2 \
		--auth-file "$work/auth" --max-frame "$max_frame" \
		--http "$scheme://127.0.0.1:$port1" "${tls_args[@]}" </dev/null >>"$log" 2>&1 &
	srv_pid=$!
	port_wait_started "$srv_pid" "$log" "$offset" 'listening on' 30 "$port1"
}
port_retry 5 start_http || { cat "$log"; die "inventoryd --http did not start"; }
base=$scheme://127.0.0.1:$port1/inventory.v1.InventoryService

up=0
for _ in $(seq 1 100); do
	curl -fsS "${cacert[@]}" -o /dev/null "$scheme://127.0.0.1:$port1/healthz" 2>/dev/null && { up=1; break; }
	sleep 0.1
done
[ "$up" -eq 1 ] || { cat "$log"; die "/healthz did not answer within 10 s"; }


# connect_finish WHAT: SIGTERM the server (it must exit 0), then the verdict.
connect_finish() {
	local rc=0
	kill -TERM "$srv_pid"
	wait "$srv_pid" || rc=$?
	srv_pid=
	[ "$rc" -eq 0 ] && ok "inventoryd exited 0" || fail "inventoryd exited $rc"
	if [ "$fails" -ne 0 ]; then
		echo "----- inventoryd log (last 20 lines) -----" >&2
		tail -n 20 "$log" >&2
		echo "$fails failure(s)"
		exit 1
	fi
	echo "all $1 checks passed"
}
