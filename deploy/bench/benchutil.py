#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Helpers of compare.sh (standard library only, Linux /proc).

  benchutil.py window OUT.json LOG START END [NAME=SPEC...] -- CMD [ARG...]
      run CMD (stdout and stderr to LOG, stderr through a pty so that
      inventory-bench draws its progress line), and sample the CPU time and
      context switches of every process of every group at CMD's progress
      tick START s and again at tick END s (pgbench -P 1 / inventory-bench's
      once-a-second line: seconds since the measured run began, after
      connecting and reading the products).  SPEC is a pid, "tree:PID" (PID
      and its children, listed anew at each sample) or "child" (CMD).
      Writes the per-group deltas to OUT.json; exits with CMD's status.
  benchutil.py pg OUT.txt LOGDIR WINDOW.json PRODUCTS WORKLOAD SKEW CLIENTS REP
      one runs.jsonl line for a pgbench run (-l logs in LOGDIR)
  benchutil.py svc BENCH.json WINDOW.json PRODUCTS WORKLOAD SKEW CLIENTS REP MODE
      one runs.jsonl line for an inventory-bench run
  benchutil.py summarize RUNS.jsonl RSS.txt OUT.json KEY=VALUE...
      medians per row, the markdown table on stdout, everything in OUT.json

Per-request figures divide a group's deltas over the window by the requests
completed in that window: pgbench's from its per-transaction log (completion
times between the two samples), inventory-bench's from its own progress
counter at the two ticks.  Both are counts, not rate x time.
"""
import json
import os
import pty
import re
import statistics
import subprocess
import sys
import time

# ---- sampling /proc -------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """(ppid, starttime, utime + stime in ticks) from /proc/PID/stat.

    The process's utime and stime include all its threads, also those that
    already exited.  None if PID is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()  # rest[i] is field i + 3
    return int(rest[1]), int(rest[19]), int(rest[11]) + int(rest[12])


def _ctxsw(pid):
    """{tid: (voluntary, nonvoluntary)} for each live thread of PID.

    /proc/PID/status counts only the main thread, so every task is read;
    the switches of a thread that exited are not in /proc any more."""
    out = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        v = n = 0
        try:
            with open(f"/proc/{pid}/task/{tid}/status") as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        v = int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        n = int(line.split()[1])
        except OSError:
            continue
        out[tid] = (v, n)
    return out


def _members(spec):
    """The pids of a group spec: "PID" or "tree:PID" (PID + children)."""
    if not spec.startswith("tree:"):
        return [int(spec)]
    root = int(spec[5:])
    pids = [root]
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != root:
            st = _stat(d)
            if st and st[0] == root:
                pids.append(int(d))
    return pids


