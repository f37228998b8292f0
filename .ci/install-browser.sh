#!/usr/bin/env bash
# What the browser test (tests/test_web.py) and benchmarks/browser_bench.py need: Debian's
# chromium (headless; WebGPU on its SwiftShader software adapter) and the page's pinned npm
# packages (firmware_examples/web/package-lock.json: LiteRT.js, ONNX Runtime Web).
# Idempotent. When either cannot be had it warns and exits 1, and the browser tests skip with
# the reason:  .ci/install-browser.sh || export GAN_EDGE_SKIP_BROWSER=1
set -uo pipefail
cd "$(dirname "$0")/.."

status=0
has_chromium() { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
                 command -v google-chrome >/dev/null 2>&1; }

if ! has_chromium; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -o DPkg::Lock::Timeout=300 chromium >/dev/null; then
        echo "installed $(chromium --version 2>/dev/null | head -n 1)"
    else
        echo "WARNING: chromium could not be installed (as root: apt-get install -y chromium): the browser tests will be skipped"
        status=1
    fi
fi

web=firmware_examples/web
if [ ! -f "$web/node_modules/@litertjs/core/package.json" ] || [ ! -f "$web/node_modules/onnxruntime-web/package.json" ]; then
    if command -v npm >/dev/null 2>&1 && npm ci --prefix "$web" --ignore-scripts --no-audit --no-fund >/dev/null; then
        echo "installed the page's npm packages into $web/node_modules (npm ci)"
    else
        echo "WARNING: npm ci --prefix $web failed or npm is missing: the browser tests will be skipped"
        status=1
    fi
fi
exit $status
