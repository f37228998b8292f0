"""How close generated images are to a real image set, measured in the set's own feature net.

Features: the 128-d ``features`` layer of ``features.FeatureNet`` for ``fd``,
``fd_floor``, ``precision`` and ``recall``; its predicted category for the category
measures. Names (plain floats, the same in metrics.jsonl and the docs):

- ``fd``: Fréchet distance between samples and real images (``frechet.py``); lower is
  better. NOT Inception FID: its scale is this net's, so compare it only with ``fd``
  from the same net, and read it against ``fd_floor``.
- ``fd_floor``: the same distance between two disjoint sets of real images, at the
  same sizes: what a generator that draws real images would score.
- ``precision``, ``recall``: k-NN manifold overlap, k=3; ``density``, ``coverage``: the
  same real balls, counted so that a few outliers cannot fool them (``precision_recall.py``).
- with a category head only: ``categories`` (categories holding at least
  ``min_share``, 1%, of the real images, by the net's prediction), ``categories_covered``
  (how many of those hold at least 1% of the samples) and ``category_kl`` (KL of the
  samples' predicted categories from the real ones', bits, ``categories.py``).

The Fréchet distance is biased upward at small sizes, so ``fd`` and ``fd_floor`` are
measured at one size: the reference is split into two halves (drawn with ``seed``);
``fd`` compares ``h`` samples with the second half and ``fd_floor`` ``h`` images of the
first half with the same second half, where ``h`` = min(samples, half the reference).
Precision, recall and the categories measure the same ``h`` samples against the whole
reference.
"""

from __future__ import annotations

import numpy as np

from gan_edge.errors import InputError
from gan_edge.training.metrics import categories as cat
from gan_edge.training.metrics.frechet import frechet_distance
from gan_edge.training.metrics.images.features import check_images
from gan_edge.training.metrics.precision_recall import manifold_scores

__all__ = ["CATEGORY_NAMES", "NAMES", "evaluate_images"]

NAMES = ("fd", "fd_floor", "precision", "recall", "density", "coverage")
CATEGORY_NAMES = ("categories_covered", "categories", "category_kl")
# 10,000 real images against 5,000 samples: about 4 s of k-NN on 2 cores, 80 MB per chunk of distances.
MAX_REFERENCE = 10_000


def evaluate_images(
    samples: np.ndarray,
    reference: np.ndarray,
    net,
    *,
    k: int = 3,
    min_share: float = 0.01,
    seed: int = 0,
    max_reference: int = MAX_REFERENCE,
) -> dict[str, float]:
    """Compare ``samples`` with real ``reference`` images in ``net``'s features.

    Both (n, r, r, c) as the net takes them: floats in [-1, 1] (a generator's output) or
    uint8 pixels (``ImageData.images``, read a batch at a time). A reference larger than
    ``max_reference`` is measured through that many of its images, drawn with ``seed``:
    the k-NN balls cost time and memory in the square of its size. Returns floats under
    ``NAMES``, then ``CATEGORY_NAMES`` when the net predicts categories.
    """
    samples = check_images("samples", samples, net.resolution, net.channels)
    reference = check_images("reference", reference, net.resolution, net.channels)
    if not (isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k >= 1):
        raise InputError(f"k must be a positive integer, got {k!r}")
    if not 0.0 < min_share <= 1.0:
        raise InputError(f"min_share must be in (0, 1], got {min_share!r}")
    if not (isinstance(max_reference, (int, np.integer)) and max_reference >= 2 * (k + 1)):
        raise InputError(f"max_reference must be an integer of at least {2 * (k + 1)}, got {max_reference!r}")
    if len(reference) < 2 * (k + 1):
        raise InputError(
            f"reference must hold at least {2 * (k + 1)} images (two halves of more than k = {k}), "
            f"got {len(reference)}"
        )
    if len(samples) < k + 1:
        raise InputError(f"samples must hold at least {k + 1} images (more than k = {k}), got {len(samples)}")

    rng = np.random.default_rng(seed)
    reference_rows = np.sort(rng.permutation(len(reference))[:max_reference])
    half = len(reference_rows) // 2
    size = min(len(samples), half)
    order = rng.permutation(len(reference_rows))
    sample_rows = np.sort(rng.permutation(len(samples))[:size])

    fake, fake_classes = net.embed(samples, sample_rows)
    real, real_classes = net.embed(reference, reference_rows)
    # The k-NN balls of every real image: a denser manifold is a tighter one, and with
    # half of it a 1-pixel blur still scored the precision of real images.
    manifold = manifold_scores(real, fake, k=k)
    second_half = real[order[half : 2 * half]]
    scores = {
        "fd": frechet_distance(fake, second_half),
        "fd_floor": frechet_distance(real[order[:size]], second_half),
        **manifold,
    }
    if net.category_names:
        count = len(net.category_names)
        present = cat.shares_at_least(cat.category_histogram(real_classes, count), min_share)
        drawn = cat.shares_at_least(cat.category_histogram(fake_classes, count), min_share)
        scores["categories_covered"] = float(np.count_nonzero(present & drawn))
        scores["categories"] = float(np.count_nonzero(present))
        scores["category_kl"] = cat.category_kl(fake_classes, real_classes, count)
    return scores
