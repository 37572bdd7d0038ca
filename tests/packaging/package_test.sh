#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/packaging/package_test.sh: the Debian packages install what they
# promise, and what they install works.
#
#   bash tests/packaging/package_test.sh BUILD_DIR [SOURCE_DIR]
#
# BUILD_DIR is a configured and built tree (the `package` gate of
# deploy/test.sh builds build-pkg/ with Debian's build flags).  In a temporary folder:
#   1. `cpack -G DEB` makes exactly four packages: libinventoryN (N: the
#      SONAME's number of the built libinventory.so, never written here),
#      libinventory-dev, inventoryd and inventory-tools;
#   2. their control fields: Depends from dpkg-shlibdeps (libnng1, libpq5,
#      ...), libinventory-dev's on libinventoryN (= version), conffiles,
#      the library's shlibs and ldconfig trigger, Multi-Arch (same for
#      the library packages, foreign for the tools, no for the server:
#      deploy/package/multiarch.cmake writes it);
#   3. `dpkg-deb -x` each into its own root and all into one: each package
#      holds its files and no other package's (the library in
#      /usr/lib/<multiarch>, nothing in /usr/lib itself), the .proto is the
#      source's, the man pages are gzip -9n and render; the unit starts
#      /usr/bin/inventoryd as Type=notify with EnvironmentFile=
#      /etc/default/inventoryd, and `systemd-analyze verify` accepts it;
#   4. the unpacked `inventoryd --version` and `inventoryctl --version`
#      print this version;
#   5. the README's example (client/examples/reserve.c) builds against the
#      unpacked header and library with pkg-config (PKG_CONFIG_SYSROOT_DIR:
#      the unpacked root) and with CMake's find_package(inventory), links
#      the unpacked libinventory.so.N and prints its usage message;
#   6. lintian reports no error and no warning (overrides, shipped in
#      /usr/share/lintian/overrides/PKG with their reasons, are listed);
#   7. every program and the library are hardened (PIE, RELRO, BIND_NOW,
#      stack protector, FORTIFY): BUILD_DIR must be built with
#      dpkg-buildflags, as deploy/test.sh's package gate does.
set -euo pipefail

