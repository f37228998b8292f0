"""Mode coverage of generated 2-D points, as the VEEGAN / PacGAN protocol measures it.

Features: the raw (x, y) coordinates. Each generated point is assigned to its nearest
mode mean; it is *high quality* when it lies within ``threshold`` (3) standard
deviations of that mean (VEEGAN, Srivastava et al., 2017, section 5.1; PacGAN's code,
fjxmlzn/PacGAN, pacgan/extensions.py MetricLogger, ``dis_thre=3``). Measures:

- ``modes``: how many modes have at least one high-quality point nearest to them
  (PacGAN's code counts a mode when its count of high-quality points is nonzero).
- ``hq_share``: the share of all generated points that are high quality, in [0, 1]
  (the paper's tables print it as a percentage).
- ``reverse_kl``: KL(p || u) = sum_i p_i log(K p_i), with p the histogram of the
  high-quality points over the K modes and u uniform: 0 when every mode gets the same
  share, log K when one mode gets all of them. With no high-quality point at all it is
  undefined; log K (the worst value) is returned so that a failed run ranks last.

The protocol measures 2,500 generated points.
"""

from __future__ import annotations

import numpy as np

from gan_edge.errors import InputError
from gan_edge.training.metrics.checks import finite_float64

__all__ = ["NAMES", "evaluate", "mode_counts"]

NAMES = ("modes", "hq_share", "reverse_kl")


def mode_counts(samples, means, std: float, *, threshold: float = 3.0) -> np.ndarray:
    """How many high-quality points fall nearest to each mode, shape (K,)."""
    samples = _check_points("samples", samples)
    means = _check_points("means", means, minimum=1)
    if not std > 0:
        raise InputError(f"std must be positive, got {std}")
    distances = np.linalg.norm(samples[:, None, :] - means[None, :, :], axis=-1)  # (n, K)
    nearest = distances.argmin(axis=1)
    good = distances[np.arange(len(samples)), nearest] < threshold * std
    return np.bincount(nearest[good], minlength=len(means))


def evaluate(samples, means, std: float, *, threshold: float = 3.0) -> dict[str, float]:
    """The three protocol measures of ``samples`` (n, 2) against modes ``means`` (K, 2) of std ``std``."""
    counts = mode_counts(samples, means, std, threshold=threshold)
    k, good = len(counts), counts.sum()
    if good == 0:
        reverse_kl = float(np.log(k))
    else:
        p = counts[counts > 0] / good
        reverse_kl = float(np.sum(p * np.log(k * p)))
    return {
        "modes": float(np.count_nonzero(counts)),
        "hq_share": float(good / len(np.asarray(samples))),
        "reverse_kl": reverse_kl,
    }


def _check_points(name: str, points, minimum: int = 1) -> np.ndarray:
    arr = np.asarray(points)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"{name} must have shape (n, 2), got {arr.shape}")
    if len(arr) < minimum:
        raise InputError(f"{name} must have at least {minimum} points, got {len(arr)}")
    return finite_float64(name, arr)
