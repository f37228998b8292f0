"""The toy GAN's data: points of a 2-D Gaussian, and the mode-collapse mixtures (ring8, grid25)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def gaussian_points(n: int, mean: tuple[float, float], std: float, seed: int) -> np.ndarray:
    """``n`` points of an isotropic 2-D Gaussian as float32, the same for the same seed."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 2)) * std + np.asarray(mean)).astype(np.float32)


# The mode-collapse benchmarks of VEEGAN (Srivastava et al., 2017) and PacGAN (Lin et al.,
# 2018): mixtures of isotropic 2-D Gaussians with equal weights. The grid is PacGAN's
# (fjxmlzn/PacGAN, synthetic_data_experiments/2DGrid_GAN&PacGAN/config.py): means
# {-4, -2, 0, 2, 4}^2, std 0.05, 100,000 training samples. The ring is VEEGAN's scale
# (radius 2, std 0.02); PacGAN's code draws the same shape at half the scale (radius 1,
# std 0.01), so std/radius, which is what decides how hard the ring is, is the same.
@dataclass(frozen=True)
class ModeSet:
    name: str
    means: np.ndarray  # (modes, 2)
    std: float
    samples: int  # the protocol's training set size


RING8 = ModeSet(
    "ring8",
    np.array([[2.0 * np.cos(2 * np.pi * k / 8), 2.0 * np.sin(2 * np.pi * k / 8)] for k in range(8)]),
    0.02,
    100_000,
)
GRID25 = ModeSet(
    "grid25",
    np.array([[x, y] for x in (-4.0, -2.0, 0.0, 2.0, 4.0) for y in (-4.0, -2.0, 0.0, 2.0, 4.0)]),
    0.05,
    100_000,
)
MODE_SETS = {"ring8": RING8, "grid25": GRID25}


def mixture_points(modes: ModeSet, n: int, seed: int) -> np.ndarray:
    """``n`` points of the equal-weight mixture as float32, the same for the same seed."""
    rng = np.random.default_rng(seed)
    which = rng.integers(len(modes.means), size=n)
    return (modes.means[which] + rng.standard_normal((n, 2)) * modes.std).astype(np.float32)