def _busy_ticks():
    """CPU ticks the whole machine spent not idle (all CPUs)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4]  # user..steal minus idle, iowait


def snapshot(groups):
    """One sample of every process of every group ({name: spec})."""
    snap = {"epoch": time.time(), "mono": time.monotonic(),
            "busy": _busy_ticks(), "groups": {}}
    for name, spec in groups.items():
        procs = {}
        for pid in _members(spec):
            st = _stat(pid)
            if st is not None:
                procs[(pid, st[1])] = (st[2], _ctxsw(pid))
        snap["groups"][name] = procs
    return snap


def window_delta(a, b):
    """Per group, what happened between snapshots a and b.

    A process (or thread) seen only in b started inside the window and
    counts from zero; one seen only in a exited and what it did after a is
    lost (counted in "exited": pick a window in which the groups are
    steady).  CPU is utime + stime (tick-based, 1/CLK_TCK s)."""
    secs = b["mono"] - a["mono"]
    out = {"t0_epoch": a["epoch"], "t1_epoch": b["epoch"], "seconds": secs,
           "machine_cores": (b["busy"] - a["busy"]) / CLK_TCK / secs,
           "groups": {}}
    ours = 0.0
    for name, pb in b["groups"].items():
        pa = a["groups"].get(name, {})
        ticks = vol = inv = 0
        for key, (tb, thr_b) in pb.items():
            ta, thr_a = pa.get(key, (0, {}))
            ticks += tb - ta
            for tid, (v, n) in thr_b.items():
                v0, n0 = thr_a.get(tid, (0, 0))
                vol += v - v0
                inv += n - n0
        cpu = ticks / CLK_TCK
        ours += cpu
        out["groups"][name] = {
            "cpu_s": cpu, "cores": cpu / secs, "ctxsw": vol + inv,
            "voluntary": vol, "nonvoluntary": inv,
            "processes": len(pb), "started": len(set(pb) - set(pa)),
            "exited": len(set(pa) - set(pb))}
    out["other_cores"] = out["machine_cores"] - ours / secs
    return out


# The progress lines: pgbench -P 1 ("progress: 2.0 s, ...") and
# inventory-bench ("[   2.0s] 12345 requests ...").
PROGRESS = re.compile(
    r"progress: ([0-9.]+) s|\[\s*([0-9.]+)s\] ([0-9]+) requests")


def cmd_window(args):
    sep = args.index("--")
    out_json, log_path, start, end = args[0], args[1], float(args[2]), \
        float(args[3])
    cmd = args[sep + 1:]
    specs = dict(a.split("=", 1) for a in args[4:sep])
    master, slave = pty.openpty()
    with open(log_path, "ab") as log:
        child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log,
                                 stderr=slave)
        os.close(slave)
        groups = {n: str(child.pid) if s == "child" else s
                  for n, s in specs.items()}
        a = b = None
        count_a = count_b = None
        buf = b""
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the pty
                chunk = b""
            if not chunk:
                break
            buf += chunk
            *lines, buf = re.split(rb"[\r\n]", buf)
            for raw in lines:
                line = raw.decode("utf-8", "replace")
                m = PROGRESS.search(line)
                if not m:
                    if line.strip():
                        log.write(raw + b"\n")
                        log.flush()
                    continue
                t = float(m.group(1) or m.group(2))
                count = int(m.group(3)) if m.group(3) else None
                if a is None and t >= start - 0.05:
                    a, count_a = snapshot(groups), count
                elif a is not None and b is None and t >= end - 0.05:
                    b, count_b = snapshot(groups), count
        os.close(master)
        rc = child.wait()
    res = {"rc": rc, "start_s": start, "end_s": end, "window": None}
    if a is not None and b is not None:
        res["window"] = window_delta(a, b)
        res["window"]["progress_requests"] = (
            count_b - count_a if count_a is not None and count_b is not None
            else None)
    with open(out_json, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    sys.exit(rc)


# ---- one run --------------------------------------------------------------

def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    i = max(0, min(len(sorted_vals) - 1,
                   int(-(-p * len(sorted_vals) // 100)) - 1))
    return sorted_vals[i]


def _load_window(path):
    try:
        with open(path) as f:
            return json.load(f).get("window")
    except (OSError, ValueError):
        return None


def _per_request(win, n):
    """Adds the per-request figures of a window with n requests."""
    if not win or not n:
        return {"window_requests": n or None, "window_s": None,
                "cpu_us_per_req": None, "ctxsw_per_req": None,
                "cores": None, "other_cores": None}
    g = win["groups"]
    return {"window_requests": n, "window_s": win["seconds"],
            "cpu_us_per_req": {k: v["cpu_s"] * 1e6 / n for k, v in g.items()},
            "ctxsw_per_req": {k: v["ctxsw"] / n for k, v in g.items()},
            "cores": {k: v["cores"] for k, v in g.items()},
            "other_cores": win["other_cores"],
            "exited": {k: v["exited"] for k, v in g.items() if v["exited"]},
            "window": win}


def cmd_pg(args):
    txt, logdir, winpath, k, w, skew, c, rep = args
    tps = 0.0
    with open(txt) as f:
        for line in f:
            m = re.match(r"tps = ([0-9.]+) ", line)
            if m:
                tps = float(m.group(1))
    win = _load_window(winpath)
    t0, t1 = (win["t0_epoch"], win["t1_epoch"]) if win else (0, -1)
    lat, inwin = [], 0
    for name in os.listdir(logdir):
        with open(os.path.join(logdir, name)) as f:
            for line in f:
                # client_id transaction_no time_us script_no epoch epoch_us
                cols = line.split()
                if len(cols) >= 6 and cols[2].isdigit():
                    lat.append(int(cols[2]))
                    if t0 <= int(cols[4]) + int(cols[5]) / 1e6 <= t1:
                        inwin += 1
    lat.sort()
    rec = {"tool": "pgbench", "products": int(k), "workload": w,
           "skew": skew, "clients": int(c), "rep": int(rep), "mode": None,
           "rate": tps, "p50_us": pct(lat, 50), "p99_us": pct(lat, 99),
           "n": len(lat)}
    rec.update(_per_request(win, inwin))
    print(json.dumps(rec))


def cmd_svc(args):
    path, winpath, k, w, skew, c, rep, mode = args
    with open(path) as f:
        d = json.load(f)
    errors = sum(n for s, n in d["status"].items()
                 if s not in ("OK", "ABORTED", "FAILED_PRECONDITION"))
    win = _load_window(winpath)
    n = win.get("progress_requests") if win else None
    rec = {"tool": "service", "products": int(k), "workload": w,
           "skew": skew, "clients": int(c), "rep": int(rep), "mode": mode,
           "rate": d["throughput_rps"],
           "p50_us": d["latency_us"]["p50"],
           "p99_us": d["latency_us"]["p99"],
           "n": d["requests"], "rpcs": d.get("rpcs"), "errors": errors,
           "conflict_rate": d["conflict_rate"],
           "invariant_ok": d["invariant_ok"]}
    for key in ("connections", "coalesce", "batch_size"):
        if key in d.get("config", {}):
            rec[key] = d["config"][key]
    rec.update(_per_request(win, n))
    print(json.dumps(rec))


# ---- summary --------------------------------------------------------------

def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def med_groups(runs, field):
    """Median per group of a {group: value} field over runs."""
    names = sorted({g for r in runs for g in (r.get(field) or {})})
    if not names:
        return None
    return {g: med([(r.get(field) or {}).get(g) for r in runs])
            for g in names}


def fmt(v, digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


def fmt_small(v):
    if v is None:
        return "-"
    return fmt(v, 0 if v >= 100 else 1 if v >= 10 else 2)


def slash(d, names, f=fmt_small):
    if not d:
        return "-"
    return " / ".join(f(d.get(n)) for n in names)


PG_GROUPS = ("postgres", "pgbench")
SVC_GROUPS = ("inventoryd", "postgres", "bench")


def cmd_summarize(args):
    runs_path, rss_path, out_path = args[:3]
    meta = dict(a.split("=", 1) for a in args[3:])
    runs = []
    with open(runs_path) as f:
        for line in f:
            if line.strip():
                runs.append(json.loads(line))
    cells = {}
    for r in runs:
        key = (r["products"], r["workload"], r["skew"], r["clients"])
        cell = cells.setdefault(key, {"pgbench": [], "service": {}})
        if r["tool"] == "pgbench":
            cell["pgbench"].append(r)
        else:
            cell["service"].setdefault(r["mode"], []).append(r)
    order = {"get": 0, "update": 1, "batchget": 2}
    modes = {"coalesce": 0, "no-coalesce": 1}
    table = []
    for key in sorted(cells, key=lambda k: (k[0], order.get(k[1], 9), k[1],
                                            k[2] != "uniform", k[2], k[3])):
        pg = cells[key]["pgbench"]
        for mode in sorted(cells[key]["service"] or {None: []},
                           key=lambda m: (modes.get(m, 9), str(m))):
            sv = cells[key]["service"].get(mode, [])
            row = {
                "products": key[0], "workload": key[1], "skew": key[2],
                "clients": key[3], "mode": mode,
                "pgbench_tps": med([r["rate"] for r in pg]),
                "service_rps": med([r["rate"] for r in sv]),
                "pgbench_p50_us": med([r["p50_us"] for r in pg]),
                "pgbench_p99_us": med([r["p99_us"] for r in pg]),
                "service_p50_us": med([r["p50_us"] for r in sv]),
                "service_p99_us": med([r["p99_us"] for r in sv]),
                "pgbench_cpu_us_per_req": med_groups(pg, "cpu_us_per_req"),
                "pgbench_ctxsw_per_req": med_groups(pg, "ctxsw_per_req"),
                "pgbench_cores": med_groups(pg, "cores"),
                "pgbench_other_cores": med([r.get("other_cores")
                                            for r in pg]),
                "service_cpu_us_per_req": med_groups(sv, "cpu_us_per_req"),
                "service_ctxsw_per_req": med_groups(sv, "ctxsw_per_req"),
                "service_cores": med_groups(sv, "cores"),
                "service_other_cores": med([r.get("other_cores")
                                            for r in sv]),
                "service_conflict_rate": med([r.get("conflict_rate")
                                              for r in sv]),
                "service_errors": sum(r.get("errors", 0) for r in sv),
                "invariant_ok": all(r.get("invariant_ok", False)
                                    for r in sv) if sv else None,
                "runs": {"pgbench": len(pg), "service": len(sv)},
            }
            ratios = []
            for p, s in zip(sorted(pg, key=lambda r: r["rep"]),
                            sorted(sv, key=lambda r: r["rep"])):
                if p["rate"]:
                    ratios.append(s["rate"] / p["rate"])
            row["ratio"] = (row["service_rps"] / row["pgbench_tps"]
                            if row["pgbench_tps"] and row["service_rps"]
                            else None)
            row["ratio_per_rep_median"] = med(ratios)
            table.append(row)

    rss = []
    try:
        with open(rss_path) as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2 and parts[1].isdigit() and parts[1] != "0":
                    rss.append(int(parts[1]))
    except OSError:
        pass
    memory = None
    if rss:
        memory = {"start_kib": rss[0], "max_kib": max(rss),
                  "end_kib": rss[-1], "samples": len(rss),
                  "samples_kib": rss}

    def cell_name(r):
        w = r["workload"]
        if w == "batchget":
            w += "×" + meta.get("batch", "?")
        k = r["products"]
        k = f"{k // 1000}k" if k % 1000 == 0 else str(k)
        skew = "" if r["skew"] == "uniform" else " " + r["skew"]
        return f"{w}{skew} {k} c{r['clients']}"

    hdr = ["cell", "client", "pgbench tps", "service rps", "ratio",
           "pgbench p50 / p99 µs", "service p50 / p99 µs",
           "CPU µs/req, pgbench run: PG / pgbench",
           "CPU µs/req, service run: inventoryd / PG / bench",
           "ctxsw/req, pgbench run: PG / pgbench",
           "ctxsw/req, service run: inventoryd / PG / bench",
           "other load, cores: pgbench / service run"]
    lines = []
    for r in table:
        lines.append([
            cell_name(r), r["mode"] or "-",
            fmt(r["pgbench_tps"]), fmt(r["service_rps"]), fmt(r["ratio"], 2),
            f"{fmt(r['pgbench_p50_us'])} / {fmt(r['pgbench_p99_us'])}",
            f"{fmt(r['service_p50_us'])} / {fmt(r['service_p99_us'])}",
            slash(r["pgbench_cpu_us_per_req"], PG_GROUPS),
            slash(r["service_cpu_us_per_req"], SVC_GROUPS),
            slash(r["pgbench_ctxsw_per_req"], PG_GROUPS),
            slash(r["service_ctxsw_per_req"], SVC_GROUPS),
            f"{fmt(r['pgbench_other_cores'], 2)} / "
            f"{fmt(r['service_other_cores'], 2)}"])
    print()
    print(f"machine: {meta.get('machine', '?')}; "
          f"{meta.get('duration_s')} s runs, median of {meta.get('repeat')}; "
          f"inventoryd {meta.get('executors', '?')} executors; inventory-bench "
          f"{meta.get('bench_args') or 'library defaults'}; "
          f"{meta.get('skews')} keys; pg_sets: {meta.get('pg_sets') or '-'}")
    print()
    print("| " + " | ".join(hdr) + " |")
    print("|" + "|".join("---" if i < 2 else "---:"
                         for i in range(len(hdr))) + "|")
    for line in lines:
        print("| " + " | ".join(line) + " |")
    bad = [cell_name(r) + f" ({r['mode']})" for r in table
           if r["invariant_ok"] is False or r["service_errors"]]
    if bad:
        print(f"\nWARNING: errors or a broken invariant in: {', '.join(bad)}"
              " (see runs.jsonl)")
    if memory:
        print()
        print(f"inventoryd VmRSS during {meta.get('rss_workload')} at "
              f"{meta.get('rss_clients')} clients, "
              f"{meta.get('rss_products')} products: start "
              f"{memory['start_kib'] / 1024:.1f} MiB, max "
              f"{memory['max_kib'] / 1024:.1f} MiB, end "
              f"{memory['end_kib'] / 1024:.1f} MiB "
              f"({memory['samples']} samples)")
    with open(out_path, "w") as f:
        json.dump({"meta": meta, "table": table, "memory": memory,
                   "runs": runs}, f, indent=2)
        f.write("\n")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "window":
        cmd_window(args)
    elif cmd == "pg":
        cmd_pg(args)
    elif cmd == "svc":
        cmd_svc(args)
    elif cmd == "summarize":
        cmd_summarize(args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
