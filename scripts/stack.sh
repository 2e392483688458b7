#!/usr/bin/env bash
# stack.sh - the deployed topology (deploy/docker-compose.yml) on one machine
# without containers: processes on loopback, for the multi-host test and the
# scaling benchmark.
#
#   eval "$(scripts/stack.sh start [options])"   # exports CM_STACK_* (below)
#   scripts/stack.sh stop [DIR]                  # DIR defaults to $CM_STACK_DIR
#   scripts/stack.sh kill    api|worker|web N [DIR]   # SIGKILL one process, wait until gone
#   scripts/stack.sh term    api|worker|web N [DIR]   # SIGTERM, wait for its exit
#   scripts/stack.sh restart api|worker|web N [DIR]   # start it again, same settings
#   scripts/stack.sh pid     api|worker|web N [DIR]
#   (redis: "kill redis 1", "restart redis 1": the one Redis, same port)
#
# What runs (each process logs to DIR/<name>.log):
#   postgres   a throwaway PostgreSQL 15 (scripts/pg-test-server.sh: unix socket,
#              fsync off), migrated with `community migrate`      (the RDS role)
#   redis      redis-server on a loopback port, no persistence    (ElastiCache)
#   smtp       tests/fixtures/smtp_sink.py: every message in DIR/smtp/msgs (SES)
#   s3         s3rver (tests/blob/s3rver, the stand-in of the blob tests) on a
#              loopback port, bucket cm-test, path-style URLs, access key
#              S3RVER; the API servers and workers keep uploads in it     (S3)
#   api-1..N   community-server on loopback ports                 (ECS service app)
#   worker-1..M  `community worker` with the SMTP sink            (ECS service worker)
#   web-1      the Next.js app (examples/nextjs, `next start`), when built (web)
#   haproxy    one port in front: /v1/* and /openapi.json round-robin over the
#              API servers (health check GET /readyz every 500 ms, out after 2
#              failures, back after 2 successes), everything else to the web app
#              (GET /api/health); a stats socket in DIR/haproxy.sock    (the ALB)
#
# Options:
#   --build DIR       meson build directory with community, community-server
#                     (default: build)
#   --api N           API server processes (default 3)
#   --workers N       worker processes (default 2)
#   --web / --no-web  run the Next.js app (default: when examples/nextjs has a
#                     production build and the addon installed, as scripts/e2e.sh
#                     leaves it); --web requires it
#   --no-s3           no S3 stand-in: uploads in each host's default place
#   --no-mail         no SMTP sink, and workers without a mailer (no mail
#                     delivery jobs: only what the hosts enqueue runs)
#   --server-args "ARGS"  extra community-server flags (e.g. "--rate-limit 0")
#   --worker-args "ARGS"  extra `community worker` flags (e.g. "--lease 3000")
#
# Exports: CM_STACK_DIR, CM_STACK_URL (the proxy), CM_STACK_DB (the database URI),
# CM_STACK_PG_DIR, CM_STACK_REDIS (redis://127.0.0.1:PORT), CM_STACK_API_PORTS,
# CM_STACK_WEB_PORT (empty without web), CM_STACK_SMTP_DIR (empty with
# --no-mail), CM_STACK_S3 (http://127.0.0.1:PORT, empty with --no-s3) and
# CM_STACK_S3_DIR (the objects, DIR/s3/cm-test/...).
# The API servers, workers and the web app get COMMUNITY_REDIS=$CM_STACK_REDIS;
# the API servers and workers COMMUNITY_S3_* for the stand-in.
# Needs: postgresql-15, redis-server, haproxy, /usr/bin/python3 with aiosmtpd
# (python3-aiosmtpd), curl; node for the web app and the S3 stand-in (whose npm
# packages are installed into tests/blob/s3rver on first use, as the blob tests
# do).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

die() { echo "stack: $*" >&2; exit 1; }
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_http URL SECONDS
wait_http() {
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}

