#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Fault (c): `pg_ctl stop -m immediate` under load (no shutdown checkpoint:
# PostgreSQL runs crash recovery on the next start), then start it again.
# Same requirements as pg_stop_fast.sh.
#   pg_stop_immediate.sh INVENTORYD INVENTORY_HISTORY PG_TEMP_SH
PG_STOP_MODE=immediate
export PG_STOP_MODE
. "$(dirname "${BASH_SOURCE[0]}")/pg_stop_fast.sh"
