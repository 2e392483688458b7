#!/usr/bin/env bash
# shellcheck disable=SC2317  # the checks are functions run through check()
# check-run-deps.sh SRCDIR - scripts/run.sh installs and builds only what
# running needs: `setup.sh run` lists no test tool (cross compiler, qemu,
# prometheus, Check, PostgreSQL server, ...), `setup.sh test` lists every
# run package too, and run.sh asks setup.sh for the run set and builds named
# targets (the CLI and the server) in a build without tests. Prints TAP.
set -uo pipefail
src=${1:?usage: check-run-deps.sh SRCDIR}
n=0
fail=0
check() { # check DESCRIPTION COMMAND...
    n=$((n + 1))
    if "${@:2}"; then echo "ok $n - $1"; else echo "not ok $n - $1"; fail=1; fi
}
echo "1..5"
run=$(bash "$src/scripts/setup.sh" --list run)
all=$(bash "$src/scripts/setup.sh" --list test)
no_test_tools() {
    for p in gcc-aarch64-linux-gnu qemu-user prometheus check clang postgresql-15 valgrind wrk; do
        grep -qx "$p" <<<"$run" && { echo "# run set lists $p"; return 1; }
    done
    return 0
}
superset() {
    while read -r p; do grep -qx "$p" <<<"$all" || { echo "# test set lacks $p"; return 1; }; done <<<"$run"
    grep -qx qemu-user <<<"$all"
}
check "setup.sh run lists no test tool" no_test_tools
check "setup.sh test lists the run packages and the test tools" superset
check "run.sh installs the run set" grep -qE '^bash scripts/setup\.sh run$' "$src/scripts/run.sh"
check "run.sh configures without tests" grep -qE 'meson setup build-run .*-Dtests=disabled' "$src/scripts/run.sh"
check "run.sh builds named targets only" grep -qE '^ninja -C build-run [^#]*"\$\{RUN_TARGETS\[@\]\}"$' "$src/scripts/run.sh"
exit $fail
