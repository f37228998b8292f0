"""The image metric (issue 22): a feature net trained on the set itself, fd against its floor,
precision/recall and categories, and Inception FID only from weights already on disk.

The honesty check runs on the real Twemoji set (../shared/data/twemoji, Twemoji CC-BY 4.0)
at 32 px RGB with the shipped recipe (300 steps, about 10-20 s here): the set is split in
two halves, four known failures are made from the first and every condition is scored
against the second. benchmarks/image_metric_ranking.py measures the same over 5 splits and
3 training seeds (docs/image_metrics.md); here one split and one seed, fixed.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gan_edge.errors import DataError, InputError
from gan_edge.training.data.images import load_images, to_model_range
from gan_edge.training.data.twemoji import twemoji_labels
from gan_edge.training.metrics.images import (
    CATEGORY_NAMES,
    CONDITIONS,
    NAMES,
    evaluate_images,
    failure_conditions,
    inception_weights,
    load_or_train_feature_net,
)
from gan_edge.training.metrics.images import inception
from gan_edge.training.metrics.images.conditions import half_of_the_categories

TWEMOJI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "twemoji"
SPLIT_SEED, CONDITION_SEED = 1000, 2000  # streams apart from evaluate_images' seed 0


# --- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def twemoji(tmp_path_factory):
    return load_images(
        TWEMOJI / "png64", resolution=32, channels=3, labels=twemoji_labels(TWEMOJI),
        cache_dir=tmp_path_factory.mktemp("twemoji-cache"),
    )


@pytest.fixture(scope="module")
def net(twemoji, tmp_path_factory):
    cache = tmp_path_factory.mktemp("feature-net")
    return load_or_train_feature_net(cache, twemoji.images, twemoji.labels, twemoji.label_names, seed=0)


@pytest.fixture(scope="module")
def halves(twemoji):
    order = np.random.default_rng(SPLIT_SEED).permutation(len(twemoji))
    half = len(twemoji) // 2
    return np.sort(order[:half]), np.sort(order[half:])


@pytest.fixture(scope="module")
def scores(twemoji, net, halves):
    generator_half, reference = halves
    conditions = failure_conditions(
        twemoji.images[generator_half], twemoji.labels[generator_half], seed=CONDITION_SEED
    )
    assert tuple(conditions) == CONDITIONS
    return {name: evaluate_images(x, twemoji.images[reference], net) for name, x in conditions.items()}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """64 grey 16-pixel images of two categories and a net trained 2 steps on them:
    enough for the shapes, the cache and the refusals, never for a score."""
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (64, 16, 16, 1), dtype=np.uint8)
    labels = np.arange(64) % 2
    cache = tmp_path_factory.mktemp("tiny-net")
    net = load_or_train_feature_net(cache, images, labels, ("a", "b"), steps=2)
    return images, labels, cache, net


@pytest.fixture
def no_network(monkeypatch) -> list:
    """Every attempt to open a connection, refused and recorded."""
    attempts = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network access in a test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    return attempts


# --- the honesty check on Twemoji -------------------------------------------------------------


def test_fd_ranks_the_known_failures_in_order(scores):
    fd = {name: scores[name]["fd"] for name in CONDITIONS}
    assert fd["real"] < fd["noise"] < fd["blur"] < fd["half_categories"] < fd["one_picture"], fd
    # Real images score like another half of the real set: the floor, not zero.
    floor = scores["real"]["fd_floor"]
    assert 0 < floor and fd["real"] < 2 * floor and fd["real"] < fd["noise"] / 2, (fd, floor)
    # The floor is the reference's own, whatever the samples.
    assert {round(s["fd_floor"], 9) for s in scores.values()} == {round(floor, 9)}


def test_precision_falls_for_damaged_images_and_recall_for_missing_ones(scores):
    real = scores["real"]
    for damaged in ("noise", "blur"):
        assert scores[damaged]["precision"] < real["precision"] - 0.02, (damaged, scores[damaged], real)
    assert scores["half_categories"]["recall"] < real["recall"] - 0.05
    assert scores["one_picture"]["recall"] < 0.01 < real["recall"]


def test_the_categories_see_mode_dropping(scores, net):
    real, half, one = scores["real"], scores["half_categories"], scores["one_picture"]
    assert net.category_names == tuple(sorted(set(twemoji_labels(TWEMOJI).values())))
    assert real["categories_covered"] == real["categories"] >= 5
    assert half["categories_covered"] <= real["categories"] - 2
    assert one["categories_covered"] == 1
    assert real["category_kl"] < 0.05 < half["category_kl"] < one["category_kl"]


def test_scores_are_a_flat_dict_of_floats_whatever_the_reference_dtype(scores, twemoji, net, halves):
    for row in scores.values():
        assert tuple(row) == NAMES + CATEGORY_NAMES
        assert all(type(value) is float for value in row.values())
    generator_half, reference = halves
    samples = to_model_range(np.asarray(twemoji.images[generator_half[:300]]))
    as_pixels = evaluate_images(samples, twemoji.images[reference], net)
    as_floats = evaluate_images(samples, to_model_range(np.asarray(twemoji.images[reference])), net)
    assert as_floats == pytest.approx(as_pixels, rel=1e-6)


def test_half_of_the_categories_drops_every_other_index():
    labels = np.array([0, 1, 2, 3, 1, 0, 4])
    np.testing.assert_array_equal(half_of_the_categories(labels), [0, 2, 5, 6])
    with pytest.raises(InputError, match="dropping half of the categories needs 2 or more, got 1"):
        half_of_the_categories(np.zeros(5, np.int64))


# --- the net: shapes, heads, cache --------------------------------------------------------------


def test_a_set_without_labels_gets_a_rotation_net_and_no_category_scores(tmp_path):
    images = np.random.default_rng(1).uniform(-1, 1, (40, 16, 16, 1)).astype(np.float32)
    net = load_or_train_feature_net(tmp_path, images, steps=2)
    assert net.category_names == () and (net.resolution, net.channels) == (16, 1)
    features, categories = net.embed(images)
    assert features.shape == (40, 128) and features.dtype == np.float64 and categories is None
    assert tuple(evaluate_images(images[:20], images[20:], net)) == NAMES


def test_large_images_are_averaged_down_inside_the_net(tmp_path):
    images = np.random.default_rng(2).integers(0, 256, (8, 128, 128, 3), dtype=np.uint8)
    net = load_or_train_feature_net(tmp_path, images, steps=1)
    layer = net._model.get_layer("downsample")
    assert layer.pool_size == (4, 4) and layer.output_shape == (None, 32, 32, 3)
    assert net.features(images).shape == (8, 128)


def test_the_net_is_cached_by_data_and_settings(tiny):
    images, labels, cache, first = tiny
    again = load_or_train_feature_net(cache, images, labels, ("a", "b"), steps=2)
    assert not first.from_cache and again.from_cache
    np.testing.assert_array_equal(again.features(images), first.features(images))
    record = json.loads(next(cache.glob("image_features-*.json")).read_text())
    assert record["steps"] == 2 and record["category_names"] == ["a", "b"] and record["images"] == 64
    assert set(record["training_accuracy"]) == {"rotation", "categories"} and record["train_seconds"] > 0

    changed = images.copy()
    changed[0, 0, 0, 0] ^= 1  # one pixel: another data hash, another entry beside the first
    assert not load_or_train_feature_net(cache, changed, labels, ("a", "b"), steps=2).from_cache
    assert len(list(cache.glob("image_features-*.json"))) == 2
    assert load_or_train_feature_net(cache, images, labels, ("a", "b"), steps=2).from_cache

    for path in cache.glob("image_features-*.weights.h5"):
        path.write_bytes(b"not the weights the record vouches for")
    assert not load_or_train_feature_net(cache, images, labels, ("a", "b"), steps=2).from_cache


# --- refusals -----------------------------------------------------------------------------------


def _bad_values():
    nan = np.zeros((8, 16, 16, 1), np.float32)
    nan[0, 0, 0, 0] = np.nan
    return [
        (np.zeros((8, 16, 16, 3), np.uint8), r"samples must have shape \(n, 16, 16, 1\) with n >= 1 "
         r"\(the feature net's input\), got \(8, 16, 16, 3\)"),
        (np.zeros((8, 16, 16, 1), np.int32), r"samples must be uint8 pixels or floats in \[-1, 1\] "
         r"\(the generator's tanh range\), got dtype int32"),
        (np.full((8, 16, 16, 1), 255.0), r"samples must lie in \[-1, 1\] \(the generator's tanh range\), "
         r"got values in \[255, 255\]: pass uint8 pixels as they are, or scale them with to_model_range"),
        (nan, "samples must be finite, got 1 NaN or inf values"),
        (np.zeros((3, 16, 16, 1), np.uint8), r"samples must hold at least 4 images \(more than k = 3\), got 3"),
    ]


@pytest.mark.parametrize("samples, message", _bad_values())
def test_bad_samples_are_refused_in_one_line(tiny, samples, message):
    images, _, _, net = tiny
    with pytest.raises(InputError, match=f"^{message}$"):
        evaluate_images(samples, images, net)


def test_too_small_a_reference_or_bad_settings_are_refused(tiny):
    images, _, _, net = tiny
    with pytest.raises(InputError, match=r"^reference must hold at least 8 images \(two halves of more than k = 3\), got 7$"):
        evaluate_images(images, images[:7], net)
    with pytest.raises(InputError, match="^k must be a positive integer, got 0$"):
        evaluate_images(images, images, net, k=0)
    with pytest.raises(InputError, match=r"^min_share must be in \(0, 1\], got 2$"):
        evaluate_images(images, images, net, min_share=2)
    with pytest.raises(InputError, match="^max_reference must be an integer of at least 8, got 7$"):
        evaluate_images(images, images, net, max_reference=7)


def test_a_large_reference_is_measured_through_max_reference_of_its_images(tiny, monkeypatch):
    images, _, _, net = tiny
    embedded = []
    embed = net.embed
    monkeypatch.setattr(net, "embed", lambda x, rows=None: embedded.append(len(rows)) or embed(x, rows))
    capped = evaluate_images(images, images, net, max_reference=16)
    assert embedded == [8, 16]  # the samples (half of the capped reference), then the reference
    assert tuple(capped) == NAMES + CATEGORY_NAMES


@pytest.mark.parametrize("shape", [(1, 32, 32, 3), (4, 8, 8, 3), (4, 256, 256, 1), (4, 32, 32, 4), (4, 32, 16, 3)])
def test_training_images_outside_the_supported_shapes_are_refused(tmp_path, shape):
    with pytest.raises(InputError, match=(
        r"^images must have shape \(n, r, r, c\) with n >= 2, r in 16..128 and c 1 or 3, "
        rf"got \({', '.join(map(str, shape))}\)$"
    )):
        load_or_train_feature_net(tmp_path, np.zeros(shape, np.uint8))
    assert not any(tmp_path.iterdir())  # a refusal leaves nothing behind


@pytest.mark.parametrize("labels, names, message", [
    (np.zeros(4, np.int64), (), r"labels and label_names come together, with 2 or more names .* got labels given and 0 names"),
    (None, ("a", "b"), r"got labels None and 2 names"),
    (np.zeros(4, np.int64), ("a",), r"got labels given and 1 names"),
    (np.zeros(3, np.int64), ("a", "b"), r"labels must be integers of shape \(4,\), one per image, got int64 \(3,\)"),
    (np.zeros(4), ("a", "b"), r"labels must be integers of shape \(4,\), one per image, got float64 \(4,\)"),
    (np.array([0, 1, 2, 0]), ("a", "b"), r"labels must index label_names \(0..1\), got values in \[0, 2\]"),
])
def test_bad_labels_are_refused(tmp_path, labels, names, message):
    with pytest.raises(InputError, match=message):
        load_or_train_feature_net(tmp_path, np.zeros((4, 16, 16, 1), np.uint8), labels, names)


def test_bad_steps_are_refused(tmp_path):
    with pytest.raises(InputError, match="^steps must be a positive integer, got 0$"):
        load_or_train_feature_net(tmp_path, np.zeros((4, 16, 16, 1), np.uint8), steps=0)


# --- Inception FID: only from weights on disk -------------------------------------------------


_REFUSAL = """
import socket, sys
attempts = []
def refuse(*args, **kwargs):
    attempts.append(args)
    raise OSError("network")
