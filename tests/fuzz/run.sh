#!/usr/bin/env bash
# run.sh BUILDDIR [SECONDS] - build every libFuzzer target with clang (ASan +
# UBSan) and run each for a bounded time (default 30 s). Exits non-zero on a
# crash, leak or sanitizer report; a crash input is left in BUILDDIR/fuzz/.
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: run.sh BUILDDIR [SECONDS]}" && pwd)
secs=${2:-30}
out=$build/fuzz
mkdir -p "$out/corpus-http" "$out/corpus-vec"

# fuzz_vec_load: the index loader is self-contained (scalar kernels only).
clang -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -std=c11 \
    -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -I"$src/include" -I"$build/include" \
    -I"$src/lib" "$src/tests/fuzz/fuzz_vec_load.c" "$src"/lib/vec/*.c \
    "$src/lib/util/error.c" "$src/lib/util/alloc.c" -lm -lpthread -o "$out/fuzz_vec_load"
# fuzz_http: request bytes -> response through the HTTP host.
"$src/tests/fuzz/build-fuzz-http.sh" "$build" "$out/fuzz_http"

cd "$out"
echo "== fuzz_vec_load for ${secs}s"
./fuzz_vec_load -max_len=65536 -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
    corpus-vec 2>&1 | tail -n 3
echo "== fuzz_http for ${secs}s"
./fuzz_http -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 \
    -dict="$src/tests/fuzz/http.dict" corpus-http "$src/tests/fuzz/corpus/http" 2>&1 | tail -n 3
echo "fuzz: no crashes"
