"""Which digits a generator draws, read off the classifier's predictions.

Features: the predicted digit (argmax of the MNIST classifier's logits), nothing else.
Mode collapse shows here first: a generator that draws only 1s covers one class. The
measures are ``training/metrics/categories.py``'s with K = 10 digits:

- ``classes_covered``: how many of the 10 digits make up at least ``min_share``
  (default 1%) of the samples. Uniform digits give 10.
- ``class_kl``: KL(generated || reference) of the two class distributions, in bits,
  Laplace-smoothed; 0 means the same mix.
- ``class_entropy``: entropy of the generated class distribution, in bits: 0 for one
  digit, log2(10) = 3.32 for a uniform mix.
"""

from __future__ import annotations

import numpy as np

from gan_edge.training.metrics import categories

__all__ = [
    "NUM_CLASSES",
    "class_entropy",
    "class_histogram",
    "class_kl",
    "classes_covered",
]

NUM_CLASSES = 10
_KIND = "digits"


def class_histogram(classes: np.ndarray) -> np.ndarray:
    """Counts (10,) int64 of digits ``classes`` (n,) in 0..9."""
    return categories.category_histogram(classes, NUM_CLASSES, kind=_KIND)


def classes_covered(classes: np.ndarray, *, min_share: float = 0.01) -> int:
    """Number of digits that make up at least ``min_share`` of ``classes``."""
    return categories.categories_covered(classes, NUM_CLASSES, min_share=min_share, kind=_KIND)


def class_kl(classes: np.ndarray, reference_classes: np.ndarray) -> float:
    """KL(generated || reference) in bits, both histograms Laplace-smoothed."""
    return categories.category_kl(classes, reference_classes, NUM_CLASSES, kind=_KIND)


def class_entropy(classes: np.ndarray) -> float:
    """Entropy in bits of the (unsmoothed) class distribution of ``classes``."""
    return categories.category_entropy(classes, NUM_CLASSES, kind=_KIND)
