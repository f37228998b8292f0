"""The toy GAN's data: points of a 2-D Gaussian, and the tf.data pipeline over them."""

from __future__ import annotations

import numpy as np


def gaussian_points(n: int, mean: tuple[float, float], std: float, seed: int) -> np.ndarray:
    """``n`` points of an isotropic 2-D Gaussian as float32, the same for the same seed."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 2)) * std + np.asarray(mean)).astype(np.float32)


def batches(points: np.ndarray, batch_size: int, seed: int):
    """An endless ``tf.data`` stream of mini-batches, reshuffled every epoch.

    Shuffle, then batch, then repeat: each pass over the points ends with its own
    partial batch, so ``ceil(n / batch_size)`` batches make exactly one epoch.
    """
    import tensorflow as tf

    return (
        tf.data.Dataset.from_tensor_slices(points)
        .shuffle(len(points), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )
