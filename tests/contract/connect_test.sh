#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Contract: the Connect protocol (unary) on the --http listener, with curl.
#   connect_test.sh INVENTORYD TESTENV
# A private inventoryd (its own ipc:// socket, the fixtures' database) with
# --http on a free port and --auth-file (a writer, a reader).  Over
# POST /inventory.v1.InventoryService/<Method>, checked with curl and jq:
#   JSON: CreateProduct, GetProduct, UpdateStock OK (int64 as strings,
#   lowerCamelCase names, original names accepted); a stale version is 409
#   "aborted" with an inventory.v1.ErrorDetails detail (its base64 value
#   and its debug JSON carry the current version and product); an unknown
#   id 404 "not_found"; no token 401 "unauthenticated", a reader's write
#   403 "permission_denied"; Connect-Timeout-Ms 0 is 504
#   "deadline_exceeded"; an Idempotency-Key repeated is answered from the
#   request log (applied once); a chunked body (as Node's client sends);
#   binary (application/proto) GetProduct and its bytes;
#   refusals that apply nothing: malformed JSON, an unknown field, a wrong
#   type, 2^63 as a string (400 "invalid_argument"), text/plain (415), an
#   unknown method (404), PUT (405), a body over the limit (429
#   "resource_exhausted"); every error answer application/json;
# and the protocol's unary GET (?encoding=&message=[&base64=1]) for the
# methods the .proto marks NO_SIDE_EFFECTS: GetProduct in JSON and in
# base64 binary, ListProducts, the token and Connect-Timeout-Ms headers as
# for POST, no-store and Vary: Authorization on the answer; refused: every
# other rpc of the .proto by GET (405, Allow: POST; UpdateStock applies
# nothing), bad base64, a bad %-escape, a parameter twice, no message,
# compression=gzip; inventory_connect_calls_total on /metrics counting
# those answers by method, HTTP method and code;
#   the server still serving after all of it and exiting 0 on SIGTERM.
set -uo pipefail
# shellcheck source=connect_lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/connect_lib.sh" "$@"

