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
# fuzz NAME ARGS...: run one target; on a crash show the sanitizer report.
fuzz() {
    local name=$1
    shift
    echo "== $name for ${secs}s"
    if ! "./$name" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 "$@" \
            >"$name.log" 2>&1; then
        grep -v '^#[0-9]' "$name.log" | tail -n 60
        echo "fuzz: $name found a crash (input left in $out)"
        return 1
    fi
    tail -n 1 "$name.log"
}
fuzz fuzz_vec_load -max_len=65536 corpus-vec
fuzz fuzz_http -dict="$src/tests/fuzz/http.dict" corpus-http "$src/tests/fuzz/corpus/http"
echo "fuzz: no crashes"
