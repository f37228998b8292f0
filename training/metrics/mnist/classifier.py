"""The MNIST digit classifier whose features the MNIST evaluators measure in.

Features: the 128 ReLU activations of the ``features`` layer, the penultimate layer
of a small CNN trained here on real MNIST digits:

    Input(28, 28, 1) in [-1, 1] -> Conv(32, 3) ReLU -> Conv(64, 3) ReLU -> MaxPool(2)
    -> Dropout(0.25) -> Flatten -> Dense(128) ReLU "features" -> Dropout(0.5)
    -> Dense(10) logits

Only the 10,000-image test split is on disk, so ``load_or_train_classifier`` trains
on all but ``holdout`` of the images it is given (a split drawn from ``seed``) and
reports its accuracy on the rest. Training shifts each image by up to 2 pixels
(``RandomTranslation``, filled with the background value -1): with 8,000 training
images this is what lifts held-out accuracy from about 97.5% to about 98.5%.

Only weights are cached (``mnist_classifier.weights.h5``), never a pickled or saved
model with code, beside ``mnist_classifier.json``: held-out accuracy, the hash of the
data, the seed, epochs, holdout size and ``ARCHITECTURE_VERSION``. A cache that
disagrees with any of them, or whose weights file does not match its recorded hash,
is retrained and overwritten. Bump ``ARCHITECTURE_VERSION`` whenever
``build_classifier`` changes.
"""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gan_edge.errors import InputError
from gan_edge.io import atomic_write_json
from gan_edge.training.metrics.checks import in_model_range
from gan_edge.training.metrics.weights_cache import file_sha256, matching_record, save_weights_atomically

if TYPE_CHECKING:
    import tf_keras as keras

__all__ = [
    "ARCHITECTURE_VERSION",
    "DEFAULT_EPOCHS",
    "DEFAULT_HOLDOUT",
    "FEATURE_DIM",
    "Classifier",
    "build_classifier",
    "check_images",
    "check_labels",
    "data_hash",
    "load_or_train_classifier",
    "train_classifier",
]

ARCHITECTURE_VERSION = 1
FEATURE_DIM = 128
IMAGE_SHAPE = (28, 28, 1)
NUM_CLASSES = 10
DEFAULT_EPOCHS = 10
DEFAULT_HOLDOUT = 2000
WEIGHTS_FILE = "mnist_classifier.weights.h5"
INFO_FILE = "mnist_classifier.json"
_BATCH = 64
_EVAL_BATCH = 1000


def build_classifier() -> keras.Model:
    """The CNN above, untrained; its logits are the output, ``features`` a named layer."""
    keras = _keras()
    return keras.Sequential(
        [
            keras.layers.Input(IMAGE_SHAPE, name="image"),
            keras.layers.Conv2D(32, 3, activation="relu", name="conv_1"),
            keras.layers.Conv2D(64, 3, activation="relu", name="conv_2"),
            keras.layers.MaxPooling2D(name="pool"),
            keras.layers.Dropout(0.25, name="dropout_1"),
            keras.layers.Flatten(name="flatten"),
            keras.layers.Dense(FEATURE_DIM, activation="relu", name="features"),
            keras.layers.Dropout(0.5, name="dropout_2"),
            keras.layers.Dense(NUM_CLASSES, name="logits"),
        ],
        name="mnist_classifier",
    )


