#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ctest fixture "server" cleanup.
#   server-stop.sh TESTENV [--quiet]
#
# Sends SIGTERM to the inventoryd that server-start.sh started and waits
# for it.  Fails (exit 1, printing the server's log) unless inventoryd
# exited 0: a crash, a hang on shutdown, or, under AddressSanitizer, a
# leak (LeakSanitizer makes the exit status non-zero) all fail the suite.
# Sanitizer reports in the log fail it too.  --quiet: just make sure it is
# gone (used to clean up after an aborted run).
set -euo pipefail
testenv=$1
quiet=${2:-}

log() { echo "server-stop: $*" >&2; }
show_log() { echo "----- inventoryd.log -----" >&2; cat "$testenv/inventoryd.log" >&2 || true; echo "-----" >&2; }

pidfile=$testenv/inventoryd.pid
rcfile=$testenv/inventoryd.rc
if [ ! -f "$pidfile" ]; then
	[ -n "$quiet" ] && exit 0
	log "no $pidfile: the server was not started"
	exit 1
fi
pid=$(cat "$pidfile")

# Only signal the pid if it is still an inventoryd (pids are reused).
is_ours() {
	[ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q inventoryd
}

if is_ours; then
	kill -TERM "$pid" 2>/dev/null || true
fi
# The supervisor writes the exit status when inventoryd is gone.
for i in $(seq 1 300); do
	[ -f "$rcfile" ] && break
	if ! is_ours && [ ! -f "$rcfile" ] && [ "$i" -gt 50 ]; then
		break # no supervisor left (aborted run)
	fi
	sleep 0.1
done
if [ ! -f "$rcfile" ]; then
	if is_ours; then
		log "inventoryd $pid did not exit within 30 s of SIGTERM; killing it"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	rm -f "$pidfile"
	[ -n "$quiet" ] && exit 0
	show_log
	exit 1
fi
rc=$(cat "$rcfile")
rm -f "$pidfile" "$rcfile" "$testenv/server.env"
[ -n "$quiet" ] && exit 0

fail=0
if [ "$rc" != 0 ]; then
	log "inventoryd exited with status $rc after SIGTERM (want 0)"
	fail=1
fi
if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:|WARNING: ThreadSanitizer' \
	"$testenv/inventoryd.log" 2>/dev/null; then
	log "sanitizer report in the server log"
	fail=1
fi
if [ "$fail" -ne 0 ]; then
	show_log
	exit 1
fi
log "inventoryd $pid exited 0"
