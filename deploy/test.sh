#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# deploy/test.sh: build and run every test gate; exit non-zero if any failed.
#
#   bash deploy/test.sh                 all default gates
#   INVENTORY_GATES="build" bash deploy/test.sh   only some
#
# Gates (each a function gate_<name> below, run in this order):
#   deploy    no build: the alert rules (promtool check rules, promtool
#             test rules) and the dashboard's queries (jq), deploy/monitoring/
#             check.sh; compare.sh's SVG writer (xmllint), deploy/bench/
#             svgbars_test.sh
#   release   Release builds (-O3) with gcc and with clang, -Werror, no run
#   package   cpack -G DEB in the release gate's gcc build; the packages
#             unpacked, run, built against, and lintian without errors
#             (tests/packaging/package_test.sh)
#   monitoring  that build's inventoryd --http on a private PostgreSQL: its
#             /metrics passes promtool check metrics and holds every metric
#             and label the alerts and the dashboard use
#             (deploy/monitoring/live_test.sh)
#   build     configure + build into build/, then ctest (unit, contract and
#             concurrency tests against a private PostgreSQL and a real
#             inventoryd, all started by ctest fixtures)
#   asan      the same in build-asan/ with -DINVENTORY_SANITIZER=address,undefined
#             (clang if it can link sanitizers, else gcc); leaks fail the run
#   tsan      (opt-in) the same in build-tsan/ with ThreadSanitizer
#   format    clang-format 14 --dry-run --Werror over every tracked .c/.h
#   tidy      clang-tidy 14 (.clang-tidy) and cppcheck over src/ and client/
#   valgrind  -O0 -g build; contract tests and inventoryd under memcheck
#   fuzz      each libFuzzer target for FUZZ_SECONDS (30) over its corpus
#   other     any deploy/scripts/gates/NAME.sh (see "hooks" below)
#   ha        PostgreSQL failover (pg_auto_failover) and network partitions
#             (namespaces) under a write load, history checked: deploy/ha/
#             failover-test.sh and partition-test.sh (~3 min)
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/deps.sh
. deploy/scripts/deps.sh

# Cheap static gates first, so a formatting slip fails in seconds.
DEFAULT_GATES="format tidy deploy release package monitoring build asan valgrind fuzz"
DEFAULT_GATES="$DEFAULT_GATES ha" # last: the slowest, and it needs root for namespaces
gates=${INVENTORY_GATES:-$DEFAULT_GATES}
jobs=$(nproc 2>/dev/null || echo 2)
export CTEST_OUTPUT_ON_FAILURE=1

say() { printf '\n==> %s\n' "$*"; }

# configure_build DIR [cmake args...]: configure and build DIR.  The gates
# build with -Werror (a user's build does not: INVENTORY_WERROR is off by
# default).
configure_build() {
	local dir=$1
	shift
	cmake -S . -B "$dir" -DINVENTORY_WERROR=ON "$@" &&
		cmake --build "$dir" -j "$jobs"
}

# --no-tests=error: a build dir that registered no test (a configure that
# lost its suites) fails instead of "passing" with nothing run.
run_ctest() {
	ctest --test-dir "$1" --output-on-failure --no-tests=error -j "$jobs" \
		--timeout 600
}

# The most common CMake line, as a packager types it, with gcc and with
# clang (tests built, not run: the build gate runs them): -O3 brings
# warnings the other gates' -O0/-O2 builds never see.
gate_release() {
	local cc
	for cc in gcc clang; do
		command -v "$cc" >/dev/null 2>&1 || { echo "release gate needs $cc" >&2; return 1; }
		echo "release build with $cc"
		CC=$cc configure_build "build-release-$cc" \
			-DCMAKE_BUILD_TYPE=Release || return 1
	done
}

# Seconds, no build: what deploy/ ships besides the programs.
gate_deploy() {
	bash deploy/monitoring/check.sh &&
		bash deploy/bench/svgbars_test.sh
}

# The Debian packages, from the release gate's gcc build (configured and
# built here if that gate did not run: same directory, same flags).
# Built as a Debian package is: dpkg-buildflags with every hardening
# feature (DEB_BUILD_MAINT_OPTIONS=hardening=+all), CMAKE_BUILD_TYPE=None
# so that only those flags apply (debhelper's cmake does the same), no
# test suite; package_test.sh checks the hardening in the packages.
gate_package() {
	(
		export DEB_BUILD_MAINT_OPTIONS=hardening=+all
		eval "$(dpkg-buildflags --export=sh)"
		export CFLAGS="$CFLAGS $CPPFLAGS"
		configure_build build-pkg -DCMAKE_BUILD_TYPE=None -DINVENTORY_BUILD_TESTS=OFF
	) && bash tests/packaging/package_test.sh build-pkg "$root"
}

# The alerts' and the dashboard's metrics against a real scrape, from the
# same Release build.
gate_monitoring() {
	configure_build build-release-gcc -DCMAKE_BUILD_TYPE=Release &&
		bash deploy/monitoring/live_test.sh build-release-gcc
}