# call METHOD BODY [curl args...]: POST a JSON body; sets $status, $ctype
# and the answer in $work/body.
call() {
	local m=$1 body=$2 out
	shift 2
	out=$(curl -sS -o "$work/body" -w '%{http_code} %{content_type}' \
		-H 'Content-Type: application/json' -H 'Connect-Protocol-Version: 1' \
		"$@" --data-binary "$body" "$base/$m") || { status=000; ctype=; return 1; }
	status=${out%% *}
	ctype=${out#* }
}
W=(-H "Authorization: Bearer $writer")
R=(-H "Authorization: Bearer $reader")

# want WHAT STATUS JQ: the last answer has STATUS and satisfies JQ.
want() {
	local what=$1 st=$2 expr=$3
	if [ "$status" = "$st" ] && jq -e "$expr" "$work/body" >/dev/null 2>&1; then
		ok "$what: $status $(head -c 160 "$work/body")"
	else
		fail "$what: got $status '$ctype' $(head -c 400 "$work/body"); want $st and $expr"
	fi
}
# error WHAT STATUS CODE: a Connect error answer.
error() {
	local what=$1 st=$2 code=$3
	want "$what" "$st" ".code == \"$code\" and (.message | type) == \"string\""
	[[ "$ctype" == application/json* ]] || fail "$what: error Content-Type '$ctype', want application/json"
}

# --- JSON calls ------------------------------------------------------------
call CreateProduct '{"name":"connect widget","stock":"10","price":"19.90"}' "${W[@]}"
want "CreateProduct" 200 '.product.version == "1" and .product.stock == "10" and (.product.id | length) == 36 and (.product.createdAtUs | type) == "string"'
[[ "$ctype" == application/json* ]] || fail "CreateProduct Content-Type '$ctype'"
id=$(jq -r .product.id "$work/body")

call GetProduct "{\"id\":\"$id\"}" "${R[@]}"
want "GetProduct (reader)" 200 ".product.id == \"$id\" and .product.name == \"connect widget\" and .product.price == \"19.90\""

# Original field names and a number for an int64 are accepted too.
call UpdateStock "{\"id\":\"$id\",\"expected_version\":1,\"stock\":7}" "${W[@]}"
want "UpdateStock (proto names, numbers)" 200 '.product.version == "2" and .product.stock == "7"'

call UpdateStock "{\"id\":\"$id\",\"expectedVersion\":\"1\",\"stock\":\"3\"}" "${W[@]}"
error "UpdateStock with a stale version" 409 aborted
want "conflict detail" 409 '.details[0].type == "inventory.v1.ErrorDetails" and .details[0].debug.currentVersion == "2" and .details[0].debug.current.stock == "7"'
value=$(jq -r '.details[0].value' "$work/body")
# The value is the binary ErrorDetails: field 1 (current_version, varint)
# first, 0x08 0x02, then the product.  base64 without padding: pad it.
while [ $(( ${#value} % 4 )) -ne 0 ]; do value="$value="; done
head2=$(printf %s "$value" | base64 -d 2>/dev/null | head -c 2 | od -An -tx1 | tr -d ' ')
[ "$head2" = "0802" ] && ok "detail value is the binary ErrorDetails (current_version 2)" ||
	fail "detail value '$value' does not start with current_version 2 (got $head2)"

call GetProduct '{"id":"00000000-0000-4000-8000-000000000000"}' "${R[@]}"
error "GetProduct of an unknown id" 404 not_found

call GetProduct "{\"id\":\"$id\"}"
error "no token" 401 unauthenticated
call UpdateStock "{\"id\":\"$id\",\"expectedVersion\":\"2\",\"stock\":\"1\"}" "${R[@]}"
error "a reader's write" 403 permission_denied

call GetProduct "{\"id\":\"$id\"}" "${R[@]}" -H 'Connect-Timeout-Ms: 0'
error "Connect-Timeout-Ms 0" 504 deadline_exceeded
call GetProduct "{\"id\":\"$id\"}" "${R[@]}" -H 'Connect-Timeout-Ms: 5000'
want "Connect-Timeout-Ms 5000" 200 '.product.version == "2"'
call GetProduct "{\"id\":\"$id\"}" "${R[@]}" -H 'Connect-Timeout-Ms: soon'
error "Connect-Timeout-Ms not digits" 400 invalid_argument

# An Idempotency-Key is the request id: the repeat is answered from the
# request log with the first outcome, and the stock moves once.
key=connect-test-$RANDOM$RANDOM
call AdjustStock "{\"id\":\"$id\",\"delta\":\"5\"}" "${W[@]}" -H "Idempotency-Key: $key"
want "AdjustStock +5 (Idempotency-Key)" 200 '.product.stock == "12" and .product.version == "3"'
call AdjustStock "{\"id\":\"$id\",\"delta\":\"5\"}" "${W[@]}" -H "Idempotency-Key: $key"
want "AdjustStock +5 again, same key" 200 '.product.stock == "12" and .product.version == "3"'
call GetProduct "{\"id\":\"$id\"}" "${R[@]}"
want "applied once" 200 '.product.stock == "12" and .product.version == "3"'

# A chunked body, as Node's Connect client sends every request.
call GetProduct "{\"id\":\"$id\"}" "${R[@]}" -H 'Transfer-Encoding: chunked'
want "chunked body" 200 ".product.id == \"$id\""

# 40 calls at once from one address (curl --parallel: one connection
# each, as HTTP/1.1 clients do): all served, under the per-address limit
# (--http-max-connections-per-peer 64; it was 16 and refused Node's client
# at 32 calls in flight).
args=()
for i in $(seq 1 40); do
	args+=(--next -sS -o /dev/null -w '%{http_code}\n' -H 'Content-Type: application/json'
		"${R[@]}" --data-binary "{\"id\":\"$id\"}" "$base/GetProduct")
done
codes=$(curl -sS --parallel --parallel-immediate --parallel-max 40 "${args[@]:1}" | sort | uniq -c | tr -s ' ' | tr '\n' ';')
[ "$codes" = " 40 200;" ] && ok "40 calls at once: all 200" || fail "40 calls at once: $codes"

call ListProducts '{"pageSize":2}' "${R[@]}"
want "ListProducts" 200 '(.products | length) >= 1 and (.products | length) <= 2'

# --- binary ----------------------------------------------------------------
# GetProductRequest{id}: field 1, length-delimited (0x0a), 36 bytes (0x24).
{ printf '\x0a\x24'; printf %s "$id"; } >"$work/get.bin"
out=$(curl -sS -o "$work/body.bin" -w '%{http_code} %{content_type}' \
	-H 'Content-Type: application/proto' -H 'Connect-Protocol-Version: 1' "${R[@]}" \
	--data-binary @"$work/get.bin" "$base/GetProduct")
if [ "${out%% *}" = 200 ] && [ "${out#* }" = application/proto ] && grep -q "$id" "$work/body.bin" &&
	[ "$(head -c 1 "$work/body.bin" | od -An -tx1 | tr -d ' ')" = 0a ]; then
	ok "binary GetProduct: $out, $(wc -c <"$work/body.bin") bytes"
else
	fail "binary GetProduct: $out, $(od -An -c "$work/body.bin" | head -3)"
fi
# A binary call's error is JSON all the same.
printf '\x0a\x03abc' >"$work/bad.bin"
out=$(curl -sS -o "$work/body" -w '%{http_code} %{content_type}' \
	-H 'Content-Type: application/proto' "${R[@]}" --data-binary @"$work/bad.bin" "$base/GetProduct")
status=${out%% *} ctype=${out#* }
error "binary GetProduct of a bad UUID" 400 invalid_argument

# --- refusals: nothing applied ---------------------------------------------
call UpdateStock "{\"id\":\"$id\",\"expectedVersion\":\"3\"," "${W[@]}"
error "malformed JSON" 400 invalid_argument
call UpdateStock "{\"id\":\"$id\",\"expectedVersion\":\"3\",\"stock\":\"1\",\"colour\":\"red\"}" "${W[@]}"
error "unknown field" 400 invalid_argument
call UpdateStock "{\"id\":\"$id\",\"expectedVersion\":true,\"stock\":\"1\"}" "${W[@]}"
error "wrong type" 400 invalid_argument
call UpdateStock "{\"id\":\"$id\",\"expectedVersion\":\"9223372036854775808\",\"stock\":\"1\"}" "${W[@]}"
error "2^63 as a string" 400 invalid_argument
call UpdateStock '[]' "${W[@]}"
error "a JSON array" 400 invalid_argument
out=$(curl -sS -o "$work/body" -w '%{http_code} %{content_type}' -H 'Content-Type: text/plain' \
	"${R[@]}" --data-binary "{\"id\":\"$id\"}" "$base/GetProduct")
status=${out%% *} ctype=${out#* }
error "text/plain" 415 unimplemented
call NoSuchMethod '{}' "${R[@]}"
[ "$status" = 404 ] && ok "unknown method: 404" || fail "unknown method: $status $(cat "$work/body")"
out=$(curl -sS -o /dev/null -w '%{http_code}' -X PUT "$base/GetProduct")
[ "$out" = 405 ] && ok "PUT on a Connect path: 405" || fail "PUT on a Connect path: $out"
head -c "$big_body" /dev/zero | tr '\0' 'x' >"$work/big"
out=$(curl -sS -o "$work/body" -w '%{http_code} %{content_type}' \
	-H 'Content-Type: application/json' "${W[@]}" --data-binary @"$work/big" "$base/CreateProduct")
status=${out%% *} ctype=${out#* }
error "a body over the limit" 429 resource_exhausted
call GetProduct "{\"id\":\"$id\"}" "${R[@]}"
want "nothing applied by the refusals" 200 '.product.stock == "12" and .product.version == "3"'

# --- GET (Connect's unary-get) ----------------------------------------------
# get METHOD QUERY [curl args...]: GET METHOD?QUERY (sent as written);
# sets $status, $ctype, the answer in $work/body, its headers in
# $work/headers.
get() {
	local m=$1 q=$2 out
	shift 2
	out=$(curl -sS -o "$work/body" -D "$work/headers" -w '%{http_code} %{content_type}' \
		"$@" "$base/$m?$q") || { status=000; ctype=; return 1; }
	status=${out%% *}
	ctype=${out#* }
}
# urlenc TEXT: TEXT percent-encoded for a query value (jq's @uri).
urlenc() { jq -rn --arg v "$1" '$v | @uri'; }
# b64url FILE: FILE's bytes in URL-safe base64 without padding.
b64url() { base64 -w0 <"$1" | tr '+/' '-_' | tr -d '='; }

get GetProduct "connect=v1&encoding=json&message=$(urlenc "{\"id\":\"$id\"}")" "${R[@]}"
want "GET GetProduct (JSON)" 200 ".product.id == \"$id\" and .product.stock == \"12\" and .product.version == \"3\""
grep -qi '^Cache-Control: no-store' "$work/headers" && grep -qi '^Vary: Authorization' "$work/headers" &&
	ok "GET answer: Cache-Control no-store, Vary Authorization" ||
	fail "GET answer headers: $(tr -d '\r' <"$work/headers" | tr '\n' '|')"
get GetProduct "encoding=json&message=$(urlenc "{\"id\":\"$id\"}")"
error "GET without a token" 401 unauthenticated
get GetProduct "encoding=json&message=$(urlenc "{\"id\":\"$id\"}")" "${R[@]}" -H 'Connect-Timeout-Ms: 0'
error "GET with Connect-Timeout-Ms 0" 504 deadline_exceeded

# The binary GetProductRequest of the binary test above, URL-safe base64.
out=$(curl -sS -o "$work/body.bin" -w '%{http_code} %{content_type}' "${R[@]}" \
	"$base/GetProduct?encoding=proto&base64=1&connect=v1&message=$(b64url "$work/get.bin")")
if [ "${out%% *}" = 200 ] && [ "${out#* }" = application/proto ] && grep -q "$id" "$work/body.bin"; then
	ok "GET GetProduct (base64 proto): $out, $(wc -c <"$work/body.bin") bytes"
else
	fail "GET GetProduct (base64 proto): $out, $(od -An -c "$work/body.bin" | head -3)"
fi
# Without base64=1 the message is the bytes themselves, %-escaped.
raw=$(od -An -tx1 -v "$work/get.bin" | tr -d ' \n' | sed 's/../%&/g')
out=$(curl -sS -o "$work/body.bin" -w '%{http_code}' "${R[@]}" "$base/GetProduct?encoding=proto&message=$raw")
[ "$out" = 200 ] && grep -q "$id" "$work/body.bin" && ok "GET GetProduct (%-escaped proto): 200" ||
	fail "GET GetProduct (%-escaped proto): $out"

get ListProducts "encoding=json&message=$(urlenc '{"pageSize":2}')" "${R[@]}"
want "GET ListProducts" 200 '(.products | length) >= 1 and (.products | length) <= 2'

get UpdateStock "encoding=json&message=$(urlenc "{\"id\":\"$id\",\"expectedVersion\":\"3\",\"stock\":\"1\"}")" "${W[@]}"
error "GET UpdateStock" 405 unimplemented
grep -qi '^Allow: POST' "$work/headers" && ok "GET UpdateStock: Allow: POST" ||
	fail "GET UpdateStock: no Allow: POST in $(tr -d '\r' <"$work/headers" | tr '\n' '|')"
get GetProduct "encoding=proto&base64=1&message=not*base64" "${R[@]}"
error "GET with bad base64" 400 invalid_argument
get GetProduct "encoding=json&message=%7B%zz%7D" "${R[@]}"
error "GET with a bad %-escape" 400 invalid_argument
get GetProduct "encoding=json&message=%7B%7D&message=%7B%7D" "${R[@]}"
error "GET with message twice" 400 invalid_argument
get GetProduct "encoding=json" "${R[@]}"
error "GET without a message" 400 invalid_argument
get GetProduct "encoding=xml&message=%7B%7D" "${R[@]}"
error "GET with encoding=xml" 415 unimplemented
get GetProduct "encoding=json&compression=gzip&message=$(urlenc "{\"id\":\"$id\"}")" "${R[@]}"
error "GET with compression=gzip" 501 unimplemented
call GetProduct "{\"id\":\"$id\"}" "${R[@]}"
want "nothing applied by GET" 200 '.product.stock == "12" and .product.version == "3"'

# Every rpc of the .proto by GET: those marked NO_SIDE_EFFECTS are served
# (the message {} may be refused as invalid, never as 405), the others are
# 405.  This keeps connect.c's list of GET methods the .proto's.
proto=$(dirname "${BASH_SOURCE[0]}")/../../proto/inventory/v1/service.proto
rpcs=$(awk '/^ *rpc /{ if (m != "") print m, r; m=$2; sub(/\(.*/, "", m); r="post" }
	/NO_SIDE_EFFECTS/{ r="get" } /^}/{ if (m != "") print m, r; m="" }' "$proto")
[ "$(printf '%s\n' "$rpcs" | grep -c .)" -ge 7 ] || fail "read no rpcs from $proto: '$rpcs'"
while read -r m kind; do
	get "$m" "encoding=json&message=%7B%7D" "${W[@]}"
	if [ "$kind" = get ] && [ "$status" != 405 ]; then ok "$m by GET (NO_SIDE_EFFECTS): $status"
	elif [ "$kind" = post ] && [ "$status" = 405 ]; then ok "$m by GET (side effects): 405"
	else fail "$m ($kind in the .proto) by GET: $status $(head -c 200 "$work/body")"; fi
done <<<"$rpcs"

# --- metrics ----------------------------------------------------------------
# inventory_connect_calls_total counts this server's Connect answers by
# method, HTTP method and code (a private server: from 0).
curl -fsS "http://127.0.0.1:$port1/metrics" >"$work/metrics" || fail "scrape /metrics"
series() { # series METHOD HTTP_METHOD CODE WANT
	local s="inventory_connect_calls_total{method=\"$1\",http_method=\"$2\",code=\"$3\"}" v
	v=$(awk -v s="$s" '$1 == s { v = $2 } END { print v + 0 }' "$work/metrics")
	[ "$v" = "$4" ] && ok "$s $v" || fail "$s is $v, want $4"
}
series GetProduct GET OK 3
series GetProduct GET UNAUTHENTICATED 1
series GetProduct GET DEADLINE_EXCEEDED 1
series GetProduct GET INVALID_ARGUMENT 5
series GetProduct GET UNIMPLEMENTED 2
series UpdateStock GET UNIMPLEMENTED 2
series ListProducts GET OK 2
series ListProducts POST OK 1
series GetProduct POST UNIMPLEMENTED 1
series unknown POST UNIMPLEMENTED 1
series AdjustStock POST OK 2
grep -q '^# TYPE inventory_connect_calls_total counter$' "$work/metrics" &&
	ok "inventory_connect_calls_total is a counter" || fail "no TYPE line for inventory_connect_calls_total"

connect_finish connect
