"""Which digits a generator draws, read off the classifier's predictions.

Features: the predicted digit (argmax of the MNIST classifier's logits), nothing else.
Mode collapse shows here first: a generator that draws only 1s covers one class.

- ``classes_covered``: how many of the 10 digits make up at least ``min_share``
  (default 1%) of the samples. Uniform digits give 10; a 1% floor keeps a handful of
  stray misclassified samples from counting as a covered digit.
- ``class_kl``: KL(generated || reference) of the two class distributions, in bits.
  Both histograms get one pseudo-count per class (Laplace smoothing) first, so a
  digit missing from either side gives a large but finite value; 0 means the same mix.
- ``class_entropy``: entropy of the generated class distribution, in bits, from the
  raw counts (no smoothing): 0 for one digit, log2(10) = 3.32 for a uniform mix.
"""

from __future__ import annotations

import numpy as np

from gan_edge.errors import InputError

__all__ = [
    "NUM_CLASSES",
    "class_entropy",
    "class_histogram",
    "class_kl",
    "classes_covered",
]

NUM_CLASSES = 10
SMOOTHING = 1.0  # pseudo-count added to every class before the KL


def class_histogram(classes: np.ndarray) -> np.ndarray:
    """Counts (10,) int64 of digits ``classes`` (n,) in 0..9."""
    arr = np.asarray(classes)
    if arr.ndim != 1 or len(arr) == 0:
        raise InputError(f"classes must have shape (n,) with n >= 1, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"classes must be integer digits 0..9, got dtype {arr.dtype}")
    if arr.min() < 0 or arr.max() >= NUM_CLASSES:
        raise InputError(f"classes must be digits 0..9, got values in [{arr.min()}, {arr.max()}]")
    return np.bincount(arr, minlength=NUM_CLASSES).astype(np.int64)


def classes_covered(classes: np.ndarray, *, min_share: float = 0.01) -> int:
    """Number of digits that make up at least ``min_share`` of ``classes``."""
    if not 0.0 < min_share <= 1.0:
        raise InputError(f"min_share must be in (0, 1], got {min_share!r}")
    counts = class_histogram(classes)
    return int(np.count_nonzero(counts / counts.sum() >= min_share))


def class_kl(classes: np.ndarray, reference_classes: np.ndarray) -> float:
    """KL(generated || reference) in bits, both histograms Laplace-smoothed."""
    p = class_histogram(classes) + SMOOTHING
    q = class_histogram(reference_classes) + SMOOTHING
    p, q = p / p.sum(), q / q.sum()
    return float(max(np.sum(p * np.log2(p / q)), 0.0))


def class_entropy(classes: np.ndarray) -> float:
    """Entropy in bits of the (unsmoothed) class distribution of ``classes``."""
    counts = class_histogram(classes)
    p = counts[counts > 0] / counts.sum()
    return float(np.sum(p * np.log2(1.0 / p)))  # not -sum(p log p): one class gives -0.0
