#!/usr/bin/env bash
# The browser tests under CTest: tests/browser/run.sh WEB_DIR DMC OUT_DIR
#   WEB_DIR  the web build (make web): WEB_DIR/www is served, WEB_DIR/node
#            holds playwright-core
#   DMC      the native CLI (dmc eval / dmc export give the expected results)
#   OUT_DIR  where the screenshots and downloads go
# Exit 77 (skipped) when the web build or Chromium is missing.
set -euo pipefail
WEB_DIR="$1" DMC="$2" OUT_DIR="$3"
HERE="$(cd "$(dirname "$0")" && pwd)"
if [ ! -f "$WEB_DIR/www/dmc-app.wasm" ] || [ ! -d "$WEB_DIR/node/node_modules/playwright-core" ]; then
    echo "skipped: no web build in $WEB_DIR (make web builds it)"
    exit 77
fi
if [ ! -x /usr/bin/chromium ]; then
    echo "skipped: /usr/bin/chromium is not installed (apt-get install chromium)"
    exit 77
fi
: "${MNIST_DIR:?set MNIST_DIR}"
mkdir -p "$OUT_DIR"
export DMC_WEB_ROOT="$WEB_DIR/www" DMC_CLI="$DMC" DMC_TEST_OUT="$OUT_DIR" DMC_REPO="$(cd "$HERE/../.." && pwd)"
export NODE_PATH="$WEB_DIR/node/node_modules"
exec node --test --test-reporter=spec "$HERE/workbench.test.cjs"
