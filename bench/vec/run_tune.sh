#!/bin/sh
# run_tune.sh - self-tuning ef (cm_vec_index_tune, target recall@10 0.95)
# on three data set shapes (those of run_ef.sh: clustered, weak, flat), with
# hnswlib native (the best peer of run_ann.sh) on the same data, same k (10),
# same threads: what tuning costs, the ef it picks, recall and QPS at that
# ef on the 1,000 held-out queries, and hnswlib at the same ef and over its
# own sweep. f32, M 16, ef_construction 128, 100,000 rows, 384 dimensions.
#
#   bench/vec/run_tune.sh [OUTFILE]      (default bench/out/tune/results.txt)
#
# Environment: BUILD (default build-ann, a release build), THREADS (2),
# DIM (384), N (100000), TARGET (0.95). Needs the hnswlib headers that
# run_ann.sh installs into bench/vec/peers (run it once, or SKIP_PEER=1).
# About 6 minutes on 2 shared cores. Benchmark script, not part of the library.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=${BUILD:-build-ann}
OUT=${1:-bench/out/tune/results.txt}
THREADS=${THREADS:-2}
DIM=${DIM:-384}
N=${N:-100000}
TARGET=${TARGET:-0.95}
PEERS=bench/vec/peers

[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" -Dbuildtype=release
LIBT=$(ninja -C "$BUILD" -t targets all | sed -n 's|^\(lib/libcommunity\.so[.0-9]*\): c_LINKER$|\1|p')
ninja -C "$BUILD" -j2 "$LIBT"
OUTDIR=$(dirname "$OUT")
DATA="$OUTDIR/data"
mkdir -p "$OUTDIR" "$DATA" "$BUILD/bench"
cc -O3 -march=native -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra \
    -Iinclude -I"$BUILD/include" -Ibench/vec \
    bench/vec/ann_bench.c bench/vec/datagen.c bench/vec/common.c \
    -o "$BUILD/bench/vec_ann_bench" -L"$BUILD/lib" -lcommunity \
    -Wl,-rpath,"$ROOT/$BUILD/lib" -lm -lpthread
if [ "${SKIP_PEER:-0}" != 1 ]; then
    g++ -O3 -march=native -std=c++17 -DNDEBUG -I"$PEERS/node_modules/hnswlib-node/src" \
        bench/vec/ann_hnswlib.cpp -o "$BUILD/bench/ann_hnswlib" -lpthread
fi

{
    echo "machine cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\"" \
        "cores=$(nproc) date=$(date -u +%Y-%m-%dT%H:%MZ) threads=$THREADS"
    for set in clustered weak flat; do
        case $set in
            clustered) shape="" ;;
            weak) shape="--noise 1.0 --sub-spread 1.0" ;;
            flat) shape="--clusters 20 --subclusters 4 --noise 1.2" ;;
        esac
        echo "set=$set dim=$DIM"
        # shellcheck disable=SC2086
        "$BUILD/bench/vec_ann_bench" --n "$N" --extra 0 --dim "$DIM" --storage f32 \
            --threads "$THREADS" --tune "$TARGET" --ef 24,80 --no-filter --no-churn \
            --data "$DATA" $shape | tee "$OUTDIR/cm-$set.log"
        ef=$(sed -n 's/^tune .* ef=\([0-9]*\) .*/\1/p' "$OUTDIR/cm-$set.log")
        if [ "${SKIP_PEER:-0}" != 1 ]; then
            "$BUILD/bench/ann_hnswlib" --data "$DATA" --dim "$DIM" --threads "$THREADS" \
                --ef "$ef,16,20,24,32,40,48,64,80,96,128"
        fi
    done
} | tee "$OUT"
