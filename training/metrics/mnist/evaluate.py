"""How close generated MNIST digits are to real ones: the one MNIST evaluator.

Features: the MNIST classifier (``classifier.py``): its 128-d penultimate layer for
``fcd``, ``precision`` and ``recall``, its predicted digit for the class metrics.

Names (the same in metrics.jsonl, TensorBoard and the README), all plain floats:

- ``fcd``: Fréchet classifier distance; lower is better; NOT Inception FID (``fcd.py``).
- ``classes_covered``: digits with at least 1% of the samples, 0..10 (``classes.py``).
- ``class_kl``: KL(generated || real) of the digit mix, bits; 0 is the real mix.
- ``class_entropy``: entropy of the generated digit mix, bits; real MNIST is ~3.32.
- ``precision``, ``recall``: k-NN manifold overlap, k=3; ``density``, ``coverage``: the
  same real balls, counted so that a few outliers cannot fool them (``precision_recall.py``).
  Precision alone flatters garbage (noise scores about 0.6, blank images 1.0);
  recall and ``fcd`` are what expose it.

``fcd``, ``precision`` and ``recall`` depend on the number of samples, so compare
runs at the same sizes and read them against ``reference_values``: two disjoint
halves of the real data (the best a generator can hope for at that size) and an
untrained generator's samples (where training starts).
"""

from __future__ import annotations

import numpy as np

from gan_edge.training.metrics.mnist import classes as cls
from gan_edge.training.metrics.mnist.classifier import check_images, check_labels
from gan_edge.training.metrics.mnist.fcd import fcd
from gan_edge.training.metrics.mnist.precision_recall import manifold_scores

__all__ = ["NAMES", "evaluate", "reference_values", "split_halves"]

NAMES = ("fcd", "classes_covered", "class_kl", "class_entropy", "precision", "recall", "density", "coverage")


def evaluate(
    samples: np.ndarray,
    reference: np.ndarray,
    classifier,
    *,
    reference_labels: np.ndarray | None = None,
    k: int = 3,
    min_share: float = 0.01,
) -> dict[str, float]:
    """Compare generated ``samples`` with real ``reference`` images, both (n, 28, 28, 1) in [-1, 1].

    ``classifier`` is a ``Classifier`` (``load_or_train_classifier``). The real digit
    mix for ``class_kl`` comes from ``reference_labels`` when given, otherwise from
    the classifier's predictions on ``reference``. Returns floats under ``NAMES``.
    """
    samples = check_images("samples", samples)
    reference = check_images("reference", reference)
    if reference_labels is not None:
        reference_labels = check_labels("reference_labels", reference_labels, len(reference))
    fake_features, fake_classes = classifier.embed(samples)
    real_features, real_classes = classifier.embed(reference)
    if reference_labels is not None:
        real_classes = reference_labels
    manifold = manifold_scores(real_features, fake_features, k=k)
    return {
        "fcd": fcd(fake_features, real_features),
        "classes_covered": float(cls.classes_covered(fake_classes, min_share=min_share)),
        "class_kl": cls.class_kl(fake_classes, real_classes),
        "class_entropy": cls.class_entropy(fake_classes),
        **manifold,
    }


def split_halves(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint halves of ``range(n)``, ``n // 2`` indices each, drawn with ``seed``:
    the first plays the generator in ``reference_values``, the second the reference."""
    order = np.random.default_rng(seed).permutation(n)
    half = n // 2
    return order[:half], order[half : 2 * half]


def reference_values(
    real_images: np.ndarray,
    real_labels: np.ndarray,
    classifier,
    untrained_samples: np.ndarray,
    *,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """The two rows to read a score against: ``real_vs_real`` and ``untrained_vs_real``.

    ``real_images`` are split into two disjoint halves drawn with ``seed``: the first
    half plays the generator, the second (with its labels) the reference. The
    untrained generator's samples are compared with that same second half, so all
    three rows (these two and a trained generator's, at the same sample count) share
    one reference. Pass as many ``untrained_samples`` as a half holds.
    """
    real_images = check_images("real_images", real_images)
    real_labels = check_labels("real_labels", real_labels, len(real_images))
    a, b = split_halves(len(real_images), seed)
    return {
        "real_vs_real": evaluate(
            real_images[a], real_images[b], classifier, reference_labels=real_labels[b]
        ),
        "untrained_vs_real": evaluate(
            untrained_samples, real_images[b], classifier, reference_labels=real_labels[b]
        ),
    }