socket.socket.connect = refuse
socket.create_connection = refuse
import numpy as np
from gan_edge.errors import DataError
from gan_edge.training.metrics.images import inception_fid
images = np.zeros((2, 16, 16, 3), np.uint8)
try:
    inception_fid(images, images)
except DataError as error:
    print(error)
print("tensorflow" in sys.modules, len(attempts))
"""


def test_without_weights_fid_is_refused_before_tensorflow_and_the_network(tmp_path):
    env = {"HOME": str(tmp_path), "KERAS_HOME": str(tmp_path / "keras"), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", _REFUSAL], capture_output=True, text=True, env=env, timeout=120)
    message, imported = result.stdout.strip().splitlines()
    cached = tmp_path / "keras" / "models" / inception.WEIGHTS_FILE
    assert message == (
        f"no InceptionV3 weights: none named and none in Keras' cache ({cached}); FID needs them and "
        "nothing is downloaded: copy the file there or pass weights=PATH, or use fd (the set's own feature net)"
    )
    assert imported == "False 0"  # neither TensorFlow loaded nor a connection tried
    assert not (tmp_path / "keras").exists()  # nothing created


def test_a_named_weights_file_that_is_missing_or_not_inception_is_refused(tmp_path, no_network):
    missing = tmp_path / "inception.h5"
    with pytest.raises(DataError, match=(
        f"^no InceptionV3 weights at {missing}: FID needs Keras' {inception.WEIGHTS_FILE} and nothing "
        "is downloaded; pass the path of that file$"
    )):
        inception.inception_fid(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 8, 8, 3), np.uint8), weights=missing)
    missing.write_bytes(b"not an HDF5 file")
    with pytest.raises(DataError, match=rf"^{missing} is not InceptionV3's weights without the top \("):
        inception._inception(inception_weights(missing))
    assert no_network == []


def test_weights_in_keras_cache_are_found_and_loaded_without_the_network(tmp_path, monkeypatch, no_network):
    import tf_keras

    source = tf_keras.applications.InceptionV3(include_top=False, weights=None, pooling="avg", input_shape=(299, 299, 3))
    cached = tmp_path / "models" / inception.WEIGHTS_FILE
    cached.parent.mkdir()
    source.save_weights(str(cached))
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))

    assert inception_weights() == cached
    loaded = inception._inception(inception_weights())
    grey = np.random.default_rng(3).integers(0, 256, (2, 20, 20, 1), dtype=np.uint8)
    features = inception.inception_features(loaded, grey)
    assert features.shape == (2, 2048) and np.isfinite(features).all()
    np.testing.assert_allclose(features, inception.inception_features(source, grey), rtol=1e-5, atol=1e-6)
    assert no_network == []
