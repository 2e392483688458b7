#!/bin/sh
# pg-test-server.sh - start or stop a throwaway PostgreSQL server for tests.
#
#   eval "$(scripts/pg-test-server.sh start)"   # exports CM_TEST_PG_URI, CM_PG_TEST_DIR
#   CM_TEST_PG_URI=... meson test -C build --suite pg -v
#   scripts/pg-test-server.sh stop               # uses $CM_PG_TEST_DIR (or: stop DIR)
#
# The cluster lives in a fresh `mktemp -d` directory (data + unix socket), listens on
# the socket only, and runs with fsync, synchronous_commit and full_page_writes off:
# fast, and disposable by design. As root the server runs as the `postgres` user
# (initdb refuses root). PG_BIN overrides the directory of initdb/pg_ctl; otherwise
# `pg_config --bindir` or the newest /usr/lib/postgresql/*/bin is used.
# Needs the Debian package postgresql-15 (or any PostgreSQL >= 12 server).
set -eu

find_bin() {
    if [ -n "${PG_BIN:-}" ]; then
        echo "$PG_BIN"
        return
    fi
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if [ -x "$d/initdb" ]; then
            echo "$d"
            return
        fi
    fi
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
        if [ -x "$d/initdb" ]; then
            echo "$d"
            return
        fi
    done
    echo "pg-test-server: no PostgreSQL server binaries (install postgresql-15)" >&2
    exit 1
}

# Run a command as the server's owner.
as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

start() {
    bin=$(find_bin)
    dir=$(mktemp -d "${TMPDIR:-/tmp}/cm-pg.XXXXXX")
    chmod 755 "$dir"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$dir"
        user=postgres
    else
        user=$(id -un)
    fi
    as_owner "$bin/initdb" -D "$dir/data" -U "$user" -A trust -E UTF8 --locale=C \
        --no-sync >"$dir/initdb.log" 2>&1 || {
        cat "$dir/initdb.log" >&2
        exit 1
    }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories=$dir -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
        start >/dev/null || {
        cat "$dir/server.log" >&2
        exit 1
    }
    echo "export CM_PG_TEST_DIR='$dir'"
    echo "export CM_TEST_PG_URI='postgresql:///postgres?host=$dir&user=$user'"
}

stop() {
    dir=${1:-${CM_PG_TEST_DIR:-}}
    if [ -z "$dir" ] || [ ! -d "$dir/data" ]; then
        echo "pg-test-server: stop: no server directory (give it or set CM_PG_TEST_DIR)" >&2
        exit 1
    fi
    bin=$(find_bin)
    as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
}

case "${1:-}" in
    start) start ;;
    stop) stop "${2:-}" ;;
    *)
        echo "usage: $0 start | stop [DIR]" >&2
        exit 2
        ;;
esac
