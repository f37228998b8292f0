"""``gan-edge generate MODEL -n N --out FILE.npy|FILE.png [--force]``: samples from an exported generator.

Needs only numpy and LiteRT (or ONNX Runtime): this is the command a board runs.
Everything that can be refused (the output path, -n against the disk and the bounds
below) is refused before the first sample. A .npy is generated and written chunk by
chunk into a temporary file beside --out, renamed over it at the end: memory stays
one chunk whatever -n is, and an interrupted run leaves nothing. A .png grid is
drawn in memory, so its size is bounded.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import tempfile
from pathlib import Path

from gan_edge.errors import InputError

# Samples generated and written at a time into a .npy: large enough that writing costs
# nothing beside generating, small enough for a board's memory.
CHUNK_BYTES = 4 << 20
# The largest .npy written. Past it a request is likelier a few zeros too many than a
# wish, and would hold the machine for hours (1 TiB at 100 MB/s: three).
MAX_NPY_BYTES = 1 << 40
# The largest .png grid, 8192 x 8192: about what image viewers open without scaling it
# down; the float32 samples behind it take 4 bytes a pixel in memory.
MAX_PNG_PIXELS = 1 << 26
_UNWRITABLE_FIX = "pass an --out in a folder you can write"


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("generate", help="generate samples from an exported generator")
    parser.add_argument("model", type=Path, help="an exported .tflite or .onnx generator")
    parser.add_argument("-n", type=int, required=True, help="number of samples")
    parser.add_argument("--seed", type=int, help="seed of the latent draw (default: random)")
    parser.add_argument("--out", type=Path, required=True,
                        help="output file: .npy (the samples as float32) or .png (a grid, image generators); "
                             "an existing file is kept unless --force")
    parser.add_argument("--force", action="store_true", help="overwrite --out if it exists")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import gan_edge

    out = args.out
    if out.suffix not in (".npy", ".png"):
        raise InputError(f"--out must end in .npy or .png, got {out.name!r}")
    check_out(out, force=args.force)
    if args.n < 1:
        raise InputError(f"-n must be a positive int, got {args.n}")
    if args.seed is not None and args.seed < 0:
        raise InputError(f"--seed must be a non-negative int, got {args.seed}")
    generator = gan_edge.load(args.model)
    shape = generator.output_shape
    try:
        if out.suffix == ".png":
            _write_png(generator, out, args.n, args.seed)
        else:
            _write_npy(generator, out, args.n, args.seed)
    except OSError as exc:  # a disk that filled up or failed under us; the temporary file is gone
        raise InputError(f"cannot write --out {out}: {exc.strerror or exc}; {_UNWRITABLE_FIX}") from None
    print(f"wrote {out}: {args.n} samples of shape {shape}, float32")
    return 0


def check_out(out: Path, *, force: bool) -> None:
    """Refuse an --out that is a folder, that exists (unless ``force``), or whose folder
    cannot take a new file: tried for real, as permissions alone do not tell (root, a
    read-only file system); the trial file vanishes when closed."""
    if out.is_dir():
        raise InputError(f"--out {out} is a folder: expected a file path ending in .npy or .png")
    if out.exists() and not force:
        raise InputError(f"--out {out} already exists: pass --force to overwrite it")
    from gan_edge.capacity import existing_folder

    folder = existing_folder(out)  # where the file, or its missing folders, will go
    if not folder.is_dir():
        raise InputError(f"cannot write --out {out}: {folder} is not a folder; {_UNWRITABLE_FIX}")
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        raise InputError(f"cannot write --out {out}: {exc.strerror or exc} in {folder}; {_UNWRITABLE_FIX}") from None


def npy_header(n: int, shape: tuple[int, ...]) -> bytes:
    """The .npy header of a float32 array of shape (n, *shape), as numpy writes it."""
    import numpy as np

    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        buffer, {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False, "shape": (n, *shape)}
    )
    return buffer.getvalue()


def _write_npy(generator, out: Path, n: int, seed: int | None) -> None:
    import numpy as np

    from gan_edge.capacity import check_disk, format_bytes
    from gan_edge.io import atomic_path

    shape = generator.output_shape
    header = npy_header(n, shape)
    sample_bytes = 4 * math.prod(shape)
    needed = len(header) + n * sample_bytes
    check_disk(needed, out, f"-n {n:,}", "pass a smaller -n, or an --out on a disk with room")
    if needed > MAX_NPY_BYTES:
        raise InputError(
            f"-n {n:,} needs {format_bytes(needed)} for one .npy, and gan-edge generate writes at most "
            f"{format_bytes(MAX_NPY_BYTES)}: pass a smaller -n (several runs with different --seed add up)"
        )
    # One stream through all chunks: the same samples as generate(n, seed=seed) in one call.
    rng = None if seed is None else np.random.default_rng(seed)
    rows = max(1, CHUNK_BYTES // sample_bytes)
    buffer = np.empty((min(rows, n), *shape), dtype=np.float32)
    with atomic_path(out) as tmp, open(tmp, "wb") as f:
        f.write(header)
        for start in range(0, n, rows):
            chunk = buffer[: min(rows, n - start)]
            generator.generate_into(chunk, seed=rng)
            f.write(memoryview(chunk).cast("B"))
        f.flush()
        os.fsync(f.fileno())


def _write_png(generator, out: Path, n: int, seed: int | None) -> None:
    from gan_edge.io import atomic_write_bytes
    from gan_edge.png import encode_png, grid_size, image_grid

    shape = generator.output_shape
    if len(shape) != 3:
        raise InputError(f"--out .png needs an image generator, this one makes samples of shape {shape}: use .npy")
    height, width = grid_size(n, shape[0], shape[1])
    if height * width > MAX_PNG_PIXELS:
        raise InputError(
            f"--out .png: a grid of {n:,} images of {shape[0]}x{shape[1]} is {width:,} x {height:,} = "
            f"{height * width:,} pixels, above the {MAX_PNG_PIXELS:,} a grid may have: pass a smaller -n, or write .npy"
        )
    samples = generator.generate(n, seed=seed)
    low, high = generator.manifest.output_range or (float(samples.min()), float(samples.max()))
    atomic_write_bytes(out, encode_png(image_grid(samples, low=low, high=high)))
