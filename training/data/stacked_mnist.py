"""Stacked-MNIST: three MNIST digits as the R, G and B channels of one 28x28x3 picture.

The set of Metz et al. (2017, unrolled GANs) as VEEGAN (Srivastava et al., 2017) and PacGAN
(Lin et al., 2018) measure it: each picture's mode is its triple of digits, so the data has
1,000 modes, all about equally likely, and a generator's mode count says how many it draws.

``load_stacked_mnist()`` draws the triples (uniformly, with replacement, from the digits
``load_mnist`` finds; a fixed seed, so every run trains on the same set, as on MNIST),
stacks them once into a uint8 cache file and hands back its read-only memmap. Training
then treats it as any uint8 (n, 28, 28, 3) pictures (``training.data``: streamed a batch at
a time, the fingerprint kept in the run folder and checked on resume).

The protocol's sizes are PacGAN's code's (fjxmlzn/PacGAN,
stacked_MNIST_experiments/VEEGAN_experiment/config.py and model.py): 128,000 training
pictures, drawn from MNIST's 70,000 digits (train + test), and 26,000 generated samples
measured (``training/evaluators/stacked_mnist.py``). Where only the 10,000-digit test split
is on disk (this project's machines), the triples come from those 10,000: every triple is
still drawn about 128 times.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_edge.errors import ConfigError, DataError

__all__ = ["NAME", "SIDE", "CHANNELS", "MODES", "TRAINING_SAMPLES", "EVAL_SAMPLES", "PROTOCOL",
           "StackedMnist", "load_stacked_mnist", "draw_triples", "stack", "modes_of", "resolve"]

NAME = "stacked-mnist"  # what --data and config.data_path name it
SIDE, CHANNELS = 28, 3
MODES = 1000  # digit triples
TRAINING_SAMPLES = 128_000
EVAL_SAMPLES = 26_000
# The settings the protocol fixes beneath a user's own (the CLI applies them first).
PROTOCOL = {"eval_samples": EVAL_SAMPLES}
DRAW_SEED = 0  # the set's; not the run's seed, so every run trains on the same pictures
_CACHE_VERSION = 1
_CHUNK = 8192  # pictures stacked and written at a time: the cache is built in bounded memory


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == has no single truth value
class StackedMnist:
    """``images`` uint8 (n, 28, 28, 3), the cache's read-only memmap; ``digits`` uint8 (n, 3), the
    digit in R, G and B; ``indices`` int64 (n, 3), which of ``load_mnist``'s digits each channel
    is; ``fingerprint`` identifies the set (a run keeps it); ``source`` is one line for logs."""

    images: np.ndarray
    digits: np.ndarray
    indices: np.ndarray
    fingerprint: dict
    source: str

    def __len__(self) -> int:
        return len(self.images)


def resolve(config):
    """``config`` with the set's shape fixed (28x28x3, on dcgan); other settings refused by name."""
    if config.model != "dcgan":
        raise ConfigError(f"--data {NAME} trains dcgan (28x28x3 pictures), got model {config.model!r}: "
                          f"run `gan-edge train dcgan --data {NAME}`")
    for name, fixed in (("resolution", SIDE), ("channels", CHANNELS)):
        if getattr(config, name) not in (0, fixed):
            raise ConfigError(f"{NAME} pictures are {SIDE}x{SIDE}x{CHANNELS} (three MNIST digits as R, G, B), "
                              f"got --{name} {getattr(config, name)}: leave --{name} out")
    if (config.resolution, config.channels) == (SIDE, CHANNELS):
        return config
    return config.with_overrides({"resolution": SIDE, "channels": CHANNELS})


def draw_triples(digits: int, count: int, seed: int = DRAW_SEED) -> np.ndarray:
    """(count, 3) int64 indices into ``digits`` MNIST images, uniform with replacement. One draw
    of all 128,000 rows, cut to ``count``: a smaller set is the start of the full one."""
    if not 1 <= count <= TRAINING_SAMPLES:
        raise ConfigError(f"a {NAME} set holds 1 to {TRAINING_SAMPLES:,} pictures, got {count:,}: "
                          f"set data_limit within that (0: all {TRAINING_SAMPLES:,})")
    return np.random.default_rng(seed).integers(0, digits, size=(TRAINING_SAMPLES, 3))[:count]


def stack(images: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28, 3): MNIST ``images`` (m, 28, 28) at ``indices`` (n, 3) as R, G, B."""
    return np.ascontiguousarray(np.moveaxis(images[indices], 1, -1))


def modes_of(digits: np.ndarray) -> np.ndarray:
    """Each picture's mode, int64 in 0..999: its digits (n, 3) read as a number, R first."""
    return np.asarray(digits, dtype=np.int64) @ np.array([100, 10, 1])


def load_stacked_mnist(data_dir=None, *, count: int = TRAINING_SAMPLES, cache_dir=None) -> StackedMnist:
    """The first ``count`` pictures of the set, from the MNIST ``load_mnist(data_dir)`` finds;
    built into the cache once (``$GAN_EDGE_CACHE``/stacked-mnist), memory-mapped after."""
    from gan_edge.capacity import check_disk
    from gan_edge.io import atomic_path, atomic_write_json
    from gan_edge.training.data.images import read_cache
    from gan_edge.training.data.mnist import load_mnist
    from gan_edge.web_vendor import cache_root

    mnist = load_mnist(data_dir)
    indices = draw_triples(len(mnist), count)
    digest = hashlib.sha256(mnist.images.tobytes() + mnist.labels.tobytes()).hexdigest()
    fingerprint = {"data": NAME, "samples": count, "draw_seed": DRAW_SEED, "mnist_digits": len(mnist),
                   "mnist_sha256": digest, "resolution": SIDE, "channels": CHANNELS}
    stamp = hashlib.sha256(json.dumps([_CACHE_VERSION, fingerprint]).encode()).hexdigest()[:24]
    cache = Path(cache_dir) if cache_dir is not None else cache_root() / NAME
    cache = cache / f"{stamp}-{count}.npy"
    images, _ = read_cache(cache, fingerprint, count)
    if images is None:
        check_disk(count * SIDE * SIDE * CHANNELS + 4096, cache, f"stacking {count:,} {NAME} pictures",
                   "set GAN_EDGE_CACHE to a folder on a disk with more room")
        try:
            with atomic_path(cache) as tmp:
                out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(count, SIDE, SIDE, CHANNELS))
                for start in range(0, count, _CHUNK):
                    out[start : start + _CHUNK] = stack(mnist.images, indices[start : start + _CHUNK])
                out.flush()
                del out
            # The commit mark, last (the picture cache's format): a cache without it is rebuilt.
            atomic_write_json(cache.with_suffix(".json"), {"fingerprint": fingerprint, "bad": []})
        except OSError as error:
            raise DataError(f"cannot write the {NAME} cache {cache} ({error.strerror}): "
                            "set GAN_EDGE_CACHE to a writable folder") from error
        images, _ = read_cache(cache, fingerprint, count)
        if images is None:
            raise DataError(f"{cache} was written but does not read back: check the disk, or set GAN_EDGE_CACHE")
    source = (f"{NAME}: {count:,} pictures at {SIDE}x{SIDE}x{CHANNELS}, digit triples drawn with seed {DRAW_SEED} "
              f"from {mnist.source}, cache {cache}")
    return StackedMnist(images, mnist.labels[indices], indices, fingerprint, source)
