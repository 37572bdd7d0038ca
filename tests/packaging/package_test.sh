#!/usr/bin/env bash
# tests/packaging/package_test.sh: the Debian packages install what they
# promise, and what they install works.
#
#   bash tests/packaging/package_test.sh BUILD_DIR [SOURCE_DIR]
#
# BUILD_DIR is a configured and built tree (the `package` gate of
# deploy/test.sh uses the Release build).  In a temporary folder:
#   1. `cpack -G DEB` makes inventoryd_V_ARCH.deb and
#      libinventory-dev_V_ARCH.deb (and nothing else);
#   2. their control fields: Depends from dpkg-shlibdeps (libnng1, libpq5,
#      ...), the dev package's explicit Depends, conffiles, shlibs, the
#      ldconfig trigger;
#   3. `dpkg-deb -x` both into one root; every promised file is there, the
#      unit starts /usr/bin/inventoryd with EnvironmentFile=
#      /etc/default/inventoryd, and `systemd-analyze verify` accepts it;
#   4. the unpacked `inventoryd --version` and `inventoryctl --version`
#      print this version;
#   5. the README's example (client/examples/reserve.c) builds against the
#      unpacked header and library with pkg-config (PKG_CONFIG_SYSROOT_DIR:
#      the unpacked root) and with CMake's
#      find_package(inventory), links the unpacked libinventory.so.1 and
#      prints its usage message;
#   6. lintian reports no errors (its warnings are printed).
set -euo pipefail

