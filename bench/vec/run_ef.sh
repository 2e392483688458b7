#!/bin/sh
# run_ef.sh - the ef that cm_vec_index needs for recall@10 >= 0.95 on more than
# one data set: recall over an ef sweep (f32, M = 16, ef_construction = 128,
# 100,000 rows, 1,000 queries) for each dimension and each data set shape:
#   clustered  datagen.h's defaults (200 clusters x 32 sub-clusters, noise 0.5)
#   weak       the same centres with rows spread far from them (noise 1.0,
#              sub-spread 1.0): weaker cluster structure, as held-out data
#   flat       20 clusters x 4 sub-clusters, noise 1.2: little structure left
# Output: the "sweep" lines of vec_ann_bench with a "set=" and "dim=" prefix.
#
#   bench/vec/run_ef.sh [OUTFILE]       (default bench/out/ef/results.txt)
#
# Environment: BUILD (default build-ann, a release build), DIMS (384 768),
# EFS (the sweep), N (100000). About 25 minutes on 2 shared cores.
# Benchmark script, not part of the library.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=${BUILD:-build-ann}
OUT=${1:-bench/out/ef/results.txt}
DIMS=${DIMS:-384 768}
N=${N:-100000}
EFS=${EFS:-16,24,32,40,48,64,80,96,128,160,200}

[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" -Dbuildtype=release
LIBT=$(ninja -C "$BUILD" -t targets all | sed -n 's|^\(lib/libcommunity\.so[.0-9]*\): c_LINKER$|\1|p')
ninja -C "$BUILD" -j2 "$LIBT"
mkdir -p "$(dirname "$OUT")" "$BUILD/bench"
cc -O3 -march=native -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra \
    -Iinclude -I"$BUILD/include" -Ibench/vec \
    bench/vec/ann_bench.c bench/vec/datagen.c bench/vec/common.c \
    -o "$BUILD/bench/vec_ann_bench" -L"$BUILD/lib" -lcommunity \
    -Wl,-rpath,"$ROOT/$BUILD/lib" -lm -lpthread

: > "$OUT"
for dim in $DIMS; do
    for set in clustered weak flat; do
        case $set in
            clustered) shape="" ;;
            weak) shape="--noise 1.0 --sub-spread 1.0" ;;
            flat) shape="--clusters 20 --subclusters 4 --noise 1.2" ;;
        esac
        # shellcheck disable=SC2086
        "$BUILD/bench/vec_ann_bench" --n "$N" --extra 0 --dim "$dim" --storage f32 --threads 2 \
            --ef "$EFS" --no-filter --no-churn --min-time 0 $shape |
            sed -n "s/^sweep /set=$set dim=$dim /p" | tee -a "$OUT"
    done
done
