#!/bin/sh
# check-layers.sh SRCDIR - the layers of lib/ point one way (docs/architecture.md):
#
#   util <- store <- vec <- ai <- core
#           store <- jobs <- core
#   util <- mail <- core
#   util <- blob <- core
#   util <- pay <- core
#
# A file under lib/<layer> may include the headers of its own layer and of
# the layers below it, never those of a layer above it or beside it (jobs
# and vec/ai know nothing of each other). <uv.h> stays inside lib/jobs.
# The hosts (examples/) and the Node addon (bindings/) include only the
# public headers <community/*.h>, never a header of lib/. TAP output.
src="$1"

# The layers a layer may include (its own included).
allowed() {
  case "$1" in
    util) echo "util" ;;
    store) echo "util store" ;;
    vec) echo "util store vec" ;;
    ai) echo "util store vec ai" ;;
    jobs) echo "util store jobs" ;;
    mail) echo "util mail" ;;
    blob) echo "util blob" ;;
    pay) echo "util pay" ;;
    core) echo "util store vec ai jobs mail blob pay core" ;;
  esac
}
layers="util store vec ai jobs mail blob pay core"

bad=""
# every directory of lib/ is a known layer
for d in "$src"/lib/*/; do
  d=$(basename "$d")
  case " $layers " in
    *" $d "*) ;;
    *) bad="$bad
lib/$d is not a known layer (add it to tests/lint/check-layers.sh and docs/architecture.md)" ;;
  esac
done

# One awk over every file of lib/: a quoted include is resolved against the
# including file's directory ("../core/ops_int.h"), then against lib/
# ("ai/ai_int.h"); the first component under lib/ is its layer. Generated
# and system headers (found in neither place) are skipped.
rules=""
for layer in $layers; do rules="$rules$layer=$(allowed "$layer" | tr ' ' ,);"; done
bad="$bad
$(find "$src/lib" -name '*.c' -o -name '*.h' | sort | xargs awk -v lib="$src/lib" -v rules="$rules" '
function norm(p,   n, i, parts, out, k) {
  n = split(p, parts, "/"); k = 0
  for (i = 1; i <= n; i++) {
    if (parts[i] == "" || parts[i] == ".") continue
    if (parts[i] == ".." && k > 0) { k--; continue }
    out[++k] = parts[i]
  }
  p = ""
  for (i = 1; i <= k; i++) p = p "/" out[i]
  return p
}
function exists(p,   line, r) { r = (getline line < p); close(p); return r >= 0 }
function layer_of(p,   rel) { rel = substr(p, length(root) + 2); sub(/\/.*/, "", rel); return rel }
BEGIN {
  root = norm(lib)
  n = split(rules, rs, ";")
  for (i = 1; i <= n; i++) if (split(rs[i], kv, "=") == 2) ok[kv[1]] = "," kv[2] ","
}
FNR == 1 { file = norm(FILENAME); dir = file; sub(/\/[^\/]*$/, "", dir); me = layer_of(file) }
/^[ \t]*#[ \t]*include[ \t]*"/ {
  inc = $0; sub(/^[^"]*"/, "", inc); sub(/".*/, "", inc)
  t = ""
  if (exists(norm(dir "/" inc))) t = norm(dir "/" inc)
  else if (exists(norm(root "/" inc))) t = norm(root "/" inc)
  if (t == "" || index(t, root "/") != 1) next
  tl = layer_of(t)
  if (index(ok[me], "," tl ",") == 0)
    printf "%s includes \"%s\" (%s -> %s)\n", substr(file, length(root) - 2), inc, me, tl
}
/^[ \t]*#[ \t]*include[ \t]*<uv\.h>/ {
  if (me != "jobs") printf "%s includes <uv.h> (libuv stays inside lib/jobs)\n", substr(file, length(root) - 2)
}')"

hosts=""
for d in examples bindings; do
  [ -d "$src/$d" ] || continue
  for f in $(find "$src/$d" -path '*/node_modules' -prune -o \( -name '*.c' -o -name '*.h' -o -name '*.cc' \) -print | sort); do
    rel=${f#"$src/"}
    dir=$(dirname "$f")
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
      case "$inc" in
        */lib/* | lib/* | *_int.h) hosts="$hosts
$rel includes \"$inc\" (hosts use <community/*.h> only)" ;;
        *) [ -f "$dir/$inc" ] || hosts="$hosts
$rel includes \"$inc\", which is not beside it" ;;
      esac
    done
    for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*<\([^>]*\)>.*/\1/p' "$f"); do
      case "$inc" in
        util/* | store/* | vec/* | ai/* | jobs/* | mail/* | blob/* | pay/* | core/*) hosts="$hosts
$rel includes <$inc> (hosts use <community/*.h> only)" ;;
      esac
    done
  done
done

bad=$(echo "$bad" | sed '/^$/d')
hosts=$(echo "$hosts" | sed '/^$/d')
echo "1..2"
if [ -z "$bad" ]; then
  echo "ok 1 - lib/ layers include only their own and lower layers"
else
  echo "not ok 1 - a lower layer of lib/ includes a higher layer's header"
  echo "$bad" | sed '/^$/d; s/^/# /'
fi
if [ -z "$hosts" ]; then
  echo "ok 2 - hosts and bindings include only public headers"
else
  echo "not ok 2 - a host or binding includes a header of lib/"
  echo "$hosts" | sed '/^$/d; s/^/# /'
fi
