#!/usr/bin/env bash
# qemu-user-static and apt's arm64 lists for the emulated Cortex-A72 runs
# (tests/test_linux_board_emulated.py, make -C firmware_examples/linux_board emulate). The arm64
# python and aarch64 wheels themselves are fetched by the first run, into .cache/aarch64.
# Idempotent. When any of it cannot be had it warns and exits 1, so that CI can go on without
# it:  .ci/install-qemu-user.sh || export GAN_EDGE_SKIP_EMULATION=1
set -uo pipefail
cd "$(dirname "$0")/.."

has_arm64() { dpkg --print-foreign-architectures 2>/dev/null | grep -qx arm64; }

if ! command -v qemu-aarch64-static >/dev/null 2>&1 || ! has_arm64; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 &&
        dpkg --add-architecture arm64 && apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
            -o DPkg::Lock::Timeout=300 qemu-user-static >/dev/null; then
        echo "installed $(qemu-aarch64-static --version | head -n 1) and apt's arm64 lists"
    else
        echo "WARNING: qemu-user-static or apt's arm64 lists could not be had (as root: apt-get install -y" \
             "qemu-user-static; dpkg --add-architecture arm64 && apt-get update): the aarch64 runs will be skipped"
        exit 1
    fi
fi
