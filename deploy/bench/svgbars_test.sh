#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# deploy/bench/svgbars_test.sh: compare.sh's SVG is well-formed XML, holds
# every series with the table's numbers, and references nothing outside.
#
#   bash deploy/bench/svgbars_test.sh
#
# A real comparison takes minutes, so this feeds the pipeline a canned
# runs.jsonl (3 cells x pgbench + 2 client modes, one cell with service
# errors): benchutil.py summarize -> compare.json -> svgbars.py, and the
# same through `compare.sh --redraw compare.json --svg FILE`.  Then:
# xmllint --noout; per series (pgbench, "service, coalesce", "service,
# no-coalesce") and panel (throughput, p99), one bar per cell whose
# data-value is the table's median; the cell with errors is marked; no
# script, stylesheet, external href or url().  Needs python3 and xmllint
# (libxml2-utils).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
for tool in python3 xmllint; do
	command -v "$tool" >/dev/null 2>&1 ||
		{ echo "svgbars_test: $tool is missing (apt-get install python3 libxml2-utils)" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# run RATE P50 P99 for: tool products workload skew clients rep mode [errors]
run() {
	local tool=$1 k=$2 w=$3 skew=$4 c=$5 rep=$6 mode=$7 rate=$8 p99=$9 errors=${10:-0}
	[ "$mode" = - ] && mode=null || mode="\"$mode\""
	printf '{"tool":"%s","products":%s,"workload":"%s","skew":"%s","clients":%s,"rep":%s,"mode":%s,"rate":%s,"p50_us":%s,"p99_us":%s,"n":1000,"errors":%s,"conflict_rate":0.0,"invariant_ok":true}\n' \
		"$tool" "$k" "$w" "$skew" "$c" "$rep" "$mode" "$rate" "$((p99 / 3))" "$p99" "$errors"
}
{
	# get 1k c8: medians pgbench 10000, coalesce 8000, no-coalesce 6000
	run pgbench 1000 get uniform 8 1 - 9000 900
	run pgbench 1000 get uniform 8 2 - 10000 1000
	run pgbench 1000 get uniform 8 3 - 11000 1100
	for r in 1 2 3; do
		run service 1000 get uniform 8 $r coalesce $((7000 + 1000 * (r - 1))) 1500
		run service 1000 get uniform 8 $r no-coalesce $((5000 + 1000 * (r - 1))) 2500
	done
	# update 1k c8
	run pgbench 1000 update uniform 8 1 - 4000 3000
	run service 1000 update uniform 8 1 coalesce 5000 2000
	run service 1000 update uniform 8 1 no-coalesce 3000 4000
	# batchget 1k c32, where the service had errors
	run pgbench 1000 batchget uniform 32 1 - 2000 20000
	run service 1000 batchget uniform 32 1 coalesce 2400 18000 3
	run service 1000 batchget uniform 32 1 no-coalesce 1800 25000
} >"$tmp/runs.jsonl"
: >"$tmp/rss.txt"
python3 "$here/benchutil.py" summarize "$tmp/runs.jsonl" "$tmp/rss.txt" "$tmp/compare.json" \
	"machine=test machine" duration_s=30 repeat=3 batch=16 commit=abc1234 >"$tmp/table.md"
[ "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["table"]))' "$tmp/compare.json")" = 6 ] &&
	ok "canned table: 6 rows" || fail "the canned table does not have 6 rows"

python3 "$here/svgbars.py" "$tmp/compare.json" "$tmp/a.svg"
bash "$here/compare.sh" --redraw "$tmp/compare.json" --svg "$tmp/b.svg"
cmp -s "$tmp/a.svg" "$tmp/b.svg" && ok "compare.sh --redraw draws what svgbars.py draws" ||
	fail "compare.sh --redraw differs from svgbars.py"

svg=$tmp/a.svg
if xmllint --noout "$svg"; then ok "xmllint --noout"; else fail "not well-formed XML"; fi
x() { xmllint --xpath "$1" "$svg" 2>/dev/null; }
[ "$(x "name(/*)")" = svg ] && [ "$(x "namespace-uri(/*)")" = "http://www.w3.org/2000/svg" ] &&
	ok "root element: svg in the SVG namespace" || fail "root is not an SVG element"

# bars SERIES METRIC: their count; value SERIES METRIC CELL: the bar's data-value
bars() { x "count(//*[local-name()='g'][@data-series='$1'][@data-metric='$2']/*[local-name()='rect'])"; }
value() { x "string(//*[local-name()='g'][@data-series='$1'][@data-metric='$2']/*[local-name()='rect'][@data-cell='$3']/@data-value)"; }
for s in pgbench "service, coalesce" "service, no-coalesce"; do
	for m in throughput p99; do
		n=$(bars "$s" "$m")
		[ "$n" = 3 ] && ok "series '$s' ($m): 3 bars" || fail "series '$s' ($m): $n bars, expected 3"
	done
done
expect() { # series metric cell value
	local v
	v=$(value "$1" "$2" "$3")
	[ "$v" = "$4" ] && ok "$3, $1 $2 = $4" || fail "$3, $1 $2 = '$v', expected $4"
}
expect pgbench throughput "get 1k c8" 10000
expect "service, coalesce" throughput "get 1k c8" 8000
expect "service, no-coalesce" throughput "get 1k c8" 6000
expect pgbench p99 "update 1k c8" 3000
expect "service, no-coalesce" p99 "batchget×16 1k c32" 25000
# the ratio is written above the bar: 8000 / 10000
grep -q '>0.80×</text>' "$svg" && ok "ratio 0.80× above the coalesce bar" || fail "no ratio 0.80×"
bad=$(x "count(//*[local-name()='g'][@class='bad-cell'])")
[ "$bad" = 2 ] && [ "$(x "string(//*[local-name()='g'][@class='bad-cell'][1]/@data-cell)")" = "batchget×16 1k c32" ] &&
	ok "the cell with errors is marked (in both panels)" || fail "error marks: $bad"
if grep -Eiq '<script|<style|<image|<link|@import|url\(|xlink:href|[^s]href=' "$svg"; then
	fail "the SVG references something outside itself"
else
	ok "self-contained: no script, style, image, href or url()"
fi

# compare.sh refuses --redraw without --svg
if bash "$here/compare.sh" --redraw "$tmp/compare.json" >/dev/null 2>&1; then
	fail "compare.sh --redraw without --svg succeeded"
else
	ok "compare.sh --redraw needs --svg"
fi

if [ "$fails" -gt 0 ]; then
	echo "svgbars_test: $fails check(s) failed" >&2
	exit 1
fi
echo "svgbars_test: all checks passed"
