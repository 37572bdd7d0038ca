#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest fixture "db" setup: a fresh private PostgreSQL in TESTENV/pg.
#   db-setup.sh PG_TEMP_SH TESTENV
# Whatever a previous (possibly aborted) run left in TESTENV/pg is stopped
# and removed first, so every run starts from an empty database.
set -euo pipefail
pg_temp=$1
testenv=$2
mkdir -p "$testenv"
chmod 755 "$testenv"
bash "$pg_temp" stop "$testenv/pg"
bash "$pg_temp" start "$testenv/pg"
cat "$testenv/pg/env"
