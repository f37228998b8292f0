"""Training data sets, chosen by the model's ``DATA`` name (or a user's pictures, when the
config names ``data_path``, or Stacked-MNIST when it names "stacked-mnist"), and the pipeline
over them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_edge.errors import ConfigError
from gan_edge.training.data import stacked_mnist

__all__ = ["TrainingData", "load_training_data", "resolve_image_shape", "batch_source", "batches", "epoch_batches"]


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Samples, their labels if the set has any, and where they came from.

    ``samples`` is float32 in the model's range, or, for a user's pictures, the uint8
    (n, res, res, channels) memmap of their cache, read and converted one batch at a time
    (``epoch_batches``). ``label_names`` names the labels; ``fingerprint`` identifies a
    user's pictures (a run records it and refuses to resume on other data).
    """

    samples: np.ndarray
    labels: np.ndarray | None
    source: str
    label_names: tuple[str, ...] = ()
    fingerprint: dict | None = None


def resolve_image_shape(config):
    """``config`` with its pictures' shape fixed: resolution and channels from the data
    where they are 0 (the data's own size, rounded to a resolution the models build), and
    ProGAN's growth ending at that resolution. Headers only: nothing is decoded."""
    if not config.data_path:
        return config
    if config.data_path == stacked_mnist.NAME:
        return stacked_mnist.resolve(config)
    from gan_edge.training.data.images import inspect_images, nearest_resolution

    overrides = {}
    if not config.resolution or not config.channels:
        _, side, channels = inspect_images(config.data_path, skip_bad=config.skip_bad)
        overrides = {"resolution": config.resolution or nearest_resolution(side),
                     "channels": config.channels or channels}
    resolution = overrides.get("resolution", config.resolution)
    growth = config.growth.resolutions
    if config.model == "progan" and (not growth or growth[-1] != resolution):
        from gan_edge.training.progan_schedule import resolutions_up_to

        # 4x4 up to the pictures' size, each phase as long as the config says.
        overrides["growth"] = {"resolutions": resolutions_up_to(resolution)}
    return config.with_overrides(overrides) if overrides else config


def load_training_data(config, data_name: str, on_progress=None) -> TrainingData:
    if config.data_path == stacked_mnist.NAME:  # labelled by mode, 0..999: the digits read R, G, B
        data = stacked_mnist.load_stacked_mnist(config.data_dir or None,
                                                count=config.data_limit or stacked_mnist.TRAINING_SAMPLES)
        return TrainingData(data.images, stacked_mnist.modes_of(data.digits), data.source, (), data.fingerprint)
    if config.data_path:
        return _pictures(config, on_progress)
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


def _pictures(config, on_progress) -> TrainingData:
    from gan_edge.training.data.images import load_images
    from gan_edge.training.data.twemoji import INDEX_NAME, twemoji_labels

    if not config.resolution or not config.channels:
        raise ConfigError("the pictures' resolution and channels are not resolved: call resolve_image_shape(config)")
    path = Path(config.data_path).expanduser()
    # A folder with emoji-datasource's index beside it (the Twemoji set) is labelled by category.
    index = next((folder / INDEX_NAME for folder in (path, path.parent) if (folder / INDEX_NAME).is_file()), None)
    labels = twemoji_labels(index) if index is not None and path.is_dir() else None
    data = load_images(path, resolution=config.resolution, channels=config.channels,
                       background=config.background, skip_bad=config.skip_bad, labels=labels,
                       min_images=config.batch_size, on_progress=on_progress)
    return TrainingData(data.images, data.labels, data.source, data.label_names,
                        {**data.fingerprint, "skipped": data.skipped})


def batch_source(data: TrainingData):
    """What ``epoch_batches`` gathers from: the samples as one tensor in memory, or a user's
    pictures as their uint8 memmap, which stays on disk."""
    import tensorflow as tf

    return data.samples if _streamed(data.samples) else tf.constant(data.samples)


def _streamed(samples) -> bool:
    """uint8 pictures (their cache's memmap): read and converted a batch at a time."""
    return isinstance(samples, np.ndarray) and samples.dtype == np.uint8


def epoch_batches(samples, batch_size: int, seed: int, epoch: int):
    """The mini-batches of one epoch, in an order that depends only on (seed, epoch).

    A resumed run rebuilds exactly the order it would have seen, with nothing but
    the epoch number kept in the checkpoint. ``samples`` is a tensor: batches are
    gathered from it, so no epoch-sized copy is made. Or it is uint8 pictures (a memmap
    of their cache): each batch is read from it and brought to [-1, 1] on its own, so
    a set larger than memory streams from disk.
    """
    import tensorflow as tf

    order = np.random.default_rng([seed, epoch]).permutation(int(samples.shape[0]))
    indices = tf.data.Dataset.from_tensor_slices(order).batch(batch_size)
    if _streamed(samples):
        shape = samples.shape[1:]

        def read(index):
            # Rows in file order read the memmap's pages forward; the batch keeps its order.
            rows = np.asarray(index)
            ahead = np.argsort(rows, kind="stable")
            batch = np.empty((len(rows), *shape), np.uint8)
            batch[ahead] = samples[rows[ahead]]
            return batch

        def to_model_range(index):
            batch = tf.numpy_function(read, [index], tf.uint8, stateful=False)
            batch.set_shape((None, *shape))
            return tf.cast(batch, tf.float32) / 127.5 - 1.0

        gather = to_model_range
    else:
        gather = lambda index: tf.gather(samples, index)  # noqa: E731
    return (
        indices
        .map(tf.autograph.experimental.do_not_convert(gather), num_parallel_calls=tf.data.AUTOTUNE)
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
