#!/usr/bin/env bash
# setup.sh - install the dependencies of libcommunity on Debian/Ubuntu.
#
#   setup.sh run    what building and running the library, the `community` CLI
#                   and the HTTP server need (scripts/run.sh uses this)
#   setup.sh [test] the above plus what the test suites, benchmarks and
#                   linters need: Check, clang, PostgreSQL, valgrind, the
#                   aarch64 cross compiler and qemu, prometheus (promtool),
#                   prometheus-alertmanager (amtool), ...
#                   (scripts/test.sh and CI use this)
#   setup.sh --list run|test   print the packages, one a line, and exit
#
# Idempotent: when every package is already installed, apt is not touched.
# Uses sudo only when not running as root.
set -euo pipefail

RUN_PACKAGES=(meson ninja-build pkg-config gcc libjansson-dev libuv1-dev
              libsqlite3-dev libpq-dev libsodium-dev libqrencode-dev libcurl4-openssl-dev libssl-dev libcmark-dev python3
              node-llhttp libstemmer-dev libhiredis-dev libmagic-dev libgd-dev)
TEST_PACKAGES=(clang clang-tidy cppcheck check postgresql-15 prometheus prometheus-alertmanager
               libclang-rt-14-dev valgrind
               yamllint shellcheck docker-compose wrk python3-aiosmtpd python3-botocore redis-server
               gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user nodejs
               buildah debootstrap haproxy zbar-tools)

list=
if [ "${1:-}" = --list ]; then
    list=1
    shift
fi
case "${1:-test}" in
    run) PACKAGES=("${RUN_PACKAGES[@]}") ;;
    test) PACKAGES=("${RUN_PACKAGES[@]}" "${TEST_PACKAGES[@]}") ;;
    *) echo "usage: setup.sh [--list] [run|test]" >&2; exit 2 ;;
esac
if [ -n "$list" ]; then
    printf '%s\n' "${PACKAGES[@]}"
    exit 0
fi

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all ${1:-test} dependencies are installed"
    exit 0
fi

echo "setup: installing ${missing[*]}"
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root or sudo to install packages" >&2; exit 1; }
    SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
