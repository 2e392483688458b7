#!/bin/sh
# check-alloc.sh SRCDIR - every allocation in lib/ goes through the cm__ funnel
# (lib/util/alloc.c). A line that frees a dependency's own memory is marked
# "dep-alloc". TAP output.
src="$1"
bad=$(grep -rnE '(^|[^_a-zA-Z0-9.>])(malloc|calloc|realloc|free|strdup|strndup)\(' "$src/lib" \
        --include='*.c' --include='*.h' \
      | grep -v "^$src/lib/util/alloc.c:" | grep -v 'dep-alloc' )
echo "1..1"
if [ -z "$bad" ]; then
  echo "ok 1 - no bare allocation calls in lib/"
else
  echo "not ok 1 - bare allocation calls in lib/ (use cm__malloc & co.)"
  echo "$bad" | sed 's/^/# /'
fi
