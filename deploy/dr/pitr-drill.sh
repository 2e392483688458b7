#!/bin/sh
# pitr-drill.sh - a point-in-time recovery drill on a throwaway PostgreSQL, as TAP.
#
#   deploy/dr/pitr-drill.sh [--cli PATH] [--before N] [--after N] [--keep]
#
# 1. starts a PostgreSQL server with WAL archiving (archive_mode=on, archive_command
#    copying each segment to an archive folder) and takes a base backup (pg_basebackup);
# 2. writes N members through the library (`community seed`, members.signup; without
#    --cli, N rows through psql), then records a target time, then writes N' more;
# 3. switches the WAL, waits until the archive has it, and destroys the server
#    (immediate stop, data directory deleted): the base backup and the archive are
#    all that is left;
# 4. restores: copies the base backup into a new data directory, sets restore_command,
#    recovery_target_time and recovery.signal, starts it and waits for the promotion;
# 5. checks that exactly the rows written before the target are there, and prints the
#    time to restore (copy + WAL replay + promotion) and the data lost.
#
# The cluster lives in a `mktemp -d` folder, socket only, and is removed at the end
# (--keep leaves it). As root the servers run as the `postgres` user. PG_BIN names the
# directory of initdb/pg_ctl/pg_basebackup (default: `pg_config --bindir` or the newest
# /usr/lib/postgresql/*/bin). Without them it prints "1..0 # SKIP". meson test
# dr-pitr (suite dr) runs it at small scale with the built `community`.
set -eu

cli=""
before=20
after=10
keep=""
while [ $# -gt 0 ]; do
    case $1 in
        --cli) cli=$2; shift 2 ;;
        --before) before=$2; shift 2 ;;
        --after) after=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        *) echo "usage: $0 [--cli PATH] [--before N] [--after N] [--keep]" >&2; exit 2 ;;
    esac
done

