#!/bin/sh
# image-test.sh - build the two images of deploy/Dockerfile for real and run them,
# as TAP (meson test image, suite 'deploy'):
#   base   a Debian 12 base image made with debootstrap (no registry is reachable),
#          cached between runs (below)
#   build  buildah bud --isolation chroot --pull=never --layers: the target
#          web-deps (tagged, so that its layers, the toolchain's and the app's npm
#          packages, stay cached until the lockfile or the Dockerfile changes),
#          then api and web
#   api    user 10001, a HEALTHCHECK; community-server answers /healthz and /readyz
#          on a SQLite database, runs as uid 10001 and exits 0 on SIGTERM;
#          `community worker --once` and `community migrate` exit 0
#   web    user 10001, a HEALTHCHECK; the Next.js server answers /api/health and
#          renders the home page, and exits 0 on SIGTERM (after closing its
#          server: Next.js's own 143 is turned into 0 by exit-on-sigterm.cjs)
#
#   deploy/image-test.sh [SOURCE_ROOT]
#
# The base: the image localhost/community-base:bookworm when it is younger than
# CM_IMAGE_BASE_MAX_DAYS (default 7), else the rootfs tarball in CM_IMAGE_CACHE
# (default /var/cache/libcommunity) under the same age rule, else debootstrap
# --variant=minbase bookworm, saved to both. CM_IMAGE_BASE_MAX_DAYS=0 forces a
# new debootstrap. The layers of the build stage are shared by the two targets
# within a run; untagged layers no image uses any more are removed at the end.
# Needs root, buildah, debootstrap and curl (scripts/setup.sh installs them); the
# test fails, not skips, when they are missing under CI=true.
set -u

src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
cd "$src" || exit 1
base=localhost/community-base:bookworm
cache=${CM_IMAGE_CACHE:-/var/cache/libcommunity}
max_days=${CM_IMAGE_BASE_MAX_DAYS:-7}
api=localhost/community-api:test
web=localhost/community-web:test
deps=localhost/community-web-deps:cache
bah="buildah${CM_BUILDAH_DRIVER:+ --storage-driver=$CM_BUILDAH_DRIVER}"

missing=""
for t in buildah debootstrap curl; do
    command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
[ "$(id -u)" -eq 0 ] || missing="$missing root"
if [ -n "$missing" ]; then
    if [ -n "${CI:-}" ]; then
        echo "1..1"
        echo "not ok 1 - image test needs:$missing (scripts/setup.sh installs buildah debootstrap)"
        exit 1
    fi
    echo "1..0 # SKIP missing:$missing (apt-get install buildah debootstrap curl; run as root)"
    exit 0
fi

n=0
failed=0
work=$(mktemp -d)
ctrs=""
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null; done
    for c in $ctrs; do $bah rm "$c" >/dev/null 2>&1; done
    rm -rf "$work"
}
trap cleanup EXIT

ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
notok() {
    n=$((n + 1))
    echo "not ok $n - $1"
    failed=$((failed + 1))
    [ -f "$work/out" ] && sed 's/^/# /' "$work/out" | tail -n 40
}
# check NAME COMMAND...: one TAP line, the command's output (last lines) on failure.
check() {
    name=$1
    shift
    if "$@" >"$work/out" 2>&1; then ok "$name"; else notok "$name"; fi
}
now() { date +%s; }
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_http URL SECONDS: until URL answers 2xx.
wait_http() {
    i=0
    while [ "$i" -lt "$(($2 * 4))" ]; do
        curl -fsS -o /dev/null --max-time 2 "$1" 2>/dev/null && return 0
        sleep 0.25
        i=$((i + 1))
    done
    return 1
}
# listener_pid PORT: the process that listens on 127.0.0.1:PORT.
listener_pid() {
    ss -ltnpH "sport = :$1" | sed -n 's/.*pid=\([0-9]*\).*/\1/p' | head -n 1
}
# image_age_days IMAGE: days since IMAGE was created, or a large number.
image_age_days() {
    created=$($bah inspect --type image --format '{{.Docker.Created.Unix}}' "$1" 2>/dev/null) ||
        { echo 9999; return; }
    echo $((($(now) - created) / 86400))
}

# ---- base image ----
t0=$(now)
base_from=""
if [ "$max_days" -gt 0 ] && [ "$(image_age_days "$base")" -lt "$max_days" ]; then
    base_from="cached image $base"
else
    tarball=$cache/debian-bookworm-minbase.tar
    if [ "$max_days" -le 0 ] || [ ! -f "$tarball" ] ||
        [ -n "$(find "$tarball" -mtime +"$((max_days - 1))" 2>/dev/null)" ]; then
        mkdir -p "$cache"
        root=$work/rootfs
        if debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian \
            >"$work/out" 2>&1; then
            # Security and point-release updates, as in Debian's own images; no
            # package lists or downloaded packages in the image.
            cat >"$root/etc/apt/sources.list" <<'EOF'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
