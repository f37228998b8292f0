"""The feature net an image set is measured in: trained on that set, nothing downloaded.

FID measures in Inception-v3's features, and those weights cannot be fetched here (nor
on many users' machines); an ImageNet net also knows nothing of a user's 32-pixel
emoji. So, as FCD does for MNIST, the set trains its own small CNN, with up to two
heads on one 128-d ``features`` layer (the penultimate layer, which ``fd``,
``precision`` and ``recall`` measure in):

- ``rotation`` (always): which of 0/90/180/270 degrees an image was turned (RotNet,
  Gidaris et al., 2018). It needs no labels, and to answer it the net must see where
  the parts of an object sit and how its edges run: what noise and blur destroy.
- ``categories`` (when the set has labels: Twemoji's categories, subfolder names): the
  label of each image. A rotation head alone hardly sees which kinds of image are
  drawn (measured in docs/image_metrics.md: half the categories dropped scores below a
  mild blur); this head is what makes mode dropping cost, and it names the categories
  for ``categories_covered``.

    Input(r, r, c) in [-1, 1] -> AveragePooling(r // 32) when r >= 64 -> 3 x [Conv(w, 3)
    ReLU -> MaxPool(2)], w = 32, 64, 128 -> Flatten -> Dense(128) ReLU "features"
    -> Dense(4) "rotation", Dense(K) "categories"

Large inputs are averaged down to 32 pixels inside the net, so a 128-pixel set trains as
fast as a 32-pixel one. Training runs ``steps`` batches of 64 (300: about five passes
over Twemoji's 3,786 images), each image turned by a random quarter turn, with Adam and
a cosine decay to zero; the number of steps, not the size of the set, fixes the time.

Only weights are cached, beside a JSON record (``weights_cache``) keyed by the hash of
the images and labels, the category names, the seed, the steps and
``ARCHITECTURE_VERSION``; the files are named by that key, so several sets share one
cache folder. Bump ``ARCHITECTURE_VERSION`` whenever ``build_feature_net`` or the
training changes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from gan_edge.errors import InputError
from gan_edge.io import atomic_write_json
from gan_edge.training.data.images import to_model_range
from gan_edge.training.metrics.checks import in_model_range
from gan_edge.training.metrics.weights_cache import file_sha256, matching_record, save_weights_atomically

if TYPE_CHECKING:
    import tf_keras as keras

__all__ = [
    "ARCHITECTURE_VERSION",
    "DEFAULT_STEPS",
    "FEATURE_DIM",
    "FeatureNet",
    "build_feature_net",
    "check_images",
    "check_pixels",
    "load_or_train_feature_net",
    "train_feature_net",
]

ARCHITECTURE_VERSION = 1
FEATURE_DIM = 128
ROTATIONS = 4
MIN_RESOLUTION, MAX_RESOLUTION = 16, 128
WORKING_RESOLUTION = 32
DEFAULT_STEPS = 300
_BATCH = 64
_LEARNING_RATE = 2e-3
_EVAL_BATCH = 500
_ACCURACY_IMAGES = 1000


def build_feature_net(resolution: int, channels: int, categories: int) -> keras.Model:
    """The CNN above, untrained; outputs ``features``, ``rotation`` and (when ``categories``) ``categories``."""
    keras = _keras()
    image = keras.layers.Input((resolution, resolution, channels), name="image")
    x = image
    if resolution >= 2 * WORKING_RESOLUTION:
        x = keras.layers.AveragePooling2D(resolution // WORKING_RESOLUTION, name="downsample")(x)
    for i, width in enumerate((32, 64, 128), start=1):
        x = keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"conv_{i}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool_{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    features = keras.layers.Dense(FEATURE_DIM, activation="relu", name="features")(x)
    outputs = {"features": features, "rotation": keras.layers.Dense(ROTATIONS, name="rotation")(features)}
    if categories:
        outputs["categories"] = keras.layers.Dense(categories, name="categories")(features)
    return keras.Model(image, outputs, name="image_features")


def train_feature_net(
    images: np.ndarray, labels: np.ndarray | None, categories: int, *, steps: int, seed: int
) -> keras.Model:
    """Train ``build_feature_net`` on ``images`` (uint8, or floats in [-1, 1]) for ``steps`` batches.

    ``labels`` (n,) in 0..categories-1 train the ``categories`` head; None trains the
    rotation head alone. Sets Keras' global random seed to ``seed``.
    """
    import tensorflow as tf

    keras = _keras()
    keras.utils.set_random_seed(seed)
    model = build_feature_net(images.shape[1], images.shape[3], categories if labels is not None else 0)
    optimizer = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(_LEARNING_RATE, steps))
    cross_entropy = keras.losses.SparseCategoricalCrossentropy(from_logits=True)

    @tf.function
    def step(x, turns, y):
        with tf.GradientTape() as tape:
            out = model(x, training=True)
            loss = cross_entropy(turns, out["rotation"])
            if labels is not None:
                loss += cross_entropy(y, out["categories"])
        optimizer.apply_gradients(zip(tape.gradient(loss, model.trainable_variables), model.trainable_variables))

    rng = np.random.default_rng(seed)
    no_labels = np.zeros(_BATCH, np.int32)
    for rows in _batches(len(images), steps, rng):
        turns = rng.integers(0, ROTATIONS, len(rows))
        x = _turned(_model_range(images[rows]), turns)
        y = labels[rows].astype(np.int32) if labels is not None else no_labels[: len(rows)]
        step(x, turns.astype(np.int32), y)
    return model


class FeatureNet:
    """A trained feature net: ``embed`` images into ``features`` (and predicted categories).

    ``resolution`` and ``channels`` are the input it takes; ``category_names`` the labels
    it predicts (empty for a rotation-only net); ``info`` its cache record; ``from_cache``
    True when the weights were loaded rather than trained by the call that made it.
    """

    def __init__(self, model: keras.Model, *, category_names: Sequence[str], info: dict, from_cache: bool):
        self._model = model
        _, self.resolution, _, self.channels = model.input_shape
        self.category_names = tuple(category_names)
        self.info = dict(info)
        self.from_cache = bool(from_cache)

    def features(self, images: np.ndarray) -> np.ndarray:
        """The 128-d penultimate activations, float64 (n, 128)."""
        return self.embed(images)[0]

    def embed(self, images: np.ndarray, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
        """Features (n, 128) float64 and predicted categories (n,) int64 (None without a
        category head) of ``images``, or of ``images[rows]``, read one batch at a time so a
        uint8 memmap is never copied whole."""
        images = check_images("images", images, self.resolution, self.channels)
        rows = np.arange(len(images)) if rows is None else np.asarray(rows)
        feats, classes = [], []
        for start in range(0, len(rows), _EVAL_BATCH):
            out = self._model(_model_range(images[rows[start : start + _EVAL_BATCH]]), training=False)
            feats.append(out["features"].numpy().astype(np.float64))
            if self.category_names:
                classes.append(np.argmax(out["categories"].numpy(), axis=1).astype(np.int64))
        return np.concatenate(feats), (np.concatenate(classes) if self.category_names else None)

    def accuracies(self, images: np.ndarray, labels: np.ndarray | None) -> dict[str, float]:
        """Share of ``images`` whose quarter turn (each of the four) and category are told right."""
        correct, total = 0, 0
        for turns in range(ROTATIONS):
            for start in range(0, len(images), _EVAL_BATCH):
                batch = _model_range(images[start : start + _EVAL_BATCH])
                turned = _turned(batch, np.full(len(batch), turns))
                logits = self._model(turned, training=False)["rotation"].numpy()
                correct += int(np.count_nonzero(np.argmax(logits, axis=1) == turns))
                total += len(batch)
        result = {"rotation": correct / total}
        if labels is not None and self.category_names:
            result["categories"] = float(np.mean(self.embed(images)[1] == labels))
        return result


def load_or_train_feature_net(
    cache_dir: str | os.PathLike,
    images: np.ndarray,
    labels: np.ndarray | None = None,
    label_names: Sequence[str] = (),
    *,
    seed: int = 0,
    steps: int = DEFAULT_STEPS,
) -> FeatureNet:
    """The feature net cached in ``cache_dir`` for this set and these settings, or a new one.

    ``images`` (n, r, r, c), r in 16..128, c 1 or 3: uint8 pixels (``ImageData.images``)
    or floats in [-1, 1]. ``labels`` (n,) index ``label_names`` (``ImageData.labels`` and
    ``.label_names``); without them the net learns rotations only.
    """
    images = _check_training_images(images)
    labels, label_names = _check_labels(labels, label_names, len(images))
    if not (isinstance(steps, (int, np.integer)) and not isinstance(steps, bool) and steps >= 1):
        raise InputError(f"steps must be a positive integer, got {steps!r}")
    key = {
        "architecture_version": ARCHITECTURE_VERSION,
        "data_sha256": data_hash(images, labels),
        "category_names": list(label_names),
        "seed": int(seed),
        "steps": int(steps),
    }
    stem = "image_features-" + hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    weights, record = Path(cache_dir) / f"{stem}.weights.h5", Path(cache_dir) / f"{stem}.json"
    info = matching_record(record, weights, key)
    if info is not None:
        model = build_feature_net(images.shape[1], images.shape[3], len(label_names))
        try:
            model.load_weights(str(weights))
            return FeatureNet(model, category_names=label_names, info=info, from_cache=True)
        except (KeyError, ValueError, OSError):
            pass  # weights this tf_keras cannot read: retrain, and the new ones replace them

    start = time.perf_counter()
    model = train_feature_net(images, labels, len(label_names), steps=steps, seed=seed)
    seconds = time.perf_counter() - start
    net = FeatureNet(model, category_names=label_names, info=key, from_cache=False)
    sample = np.sort(np.random.default_rng(seed).permutation(len(images))[:_ACCURACY_IMAGES])
    accuracies = net.accuracies(images[sample], None if labels is None else labels[sample])
    save_weights_atomically(model, weights)
    info = {
        **key,
        "resolution": int(images.shape[1]),
        "channels": int(images.shape[3]),
        "images": int(len(images)),
        "train_seconds": round(seconds, 2),
        # Measured on (up to 1,000) training images: how well the heads learned, not a held-out score.
        "training_accuracy": {name: round(value, 4) for name, value in accuracies.items()},
        "weights_sha256": file_sha256(weights),
        "tf_keras_version": _keras().__version__,
    }
    atomic_write_json(record, info)  # written last: it vouches for the weights
    net.info = info
    return net


def data_hash(images: np.ndarray, labels: np.ndarray | None) -> str:
    """SHA-256 of the images (dtype and shape included, read in chunks) and the labels."""
    h = hashlib.sha256(repr((images.dtype.str, images.shape)).encode())
    for start in range(0, len(images), 4096):
        h.update(np.ascontiguousarray(images[start : start + 4096]).tobytes())
    if labels is not None:
        h.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return h.hexdigest()


def check_images(name: str, images, resolution: int, channels: int) -> np.ndarray:
    """``images`` as an array (n >= 1, resolution, resolution, channels): uint8 pixels, or
    finite floats in [-1, 1] (+- 1e-3). Nothing is copied: a memmap stays a memmap."""
    arr = images if isinstance(images, np.ndarray) else np.asarray(images)
    expected = (resolution, resolution, channels)
    if arr.ndim != 4 or arr.shape[1:] != expected or len(arr) == 0:
        raise InputError(
            f"{name} must have shape (n, {resolution}, {resolution}, {channels}) with n >= 1 "
            f"(the feature net's input), got {arr.shape}"
        )
    check_pixels(name, arr)
    return arr


def check_pixels(name: str, arr: np.ndarray) -> None:
    """Refuse anything but uint8 pixels or finite floats in [-1, 1] (+- 1e-3)."""
    if arr.dtype == np.uint8:
        return
    if not np.issubdtype(arr.dtype, np.floating):
        raise InputError(
            f"{name} must be uint8 pixels or floats in [-1, 1] (the generator's tanh range), "
            f"got dtype {arr.dtype}"
        )
    in_model_range(name, arr, fix=": pass uint8 pixels as they are, or scale them with to_model_range")


def _check_training_images(images) -> np.ndarray:
    arr = images if isinstance(images, np.ndarray) else np.asarray(images)
    if (
        arr.ndim != 4
        or len(arr) < 2
        or arr.shape[1] != arr.shape[2]
        or not MIN_RESOLUTION <= arr.shape[1] <= MAX_RESOLUTION
        or arr.shape[3] not in (1, 3)
    ):
        raise InputError(
            f"images must have shape (n, r, r, c) with n >= 2, r in {MIN_RESOLUTION}..{MAX_RESOLUTION} "
            f"and c 1 or 3, got {arr.shape}"
        )
    check_pixels("images", arr)
    return arr


def _check_labels(labels, label_names, n: int) -> tuple[np.ndarray | None, tuple[str, ...]]:
    names = tuple(label_names or ())
    if labels is None and not names:
        return None, ()
    if labels is None or len(names) < 2 or not all(isinstance(x, str) for x in names):
        raise InputError(
            f"labels and label_names come together, with 2 or more names (ImageData.labels and "
            f".label_names), got labels {'None' if labels is None else 'given'} and {len(names)} names"
        )
    arr = np.asarray(labels)
    if arr.shape != (n,) or not np.issubdtype(arr.dtype, np.integer):
        raise InputError(
            f"labels must be integers of shape ({n},), one per image, got {arr.dtype} {arr.shape}"
        )
    if arr.min() < 0 or arr.max() >= len(names):
        raise InputError(
            f"labels must index label_names (0..{len(names) - 1}), got values in [{arr.min()}, {arr.max()}]"
        )
    return arr.astype(np.int64), names


def _batches(n: int, steps: int, rng: np.random.Generator):
    """``steps`` sorted index batches (sorted: a memmap reads forward), one shuffled pass after another."""
    order = np.empty(0, np.int64)
    for _ in range(steps):
        while len(order) < min(_BATCH, n):
            order = np.concatenate([order, rng.permutation(n)])
        rows, order = order[: min(_BATCH, n)], order[min(_BATCH, n) :]
        yield np.sort(rows)


def _turned(batch: np.ndarray, turns: np.ndarray) -> np.ndarray:
    """Each image of ``batch`` (n, r, r, c) turned counter-clockwise by ``turns[i]`` quarter turns."""
    out = np.empty_like(batch)
    for turn in range(ROTATIONS):
        which = turns == turn
        out[which] = np.rot90(batch[which], turn, axes=(1, 2))
    return out


def _model_range(batch: np.ndarray) -> np.ndarray:
    if batch.dtype == np.uint8:
        return to_model_range(np.asarray(batch))
    return np.asarray(batch, dtype=np.float32)


def _keras():
    # Imported on first use: the package's numpy-only metrics must not load TensorFlow.
    import tf_keras

    return tf_keras
