"""The toy GAN's data: points of a 2-D Gaussian."""

from __future__ import annotations

import numpy as np


def gaussian_points(n: int, mean: tuple[float, float], std: float, seed: int) -> np.ndarray:
    """``n`` points of an isotropic 2-D Gaussian as float32, the same for the same seed."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 2)) * std + np.asarray(mean)).astype(np.float32)
