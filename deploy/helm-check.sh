#!/bin/sh
# helm-check.sh - the Helm chart deploy/helm/community checked by helm itself
# and against the Kubernetes schemas, as TAP (meson test helm, suite
# 'deploy'):
#   lint       helm lint --strict, with the default values and with
#              ci/existing-secret-values.yaml
#   render     helm template of both configurations
#   schemas    deploy/k8scheck.js on each rendering: every manifest against
#              its Kubernetes (or CRD) schema, and what the chart promises
#              (Deployments with probes, HPA, PDB, ALB Ingress,
#              ServiceMonitor, ExternalSecret)
#   digest     images given by digest render as <repository>@<digest>
#
#   deploy/helm-check.sh [SOURCE_ROOT]
#
# helm and the schemas come from deploy/tools.sh (npm); without them the
# test is skipped ("1..0 # SKIP"), except under CI=true, where it fails.
set -u

src=$(cd "${1:-$(dirname "$0")/..}" && pwd)
tools=$src/deploy/.tools
helm=$tools/bin/helm
chart=$src/deploy/helm/community

if ! command -v node >/dev/null 2>&1 || ! "$src/deploy/tools.sh" --check; then
    if [ "${CI:-}" = true ]; then
        echo "1..1"
        echo "not ok 1 - helm and the schemas are missing (run deploy/tools.sh)"
        exit 1
    fi
    echo "1..0 # SKIP node, helm or the schemas missing (run deploy/tools.sh)"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$tmp/out
# No user configuration or cache: helm writes nothing outside $tmp.
HELM_CACHE_HOME=$tmp/cache HELM_CONFIG_HOME=$tmp/config HELM_DATA_HOME=$tmp/data
export HELM_CACHE_HOME HELM_CONFIG_HOME HELM_DATA_HOME

n=0
failed=0
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

# render VALUES_FILE|- OUT: helm template of the chart.
render() {
    if [ "$1" = - ]; then
        "$helm" template rel "$chart" >"$2"
    else
        "$helm" template rel "$chart" -f "$chart/$1" >"$2"
    fi
}

check "helm lint --strict (default values)" "$helm" lint --strict "$chart"
check "helm template (default values)" render - "$tmp/default.yaml"
check "Kubernetes schemas and the chart's parts (default values)" \
    node "$src/deploy/k8scheck.js" "$tools" "$tmp/default.yaml"

values=ci/existing-secret-values.yaml
check "helm lint --strict ($values)" "$helm" lint --strict "$chart" -f "$chart/$values"
check "helm template ($values)" render "$values" "$tmp/existing.yaml"
check "Kubernetes schemas and the chart's parts ($values)" \
    node "$src/deploy/k8scheck.js" "$tools" "$tmp/existing.yaml" --existing-secret

digest() {
    grep -q 'image: ".*/community-prod@sha256:0*1"' "$tmp/existing.yaml" &&
        grep -q 'image: ".*/community-prod-web@sha256:0*2"' "$tmp/existing.yaml"
}
check "images given by digest render as repository@digest" digest

echo "1..$n"
echo "# $((n - failed)) passed, $failed failed"
[ "$failed" -eq 0 ]
