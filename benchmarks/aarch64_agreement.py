#!/usr/bin/env python3
"""Each exported generator on an emulated Cortex-A72 against x86-64, side by side.

    python benchmarks/aarch64_agreement.py MODEL.tflite... [-n 16] [--seed 0]

Runs `make -C firmware_examples/linux_board emulate` (generate.py under qemu-aarch64-static)
and `gan-edge generate` here on the same seed, and prints per model whether the samples are
bit-identical, the largest difference, and that difference in steps of an 8-bit output over
the manifest's output range. The emulated wall time is QEMU's, not a board's.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import gan_edge
from gan_edge.cli.main import main as gan_edge_main

BOARD = Path(__file__).resolve().parents[1] / "firmware_examples" / "linux_board"


def compare(model: Path, n: int, seed: int, work: Path) -> str:
    label = f"{model.parent.parent.name}/{model.name}"  # RUN/generator_*.tflite
    out = work / model.stem
    started = time.perf_counter()
    done = subprocess.run(["make", "-s", "-C", str(BOARD), "emulate", f"PYTHON={sys.executable}", f"MODEL={model}",
                           f"N={n}", f"SEED={seed}", f"OUT={out}"], capture_output=True, text=True)
    emulated_s = time.perf_counter() - started
    if done.returncode != 0:
        return f"{label:48s} emulated run failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}"
    with contextlib.redirect_stdout(io.StringIO()):  # its "wrote ..." line
        assert gan_edge_main(["generate", str(model), "-n", str(n), "--seed", str(seed),
                              "--out", str(work / f"{model.stem}.npy")]) == 0
    aarch64, x86_64 = np.load(out / "samples.npy"), np.load(work / f"{model.stem}.npy")
    low, high = gan_edge.load(model).manifest.output_range or (float(x86_64.min()), float(x86_64.max()))
    difference = float(np.abs(aarch64 - x86_64).max())
    return (f"{label:48s} {n:>7,} {'yes' if np.array_equal(aarch64, x86_64) else 'no':>14} "
            f"{difference:>12.3g} {difference / ((high - low) / 255):>14.2g} {emulated_s:>10.1f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("-n", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    qemu = subprocess.run(["qemu-aarch64-static", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    print(f"emulated: {qemu}, -cpu cortex-a72; native: {platform.machine()} {platform.processor() or ''}".rstrip())
    print(f"{'model':48s} {'samples':>7} {'bit-identical':>14} {'max |diff|':>12} {'8-bit steps':>14} {'emulated s':>10}")
    with tempfile.TemporaryDirectory() as work:
        for i, model in enumerate(args.models):
            folder = Path(work) / str(i)
            folder.mkdir()
            print(compare(model.resolve(), args.n, args.seed, folder), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
