"""Latent distributions, chosen by name.

The same names are used by training (which draws latents with TensorFlow) and by
the edge runtime (which draws them with numpy), and are written into every
exported model's metadata so a device draws from what the generator was trained on.
"""

from __future__ import annotations

import numpy as np

from gan_edge.errors import InputError

__all__ = ["DISTRIBUTIONS", "check_distribution", "sample_latent"]

# name -> (low, high) for uniform draws, or None for the standard normal.
DISTRIBUTIONS: dict[str, tuple[float, float] | None] = {
    "uniform01": (0.0, 1.0),  # the book's toy GAN: "random numbers in [0, 1)"
    "uniform11": (-1.0, 1.0),  # the book's DCGAN (Gildenblat): uniform in [-1, 1]
    "normal": None,
}


def check_distribution(name: str) -> str:
    """Return ``name`` if it is a known distribution, else raise naming the valid ones."""
    if name not in DISTRIBUTIONS:
        valid = ", ".join(DISTRIBUTIONS)
        raise InputError(f"unknown latent distribution {name!r}: expected one of {valid}")
    return name


def sample_latent(
    distribution: str,
    n: int,
    dim: int,
    rng: np.random.Generator,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Draw ``n`` latent vectors of size ``dim`` as float32, into ``out`` when given."""
    bounds = DISTRIBUTIONS[check_distribution(distribution)]
    if out is None:
        out = np.empty((n, dim), dtype=np.float32)
    if bounds is None:
        rng.standard_normal(out=out, dtype=np.float32)
    else:
        low, high = bounds
        rng.random(out=out, dtype=np.float32)
        if (low, high) != (0.0, 1.0):
            out *= high - low
            out += low
    return out
