"""``gan-edge generate MODEL -n N --out FILE.npy|FILE.png``: samples from an exported generator.

Needs only numpy and LiteRT (or ONNX Runtime): this is the command a board runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gan_edge.errors import InputError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("generate", help="generate samples from an exported generator")
    parser.add_argument("model", type=Path, help="an exported .tflite or .onnx generator")
    parser.add_argument("-n", type=int, required=True, help="number of samples")
    parser.add_argument("--seed", type=int, help="seed of the latent draw (default: random)")
    parser.add_argument("--out", type=Path, required=True,
                        help="output file: .npy (the samples as float32) or .png (a grid, image generators)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import gan_edge
    from gan_edge.io import atomic_path, atomic_write_bytes
    from gan_edge.png import encode_png, image_grid

    if args.out.suffix not in (".npy", ".png"):
        raise InputError(f"--out must end in .npy or .png, got {args.out.name!r}")
    generator = gan_edge.load(args.model)
    if args.out.suffix == ".png" and len(generator.output_shape) != 3:
        raise InputError(
            f"--out .png needs an image generator, this one makes samples of shape {generator.output_shape}: use .npy"
        )
    samples = generator.generate(args.n, seed=args.seed)
    if args.out.suffix == ".png":
        low, high = generator.manifest.output_range or (float(samples.min()), float(samples.max()))
        atomic_write_bytes(args.out, encode_png(image_grid(samples, low=low, high=high)))
    else:
        with atomic_path(args.out) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, samples)
    print(f"wrote {args.out}: {samples.shape[0]} samples of shape {samples.shape[1:]}, {samples.dtype}")
    return 0
