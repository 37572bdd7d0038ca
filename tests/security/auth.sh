#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# security.auth: callers, roles, the audit trail.
#
# One inventoryd on ipc:// and tcp:// with --auth-file (a writer, a
# reader) and --audit-log.  Through the library (single calls and
# coalesced batch frames, whose token is the frame's) and inventoryctl:
# no token and an unknown token are UNAUTHENTICATED (exit 80), a reader's
# write is PERMISSION_DENIED (exit 71) for every write RPC, a reader's
# reads and a writer's writes are OK.  After a write: no audit line in
# the main log, the record in the JSON audit file, products.updated_by
# and request_log.caller name the caller.  SIGHUP with a good file lets a
# new caller in; with a bad one the error is logged and the old callers
# stay in; a bad file at start is refused with exit 1.  No token appears
# in any file the test wrote.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=lib.sh
. "$here/lib.sh" "$@"

sec_setup
new_token writer
new_token reader
new_token stranger
new_token carol
auth=$work/auth
audit_file=$work/audit.jsonl
cat >"$auth" <<EOF
# callers of the security test: NAME ROLE SHA256HEX
sec-writer writer $(hash_of writer)

sec-reader   reader   $(hash_of reader)   # trailing comment
EOF

u=ipc://$work/inventory.sock
sec_start_ports auth --listen "$u,tcp://127.0.0.1:@PORT1@" --auth-file "$auth" --audit-log "$audit_file"
p_tcp=$port1
tcp=tcp://127.0.0.1:$p_tcp
W=(--token-file "$work/tokens/writer")
R=(--token-file "$work/tokens/reader")
S=(--token-file "$work/tokens/stranger")
sec_wait_up auth "$u" "${W[@]}"
grep -q 'auth: 2 caller' "$work/auth.log" || check_failed "no 'auth: 2 caller(s) loaded' line at start"

# --- through the library ---------------------------------------------------
expect_lib OK create "$u" "${W[@]}"
id=$(echo "$lib_out" | sed -n 's/^id=//p')
[ -n "$id" ] || fail "the writer's create printed no id: $lib_out"
expect_lib UNAUTHENTICATED get "$u" --id "$id"
expect_lib UNAUTHENTICATED get "$u" "${S[@]}" --id "$id"
expect_lib UNAUTHENTICATED create "$u" "${S[@]}"
expect_lib PERMISSION_DENIED create "$u" "${R[@]}"
expect_lib PERMISSION_DENIED update "$u" "${R[@]}" --id "$id"
expect_lib OK get "$u" "${R[@]}" --id "$id"
expect_lib OK update "$u" "${W[@]}" --id "$id"
expect_lib OK get "$tcp" "${R[@]}" --id "$id"
# Batch frames: 16 calls coalesced, one token on the frame.
expect_lib OK batch "$u" "${W[@]}"
expect_lib PERMISSION_DENIED batch "$u" "${R[@]}"
expect_lib OK rbatch "$u" "${R[@]}" --id "$id"
expect_lib UNAUTHENTICATED rbatch "$u" --id "$id"
expect_lib UNAUTHENTICATED batch "$u" "${S[@]}"

# --- through inventoryctl --------------------------------------------------
CW=(--token-file "$work/tokens/writer")
CR=(--token-file "$work/tokens/reader")
expect_cli 80 "$u" get "$id"
echo "$cli_out" | grep -q '"code":"UNAUTHENTICATED"' || check_failed "no token: inventoryctl printed $cli_out"
expect_cli 80 "$u" --token-file "$work/tokens/stranger" get "$id"
expect_cli 0 "$u" "${CR[@]}" get "$id"
expect_cli 0 "$u" "${CR[@]}" list --page-size 5
expect_cli 71 "$u" "${CR[@]}" create --name denied --stock 1 --price 1.00
echo "$cli_out" | grep -q '"code":"PERMISSION_DENIED"' || check_failed "reader create: inventoryctl printed $cli_out"
expect_cli 71 "$u" "${CR[@]}" update-stock "$id" --stock 5 --version 1
expect_cli 71 "$u" "${CR[@]}" adjust-stock "$id" --delta 1
expect_cli 71 "$u" "${CR[@]}" reserve "$id:1"
# INVENTORY_TOKEN does what --token-file does.
rc=0
out=$(INVENTORY_TOKEN=$(cat "$work/tokens/reader") "$ctl" --server "$u" get "$id" 2>&1) || rc=$?
echo "$out" >>"$work/client.log"
[ "$rc" -eq 0 ] || check_failed "inventoryctl with INVENTORY_TOKEN (reader) get: exit $rc: $out"
# The token never shows, even in a usage error or --help.
"$ctl" --token-file "$work/tokens/writer" --bogus >>"$work/client.log" 2>&1 || true
"$ctl" --help >>"$work/client.log" 2>&1 || true

