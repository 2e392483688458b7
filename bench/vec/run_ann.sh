#!/bin/sh
# run_ann.sh - reproduces the "Approximate search (HNSW)" section of
# docs/benchmarks.md: cm_vec_index (f32 and bf16) against hnswlib (native,
# from the headers inside npm hnswlib-node), hnswlib-node and usearch (npm,
# f32 and bf16) on 100k x 384 synthetic embeddings (bench/vec/datagen.h),
# M = 16, ef_construction = 128, recall@10 over 1,000 queries against an
# exact scan.
#
#   bench/vec/run_ann.sh [OUTDIR]        (default bench/out/ann)
#
# Environment: BUILD (default build-ann, a release build), THREADS (2),
# EFS (the ef sweep), SKIP_NODE=1 to leave out the Node peers.
# Every line of output is "key=value ..."; the raw logs land in OUTDIR.
# On a shared machine run it as `nice -n -15 bench/vec/run_ann.sh` (root).
# Takes 25-35 minutes on 2 cores; bench/vec/ann_report.py turns the log into
# the tables of the document. Benchmark script, not part of the library.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=${BUILD:-build-ann}
OUT=${1:-bench/out/ann}
THREADS=${THREADS:-2}
EFS=${EFS:-10,16,20,24,32,40,48,64,80,96,128,160,200,256}
PEERS=bench/vec/peers

[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" -Dbuildtype=release
# only the library: the benchmark needs nothing else
LIBT=$(ninja -C "$BUILD" -t targets all | sed -n 's|^\(lib/libcommunity\.so[.0-9]*\): c_LINKER$|\1|p')
ninja -C "$BUILD" -j2 "$LIBT"
mkdir -p "$OUT" "$BUILD/bench"

cc -O3 -march=native -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra \
    -Iinclude -I"$BUILD/include" -Ibench/vec \
    bench/vec/ann_bench.c bench/vec/datagen.c bench/vec/common.c \
    -o "$BUILD/bench/vec_ann_bench" -L"$BUILD/lib" -lcommunity \
    -Wl,-rpath,"$ROOT/$BUILD/lib" -lm -lpthread

# peers: pinned versions, installed into bench/vec/peers (ignored by git)
mkdir -p "$PEERS"
[ -f "$PEERS/.gitignore" ] || printf '*\n' > "$PEERS/.gitignore"
if [ ! -f "$PEERS/package.json" ]; then
    cat > "$PEERS/package.json" <<'EOF'
{
  "name": "cm-ann-peers",
  "private": true,
  "description": "ANN benchmark peers for bench/vec/run_ann.sh (not part of the library)",
  "allowScripts": { "hnswlib-node": true, "usearch": true }
}
EOF
fi
if [ ! -d "$PEERS/node_modules/usearch" ] || [ ! -d "$PEERS/node_modules/hnswlib-node" ]; then
    (cd "$PEERS" && npm_config_nodedir=/usr npm install --no-audit --no-fund \
        hnswlib-node@3.0.0 usearch@2.26.2)
fi
g++ -O3 -march=native -std=c++17 -DNDEBUG -I"$PEERS/node_modules/hnswlib-node/src" \
    bench/vec/ann_hnswlib.cpp -o "$BUILD/bench/ann_hnswlib" -lpthread

{
    echo "machine cpu=\"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')\"" \
        "cores=$(nproc) date=$(date -u +%Y-%m-%dT%H:%MZ) threads=$THREADS"
    # 1. our index, f32 then bf16: data + truth (written for the peers),
    #    build, ef sweep, filters, delete/insert churn
    "$BUILD/bench/vec_ann_bench" --storage f32 --threads "$THREADS" --ef "$EFS" --data "$OUT"
    "$BUILD/bench/vec_ann_bench" --storage bf16 --threads "$THREADS" --ef "$EFS"
    # 2. hnswlib compiled natively (-O3 -march=native: AVX-512 kernels)
    "$BUILD/bench/ann_hnswlib" --data "$OUT" --threads "$THREADS" --ef "$EFS"
    # 3. Node peers: usearch f32 / bf16 (parallel build), hnswlib-node
    if [ "${SKIP_NODE:-0}" != 1 ]; then
        node bench/vec/ann_peers.mjs --data "$OUT" --threads "$THREADS" --ef "$EFS"
    fi
    # 4. build times: the builds again, alternating, three rounds (the
    #    report keeps the best of each: the machine is shared)
    for round in 1 2 3; do
        echo "round $round"
        "$BUILD/bench/vec_ann_bench" --storage f32 --threads 1 --ef 20 --no-filter --no-churn --min-time 0
        "$BUILD/bench/ann_hnswlib" --data "$OUT" --threads 1 --ef 20 --min-time 0
        "$BUILD/bench/vec_ann_bench" --storage f32 --threads "$THREADS" --ef 20 --no-filter --no-churn --min-time 0
        "$BUILD/bench/vec_ann_bench" --storage bf16 --threads "$THREADS" --ef 32 --no-filter --no-churn --min-time 0
        "$BUILD/bench/ann_hnswlib" --data "$OUT" --threads "$THREADS" --ef 20 --min-time 0
        if [ "${SKIP_NODE:-0}" != 1 ]; then
            node bench/vec/ann_peers.mjs --data "$OUT" --threads "$THREADS" --ef 32 \
                --lib usearch-bf16 --min-time 0
        fi
    done
} 2>&1 | tee "$OUT/results.txt"
python3 bench/vec/ann_report.py "$OUT/results.txt" > "$OUT/report.md"
echo "tables: $OUT/report.md"
