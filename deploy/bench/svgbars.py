#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""svgbars.py: compare.sh's table drawn as bars, one self-contained SVG.

  svgbars.py COMPARE.json OUT.svg

COMPARE.json is what `benchutil.py summarize` writes (compare.sh's
OUT/compare.json): its "table" has one row per cell (products, workload,
skew, clients) and client mode.  Two panels, a group of bars per cell in
each: pgbench next to the service in every client mode it was run in.

  throughput   pgbench tps and service req/s (linear), the service's
               ratio to pgbench written above its bar
  p99 latency  pgbench's and the service's p99 in µs (log scale)

A cell whose service runs had errors or broke the stock invariant gets a
red mark.  The file references nothing outside itself: no script, no
stylesheet, no font (generic sans-serif), no image; every bar has a
<title> (the browser's tooltip) and data-series / data-cell / data-value
attributes, so tests and scripts can read the numbers back.
"""

import json
import math
import sys
from xml.sax.saxutils import escape, quoteattr

PG_COLOR = "#7f7f7f"
MODE_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b"]

BAR_W = 18
BAR_GAP = 2
GROUP_GAP = 28
LEFT = 78
RIGHT = 24
PANEL_H = 220
PANEL_TOP_PAD = 56
LABEL_H = 46


def cell_key(r):
    return (r["products"], r["workload"], r["skew"], r["clients"])


def cell_name(r, batch):
    """The table's first column (benchutil.py's cell_name)."""
    w = r["workload"]
    if w == "batchget":
        w += "×" + str(batch)
    k = r["products"]
    k = f"{k // 1000}k" if k % 1000 == 0 else str(k)
    skew = "" if r["skew"] == "uniform" else " " + r["skew"]
    return f"{w}{skew} {k} c{r['clients']}"


def series_name(mode):
    return "service" if mode is None else f"service, {mode}"


def fmt_num(v):
    if v is None:
        return "-"
    if v >= 10000:
        return f"{v / 1000:,.0f}k"
    if v >= 1000:
        return f"{v / 1000:.1f}k"
    return f"{v:.0f}" if v >= 10 else f"{v:.2g}"


def nice_max(v):
    """The smallest 1, 2, 2.5 or 5 x 10^n at or above v."""
    if not v or v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if m * e >= v:
            return m * e
    return 10 * e


def load(path):
    with open(path) as f:
        d = json.load(f)
    meta = d.get("meta", {})
    cells, order, modes = {}, [], []
    for r in d.get("table", []):
        k = cell_key(r)
        if k not in cells:
            cells[k] = {"name": cell_name(r, meta.get("batch", "?")),
                        "pgbench": {"rate": r.get("pgbench_tps"),
                                    "p99": r.get("pgbench_p99_us")},
                        "service": {}, "bad": False}
            order.append(k)
        cells[k]["service"][r.get("mode")] = {
            "rate": r.get("service_rps"), "p99": r.get("service_p99_us"),
            "ratio": r.get("ratio")}
        if r.get("invariant_ok") is False or r.get("service_errors"):
            cells[k]["bad"] = True
        if r.get("mode") not in modes:
            modes.append(r.get("mode"))
    return meta, [cells[k] for k in order], modes


class Svg:
    def __init__(self):
        self.out = []

    def add(self, s):
        self.out.append(s)

    def text(self, x, y, s, size=11, anchor="start", fill="#222",
             weight="normal", extra=""):
        self.add(f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" '
                 f'text-anchor="{anchor}" fill="{fill}" '
                 f'font-weight="{weight}"{extra}>{escape(s)}</text>')


def draw_panel(svg, top, width, cells, series, metric, title, log, unit):
    """One panel: axis, grid, a group of bars per cell.  series is
    [(name, color, getter, mode)]: getter(cell) -> value or None; mode is
    the service's client mode (None for pgbench)."""
    plot_top = top + PANEL_TOP_PAD
    plot_bottom = plot_top + PANEL_H
    plot_w = width - LEFT - RIGHT
    values = [g(c) for c in cells for _, _, g, _ in series]
    values = [v for v in values if v is not None and v > 0]
    if log:
        # a decade below the smallest value, so that every bar shows
        lo = 10 ** math.floor(math.log10(min(values) * 0.999)) \
            if values else 1
        hi = 10 ** math.ceil(math.log10(max(values))) if values else 10
        if hi <= lo:
            hi = lo * 10

        def y_of(v):
            v = max(v, lo)
            return plot_bottom - (math.log10(v) - math.log10(lo)) / \
                (math.log10(hi) - math.log10(lo)) * PANEL_H
        ticks = []
        t = lo
        while t <= hi * 1.0001:
            ticks.append(t)
            t *= 10
    else:
        hi = nice_max(max(values) if values else 1)

        def y_of(v):
            return plot_bottom - v / hi * PANEL_H
        ticks = [hi * i / 5 for i in range(6)]

    svg.add(f'<g class="panel" data-metric="{metric}">')
    svg.text(LEFT, top + 18, title, size=13, weight="bold")
    for t in ticks:
        y = y_of(t)
        svg.add(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{width - RIGHT}" '
                f'y2="{y:.1f}" stroke="#e0e0e0" stroke-width="1"/>')
        svg.text(LEFT - 6, y + 4, fmt_num(t), size=10, anchor="end",
                 fill="#555")
    svg.add(f'<line x1="{LEFT}" y1="{plot_bottom}" x2="{width - RIGHT}" '
            f'y2="{plot_bottom}" stroke="#444" stroke-width="1"/>')
    svg.text(14, (plot_top + plot_bottom) / 2, unit, size=11,
             anchor="middle", fill="#555",
             extra=f' transform="rotate(-90 14 '
                   f'{(plot_top + plot_bottom) / 2:.1f})"')

    group_w = len(series) * (BAR_W + BAR_GAP) - BAR_GAP
    step = group_w + GROUP_GAP
    x0 = LEFT + max(GROUP_GAP / 2, (plot_w - step * len(cells)) / 2 +
                    GROUP_GAP / 2)
    for si, (name, color, getter, mode) in enumerate(series):
        svg.add(f'<g class="series" data-series={quoteattr(name)} '
                f'data-metric="{metric}" fill="{color}">')
        for ci, c in enumerate(cells):
            v = getter(c)
            x = x0 + ci * step + si * (BAR_W + BAR_GAP)
            if v is None:
                continue
            y = y_of(v) if v > 0 else plot_bottom
            h = plot_bottom - y
            tip = f"{c['name']}: {name} {fmt_num(v)} {unit}"
            ratio = None
            if metric == "throughput" and name != "pgbench":
                ratio = c["service"].get(mode, {}).get("ratio")
                if ratio is not None:
                    tip += f" ({ratio:.2f}× pgbench)"
            svg.add(f'<rect x="{x:.1f}" y="{y:.1f}" width="{BAR_W}" '
                    f'height="{h:.1f}" data-cell={quoteattr(c["name"])} '
                    f'data-value="{v:.6g}"><title>{escape(tip)}</title>'
                    f'</rect>')
            if ratio is not None:
                # upright above the bar: neighbours' labels never overlap
                tx, ty = x + BAR_W / 2 + 3, y - 4
                svg.text(tx, ty, f"{ratio:.2f}×", size=9, fill="#333",
                         extra=f' transform="rotate(-90 {tx:.1f} {ty:.1f})"')
        svg.add('</g>')
    for ci, c in enumerate(cells):
        cx = x0 + ci * step + group_w / 2
        words = c["name"].split(" ")
        head, tail = " ".join(words[:-1]) or words[0], \
            words[-1] if len(words) > 1 else ""
        svg.text(cx, plot_bottom + 16, head, size=10, anchor="middle")
        if tail:
            svg.text(cx, plot_bottom + 29, tail, size=10, anchor="middle",
                     fill="#555")
        if c["bad"]:
            svg.add(f'<g class="bad-cell" data-cell={quoteattr(c["name"])}>'
                    f'<circle cx="{cx:.1f}" cy="{top + 34:.1f}" r="7" '
                    f'fill="#d62728"/>')
            svg.text(cx, top + 38, "!", size=11, anchor="middle",
                     fill="#fff", weight="bold")
            svg.add('<title>errors or a broken stock invariant in the '
                    'service runs (see runs.jsonl)</title></g>')
    svg.add('</g>')
    return plot_bottom + LABEL_H


