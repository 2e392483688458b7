#!/bin/sh
# build-fuzz-http.sh BUILDDIR [OUT] - build the libFuzzer target of the HTTP
# host (tests/fuzz/fuzz_http.c) with clang, ASan and UBSan. The host code and
# llhttp are instrumented; libcommunity is linked from BUILDDIR (any meson
# build directory of this project that has built lib/libcommunity.so).
#
# Run it for a bounded time (CI):
#   tests/fuzz/build-fuzz-http.sh build
#   mkdir -p /tmp/fuzz-http && build/fuzz_http -max_total_time=60 -timeout=10 \
#       -rss_limit_mb=4096 -dict=tests/fuzz/http.dict /tmp/fuzz-http tests/fuzz/corpus/http
# A crash leaves crash-<sha1> in the working directory and exits non-zero.
set -eu
src=$(cd "$(dirname "$0")/../.." && pwd)
build=$(cd "${1:?usage: build-fuzz-http.sh BUILDDIR [OUT]}" && pwd)
out=${2:-$build/fuzz_http}
llhttp=/usr/share/llhttp
[ -f "$llhttp/llhttp.c" ] || { echo "needs Debian's node-llhttp (apt-get install -y node-llhttp)" >&2; exit 1; }
[ -f "$build/lib/libcommunity.so" ] || { echo "build libcommunity in $build first" >&2; exit 1; }
cc=${CC_FUZZ:-clang}
san="-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
common="-g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for f in llhttp api http; do
    $cc $common -fsanitize=fuzzer-no-link,address,undefined -w -DLLHTTP_STRICT_MODE=1 -I/usr/share/include/llhttp \
        -c "$llhttp/$f.c" -o "$tmp/llhttp_$f.o"
done
h="$src/examples/http"
$cc $common $san -Wall -Wextra -Wno-unused-parameter \
    -I"$src/include" -I"$build/include" -I/usr/share/include/llhttp -I"$h" \
    "$src/tests/fuzz/fuzz_http.c" "$h/app.c" "$h/config.c" "$h/idem.c" "$h/jlog.c" \
    "$h/metrics.c" "$h/openapi.c" "$h/parser.c" "$h/ratelimit.c" "$h/redis.c" "$h/routes.c" "$h/util.c" \
    "$tmp"/llhttp_*.o -L"$build/lib" -lcommunity -ljansson -lsodium -lpthread -lm \
    -Wl,-rpath,"$build/lib" -o "$out"
echo "built $out"
