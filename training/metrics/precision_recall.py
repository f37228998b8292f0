"""Improved precision and recall (Kynkäänniemi et al., 2019) of two feature clouds.

Features: whatever the caller passes (the MNIST classifier's, an image set's own feature
net's). Each set's manifold is the union of balls around its samples, each ball reaching
the sample's k-th nearest neighbour in the same set (k=3 by default; the sample itself
is not counted as a neighbour, but duplicates of it are).

- ``precision``: the share of generated samples inside the real manifold (within the
  radius of at least one real sample): are the samples realistic?
- ``recall``: the share of real samples inside the generated manifold: does the
  generator cover the variety of the real data? A collapsed generator has high
  precision and low recall.

Read precision with recall and a Fréchet distance, never alone: a few isolated real
samples have large radii, and samples far from any real one can fall inside their balls
(near-blank digits score precision 1.0). Density and coverage (Naeem et al., 2020) use the
same real balls and are not fooled that way:

- ``density``: how many real balls hold each generated sample, over k, averaged: about 1
  for samples spread as the real ones are, far below 1 for samples that sit only in a few
  outliers' wide balls, above 1 for samples piled where real ones are densest;
- ``coverage``: the share of real samples whose ball holds at least one generated sample:
  recall's question asked with the real balls, which a few generated outliers cannot widen.

Distances are Euclidean, computed in row chunks (``chunk`` x m at a time, float64)
from ||a||^2 + ||b||^2 - 2 a.b; differences below the rounding error of that
expansion are set to exactly zero, so duplicates are at distance 0.
"""

from __future__ import annotations

import numpy as np

from gan_edge.errors import InputError
from gan_edge.training.metrics.checks import finite_float64

__all__ = ["knn_radii", "manifold_coverage", "manifold_scores", "precision_recall", "density_coverage"]

_CHUNK = 1000


def precision_recall(
    real_features: np.ndarray, fake_features: np.ndarray, *, k: int = 3
) -> tuple[float, float]:
    """(precision, recall) of generated ``fake_features`` against ``real_features``.

    Both (n, d) and (m, d) with the same d and more than ``k`` rows each.
    """
    scores = manifold_scores(real_features, fake_features, k=k)
    return scores["precision"], scores["recall"]


def density_coverage(
    real_features: np.ndarray, fake_features: np.ndarray, *, k: int = 3
) -> tuple[float, float]:
    """(density, coverage) of generated ``fake_features`` against ``real_features``, as
    ``precision_recall`` takes them."""
    scores = manifold_scores(real_features, fake_features, k=k)
    return scores["density"], scores["coverage"]


def manifold_scores(real_features: np.ndarray, fake_features: np.ndarray, *, k: int = 3) -> dict[str, float]:
    """``precision``, ``recall``, ``density`` and ``coverage`` at once: the real balls' radii
    and the generated-to-real distances, the costly part, are computed once for the three
    that read them."""
    real = _check_features("real_features", real_features, k)
    fake = _check_features("fake_features", fake_features, k)
    if real.shape[1] != fake.shape[1]:
        raise InputError(
            f"real_features and fake_features must have the same width, got "
            f"{real.shape[1]} and {fake.shape[1]}"
        )
    r2 = knn_radii(real, k=k) ** 2
    in_some_ball, balls_holding, covered = 0, 0, np.zeros(len(real), bool)
    for start in range(0, len(fake), _CHUNK):
        inside = _squared_distances(fake[start : start + _CHUNK], real) <= r2[None, :]
        in_some_ball += int(np.count_nonzero(inside.any(axis=1)))
        balls_holding += int(np.count_nonzero(inside))
        covered |= inside.any(axis=0)
    return {
        "precision": in_some_ball / len(fake),
        "recall": manifold_coverage(real, fake, knn_radii(fake, k=k)),
        "density": balls_holding / (k * len(fake)),
        "coverage": float(np.count_nonzero(covered)) / len(real),
    }


def knn_radii(features: np.ndarray, *, k: int = 3) -> np.ndarray:
    """Distance (n,) from each row to its k-th nearest other row of ``features``."""
    features = _check_features("features", features, k)
    radii = np.empty(len(features))
    for start in range(0, len(features), _CHUNK):
        d2 = _squared_distances(features[start : start + _CHUNK], features)
        # Index k, not k - 1: each row's distance to itself (0) sorts first.
        radii[start : start + _CHUNK] = np.partition(d2, k, axis=1)[:, k]
    return np.sqrt(radii)


def manifold_coverage(queries: np.ndarray, support: np.ndarray, radii: np.ndarray) -> float:
    """Share of ``queries`` within ``radii[j]`` of at least one ``support[j]``."""
    r2 = np.asarray(radii, np.float64) ** 2
    inside = 0
    for start in range(0, len(queries), _CHUNK):
        d2 = _squared_distances(queries[start : start + _CHUNK], support)
        inside += int(np.count_nonzero(np.any(d2 <= r2[None, :], axis=1)))
    return inside / len(queries)


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na = np.einsum("ij,ij->i", a, a)[:, None]
    nb = np.einsum("ij,ij->i", b, b)[None, :]
    d2 = na + nb - 2.0 * (a @ b.T)
    # The expansion loses ~eps * (|a|^2 + |b|^2); below that, call it a tie at zero.
    d2[d2 <= 1e-9 * (na + nb)] = 0.0
    return d2


def _check_features(name: str, features, k: int) -> np.ndarray:
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise InputError(f"k must be a positive integer, got {k!r}")
    arr = np.asarray(features)
    if arr.ndim != 2 or arr.shape[0] <= k or arr.shape[1] < 1:
        raise InputError(
            f"{name} must have shape (n, d) with n > k = {k}, got {arr.shape}"
        )
    arr = finite_float64(name, arr)
    return arr
