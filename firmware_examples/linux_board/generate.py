#!/usr/bin/env python3
"""Generate samples on a Linux board (Raspberry Pi class) with only `pip install gan-edge`.

    python generate.py MODEL.tflite -n 64 --out DIR [--seed 0] [--threads 2]

Writes DIR/samples.npy (float32, data space) and, for a 28x28x1 image generator,
DIR/grid.png, written by gan_edge's PNG encoder (numpy + zlib: no matplotlib or PIL on
the board). Prints the latency per sample. Needs numpy and ai-edge-litert only;
TensorFlow is never imported.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

import gan_edge
from gan_edge.io import atomic_write_bytes
from gan_edge.png import encode_png, image_grid

IMAGE_SHAPE = (28, 28, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, help="an exported generator (.tflite) with its manifest")
    parser.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    parser.add_argument("--out", type=Path, required=True, help="folder for samples.npy (and grid.png)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="LiteRT threads (default: LiteRT's)")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error(f"-n must be 1 or more, got {args.n}")
    try:
        generator = gan_edge.load(args.model, threads=args.threads)
    except gan_edge.GanEdgeError as exc:
        print(f"generate.py: error: {exc}", file=sys.stderr)
        return 2

    generator.generate(min(args.n, 16), seed=args.seed)  # warm-up: first-run allocations
    started = time.perf_counter()
    samples = generator.generate(args.n, seed=args.seed)
    batch_us = (time.perf_counter() - started) / args.n * 1e6
    singles = []
    for i in range(min(args.n, 50)):
        t0 = time.perf_counter()
        generator.generate(1, seed=i)
        singles.append((time.perf_counter() - t0) * 1e6)

    args.out.mkdir(parents=True, exist_ok=True)
    np.save(args.out / "samples.npy", samples)
    print(f"{args.model.name}: {args.n} samples of shape {generator.output_shape} -> {args.out / 'samples.npy'}")
    if tuple(generator.output_shape) == IMAGE_SHAPE:
        low, high = generator.manifest.output_range or (float(samples.min()), float(samples.max()))
        atomic_write_bytes(args.out / "grid.png", encode_png(image_grid(samples, low=low, high=high)))
        print(f"image grid -> {args.out / 'grid.png'}")
    print(f"latency per sample: {batch_us:.1f} us in one batch of {args.n}; "
          f"one at a time: p50 {np.percentile(singles, 50):.1f} us, p90 {np.percentile(singles, 90):.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
