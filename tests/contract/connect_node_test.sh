#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Contract: a Connect client nobody here wrote (@connectrpc/connect-node
# 2.1.2 from npm, Node 20) against inventoryd's --http listener, with the
# service read from the .proto at run time (protoc --descriptor_set_out):
# binary and JSON, then the reads with useHttpGet (checked to have come as
# GET by the server's inventory_connect_calls_total); see
# connect_node/client.mjs for the client's checks.
#   connect_node_test.sh INVENTORYD TESTENV
# Exits 77 (ctest: skipped, with the reason) when there is no Node >= 20
# with npm (connect-node 2.1 needs it; Debian 12's nodejs is 18) or npm's
# registry cannot be reached; protoc missing is a failure.
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ] || ! command -v npm >/dev/null 2>&1; then
	echo "SKIP: @connectrpc/connect-node 2.1 needs Node >= 20 with npm (found node major $node_major, npm $(command -v npm || echo none))"
	exit 77
fi
connect_tools="protoc"
# shellcheck source=connect_lib.sh
. "$here/connect_lib.sh" "$@"

cp "$here/connect_node/package.json" "$here/connect_node/package-lock.json" \
	"$here/connect_node/client.mjs" "$work/"
if ! (cd "$work" && timeout 180 npm ci --no-audit --no-fund --loglevel=error) >"$work/npm.log" 2>&1; then
	if grep -Eq 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network' "$work/npm.log"; then
		echo "SKIP: npm's registry cannot be reached: $(grep -m1 -E 'ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ETIMEDOUT|network' "$work/npm.log")"
		kill -TERM "$srv_pid"; wait "$srv_pid"; srv_pid=
		exit 77
	fi
	cat "$work/npm.log" >&2
	die "npm ci failed"
fi
protoc -I"$root/proto" --include_imports --descriptor_set_out="$work/service.pb" \
	"$root/proto/inventory/v1/service.proto" || die "protoc failed"

if (cd "$work" && timeout 60 node client.mjs "$work/service.pb" "http://127.0.0.1:$port1" "$writer" "$reader"); then
	ok "connect-node client: every check"
else
	fail "connect-node client"
fi
# The useHttpGet transport's reads went out as GET (the client cannot tell
# which it used; the server's counter can): 2 codecs, each GetProduct,
# BatchGetProducts, ListProducts OK and a GetProduct without a token.
curl -fsS "http://127.0.0.1:$port1/metrics" >"$work/metrics" || fail "scrape /metrics"
for want in 'GetProduct GET OK 2' 'BatchGetProducts GET OK 2' 'ListProducts GET OK 2' \
	'GetProduct GET UNAUTHENTICATED 2' 'CreateProduct POST OK 4'; do
	read -r m hm code n <<<"$want"
	s="inventory_connect_calls_total{method=\"$m\",http_method=\"$hm\",code=\"$code\"}"
	v=$(awk -v s="$s" '$1 == s { v = $2 } END { print v + 0 }' "$work/metrics")
	[ "$v" = "$n" ] && ok "$s $v" || fail "$s is $v, want $n"
done
connect_finish connect-node
