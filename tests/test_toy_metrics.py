"""training.metrics.toy: moments and sliced Wasserstein of 2-D point clouds."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from gan_edge.errors import ConfigError, InputError
from training.metrics import get_evaluator
from training.metrics.toy import NAMES, evaluate, sliced_wasserstein


@pytest.fixture(scope="module")
def cloud() -> np.ndarray:
    return np.random.default_rng(0).normal(5.0, 1.0, size=(2000, 2))


def test_returns_every_name_as_plain_float(cloud):
    result = evaluate(cloud, cloud)
    assert tuple(result) == NAMES
    assert all(type(v) is float for v in result.values())
    json.dumps(result)  # goes into metrics.jsonl as is


def test_identical_sets_are_at_distance_zero(cloud):
    result = evaluate(cloud, cloud.copy())
    assert result["swd"] == 0.0
    assert result["mean_err"] == 0.0
    assert result["std_err"] == 0.0


def test_moments_exact_on_constructed_points():
    # x takes -1, 1 (mean 0, std 1); y takes 2, 6 (mean 4, std 2)
    samples = np.array([[-1.0, 2.0], [1.0, 6.0], [-1.0, 6.0], [1.0, 2.0]])
    # reference: x mean 0.5 std 3; y mean 4 std 1.5
    reference = np.array([[-2.5, 2.5], [3.5, 5.5]])
    result = evaluate(samples, reference)
    assert result["mean_x"] == 0.0 and result["mean_y"] == 4.0
    assert result["std_x"] == 1.0 and result["std_y"] == 2.0
    assert result["mean_err"] == pytest.approx(0.5, abs=1e-12)  # x: |0 - 0.5|; y: 0
    assert result["std_err"] == pytest.approx(2.0, abs=1e-12)  # x: |1 - 3|; y: |2 - 1.5|


@pytest.mark.parametrize("d", [0.5, 3.0])
def test_shift_along_x_gives_two_d_over_pi(cloud, d):
    # Along direction theta a shift (d, 0) moves every projection by d*cos(theta), so
    # the 1-D distance is d*|cos(theta)| and its mean over directions is 2d/pi.
    shifted = cloud + np.array([d, 0.0])
    swd = evaluate(shifted, cloud, projections=512)["swd"]
    assert swd == pytest.approx(2 * d / math.pi, rel=0.02)
    # the default count is already within a few percent
    assert evaluate(shifted, cloud)["swd"] == pytest.approx(2 * d / math.pi, rel=0.03)


def test_scaled_set_gives_expected_std_err(cloud):
    centre = cloud.mean(axis=0)
    scaled = centre + 1.5 * (cloud - centre)
    result = evaluate(scaled, cloud)
    assert result["std_err"] == pytest.approx(0.5 * cloud.std(axis=0).max(), rel=1e-9)
    assert result["mean_err"] == pytest.approx(0.0, abs=1e-12)
    assert result["swd"] > 0.1


def test_different_sample_counts_match_scipy():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    a = rng.normal(size=(37, 2))
    b = rng.normal(0.3, 1.4, size=(101, 2))
    # one projection at a known angle: compare with scipy's 1-D distance directly
    swd = sliced_wasserstein(a, b, projections=1, seed=3)
    theta = np.random.default_rng(3).random() * math.pi
    u = np.array([math.cos(theta), math.sin(theta)])
    assert swd == pytest.approx(scipy_stats.wasserstein_distance(a @ u, b @ u), rel=1e-12)


def test_order_of_points_does_not_matter(cloud):
    rng = np.random.default_rng(2)
    other = rng.normal(4.0, 2.0, size=(777, 2))
    shuffled = evaluate(other[rng.permutation(777)], cloud[::-1])
    assert evaluate(other, cloud) == pytest.approx(shuffled, rel=1e-12)


def test_deterministic_in_seed():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(500, 2)) * [3.0, 0.3]  # anisotropic, so directions matter
    b = rng.normal(size=(400, 2))
    assert evaluate(a, b, seed=7) == evaluate(a, b, seed=7)
    assert evaluate(a, b, seed=7)["swd"] != evaluate(a, b, seed=8)["swd"]


def test_fast_enough_for_every_epoch():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(10_000, 2)), rng.normal(size=(10_000, 2))
    evaluate(a, b)  # warm up
    start = time.perf_counter()
    evaluate(a, b)
    # budget well under 100 ms, with slack for a loaded shared machine
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize(
    "samples, message",
    [
        (np.zeros((10, 3)), "samples must have shape (n, 2), got (10, 3)"),
        (np.zeros(10), "samples must have shape (n, 2), got (10,)"),
        (np.zeros((2, 5, 2)), "samples must have shape (n, 2), got (2, 5, 2)"),
        (np.zeros((1, 2)), "samples must have at least 2 points, got 1"),
        (np.zeros((0, 2)), "samples must have at least 2 points, got 0"),
        (np.array([[0.0, np.nan], [1.0, np.inf]]), "samples must be finite, got 2 NaN or inf values"),
        (np.array([["a", "b"], ["c", "d"]]), "samples must be real numbers, got dtype <U1"),
    ],
)
def test_bad_samples_are_refused_by_name(cloud, samples, message):
    with pytest.raises(InputError) as err:
        evaluate(samples, cloud)
    assert str(err.value) == message


def test_bad_reference_is_refused_by_name(cloud):
    with pytest.raises(InputError, match=r"^reference must have shape \(n, 2\), got \(5, 1\)$"):
        evaluate(cloud, np.zeros((5, 1)))


@pytest.mark.parametrize("projections", [0, -3, 2.5, True])
def test_bad_projection_count_is_refused(cloud, projections):
    with pytest.raises(InputError, match="projections must be a positive integer, got"):
        evaluate(cloud, cloud, projections=projections)


def test_evaluator_chosen_by_name(cloud):
    assert get_evaluator("toy") is evaluate
    with pytest.raises(ConfigError, match=r"unknown evaluator 'fid': expected one of .*\btoy\b"):
        get_evaluator("fid")
