#!/usr/bin/env bash
# e2e.sh - end-to-end test of the Next.js example on the Node binding:
# installs what is missing (Debian chromium; the app's npm packages from its
# lockfile), builds the addon and the app, and runs examples/nextjs/e2e in
# headless chromium through playwright-core (no browser is downloaded).
# The mail test (e2e/mail.test.mjs) gets a real SMTP server started here
# (tests/fixtures/smtp_sink.py on python3-aiosmtpd) and the `community` CLI,
# whose worker delivers the app's mail to it. The shop test
# (e2e/shop.test.mjs) starts the payment provider stand-in
# (tests/payments/standin.py) itself and reads the ticket QR codes with
# zbarimg (Debian zbar-tools). The assistant test (e2e/assistant.test.mjs)
# uses the offline assistant provider (no network).
#
# Environment:
#   BUILD_DIR      meson build directory to use or create (default: build-e2e);
#                  must not be a sanitizer build (ASan cannot load into node)
#   E2E_ARTIFACTS  where the screenshots go (default: examples/nextjs/test-results/e2e)
#   CHROMIUM       browser binary (default: /usr/bin/chromium)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build-e2e}
case "$BUILD_DIR" in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
APP=$ROOT/examples/nextjs
export NEXT_TELEMETRY_DISABLED=1 npm_config_audit=false npm_config_fund=false

log() { printf '== e2e: %s\n' "$*"; }

# 1. System packages (Debian). Only what is missing; apt-get update once.
missing=()
command -v chromium >/dev/null 2>&1 || [ -n "${CHROMIUM:-}" ] || missing+=(chromium)
for tool in meson ninja pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("${tool/ninja/ninja-build}")
done
command -v node >/dev/null 2>&1 || missing+=(nodejs npm)
[ -f /usr/include/libstemmer.h ] || missing+=(libstemmer-dev)
# Debian's python3 (a python3 earlier in PATH may lack Debian's aiosmtpd)
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
"$PY" -c 'import aiosmtpd' >/dev/null 2>&1 || missing+=(python3-aiosmtpd)
command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)
pkg-config --exists libcurl 2>/dev/null || missing+=(libcurl4-openssl-dev)
pkg-config --exists libcrypto 2>/dev/null || missing+=(libssl-dev)
[ -f /usr/include/node/node_api.h ] || missing+=(libnode-dev)
for pc in sqlite3 jansson libsodium; do
  pkg-config --exists "$pc" 2>/dev/null || case $pc in
    sqlite3) missing+=(libsqlite3-dev) ;; jansson) missing+=(libjansson-dev) ;;
    libsodium) missing+=(libsodium-dev) ;; esac
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# 2. The addon: a non-sanitized meson build.
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  log "meson setup $BUILD_DIR"
  meson setup "$BUILD_DIR" "$ROOT" -Dtests=disabled -Ddocs=disabled >/dev/null
fi
PKG=$BUILD_DIR/bindings/node
log "building the Node addon in $BUILD_DIR"
if ! ninja -C "$BUILD_DIR" -j2 bindings/node/community.node bindings/node/index.d.ts \
    bindings/node/index.js bindings/node/package.json bindings/node/README.md \
    bindings/node/libcommunity.so.0; then
  echo "e2e: the addon is not part of $BUILD_DIR (sanitized build, or node_api.h missing)" >&2
  exit 1
fi
log "building the community CLI (its worker delivers the app's mail)"
ninja -C "$BUILD_DIR" -j2 examples/cli/community
export COMMUNITY_CLI=$BUILD_DIR/examples/cli/community

# 3. The app: its locked packages, the addon copied in (not symlinked), a production build.
cd "$APP"
log "npm ci in examples/nextjs"
npm ci --include=dev --no-audit --no-fund
log "installing the addon into the app"
npm install --no-save --install-links --include=dev --no-audit --no-fund "$PKG"
log "unit tests of lib/safety.ts"
node --test --test-reporter=spec e2e/safety.test.mjs
log "next build"
node node_modules/next/dist/bin/next build

# 4. The test SMTP server the mail test reads (stopped on exit).
E2E_SMTP_DIR=$(mktemp -d /tmp/cm-e2e-smtp.XXXXXX)
"$PY" "$ROOT/tests/fixtures/smtp_sink.py" --dir "$E2E_SMTP_DIR" &
sink_pid=$!
trap 'kill "$sink_pid" 2>/dev/null; wait "$sink_pid" 2>/dev/null; rm -rf "$E2E_SMTP_DIR"' EXIT
for _ in $(seq 300); do [ -f "$E2E_SMTP_DIR/port" ] && break; sleep 0.1; done
[ -f "$E2E_SMTP_DIR/port" ] || { echo "e2e: the test SMTP server did not start" >&2; exit 1; }
E2E_SMTP_URL="smtp://127.0.0.1:$(cat "$E2E_SMTP_DIR/port")"
export E2E_SMTP_DIR E2E_SMTP_URL
export E2E_PARSE_MAIL=$ROOT/tests/fixtures/parse_mail.py E2E_PYTHON=$PY
log "test SMTP server at $E2E_SMTP_URL"

# 5. The browser tests.
log "running the browser tests"
node --test --test-concurrency=1 --test-reporter=spec --test-reporter-destination=stdout \
  --test-reporter "$ROOT/bindings/node/test/summary-reporter.mjs" \
  --test-reporter-destination=stdout e2e/e2e.test.mjs e2e/mail.test.mjs e2e/shop.test.mjs \
  e2e/assistant.test.mjs
log "screenshots in ${E2E_ARTIFACTS:-$APP/test-results/e2e}"
