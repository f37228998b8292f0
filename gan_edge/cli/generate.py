"""``gan-edge generate MODEL -n N --out FILE.npy``: samples from an exported generator.

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
    parser.add_argument("--out", type=Path, required=True, help="output file (.npy)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    import gan_edge
    from gan_edge.io import atomic_path

    if args.out.suffix != ".npy":
        raise InputError(f"--out must end in .npy, got {args.out.name!r}")
    samples = gan_edge.load(args.model).generate(args.n, seed=args.seed)
    with atomic_path(args.out) as tmp:
        with open(tmp, "wb") as f:
            np.save(f, samples)
    print(f"wrote {args.out}: {samples.shape[0]} samples of shape {samples.shape[1:]}, {samples.dtype}")
    return 0
