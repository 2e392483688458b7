#!/bin/sh
# bench/http/run.sh [BUILDDIR] - HTTP benchmark on loopback with wrk:
# community-server against a Node.js baseline (node:http + better-sqlite3 12,
# bench/http/node/server.mjs) reading the SAME SQLite file, in the same run:
#   1. cached read:  GET /healthz                     (no database)
#   2. DB read:      GET /v1/events?limit=20          (anonymous event list), by
#                    community-server with its result cache (the default), by a
#                    second community-server with --no-result-cache (every read
#                    runs its query, as Node's do) and by Node
#   3. write:        PUT /v1/events/{id}/rsvp         (bearer session + RSVP + audit
#                    row + metric counter): the same fixed work on both sides,
#                    each of the MEMBERS x EVENTS pairs RSVPed once, each server
#                    on its own fresh copy of the seeded database
# The servers alternate, ROUNDS times. Environment: DUR (5s per read point),
# ROUNDS (3), CONN (32), THREADS (2), WORKERS (4) for community-server, WRITE_CAP
# (300s: a write point that has not finished its work by then stops there).
# Results: a Markdown table on stdout and in bench/http/results/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
server="$build/examples/http/community-server"
DUR=${DUR:-5s}
ROUNDS=${ROUNDS:-3}
CONN=${CONN:-32}
THREADS=${THREADS:-2}
WORKERS=${WORKERS:-4}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install -y wrk)" >&2; exit 1; }
command -v node >/dev/null || { echo "needs nodejs" >&2; exit 1; }
[ -x "$server" ] || { echo "no $server: build it first" >&2; exit 1; }
if [ ! -d "$here/node/node_modules/better-sqlite3" ]; then
    (cd "$here/node" && npm_config_nodedir=/usr npm ci --no-audit --no-fund >/dev/null)
fi

