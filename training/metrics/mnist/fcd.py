"""FCD, the Fréchet classifier distance: how far apart two feature clouds are.

Features: whatever the caller passes; the MNIST evaluator passes the 128-d
penultimate layer of this project's own MNIST classifier (``classifier.py``).

FCD is the Fréchet (2-Wasserstein) distance between two Gaussians fitted to the
features, mean ``mu`` and covariance ``S`` (ddof=1):

    FCD = ||mu_a - mu_b||^2 + tr(S_a) + tr(S_b) - 2 tr( sqrt( sqrt(S_a) S_b sqrt(S_a) ) )

This is NOT the Inception FID of the GAN papers, and its numbers cannot be compared
with theirs: FID uses Inception-v3's 2048-d pool features of images resized to
299x299 and trained on ImageNet, while FCD here uses a 128-d MNIST CNN trained on
8,000 digits. The scale of the features, and so of the distance, is different.
Compare FCD only with FCD from the same classifier, and at the same sample sizes:
like FID it is biased upward when estimated from few samples, so two halves of the
real data are the floor to read a number against (``evaluate.reference_values``).

The trace term is computed without scipy: sqrt(S_a) from a symmetric
eigen-decomposition, then the eigenvalues of the symmetric matrix
sqrt(S_a) S_b sqrt(S_a), which are those of S_a S_b; negative ones, which are
rounding error of a positive semi-definite matrix, are clipped to zero.
"""

from __future__ import annotations

import numpy as np

from gan_edge.errors import InputError
from gan_edge.training.metrics.checks import finite_float64

__all__ = ["fcd", "fcd_from_statistics", "feature_statistics"]


def fcd(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """FCD between feature sets (n, d) and (m, d); n and m may differ, each at least 2."""
    mu_a, s_a = feature_statistics(features_a, name="features_a")
    mu_b, s_b = feature_statistics(features_b, name="features_b")
    if mu_a.shape != mu_b.shape:
        raise InputError(
            f"features_a and features_b must have the same width, got "
            f"{mu_a.shape[0]} and {mu_b.shape[0]}"
        )
    return fcd_from_statistics(mu_a, s_a, mu_b, s_b)


def feature_statistics(features: np.ndarray, *, name: str = "features") -> tuple[np.ndarray, np.ndarray]:
    """Mean (d,) and covariance (d, d), ddof=1, of finite features (n >= 2, d)."""
    arr = np.asarray(features)
    if arr.ndim != 2 or arr.shape[0] < 2 or arr.shape[1] < 1:
        raise InputError(f"{name} must have shape (n, d) with n >= 2, got {arr.shape}")
    arr = finite_float64(name, arr)
    return arr.mean(axis=0), np.atleast_2d(np.cov(arr, rowvar=False))


def fcd_from_statistics(
    mu_a: np.ndarray, s_a: np.ndarray, mu_b: np.ndarray, s_b: np.ndarray
) -> float:
    """FCD from precomputed means (d,) and covariances (d, d); clipped at zero."""
    diff = np.asarray(mu_a, np.float64) - np.asarray(mu_b, np.float64)
    s_a, s_b = np.asarray(s_a, np.float64), np.asarray(s_b, np.float64)
    w, v = np.linalg.eigh(s_a)
    sqrt_a = (v * np.sqrt(np.clip(w, 0.0, None))) @ v.T
    middle = sqrt_a @ s_b @ sqrt_a
    middle = (middle + middle.T) / 2  # symmetric in exact arithmetic; make it so in floats
    trace_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvalsh(middle), 0.0, None)))
    value = diff @ diff + np.trace(s_a) + np.trace(s_b) - 2.0 * trace_sqrt
    return float(max(value, 0.0))  # a hair below zero is rounding for identical sets
