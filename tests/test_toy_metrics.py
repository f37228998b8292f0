"""gan_edge.training.metrics.toy: moments, sliced Wasserstein, correlation and Fréchet distance of 2-D point clouds."""

from __future__ import annotations

import json
import math
import time

import numpy as np
import pytest

from gan_edge.errors import ConfigError, InputError
from gan_edge.training.metrics.toy import NAMES, correlation, evaluate, frechet_distance, joint_metrics, sliced_wasserstein

TARGET = ((5.0, 5.0), 1.0)  # the book's N((5, 5), I)


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
    assert result["fd"] == 0.0  # against the reference's own fitted Gaussian


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


def _with_moments(rng, n: int, mean, cov) -> np.ndarray:
    """``n`` points whose sample mean and covariance (ddof=0) are exactly ``mean`` and ``cov``."""
    z = rng.standard_normal((n, 2))
    z -= z.mean(axis=0)
    z = z @ np.linalg.inv(np.linalg.cholesky(np.cov(z, rowvar=False, bias=True))).T  # white
    return z @ np.linalg.cholesky(np.asarray(cov, dtype=np.float64)).T + np.asarray(mean)


def _fd_isotropic(cov, s: float = 1.0) -> float:
    # For equal means and C2 = s^2 I, fd is the sum over C1's eigenvalues l of (sqrt(l) - s)^2.
    return float(sum((math.sqrt(l) - s) ** 2 for l in np.linalg.eigvalsh(cov)))


@pytest.mark.parametrize("rho", [0.5, -0.5, 0.9])
def test_tilted_cloud_passes_the_moments_but_not_corr_or_fd(rho):
    # Marginals exactly N(5, 1), correlated rho: the per-axis metrics see nothing wrong.
    rng = np.random.default_rng(5)
    cov = [[1.0, rho], [rho, 1.0]]
    tilted = _with_moments(rng, 10_000, (5.0, 5.0), cov)
    reference = _with_moments(rng, 10_000, (5.0, 5.0), np.eye(2))
    result = evaluate(tilted, reference, target=TARGET)
    assert result["mean_err"] < 1e-9 and result["std_err"] < 1e-9
    assert result["corr"] == pytest.approx(rho, abs=1e-9)
    # eigenvalues 1 +- rho: fd = (sqrt(1 + rho) - 1)^2 + (sqrt(1 - rho) - 1)^2, 0.136 at 0.5
    expected = (math.sqrt(1 + rho) - 1) ** 2 + (math.sqrt(1 - rho) - 1) ** 2
    assert expected == pytest.approx(_fd_isotropic(cov), rel=1e-12)
    assert result["fd"] == pytest.approx(expected, rel=1e-6)
    assert result["fd"] > 0.1
    # the reference points' fitted Gaussian is exactly N((5, 5), I) here: same fd without target
    assert evaluate(tilted, reference)["fd"] == pytest.approx(expected, rel=1e-6)


def test_isotropic_sample_has_small_corr_and_fd():
    rng = np.random.default_rng(6)
    points = rng.normal(5.0, 1.0, size=(10_000, 2))
    result = evaluate(points, rng.normal(5.0, 1.0, size=(10_000, 2)), target=TARGET)
    assert abs(result["corr"]) < 0.05  # its standard error is 0.01
    assert 0.0 <= result["fd"] < 0.005  # sampling noise alone: about 4/n


