#!/usr/bin/env bash
# run.sh BUILD_DIR SOURCE_ROOT - the multi-host test (meson test multihost):
# makes sure examples/nextjs has a production build on BUILD_DIR's Node addon
# (npm ci, the addon copied in, next build: as scripts/e2e.sh does; skipped when
# the installed addon is already BUILD_DIR's and a build exists), then runs
# multihost.py. TAP on stdout; the app's build log in BUILD_DIR/meson-logs.
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$2" && pwd)
app=$src/examples/nextjs
pkg=$build/bindings/node

missing=""
for t in haproxy redis-server psql node npm curl; do
    command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
    echo "1..1"
    echo "not ok 1 - the multi-host test needs:$missing (scripts/setup.sh installs them)"
    exit 1
fi

same() { cmp -s "$pkg/$1" "$app/node_modules/@libcommunity/node/$1"; }
if [ ! -f "$app/.next/BUILD_ID" ] || ! same community.node || ! same libcommunity.so.0; then
    log=$build/meson-logs/multihost-next-build.log
    export NEXT_TELEMETRY_DISABLED=1 npm_config_audit=false npm_config_fund=false
    if ! (cd "$app" && npm ci --include=dev &&
        npm install --no-save --install-links --include=dev "$pkg" &&
        node node_modules/next/dist/bin/next build) >"$log" 2>&1; then
        echo "1..1"
        echo "not ok 1 - the Next.js app builds (see $log)"
        tail -n 30 "$log" | sed 's/^/# /'
        exit 1
    fi
fi
exec python3 "$src/tests/hosts/multihost.py" "$build" "$src"
