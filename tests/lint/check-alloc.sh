#!/bin/sh
# check-alloc.sh SRCDIR - every allocation in lib/ goes through the cm__ funnel
# (lib/util/alloc.c), and every failed one is reported through cm__oom(). A
# line that frees a dependency's own memory is marked "dep-alloc". TAP output.
src="$1"
bad=$(grep -rnE '(^|[^_a-zA-Z0-9.>])(malloc|calloc|realloc|free|strdup|strndup)\(' "$src/lib" \
        --include='*.c' --include='*.h' \
      | grep -v "^$src/lib/util/alloc.c:" | grep -v 'dep-alloc' )
oom=$(grep -rn 'CM_ENOMEM, "out of memory")' "$src/lib" --include='*.c' --include='*.h' \
      | grep -v "^$src/lib/util/alloc.c:")
echo "1..2"
if [ -z "$bad" ]; then
  echo "ok 1 - no bare allocation calls in lib/"
else
  echo "not ok 1 - bare allocation calls in lib/ (use cm__malloc & co.)"
  echo "$bad" | sed 's/^/# /'
fi
if [ -z "$oom" ]; then
  echo "ok 2 - allocation failures are reported through cm__oom()"
else
  echo "not ok 2 - hand-written out-of-memory errors in lib/ (return cm__oom())"
  echo "$oom" | sed 's/^/# /'
fi
