#!/bin/sh
# run.sh - reproduces the "Distance kernels" and "Exact search" sections of
# docs/benchmarks.md in one command:
#
#   bench/vec/run.sh [OUTDIR]          (default bench/out/vec)
#
#   1. pair kernels, L1-hot: libcommunity's exported kernels against
#      SimSIMD's C header (npm simsimd) compiled natively with -O3
#      -march=native, interleaved in one process (bench_vec_kernels);
#   2. exact top-10 over 100k x 768 synthetic embeddings (vec_datagen), one
#      thread: libcommunity (f32, bf16, int8 storage; single queries and a
#      batch of 64) with the single-thread read bandwidth measured in the
#      same process (bench_vec_exact), usearch exactSearch through Node
#      (exact_usearch.mjs) and FAISS IndexFlatIP with OpenBLAS through
#      Python (exact_faiss.py, which also runs libcommunity's batch through
#      ctypes right after each FAISS batch, for a ratio under the same
#      load); the three programs alternate ROUNDS times.
#
# Installs what it needs: Debian python3-faiss, python3-numpy and
# libopenblas0-pthread (FAISS runs on OpenBLAS, not on the reference BLAS),
# and npm simsimd, usearch and hnswlib-node into bench/vec/peers (ignored by
# git; shared with run_ann.sh, same pinned versions).
# Environment: BUILD (default build-vbench, a release build), ROUNDS (3),
# KROUNDS (kernel rounds, 31), N (100000), DIM (768), OPENBLAS_CORETYPE
# (default SkylakeX on AVX-512 CPUs), VB_CLOCK=thread (time the exact-search
# programs with the thread's CPU clock: on a loaded machine), CM_VEC_IMPL
# (force libcommunity's kernel table, e.g. avx512base: AVX-512 without the
# BF16/VNNI extensions).
# Prints Markdown tables; raw JSON lines and logs land in OUTDIR.
# Takes about 5 minutes. Benchmark script, not part of the library.
set -eu
cd "$(dirname "$0")/../.."
ROOT=$(pwd)
BUILD=${BUILD:-build-vbench}
OUT=${1:-bench/out/vec}
ROUNDS=${ROUNDS:-3}
KROUNDS=${KROUNDS:-31}
N=${N:-100000}
DIM=${DIM:-768}
PEERS=bench/vec/peers
PY=/usr/bin/python3 # Debian's python, where python3-faiss lives

# ---- system peers (Debian) ----
if ! $PY -c 'import faiss, numpy' 2>/dev/null ||
    ! dpkg -s libopenblas0-pthread >/dev/null 2>&1; then
    apt-get install -y python3-faiss python3-numpy libopenblas0-pthread
fi
OPENBLAS=/usr/lib/x86_64-linux-gnu/openblas-pthread
# OpenBLAS 0.3.21 falls back to its Haswell (AVX2) kernels on CPUs it does not
# know (AMD Zen 5 among them): pin its AVX-512 kernels where the CPU has them,
# so that the FAISS peer runs at its best (OPENBLAS_CORETYPE overrides).
if [ -z "${OPENBLAS_CORETYPE:-}" ] && grep -qw avx512bw /proc/cpuinfo &&
    grep -qw avx512dq /proc/cpuinfo && grep -qw avx512vl /proc/cpuinfo; then
    OPENBLAS_CORETYPE=SkylakeX
fi
export OPENBLAS_CORETYPE

# ---- the library, release build ----
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" -Dbuildtype=release
meson compile -C "$BUILD" -j 2 lib/community:shared_library
mkdir -p "$OUT" "$BUILD/bench"

# ---- npm peers (pinned; the same package.json as run_ann.sh) ----
mkdir -p "$PEERS"
[ -f "$PEERS/.gitignore" ] || printf '*\n' > "$PEERS/.gitignore"
if [ ! -f "$PEERS/package.json" ]; then
    cat > "$PEERS/package.json" <<'EOF'
{
  "name": "cm-ann-peers",
  "private": true,
  "description": "vec benchmark peers for bench/vec/run.sh and run_ann.sh (not part of the library)",
  "allowScripts": { "hnswlib-node": true, "usearch": true }
}
EOF
fi
if [ ! -d "$PEERS/node_modules/simsimd" ] || [ ! -d "$PEERS/node_modules/usearch" ] ||
    [ ! -d "$PEERS/node_modules/hnswlib-node" ]; then
    (cd "$PEERS" && npm_config_nodedir=/usr npm install --no-audit --no-fund \
        simsimd@6.5.5 usearch@2.26.2 hnswlib-node@3.0.0)
fi
SIMSIMD_INC="$PEERS/node_modules/simsimd/include"