gate_build() {
	configure_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		run_ctest build
}

# The first of clang, gcc that compiles and links an ASan+UBSan program.
sanitizer_cc() {
	local cc t
	t=$(mktemp -d)
	echo 'int main(void){return 0;}' >"$t/t.c"
	for cc in ${CC:-} clang gcc cc; do
		command -v "$cc" >/dev/null 2>&1 || continue
		if "$cc" -fsanitize=address,undefined "$t/t.c" -o "$t/t" 2>/dev/null &&
			"$t/t"; then
			rm -rf "$t"
			echo "$cc"
			return 0
		fi
	done
	rm -rf "$t"
	return 1
}

gate_asan() {
	local cc
	cc=$(sanitizer_cc) || { echo "no compiler can build with -fsanitize=address,undefined" >&2; return 1; }
	echo "sanitizer build with $cc"
	CC=$cc configure_build build-asan -DCMAKE_BUILD_TYPE=Debug \
		-DINVENTORY_SANITIZER=address,undefined || return 1
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:strict_string_checks=1 \
		UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		LSAN_OPTIONS=${LSAN_OPTIONS:-} \
		run_ctest build-asan
}

# Opt-in (INVENTORY_GATES="build asan tsan"): the same under ThreadSanitizer
# in build-tsan/ (clang).  Server-side reports fail the server fixture's
# cleanup (tests/support/server-stop.sh greps the server log).
gate_tsan() {
	command -v clang >/dev/null 2>&1 || { echo "tsan gate needs clang" >&2; return 1; }
	CC=clang configure_build build-tsan -DCMAKE_BUILD_TYPE=Debug \
		-DINVENTORY_SANITIZER=thread || return 1
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 run_ctest build-tsan
}

# PostgreSQL failover and network partitions (deploy/ha/): only
# inventoryd and the history recorder are built, in build-ha/; each test
# is bounded by `timeout` and cleans up after itself.
gate_ha() {
	local d=build-ha srv hist
	inventory_deps postgresql-15-auto-failover iproute2 iptables || return 1
	cmake -S . -B "$d" -DINVENTORY_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo &&
		cmake --build "$d" -j "$jobs" --target inventoryd inventory-history ||
		return 1
	srv=$(inventory_find_bin "$d" inventoryd) &&
		hist=$(inventory_find_bin "$d" inventory-history) || return 1
	local rc=0
	timeout 300 bash deploy/ha/failover-test.sh "$srv" "$hist" || rc=$?
	if [ "$rc" -eq 3 ]; then
		# The database layer lost commits (pg_auto_failover 2.0's monitor
		# race, #774, or a read of a local commit that a rewind then
		# discarded; see deploy/ha/common.sh): that run judged the
		# database layer, not inventoryd.  Once more; a second time fails
		# the gate.
		echo "==> gate ha: the database layer discarded commits in the failover test (exit 3); running it once more"
		rc=0
		timeout 300 bash deploy/ha/failover-test.sh "$srv" "$hist" || rc=$?
	fi
	[ "$rc" -eq 0 ] && timeout 300 bash deploy/ha/partition-test.sh "$srv" "$hist"
}

# --- hooks for later gates ---------------------------------------------------
# A gate NAME without its own function here runs deploy/scripts/gates/NAME.sh
# (from the repository root; non-zero exit = gate failed).  To add one:
# write that script, then add NAME to DEFAULT_GATES (or select it with
# INVENTORY_GATES).  Existing scripts: valgrind.sh, fuzz.sh, tidy.sh,
# format.sh.
run_gate() {
	local g=$1
	if declare -F "gate_$g" >/dev/null; then
		"gate_$g"
	elif [ -f "deploy/scripts/gates/$g.sh" ]; then
		bash "deploy/scripts/gates/$g.sh"
	else
		echo "gate '$g' is not implemented (no gate_$g, no deploy/scripts/gates/$g.sh)" >&2
		return 1
	fi
}

# The gates' tools on top of the build dependencies: the static checks',
# the sanitizers', the monitoring checks' (promtool is in prometheus), the
# packages' (dpkg-dev: dpkg-shlibdeps for CPack), the SVG test's (xmllint).
inventory_deps clang libclang-rt-14-dev clang-tidy clang-format cppcheck \
	valgrind python3 "${INVENTORY_TEST_DEPS[@]}"

failed=()
passed=()
for g in $gates; do
	say "gate $g"
	start=$SECONDS
	if ( set +e; run_gate "$g" ); then
		passed+=("$g($((SECONDS - start))s)")
	else
		failed+=("$g($((SECONDS - start))s)")
		say "gate $g FAILED"
	fi
done

say "passed: ${passed[*]:-none}"
if [ ${#failed[@]} -gt 0 ]; then
	say "FAILED: ${failed[*]}"
	exit 1
fi
say "all gates passed"
