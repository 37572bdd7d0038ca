#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# deploy/monitoring/check.sh: the alert rules and the dashboard are honest.
#
#   bash deploy/monitoring/check.sh [--scrape FILE]
#
# 1. promtool check rules: inventory.rules.yml parses and its expressions
#    are valid PromQL.
# 2. promtool test rules: inventory.rules.test.yml feeds series to the rules
#    and expects exactly the alerts (and annotations) written there.
# 3. jq: inventory.dashboard.json is valid JSON; every panel has queries;
#    every panel's expr, and the variables' label_values(), names only
#    metrics inventoryd exports (the list below, from the metrics module); panel ids
#    are unique.  The checker itself is checked: a copy of the dashboard
#    with an unknown metric in one panel must fail it.
# 4. --scrape FILE (a saved GET /metrics of a real inventoryd, as
#    live_test.sh makes): the list below is true, every metric in it is a
#    family that inventoryd exports.
# Needs promtool (Debian: prometheus) and jq; deploy/test.sh installs them.
set -euo pipefail

scrape=""
case "${1:-}" in
--scrape) scrape=${2:?--scrape FILE} ;;
"") ;;
*) echo "usage: check.sh [--scrape FILE]" >&2; exit 2 ;;
esac

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rules=$here/inventory.rules.yml
tests=$here/inventory.rules.test.yml
dashboard=$here/inventory.dashboard.json

# What `inventoryd --http` serves on /metrics (histogram: its series).
METRICS='inventory_requests_total
inventory_request_duration_seconds_bucket
inventory_request_duration_seconds_sum
inventory_request_duration_seconds_count
inventory_conflicts_total
inventory_db_up
inventory_db_reconnects_total
inventory_requests_in_flight
inventory_requests_queued
inventory_build_info
inventory_connect_calls_total
process_resident_memory_bytes
process_cpu_seconds_total
process_open_fds'

for tool in promtool jq; do
	command -v "$tool" >/dev/null 2>&1 ||
		{ echo "check.sh: $tool is missing (apt-get install prometheus jq)" >&2; exit 1; }
done

echo "== promtool check rules"
promtool check rules "$rules"
echo "== promtool test rules"
(cd "$here" && promtool test rules "$(basename "$tests")")

# check_dashboard FILE: prints one line per problem; exit 1 if any.
# The metric names of an expression are its identifiers once string
# literals, {label matchers}, [ranges] and by/without/on/ignoring(...)
# lists are removed, that are not followed by "(" (functions, aggregations)
# and are not PromQL keywords.
check_dashboard() {
	jq -r --arg metrics "$METRICS" '
		def names:
			gsub("\"(\\\\.|[^\"\\\\])*\""; "")
			| gsub("\\{[^}]*\\}"; "")
			| gsub("\\[[^\\]]*\\]"; "")
			| gsub("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)"; "")
			| [scan("(?<![A-Za-z0-9_:.$])[A-Za-z_:][A-Za-z0-9_:]*+(?!\\s*\\()")]
			| map(select(IN("and", "or", "unless", "bool", "offset", "inf", "nan") | not));
		($metrics | split("\n")) as $allowed
		| [.panels[] | ., (.panels // [])[]] as $all
		| ($all | map(select(.type != "row"))) as $panels
		| (if ($panels | length) == 0 then "no panels" else empty end),
		  ($all | group_by(.id)[] | select(length > 1)
		   | "panel id \(.[0].id) used \(length) times"),
		  ($panels[] | select((.targets // []) | length == 0)
		   | "panel \"\(.title)\": no queries"),
		  ($panels[] | .title as $t | (.targets // [])[]
		   | if (.expr // "") == "" then "panel \"\($t)\": a query without expr"
		     else .expr as $e | ($e | names)
		       | if length == 0 then "panel \"\($t)\": no metric in \($e)"
		         else .[] | select(IN($allowed[]) | not)
		           | "panel \"\($t)\": unknown metric \(.)" end end),
		  (.templating.list[]? | select(.type == "query")
		   | (.definition // .query.query // .query)
		   | (capture("label_values\\((?<m>[A-Za-z_:][A-Za-z0-9_:]*)") | .m)
		   | select(IN($allowed[]) | not)
		   | "variable: unknown metric \(.)")
	' "$1" | awk '{ print "  " $0; bad = 1 } END { exit bad }'
}

echo "== dashboard: $(basename "$dashboard")"
jq empty "$dashboard"
if ! check_dashboard "$dashboard"; then
	echo "check.sh: the dashboard queries metrics inventoryd does not export" >&2
	exit 1
fi
echo "  $(jq '[.panels[] | select(.type != "row")] | length' "$dashboard") panels," \
	"$(jq '[.. | objects | select(has("expr")) | .expr] | length' "$dashboard") queries: every metric is exported"

# The checker must catch what it is for.
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
jq --arg e 'sum by (method) (rate(inventory_made_up_total{code="OK"}[5m]))' \
	'.panels |= (map(select(.type != "row")) as $p
	| [$p[0] | .targets[0].expr = $e] + $p[1:])' "$dashboard" >"$tmp"
if ! { check_dashboard "$tmp" || true; } | grep -q 'unknown metric inventory_made_up_total'; then
	echo "check.sh: the dashboard check let an unknown metric through" >&2
	exit 1
fi
if [ -n "$scrape" ]; then
	echo "== the metric list against a scrape of inventoryd ($scrape)"
	missing=0
	for m in $METRICS; do
		# a sample of m, or of the histogram m is a series of
		if ! grep -Eq "^$m(\{| )" "$scrape"; then
			echo "  not exported: $m"
			missing=1
		fi
	done
	[ "$missing" -eq 0 ] || { echo "check.sh: the list names metrics inventoryd does not export" >&2; exit 1; }
	echo "  all $(wc -w <<<"$METRICS") metrics are in the scrape"
fi
echo "== monitoring checks passed"
