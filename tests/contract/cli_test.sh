#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Contract: inventoryctl against the fixtures' server.
#   cli_test.sh INVENTORYCTL TESTENV
# Checks stdout (one JSON object per call) and exit codes: 0 on success,
# 64 + code on an RPC error (67 INVALID_ARGUMENT, 69 NOT_FOUND, 74 ABORTED
# with current_version and current, 78/68 for no server), 2 for usage
# errors, and --help.  `get` with several ids prints {"products":[...]} in
# the order asked (one BatchGetProducts call) or the first missing id's
# NOT_FOUND (69); --connections / INVENTORY_CONNECTIONS and --no-coalesce
# / INVENTORY_COALESCE=0 change only how the calls travel.  adjust-stock
# adds a delta (73 FAILED_PRECONDITION with the product as it is when the
# stock would go below 0); reserve prints {"products":[...]} in item order
# or the error with an "items" array (73 too little stock, 69 an unknown
# product with "current":null, 74 a set at a stale version), and changes
# nothing on failure; list pages through every product in id order and
# ends with an empty next_page_token.  No JSON tool is assumed: fields are
# matched with regular expressions tolerant of spacing (python3, where it
# exists, checks the structure).
set -uo pipefail
ctl=$1
testenv=$2
fails=0

# shellcheck disable=SC1091
. <(sed -n 's/^\(INVENTORY_[A-Z_]*\)=\(.*\)$/export \1="\2"/p' "$testenv/server.env")
server=$INVENTORY_SERVER
unset INVENTORY_SERVER

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

# run WANT_EXIT ARGS...: runs inventoryctl, leaves stdout in $out.
run() {
	local want=$1
	shift
	out=$("$ctl" "$@" 2>"$testenv/cli.err")
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		fail "inventoryctl $* exited $rc, want $want; stdout: $out; stderr: $(cat "$testenv/cli.err")"
		return 1
	fi
	return 0
}

# One JSON object on one line (and, where python3 exists, valid JSON whose
# price is a string and version an integer).
is_one_object() {
	[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] &&
		[[ "$out" =~ ^[[:space:]]*\{.*\}[[:space:]]*$ ]] || return 1
	command -v python3 >/dev/null 2>&1 || return 0
	printf '%s' "$out" | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert isinstance(o, dict)
for p in (o, o.get("current")):
    if isinstance(p, dict) and "id" in p:
        assert isinstance(p["price"], str), "price not a string"
        assert isinstance(p["version"], int), "version not a number"
        assert isinstance(p["stock"], int), "stock not a number"
if "code" in o:
    assert isinstance(o["code"], str) and isinstance(o["message"], str)
'
}
# json_str KEY / json_num KEY: first top-level-looking value of KEY.
json_str() { printf '%s' "$out" | grep -o "\"$1\"[[:space:]]*:[[:space:]]*\"[^\"]*\"" | head -n 1 | sed 's/.*:[[:space:]]*"\(.*\)"/\1/'; }
json_num() { printf '%s' "$out" | grep -o "\"$1\"[[:space:]]*:[[:space:]]*-\?[0-9]\+" | head -n 1 | sed 's/.*:[[:space:]]*//'; }
expect() { # expect WHAT GOT WANT
	if [ "$2" != "$3" ]; then fail "$1: got '$2', want '$3' (stdout: $out)"; else ok "$1"; fi
}

# --- help and usage errors ---------------------------------------------
if run 0 --help; then
	[[ "$out" == *get* && "$out" == *create* && "$out" == *update-stock* ]] &&
		ok "--help lists the commands" || fail "--help text: $out"
	[[ "$out" == *adjust-stock* && "$out" == *"reserve ITEM"* && "$out" == *"list [--page-size"* ]] &&
		ok "--help lists adjust-stock, reserve, list" || fail "--help text: $out"
	[[ "$out" == *--connections* && "$out" == *--no-coalesce* && "$out" == *"ID [ID...]"* ]] &&
		ok "--help lists --connections, --no-coalesce, get ID [ID...]" || fail "--help text: $out"
fi
run 2 && ok "no command: exit 2"
run 2 --server "$server" frobnicate && ok "unknown command: exit 2"
run 2 --server "$server" get && ok "get without ID: exit 2"
run 2 --server "$server" create --name x --stock 1 && ok "create without --price: exit 2"
run 2 --server "$server" create --name x --stock many --price 1 && ok "non-numeric --stock: exit 2"
run 2 --server "$server" update-stock 00000000-0000-0000-0000-000000000000 --stock 1 &&
	ok "update-stock without --version: exit 2"
