#!/bin/sh
# check-format.sh SRCDIR - every C/C++ source of the project is formatted as
# .clang-format says (lib, include, examples, bindings, tests, bench). TAP
# output; SKIP when clang-format is not installed. Fix with:
#   git ls-files '*.c' '*.h' '*.cpp' | xargs clang-format -i
# or, for the lines of a change only, `git clang-format`.
src="$1"
echo "1..1"
if ! command -v clang-format >/dev/null 2>&1; then
  echo "ok 1 # SKIP clang-format not installed"
  exit 0
fi
cd "$src" || exit 1
files=$(find lib include examples bindings tests bench \
          \( -name node_modules -o -name '.next' -o -name 'build*' \) -prune -o \
          -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) -print | sort)
# one clang-format process for all files; it names each file it would change
bad=$(clang-format --dry-run $files 2>&1 | sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: .*-Wclang-format-violations.*/\1/p' | sort -u)
if [ -z "$bad" ]; then
  echo "ok 1 - C sources match .clang-format"
else
  echo "not ok 1 - C sources not formatted as .clang-format says (run clang-format -i on them)"
  for f in $bad; do echo "# $f"; done
fi
