#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/packaging/manpages.sh: the hand-written man pages (deploy/package/man)
# say what the programs' --help says.
#
#   bash tests/packaging/manpages.sh MANDIR NAME=BINARY...
#
# For each NAME (a page MANDIR/NAME.1 or MANDIR/NAME.8 and its program):
#   - every long option `BINARY --help` prints appears in the page;
#   - every option the page's OPTIONS section lists (the tag line after
#     each .TP) is one `BINARY --help` prints;
#   - `man -l --warnings` renders the page without a warning.
# A flag added to a program without its page (or the reverse) fails here,
# naming the flag.
set -euo pipefail

mandir=${1:?usage: manpages.sh MANDIR NAME=BINARY...}
shift
[ "$#" -gt 0 ] || { echo "usage: manpages.sh MANDIR NAME=BINARY..." >&2; exit 2; }
fails=0
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }

# long_options: the --long-option tokens of stdin, one a line, sorted.
long_options() { grep -o -- '--[a-z][a-z0-9-]*' | sort -u; }

for pair in "$@"; do
	name=${pair%%=*}
	bin=${pair#*=}
	page=$(ls "$mandir/$name".[18] 2>/dev/null | head -1 || true)
	[ -n "$page" ] || { fail "$name: no page $mandir/$name.1 or .8"; continue; }
	help=$("$bin" --help 2>&1) || fail "$name --help exited $?"
	help_opts=$(long_options <<<"$help")
	n=$(grep -c . <<<"$help_opts" || true)
	[ "$n" -ge 3 ] || fail "$name --help names only $n long options: is it the right binary?"

	# The page's source with roff's \- turned into -, comments dropped.
	text=$(grep -v '^\.\\"' "$page" | sed 's/\\-/-/g')
	page_all=$(long_options <<<"$text")
	# OPTIONS: the line after each .TP between ".SH OPTIONS" and the
	# next .SH; its first option is the one it documents (".BR -h ,
	# --help" documents both).
	page_opts=$(awk '/^\.SH /{ in_opts = ($2 == "OPTIONS") } in_opts && tag { print; tag = 0 } in_opts && /^\.TP/{ tag = 1 }' <<<"$text" |
		long_options)
	m=$(grep -c . <<<"$page_opts" || true)
	[ "$m" -ge 3 ] || fail "$page: its OPTIONS section lists only $m long options"

	missing=$(comm -23 <(echo "$help_opts") <(echo "$page_all"))
	extra=$(comm -13 <(echo "$help_opts") <(echo "$page_opts"))
	for o in $missing; do fail "$name --help prints $o, $(basename "$page") does not mention it"; done
	for o in $extra; do fail "$(basename "$page") documents $o in OPTIONS, $name --help does not print it"; done

	if command -v man >/dev/null 2>&1; then
		warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$page" 2>&1 >/dev/null || true)
		[ -z "$warn" ] || fail "$(basename "$page"): man warns: $warn"
	fi
	[ -z "$missing$extra" ] && echo "ok: $(basename "$page") and $name --help: the same $n long options"
done

if [ "$fails" -gt 0 ]; then
	echo "manpages: $fails check(s) failed" >&2
	exit 1
fi
echo "manpages: all pages match their program's --help"
