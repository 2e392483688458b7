#!/bin/sh
# with-s3.sh COMMAND [ARGS...] - run COMMAND with an S3-compatible server
# (s3rver from npm, pinned in tests/blob/s3rver/package-lock.json) started
# on a loopback port for it, then stop the server. COMMAND sees
#   CM_TEST_S3_ENDPOINT  http://127.0.0.1:PORT   (bucket cm-test, path style)
#   CM_TEST_S3_DIR       where the server keeps the objects
# The npm packages are installed into tests/blob/s3rver/node_modules
# (gitignored) with `npm ci` on first use. Needs node and npm: without them
# this fails (it never skips).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
pkg=$here/s3rver
command -v node >/dev/null 2>&1 || { echo "with-s3: node is not installed" >&2; exit 1; }
if [ ! -f "$pkg/node_modules/s3rver/package.json" ]; then
    (cd "$pkg" && npm ci --no-audit --no-fund --loglevel=error >&2) || {
        echo "with-s3: npm ci failed in $pkg" >&2
        exit 1
    }
fi
dir=$(mktemp -d "${TMPDIR:-/tmp}/cm-s3.XXXXXX")
mkdir "$dir/data"
node "$pkg/server.mjs" "$dir/data" >"$dir/server.log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; rm -rf "$dir"' EXIT INT TERM
i=0
while ! grep -q '^READY' "$dir/server.log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null || [ $i -ge 300 ]; then
        cat "$dir/server.log" >&2
        echo "with-s3: s3rver did not start" >&2
        exit 1
    fi
    i=$((i + 1))
    sleep 0.1
done
port=$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$dir/server.log")
CM_TEST_S3_ENDPOINT=http://127.0.0.1:$port CM_TEST_S3_DIR=$dir/data "$@"