tmp=$(mktemp -d)
cs_pid=""
nc_pid=""
node_pid=""
stop() { # pid...
    for p in "$@"; do [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
    return 0
}
cleanup() {
    stop "$cs_pid" "$nc_pid" "$node_pid"
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -sf "$1/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "$1 did not start" >&2; exit 1; }

# seed through community-server, then freeze the seeded file: every server
# below starts from its own copy of it
db="$tmp/seed.db"
cs_port=$(free_port)
cs="http://127.0.0.1:$cs_port"
start_cs() { # db [flags...]
    d=$1
    shift
    "$server" --listen "127.0.0.1:$cs_port" --db "sqlite://$d" --rate-limit 0 \
        --workers "$WORKERS" --log-level warn "$@" >>"$tmp/server.log" 2>&1 &
    cs_pid=$!
    wait_up "$cs"
}
start_cs "$db"
python3 "$here/seed.py" "$cs" "$db" "$tmp" >&2
stop "$cs_pid"
python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("PRAGMA wal_checkpoint(TRUNCATE)"); c.close()' "$db"
fresh() { rm -f "$1" "$1-wal" "$1-shm"; cp "$db" "$1"; }

node_port=$(free_port)
nd="http://127.0.0.1:$node_port"
start_node() {
    node "$here/node/server.mjs" "$1" "$node_port" >>"$tmp/node.log" 2>&1 &
    node_pid=$!
    wait_up "$nd"
}
nc_port=$(free_port)
nc="http://127.0.0.1:$nc_port"
start_nc() { # community-server without the result cache
    "$server" --listen "127.0.0.1:$nc_port" --db "sqlite://$1" --rate-limit 0 \
        --workers "$WORKERS" --log-level warn --no-result-cache >>"$tmp/server.log" 2>&1 &
    nc_pid=$!
    wait_up "$nc"
}

export BENCH_DATA="$tmp"
pairs=$(($(grep -c . "$tmp/tokens.txt") * $(grep -c . "$tmp/events.txt")))
run_wrk() { # name target url path [script]
    out="$tmp/wrk.out"
    if [ -n "${5:-}" ]; then # fixed work: the script stops after BENCH_REQUESTS
        BENCH_REQUESTS=$pairs BENCH_THREADS=$THREADS wrk -t"$THREADS" -c"$CONN" -d"${WRITE_CAP:-300s}" \
            --latency -s "$5" "$3$4" >"$out" 2>&1
    else
        wrk -t1 -c4 -d2s "$3$4" >/dev/null 2>&1 || true
        wrk -t"$THREADS" -c"$CONN" -d"$DUR" --latency "$3$4" >"$out" 2>&1
    fi
    n=$(awk '/requests in/ {print $1}' "$out")
    rps=$(awk '/^Requests\/sec/ {print $2}' "$out")
    p50=$(awk '$1=="50%" {print $2}' "$out")
    p99=$(awk '$1=="99%" {print $2}' "$out")
    bad=$(awk '/Non-2xx/ {print $5}' "$out")
    errs=$(awk '/Socket errors/ {print $0}' "$out" | sed 's/^ *//')
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$r" "$1" "$2" "$n" "$rps" "$p50" "$p99" \
        "${bad:-0}${errs:+ ($errs)}"
}

mkdir -p "$here/results"
res="$here/results/http-$(date -u +%Y%m%dT%H%M%SZ).md"
{
    echo "# HTTP benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "wrk -t$THREADS -c$CONN on loopback; $(nproc) cores shared by wrk and the servers;"
    echo "community-server $("$server" --version | sed 's/.*(//;s/)//'), $WORKERS workers; Node $(node --version),"
    echo "better-sqlite3 $(node -p "require('$here/node/node_modules/better-sqlite3/package.json').version"), one process."
    echo "Each server on its own copy of one seeded SQLite file (WAL, synchronous=FULL): ${EVENTS:-200}"
    echo "events, ${MEMBERS:-64} members. Reads: $DUR per point. Writes: the $pairs (member, event)"
    echo "pairs RSVPed once each, on a fresh copy every round. Load before: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo
    echo "| round | scenario | server | requests | req/s | p50 | p99 | non-2xx |"
    echo "| ---: | --- | --- | ---: | ---: | ---: | ---: | --- |"
    r=1
    while [ "$r" -le "$ROUNDS" ]; do
        fresh "$tmp/cs.db"
        fresh "$tmp/node.db"
        start_cs "$tmp/cs.db"
        start_nc "$tmp/cs.db"
        start_node "$tmp/node.db"
        # sanity: all answer the same routes
        curl -sf "$cs/v1/events?limit=2" >/dev/null && curl -sf "$nd/v1/events?limit=2" >/dev/null
        run_wrk "cached read GET /healthz" community-server "$cs" /healthz
        run_wrk "cached read GET /healthz" node "$nd" /healthz
        run_wrk "DB read GET /v1/events?limit=20" community-server "$cs" "/v1/events?limit=20"
        run_wrk "DB read GET /v1/events?limit=20" "community-server --no-result-cache" "$nc" "/v1/events?limit=20"
        run_wrk "DB read GET /v1/events?limit=20" node "$nd" "/v1/events?limit=20"
        stop "$cs_pid" "$nc_pid" "$node_pid"
        # writes: each server alone, on a fresh copy
        fresh "$tmp/cs.db"
        start_cs "$tmp/cs.db"
        run_wrk "write PUT /v1/events/{id}/rsvp" community-server "$cs" / "$here/rsvp.lua"
        stop "$cs_pid"
        fresh "$tmp/node.db"
        start_node "$tmp/node.db"
        run_wrk "write PUT /v1/events/{id}/rsvp" node "$nd" / "$here/rsvp.lua"
        stop "$node_pid"
        cs_pid="" nc_pid="" node_pid=""
        r=$((r + 1))
    done
    echo
    echo "Load after: $(cut -d' ' -f1-3 /proc/loadavg)."
} | tee "$res"
echo "results: $res" >&2