build=${1:?usage: package_test.sh BUILD_DIR [SOURCE_DIR]}
build=$(cd "$build" && pwd)
src=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || { echo "no CMAKE_PROJECT_VERSION in $build/CMakeCache.txt" >&2; exit 1; }
arch=$(dpkg --print-architecture)
ma=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
# N: the built library's SONAME, libinventory.so.N.
soname=$(find "$build" -name "libinventory.so" -not -path "*/_CPack_Packages/*" -exec objdump -p {} \; 2>/dev/null | awk '$1 == "SONAME" { print $2; exit }')
so=${soname#libinventory.so.}
[ -n "$soname" ] && [ "$so" != "$soname" ] || { echo "no libinventory.so with a SONAME in $build" >&2; exit 1; }
libpkg=libinventory$so

tmp=$(mktemp -d /tmp/inventory-package-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
check() { # description command...
	local what=$1
	shift
	if "$@" >/dev/null 2>&1; then ok "$what"; else fail "$what"; fi
}

# --- 1. cpack ---------------------------------------------------------------
echo "== cpack -G DEB ($build, version $version, $soname, /usr/lib/$ma)"
(cd "$build" && cpack -G DEB -B "$tmp/out") >"$tmp/cpack.log" 2>&1 ||
	{ cat "$tmp/cpack.log" >&2; echo "FAIL: cpack" >&2; exit 1; }
declare -A deb=()
for p in "$libpkg" libinventory-dev inventoryd inventory-tools; do
	deb[$p]=$tmp/out/${p}_${version}_$arch.deb
	[ -f "${deb[$p]}" ] || { ls "$tmp/out" >&2; echo "FAIL: no $(basename "${deb[$p]}")" >&2; exit 1; }
done
n=$(find "$tmp/out" -maxdepth 1 -name '*.deb' | wc -l)
[ "$n" -eq 4 ] && ok "exactly four packages" || fail "$n packages, expected 4: $(ls "$tmp/out")"
echo "== packages (bytes)"
for p in "${!deb[@]}"; do echo "  $(stat -c %s "${deb[$p]}") $(basename "${deb[$p]}")"; done | sort -k2

# --- 2. control fields ------------------------------------------------------
field() { dpkg-deb -f "$1" "$2"; }
for p in "${!deb[@]}"; do
	[ "$(field "${deb[$p]}" Package)" = "$p" ] || fail "$(basename "${deb[$p]}"): Package is not $p"
	[ -n "$(field "${deb[$p]}" Maintainer)" ] || fail "$p: no Maintainer"
	[ "$(field "${deb[$p]}" Version)" = "$version" ] || fail "$p: Version is not $version"
	mkdir -p "$tmp/ctl/$p"
	dpkg-deb -e "${deb[$p]}" "$tmp/ctl/$p"
done
ok "Package, Maintainer, Version of the four"
depends_has() { # package dependency...
	local p=$1 d
	shift
	d=$(field "${deb[$p]}" Depends)
	for want in "$@"; do
		grep -qE "(^|, )$want( \(|,|$)" <<<"$d" && ok "$p Depends: $want" ||
			fail "$p Depends lacks $want: $d"
	done
}
depends_has inventoryd libc6 libnng1 libpq5 libprotobuf-c1 libmicrohttpd12
depends_has inventory-tools libc6 libnng1 libprotobuf-c1 libjansson4
depends_has "$libpkg" libc6 libnng1 libprotobuf-c1
depends_has libinventory-dev libnng-dev libprotobuf-c-dev
dev_depends=$(field "${deb[libinventory-dev]}" Depends)
grep -qF "$libpkg (= $version)" <<<"$dev_depends" && ok "libinventory-dev Depends: $libpkg (= $version)" ||
	fail "libinventory-dev Depends lacks $libpkg (= $version): $dev_depends"
check "conffiles: /etc/default/inventoryd" grep -qx /etc/default/inventoryd "$tmp/ctl/inventoryd/conffiles"
check "shlibs: libinventory $so $libpkg (>= $version)" \
	grep -qxF "libinventory $so $libpkg (>= $version)" "$tmp/ctl/$libpkg/shlibs"
check "$libpkg: ldconfig trigger" grep -qx "activate-noawait ldconfig" "$tmp/ctl/$libpkg/triggers"
if grep -qsE '^[^#]*ldconfig' "$tmp/ctl/$libpkg/postinst" "$tmp/ctl/$libpkg/postrm"; then
	fail "$libpkg: a maintainer script calls ldconfig (the trigger does)"
fi
for want in "$libpkg same" "libinventory-dev same" "inventory-tools foreign" "inventoryd no"; do
	p=${want% *}
	m=$(field "${deb[$p]}" Multi-Arch) # dpkg-deb says "no" when absent
	[ "$m" = "${want#* }" ] && ok "$p Multi-Arch: ${m:-(none)}" ||
		fail "$p Multi-Arch is '${m}', expected '${want#* }'"
done

# --- 3. unpack ----------------------------------------------------------------
root=$tmp/root
mkdir -p "$root"
for p in "${!deb[@]}"; do
	mkdir -p "$tmp/only/$p"
	dpkg-deb -x "${deb[$p]}" "$tmp/only/$p"
	dpkg-deb -x "${deb[$p]}" "$root"
done
# expect PACKAGE FILE...: the package holds exactly these regular files
# and symlinks (besides /usr/share/doc/PACKAGE/{copyright,changelog.gz}
# and its lintian overrides, checked below).
expect() {
	local p=$1 got want
	shift
	got=$(cd "$tmp/only/$p" && find . ! -type d | sed 's|^\./||' |
		grep -v -e "^usr/share/doc/$p/" -e "^usr/share/lintian/overrides/$p$" | sort)
	want=$(printf '%s\n' "$@" | sort)
	if [ "$got" = "$want" ]; then
		ok "$p holds: $*"
	else
		fail "$p: files differ from the list (< missing, > extra): $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')"
	fi
	for f in copyright changelog.gz; do
		[ -f "$tmp/only/$p/usr/share/doc/$p/$f" ] || fail "$p: no /usr/share/doc/$p/$f"
	done
}
# The real file is whatever libinventory.so.N points to (its name follows
# the project's VERSION, N the SOVERSION: they need not agree).
realso=$(readlink "$tmp/only/$libpkg/usr/lib/$ma/libinventory.so.$so" || true)
expect "$libpkg" "usr/lib/$ma/libinventory.so.$so" "usr/lib/$ma/${realso:-libinventory.so.$so.REAL}"
[ -n "$realso" ] && [ -f "$tmp/only/$libpkg/usr/lib/$ma/$realso" ] &&
	ok "libinventory.so.$so -> $realso" || fail "libinventory.so.$so is not a link to a file of the package"
expect libinventory-dev usr/include/inventory/client.h \
	usr/include/inventory/adapters/libuv.h usr/include/inventory/adapters/libevent.h \
	"usr/lib/$ma/libinventory.so" "usr/lib/$ma/libinventory.a" \
	"usr/lib/$ma/pkgconfig/inventory.pc" \
	"usr/lib/$ma/cmake/inventory/inventory-config.cmake" \
	"usr/lib/$ma/cmake/inventory/inventory-config-version.cmake" \
	"usr/lib/$ma/cmake/inventory/inventory-targets.cmake" \
	"$(cd "$tmp/only/libinventory-dev" && ls usr/lib/"$ma"/cmake/inventory/inventory-targets-*.cmake 2>/dev/null | head -1 || echo "usr/lib/$ma/cmake/inventory/inventory-targets-CONFIG.cmake")" \
	usr/share/inventory/proto/inventory/v1/service.proto
[ "$(readlink "$tmp/only/libinventory-dev/usr/lib/$ma/libinventory.so")" = "libinventory.so.$so" ] &&
	ok "libinventory.so -> libinventory.so.$so" || fail "libinventory.so is not a link to libinventory.so.$so"
expect inventoryd usr/bin/inventoryd lib/systemd/system/inventoryd.service etc/default/inventoryd \
	usr/share/man/man8/inventoryd.8.gz
check "inventoryd: /usr/share/doc/inventoryd/README.md" test -f "$root/usr/share/doc/inventoryd/README.md"
expect inventory-tools usr/bin/inventoryctl usr/bin/inventory-bench \
	usr/share/man/man1/inventoryctl.1.gz usr/share/man/man1/inventory-bench.1.gz
check "the .proto is the source's" cmp "$src/proto/inventory/v1/service.proto" \
	"$root/usr/share/inventory/proto/inventory/v1/service.proto"
if find "$root" -path '*/usr/local*' | grep -q .; then
	fail "something is under /usr/local"
fi
if find "$root/usr/lib" -maxdepth 1 -name 'libinventory*' | grep -q .; then
	fail "a libinventory file in /usr/lib, not /usr/lib/$ma: $(find "$root/usr/lib" -maxdepth 1 -name 'libinventory*')"
fi
[ -f "$root/usr/share/lintian/overrides/$libpkg" ] && ok "lintian overrides: /usr/share/lintian/overrides/$libpkg" ||
	fail "no /usr/share/lintian/overrides/$libpkg"

# Man pages: gzip -9n (no name, no time stamp), and they render.
for page in usr/share/man/man8/inventoryd.8.gz usr/share/man/man1/inventoryctl.1.gz \
	usr/share/man/man1/inventory-bench.1.gz; do
	f=$root/$page
	[ -f "$f" ] || continue
	# Header: ID1 ID2 CM FLG MTIME(4): no FNAME flag (0x08), MTIME 0.
	hdr=$(od -An -tx1 -N8 "$f" | tr -d ' \n')
	if gzip -t "$f" && [ "${hdr:6:2}" = 00 ] && [ "${hdr:8:8}" = 00000000 ]; then
		ok "$page: gzip -n"
	else
		fail "$page: not gzip -n (header $hdr)"
	fi
	warn=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$f" 2>&1 >/dev/null) ||
		fail "$page: man -l failed"
	[ -z "$warn" ] && ok "$page renders without warnings" || fail "$page: $warn"
done

unit=$root/lib/systemd/system/inventoryd.service
check "unit: ExecStart=/usr/bin/inventoryd" grep -qx "ExecStart=/usr/bin/inventoryd" "$unit"
check "unit: Type=notify" grep -qx "Type=notify" "$unit"
check "unit: WatchdogSec=" grep -q "^WatchdogSec=[1-9]" "$unit"
check "unit: EnvironmentFile=-/etc/default/inventoryd" grep -qx "EnvironmentFile=-/etc/default/inventoryd" "$unit"
if grep -q /usr/local "$unit"; then fail "unit still names /usr/local"; fi
pc=$root/usr/lib/$ma/pkgconfig/inventory.pc
check "inventory.pc: prefix=/usr" grep -qx "prefix=/usr" "$pc"
check "inventory.pc: libdir=\${prefix}/lib/$ma" grep -qxF "libdir=\${prefix}/lib/$ma" "$pc"
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify resolves ExecStart= on this machine: point it at the unpacked
	# binary in a copy.
	sed "s|/usr/bin/inventoryd|$root/usr/bin/inventoryd|g" "$unit" >"$tmp/inventoryd.service"
	if systemd-analyze verify "$tmp/inventoryd.service" >"$tmp/verify.log" 2>&1; then
		ok "systemd-analyze verify"
	else
		cat "$tmp/verify.log" >&2
		fail "systemd-analyze verify"
	fi
fi
export LD_LIBRARY_PATH=$root/usr/lib/$ma

# --- 4. the unpacked programs run --------------------------------------------
out=$("$root/usr/bin/inventoryd" --version 2>&1) || fail "inventoryd --version exited $?"
[ "$out" = "inventoryd $version" ] && ok "inventoryd --version: $out" ||
	fail "inventoryd --version said '$out'"
out=$("$root/usr/bin/inventoryctl" --version 2>&1) || fail "inventoryctl --version exited $?"
[ "$out" = "inventoryctl $version" ] && ok "inventoryctl --version: $out" ||
	fail "inventoryctl --version said '$out'"
"$root/usr/bin/inventory-bench" --help >/dev/null 2>&1 && ok "inventory-bench --help" ||
	fail "inventory-bench --help"

# --- 5. the README's example against the unpacked library --------------------
# run_example BIN: it must load the unpacked libinventory.so.N and print
# its usage message with exit 2 (no server needed for that).
run_example() {
	local bin=$1 how=$2 rc=0 msg lib
	lib=$(ldd "$bin" | awk -v so="$soname" '$1 == so { print $3 }')
	[ "$lib" = "$root/usr/lib/$ma/$soname" ] && ok "$how: links the unpacked $soname" ||
		fail "$how: $soname resolves to '$lib'"
	msg=$("$bin" 2>&1) || rc=$?
	if [ "$rc" -eq 2 ] && grep -q "^usage: reserve URL PRODUCT_ID N" <<<"$msg"; then
		ok "$how: the example runs (usage, exit 2)"
	else
		fail "$how: the example exited $rc: $msg"
	fi
}
example=$src/client/examples/reserve.c
export PKG_CONFIG_PATH=$root/usr/lib/$ma/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
pc_flags=$(pkg-config --cflags --libs inventory) ||
	{ fail "pkg-config inventory"; pc_flags=""; }
case "$pc_flags" in
*"-I$root/usr/include"*"-L$root/usr/lib/$ma "* | *"-L$root/usr/lib/$ma "*"-I$root/usr/include"*)
	ok "pkg-config: $pc_flags" ;;
*) fail "pkg-config flags do not point into the unpacked root: $pc_flags" ;;
esac
# shellcheck disable=SC2086
if cc -o "$tmp/reserve-pc" "$example" $pc_flags 2>"$tmp/cc.log"; then
	ok "cc reserve.c \$(pkg-config --cflags --libs inventory)"
	run_example "$tmp/reserve-pc" pkg-config
