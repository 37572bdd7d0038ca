#!/usr/bin/env python3
"""Helpers of compare.sh (standard library only).

  benchutil.py pglog DIR
      percentiles of pgbench's per-transaction logs (-l) in DIR, as JSON
  benchutil.py record pgbench WORKLOAD SKEW CLIENTS REP TPS  < pglog-json
      one runs.jsonl line for a pgbench run
  benchutil.py svc BENCH.json WORKLOAD SKEW CLIENTS REP
      one runs.jsonl line for an inventory-bench run
  benchutil.py summarize RUNS.jsonl RSS.txt OUT.json KEY=VALUE...
      medians per cell, the table on stdout, everything in OUT.json
"""
import json
import os
import statistics
import sys


def pct(sorted_vals, p):
    if not sorted_vals:
        return None
    i = max(0, min(len(sorted_vals) - 1,
                   int(-(-p * len(sorted_vals) // 100)) - 1))
    return sorted_vals[i]


def cmd_pglog(d):
    lat = []
    for name in os.listdir(d):
        with open(os.path.join(d, name)) as f:
            for line in f:
                cols = line.split()
                # client_id transaction_no time script_no epoch epoch_us
                if len(cols) >= 3 and cols[2].isdigit():
                    lat.append(int(cols[2]))
    lat.sort()
    print(json.dumps({"n": len(lat), "p50_us": pct(lat, 50),
                      "p99_us": pct(lat, 99)}))


def cmd_record(args):
    tool, w, skew, c, rep, tps = args
    lat = json.load(sys.stdin)
    print(json.dumps({"tool": tool, "workload": w, "skew": skew,
                      "clients": int(c), "rep": int(rep),
                      "rate": float(tps), "p50_us": lat["p50_us"],
                      "p99_us": lat["p99_us"], "n": lat["n"]}))


def cmd_svc(args):
    path, w, skew, c, rep = args
    with open(path) as f:
        d = json.load(f)
    errors = sum(n for k, n in d["status"].items()
                 if k not in ("OK", "ABORTED", "FAILED_PRECONDITION"))
    print(json.dumps({"tool": "service", "workload": w, "skew": skew,
                      "clients": int(c), "rep": int(rep),
                      "rate": d["throughput_rps"],
                      "p50_us": d["latency_us"]["p50"],
                      "p99_us": d["latency_us"]["p99"],
                      "n": d["requests"], "errors": errors,
                      "conflict_rate": d["conflict_rate"],
                      "invariant_ok": d["invariant_ok"]}))


def med(vals):
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else None


def fmt(v, digits=0):
    if v is None:
        return "-"
    return f"{v:,.{digits}f}"


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
        key = (r["workload"], r["skew"], r["clients"])
        cells.setdefault(key, {"pgbench": [], "service": []})
        cells[key][r["tool"]].append(r)
    order = {"get": 0, "update": 1}
    table = []
    for key in sorted(cells, key=lambda k: (order.get(k[0], 9), k[0],
                                            k[1] != "uniform", k[1], k[2])):
        pg, sv = cells[key]["pgbench"], cells[key]["service"]
        row = {
            "workload": key[0], "skew": key[1], "clients": key[2],
            "pgbench_tps": med([r["rate"] for r in pg]),
            "service_rps": med([r["rate"] for r in sv]),
            "pgbench_p50_us": med([r["p50_us"] for r in pg]),
            "pgbench_p99_us": med([r["p99_us"] for r in pg]),
            "service_p50_us": med([r["p50_us"] for r in sv]),
            "service_p99_us": med([r["p99_us"] for r in sv]),
            "service_conflict_rate": med([r.get("conflict_rate")
                                          for r in sv]),
            "service_errors": sum(r.get("errors", 0) for r in sv),
            "invariant_ok": all(r.get("invariant_ok", False) for r in sv)
            if sv else None,
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

    hdr = ("workload", "skew", "clients", "pgbench tps", "service rps",
           "ratio", "pg p50 µs", "pg p99 µs", "svc p50 µs", "svc p99 µs",
           "conflicts", "invariant")
    lines = []
    for r in table:
        lines.append((r["workload"], r["skew"], str(r["clients"]),
                      fmt(r["pgbench_tps"]), fmt(r["service_rps"]),
                      fmt(r["ratio"], 2), fmt(r["pgbench_p50_us"]),
                      fmt(r["pgbench_p99_us"]), fmt(r["service_p50_us"]),
                      fmt(r["service_p99_us"]),
                      "-" if r["service_conflict_rate"] is None or
                      r["workload"] == "get"
                      else f"{100 * r['service_conflict_rate']:.0f}%",
                      {True: "ok", False: "FAILED", None: "-"}[
                          r["invariant_ok"]]))
    widths = [max(len(h), *(len(l[i]) for l in lines)) if lines else len(h)
              for i, h in enumerate(hdr)]
    print()
    print("machine: " + meta.get("machine", "?"))
    print(f"runs: {meta.get('duration_s')} s each, median of "
          f"{meta.get('repeat')}; inventoryd --workers "
          f"{meta.get('workers')}; {meta.get('products')} products")
    print()
    print("  ".join(h.ljust(widths[i]) if i < 3 else h.rjust(widths[i])
                    for i, h in enumerate(hdr)))
    for l in lines:
        print("  ".join(v.ljust(widths[i]) if i < 3 else v.rjust(widths[i])
                        for i, v in enumerate(l)))
    if memory:
        print()
        print(f"inventoryd VmRSS during {meta.get('rss_workload')} at "
              f"{meta.get('rss_clients')} clients: start "
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
    if cmd == "pglog":
        cmd_pglog(args[0])
    elif cmd == "record":
        cmd_record(args)
    elif cmd == "svc":
        cmd_svc(args)
    elif cmd == "summarize":
        cmd_summarize(args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
