#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# contract.connect_https: the --http listener on https:// (--tls-cert and
# --tls-key, the same flags as a tls+tcp:// RPC listener), with curl:
# /healthz and /metrics, a Connect call by POST (JSON) and by GET, and
# what a caller without the certificate or speaking plain HTTP gets.
# Arguments: INVENTORYD TESTENV.
connect_tools=openssl
connect_tls=1
# shellcheck source=connect_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/connect_lib.sh"
ok "/healthz over https with the server's certificate"

# A caller that does not trust the certificate is refused by TLS, and a
# plain HTTP request at the https port gets no HTTP answer.
if curl -sS -o /dev/null "https://127.0.0.1:$port1/healthz" 2>"$work/err"; then
	fail "curl without --cacert was answered"
else
	ok "an untrusted certificate is refused: $(head -c 120 "$work/err")"
fi
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port1/healthz" || true)
[ "$code" != 200 ] && ok "plain http at the https port: no answer ($code)" ||
	fail "plain http at the https port was answered 200"

curl -fsS "${cacert[@]}" "https://127.0.0.1:$port1/metrics" -o "$work/metrics" &&
	grep -q '^inventory_build_info{' "$work/metrics" && ok "/metrics over https" ||
	fail "/metrics over https: $(head -c 200 "$work/metrics" 2>/dev/null)"

# CreateProduct by POST (JSON), then GetProduct by GET: the same answers
# as over http://.
status=$(curl -sS "${cacert[@]}" -o "$work/body" -w '%{http_code}' \
	-H 'Content-Type: application/json' -H "Authorization: Bearer $writer" \
	-d '{"name":"https product","stock":3,"price":"1.50"}' "$base/CreateProduct")
id=$(jq -r '.product.id // empty' "$work/body" 2>/dev/null)
[ "$status" = 200 ] && [ -n "$id" ] && ok "CreateProduct by POST over https: $id" ||
	fail "CreateProduct over https: $status $(head -c 200 "$work/body")"
msg=$(printf '{"id":"%s"}' "$id" | jq -sRr @uri)
status=$(curl -sS "${cacert[@]}" -o "$work/body" -w '%{http_code}' \
	-H "Authorization: Bearer $reader" \
	"$base/GetProduct?connect=v1&encoding=json&message=$msg")
[ "$status" = 200 ] && [ "$(jq -r '.product.stock' "$work/body")" = 3 ] &&
	ok "GetProduct by GET over https" ||
	fail "GetProduct by GET over https: $status $(head -c 200 "$work/body")"
status=$(curl -sS "${cacert[@]}" -o "$work/body" -w '%{http_code}' \
	-H 'Content-Type: application/json' -d "{\"id\":\"$id\"}" "$base/GetProduct")
[ "$status" = 401 ] && [ "$(jq -r .code "$work/body")" = unauthenticated ] &&
	ok "no token over https: 401 unauthenticated" ||
	fail "no token over https: $status $(head -c 200 "$work/body")"

connect_finish connect_https