run 2 --bogus && ok "unknown option: exit 2"
run 2 --server "$server" --timeout -5 get 00000000-0000-0000-0000-000000000000 && ok "negative timeout: exit 2"
run 2 --server "$server" --connections 0 get 00000000-0000-0000-0000-000000000000 && ok "--connections 0: exit 2"
INVENTORY_CONNECTIONS=lots run 2 --server "$server" get 00000000-0000-0000-0000-000000000000 &&
	ok "INVENTORY_CONNECTIONS=lots: exit 2"

# --- create ---------------------------------------------------------------
if run 0 --server "$server" create --name "CLI widget" --stock 10 --price 19.90; then
	is_one_object || fail "create: not one JSON object: $out"
	id=$(json_str id)
	[[ "$id" =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] &&
		ok "create: id is a uuid" || fail "create: id '$id'"
	expect "create: name" "$(json_str name)" "CLI widget"
	expect "create: stock" "$(json_num stock)" 10
	expect "create: price is a decimal string" "$(json_str price)" 19.90
	expect "create: version is a number" "$(json_num version)" 1
	[[ "$out" == *'"created_at"'* && "$out" == *'"updated_at"'* ]] &&
		ok "create: timestamps" || fail "create: no created_at/updated_at: $out"
else
	id=00000000-0000-0000-0000-000000000000
fi

# A name that needs JSON escaping comes back intact: the JSON text holds
# it escaped (\" and \\; é as UTF-8 or \u00e9), and decoded it is the
# very name sent, on create and on a later get.
weird_name='Quote " back\slash Café'
# name_is WHAT: the "name" of $out, decoded, equals $weird_name.
name_is() {
	local esc_lit='"name"[[:space:]]*:[[:space:]]*"Quote \\" back\\\\slash Caf(é|\\u00[eE]9)"'
	if [[ ! "$out" =~ $esc_lit ]]; then
		fail "$1: the JSON text does not hold the escaped name (stdout: $out)"
		return
	fi
	if command -v python3 >/dev/null 2>&1; then
		local got
		got=$(printf '%s' "$out" | python3 -c 'import json, sys; sys.stdout.write(json.load(sys.stdin)["name"])') ||
			{ fail "$1: not valid JSON: $out"; return; }
		expect "$1 (decoded)" "$got" "$weird_name"
	else
		ok "$1 (escaped form; no python3 to decode)"
	fi
}
id2=$id
if run 0 --server "$server" create --name "$weird_name" --stock 1 --price 0.10; then
	is_one_object || fail "escaped name: not valid JSON: $out"
	expect "create: price 0.10" "$(json_str price)" 0.10
	name_is "create: escaped name"
	id2=$(json_str id)
	if run 0 --server "$server" get "$id2"; then
		name_is "get: escaped name"
	fi
fi

# --- get --------------------------------------------------------------------
if run 0 --server "$server" get "$id"; then
	is_one_object || fail "get: not one JSON object: $out"
	expect "get: id" "$(json_str id)" "$id"
	expect "get: version" "$(json_num version)" 1
fi
# INVENTORY_SERVER instead of --server.
if INVENTORY_SERVER=$server run 0 get "$id"; then
	expect "get via INVENTORY_SERVER" "$(json_str id)" "$id"
fi
# The tcp listener too.
if run 0 --server "$INVENTORY_SERVER_TCP" get "$id"; then
	expect "get over tcp" "$(json_str id)" "$id"
fi

# --- get with several ids: one BatchGetProducts ------------------------------
# products_ids: the ids of {"products":[...]} in order, space-separated
# (python3 when there, else the id fields in order of appearance).
products_ids() {
	if command -v python3 >/dev/null 2>&1; then
		printf '%s' "$out" | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert list(o) == ["products"], "not {\"products\":[...]}"
for p in o["products"]:
    assert isinstance(p["price"], str) and isinstance(p["version"], int)
print(" ".join(p["id"] for p in o["products"]))
'
	else
		printf '%s' "$out" | grep -o '"id":"[^"]*"' | sed 's/"id":"\(.*\)"/\1/' | tr '\n' ' ' | sed 's/ $//'
	fi
}
if run 0 --server "$server" get "$id2" "$id" "$id2"; then
	[ "$(printf '%s\n' "$out" | wc -l)" -eq 1 ] || fail "batch get: not one line: $out"
	expect "batch get: products in request order" "$(products_ids)" "$id2 $id $id2"
fi
for how in "--no-coalesce" "--connections 3" "--connections=1 --no-coalesce"; do
	# shellcheck disable=SC2086
	if run 0 --server "$server" $how get "$id" "$id2"; then
		expect "batch get with $how" "$(products_ids)" "$id $id2"
	fi
done
if INVENTORY_COALESCE=0 INVENTORY_CONNECTIONS=4 run 0 --server "$server" get "$id"; then
	expect "INVENTORY_COALESCE=0 INVENTORY_CONNECTIONS=4: one id prints the product" "$(json_str id)" "$id"
fi
missing=$(cat /proc/sys/kernel/random/uuid)
missing2=$(cat /proc/sys/kernel/random/uuid)
if run 69 --server "$server" get "$id" "$missing" "$missing2"; then
	is_one_object || fail "batch not found: not one JSON object: $out"
	expect "batch not found: code" "$(json_str code)" NOT_FOUND
	[[ "$(json_str message)" == *"$missing"* && "$(json_str message)" != *"$missing2"* ]] &&
		ok "batch not found: message names the first missing id" ||
		fail "batch not found: message '$(json_str message)' should name $missing only"
fi
if run 67 --server "$server" get "$id" not-a-uuid; then
	expect "batch bad id: code" "$(json_str code)" INVALID_ARGUMENT
fi
# 1001 ids: more than one call may carry.
mapfile -t many < <(for _ in $(seq 1 1001); do echo "$id"; done)
run 2 --server "$server" get "${many[@]}" && ok "get with 1001 ids: exit 2"
if run 0 --server "$server" get "${many[@]:0:1000}"; then
	n=$(products_ids | wc -w)
	expect "get with 1000 ids" "$n" 1000
fi

# --- update-stock -----------------------------------------------------------
if run 0 --server "$server" update-stock "$id" --stock 7 --version 1; then
	expect "update: version +1" "$(json_num version)" 2
	expect "update: stock" "$(json_num stock)" 7
fi
# Stale version: 74, ABORTED, with the latest version and product.
if run 74 --server "$server" update-stock "$id" --stock 1 --version 1; then
	is_one_object || fail "conflict: not one JSON object: $out"
	expect "conflict: code" "$(json_str code)" ABORTED
	expect "conflict: current_version" "$(json_num current_version)" 2
	[[ "$out" =~ \"current\"[[:space:]]*:[[:space:]]*\{ ]] &&
		ok "conflict: current product" || fail "conflict: no current object: $out"
	[[ "$out" == *"\"message\""* ]] && ok "conflict: message" || fail "conflict: no message"
fi

# --- adjust-stock -------------------------------------------------------------
# $id is at stock 7, version 2 here.
if run 0 --server "$server" adjust-stock "$id" --delta -3; then
	is_one_object || fail "adjust: not one JSON object: $out"
	expect "adjust: stock 7 - 3" "$(json_num stock)" 4
	expect "adjust: version +1" "$(json_num version)" 3
fi
if run 0 --server "$server" adjust-stock "$id" --delta 6 --version 3; then
	expect "adjust at version 3: stock 4 + 6" "$(json_num stock)" 10
	expect "adjust at version 3: version" "$(json_num version)" 4
fi
if run 73 --server "$server" adjust-stock "$id" --delta -11; then
	is_one_object || fail "adjust too far: not one JSON object: $out"
	expect "adjust too far: code" "$(json_str code)" FAILED_PRECONDITION
	[[ "$out" =~ \"current\"[[:space:]]*:[[:space:]]*\{ ]] &&
		ok "adjust too far: current product" || fail "adjust too far: no current object: $out"
	expect "adjust too far: current stock unchanged" \
		"$(printf '%s' "$out" | grep -o '"stock":[0-9]*' | head -n 1)" '"stock":10'
fi
if run 74 --server "$server" adjust-stock "$id" --delta 1 --version 3; then
	expect "adjust at a stale version: code" "$(json_str code)" ABORTED
	expect "adjust at a stale version: current_version" "$(json_num current_version)" 4
fi
run 67 --server "$server" adjust-stock "$id" --delta 0 && ok "adjust by 0: 67"
run 69 --server "$server" adjust-stock "$(cat /proc/sys/kernel/random/uuid)" --delta 1 &&
	ok "adjust of unknown product: 69"
run 2 --server "$server" adjust-stock "$id" && ok "adjust-stock without --delta: exit 2"
rid="cli-adjust-$$-$RANDOM"
if run 0 --server "$server" adjust-stock "$id" --delta -1 --request-id "$rid"; then
	expect "adjust with --request-id: stock" "$(json_num stock)" 9
	# The same request id again: the first outcome, not a second change.
	if run 0 --server "$server" adjust-stock "$id" --delta -1 --request-id "$rid"; then
		expect "adjust repeated by request id: applied once" "$(json_num stock)" 9
	fi
fi
# $id is at stock 9, version 5 here.

# --- reserve ------------------------------------------------------------------
# items_check: the "items" array of $out as "index:id:code:current-stock"
# (current-stock "null" when current is null), space-separated.
items_check() {
	printf '%s' "$out" | python3 -c '
import json, sys
o = json.load(sys.stdin)
assert isinstance(o["code"], str) and isinstance(o["message"], str)
out = []
for it in o["items"]:
    assert set(it) == {"index", "id", "code", "message", "current"}, it
    assert isinstance(it["index"], int) and isinstance(it["message"], str)
    cur = it["current"]
    out.append("%d:%s:%s:%s" % (it["index"], it["id"], it["code"],
        "null" if cur is None else cur["stock"]))
print(" ".join(out))
'
}
# product_stock ID: the stock of ID as the server has it now.
product_stock() {
	"$ctl" --server "$server" get "$1" | grep -o '"stock":[0-9]*' | head -n 1 | sed 's/.*://'
}
id3=
if run 0 --server "$server" create --name "CLI reserve" --stock 2 --price 1.00; then
	id3=$(json_str id)
fi
if [ -n "$id3" ] && run 0 --server "$server" reserve "$id:4" "$id3:1"; then
	expect "reserve: products in item order" "$(products_ids)" "$id $id3"
	expect "reserve: stocks after" "$(printf '%s' "$out" | grep -o '"stock":[0-9]*' | tr '\n' ' ')" \
		'"stock":5 "stock":1 '
fi
# Too much of the second item: 73, nothing applied, items name it.
if [ -n "$id3" ] && run 73 --server "$server" reserve "$id:1" "$id3:2"; then
	is_one_object || fail "reserve too much: not one JSON object: $out"
	expect "reserve too much: code" "$(json_str code)" FAILED_PRECONDITION
	expect "reserve too much: items" "$(items_check)" "1:$id3:FAILED_PRECONDITION:1"
	expect "reserve too much: first item not applied" "$(product_stock "$id")" 5
fi
# An unknown product: 69, its current is null.
if run 69 --server "$server" reserve "$id:1" "$missing:1"; then
	expect "reserve unknown: code" "$(json_str code)" NOT_FOUND
	expect "reserve unknown: items" "$(items_check)" "1:$missing:NOT_FOUND:null"
	expect "reserve unknown: nothing applied" "$(product_stock "$id")" 5
fi
# A set at a stale version: 74, with the product as it is.
if [ -n "$id3" ] && run 74 --server "$server" reserve "$id3:1" "$id@1=50"; then
	expect "reserve stale set: code" "$(json_str code)" ABORTED
	expect "reserve stale set: items" "$(items_check)" "1:$id:ABORTED:5"
	expect "reserve stale set: nothing applied" "$(product_stock "$id3")" 1
fi
# A set at the current version applies.
ver=$("$ctl" --server "$server" get "$id" | grep -o '"version":[0-9]*' | sed 's/.*://')
if run 0 --server "$server" reserve "$id@$ver=50"; then
	expect "reserve set: stock" "$(json_num stock)" 50
	expect "reserve set: version" "$(json_num version)" $((ver + 1))
fi
run 2 --server "$server" reserve && ok "reserve without items: exit 2"
run 2 --server "$server" reserve "$id" && ok "reserve ID without :QTY: exit 2"
run 2 --server "$server" reserve "$id:0" && ok "reserve of 0 units: exit 2"
run 67 --server "$server" reserve "$id:1" "$id:1" && ok "reserve of one product twice: 67"
run 67 --server "$server" reserve "not-a-uuid:1" && ok "reserve of a bad id: 67"

# --- list -----------------------------------------------------------------------
# list_all SIZE [MAX_PAGES]: page through everything SIZE at a time (at
# most MAX_PAGES pages), each page SIZE products at most, into $listed.
# The shared database holds whatever the other tests created (thousands
# after the differential and bench tests), so the walk to the end uses
# big pages: one CLI process per page of 2 took minutes there.
list_all() {
	local size=$1 max=${2:-100000} token="" pages=0 ids="" page_ids
	while :; do
		if [ -n "$token" ]; then
			run 0 --server "$server" list --page-size "$size" --page-token "$token" || return 1
		else
			run 0 --server "$server" list --page-size "$size" || return 1
		fi
		page_ids=$(printf '%s' "$out" | SIZE=$size python3 -c '
import json, os, sys
o = json.load(sys.stdin)
assert list(o) == ["products", "next_page_token"], list(o)
assert len(o["products"]) <= int(os.environ["SIZE"])
print(" ".join(p["id"] for p in o["products"]))
') || { fail "list: bad page: $out"; return 1; }
		ids="$ids $page_ids"
		token=$(json_str next_page_token)
		pages=$((pages + 1))
		[ -n "$token" ] || break
		[ "$pages" -lt "$max" ] || break
	done
	# shellcheck disable=SC2086 # one id a line
	listed=$(printf '%s\n' $ids)
	return 0
}
# Small pages: each continues where the last ended.
if list_all 2 5; then
	sorted=$(printf '%s\n' "$listed" | LC_ALL=C sort -u)
	[ "$listed" = "$sorted" ] && [ "$(wc -l <<<"$listed")" -ge 2 ] &&
		ok "list: pages of 2 continue, ids strictly increasing" ||
		fail "list: pages of 2 out of order or repeated: $listed"
fi
# To the end: every product this test made, once; the last token empty.
if list_all 1000; then
	sorted=$(printf '%s\n' "$listed" | LC_ALL=C sort -u)
	[ "$listed" = "$sorted" ] && ok "list: ids strictly increasing, no repeats" ||
		fail "list: ids out of order or repeated"
	for want in "$id" "$id2" ${id3:+"$id3"}; do
		grep -qx "$want" <<<"$listed" && ok "list: $want listed" || fail "list: $want missing"
	done
fi
if run 0 --server "$server" list; then
	[[ "$out" =~ \"next_page_token\"[[:space:]]*:[[:space:]]*\" ]] &&
		ok "list: default page has a next_page_token field" || fail "list: $out"
fi
run 2 --server "$server" list --page-size -1 && ok "list --page-size -1: exit 2"
run 67 --server "$server" list --page-token "not a token" && ok "list with a bad token: 67"

# --- errors -----------------------------------------------------------------
if run 69 --server "$server" get "$(cat /proc/sys/kernel/random/uuid)"; then
	is_one_object || fail "not found: not one JSON object: $out"
	expect "not found: code" "$(json_str code)" NOT_FOUND
fi
if run 67 --server "$server" get not-a-uuid; then
	expect "bad id: code" "$(json_str code)" INVALID_ARGUMENT
fi
if run 67 --server "$server" create --name "bad price" --stock 1 --price -1; then
	expect "bad price: code" "$(json_str code)" INVALID_ARGUMENT
fi
run 67 --server "$server" create --name "bad stock" --stock -1 --price 1 && ok "negative stock: 67"
run 67 --server "$server" update-stock "$id" --stock 1 --version 0 && ok "version 0: 67"
run 69 --server "$server" update-stock "$(cat /proc/sys/kernel/random/uuid)" --stock 1 --version 1 &&
	ok "update of unknown product: 69"

# No server: UNAVAILABLE (78) or DEADLINE_EXCEEDED (68), quickly.
out=$("$ctl" --server "ipc://$testenv/nobody.sock" --timeout 300 get "$id" 2>/dev/null)
rc=$?
if [ "$rc" -eq 78 ] || [ "$rc" -eq 68 ]; then
	ok "no server: exit $rc"
	code=$(json_str code)
	[[ "$code" == UNAVAILABLE || "$code" == DEADLINE_EXCEEDED ]] ||
		fail "no server: code '$code'"
else
	fail "no server: exit $rc, want 78 or 68 ($out)"
fi

if [ "$fails" -ne 0 ]; then
	echo "$fails failure(s)" >&2
	exit 1
fi
echo "all CLI checks passed"
