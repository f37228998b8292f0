"""The MNIST evaluator: FCD, digit classes, precision/recall and the classifier cache.

The classifier is trained once per session into a temporary cache with
``TEST_EPOCHS`` = 2 epochs (about 8 s here) instead of the default 10: good enough
(about 97% held out) for every check below, which asks only for orderings and
properties, never for a measured number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gan_edge.errors import InputError
from gan_edge.training.metrics.mnist import classes as cls
from gan_edge.training.metrics.mnist.fcd import fcd, feature_statistics
from gan_edge.training.metrics.mnist.precision_recall import density_coverage, knn_radii, precision_recall

# CI clones the repository with a copy of shared/ beside it: the 10,000-image test split.
MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
TEST_EPOCHS = 2


# --- fixtures --------------------------------------------------------------------


@pytest.fixture(scope="module")
def mnist():
    """(images float32 (10000, 28, 28, 1) in [-1, 1], labels int64 (10000,))."""
    from gan_edge.training.data.mnist import load_mnist, to_model_range

    data = load_mnist(MNIST_DIR)
    return to_model_range(data.images), data.labels.astype(np.int64)


@pytest.fixture(scope="module")
def classifier_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("mnist_classifier")


@pytest.fixture(scope="module")
def classifier(mnist, classifier_cache):
    from gan_edge.training.metrics.mnist.classifier import load_or_train_classifier

    images, labels = mnist
    return load_or_train_classifier(classifier_cache, images, labels, seed=0, epochs=TEST_EPOCHS)


@pytest.fixture(scope="module")
def embedded(mnist, classifier):
    """Features (10000, 128) and predicted digits (10000,) of the whole split."""
    return classifier.embed(mnist[0])


# --- FCD -------------------------------------------------------------------------


def test_fcd_of_identical_sets_is_zero():
    a = np.random.default_rng(0).normal(size=(500, 16))
    assert fcd(a, a) == pytest.approx(0.0, abs=1e-8 * np.trace(np.cov(a, rowvar=False)))


def test_fcd_of_shifted_features_is_squared_shift():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(400, 8)) @ rng.normal(size=(8, 8))  # correlated features
    shift = rng.normal(size=8)
    # Same covariance, so only the mean term remains.
    assert fcd(a, a + shift) == pytest.approx(shift @ shift, rel=1e-6)


def test_fcd_is_symmetric():
    rng = np.random.default_rng(2)
    a = rng.normal(size=(300, 6))
    b = rng.normal(size=(200, 6)) * np.linspace(0.5, 2.0, 6) + 0.3
    assert fcd(a, b) == pytest.approx(fcd(b, a), rel=1e-9)


def test_fcd_matches_a_direct_formula():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(60, 5)) @ rng.normal(size=(5, 5))
    b = rng.normal(size=(40, 5)) @ rng.normal(size=(5, 5)) + 1.0
    mu_a, s_a = a.mean(0), np.cov(a, rowvar=False)
    mu_b, s_b = b.mean(0), np.cov(b, rowvar=False)
    # tr sqrt(S_a S_b) from the (real, non-negative) eigenvalues of the non-symmetric product.
    trace_sqrt = np.sum(np.sqrt(np.clip(np.linalg.eigvals(s_a @ s_b).real, 0, None)))
    direct = np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2 * trace_sqrt
    assert fcd(a, b) == pytest.approx(direct, rel=1e-8)


def test_fcd_in_one_dimension_is_the_gaussian_w2():
    rng = np.random.default_rng(4)
    a, b = rng.normal(2.0, 1.0, size=(300, 1)), rng.normal(-1.0, 3.0, size=(500, 1))
    sa, sb = a.std(ddof=1), b.std(ddof=1)
    expected = (a.mean() - b.mean()) ** 2 + (sa - sb) ** 2
    assert fcd(a, b) == pytest.approx(expected, rel=1e-9)


def test_fcd_refuses_bad_features():
    a = np.zeros((10, 4))
    with pytest.raises(InputError, match=r"same width, got 4 and 3"):
        fcd(a, np.zeros((10, 3)))
    with pytest.raises(InputError, match=r"features_b must have shape \(n, d\) with n >= 2, got \(1, 4\)"):
        fcd(a, np.zeros((1, 4)))
    bad = a.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="features_a must be finite, got 1 NaN"):
        feature_statistics(bad, name="features_a")


# --- classes ---------------------------------------------------------------------


def test_only_ones_cover_one_class_with_zero_entropy(mnist):
    labels = mnist[1]
    ones = np.ones(500, dtype=np.int64)
    assert cls.classes_covered(ones) == 1
    assert cls.class_entropy(ones) == 0.0
    # log2(1 / share of 1s in real MNIST) is about 3.1 bits; smoothing lowers it a little.
    assert cls.class_kl(ones, labels) > 2.5
    assert cls.class_kl(labels, labels) == pytest.approx(0.0, abs=1e-12)


def test_min_share_rule():
    assert cls.classes_covered(np.array([0] * 991 + [1] * 9)) == 1  # 0.9% of samples
    assert cls.classes_covered(np.array([0] * 990 + [1] * 10)) == 2  # exactly 1%
    assert cls.classes_covered(np.array([0] * 990 + [1] * 10), min_share=0.5) == 1
    assert cls.class_entropy(np.repeat(np.arange(10), 7)) == pytest.approx(np.log2(10))


def test_real_digits_cover_all_classes_with_near_zero_kl(embedded, mnist):
    predicted = embedded[1]
    assert cls.classes_covered(predicted) == 10
    assert cls.class_kl(predicted, mnist[1]) < 0.01
    assert cls.class_entropy(predicted) > 3.2


def test_classes_refuse_bad_input():
    with pytest.raises(InputError, match=r"digits 0..9, got values in \[0, 10\]"):
        cls.class_histogram(np.array([0, 10]))
    with pytest.raises(InputError, match="integer digits 0..9, got dtype float64"):
        cls.class_histogram(np.array([0.0, 1.0]))
    with pytest.raises(InputError, match=r"min_share must be in \(0, 1\], got 0"):
        cls.classes_covered(np.array([1, 2]), min_share=0)


# --- precision and recall ----------------------------------------------------------


def test_knn_radii_by_hand():
    points = np.array([[0.0], [1.0], [3.0], [6.0]])
    np.testing.assert_allclose(knn_radii(points, k=1), [1, 1, 2, 3])
    np.testing.assert_allclose(knn_radii(points, k=2), [3, 2, 3, 5])


def test_identical_sets_have_full_precision_and_recall(embedded):
    real = embedded[0][:2000]
    assert precision_recall(real, real.copy()) == (1.0, 1.0)


def test_collapsed_set_has_precision_but_no_recall(embedded):
    real = embedded[0][:2000]
    collapsed = np.repeat(real[7:8], 500, axis=0)
    precision, recall = precision_recall(real, collapsed)
    assert precision == 1.0  # every sample sits on a real one
    assert recall <= 5 / 2000  # only real samples that coincide with it


def test_far_away_set_has_no_precision(embedded):
    real = embedded[0][:2000]
    far = embedded[0][2000:3000] + 10 * np.abs(real).max()
    assert precision_recall(real, far) == (0.0, 0.0)


def test_density_and_coverage_by_hand():
    real = np.array([[0.0], [1.0], [3.0], [6.0]])  # k = 1 balls: radii 1, 1, 2, 3
    # 0.5 sits in the balls of 0 and 1, 4.5 in those of 3 and 6: two balls each, all covered.
    assert density_coverage(real, np.array([[0.5], [4.5]]), k=1) == (2.0, 1.0)
    # 2.5: the ball of 3 only; 10 and 11: none. Only 3 is covered.
    assert density_coverage(real, np.array([[2.5], [10.0], [11.0]]), k=1) == (1 / 3, 0.25)
    with pytest.raises(InputError, match="same width, got 1 and 2"):
        density_coverage(real, np.zeros((3, 2)), k=1)


def test_near_blank_digits_fool_precision_but_not_density_or_coverage(mnist, classifier):
    from gan_edge.training.metrics.mnist.evaluate import evaluate

    images, labels = mnist
    reference, reference_labels = images[:4000], labels[:4000]
    real = evaluate(images[4000:5000], reference, classifier, reference_labels=reference_labels)
    blank = np.full((1000, 28, 28, 1), -1.0, np.float32)
    blank += np.random.default_rng(0).uniform(0, 0.1, blank.shape).astype(np.float32)
    scores = evaluate(blank, reference, classifier, reference_labels=reference_labels)
    # Blank pictures sit inside the wide balls of a few faint real digits (precision_recall.py):
    assert scores["precision"] >= real["precision"]
    # counted per ball they sit in few, and they cover almost no real digit.
    assert scores["density"] < 0.5 * real["density"]
    assert scores["coverage"] < 0.01 < 0.3 < real["coverage"]


def test_precision_recall_refuse_bad_input():
    with pytest.raises(InputError, match=r"fake_features must have shape \(n, d\) with n > k = 3, got \(3, 2\)"):
        precision_recall(np.zeros((10, 2)), np.zeros((3, 2)))
    with pytest.raises(InputError, match="same width, got 2 and 5"):
        precision_recall(np.zeros((10, 2)), np.zeros((10, 5)))


# --- evaluate ----------------------------------------------------------------------


def test_real_halves_score_far_better_than_noise(mnist, classifier):
    from gan_edge.training.metrics.mnist.evaluate import NAMES, reference_values

    images, labels = mnist
    noise = np.random.default_rng(0).uniform(-1, 1, size=(2000, 28, 28, 1)).astype(np.float32)
    rows = reference_values(images[:4000], labels[:4000], classifier, noise)
    real, untrained = rows["real_vs_real"], rows["untrained_vs_real"]
    for row in (real, untrained):
        assert tuple(row) == NAMES
        assert all(type(v) is float for v in row.values())
    assert real["fcd"] * 10 < untrained["fcd"]
    assert real["classes_covered"] == 10.0
    assert real["class_kl"] < 0.05
    assert real["precision"] > 0.5 and real["recall"] > 0.5
    # Not precision: noise lands inside the balls of a few isolated real digits
    # (see precision_recall.py). Recall is what sees that noise covers no digit.
    assert untrained["recall"] < 0.05
    assert untrained["classes_covered"] < 10.0 and untrained["class_kl"] > real["class_kl"]


def test_evaluate_sees_a_collapsed_generator(mnist, classifier):
    from gan_edge.training.metrics.mnist.evaluate import evaluate

    images, labels = mnist
    reference, reference_labels = images[:2000], labels[:2000]
    one_digit = np.repeat(images[labels == 1][:1], 300, axis=0)
    scores = evaluate(one_digit, reference, classifier, reference_labels=reference_labels)
    assert scores["classes_covered"] == 1.0
    assert scores["class_entropy"] == 0.0
    assert scores["class_kl"] > 2.5
    assert scores["precision"] == 1.0
    assert scores["recall"] < 0.01
    varied = evaluate(images[2000:2300], reference, classifier)
    assert varied["fcd"] < scores["fcd"]


def test_evaluate_refuses_bad_images(mnist, classifier):
    from gan_edge.training.metrics.mnist.evaluate import evaluate

    images, labels = mnist
    reference = images[:100]
    cases = [
        (images[:10, :, :, 0], r"samples must have shape \(n, 28, 28, 1\) with n >= 1, got \(10, 28, 28\)"),
        (np.zeros((10, 28, 28, 1), np.uint8), "samples must be floats in \\[-1, 1\\], got dtype uint8"),
        ((images[:10] + 1) * 127.5, r"samples must lie in \[-1, 1\].*got values in \[0, 255\]"),
        (np.full((10, 28, 28, 1), np.nan, np.float32), "samples must be finite, got 7840 NaN"),
    ]
    for samples, message in cases:
        with pytest.raises(InputError, match=message):
            evaluate(samples, reference, classifier)
    # Within the tolerance: a tanh output or an int8 round trip a hair past 1 is fine.
    evaluate(np.clip(images[100:110] * 1.0005, -1.0005, 1.0005), reference, classifier)
    with pytest.raises(InputError, match=r"reference_labels must have shape \(100,\), one per image, got \(99,\)"):
        evaluate(images[100:110], reference, classifier, reference_labels=labels[:99])


def test_registry_knows_mnist():
    from gan_edge.training.evaluators import evaluator_class
    from gan_edge.training.evaluators.mnist import CroppedMnistEvaluator, MnistEvaluator

    assert evaluator_class("mnist") is MnistEvaluator
    assert evaluator_class("mnist32") is CroppedMnistEvaluator


# --- the classifier and its cache -----------------------------------------------------


def test_classifier_is_accurate_and_features_are_float64(classifier, embedded, mnist):
    assert classifier.accuracy > 0.95  # held out: the 2,000 digits it never trained on
    features, predicted = embedded
    assert features.shape == (10000, 128) and features.dtype == np.float64
    assert predicted.dtype == np.int64
    np.testing.assert_array_equal(classifier.predict_classes(mnist[0][:50]), predicted[:50])
    np.testing.assert_allclose(classifier.features(mnist[0][:50]), features[:50], rtol=1e-5)


def test_second_load_reads_the_cache(mnist, classifier, classifier_cache):
    from gan_edge.training.metrics.mnist import classifier as clf

    images, labels = mnist
    cache = classifier_cache
    weights, info = cache / clf.WEIGHTS_FILE, cache / clf.INFO_FILE
    assert weights.read_bytes()[:8] == b"\x89HDF\r\n\x1a\n"  # weights only, in HDF5
    stamps = weights.stat().st_mtime_ns, info.stat().st_mtime_ns
    again = clf.load_or_train_classifier(cache, images, labels, seed=0, epochs=TEST_EPOCHS)
    assert again.from_cache and not classifier.from_cache
    assert (weights.stat().st_mtime_ns, info.stat().st_mtime_ns) == stamps
    assert again.accuracy == classifier.accuracy
    np.testing.assert_allclose(again.features(images[:20]), classifier.features(images[:20]))


def test_changed_data_or_settings_retrain(mnist, tmp_path):
    import json

    from gan_edge.training.metrics.mnist import classifier as clf

    images, labels = mnist[0][:400], mnist[1][:400]
    def train(imgs, **kw):  # 1 epoch on 300 digits: only the cache logic is under test
        return clf.load_or_train_classifier(tmp_path, imgs, labels, epochs=1, holdout=100, **kw)

    first = train(images)
    assert not first.from_cache and train(images).from_cache

    changed = images.copy()
    changed[0, 0, 0, 0] = 1.0  # one pixel: another data hash
    second = train(changed)
    assert not second.from_cache
    assert second.info["data_sha256"] != first.info["data_sha256"]
    record = json.loads((tmp_path / clf.INFO_FILE).read_text())
    assert record["data_sha256"] == clf.data_hash(changed, labels)

    assert not train(changed, seed=1).from_cache  # another seed: another split
    (tmp_path / clf.WEIGHTS_FILE).write_bytes(b"not the weights the record vouches for")
    assert not train(changed, seed=1).from_cache
    with pytest.raises(InputError, match=r"holdout must be an integer in 1..399 .* got 400"):
        clf.load_or_train_classifier(tmp_path, images, labels, holdout=400)
