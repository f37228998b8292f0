"""Four known failures made from real images: what an honest image metric must rank.

``failure_conditions(images, labels, seed=...)`` turns real images (floats in [-1, 1] or
uint8) into five sets of the same size, from best to worst:

- ``real``: the images themselves.
- ``noise``: Gaussian noise of standard deviation ``NOISE_STD`` (0.15 in the [-1, 1]
  range: 19 of 255 levels) added, then clipped: grainy, every object intact.
- ``blur``: a Gaussian blur of ``BLUR_STD`` (1/32) of the image side, 1 pixel at 32
  pixels: soft edges, small details gone, every object still recognisable.
- ``half_categories``: sharp real images from only half the categories, drawn with
  replacement (mode dropping): every other category in the order of their indices is
  dropped (for Twemoji: Animals & Nature, Flags, Objects, Smileys & Emotion, Travel &
  Places, 28% of the images). Chosen by index, not by size, so that every split of a
  set drops the same categories.
- ``one_picture``: one real image, repeated (total collapse).

A person looking at them (benchmarks/results/image_metric_ranking.png) agrees with that
order, and a metric that does not is not measuring what a generator gets wrong. The
conditions are for the metric's tests and for checking it on a user's own set; they are
not a data augmentation.
"""

from __future__ import annotations

import numpy as np

from gan_edge.errors import InputError
from gan_edge.training.data.images import to_model_range

__all__ = ["BLUR_STD", "CONDITIONS", "NOISE_STD", "blur", "failure_conditions", "half_of_the_categories"]

CONDITIONS = ("real", "noise", "blur", "half_categories", "one_picture")
NOISE_STD = 0.15
BLUR_STD = 1 / 32  # of the image side


def failure_conditions(images: np.ndarray, labels: np.ndarray, *, seed: int = 0) -> dict[str, np.ndarray]:
    """The five sets, float32 (n, r, r, c) in [-1, 1], under the names in ``CONDITIONS``.

    ``images`` (n, r, r, c) uint8 or floats in [-1, 1], ``labels`` (n,) their category
    indices (two categories or more). The noise, the categories' draw and the one
    picture come from ``seed``.
    """
    real = images if images.dtype != np.uint8 else to_model_range(np.asarray(images))
    real = np.asarray(real, dtype=np.float32)
    labels = np.asarray(labels)
    if real.ndim != 4 or labels.shape != (len(real),):
        raise InputError(
            f"images (n, r, r, c) and labels (n,) must come in one per image, got {real.shape} and {labels.shape}"
        )
    rng = np.random.default_rng(seed)
    noisy = np.clip(real + rng.normal(0.0, NOISE_STD, real.shape).astype(np.float32), -1.0, 1.0)
    return {
        "real": real,
        "noise": noisy,
        "blur": blur(real, BLUR_STD * real.shape[1]),
        "half_categories": real[rng.choice(half_of_the_categories(labels), len(real))],
        "one_picture": np.repeat(real[rng.integers(len(real))][None], len(real), axis=0),
    }


def half_of_the_categories(labels: np.ndarray) -> np.ndarray:
    """Indices of the images whose category index is even: the kept half."""
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        raise InputError(f"dropping half of the categories needs 2 or more, got {len(np.unique(labels))}")
    return np.flatnonzero(labels % 2 == 0)


def blur(images: np.ndarray, std: float) -> np.ndarray:
    """A separable Gaussian blur of ``std`` pixels over (n, r, r, c), edges extended."""
    radius = max(1, int(np.ceil(3 * std)))
    taps = np.exp(-np.arange(-radius, radius + 1) ** 2 / (2 * std**2))
    taps /= taps.sum()
    side = images.shape[1]
    padded = np.pad(images, ((0, 0), (radius, radius), (radius, radius), (0, 0)), mode="edge")
    rows = sum(w * padded[:, i : i + side] for i, w in enumerate(taps))
    return sum(w * rows[:, :, i : i + side] for i, w in enumerate(taps)).astype(np.float32)
