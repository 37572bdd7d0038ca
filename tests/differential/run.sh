#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest "differential": the fixtures' server and database are side A (calls
# one at a time); this script makes side B, a second database in the
# fixtures' cluster (created afresh, migrated) and a second inventoryd on
# it started with deploy/scripts/server.sh like every script's own server
# (same --workers as the fixture's), then runs the differential program
# and stops B, failing if B does not exit 0 (under ASan: a leak).
#   run.sh INVENTORYD INVENTORYCTL DIFFERENTIAL TESTENV [ARGS...]
# ARGS go to the program (--count, --seed, ...; see its --help).
set -euo pipefail
inventoryd=$1
inventoryctl=$2
differential=$3
testenv=$4
shift 4
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=../../deploy/scripts/server.sh
. "$here/../../deploy/scripts/server.sh"

log() { echo "differential: $*" >&2; }

[ -f "$testenv/pg/env" ] || { log "no $testenv/pg/env: the db fixture did not run"; exit 1; }
# shellcheck disable=SC1091
. "$testenv/pg/env"
db_a=$INVENTORY_DB
db_b=${db_a/dbname=inventory/dbname=inventory_diff_b}
[ "$db_b" != "$db_a" ] || { log "cannot derive B's conninfo from '$db_a'"; exit 1; }

work=$(mktemp -d "${TMPDIR:-/tmp}/inventory-diff.XXXXXX")
pid_b=
cleanup() {
	local rc=$?
	if [ -n "$pid_b" ] && kill -0 "$pid_b" 2>/dev/null; then
		kill -TERM "$pid_b"
		local st=0
		wait "$pid_b" || st=$?
		if [ "$st" -ne 0 ]; then
			log "server B exited $st; its log:"
			cat "$work/b.log" >&2
			[ "$rc" -ne 0 ] || rc=1
		fi
	fi
	rm -rf -- "$work"
	exit "$rc"
}
trap cleanup EXIT

psql -X -q -v ON_ERROR_STOP=1 -d "$db_a" \
	-c 'DROP DATABASE IF EXISTS inventory_diff_b' \
	-c 'CREATE DATABASE inventory_diff_b' >/dev/null
INVENTORY_DB=$db_b inventory_migrate "$inventoryd" "$work/b.log" ||
	{ cat "$work/b.log" >&2; exit 1; }

sock=$work/b.sock
url_b="ipc://$sock"
inventory_serve "$inventoryd" "$work/b.log" --listen "$url_b" --db "$db_b" --workers 8
# shellcheck disable=SC2154 # set by inventory_serve (server.sh)
pid_b=$inventory_pid
if ! inventory_wait "$pid_b" 30 inventory_answers "$inventoryctl" "$url_b"; then
	log "server B did not come up; its log:"
	cat "$work/b.log" >&2
	exit 1
fi

INVENTORY_DB=$db_a INVENTORY_DIFF_SERVER_B=$url_b INVENTORY_DIFF_DB_B=$db_b \
	"$differential" "$@"