EOF
            rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin \
                "$root"/var/cache/apt/archives/*.deb "$root"/var/log/*.log
            tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
            base_from="debootstrap"
        else
            notok "debootstrap --variant=minbase bookworm"
            echo "1..$n"
            exit 1
        fi
    else
        base_from="cached tarball $tarball"
    fi
    if ! { ctr=$($bah from scratch) && ctrs="$ctrs $ctr" &&
        $bah add "$ctr" "$tarball" / >/dev/null &&
        $bah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
            --cmd /bin/bash "$ctr" &&
        $bah commit --format docker -q "$ctr" "$base" >/dev/null; }; then
        notok "base image $base from $base_from"
        echo "1..$n"
        exit 1
    fi
fi
ok "base image $base from $base_from ($(($(now) - t0)) s)"

# ---- build ----
# The host's CA bundle as the build secret `ca` (see deploy/Dockerfile): where
# HTTPS goes through an intercepting proxy, the host trusts its CA and so does
# the build.
ca_bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
bud() {
    # shellcheck disable=SC2046 # the optional --secret option, two words
    $bah bud --isolation chroot --pull=never --layers --format docker \
        $([ -f "$ca_bundle" ] && echo "--secret id=ca,src=$ca_bundle") \
        --build-arg DEBIAN_IMAGE="$base" -f deploy/Dockerfile --target "$1" -t "$2" . \
        >"$work/out" 2>&1
}
t0=$(now)
check "buildah bud --target web-deps (kept as the build cache)" bud web-deps "$deps"
t0a=$(now)
check "buildah bud --target api" bud api "$api"
t1=$(now)
check "buildah bud --target web" bud web "$web"
t2=$(now)
echo "# build times: toolchain and npm packages $((t0a - t0)) s, api $((t1 - t0a)) s, web $((t2 - t1)) s"
for img in "$api" "$web"; do
    echo "# $img: $($bah images --format '{{.Size}}' "$img" 2>/dev/null | head -n 1)"
done

# user_is IMAGE: the image's configured user is 10001:10001.
user_is() {
    u=$($bah inspect --type image --format '{{.Docker.Config.User}}' "$1")
    echo "user: '$u'"
    [ "$u" = 10001:10001 ]
}
# has_healthcheck IMAGE
has_healthcheck() {
    h=$($bah inspect --type image --format '{{.Docker.Config.Healthcheck}}' "$1")
    echo "healthcheck: $h"
    case $h in *CMD*) return 0 ;; esac
    return 1
}
for img in "$api" "$web"; do
    check "$img runs as 10001:10001" user_is "$img"
    check "$img has a HEALTHCHECK" has_healthcheck "$img"
done

# run_bg IMAGE LOG ENV... -- COMMAND...: buildah run in the background; sets $bg_pid.
run_bg() {
    img=$1
    log=$2
    shift 2
    c=$($bah from --pull=never "$img") || return 1
    ctrs="$ctrs $c"
    envs=""
    while [ "$1" != -- ]; do
        envs="$envs --env $1"
        shift
    done
    shift
    # shellcheck disable=SC2086 # one --env NAME=VALUE a word
    $bah run --isolation chroot $envs "$c" -- "$@" >"$log" 2>&1 &
    bg_pid=$!
    pids="$pids $bg_pid"
}
# stops_on_sigterm PORT BGPID [CODE]: the listener runs as 10001 and exits with
# CODE (default 0) on SIGTERM.
stops_on_sigterm() {
    p=$(listener_pid "$1")
    [ -n "$p" ] || { echo "no listener on port $1"; return 1; }
    uid=$(stat -c %u "/proc/$p")
    echo "listener pid $p uid $uid"
    [ "$uid" = 10001 ] || return 1
    kill -TERM "$p"
    wait "$2"
    rc=$?
    echo "exit status $rc"
    [ "$rc" -eq "${3:-0}" ]
}

# ---- api image ----
if $bah inspect --type image "$api" >/dev/null 2>&1; then
    port=$(free_port)
    run_bg "$api" "$work/api.log" COMMUNITY_DB=sqlite:///var/lib/community/t.db \
        COMMUNITY_LISTEN="127.0.0.1:$port" -- /usr/local/bin/community-server
    api_pid=$bg_pid
    if wait_http "http://127.0.0.1:$port/readyz" 60; then
        check "api: /healthz" curl -fsS "http://127.0.0.1:$port/healthz"
        check "api: /readyz" curl -fsS "http://127.0.0.1:$port/readyz"
        check "api: GET /v1/events" curl -fsS "http://127.0.0.1:$port/v1/events"
        check "api: community-server runs as 10001 and exits 0 on SIGTERM" \
            stops_on_sigterm "$port" "$api_pid"
    else
        cp "$work/api.log" "$work/out"
        notok "api: community-server answers /readyz within 60 s"
    fi
    # shellcheck disable=SC2086 # $bah: the command and its options
    check "api: community migrate" \
        $bah run --isolation chroot "$c" -- community --db sqlite:///var/lib/community/t.db migrate
    # shellcheck disable=SC2086
    check "api: community worker --once" \
        $bah run --isolation chroot "$c" -- community --db sqlite:///var/lib/community/t.db \
        worker --once
fi

# ---- web image ----
page_renders() {
    curl -fsS "http://127.0.0.1:$1/" >"$work/page" || return 1
    grep -c '<html' "$work/page"
    grep -q '<html' "$work/page" && grep -qi 'events' "$work/page"
}
if $bah inspect --type image "$web" >/dev/null 2>&1; then
    port=$(free_port)
    run_bg "$web" "$work/web.log" COMMUNITY_DB=sqlite:///var/lib/community/web.db \
        HOSTNAME=127.0.0.1 PORT="$port" -- /usr/local/bin/node /app/server.js
    web_pid=$bg_pid
    if wait_http "http://127.0.0.1:$port/api/health" 60; then
        check "web: /api/health" curl -fsS "http://127.0.0.1:$port/api/health"
        check "web: the home page renders" page_renders "$port"
        check "web: the Next.js server runs as 10001 and exits 0 on SIGTERM" \
            stops_on_sigterm "$port" "$web_pid"
    else
        cp "$work/web.log" "$work/out"
        notok "web: /api/health answers within 60 s"
    fi
fi

# Layers of earlier builds that no tag uses any more (the base stays).
$bah rmi --prune >/dev/null 2>&1 || true

echo "1..$n"
echo "# $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
