#!/bin/sh
# run.sh - RSVP write throughput (rsvps.add / rsvps.cancel) on PostgreSQL and
# SQLite at 1, 4 and 16 concurrent clients, in one run; prints a Markdown table.
#
#   bench/rsvp/run.sh [BUILD_DIR]        # default build-rsvpbench (release)
#
# Environment: CLIENTS ("1 4 16"), SECONDS_PER_POINT (10), ROUNDS (1: every
# round runs each backend at each client count, interleaved), KEEP=1 keeps the
# work directory; BENCH_RSVP_MEMBERS / _EVENTS / _CAPACITY size the data set
# (see bench_rsvp.c). PG_BIN overrides the PostgreSQL server binaries.
#
# What it does: builds libcommunity in BUILD_DIR (meson, -Dbuildtype=release)
# and bench_rsvp against it; starts a throwaway PostgreSQL server with durable
# settings (fsync=on, synchronous_commit=on, full_page_writes=on, unix socket
# only, in a mktemp directory under /var/tmp) and creates a SQLite file beside
# it (the library's defaults: WAL, every commit synced before it returns); loads the same data set
# into both, then runs each client count for SECONDS_PER_POINT against each
# backend (pool_size = clients), verifying the seat invariants after every
# point. On PostgreSQL the server-side rollbacks and deadlocks during each
# point come from pg_stat_database (each retry of the library's transaction
# loop is one rollback). Raw JSON lines go to the work directory's results.jsonl.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build-rsvpbench}
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
mkdir -p "$build/bench-rsvp"
bench="$build/bench-rsvp/bench_rsvp"
${CC:-cc} -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -Wpedantic \
    -I"$root/include" -I"$build/include" -o "$bench" "$here/bench_rsvp.c" \
    -L"$(dirname "$lib")" -lcommunity -ljansson -lpthread -Wl,-rpath,"$(dirname "$lib")"

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
work=$(mktemp -d /var/tmp/cm-rsvpbench.XXXXXX)
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
sqlite_uri="sqlite://$work/rsvp.db"
pgstat() {
    psql -X -At -h "$work/pg" -U "$pguser" -d postgres -c \
        "SELECT xact_rollback || ' ' || deadlocks FROM pg_stat_database WHERE datname = 'postgres'"
}

# ---- machine ----
dsync=$(cd "$work" && dd if=/dev/zero of=dsync.tmp bs=4k count=500 oflag=dsync 2>&1 |
    awk '/copied/ { printf "%.2f", $(NF-3) * 1000 / 500 }'; rm -f "$work/dsync.tmp")
pgver=$("$pgbin/postgres" --version | awk '{ print $3 }')
sqlver=$(sqlite3 --version 2>/dev/null | awk '{ print $1 }' || echo "?")
{
    echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "cpus: $(nproc), load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "4 KiB O_DSYNC write: ${dsync} ms"
    echo "PostgreSQL $pgver (fsync, synchronous_commit, full_page_writes on), SQLite $sqlver (WAL, commits synced before they return, one fdatasync per group)"
} | tee "$work/machine.txt" >&2

# ---- data sets ----
"$bench" setup "$pg_uri" "$work/pg.state"
"$bench" setup "$sqlite_uri" "$work/sqlite.state"

# ---- points ----
results="$work/results.jsonl"
: >"$results"
fail=0
r=1
while [ "$r" -le "$rounds" ]; do
    for c in $clients; do
        for b in pg sqlite; do
            if [ "$b" = pg ]; then
                before=$(pgstat)
                line=$("$bench" run "$pg_uri" "$work/pg.state" "$c" "$secs") || fail=1
                after=$(pgstat)
                set -- $before $after
                line=$(printf '%s' "$line" |
                    sed "s/}\$/,\"round\":$r,\"server_rollbacks\":$(($3 - $1)),\"deadlocks\":$(($4 - $2))}/")
            else
                line=$("$bench" run "$sqlite_uri" "$work/sqlite.state" "$c" "$secs") || fail=1
                line=$(printf '%s' "$line" | sed "s/}\$/,\"round\":$r}/")
            fi
            echo "$line" >>"$results"
            echo "$line" >&2
        done
    done
    r=$((r + 1))
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$work/machine.txt" >&2

# ---- table ----
python3 - "$results" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = {"pg": "PostgreSQL", "sqlite": "SQLite"}
print("| Backend | Clients | ops/s | p50 (ms) | p99 (ms) | client retries (busy / conflict) "
      "| server rollbacks / deadlocks | invariants |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
for r in sorted(rows, key=lambda r: (r["backend"] != "pg", r["clients"], r["round"])):
    srv = ("%d / %d" % (r["server_rollbacks"], r["deadlocks"])) if "server_rollbacks" in r else "n/a"
    print("| %s | %d | %s | %.1f | %.1f | %d / %d | %s | %s |" % (
        names.get(r["backend"], r["backend"]), r["clients"], format(round(r["ops_s"]), ","),
        r["p50_ms"], r["p99_ms"], r["busy"], r["conflict"], srv,
        r["verify"] + ("" if not r["errors"] else ", %d errors" % r["errors"])))
EOF
exit $fail
