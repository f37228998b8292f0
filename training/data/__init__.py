"""Training data sets, and the one tf.data pipeline every model trains from."""

from __future__ import annotations

import numpy as np

__all__ = ["batches"]


def batches(samples: np.ndarray, batch_size: int, seed: int):
    """An endless ``tf.data`` stream of mini-batches, reshuffled every epoch.

    Shuffle, then batch, then repeat: each pass over the samples ends with its own
    partial batch, so ``ceil(n / batch_size)`` batches make exactly one epoch.
    """
    import tensorflow as tf

    return (
        tf.data.Dataset.from_tensor_slices(samples)
        .shuffle(len(samples), seed=seed, reshuffle_each_iteration=True)
        .batch(batch_size)
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )
