#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Gate: coverage-guided fuzzing of everything that parses network bytes.
#
#   deploy/scripts/gates/fuzz.sh            every target, 30 s each (13
#                                           targets: the gate stays ~7 min)
#   FUZZ_SECONDS=300 deploy/scripts/gates/fuzz.sh
#   FUZZ_TARGETS="envelope handle_update" deploy/scripts/gates/fuzz.sh
#
# Builds tests/fuzz with clang and -DINVENTORY_FUZZ=ON in build-fuzz/
# (its own build directory), then runs each libFuzzer target for
# FUZZ_SECONDS (-max_total_time) starting from a scratch copy of its seed
# corpus (tests/fuzz/corpus/<target>/, never written to).  Prints the
# executions per target (libFuzzer's final stats) and exits non-zero if
# any target crashed, leaked, tripped a sanitizer or an invariant, or did
# not run.  Crashing inputs are kept in build-fuzz/fuzz-artifacts/.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
cd "$root"
seconds=${FUZZ_SECONDS:-30}
build=${FUZZ_BUILD_DIR:-build-fuzz}
targets=${FUZZ_TARGETS:-envelope handle_get handle_update handle_create handle_batch_get handle_adjust handle_reserve handle_list batch auth client_reply pbjson connect}
jobs=$(nproc 2>/dev/null || echo 2)
cc=${FUZZ_CC:-clang}

command -v "$cc" >/dev/null || { echo "fuzz: $cc not found" >&2; exit 1; }
echo "fuzz: building $targets with $cc in $build/"
CC=$cc cmake -S "${FUZZ_SOURCE_DIR:-.}" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DINVENTORY_FUZZ=ON -DINVENTORY_SANITIZER= -DBUILD_TESTING=ON >/dev/null
cmake --build "$build" -j "$jobs" \
	--target $(for t in $targets; do printf 'fuzz_%s ' "$t"; done)

work=$build/fuzz-work
artifacts=$build/fuzz-artifacts
rm -rf "$work"
mkdir -p "$work" "$artifacts"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
printf '%-16s %12s %10s %8s %s\n' target executions exec/s corpus result
summary=()
for t in $targets; do
	bin=$(find "$build" -type f -name "fuzz_$t" -perm -u+x | head -n 1)
	if [ -z "$bin" ]; then
		echo "fuzz: no binary for $t" >&2
		failed+=("$t")
		continue
	fi
	seeds=tests/fuzz/corpus/$t
	mkdir -p "$work/$t"
	log=$work/$t.log
	rc=0
	"$bin" -max_total_time="$seconds" -max_len=4096 -timeout=10 \
		-rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$artifacts/$t-" \
		"$work/$t" "$seeds" >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
	ncorp=$(find "$work/$t" -type f | wc -l)
	if [ "$rc" -eq 0 ] && [ -n "$execs" ] && [ "$execs" -gt 0 ]; then
		result=ok
	else
		result="FAILED (exit $rc)"
		failed+=("$t")
	fi
	summary+=("$(printf '%-16s %12s %10s %8s %s' "$t" "${execs:-?}" "${rate:-?}" "$ncorp" "$result")")
	echo "${summary[-1]}"
	if [ "$result" != ok ]; then
		echo "---- $t: last lines of $log" >&2
		grep -E 'ERROR|invariant failed|SUMMARY|Test unit written|==[0-9]+==' "$log" | head -n 20 >&2 || true
		tail -n 30 "$log" >&2
	fi
done

echo "fuzz: $seconds s per target; seeds from tests/fuzz/corpus/, logs in $work/"
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz: FAILED: ${failed[*]} (inputs in $artifacts/)" >&2
	exit 1
fi
echo "fuzz: all targets clean"
