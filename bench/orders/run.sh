#!/bin/sh
# run.sh - ticket purchase throughput (orders.create + orders.confirm_payment)
# on PostgreSQL and SQLite at 1, 4 and 16 clients, side by side with a
# Node.js + pg implementation of the same two steps (node/orders.mjs) on the
# same PostgreSQL server; prints a Markdown table.
#
#   bench/orders/run.sh [BUILD_DIR]      # default build-orderbench (release)
#
# Environment: CLIENTS ("1 4 16"), SECONDS_PER_POINT (10), ROUNDS (1), KEEP=1
# keeps the work directory, PG_BIN overrides the PostgreSQL server binaries.
#
# Builds libcommunity in BUILD_DIR and bench_orders against it, installs
# node/'s npm dependencies (pg), starts a throwaway PostgreSQL server with
# durable settings (fsync, synchronous_commit, full_page_writes on; unix
# socket only) and a SQLite file beside it (the library's defaults: WAL,
# commits synced), then runs each client count on each side, interleaved.
# Raw JSON lines go to the work directory's results.jsonl.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build-orderbench}
case "$build" in /*) ;; *) build="$root/$build" ;; esac
clients=${CLIENTS:-1 4 16}
secs=${SECONDS_PER_POINT:-10}
rounds=${ROUNDS:-1}

# ---- build ----
if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$root" -Dbuildtype=release >/dev/null
fi
lib=$(meson introspect "$build" --targets | python3 -c '
import json, sys
for t in json.load(sys.stdin):
    if t["name"] == "community" and t["type"] == "shared library" and "/lib/" in t["filename"][0]:
        print(t["filename"][0]); break')
ninja -C "$build" -j2 "${lib#"$build"/}" >/dev/null
mkdir -p "$build/bench-orders"
bench="$build/bench-orders/bench_orders"
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Wpedantic \
    -I"$root/include" -I"$build/include" -o "$bench" "$here/bench_orders.c" \
    -L"$(dirname "$lib")" -lcommunity -ljansson -lpthread -Wl,-rpath,"$(dirname "$lib")"
(cd "$here/node" && npm install --no-audit --no-fund >/dev/null)

# ---- a durable throwaway PostgreSQL ----
find_pg_bin() {
    if [ -n "${PG_BIN:-}" ]; then echo "$PG_BIN"; return; fi
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
        if [ -x "$d/initdb" ]; then echo "$d"; return; fi
    done
    echo "run.sh: no PostgreSQL server binaries (install postgresql-15)" >&2
    exit 1
}
as_owner() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
pgbin=$(find_pg_bin)
work=$(mktemp -d /var/tmp/cm-orderbench.XXXXXX)
chmod 755 "$work"
mkdir "$work/pg"
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$work/pg"
    pguser=postgres
else
    pguser=$(id -un)
fi
cleanup() {
    as_owner "$pgbin/pg_ctl" -D "$work/pg/data" -m fast -w stop >/dev/null 2>&1 || true
    if [ "${KEEP:-0}" = 1 ]; then echo "work directory kept: $work" >&2; else rm -rf "$work"; fi
}
trap cleanup EXIT INT TERM
as_owner "$pgbin/initdb" -D "$work/pg/data" -U "$pguser" -A trust -E UTF8 --locale=C \
    >"$work/initdb.log" 2>&1 || { cat "$work/initdb.log" >&2; exit 1; }
as_owner "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories=$work/pg -c fsync=on \
-c synchronous_commit=on -c full_page_writes=on -c max_connections=100" start >/dev/null || {
    cat "$work/pg/server.log" >&2
    exit 1
}
pg_uri="postgresql:///postgres?host=$work/pg&user=$pguser"
sqlite_uri="sqlite://$work/orders.db"
export PGHOST="$work/pg" PGUSER="$pguser" PGDATABASE=postgres
node "$here/node/orders.mjs" setup

{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpus: $(nproc), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "PostgreSQL $("$pgbin/postgres" --version | awk '{ print $3 }') (durable), Node $(node --version), pg $(node -p 'require("'"$here"'/node/node_modules/pg/package.json").version')"
} | tee "$work/machine.txt" >&2

# ---- points ----
results="$work/results.jsonl"
: >"$results"
fail=0
r=1
while [ "$r" -le "$rounds" ]; do
    for c in $clients; do
        for side in pg node sqlite; do
            case $side in
                pg) line=$("$bench" "$pg_uri" "$c" "$secs") || fail=1 ;;
                node) line=$(node "$here/node/orders.mjs" run "$c" "$secs") || fail=1 ;;
                sqlite) line=$("$bench" "$sqlite_uri" "$c" "$secs") || fail=1 ;;
            esac
            line=$(printf '%s' "$line" | sed "s/}\$/,\"round\":$r}/")
            echo "$line" >>"$results"
            echo "$line" >&2
        done
    done
    r=$((r + 1))
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$work/machine.txt" >&2

# ---- table ----
python3 - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = {"pg": "libcommunity, PostgreSQL", "node-pg": "Node + pg, PostgreSQL",
         "sqlite": "libcommunity, SQLite"}
order = {"pg": 0, "node-pg": 1, "sqlite": 2}
print("| Side | Clients | purchases/s | p50 (ms) | p99 (ms) | verified |")
print("| --- | ---: | ---: | ---: | ---: | --- |")
for r in sorted(rows, key=lambda r: (r["clients"], order[r["backend"]], r["round"])):
    print("| %s | %d | %s | %.1f | %.1f | %s |" % (names[r["backend"]], r["clients"],
          format(round(r["purchases_s"]), ","), r["p50_ms"], r["p99_ms"], r["verify"]))
print()
for c in sorted({r["clients"] for r in rows}):
    pg = [r["purchases_s"] for r in rows if r["clients"] == c and r["backend"] == "pg"]
    nd = [r["purchases_s"] for r in rows if r["clients"] == c and r["backend"] == "node-pg"]
    if pg and nd and min(nd) > 0:
        print("- %d clients: libcommunity / Node + pg on PostgreSQL = %.2fx" %
              (c, sum(pg) / len(pg) / (sum(nd) / len(nd))))
PY
exit $fail
