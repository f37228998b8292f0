#!/usr/bin/env bash
# QEMU for the Cortex-M runs (tests/test_mcu_qemu.py, make -C firmware_examples/mcu run).
# Idempotent: does nothing when qemu-system-arm already has the three boards. As root it
# installs Debian's qemu-system-arm; when QEMU cannot be had it warns and exits 1, so that
# CI can go on without it:  .ci/install-qemu-system.sh || export GAN_EDGE_SKIP_CROSS=1
set -uo pipefail

BOARDS="mps2-an386 mps2-an500 mps3-an547" # Cortex-M4, M7, M55: QEMU 6.0 or newer

has_boards() {
    local machines
    machines="$(qemu-system-arm -machine help 2>/dev/null)" || return 1
    for board in $BOARDS; do
        grep -q "^$board " <<<"$machines" || return 1
    done
}

if has_boards; then
    exit 0
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 &&
    apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        -o DPkg::Lock::Timeout=300 qemu-system-arm >/dev/null && has_boards; then
    echo "installed $(qemu-system-arm --version | head -n 1) for the Cortex-M runs"
    exit 0
fi
if command -v qemu-system-arm >/dev/null 2>&1; then
    echo "WARNING: $(qemu-system-arm --version | head -n 1) lacks one of $BOARDS (needs QEMU 6.0+): the Cortex-M runs will be skipped"
else
    echo "WARNING: qemu-system-arm could not be installed (apt-get install -y qemu-system-arm, as root): the Cortex-M runs will be skipped"
fi
exit 1
