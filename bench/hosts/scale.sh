#!/usr/bin/env bash
# bench/hosts/scale.sh [BUILDDIR] - requests/s of N community-server hosts behind
# haproxy on one shared PostgreSQL (scripts/stack.sh), for N = 1 and N = 3, reads
# and writes, through the same proxy in both cases:
#   read   GET /v1/events?limit=20   (anonymous list of 200 published events)
#   write  POST /v1/members          (no password: a member row, its audit row;
#                                     bench/hosts/signup.lua)
#   read+w the same reads while one more connection writes members through
#          the proxy as fast as it goes (wrk -c 1 with signup.lua; each write
#          invalidates every cached read); its writes/s are reported
# Each point is wrk -t THREADS -c CONN -d DUR; the stacks alternate ROUNDS
# times. The servers share the result cache through the stack's Redis
# (COMMUNITY_REDIS: cm_store_share_cache); CACHE="off on" also runs each stack
# with --no-result-cache, and the hit rate of the reads is taken from the
# servers' /metrics. Environment: DUR (10s), ROUNDS (3), CONN (32), THREADS
# (2), HOSTS ("1 3"), CACHE ("on"). The PostgreSQL server
# is scripts/pg-test-server.sh's (fsync off). Markdown table on stdout.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
DUR=${DUR:-10s}
ROUNDS=${ROUNDS:-3}
CONN=${CONN:-32}
THREADS=${THREADS:-2}
HOSTS=${HOSTS:-"1 3"}
CACHE=${CACHE:-on}
command -v wrk >/dev/null || { echo "needs wrk (apt-get install -y wrk)" >&2; exit 1; }

stack_dir="" writer_pid=""
cleanup() {
    [ -z "$writer_pid" ] || kill "$writer_pid" 2>/dev/null || true
    [ -z "$stack_dir" ] || "$root/scripts/stack.sh" stop "$stack_dir" >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

# rps OUTPUT: the Requests/sec figure of a wrk run.
rps() { sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$1"; }
# non2xx OUTPUT: the count of non-2xx answers (0 when wrk prints none).
non2xx() { sed -n 's/.*Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' <<<"$1" | grep . || echo 0; }

# lookups HIT|MISS: the result-cache lookups of every API server, summed.
lookups() {
    local p sum=0 v
    for p in $CM_STACK_API_PORTS; do
        v=$(curl -fsS "http://127.0.0.1:$p/metrics" |
            sed -n "s/^community_result_cache_lookups_total{result=\"$1\"} \([0-9]*\)$/\1/p")
        sum=$((sum + ${v:-0}))
    done
    echo "$sum"
}
# hit_rate H0 M0: percentage of hits since the counts H0 and M0.
hit_rate() {
    local h m
    h=$(($(lookups hit) - $1))
    m=$(($(lookups miss) - $2))
    awk -v h="$h" -v m="$m" 'BEGIN { printf "%.0f", h + m ? 100 * h / (h + m) : 0 }'
}

declare -A read write readw hits hitsw wps
for ((r = 1; r <= ROUNDS; r++)); do
    for h in $HOSTS; do
      for c in $CACHE; do
        k="$h $c"
        args="--rate-limit 0"
        [ "$c" = on ] || args="$args --no-result-cache"
        eval "$("$root/scripts/stack.sh" start --build "$build" --api "$h" --workers 0 --no-web \
            --server-args "$args")"
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
        h0=$(lookups hit) m0=$(lookups miss)
        out=$(wrk -t "$THREADS" -c "$CONN" -d "$DUR" "$CM_STACK_URL/v1/events?limit=20")
        [ "$(non2xx "$out")" = 0 ] || { echo "read: non-2xx answers" >&2; echo "$out" >&2; exit 1; }
        read[$k]="${read[$k]:-} $(rps "$out")"
        hits[$k]="${hits[$k]:-} $(hit_rate "$h0" "$m0")"
        # the same reads while one more connection writes members
        wout=$(mktemp)
        BENCH_RUN="bg$r$h$c" wrk -t 1 -c 1 -d "$DUR" -s "$here/signup.lua" "$CM_STACK_URL" >"$wout" &
        writer_pid=$!
        h0=$(lookups hit) m0=$(lookups miss)
        out=$(wrk -t "$THREADS" -c "$CONN" -d "$DUR" "$CM_STACK_URL/v1/events?limit=20")
        wait "$writer_pid" || true
        writer_pid=""
        [ "$(non2xx "$out")" = 0 ] || { echo "read+w: non-2xx answers" >&2; echo "$out" >&2; exit 1; }
        readw[$k]="${readw[$k]:-} $(rps "$out")"
        hitsw[$k]="${hitsw[$k]:-} $(hit_rate "$h0" "$m0")"
        wps[$k]="${wps[$k]:-} $(printf '%.0f' "$(rps "$(cat "$wout")")")"
        rm -f "$wout"
        out=$(BENCH_RUN="$r$h$c" wrk -t "$THREADS" -c "$CONN" -d "$DUR" -s "$here/signup.lua" \
            "$CM_STACK_URL")
        [ "$(non2xx "$out")" = 0 ] || { echo "write: non-2xx answers" >&2; echo "$out" >&2; exit 1; }
        write[$k]="${write[$k]:-} $(rps "$out")"
        echo "round $r, $h host(s), cache $c: read ${read[$k]##* }/s (hits ${hits[$k]##* }%)," \
            "read+w ${readw[$k]##* }/s (hits ${hitsw[$k]##* }%, ${wps[$k]##* } writes/s)," \
            "write ${write[$k]##* }/s" >&2
        "$root/scripts/stack.sh" stop "$stack_dir" >/dev/null
        stack_dir=""
      done
    done
done

median() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "| Hosts | Result cache | GET /v1/events?limit=20 (req/s, median; rounds) | hit rate % (rounds) | the same GET while one connection writes members (req/s, median; rounds) | hit rate % (rounds) | writes/s done meanwhile (rounds) | POST /v1/members (req/s, median; rounds) |"
echo "| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for h in $HOSTS; do
    for c in $CACHE; do
        k="$h $c"
        printf '| %s | %s | %.0f (%s) | %s | %.0f (%s) | %s | %s | %.0f (%s) |\n' "$h" "$c" \
            "$(median "${read[$k]}")" "${read[$k]# }" "${hits[$k]# }" \
            "$(median "${readw[$k]}")" "${readw[$k]# }" "${hitsw[$k]# }" "${wps[$k]# }" \
            "$(median "${write[$k]}")" "${write[$k]# }"
    done
done