build=${1:?usage: package_test.sh BUILD_DIR [SOURCE_DIR]}
build=$(cd "$build" && pwd)
src=${2:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
version=$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")
[ -n "$version" ] || { echo "no CMAKE_PROJECT_VERSION in $build/CMakeCache.txt" >&2; exit 1; }
arch=$(dpkg --print-architecture)

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
echo "== cpack -G DEB ($build, version $version)"
(cd "$build" && cpack -G DEB -B "$tmp/out") >"$tmp/cpack.log" 2>&1 ||
	{ cat "$tmp/cpack.log" >&2; echo "FAIL: cpack" >&2; exit 1; }
srv=$tmp/out/inventoryd_${version}_$arch.deb
dev=$tmp/out/libinventory-dev_${version}_$arch.deb
for d in "$srv" "$dev"; do
	[ -f "$d" ] || { ls "$tmp/out" >&2; echo "FAIL: no $(basename "$d")" >&2; exit 1; }
done
n=$(find "$tmp/out" -maxdepth 1 -name '*.deb' | wc -l)
[ "$n" -eq 2 ] && ok "exactly two packages" || fail "$n packages, expected 2: $(ls "$tmp/out")"

# --- 2. control fields ------------------------------------------------------
field() { dpkg-deb -f "$1" "$2"; }
[ "$(field "$srv" Package)" = inventoryd ] && ok "Package: inventoryd" || fail "server package name"
[ "$(field "$dev" Package)" = libinventory-dev ] && ok "Package: libinventory-dev" || fail "dev package name"
for d in "$srv" "$dev"; do
	[ -n "$(field "$d" Maintainer)" ] || fail "$(basename "$d"): no Maintainer"
	[ "$(field "$d" Version)" = "$version" ] || fail "$(basename "$d"): Version is not $version"
done
srv_depends=$(field "$srv" Depends)
dev_depends=$(field "$dev" Depends)
for p in libc6 libnng1 libpq5 libprotobuf-c1 libmicrohttpd12; do
	grep -q "\b$p\b" <<<"$srv_depends" && ok "inventoryd Depends: $p" ||
		fail "inventoryd Depends lacks $p: $srv_depends"
done
for p in libnng1 libprotobuf-c1 libnng-dev libprotobuf-c-dev; do
	grep -q "\b$p\b" <<<"$dev_depends" && ok "libinventory-dev Depends: $p" ||
		fail "libinventory-dev Depends lacks $p: $dev_depends"
done
mkdir -p "$tmp/ctl-srv" "$tmp/ctl-dev"
dpkg-deb -e "$srv" "$tmp/ctl-srv"
dpkg-deb -e "$dev" "$tmp/ctl-dev"
check "conffiles: /etc/default/inventoryd" grep -qx /etc/default/inventoryd "$tmp/ctl-srv/conffiles"
check "shlibs: libinventory 1" grep -q "^libinventory 1 libinventory-dev" "$tmp/ctl-dev/shlibs"
check "ldconfig trigger" grep -qx "activate-noawait ldconfig" "$tmp/ctl-dev/triggers"

# --- 3. unpack ----------------------------------------------------------------
root=$tmp/root
mkdir -p "$root"
dpkg-deb -x "$srv" "$root"
dpkg-deb -x "$dev" "$root"
for f in usr/bin/inventoryd usr/bin/inventoryctl usr/bin/inventory-bench \
	lib/systemd/system/inventoryd.service etc/default/inventoryd \
	usr/share/doc/inventoryd/copyright usr/share/doc/inventoryd/changelog.gz \
	usr/share/doc/libinventory-dev/copyright usr/share/doc/libinventory-dev/changelog.gz \
	usr/include/inventory/client.h usr/lib/pkgconfig/inventory.pc \
	usr/lib/cmake/inventory/inventory-config.cmake \
	usr/lib/cmake/inventory/inventory-config-version.cmake \
	usr/lib/cmake/inventory/inventory-targets.cmake \
	usr/lib/libinventory.so usr/lib/libinventory.so.1 usr/lib/libinventory.a; do
	[ -e "$root/$f" ] || fail "not unpacked: /$f"
done
ok "every promised file is in the packages"
if find "$root" -path '*/usr/local*' | grep -q .; then
	fail "something is under /usr/local"
fi
unit=$root/lib/systemd/system/inventoryd.service
check "unit: ExecStart=/usr/bin/inventoryd" grep -qx "ExecStart=/usr/bin/inventoryd" "$unit"
check "unit: EnvironmentFile=-/etc/default/inventoryd" grep -qx "EnvironmentFile=-/etc/default/inventoryd" "$unit"
if grep -q /usr/local "$unit"; then fail "unit still names /usr/local"; fi
check "inventory.pc: prefix=/usr" grep -qx "prefix=/usr" "$root/usr/lib/pkgconfig/inventory.pc"
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
# run_example BIN: it must load the unpacked libinventory.so.1 and print
# its usage message with exit 2 (no server needed for that).
run_example() {
	local bin=$1 how=$2 rc=0 msg lib
	lib=$(LD_LIBRARY_PATH=$root/usr/lib ldd "$bin" | awk '$1 == "libinventory.so.1" { print $3 }')
	[ "$lib" = "$root/usr/lib/libinventory.so.1" ] && ok "$how: links the unpacked libinventory.so.1" ||
		fail "$how: libinventory.so.1 resolves to '$lib'"
	msg=$(LD_LIBRARY_PATH=$root/usr/lib "$bin" 2>&1) || rc=$?
	if [ "$rc" -eq 2 ] && grep -q "^usage: reserve URL PRODUCT_ID N" <<<"$msg"; then
		ok "$how: the example runs (usage, exit 2)"
	else
		fail "$how: the example exited $rc: $msg"
	fi
}
example=$src/client/examples/reserve.c
export PKG_CONFIG_PATH=$root/usr/lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
pc_flags=$(pkg-config --cflags --libs inventory) ||
	{ fail "pkg-config inventory"; pc_flags=""; }
case "$pc_flags" in
*"-I$root/usr/include"*"-L$root/usr/lib"* | *"-L$root/usr/lib"*"-I$root/usr/include"*)
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
if command -v lintian >/dev/null 2>&1; then
	echo "== lintian"
	rc=0
	lintian --fail-on error "$srv" "$dev" >"$tmp/lintian.log" 2>&1 || rc=$?
	grep -v "^running with root privileges" "$tmp/lintian.log" | sed 's/^/  /' || true
	if [ "$rc" -eq 0 ] && ! grep -q "^E: " "$tmp/lintian.log"; then
		ok "lintian: no errors ($(grep -c "^W: " "$tmp/lintian.log" || true) warnings)"
	else
		fail "lintian: errors (exit $rc)"
	fi
else
	fail "lintian is not installed (apt-get install lintian)"
fi

if [ "$fails" -gt 0 ]; then
	echo "package_test: $fails check(s) failed" >&2
	exit 1
fi
echo "package_test: all checks passed"
