#!/bin/sh
# pglite-test-server.sh - start or stop PGlite (PostgreSQL in WASM) with the
# pgvector extension, served on a unix socket, for the 'pgvector' test suite.
#
#   eval "$(scripts/pglite-test-server.sh start)"  # exports CM_TEST_PGVECTOR_URI, CM_PGLITE_DIR
#   meson test -C build --suite pgvector -v
#   scripts/pglite-test-server.sh stop              # uses $CM_PGLITE_DIR (or: stop DIR)
#
# The npm packages pinned in tests/pglite/package.json (+ package-lock.json) are
# installed into tests/pglite/node_modules (gitignored) on first use with `npm ci`.
# The server (tests/pglite/server.mjs) runs in the background in a fresh `mktemp -d`
# directory holding its socket, pid and log; the database is in memory and goes
# with the process. Limits: ONE connection at a time, session state survives
# between connections, start-up takes 5-10 s, queries run 10-30x slower than on a
# native server. Needs node (>= 18) and npm.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
pkg=$here/tests/pglite

start() {
    command -v node >/dev/null 2>&1 || {
        echo "pglite-test-server: node is not installed" >&2
        exit 1
    }
    if [ ! -f "$pkg/node_modules/@electric-sql/pglite-socket/package.json" ] ||
        [ ! -f "$pkg/node_modules/@electric-sql/pglite-pgvector/package.json" ]; then
        (cd "$pkg" && npm ci --no-audit --no-fund --loglevel=error >&2) || {
            echo "pglite-test-server: npm ci failed in $pkg" >&2
            exit 1
        }
    fi
    dir=$(mktemp -d "${TMPDIR:-/tmp}/cm-pglite.XXXXXX")
    node "$pkg/server.mjs" --path "$dir/.s.PGSQL.5432" >"$dir/server.log" 2>&1 &
    echo $! >"$dir/pid"
    # READY appears once the socket accepts connections (5-10 s: WASM start-up).
    i=0
    while ! grep -q '^READY' "$dir/server.log" 2>/dev/null; do
        if ! kill -0 "$(cat "$dir/pid")" 2>/dev/null || [ $i -ge 600 ]; then
            cat "$dir/server.log" >&2
            kill "$(cat "$dir/pid")" 2>/dev/null || true
            rm -rf "$dir"
            echo "pglite-test-server: PGlite did not start" >&2
            exit 1
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "export CM_PGLITE_DIR='$dir'"
    echo "export CM_TEST_PGVECTOR_URI='postgresql:///postgres?host=$dir&user=postgres&sslmode=disable'"
}

stop() {
    dir=${1:-${CM_PGLITE_DIR:-}}
    if [ -z "$dir" ] || [ ! -f "$dir/pid" ]; then
        echo "pglite-test-server: stop: no server directory (give it or set CM_PGLITE_DIR)" >&2
        exit 1
    fi
    pid=$(cat "$dir/pid")
    kill "$pid" 2>/dev/null || true
    i=0
    while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do
        sleep 0.1
        i=$((i + 1))
    done
    kill -9 "$pid" 2>/dev/null || true
    rm -rf "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    *)
        echo "usage: $0 start | stop [DIR]" >&2
        exit 2
        ;;
esac
