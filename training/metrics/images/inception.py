"""Inception FID proper, from InceptionV3 weights already on this machine: nothing is downloaded.

FID (Heusel et al., 2017) is the Fréchet distance (``frechet.py``) between the 2048-d
average-pool features of ImageNet-trained InceptionV3, images resized to 299 x 299.
Its numbers compare with the papers' only through those weights, Keras'
``inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5``, and fetching them is a
download this project never makes on its own. So ``inception_fid`` runs only when the
file is named (``weights=PATH``) or already sits in Keras' cache
(``$KERAS_HOME/models``, else ``~/.keras/models``); otherwise it refuses in one line,
before TensorFlow is imported. Without the file, ``fd`` in the set's own feature net
(``evaluate.py``) is the measure.

Grey images are repeated into three channels; pixels enter in [-1, 1], the range
InceptionV3's ``preprocess_input`` produces. Like any Fréchet distance it is biased
upward at small sizes: the papers use 50,000 samples.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gan_edge.errors import DataError, InputError
from gan_edge.training.metrics.frechet import frechet_distance
from gan_edge.training.metrics.images.features import check_pixels

__all__ = ["INPUT_SIDE", "WEIGHTS_FILE", "inception_features", "inception_fid", "inception_weights"]

WEIGHTS_FILE = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
INPUT_SIDE = 299
_BATCH = 32


def inception_weights(weights: str | os.PathLike | None = None) -> Path:
    """The weights file to use: ``weights`` if given, else Keras' cached copy; refused if absent."""
    if weights is not None:
        path = Path(weights).expanduser()
        if not path.is_file():
            raise DataError(
                f"no InceptionV3 weights at {path}: FID needs Keras' {WEIGHTS_FILE} and nothing "
                "is downloaded; pass the path of that file"
            )
        return path
    home = Path(os.environ["KERAS_HOME"]) if os.environ.get("KERAS_HOME") else Path.home() / ".keras"
    path = home / "models" / WEIGHTS_FILE
    if not path.is_file():
        raise DataError(
            f"no InceptionV3 weights: none named and none in Keras' cache ({path}); FID needs them and "
            "nothing is downloaded: copy the file there or pass weights=PATH, or use fd (the set's own feature net)"
        )
    return path


def inception_fid(samples: np.ndarray, reference: np.ndarray, *, weights: str | os.PathLike | None = None) -> float:
    """FID between ``samples`` and ``reference`` (n, h, w, 1 or 3), uint8 or floats in [-1, 1]."""
    path = inception_weights(weights)  # first: a refusal costs nothing
    samples, reference = _check("samples", samples), _check("reference", reference)
    model = _inception(path)
    return frechet_distance(inception_features(model, samples), inception_features(model, reference))


def inception_features(model, images: np.ndarray) -> np.ndarray:
    """The 2048-d pool features, float64 (n, 2048), a batch at a time."""
    import tensorflow as tf

    out = []
    for start in range(0, len(images), _BATCH):
        batch = np.asarray(images[start : start + _BATCH])
        x = tf.convert_to_tensor(batch, tf.float32)
        if batch.dtype == np.uint8:
            x = x / 127.5 - 1.0
        if x.shape[-1] == 1:
            x = tf.repeat(x, 3, axis=-1)
        x = tf.image.resize(x, (INPUT_SIDE, INPUT_SIDE), method="bilinear")
        out.append(model(x, training=False).numpy().astype(np.float64))
    return np.concatenate(out)


def _inception(path: Path):
    import tf_keras

    try:
        return tf_keras.applications.InceptionV3(
            include_top=False, weights=str(path), pooling="avg", input_shape=(INPUT_SIDE, INPUT_SIDE, 3)
        )
    except (ValueError, OSError, KeyError) as error:
        raise DataError(
            f"{path} is not InceptionV3's weights without the top ({WEIGHTS_FILE}, an .h5 file): {error}"
        ) from error


def _check(name: str, images) -> np.ndarray:
    arr = images if isinstance(images, np.ndarray) else np.asarray(images)
    if arr.ndim != 4 or len(arr) < 2 or arr.shape[3] not in (1, 3):
        raise InputError(f"{name} must have shape (n, h, w, 1 or 3) with n >= 2, got {arr.shape}")
    check_pixels(name, arr)
    return arr
