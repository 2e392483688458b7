#!/bin/sh
# check-exports.sh LIB SYMFILE - the dynamic symbols libcommunity exports
# must be exactly the names listed in the version script (TAP output).
lib="$1"; sym="$2"
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRV]$/ {print $3}' | sed 's/@.*//' | grep -v '^LIBCOMMUNITY_' | sort -u)
listed=$(sed -n 's/^[[:space:]]*\(cm_[a-z0-9_]*\);.*/\1/p' "$sym" | sort -u)
echo "1..2"
if [ "$exported" = "$listed" ]; then
  echo "ok 1 - exported symbols match $sym"
else
  echo "not ok 1 - exported symbols differ from $sym"
  printf '%s\n' "$listed" > /tmp/cm_listed.$$; printf '%s\n' "$exported" > /tmp/cm_exported.$$
  diff /tmp/cm_listed.$$ /tmp/cm_exported.$$ | sed 's/^/# /'; rm -f /tmp/cm_listed.$$ /tmp/cm_exported.$$
fi
if echo "$exported" | grep -q '^cm__'; then
  echo "not ok 2 - internal cm__ symbols leak"
else
  echo "ok 2 - no internal symbols exported"
fi
