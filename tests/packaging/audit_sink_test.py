#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""packaging.audit_sink: audit records stay out of the main log.

    audit_sink_test.py INVENTORYD INVENTORYCTL TESTENV

Without --audit-log the records go to syslog under the identifier
inventoryd-audit (journald files them under it), not into the main log;
--audit-in-log (here INVENTORY_AUDIT_IN_LOG=1, its environment variable)
puts them into the main log as before, and then not into syslog.

syslog(3) writes to /dev/log, a fixed path: each inventoryd runs in a
private mount namespace (unshare -m, as root) whose /dev is a tmpfs with
the real null/zero/random/urandom bound in and /dev/log a link to this
test's datagram socket, so nothing outside the test is touched.  Against
the db fixture's PostgreSQL (migrated first); one CreateProduct each run.
"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

inventoryd, ctl, testenv = sys.argv[1:4]
failures = []


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    failures.append(msg)


def ok(msg):
    print("ok: " + msg, flush=True)


# What runs inventoryd with a private /dev whose log is $LOGSOCK.
NS_SCRIPT = r'''
set -e
mkdir -p "$WORK/realdev"
mount --rbind /dev "$WORK/realdev"
mount -t tmpfs -o mode=0755 tmpfs /dev
for n in null zero full random urandom; do
	touch "/dev/$n"
	mount --bind "$WORK/realdev/$n" "/dev/$n"
done
ln -s "$LOGSOCK" /dev/log
exec "$@"
'''


def run(name, in_main_log, db, work):
    logsock = "%s/%s.syslog" % (work, name)
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(logsock)
    url = "ipc://%s/%s.sock" % (work, name)
    env = dict(os.environ, WORK=work, LOGSOCK=logsock)
    env.pop("INVENTORY_AUDIT_LOG", None)
    env.pop("INVENTORY_AUDIT_IN_LOG", None)
    if in_main_log:
        env["INVENTORY_AUDIT_IN_LOG"] = "1"
    logpath = "%s/%s.log" % (work, name)
    log = open(logpath, "w")
    proc = subprocess.Popen(
        ["unshare", "-m", "--propagation", "private", "bash", "-c", NS_SCRIPT,
         "-", inventoryd, "--listen", url, "--db", db, "--workers", "2"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        # Wait until it answers, then one write.
        until, out = time.monotonic() + 30, None
        while time.monotonic() < until and proc.poll() is None:
            r = subprocess.run([ctl, "--server", url, "--timeout", "5000",
                                "create", "--name", "audit-sink-" + name,
                                "--stock", "3", "--price", "1.50"],
                               capture_output=True, text=True)
            if r.returncode == 0:
                out = r.stdout
                break
            time.sleep(0.2)
        if out is None:
            fail("%s: the server never took a create" % name)
            return
        pid = out.split('"id":"', 1)[1].split('"', 1)[0]
        # syslog datagrams (as many as arrive within a few seconds).
        msgs, until = [], time.monotonic() + 5
        while time.monotonic() < until:
            rx.settimeout(max(0.05, until - time.monotonic()))
            try:
                msgs.append(rx.recv(4096).decode(errors="replace"))
            except socket.timeout:
                break
            if any(pid in m for m in msgs):
                break
        proc.terminate()
        proc.wait(timeout=30)
        with open(logpath) as f:
            main_log = f.read()
        audit_lines = [l for l in main_log.splitlines()
                       if "audit caller=" in l and pid in l]
        syslog_recs = [m for m in msgs if pid in m]
        if in_main_log:
            if audit_lines and "method=CreateProduct" in audit_lines[0]:
                ok("%s: the record is in the main log: %s" % (name, audit_lines[0]))
            else:
                fail("%s: no 'audit caller=... %s' line in the main log" % (name, pid))
            if syslog_recs:
                fail("%s: also sent to syslog: %s" % (name, syslog_recs[0]))
            else:
                ok("%s: nothing sent to syslog" % name)
        else:
            if audit_lines:
                fail("%s: the record is in the main log: %s" % (name, audit_lines[0]))
            else:
                ok("%s: no audit line in the main log" % name)
            rec = syslog_recs[0] if syslog_recs else ""
            if "inventoryd-audit[" in rec and "method=CreateProduct" in rec \
                    and "stock=0->3" in rec:
                ok("%s: syslog got it as inventoryd-audit: %s" % (name, rec))
            else:
                fail("%s: no syslog record of %s as inventoryd-audit (got %r)"
                     % (name, pid, msgs))
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        rx.close()
        if failures:
            with open(logpath) as f:
                sys.stderr.write(f.read())


if os.geteuid() != 0 or shutil.which("unshare") is None:
    # Fails rather than skips: CI runs as root, where this must work.
    print("FAIL: needs root and unshare(1) for a private /dev/log", file=sys.stderr)
    sys.exit(1)
with tempfile.TemporaryDirectory(prefix="inventory-audit-sink.") as work:
    os.chmod(work, 0o755)
    db = subprocess.run(
        ["bash", "-c", '. "$1/pg/env" && printf %s "$INVENTORY_DB"', "-", testenv],
        capture_output=True, text=True, check=True).stdout
    subprocess.run([inventoryd, "--migrate", "--db", db], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    run("default", False, db, work)
    run("in-log", True, db, work)

if failures:
    print("audit_sink_test: %d check(s) failed" % len(failures), file=sys.stderr)
    sys.exit(1)
print("audit_sink_test: all checks passed")
