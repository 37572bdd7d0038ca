# SPDX-License-Identifier: MIT
# deps.sh: install the build and test dependencies that are missing.
# Sourced by deploy/run.sh and deploy/test.sh; defines inventory_deps.
#
#   inventory_deps [EXTRA_PACKAGE...]
#
# Only packages that are not installed are installed, with one
# `apt-get update` first; as root directly, otherwise through sudo.
# Without apt-get (not Debian/Ubuntu) it only reports what is missing.

INVENTORY_DEPS=(cmake gcc make pkg-config libnng-dev libprotobuf-c-dev
	protobuf-c-compiler libpq-dev postgresql libcmocka-dev libmbedtls-dev
	libmicrohttpd-dev libuv1-dev libevent-dev libjansson-dev)
# libmicrohttpd: inventoryd's --http endpoint (and its Connect calls, read and
# written as JSON with jansson); libuv and libevent:
# libinventory's event-loop adapters, their examples and tests (optional at
# build time).

# What the tests need on top (deploy/test.sh installs them): curl and jq
# for the HTTP endpoint and the dashboard, promtool (prometheus) for the
# metrics and the alert rules, lintian and dpkg-dev (dpkg-shlibdeps, used
# by cpack) for the Debian packages, man-db (man --warnings renders the
# man pages in packaging.manpages and the package gate), xmllint
# (libxml2-utils) for the SVGs; protoc (protobuf-compiler) for the Connect
# client from npm (contract.connect_node, which also needs Node >= 20 with
# npm: not Debian 12's nodejs 18, so not installed here; without it that
# test is skipped and says so); openssl makes the TLS tests' certificates
# (tests/security/certs.sh, contract.connect_https); gdb prints a hung
# tls_storm's threads (security.tls_guard).
INVENTORY_TEST_DEPS=(curl jq prometheus lintian dpkg-dev file man-db libxml2-utils
	protobuf-compiler openssl gdb)

inventory_pkg_installed() {
	dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

inventory_deps() {
	local pkg missing=() sudo=()
	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "deps: not a Debian system; make sure these are installed: ${INVENTORY_DEPS[*]} $*" >&2
		return 0
	fi
	for pkg in "${INVENTORY_DEPS[@]}" "$@"; do
		inventory_pkg_installed "$pkg" || missing+=("$pkg")
	done
	if [ ${#missing[@]} -eq 0 ]; then
		return 0
	fi
	if [ "$(id -u)" -ne 0 ]; then
		if ! command -v sudo >/dev/null 2>&1; then
			echo "deps: missing ${missing[*]}; run as root or install sudo" >&2
			return 1
		fi
		sudo=(sudo)
	fi
	echo "deps: installing ${missing[*]}" >&2
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q || return 1
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
		--no-install-recommends "${missing[@]}" </dev/null || return 1
}

# Path of a built executable named $2 under build directory $1.
inventory_find_bin() {
	local f
	f=$(find "$1" -type f -name "$2" -perm -u+x -not -path '*/CMakeFiles/*' 2>/dev/null | head -n 1)
	[ -n "$f" ] || { echo "no $2 under $1: did the build succeed?" >&2; return 1; }
	echo "$f"
}