find_bin() {
    if [ -n "${PG_BIN:-}" ]; then
        echo "$PG_BIN"
        return
    fi
    if command -v pg_config >/dev/null 2>&1; then
        d=$(pg_config --bindir 2>/dev/null || true)
        if [ -x "$d/initdb" ] && [ -x "$d/pg_basebackup" ]; then
            echo "$d"
            return
        fi
    fi
    for d in $(printf '%s\n' /usr/lib/postgresql/*/bin | sort -V -r); do
        if [ -x "$d/initdb" ] && [ -x "$d/pg_basebackup" ]; then
            echo "$d"
            return
        fi
    done
}
bin=$(find_bin)
if [ -z "$bin" ]; then
    echo "1..0 # SKIP no PostgreSQL server binaries (apt-get install postgresql-15)"
    exit 0
fi
if [ -n "$cli" ] && [ ! -x "$cli" ]; then
    echo "pitr-drill: --cli $cli is not an executable" >&2
    exit 2
fi

n=0
plan=9
echo "1..$plan"
ok() {
    n=$((n + 1))
    echo "ok $n - $1"
}
bail() {
    n=$((n + 1))
    echo "not ok $n - $1"
    shift
    for f in "$@"; do
        [ -f "$f" ] && sed 's/^/# /' "$f"
    done
    exit 1
}

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

work=$(mktemp -d "${TMPDIR:-/tmp}/cm-pitr.XXXXXX")
chmod 755 "$work"
if [ "$(id -u)" = 0 ]; then
    chown postgres: "$work"
    user=postgres
else
    user=$(id -un)
fi

as_owner mkdir "$work/run" "$work/archive" "$work/sock1" "$work/sock2"
cleanup() {
    for d in primary restored; do
        [ -f "$work/$d/postmaster.pid" ] &&
            as_owner "$bin/pg_ctl" -D "$work/$d" -m immediate -w stop >/dev/null 2>&1
    done
    if [ -n "$keep" ]; then
        echo "# kept $work"
    else
        rm -rf "$work"
    fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

uri1="postgresql:///postgres?host=$work/sock1&user=$user"
uri2="postgresql:///postgres?host=$work/sock2&user=$user"
psql1() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$uri1" "$@"; }
psql2() { psql -X -q -t -A -v ON_ERROR_STOP=1 "$uri2" "$@"; }

# ---- 1. the primary, archiving every WAL segment ----
as_owner "$bin/initdb" -D "$work/primary" -U "$user" -A trust -E UTF8 --locale=C \
    --no-sync >"$work/run/initdb.log" 2>&1 || bail "initdb" "$work/run/initdb.log"
as_owner "$bin/pg_ctl" -D "$work/primary" -l "$work/run/primary.log" -w -t 60 \
    -o "-c listen_addresses='' -c unix_socket_directories=$work/sock1 -c fsync=off \
-c wal_level=replica -c archive_mode=on \
-c archive_command='test ! -f $work/archive/%f && cp %p $work/archive/%f'" \
    start >/dev/null || bail "start the primary with archive_mode=on" "$work/run/primary.log"
ok "primary started with archive_mode=on, archive_command copying to $work/archive"

# ---- 2. base backup ----
t0=$(now)
as_owner "$bin/pg_basebackup" -d "$uri1" -D "$work/base" -X stream -c fast --no-sync \
    >"$work/run/basebackup.log" 2>&1 || bail "pg_basebackup" "$work/run/basebackup.log"
t1=$(now)
ok "base backup taken (pg_basebackup, $(du -sh "$work/base" | cut -f1), $(elapsed "$t0" "$t1") s)"

# ---- 3. writes before the target ----
# rows PHASE FROM COUNT: COUNT members (or drill rows) numbered FROM.. through the library.
ids_query=""
rows() {
    phase=$1
    from=$2
    count=$3
    if [ -n "$cli" ]; then
        seed=$work/run/seed-$phase.json
        awk -v p="$phase" -v f="$from" -v c="$count" 'BEGIN {
            printf "[";
            for (i = f; i < f + c; i++)
                printf "%s{\"op\": \"members.signup\", \"input\": {\"email\": \"%s%d@drill.example.org\", \"name\": \"Drill %s %d\"}}",
                    (i > f ? ",\n" : ""), p, i, p, i;
            print "]" }' >"$seed"
        "$cli" --db "$uri1" seed "$seed" >"$work/run/seed-$phase.log" 2>&1
    else
        psql1 -c "create table if not exists drill (id bigserial primary key, phase text not null)" \
            -c "insert into drill (phase) select '$phase' from generate_series(1, $count)" \
            >"$work/run/seed-$phase.log" 2>&1
    fi
}
if [ -n "$cli" ]; then
    ids_query="select coalesce(string_agg(email, ',' order by email), '') from members where email like '%@drill.example.org'"
    how="through the library (community seed, members.signup)"
else
    ids_query="select coalesce(string_agg(id || phase, ',' order by id), '') from drill"
    how="through psql"
fi
rows before 1 "$before" || bail "write $before rows $how" "$work/run/seed-before.log"
ids_before=$(psql1 -c "$ids_query")
target=$(psql1 -c "select clock_timestamp()")
ok "$before rows written $how; target time $target"

# ---- 4. writes after the target, WAL archived, the primary destroyed ----
rows after $((before + 1)) "$after" || bail "write $after more rows" "$work/run/seed-after.log"
ids_all=$(psql1 -c "$ids_query")
last=$(psql1 -c "select pg_walfile_name(pg_switch_wal())")
i=0
until [ "$(psql1 -c "select coalesce(last_archived_wal, '') >= '$last' from pg_stat_archiver")" = t ]; do
    i=$((i + 1))
    [ $i -lt 600 ] || bail "WAL segment $last archived within 60 s" "$work/run/primary.log"
    sleep 0.1
done
segments=$(find "$work/archive" -type f | wc -l)
as_owner "$bin/pg_ctl" -D "$work/primary" -m immediate -w stop >/dev/null 2>&1
rm -rf "$work/primary"
ok "$after rows written after the target; $segments WAL files archived up to $last; primary destroyed"

# ---- 5. restore to the target time ----
t0=$(now)
as_owner cp -a "$work/base" "$work/restored"
as_owner touch "$work/restored/recovery.signal"
as_owner sh -c "cat >>'$work/restored/postgresql.auto.conf'" <<CONF
restore_command = 'cp $work/archive/%f %p'
recovery_target_time = '$target'
recovery_target_action = 'promote'
CONF
as_owner "$bin/pg_ctl" -D "$work/restored" -l "$work/run/restored.log" -w -t 120 \
    -o "-c listen_addresses='' -c unix_socket_directories=$work/sock2 -c fsync=off \
-c archive_mode=off" start >/dev/null || bail "start the restored server" "$work/run/restored.log"
i=0
until [ "$(psql2 -c "select pg_is_in_recovery()" 2>/dev/null)" = f ]; do
    i=$((i + 1))
    [ $i -lt 1200 ] || bail "restored server promoted within 120 s" "$work/run/restored.log"
    sleep 0.1
done
t1=$(now)
restore_s=$(elapsed "$t0" "$t1")
ok "restored to $target and promoted in $restore_s s"
grep -q 'recovery stopping before commit' "$work/run/restored.log" ||
    bail "recovery stopped at the target (log: recovery stopping before commit)" "$work/run/restored.log"
ok "recovery stopped at the first commit after the target ($(grep -o 'recovery stopping before commit of transaction [0-9]*' "$work/run/restored.log"))"

# ---- 6. the data ----
ids_restored=$(psql2 -c "$ids_query")
count() {
    if [ -z "$1" ]; then echo 0; else echo "$1" | tr ',' '\n' | wc -l; fi
}
# lost: written before the target, missing after the restore
printf '%s\n' "$ids_before" | tr ',' '\n' | sed '/^$/d' | sort >"$work/run/ids-before"
printf '%s\n' "$ids_restored" | tr ',' '\n' | sed '/^$/d' | sort >"$work/run/ids-restored"
lost=$(comm -23 "$work/run/ids-before" "$work/run/ids-restored" | wc -l)
[ "$lost" -eq 0 ] || bail "no row written before the target is lost ($lost lost)"
ok "every row written before the target is there: $(count "$ids_restored") of $(count "$ids_before"), 0 lost"
[ "$ids_restored" = "$ids_before" ] ||
    bail "exactly the rows before the target (restored: $(count "$ids_restored"), before: $(count "$ids_before"))"
excluded=$(($(count "$ids_all") - $(count "$ids_restored")))
ok "no row written after the target: $excluded rows after it are not restored, by design"
if [ -n "$cli" ]; then
    "$cli" --db "$uri2" members list >"$work/run/members.log" 2>&1 ||
        bail "the library opens the restored database (community members list)" "$work/run/members.log"
    ok "the library opens the restored database and reads it (community members list)"
else
    psql2 -c "insert into drill (phase) values ('new')" >/dev/null ||
        bail "the restored server takes writes"
    ok "the restored server takes writes"
fi
[ "$n" -eq "$plan" ] || echo "# plan $plan, ran $n"

echo "# PITR drill: base backup + $segments archived WAL files, target $target"
echo "# time to restore (copy, replay, promotion): $restore_s s"
echo "# data lost before the target: $lost rows; rows after the target not restored: $excluded"
