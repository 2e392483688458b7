#!/bin/sh
# bench/http/mixed.sh [BUILDDIR] - cached reads while RSVPs are written, on loopback
# with wrk against community-server (SQLite, WAL, synchronous=FULL):
#   1. reads alone:   GET /v1/events?limit=20 and GET /v1/groups, one after the other
#   2. writes alone:  PUT /v1/events/{id}/rsvp (bearer session + RSVP + audit)
#   3. both at once:  each read route with the RSVP writes running beside it
# An RSVP changes the events it is for (seats), so the event list must be recomputed
# after it; the group list reads nothing an RSVP writes.
# Environment: DUR (10s), RCONN (16) and WCONN (16) connections, WORKERS (4).
# Prints a Markdown table.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
server="$build/examples/http/community-server"
DUR=${DUR:-10s}
RCONN=${RCONN:-16}
WCONN=${WCONN:-16}
WORKERS=${WORKERS:-4}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install -y wrk)" >&2; exit 1; }
[ -x "$server" ] || { echo "no $server: build it first" >&2; exit 1; }

tmp=$(mktemp -d)
cs_pid=""
cleanup() {
    [ -n "$cs_pid" ] && kill "$cs_pid" 2>/dev/null && wait "$cs_pid" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
db="$tmp/bench.db"
"$server" --listen "127.0.0.1:$port" --db "sqlite://$db" --rate-limit 0 \
    --workers "$WORKERS" --log-level warn >"$tmp/server.log" 2>&1 &
cs_pid=$!
url="http://127.0.0.1:$port"
for _ in $(seq 100); do curl -sf "$url/healthz" >/dev/null 2>&1 && break; sleep 0.1; done
python3 "$here/seed.py" "$url" "$db" "$tmp" >&2
export BENCH_DATA="$tmp"

rps() { awk '/^Requests\/sec/ {print $2}' "$1"; }
bad() { awk '/Non-2xx/ {n=$5} END {print n+0}' "$1"; }
reads() { # out path
    wrk -t1 -c"$RCONN" -d"$DUR" "$url$2" >"$1" 2>&1
}
writes() { # out
    wrk -t1 -c"$WCONN" -d"$DUR" -s "$here/rsvp.lua" "$url/" >"$1" 2>&1
}
wrk -t1 -c4 -d2s "$url/v1/events?limit=20" >/dev/null 2>&1 || true # warm-up

echo "wrk -t1 on loopback, $DUR per point; reads $RCONN connections, writes $WCONN;"
echo "community-server $("$server" --version | sed 's/.*(//;s/)//'), $WORKERS workers;"
echo "$(nproc) cores shared by wrk and the server; load average $(cut -d' ' -f1-3 /proc/loadavg)."
echo
echo "| read route | reads alone (req/s) | writes alone (req/s) | reads with writes (req/s) | writes with reads (req/s) | non-2xx |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for path in "/v1/events?limit=20" "/v1/groups"; do
    reads "$tmp/r0" "$path"
    writes "$tmp/w0"
    writes "$tmp/w1" &
    wp=$!
    reads "$tmp/r1" "$path"
    wait "$wp"
    printf '| GET %s | %s | %s | %s | %s | %s |\n' "$path" "$(rps "$tmp/r0")" "$(rps "$tmp/w0")" \
        "$(rps "$tmp/r1")" "$(rps "$tmp/w1")" \
        "$(($(bad "$tmp/r0") + $(bad "$tmp/w0") + $(bad "$tmp/r1") + $(bad "$tmp/w1")))"
done
