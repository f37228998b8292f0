"""Training data sets, chosen by the model's ``DATA`` name, and the pipeline over them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gan_edge.errors import ConfigError

__all__ = ["TrainingData", "load_training_data", "batches", "epoch_batches"]


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Samples in the model's range (float32), their labels if the set has any, and where they came from."""

    samples: np.ndarray
    labels: np.ndarray | None
    source: str


def load_training_data(config, data_name: str) -> TrainingData:
    if data_name == "gaussian":
        from gan_edge.training.data.toy import gaussian_points

        points = gaussian_points(config.data_samples, config.data_mean, config.data_std, config.seed)
        return TrainingData(points, None, f"gaussian mean={config.data_mean} std={config.data_std}")
    if data_name in ("ring8", "grid25"):
        from gan_edge.training.data.toy import MODE_SETS, mixture_points

        modes = MODE_SETS[data_name]
        points = mixture_points(modes, config.data_samples, config.seed)
        return TrainingData(points, None, f"{data_name}: {len(modes.means)} modes, std {modes.std}")
    if data_name == "mnist":
        from gan_edge.training.data.mnist import load_mnist, to_model_range

        data = load_mnist(config.data_dir or None)
        limit = config.data_limit or len(data)
        return TrainingData(to_model_range(data.images[:limit]), data.labels[:limit], data.source)
    if data_name == "mnist32":
        # ProGAN grows to a power of two: the digits with 2 pixels of background (-1) on each side.
        digits = load_training_data(config, "mnist")
        padded = np.pad(digits.samples, ((0, 0), (2, 2), (2, 2), (0, 0)), constant_values=-1.0)
        return TrainingData(padded, digits.labels, f"{digits.source}, padded to 32x32")
    raise ConfigError(f"unknown data set {data_name!r}: expected one of gaussian, ring8, grid25, mnist, mnist32")


def epoch_batches(samples, batch_size: int, seed: int, epoch: int):
    """The mini-batches of one epoch, in an order that depends only on (seed, epoch).

    A resumed run rebuilds exactly the order it would have seen, with nothing but
    the epoch number kept in the checkpoint. ``samples`` is a tensor: batches are
    gathered from it, so no epoch-sized copy is made.
    """
    import tensorflow as tf

    order = np.random.default_rng([seed, epoch]).permutation(int(samples.shape[0]))
    return (
        tf.data.Dataset.from_tensor_slices(order)
        .batch(batch_size)
        .map(tf.autograph.experimental.do_not_convert(lambda index: tf.gather(samples, index)),
             num_parallel_calls=tf.data.AUTOTUNE)
        .prefetch(tf.data.AUTOTUNE)
    )


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
