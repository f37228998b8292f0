"""The Fréchet distance between two feature clouds: the distance behind FID, FCD and ``fd``.

Features: whatever the caller passes (the MNIST classifier's for FCD, an image set's own
feature net for ``fd``, Inception-v3's for FID). Each cloud is summarised by a Gaussian,
mean ``mu`` and covariance ``S`` (ddof=1), and the distance between the two Gaussians is

    FD = ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr( sqrt( sqrt(S_a) S_b sqrt(S_a) ) )

(the 2-Wasserstein distance of Gaussians, Dowson and Landau, 1982). Its scale is the
scale of the features: compare values only within one feature space, and at one sample
size, since it is biased upward when estimated from few samples.

The trace term is computed without scipy: sqrt(S_a) from a symmetric eigen-decomposition,
then the eigenvalues of the symmetric matrix sqrt(S_a) S_b sqrt(S_a), which are those of
S_a S_b; negative ones, which are rounding error of a positive semi-definite matrix, are
clipped to zero.
"""

from __future__ import annotations

import numpy as np

from gan_edge.errors import InputError
from gan_edge.training.metrics.checks import finite_float64

__all__ = ["feature_statistics", "frechet_distance", "frechet_from_statistics"]


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FD between feature sets (n, d) and (m, d); n and m may differ, each at least 2."""
    mu_a, s_a = feature_statistics(features_a, name="features_a")
    mu_b, s_b = feature_statistics(features_b, name="features_b")
    if mu_a.shape != mu_b.shape:
        raise InputError(
            f"features_a and features_b must have the same width, got "
            f"{mu_a.shape[0]} and {mu_b.shape[0]}"
        )
    return frechet_from_statistics(mu_a, s_a, mu_b, s_b)


def feature_statistics(features: np.ndarray, *, name: str = "features") -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d), ddof=1, of finite features (n >= 2, d)."""
    arr = np.asarray(features)
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise InputError(f"{name} must have shape (n, d) with n >= 2, got {arr.shape}")
    arr = finite_float64(name, arr)
    return arr.mean(axis=0), np.atleast_2d(np.cov(arr, rowvar=False))


def frechet_from_statistics(
    mu_a: np.ndarray, s_a: np.ndarray, mu_b: np.ndarray, s_b: np.ndarray
) -> float:
    """FD from precomputed means (d,) and covariances (d, d); clipped at zero."""
    diff = np.asarray(mu_a, np.float64) - np.asarray(mu_b, np.float64)
    s_a, s_b = np.asarray(s_a, np.float64), np.asarray(s_b, np.float64)
    w, v = np.linalg.eigh(s_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    middle = sqrt_a @ s_b @ sqrt_a
    middle = (middle + middle.T) / 2  # symmetric in exact arithmetic; make it so in floats
    trace_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None)))
    value = diff @ diff + np.trace(s_a) + np.trace(s_b) - 2.0 * trace_sqrt
    return float(max(value, 0.0))  # a hair below zero is rounding for identical sets
