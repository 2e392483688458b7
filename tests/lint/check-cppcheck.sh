#!/bin/sh
# check-cppcheck.sh SRCDIR BUILDDIR - static analysis (SAST) of lib/ and
# examples/ with cppcheck (Debian package cppcheck): the warning,
# portability and performance checks, jansson's iteration macros from
# tools/sast/jansson.cfg, suppressions (each with its reason) from
# tools/sast/cppcheck-suppressions.txt or inline ("cppcheck-suppress").
# Results are cached in BUILDDIR/cppcheck, so a rerun only analyses changed
# files. TAP; fails when cppcheck is missing.
src="$1"
build="$2"
echo "1..1"
if ! command -v cppcheck >/dev/null 2>&1; then
    echo "not ok 1 - cppcheck is not installed (apt-get install cppcheck; scripts/setup.sh)"
    exit 1
fi
mkdir -p "$build/cppcheck"
out=$(mktemp)
trap 'rm -f "$out"' EXIT
cd "$src" || exit 1
# Only the project's own sources: not the tests, the benchmarks or the
# vendored parser (examples/http uses Debian's llhttp from /usr/share).
files=$(find lib examples/http examples/cli -name '*.c' | sort)
# shellcheck disable=SC2086 # one path per word
if cppcheck -q -j 2 --std=c11 --enable=warning,portability,performance --inline-suppr \
    --error-exitcode=1 --library=tools/sast/jansson.cfg \
    --suppressions-list=tools/sast/cppcheck-suppressions.txt \
    --cppcheck-build-dir="$build/cppcheck" -I include -I lib -I examples/http \
    -D__GNUC__ -DCM_API= -D_POSIX_C_SOURCE=200809L \
    --template='{file}:{line}: {severity}: {message} [{id}]' $files >"$out" 2>&1; then
    echo "ok 1 - cppcheck: no finding in lib/ and examples/ ($(echo "$files" | wc -l) files)"
else
    echo "not ok 1 - cppcheck findings (fix them, or suppress with a reason)"
    sed 's/^/# /' "$out"
    exit 1
fi
