#!/usr/bin/env bash
# setup.sh - install the build dependencies of libcommunity on Debian/Ubuntu.
# Idempotent: when every package is already installed, apt is not touched.
# Uses sudo only when not running as root.
set -euo pipefail

PACKAGES=(meson ninja-build pkg-config gcc clang check libjansson-dev libuv1-dev
          libsqlite3-dev libpq-dev libsodium-dev libcurl4-openssl-dev python3
          postgresql-15 node-llhttp prometheus libclang-rt-14-dev valgrind
          yamllint shellcheck docker-compose wrk python3-aiosmtpd
          gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)

missing=()
for p in "${PACKAGES[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: all build dependencies are installed"
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
