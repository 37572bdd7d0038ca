#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""packaging.notify: inventoryd speaks systemd's notification protocol.

    notify_test.py INVENTORYD INVENTORYCTL TESTENV

A tiny receiver of $NOTIFY_SOCKET datagrams stands in for systemd (what
deploy/systemd/inventoryd.service's Type=notify relies on).  Against the
db fixture's PostgreSQL (migrated first), twice:

  1. a path socket, WATCHDOG_USEC=400000: READY=1 arrives, and right after
     it the server answers (inventoryctl get of a random id: NOT_FOUND,
     exit 69); WATCHDOG=1 pings arrive while it idles; SIGTERM brings
     STOPPING=1 and exit 0, and no READY=1 after it;
  2. an abstract socket ('@name'), no watchdog: READY=1, no WATCHDOG=1,
     STOPPING=1 on SIGTERM, exit 0.

Waits are generous (30 s) and nothing is timed: only the order and the
content of the messages are asserted.
"""
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

inventoryd, ctl, testenv = sys.argv[1:4]
failures = []


def fail(msg):
    print("FAIL: " + msg, file=sys.stderr, flush=True)
    failures.append(msg)


def ok(msg):
    print("ok: " + msg, flush=True)


def db_conninfo():
    out = subprocess.run(
        ["bash", "-c", '. "$1/pg/env" && printf %s "$INVENTORY_DB"', "-", testenv],
        capture_output=True, text=True, check=True)
    return out.stdout


def receive(sock, until, want=None):
    """Messages (lists of KEY=VALUE lines) until `want` is among them or
    the deadline passes."""
    got = []
    while time.monotonic() < until:
        sock.settimeout(max(0.05, until - time.monotonic()))
        try:
            data = sock.recv(4096)
        except socket.timeout:
            break
        lines = data.decode().split("\n")
        got.append(lines)
        if want is not None and want in lines:
            break
    return got


def run(name, address, bind_to, watchdog_usec, db, work):
    """One inventoryd with NOTIFY_SOCKET=address (bind_to: what the
    receiver binds)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(bind_to)
    env = dict(os.environ, NOTIFY_SOCKET=address)
    env.pop("WATCHDOG_USEC", None)
    env.pop("WATCHDOG_PID", None)
    if watchdog_usec:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    url = "ipc://%s/%s.sock" % (work, name)
    log = open("%s/%s.log" % (work, name), "w")
    proc = subprocess.Popen(
        [inventoryd, "--listen", url, "--db", db, "--workers", "2"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        msgs = receive(sock, time.monotonic() + 30, "READY=1")
        if not any("READY=1" in m for m in msgs):
            fail("%s: no READY=1 within 30 s (got %r)" % (name, msgs))
            return
        ok("%s: READY=1 (%s)" % (name, "; ".join(",".join(m) for m in msgs)))
        rc = subprocess.run(
            [ctl, "--server", url, "--timeout", "10000", "get", str(uuid.uuid4())],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode
        if rc == 69:
            ok("%s: it answers once READY=1 came (NOT_FOUND)" % name)
        else:
            fail("%s: after READY=1 a get exited %d, not 69 (NOT_FOUND)" % (name, rc))

        if watchdog_usec:
            # Pings every 200 ms; two within 30 s is all that is asked.
            pings, until = 0, time.monotonic() + 30
            while pings < 2 and time.monotonic() < until:
                for m in receive(sock, min(until, time.monotonic() + 1)):
                    pings += m.count("WATCHDOG=1")
                    if "READY=1" in m:
                        fail("%s: a second READY=1" % name)
            if pings >= 2:
                ok("%s: WATCHDOG=1 pings while idle" % name)
            else:
                fail("%s: %d WATCHDOG=1 ping(s) within 30 s" % (name, pings))
        else:
            extra = receive(sock, time.monotonic() + 1)
            if any("WATCHDOG=1" in m for m in extra):
                fail("%s: WATCHDOG=1 without WATCHDOG_USEC" % name)
            else:
                ok("%s: no WATCHDOG=1 without WATCHDOG_USEC" % name)

        proc.send_signal(signal.SIGTERM)
        msgs = receive(sock, time.monotonic() + 30, "STOPPING=1")
        if any("STOPPING=1" in m for m in msgs):
            ok("%s: STOPPING=1 on SIGTERM" % name)
        else:
            fail("%s: no STOPPING=1 after SIGTERM (got %r)" % (name, msgs))
        try:
            rc = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
            fail("%s: still running 30 s after SIGTERM" % name)
        if rc == 0:
            ok("%s: exit 0 after the drain" % name)
        else:
            fail("%s: exit %d after SIGTERM" % (name, rc))
        late = receive(sock, time.monotonic() + 0.2)
        if any("READY=1" in m for m in msgs + late):
            fail("%s: READY=1 after STOPPING=1" % name)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
        sock.close()
        if failures:
            with open("%s/%s.log" % (work, name)) as f:
                sys.stderr.write(f.read())


with tempfile.TemporaryDirectory(prefix="inventory-notify.") as work:
    db = db_conninfo()
    # The db fixture's database may be fresh: the schema first
    # (idempotent, serialised against other tests doing the same).
    subprocess.run([inventoryd, "--migrate", "--db", db], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    path = work + "/notify.sock"
    run("path", path, path, 400000, db, work)
    abstract = "inventory-notify-test-%d" % os.getpid()
    run("abstract", "@" + abstract, "\0" + abstract, 0, db, work)

if failures:
    print("notify_test: %d check(s) failed" % len(failures), file=sys.stderr)
    sys.exit(1)
print("notify_test: all checks passed")
