#!/usr/bin/env bash
# bench/hosts/scale.sh [BUILDDIR] - requests/s of N community-server hosts behind
# haproxy on one shared PostgreSQL (scripts/stack.sh), for N = 1 and N = 3, reads
# and writes, through the same proxy in both cases:
#   read   GET /v1/events?limit=20   (anonymous list of 200 published events)
#   write  POST /v1/members          (no password: a member row, its audit row;
#                                     bench/hosts/signup.lua)
# Each point is wrk -t THREADS -c CONN -d DUR; the two stacks alternate ROUNDS
# times. Environment: DUR (10s), ROUNDS (3), CONN (32), THREADS (2), HOSTS ("1 3").
# The PostgreSQL server is scripts/pg-test-server.sh's (fsync off). Markdown
# table on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
DUR=${DUR:-10s}
ROUNDS=${ROUNDS:-3}
CONN=${CONN:-32}
THREADS=${THREADS:-2}
HOSTS=${HOSTS:-"1 3"}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install -y wrk)" >&2; exit 1; }

stack_dir=""
cleanup() { [ -z "$stack_dir" ] || "$root/scripts/stack.sh" stop "$stack_dir" >/dev/null 2>&1 || true; }
trap cleanup EXIT INT TERM

# rps OUTPUT: the Requests/sec figure of a wrk run.
rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$1"; }
# non2xx OUTPUT: the count of non-2xx answers (0 when wrk prints none).
non2xx() { sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' <<<"$1" | grep . || echo 0; }

declare -A read write
for ((r = 1; r <= ROUNDS; r++)); do
    for h in $HOSTS; do
        eval "$("$root/scripts/stack.sh" start --build "$build" --api "$h" --workers 0 --no-web \
            --server-args "--rate-limit 0")"
        stack_dir=$CM_STACK_DIR
        # 200 published events by an organizer.
        python3 - "$CM_STACK_URL" "$CM_STACK_DB" <<'PY'
import json, subprocess, sys, urllib.request
url, db = sys.argv[1], sys.argv[2]
def call(method, path, body=None, token=None):
    req = urllib.request.Request(url + path, data=json.dumps(body).encode() if body else None,
                                 method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())
org = call("POST", "/v1/members", {"email": "org@bench.test", "name": "Org",
                                   "password": "bench password 1"})
subprocess.run(["psql", "-X", "-q", "-d", db, "-c",
                "UPDATE members SET role='organizer' WHERE id=%d" % org["member"]["id"]], check=True)
for i in range(200):
    call("POST", "/v1/events", {"title": "Meetup %d" % i, "format": "in_person",
         "start_local": "2031-04-%02dT18:00" % (1 + i % 28),
         "end_local": "2031-04-%02dT21:00" % (1 + i % 28),
         "timezone": "Europe/Berlin", "publish": True}, org["session"]["token"])
PY
        out=$(wrk -t "$THREADS" -c "$CONN" -d "$DUR" "$CM_STACK_URL/v1/events?limit=20")
        [ "$(non2xx "$out")" = 0 ] || { echo "read: non-2xx answers" >&2; echo "$out" >&2; exit 1; }
        read[$h]="${read[$h]:-} $(rps "$out")"
        out=$(BENCH_RUN="$r$h" wrk -t "$THREADS" -c "$CONN" -d "$DUR" -s "$here/signup.lua" \
            "$CM_STACK_URL")
        [ "$(non2xx "$out")" = 0 ] || { echo "write: non-2xx answers" >&2; echo "$out" >&2; exit 1; }
        write[$h]="${write[$h]:-} $(rps "$out")"
        echo "round $r, $h host(s): read ${read[$h]##* }/s, write ${write[$h]##* }/s" >&2
        "$root/scripts/stack.sh" stop "$stack_dir" >/dev/null
        stack_dir=""
    done
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "| Hosts | GET /v1/events?limit=20 (req/s, median; rounds) | POST /v1/members (req/s, median; rounds) |"
echo "| ---: | ---: | ---: |"
for h in $HOSTS; do
    printf '| %s | %.0f (%s) | %.0f (%s) |\n' "$h" "$(median "${read[$h]}")" "${read[$h]# }" \
        "$(median "${write[$h]}")" "${write[$h]# }"
done