# ---- benchmark programs ----
CFLAGS_B="-std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -Wall -Wextra -Iinclude \
    -I$BUILD/include -Ibench/vec"
LINK="-L$BUILD/lib -lcommunity -Wl,-rpath,$ROOT/$BUILD/lib -lm"
# the kernel harness is compiled natively so that SimSIMD's header picks its
# best kernels (skylake / genoa / ice on AVX-512 CPUs); libcommunity is the
# release build, dispatched at run time
# shellcheck disable=SC2086
cc -O3 -march=native $CFLAGS_B -Wno-unknown-pragmas -Wno-unused-function -DVB_SIMSIMD \
    -isystem "$SIMSIMD_INC" bench/vec/kernels.c bench/vec/common.c bench/vec/datagen.c \
    -o "$BUILD/bench/bench_vec_kernels" $LINK
# shellcheck disable=SC2086
cc -O2 $CFLAGS_B bench/vec/exact.c bench/vec/common.c bench/vec/datagen.c \
    -o "$BUILD/bench/bench_vec_exact" $LINK
# shellcheck disable=SC2086
cc -O2 $CFLAGS_B bench/vec/datagen_main.c bench/vec/common.c bench/vec/datagen.c \
    -o "$BUILD/bench/vec_datagen" $LINK

# ---- data ----
DATA="$OUT/data-${N}x${DIM}"
if [ ! -f "$DATA/meta.json" ]; then
    mkdir -p "$DATA"
    "$BUILD/bench/vec_datagen" --out "$DATA" --n "$N" --nq 1000 --dim "$DIM" --gt 100
fi

# ---- versions ----
{
    echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"
    echo "flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' |
        grep -E '^(avx512f|avx512bw|avx512_bf16|avx512_vnni|avx512_fp16|amx_bf16)$' | tr '\n' ' ')"
    echo "caches: $(getconf LEVEL1_DCACHE_SIZE) L1d, $(getconf LEVEL2_CACHE_SIZE) L2, $(getconf LEVEL3_CACHE_SIZE) L3"
    echo "kernel: $(uname -r); THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled)"
    echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
    echo "cc: $(cc --version | head -1)"
    echo "node: $(node --version)"
    for p in simsimd usearch hnswlib-node; do
        echo "npm $p: $(sed -n 's/^ *"version": "\(.*\)",*$/\1/p' "$PEERS/node_modules/$p/package.json" | head -1)"
    done
    echo "faiss: $($PY -c 'import faiss; print(faiss.__version__)'); numpy: $($PY -c 'import numpy; print(numpy.__version__)')"
    echo "openblas: $(dpkg-query -W -f '${Version}' libopenblas0-pthread), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(auto)}"
    echo "clock: ${VB_CLOCK:-wall}; CM_VEC_IMPL=${CM_VEC_IMPL:-(best)}"
} > "$OUT/versions.txt"
cat "$OUT/versions.txt"

# ---- 1. pair kernels: 64-byte aligned vectors, then 16 bytes off ----
"$BUILD/bench/bench_vec_kernels" --rounds "$KROUNDS" --json "$OUT/kernels.jsonl" |
    tee "$OUT/kernels.txt"
"$BUILD/bench/bench_vec_kernels" --rounds "$KROUNDS" --offset 16 \
    --json "$OUT/kernels-offset16.jsonl" | tee "$OUT/kernels-offset16.txt"

# ---- 2. exact search: the three programs alternate ----
: > "$OUT/exact.jsonl"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    echo "# round $r/$ROUNDS"
    "$BUILD/bench/bench_vec_exact" --data "$DATA" --rounds 5 --single 10 --batch 64 \
        --json "$OUT/exact-cm-$r.json"
    node bench/vec/exact_usearch.mjs "$DATA" --rounds 3 --single 20 --batch 64 \
        --json "$OUT/exact-usearch-$r.json"
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 LD_LIBRARY_PATH="$OPENBLAS" \
        $PY bench/vec/exact_faiss.py "$DATA" --rounds 8 --single 5 --batch 64 \
        --cm-lib "$ROOT/$BUILD/lib/libcommunity.so.0" --json "$OUT/exact-faiss-$r.json"
    cat "$OUT/exact-cm-$r.json" "$OUT/exact-usearch-$r.json" "$OUT/exact-faiss-$r.json" \
        >> "$OUT/exact.jsonl"
    r=$((r + 1))
done 2>&1 | tee "$OUT/exact.txt"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)" >> "$OUT/versions.txt"

# ---- tables ----
$PY bench/vec/exact_report.py "$OUT" | tee "$OUT/tables.md"