def test_fd_matches_the_general_formula_computed_by_scipy():
    sqrtm = pytest.importorskip("scipy.linalg").sqrtm
    rng = np.random.default_rng(7)
    a = rng.normal(size=(3000, 2)) @ np.array([[2.0, 0.7], [0.0, 0.4]]) + [1.0, -2.0]
    b = rng.normal(size=(500, 2)) @ np.array([[0.5, -0.3], [0.2, 1.5]]) + [0.3, 0.8]

    def fid(m1, c1, m2, c2) -> float:  # FID's usual form: sqrtm of the non-symmetric C1 C2
        return float(np.sum((m1 - m2) ** 2) + np.trace(c1 + c2 - 2 * sqrtm(c1 @ c2).real))

    ca, cb = np.cov(a, rowvar=False, bias=True), np.cov(b, rowvar=False, bias=True)
    expected = fid(a.mean(axis=0), ca, b.mean(axis=0), cb)
    assert evaluate(a, b)["fd"] == pytest.approx(expected, rel=1e-9)
    assert frechet_distance(a.mean(axis=0), ca, b.mean(axis=0), cb) == pytest.approx(expected, rel=1e-9)
    # an analytic target N(mean, s^2 I) instead of b's fitted Gaussian
    mean, s = np.array([2.0, -1.0]), 1.7
    expected = fid(a.mean(axis=0), ca, mean, s**2 * np.eye(2))
    assert evaluate(a, b, target=(tuple(mean), s))["fd"] == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize(
    "points, corr",
    [
        (np.full((50, 2), 3.0), 0.0),  # all equal: no correlation to measure
        (np.c_[np.linspace(4, 6, 50), np.full(50, 5.0)], 0.0),  # constant y
        (np.c_[np.linspace(4, 6, 50), 2 * np.linspace(4, 6, 50) - 5], 1.0),  # on a rising line
        (np.c_[np.linspace(4, 6, 50), 15 - 2 * np.linspace(4, 6, 50)], -1.0),  # on a falling line
    ],
)
def test_degenerate_clouds_give_finite_values(points, corr):
    result = evaluate(points, np.random.default_rng(8).normal(5.0, 1.0, size=(500, 2)), target=TARGET)
    json.dumps(result, allow_nan=False)  # metrics.jsonl never holds NaN
    assert result["corr"] == pytest.approx(corr, abs=1e-12)
    # a flat cloud's covariance has eigenvalues l >= 0: fd = |m - (5, 5)|^2 + sum (sqrt(l) - 1)^2
    cov = np.cov(points, rowvar=False, bias=True)
    mean_part = float(np.sum((points.mean(axis=0) - 5.0) ** 2))
    assert result["fd"] == pytest.approx(mean_part + _fd_isotropic(cov), rel=1e-6, abs=1e-9)


def test_correlation_of_a_constant_axis_is_zero():
    assert correlation(np.array([[1.0, 2.0], [1.0, 5.0], [1.0, -3.0]])) == 0.0


def test_joint_metrics_are_what_evaluate_reports(cloud):
    tilted = cloud @ np.array([[1.0, 0.4], [0.0, 0.9]])
    full = evaluate(tilted, cloud, target=TARGET)
    assert joint_metrics(tilted, cloud, target=TARGET) == {"corr": full["corr"], "fd": full["fd"]}


@pytest.mark.parametrize(
    "target",
    [((5.0,), 1.0), ((5.0, 5.0), 0.0), ((5.0, 5.0), -1.0), ((5.0, math.nan), 1.0), "N(5, 1)", (5.0, 1.0, 2.0)],
)
def test_bad_target_is_refused_by_name(cloud, target):
    message = f"target must be (mean, std) with 2 finite means and a std > 0, got {target!r}"
    with pytest.raises(InputError) as err:
        evaluate(cloud, cloud, target=target)
    assert str(err.value) == message


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


def test_the_evaluator_registry_refuses_an_unknown_name_with_the_valid_ones():
    # training.evaluators: the registry training, export and `gan-edge evaluate` ask.
    from gan_edge.training.evaluators import evaluator_class

    with pytest.raises(ConfigError, match=r"^unknown evaluator 'fid': expected one of toy, mnist, mnist32, modes, images, stacked_mnist$"):
        evaluator_class("fid")


def test_tilted_cloud_reads_as_wrong_in_the_progress_line_and_the_demo_table():
    from gan_edge.cli.demo import _explanation, _table
    from gan_edge.training.config import default_config
    from gan_edge.cli.train import describer

    rng = np.random.default_rng(9)
    tilted = _with_moments(rng, 10_000, (5.0, 5.0), [[1.0, 0.5], [0.5, 1.0]])
    metrics = evaluate(tilted, _with_moments(rng, 10_000, (5.0, 5.0), np.eye(2)), target=TARGET)
    line = describer("toy2d")({"epoch": 13, "d_loss": 1.39, "g_loss": 0.69, **metrics})
    assert "mean_err 0.000  std_err 0.000" in line and "corr 0.500  fd 0.136" in line
    header, _, row = _table([("generator_float32.tflite", 3424, 0.03, metrics)]).splitlines()
    assert header.split()[-2:] == ["corr", "fd"]
    assert row.split()[-2:] == ["0.500", "0.136"]
    explained = _explanation(default_config("toy2d"))
    assert "corr: correlation of x and y" in explained and "fd: Fréchet distance" in explained
