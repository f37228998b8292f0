"""Which categories a generator draws, read off a classifier's predictions.

Features: predicted category indices 0..K-1, nothing else (the MNIST classifier's
digits, an image set's own categories). Mode collapse shows here first: a generator
that draws one category covers one.

- ``categories_covered``: how many of the K categories make up at least ``min_share``
  (default 1%) of the samples; a 1% floor keeps a handful of stray misclassified
  samples from counting as a covered category.
- ``category_kl``: KL(generated || reference) of the two category distributions, in
  bits. Both histograms get one pseudo-count per category (Laplace smoothing) first,
  so a category missing from either side gives a large but finite value; 0 means the
  same mix.
- ``category_entropy``: entropy of the generated distribution, in bits, from the raw
  counts (no smoothing): 0 for one category, log2(K) for a uniform mix.

``kind`` names the categories in error messages ("digits", "category indices").
"""

from __future__ import annotations

import numpy as np

from gan_edge.errors import InputError

__all__ = ["SMOOTHING", "categories_covered", "category_entropy", "category_histogram", "category_kl", "shares_at_least"]

SMOOTHING = 1.0  # pseudo-count added to every category before the KL


def category_histogram(classes: np.ndarray, count: int, *, kind: str = "category indices") -> np.ndarray:
    """Counts (count,) int64 of ``classes`` (n,) in 0..count-1."""
    arr = np.asarray(classes)
    if arr.ndim != 1 or len(arr) == 0:
        raise InputError(f"classes must have shape (n,) with n >= 1, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"classes must be integer {kind} 0..{count - 1}, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= count:
        raise InputError(
            f"classes must be {kind} 0..{count - 1}, got values in [{arr.min()}, {arr.max()}]"
        )
    return np.bincount(arr, minlength=count).astype(np.int64)


def shares_at_least(counts: np.ndarray, min_share: float) -> np.ndarray:
    """Which categories (bool, like ``counts``) make up at least ``min_share`` of ``counts``."""
    if not 0.0 < min_share <= 1.0:
        raise InputError(f"min_share must be in (0, 1], got {min_share!r}")
    return counts / counts.sum() >= min_share


def categories_covered(
    classes: np.ndarray, count: int, *, min_share: float = 0.01, kind: str = "category indices"
) -> int:
    """Number of categories that make up at least ``min_share`` of ``classes``."""
    return int(np.count_nonzero(shares_at_least(category_histogram(classes, count, kind=kind), min_share)))


def category_kl(
    classes: np.ndarray, reference_classes: np.ndarray, count: int, *, kind: str = "category indices"
) -> float:
    """KL(generated || reference) in bits, both histograms Laplace-smoothed."""
    p = category_histogram(classes, count, kind=kind) + SMOOTHING
    q = category_histogram(reference_classes, count, kind=kind) + SMOOTHING
    p, q = p / p.sum(), q / q.sum()
    return float(max(np.sum(p * np.log2(p / q)), 0.0))


def category_entropy(classes: np.ndarray, count: int, *, kind: str = "category indices") -> float:
    """Entropy in bits of the (unsmoothed) category distribution of ``classes``."""
    counts = category_histogram(classes, count, kind=kind)
    p = counts[counts > 0] / counts.sum()
    return float(np.sum(p * np.log2(1.0 / p)))  # not -sum(p log p): one category gives -0.0