def render(meta, cells, modes):
    series_rate = [("pgbench", PG_COLOR, lambda c: c["pgbench"]["rate"],
                    None)]
    series_p99 = [("pgbench", PG_COLOR, lambda c: c["pgbench"]["p99"],
                   None)]
    for i, m in enumerate(modes):
        name = series_name(m)
        color = MODE_COLORS[i % len(MODE_COLORS)]
        series_rate.append((name, color, lambda c, m=m:
                            c["service"].get(m, {}).get("rate"), m))
        series_p99.append((name, color, lambda c, m=m:
                           c["service"].get(m, {}).get("p99"), m))
    n = len(series_rate)
    group_w = n * (BAR_W + BAR_GAP) - BAR_GAP
    width = max(640, int(LEFT + RIGHT + len(cells) * (group_w + GROUP_GAP)))

    svg = Svg()
    body_top = 70
    y = draw_panel(svg, body_top, width, cells, series_rate, "throughput",
                   "Throughput per second (service / pgbench above the bars)",
                   False, "per second")
    y = draw_panel(svg, y, width, cells, series_p99, "p99",
                   "p99 latency (log scale)", True, "µs")
    height = int(y + 10)

    head = Svg()
    head.add('<?xml version="1.0" encoding="UTF-8"?>')
    head.add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" '
             f'font-family="sans-serif">')
    head.add('<title>inventoryd vs pgbench (deploy/bench/compare.sh)</title>')
    head.add(f'<rect x="0" y="0" width="{width}" height="{height}" '
             f'fill="#fff"/>')
    head.text(LEFT, 22, "inventoryd vs pgbench, per cell (medians)",
              size=15, weight="bold")
    sub = (f"{meta.get('machine', '?')}; {meta.get('duration_s', '?')} s "
           f"runs, median of {meta.get('repeat', '?')}; commit "
           f"{meta.get('commit', '?')}")
    head.text(LEFT, 40, sub, size=10, fill="#555")
    # legend
    lx = LEFT
    head.add('<g class="legend">')
    for name, color, _, _ in series_rate:
        head.add(f'<rect x="{lx}" y="50" width="12" height="12" '
                 f'fill="{color}"/>')
        head.text(lx + 16, 60, name, size=11)
        lx += 28 + 7 * len(name)
    head.add('</g>')
    return "\n".join(head.out + svg.out + ['</svg>']) + "\n"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    meta, cells, modes = load(sys.argv[1])
    if not cells:
        sys.exit(f"svgbars.py: no table rows in {sys.argv[1]}")
    with open(sys.argv[2], "w", encoding="utf-8") as f:
        f.write(render(meta, cells, modes))


if __name__ == "__main__":
    main()