# launch DIR NAME: start the command saved in DIR/NAME.cmd (bash array
# declaration) in its own session, appending to DIR/NAME.log; pid in DIR/NAME.pid.
launch() {
    local dir=$1 name=$2 cmd_cwd="" cmd_env=() cmd=()
    # shellcheck disable=SC1090 # the command saved by `spawn`
    source "$dir/$name.cmd"
    (
        cd "${cmd_cwd:-$dir}"
        exec setsid env "${cmd_env[@]}" "${cmd[@]}" >>"$dir/$name.log" 2>&1 </dev/null
    ) &
    echo $! >"$dir/$name.pid"
}
# spawn DIR NAME CWD ENV... -- COMMAND...: save the command, then launch it.
spawn() {
    local dir=$1 name=$2 cwd=$3
    shift 3
    local envs=()
    while [ "$1" != -- ]; do
        envs+=("$1")
        shift
    done
    shift
    {
        printf 'cmd_cwd=%q\n' "$cwd"
        printf 'cmd_env=('
        [ ${#envs[@]} -eq 0 ] || printf '%q ' "${envs[@]}"
        printf ')\ncmd=('
        printf '%q ' "$@"
        printf ')\n'
    } >"$dir/$name.cmd"
    launch "$dir" "$name"
}
# running PID: the process exists and is not a zombie (a killed process whose
# parent, here whoever adopted it, has not reaped it yet).
running() {
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ]
}
alive() { [ -f "$1" ] && running "$(cat "$1")"; }

start() {
    local build=$ROOT/build napi=3 nworkers=2 web=auto s3=yes mail=yes server_args="" worker_args=""
    while [ $# -gt 0 ]; do
        case $1 in
            --build) build=$2; shift 2 ;;
            --api) napi=$2; shift 2 ;;
            --workers) nworkers=$2; shift 2 ;;
            --web) web=yes; shift ;;
            --no-web) web=no; shift ;;
            --no-s3) s3=no; shift ;;
            --no-mail) mail=no; shift ;;
            --server-args) server_args=$2; shift 2 ;;
            --worker-args) worker_args=$2; shift 2 ;;
            *) die "unknown option $1" ;;
        esac
    done
    case $build in /*) ;; *) build=$ROOT/$build ;; esac
    local cli=$build/examples/cli/community server=$build/examples/http/community-server
    if [ ! -x "$cli" ] || [ ! -x "$server" ]; then die "no community / community-server in $build"; fi
    for t in redis-server haproxy curl; do
        command -v "$t" >/dev/null 2>&1 || die "needs $t"
    done
    local s3pkg=$ROOT/tests/blob/s3rver
    if [ "$s3" = yes ]; then
        command -v node >/dev/null 2>&1 || die "needs node for the S3 stand-in (or --no-s3)"
        if [ ! -f "$s3pkg/node_modules/s3rver/package.json" ]; then
            (cd "$s3pkg" && npm ci --no-audit --no-fund --loglevel=error >&2) ||
                die "npm ci failed in $s3pkg"
        fi
    fi
    local app=$ROOT/examples/nextjs
    if [ "$web" = auto ]; then
        if [ -f "$app/.next/BUILD_ID" ] && [ -d "$app/node_modules/@libcommunity/node" ] &&
            command -v node >/dev/null 2>&1; then web=yes; else web=no; fi
    elif [ "$web" = yes ]; then
        [ -f "$app/.next/BUILD_ID" ] || die "--web: examples/nextjs has no production build"
    fi

    local dir
    dir=$(mktemp -d "${TMPDIR:-/tmp}/cm-stack.XXXXXX")
    echo "$napi $nworkers $web" >"$dir/topology"
    # On failure, leave nothing running.
    STACK_DIR=$dir STARTED=""
    trap '[ -n "$STARTED" ] || stop "$STACK_DIR" >/dev/null 2>&1' EXIT

    # PostgreSQL
    local pg_env
    pg_env=$("$ROOT/scripts/pg-test-server.sh" start) || die "PostgreSQL did not start"
    eval "$pg_env"
    local db=$CM_TEST_PG_URI
    echo "$CM_PG_TEST_DIR" >"$dir/pg_dir"
    "$cli" --db "$db" migrate >"$dir/migrate.log" 2>&1 || die "migrate failed: $(cat "$dir/migrate.log")"

    # Redis
    local redis_port
    redis_port=$(free_port)
    spawn "$dir" redis "$dir" -- redis-server --bind 127.0.0.1 --port "$redis_port" \
        --save '' --appendonly no --dir "$dir"
    local redis=redis://127.0.0.1:$redis_port

    # SMTP sink
    local i mail_args=() smtp_dir=""
    if [ "$mail" = yes ]; then
        smtp_dir=$dir/smtp
        mkdir -p "$smtp_dir"
        spawn "$dir" smtp "$dir" -- /usr/bin/python3 "$ROOT/tests/fixtures/smtp_sink.py" --dir "$smtp_dir"
        for ((i = 0; i < 100; i++)); do [ -f "$smtp_dir/port" ] && break; sleep 0.1; done
        [ -f "$smtp_dir/port" ] || die "the SMTP sink did not start: $(cat "$dir/smtp.log")"
        mail_args=(--smtp "smtp://127.0.0.1:$(cat "$smtp_dir/port")"
            --mail-from "Community <community@example.org>" --public-url "http://127.0.0.1")
    fi

    # S3 stand-in
    local s3_url="" s3_env=()
    if [ "$s3" = yes ]; then
        mkdir -p "$dir/s3"
        spawn "$dir" s3 "$dir" -- node "$s3pkg/server.mjs" "$dir/s3"
        for ((i = 0; i < 300; i++)); do grep -q '^READY' "$dir/s3.log" 2>/dev/null && break; sleep 0.1; done
        grep -q '^READY' "$dir/s3.log" || die "the S3 stand-in did not start: $(cat "$dir/s3.log")"
        s3_url=http://127.0.0.1:$(sed -n 's/^READY \([0-9]*\)$/\1/p' "$dir/s3.log")
        s3_env=(COMMUNITY_S3_ENDPOINT="$s3_url" COMMUNITY_S3_BUCKET=cm-test
            COMMUNITY_S3_REGION=us-east-1 COMMUNITY_S3_ACCESS_KEY=S3RVER
            COMMUNITY_S3_SECRET_KEY=S3RVER)
    fi

    # API servers
    local ports=() p
    # shellcheck disable=SC2206 # extra flags, split on blanks
    local extra=($server_args)
    for ((i = 1; i <= napi; i++)); do
        p=$(free_port)
        ports+=("$p")
        spawn "$dir" "api-$i" "$dir" COMMUNITY_REDIS="$redis" COMMUNITY_LOG_LEVEL=warn "${s3_env[@]}" -- \
            "$server" --listen "127.0.0.1:$p" --db "$db" --trust-proxy "${extra[@]}"
    done

    # Workers
    # shellcheck disable=SC2206 # extra flags, split on blanks
    local wextra=($worker_args)
    for ((i = 1; i <= nworkers; i++)); do
        spawn "$dir" "worker-$i" "$dir" COMMUNITY_REDIS="$redis" "${s3_env[@]}" -- \
            "$cli" --db "$db" worker --json-logs --worker-id "worker-$i" "${mail_args[@]}" "${wextra[@]}"
    done

    # Web
    local web_port=""
    if [ "$web" = yes ]; then
        web_port=$(free_port)
        spawn "$dir" web-1 "$app" COMMUNITY_DB="$db" COMMUNITY_REDIS="$redis" \
            NEXT_TELEMETRY_DISABLED=1 COOKIE_SECURE=0 -- \
            node --require "$app/scripts/exit-on-sigterm.cjs" \
            "$app/node_modules/next/dist/bin/next" start -H 127.0.0.1 -p "$web_port"
    fi

    # The proxy
    local proxy_port
    proxy_port=$(free_port)
    {
        cat <<EOF
global
    maxconn 8192
    stats socket $dir/haproxy.sock mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 30s
    option redispatch
    retries 2
    default-server inter 500ms fall 2 rise 2

frontend www
    bind 127.0.0.1:$proxy_port
    option forwardfor
    acl is_api path_beg /v1/
    acl is_api path /openapi.json
    use_backend api if is_api
    default_backend web

backend api
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
EOF
        for ((i = 1; i <= napi; i++)); do
            echo "    server api-$i 127.0.0.1:${ports[$((i - 1))]} check"
        done
        cat <<EOF

backend web
    option httpchk GET /api/health
    http-check expect status 200
EOF
        [ -z "$web_port" ] || echo "    server web-1 127.0.0.1:$web_port check"
    } >"$dir/haproxy.cfg"
    haproxy -c -q -f "$dir/haproxy.cfg" || die "haproxy.cfg is invalid"
    spawn "$dir" haproxy "$dir" -- haproxy -db -f "$dir/haproxy.cfg"

    for p in "${ports[@]}"; do
        wait_http "http://127.0.0.1:$p/readyz" 30 || die "an API server did not start (see $dir)"
    done
    [ -z "$web_port" ] || wait_http "http://127.0.0.1:$web_port/api/health" 60 ||
        die "the web app did not start: $(tail -n 20 "$dir/web-1.log")"
    # Until the proxy has seen every API server healthy (rise 2 x 500 ms).
    for ((i = 0; i < 50; i++)); do
        [ "$(proxy_up "$dir" api)" -eq "$napi" ] && break
        sleep 0.1
    done
    STARTED=1

    echo "export CM_STACK_DIR='$dir'"
    echo "export CM_STACK_URL='http://127.0.0.1:$proxy_port'"
    echo "export CM_STACK_DB='$db'"
    echo "export CM_STACK_PG_DIR='$CM_PG_TEST_DIR'"
    echo "export CM_STACK_REDIS='$redis'"
    echo "export CM_STACK_API_PORTS='${ports[*]}'"
    echo "export CM_STACK_WEB_PORT='$web_port'"
    echo "export CM_STACK_SMTP_DIR='$smtp_dir'"
    echo "export CM_STACK_S3='$s3_url'"
    echo "export CM_STACK_S3_DIR='$dir/s3'"
}

# proxy_up DIR BACKEND: how many servers of BACKEND the proxy counts as UP.
proxy_up() {
    python3 - "$1/haproxy.sock" "$2" <<'PY' 2>/dev/null || echo 0
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"show stat\n")
data = b""
while True:
    b = s.recv(65536)
    if not b:
        break
    data += b
up = 0
for line in data.decode().splitlines():
    f = line.split(",")
    if len(f) > 17 and f[0] == sys.argv[2] and f[1] not in ("FRONTEND", "BACKEND"):
        up += f[17].startswith("UP")
print(up)
PY
}

stop() {
    local dir=${1:-${CM_STACK_DIR:-}}
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then die "stop: no stack directory"; fi
    local f
    for f in "$dir"/*.pid; do
        [ -f "$f" ] || continue
        kill -TERM "$(cat "$f")" 2>/dev/null || true
    done
    # Up to 10 s for graceful exits, then SIGKILL.
    local i left
    for ((i = 0; i < 100; i++)); do
        left=0
        for f in "$dir"/*.pid; do alive "$f" && left=1; done
        [ $left -eq 0 ] && break
        sleep 0.1
    done
    for f in "$dir"/*.pid; do alive "$f" && kill -KILL "$(cat "$f")" 2>/dev/null; done
    [ -f "$dir/pg_dir" ] && "$ROOT/scripts/pg-test-server.sh" stop "$(cat "$dir/pg_dir")"
    rm -rf "$dir"
}

one() { # ACTION KIND N [DIR]
    local action=$1 kind=$2 n=$3 dir=${4:-${CM_STACK_DIR:-}}
    if [ -z "$dir" ] || [ ! -d "$dir" ]; then die "$action: no stack directory"; fi
    local name=$kind-$n
    case $kind in api|worker|web) ;; redis) name=redis ;; *) die "$action: api, worker, web or redis" ;; esac
    [ -f "$dir/$name.cmd" ] || die "$action: no $name in this stack"
    case $action in
        pid) cat "$dir/$name.pid" ;;
        kill|term)
            local p i sig=KILL limit=50
            [ "$action" = kill ] || { sig=TERM; limit=400; }
            p=$(cat "$dir/$name.pid")
            kill -"$sig" "$p" 2>/dev/null || true
            for ((i = 0; i < limit; i++)); do running "$p" || return 0; sleep 0.1; done
            die "$action: $name still runs after $((limit / 10)) s"
            ;;
        restart)
            alive "$dir/$name.pid" && die "restart: $name still runs"
            launch "$dir" "$name"
            ;;
    esac
}

case "${1:-}" in
    start) shift; start "$@" ;;
    stop) stop "${2:-}" ;;
    kill|term|restart|pid) [ $# -ge 3 ] || die "usage: $1 api|worker|web N [DIR]"; one "$@" ;;
    up) proxy_up "${3:-${CM_STACK_DIR:-}}" "$2" ;;
    *)
        sed -n '2,12p' "$0" >&2
        exit 2
        ;;
esac