def train_classifier(
    images: np.ndarray, labels: np.ndarray, *, epochs: int, seed: int
) -> keras.Model:
    """Train ``build_classifier()`` on ``images`` (n, 28, 28, 1) in [-1, 1] and ``labels`` (n,).

    Sets Keras' global random seed to ``seed`` (weights, shuffling, dropout, shifts).
    Returns the classifier without the augmentation layer.
    """
    images = check_images("images", images)
    labels = check_labels("labels", labels, len(images))
    _check_epochs(epochs)
    keras = _keras()
    keras.utils.set_random_seed(seed)
    model = build_classifier()
    # The shift is a training-time layer wrapped around the classifier, so the model
    # that is saved and used for features never contains it.
    trainer = keras.Sequential(
        [
            keras.layers.Input(IMAGE_SHAPE),
            keras.layers.RandomTranslation(
                2 / 28, 2 / 28, fill_mode="constant", fill_value=-1.0, seed=seed
            ),
            model,
        ]
    )
    steps = epochs * -(-len(images) // _BATCH)
    # Cosine decay to zero: the last epochs settle instead of bouncing by +-0.3%.
    schedule = keras.optimizers.schedules.CosineDecay(1e-3, decay_steps=steps)
    trainer.compile(
        optimizer=keras.optimizers.Adam(schedule),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    trainer.fit(
        images.astype(np.float32), labels.astype(np.int32),
        batch_size=_BATCH, epochs=int(epochs), shuffle=True, verbose=0,
    )
    return model


class Classifier:
    """A trained classifier: ``features``, ``predict_classes`` and its held-out ``accuracy``.

    ``from_cache`` is True when the weights were loaded rather than trained by the
    call that made this object; ``info`` is the cache's JSON record.
    """

    def __init__(self, model: keras.Model, *, accuracy: float, info: dict, from_cache: bool):
        self._model = model
        self._both = _keras().Model(
            model.inputs, [model.get_layer("features").output, model.outputs[0]]
        )
        self.accuracy = float(accuracy)
        self.info = dict(info)
        self.from_cache = bool(from_cache)

    def features(self, images: np.ndarray) -> np.ndarray:
        """Penultimate-layer activations, float64 (n, 128)."""
        return self.embed(images)[0]

    def predict_classes(self, images: np.ndarray) -> np.ndarray:
        """Predicted digits, int64 (n,)."""
        return self.embed(images)[1]

    def embed(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Features (n, 128) float64 and predicted digits (n,) int64 in one pass."""
        images = check_images("images", images).astype(np.float32, copy=False)
        feats, classes = [], []
        for start in range(0, len(images), _EVAL_BATCH):
            f, logits = self._both(images[start : start + _EVAL_BATCH], training=False)
            feats.append(f.numpy().astype(np.float64))
            classes.append(np.argmax(logits.numpy(), axis=1).astype(np.int64))
        return np.concatenate(feats), np.concatenate(classes)


def load_or_train_classifier(
    cache_dir: str | os.PathLike,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    seed: int = 0,
    epochs: int = DEFAULT_EPOCHS,
    holdout: int = DEFAULT_HOLDOUT,
) -> Classifier:
    """Load the classifier cached in ``cache_dir`` for this data, or train and cache one.

    ``images`` (n, 28, 28, 1) float in [-1, 1] and ``labels`` (n,) digits; ``holdout``
    of them, drawn with ``seed``, are kept out of training to measure ``accuracy``.
    """
    images = check_images("images", images)
    labels = check_labels("labels", labels, len(images))
    _check_epochs(epochs)
    if not isinstance(holdout, (int, np.integer)) or not 0 < holdout < len(images):
        raise InputError(
            f"holdout must be an integer in 1..{len(images) - 1} (fewer than the "
            f"{len(images)} images), got {holdout!r}"
        )
    cache_dir = Path(cache_dir)
    key = {
        "architecture_version": ARCHITECTURE_VERSION,
        "data_sha256": data_hash(images, labels),
        "seed": int(seed),
        "epochs": int(epochs),
        "holdout": int(holdout),
    }
    cached = _load_cached(cache_dir, key)
    if cached is not None:
        return cached

    order = np.random.default_rng(seed).permutation(len(images))
    train, held = order[holdout:], order[:holdout]
    start = time.perf_counter()
    model = train_classifier(images[train], labels[train], epochs=epochs, seed=seed)
    seconds = time.perf_counter() - start
    unmeasured = Classifier(model, accuracy=float("nan"), info=key, from_cache=False)
    accuracy = float(np.mean(unmeasured.predict_classes(images[held]) == labels[held]))

    weights = cache_dir / WEIGHTS_FILE
    save_weights_atomically(model, weights)
    info = {
        **key,
        "accuracy": accuracy,
        "train_size": int(len(train)),
        "train_seconds": round(seconds, 2),
        "weights_sha256": file_sha256(weights),
        "tf_keras_version": _keras().__version__,
    }
    atomic_write_json(cache_dir / INFO_FILE, info)  # written last: it vouches for the weights
    return Classifier(model, accuracy=accuracy, info=info, from_cache=False)


def data_hash(images: np.ndarray, labels: np.ndarray) -> str:
    """SHA-256 of the images as float32 and the labels as uint8, shapes included."""
    h = hashlib.sha256()
    images = np.ascontiguousarray(images, dtype=np.float32)
    labels = np.ascontiguousarray(labels, dtype=np.uint8)
    h.update(repr((images.shape, labels.shape)).encode())
    h.update(images.tobytes())
    h.update(labels.tobytes())
    return h.hexdigest()


def check_images(name: str, images) -> np.ndarray:
    """Refuse anything but finite floats of shape (n, 28, 28, 1) in [-1, 1] (+- 1e-3)."""
    arr = np.asarray(images)
    if arr.ndim != 4 or arr.shape[1:] != IMAGE_SHAPE or len(arr) == 0:
        raise InputError(
            f"{name} must have shape (n, 28, 28, 1) with n >= 1, got {arr.shape}"
        )
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(
            f"{name} must be floats in [-1, 1], got dtype {arr.dtype}: scale uint8 "
            "pixels with training.data.mnist.to_model_range (x / 127.5 - 1)"
        )
    return in_model_range(name, arr)


def check_labels(name: str, labels, n: int) -> np.ndarray:
    """Refuse anything but n integer digits 0..9."""
    arr = np.asarray(labels)
    if arr.shape != (n,):
        raise InputError(f"{name} must have shape ({n},), one per image, got {arr.shape}")
    if not np.issubdtype(arr.dtype, np.integer):
        raise InputError(f"{name} must be integer digits 0..9, got dtype {arr.dtype}")
    if n and (arr.min() < 0 or arr.max() >= NUM_CLASSES):
        raise InputError(
            f"{name} must be digits 0..9, got values in [{arr.min()}, {arr.max()}]"
        )
    return arr.astype(np.int64)


def _check_epochs(epochs) -> None:
    if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool) or epochs < 1:
        raise InputError(f"epochs must be a positive integer, got {epochs!r}")


def _load_cached(cache_dir: Path, key: dict) -> Classifier | None:
    """The cached classifier if its record matches ``key`` and its weights hash; else None."""
    weights = cache_dir / WEIGHTS_FILE
    info = matching_record(cache_dir / INFO_FILE, weights, key)
    if info is None:
        return None
    model = build_classifier()
    try:
        model.load_weights(str(weights))
    except (KeyError, ValueError, OSError):
        # A weights file in a layout this tf_keras cannot read (an older cache):
        # retrain rather than fail; the new weights replace it.
        return None
    return Classifier(model, accuracy=info["accuracy"], info=info, from_cache=True)


def _keras():
    # Imported on first use: the package's numpy-only metrics must not load TensorFlow.
    import tf_keras

    return tf_keras