# --- a write and its trail --------------------------------------------------
rid=sec-audit-$RANDOM$RANDOM
expect_cli 0 "$u" "${CW[@]}" adjust-stock "$id" --delta 5 --request-id "$rid"
ver=$(echo "$cli_out" | sed -n 's/.*"version":\([0-9]*\).*/\1/p')
stock=$(echo "$cli_out" | sed -n 's/.*"stock":\([0-9]*\).*/\1/p')
[ -n "$ver" ] && [ -n "$stock" ] || fail "adjust-stock printed no version/stock: $cli_out"
want="audit caller=sec-writer method=AdjustStock product=$id version=$((ver - 1))->$ver stock=$((stock - 5))->$stock request_id=$rid"
sleep 0.2
# Audit records go to their sink (here --audit-log), not to the main log
# (--audit-in-log would put them there too).
if grep -qF "$want" "$work/auth.log"; then check_failed "the audit line '$want' is in the main log"; fi
[ -f "$audit_file" ] || fail "no audit file $audit_file"
rec=$(grep -F "\"request_id\":\"$rid\"" "$audit_file" || true)
[ -n "$rec" ] || check_failed "no record of request $rid in $audit_file"
if [ -n "$rec" ]; then
	for kv in '"caller":"sec-writer"' '"method":"AdjustStock"' "\"product\":\"$id\"" \
		"\"version_old\":$((ver - 1))" "\"version_new\":$ver" \
		"\"stock_old\":$((stock - 5))" "\"stock_new\":$stock" '"ts":"'; do
		echo "$rec" | grep -qF "$kv" || check_failed "audit record lacks $kv: $rec"
	done
	if command -v jq >/dev/null; then
		echo "$rec" | jq -e . >/dev/null || check_failed "audit record is not JSON: $rec"
	fi
fi
# Every line of the audit file is one JSON object naming a caller.
bad=$(grep -vc '^{.*"caller":"[^"]*".*}$' "$audit_file" || true)
[ "$bad" -eq 0 ] || check_failed "$bad line(s) of $audit_file are not one JSON object with a caller"
by=$(psql "$INVENTORY_DB" -Atc "SELECT updated_by FROM products WHERE id = '$id'" 2>&1) ||
	check_failed "psql: $by"
[ "$by" = sec-writer ] || check_failed "products.updated_by is '$by', want sec-writer"
caller=$(psql "$INVENTORY_DB" -Atc "SELECT caller FROM request_log WHERE request_id = '$rid'" 2>&1) ||
	check_failed "psql: $caller"
[ "$caller" = sec-writer ] || check_failed "request_log.caller is '$caller', want sec-writer"
figure "audit: JSON record (not in the main log), updated_by=$by, request_log.caller=$caller"
# A denied write leaves no trail.
n=$(grep -c '"caller":"sec-reader"' "$audit_file" || true)
[ "$n" -eq 0 ] || check_failed "$n audit record(s) name the reader, who wrote nothing"

# --- SIGHUP: a good file lets a new caller in --------------------------------
expect_lib UNAUTHENTICATED get "$u" --token-file "$work/tokens/carol" --id "$id"
cp "$auth" "$auth.good"
echo "carol writer $(hash_of carol)" >>"$auth.good"
mv "$auth.good" "$auth"
lines=$(wc -l <"$work/auth.log")
kill -HUP "${pids[auth]}"
for i in $(seq 1 50); do
	tail -n +"$((lines + 1))" "$work/auth.log" | grep -q 'auth: 3 caller' && break
	sleep 0.1
done
tail -n +"$((lines + 1))" "$work/auth.log" | grep -q 'auth: 3 caller' ||
	check_failed "no 'auth: 3 caller(s)' line after SIGHUP: $(tail -n +"$((lines + 1))" "$work/auth.log" | head -n 3)"
expect_lib OK create "$u" --token-file "$work/tokens/carol"
expect_cli 0 "$u" --token-file "$work/tokens/carol" adjust-stock "$id" --delta 1
expect_lib OK get "$u" "${R[@]}" --id "$id"

# --- SIGHUP: a bad file is refused, the old table stays -----------------------
cp "$auth" "$auth.keep"
{
	cat "$auth.keep"
	echo "mallory admin $(hash_of stranger)"
	echo "broken-line-without-fields"
} >"$auth"
lines=$(wc -l <"$work/auth.log")
kill -HUP "${pids[auth]}"
sleep 1
after=$(tail -n +"$((lines + 1))" "$work/auth.log")
echo "$after" | grep -Eiq 'error|err ' || check_failed "no error logged for a bad --auth-file on SIGHUP: $after"
figure "bad reload logged: $(echo "$after" | grep -Ei 'error|err ' | head -n 1 | cut -c1-160)"
sec_alive auth || fail "inventoryd died on a bad --auth-file reload"
expect_lib OK get "$u" "${R[@]}" --id "$id"
expect_lib OK create "$u" --token-file "$work/tokens/carol"
expect_lib OK create "$u" "${W[@]}"
expect_lib PERMISSION_DENIED create "$u" "${R[@]}"
expect_lib UNAUTHENTICATED get "$u" "${S[@]}" --id "$id"
cp "$auth.keep" "$auth"

# --- a bad file at start: exit 1 ----------------------------------------------
printf 'x reader nothex\n' >"$work/auth.bad"
rc=0
timeout 20 "$inventoryd" --db "$INVENTORY_DB" --listen "ipc://$work/bad.sock" \
	--auth-file "$work/auth.bad" </dev/null >"$work/bad-start.log" 2>&1 || rc=$?
[ "$rc" -eq 1 ] || check_failed "inventoryd with a bad --auth-file at start exited $rc, want 1: $(head -n 3 "$work/bad-start.log")"
figure "bad file at start: exit $rc: $(grep -Ei 'auth' "$work/bad-start.log" | head -n 1 | cut -c1-160)"

sec_finish