else
	cat "$tmp/cc.log" >&2
	fail "the example does not build with pkg-config"
fi
unset PKG_CONFIG_PATH PKG_CONFIG_SYSROOT_DIR

mkdir -p "$tmp/cmake-app"
cat >"$tmp/cmake-app/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.18)
project(reserve_app LANGUAGES C)
find_package(inventory $version REQUIRED)
add_executable(reserve $example)
target_link_libraries(reserve PRIVATE inventory::inventory)
EOF
if cmake -S "$tmp/cmake-app" -B "$tmp/cmake-app/build" -DCMAKE_PREFIX_PATH="$root/usr" \
	-DCMAKE_FIND_ROOT_PATH="$root" >"$tmp/cmake.log" 2>&1 &&
	cmake --build "$tmp/cmake-app/build" >>"$tmp/cmake.log" 2>&1; then
	ok "find_package(inventory) from the unpacked root"
	run_example "$tmp/cmake-app/build/reserve" find_package
else
	cat "$tmp/cmake.log" >&2
	fail "the example does not build with find_package(inventory)"
fi

# --- 6. lintian ------------------------------------------------------------------
# No error and no warning; what is overridden is listed with its reason.
if command -v lintian >/dev/null 2>&1; then
	echo "== lintian"
	rc=0
	lintian --fail-on error,warning "${deb[@]}" >"$tmp/lintian.log" 2>&1 || rc=$?
	# The same run listing the overrides with their reasons (lintian exits
	# 2 on them with --show-overrides, so its status is not the verdict).
	lintian --show-overrides "${deb[@]}" >"$tmp/lintian-o.log" 2>&1 || true
	grep -v "^running with root privileges" "$tmp/lintian-o.log" | sed 's/^/  /' || true
	nw=$(grep -c "^[EW]: " "$tmp/lintian.log" || true)
	no=$(grep -c "^O: " "$tmp/lintian-o.log" || true)
	if [ "$rc" -eq 0 ] && [ "$nw" -eq 0 ]; then
		ok "lintian: no error, no warning ($no overridden)"
	else
		fail "lintian: $nw error(s) or warning(s) (exit $rc)"
	fi
