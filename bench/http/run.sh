#!/bin/sh
# bench/http/run.sh [BUILDDIR] - HTTP benchmark on loopback with wrk:
# community-server against a Node.js baseline (node:http + better-sqlite3 12,
# bench/http/node/server.mjs) reading the SAME SQLite file, in the same run:
#   1. cached read:  GET /healthz                     (no database)
#   2. DB read:      GET /v1/events?limit=20          (anonymous event list)
#   3. write:        PUT /v1/events/{id}/rsvp         (bearer session + RSVP + audit)
# Environment: DUR (10s), CONN (32), THREADS (2), WORKERS (4) for community-server.
# Results: a Markdown table on stdout and in bench/http/results/.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
server="$build/examples/http/community-server"
DUR=${DUR:-10s}
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
node_pid=""
cleanup() {
    [ -n "$cs_pid" ] && kill "$cs_pid" 2>/dev/null && wait "$cs_pid" 2>/dev/null
    [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null && wait "$node_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -sf "$1/healthz" >/dev/null 2>&1 && return 0; sleep 0.1; done; echo "$1 did not start" >&2; exit 1; }

db="$tmp/bench.db"
cs_port=$(free_port)
"$server" --listen "127.0.0.1:$cs_port" --db "sqlite://$db" --rate-limit 0 \
    --workers "$WORKERS" --log-level warn >"$tmp/server.log" 2>&1 &
cs_pid=$!
cs="http://127.0.0.1:$cs_port"
wait_up "$cs"
python3 "$here/seed.py" "$cs" "$db" "$tmp" >&2

node_port=$(free_port)
node "$here/node/server.mjs" "$db" "$node_port" >"$tmp/node.log" 2>&1 &
node_pid=$!
nd="http://127.0.0.1:$node_port"
wait_up "$nd"

# sanity: both answer the same routes
curl -sf "$cs/v1/events?limit=2" >/dev/null && curl -sf "$nd/v1/events?limit=2" >/dev/null

export BENCH_DATA="$tmp"
run_wrk() { # name target url path [script]
    out="$tmp/wrk.out"
    if [ -n "${5:-}" ]; then
        wrk -t1 -c4 -d2s -s "$5" "$3$4" >/dev/null 2>&1 || true   # warm-up
        wrk -t"$THREADS" -c"$CONN" -d"$DUR" --latency -s "$5" "$3$4" >"$out" 2>&1
    else
        wrk -t1 -c4 -d2s "$3$4" >/dev/null 2>&1 || true
        wrk -t"$THREADS" -c"$CONN" -d"$DUR" --latency "$3$4" >"$out" 2>&1
    fi
    rps=$(awk '/^Requests\/sec/ {print $2}' "$out")
    p50=$(awk '$1=="50%" {print $2}' "$out")
    p99=$(awk '$1=="99%" {print $2}' "$out")
    bad=$(awk '/Non-2xx/ {print $5}' "$out")
    errs=$(awk '/Socket errors/ {print $0}' "$out" | sed 's/^ *//')
    printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$2" "$rps" "$p50" "$p99" \
        "${bad:-0}${errs:+ ($errs)}"
}

mkdir -p "$here/results"
res="$here/results/http-$(date -u +%Y%m%dT%H%M%SZ).md"
{
    echo "# HTTP benchmark $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo
    echo "wrk -t$THREADS -c$CONN -d$DUR on loopback; $(nproc) cores shared by wrk and the server;"
    echo "community-server $("$server" --version | sed 's/.*(//;s/)//'), $WORKERS workers; Node $(node --version),"
    echo "better-sqlite3 $(node -p "require('$here/node/node_modules/better-sqlite3/package.json').version"), one process."
    echo "Same SQLite file (WAL; every commit synced before it returns: Node synchronous=FULL, libcommunity one fdatasync per group of concurrent commits), seeded with ${EVENTS:-200} events and ${MEMBERS:-64} members."
    echo
    echo "| scenario | server | req/s | p50 | p99 | non-2xx |"
    echo "| --- | --- | ---: | ---: | ---: | --- |"
    run_wrk "cached read GET /healthz" community-server "$cs" /healthz
    run_wrk "cached read GET /healthz" node "$nd" /healthz
    run_wrk "DB read GET /v1/events?limit=20" community-server "$cs" "/v1/events?limit=20"
    run_wrk "DB read GET /v1/events?limit=20" node "$nd" "/v1/events?limit=20"
    run_wrk "write PUT /v1/events/{id}/rsvp" community-server "$cs" / "$here/rsvp.lua"
    run_wrk "write PUT /v1/events/{id}/rsvp" node "$nd" / "$here/rsvp.lua"
} | tee "$res"
echo "results: $res" >&2