else
	fail "lintian is not installed (apt-get install lintian)"
fi

# --- 7. hardening ---------------------------------------------------------------
# Built as Debian builds a package (dpkg-buildflags with
# DEB_BUILD_MAINT_OPTIONS=hardening=+all; the package gate does so): every
# ELF file is position-independent, its relocations read-only after start
# (GNU_RELRO and BIND_NOW), its stack protected (__stack_chk_fail); the
# server and the CLI call glibc's fortified (_chk) functions.  A plain
# Release build fails this (no BIND_NOW, no stack protector).
echo "== hardening"
for f in "$root/usr/bin/inventoryd" "$root/usr/bin/inventoryctl" \
	"$root/usr/bin/inventory-bench" "$root/usr/lib/$ma/$soname"; do
	n=${f#"$root"}
	[ -f "$f" ] || { fail "hardening: no $n"; continue; }
	# Read whole first: grep -q would end a pipe early and pipefail
	# count the writer's SIGPIPE as a failure.
	miss= hdr=$(readelf -hlW "$f") dyn=$(readelf -dW "$f") syms=$(nm -D "$f")
	[ "$(awk '$1 == "Type:" { print $2 }' <<<"$hdr")" = DYN ] || miss="$miss PIE"
	grep -q GNU_RELRO <<<"$hdr" || miss="$miss RELRO"
	grep -Eq 'BIND_NOW|FLAGS_1.* NOW' <<<"$dyn" || miss="$miss BIND_NOW"
	grep -q ' __stack_chk_fail' <<<"$syms" || miss="$miss stack-protector"
	case $n in */bin/inventoryd | */bin/inventoryctl)
		grep -Eq ' __[a-z]+_chk(@|$)' <<<"$syms" || miss="$miss FORTIFY" ;;
	esac
	[ -z "$miss" ] && ok "hardening: $n (PIE, RELRO, BIND_NOW, stack protector)" ||
		fail "hardening: $n lacks$miss"
done

if [ "$fails" -gt 0 ]; then
	echo "package_test: $fails check(s) failed" >&2
	exit 1
fi
echo "package_test: all checks passed"
