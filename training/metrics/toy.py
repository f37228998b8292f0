"""How close a cloud of generated 2-D points is to the toy GAN's target.

Features: the raw (x, y) coordinates, nothing learned. Measures:

- ``mean_x``, ``mean_y``, ``std_x``, ``std_y``: the generated cloud's per-axis mean and
  standard deviation (ddof=0); the book's target is mean (5, 5), std 1.
- ``mean_err``, ``std_err``: the largest per-axis absolute error of those against the
  reference points' own mean and std.
- ``swd``: the sliced Wasserstein-1 distance, in the data's units. Both clouds are
  projected onto ``projections`` unit directions and the exact 1-D Wasserstein-1
  distance of each pair of projections is averaged. Unlike the moments it sees shape:
  a ring and a Gaussian with the same mean and std are far apart in ``swd``.
- ``corr``: the Pearson correlation of the generated x and y; the target's is 0.
- ``fd``: the Fréchet distance (``frechet_distance``) between the Gaussian fitted to
  the generated cloud (mean, full 2x2 covariance, ddof=0) and the target Gaussian, in
  squared data units; 0 when the two Gaussians are the same.

Why the last two: the per-axis moments cannot see a correlation. A tilted ellipse whose
marginals are exactly N(5, 1) passes them all, and ``swd``, averaged over directions,
rates it like a small shift of the mean (about 0.13 at correlation 0.5, as a shift of
0.2 along one axis). ``corr`` reads 0.5 and ``fd`` 0.136, both of the joint distribution.

The directions are evenly spaced over the half circle with one random offset drawn
from ``seed``: each is still uniformly distributed, but the average over directions
converges far faster than with independent draws, so 128 directions are enough for a
curve that does not jitter from epoch to epoch. The same ``seed`` gives the same value.
"""

from __future__ import annotations

import math

import numpy as np

from gan_edge.errors import InputError
from gan_edge.training.metrics.checks import points_2d

__all__ = ["NAMES", "evaluate", "joint_metrics", "correlation", "frechet_distance", "sliced_wasserstein"]

NAMES = ("mean_x", "mean_y", "std_x", "std_y", "mean_err", "std_err", "swd", "corr", "fd")


def evaluate(
    samples: np.ndarray,
    reference: np.ndarray,
    *,
    target: tuple | None = None,
    projections: int = 128,
    seed: int = 0,
) -> dict[str, float]:
    """Compare generated points ``samples`` (n, 2) with target points ``reference`` (m, 2).

    Returns plain floats under the names in ``NAMES``; ``n`` and ``m`` may differ.
    ``target`` = ``(mean, std)``: the Gaussian N(mean, std^2 I) the reference points
    were drawn from, for ``fd`` (see ``joint_metrics``).
    """
    samples = _check_points("samples", samples)
    reference = _check_points("reference", reference)
    joint = joint_metrics(samples, reference, target=target)  # first: it checks ``target``
    swd = sliced_wasserstein(samples, reference, projections=projections, seed=seed)
    mean, ref_mean = samples.mean(axis=0), reference.mean(axis=0)
    std, ref_std = samples.std(axis=0), reference.std(axis=0)
    return {
        "mean_x": float(mean[0]),
        "mean_y": float(mean[1]),
        "std_x": float(std[0]),
        "std_y": float(std[1]),
        "mean_err": float(np.max(np.abs(mean - ref_mean))),
        "std_err": float(np.max(np.abs(std - ref_std))),
        "swd": swd,
        **joint,
    }


def joint_metrics(samples: np.ndarray, reference: np.ndarray, *, target: tuple | None = None) -> dict[str, float]:
    """``corr`` and ``fd`` of ``samples`` (n, 2): the measures of the joint distribution.

    This is the one place that decides what ``fd`` is measured against: the analytic
    target ``target`` = ``(mean, std)``, N(mean, std^2 I), when given (the toy data's
    ``data_mean`` and ``data_std``), so that ``fd`` carries no sampling noise of the
    reference; without it, the Gaussian fitted to the ``reference`` points.
    """
    samples = _check_points("samples", samples)
    if target is None:
        reference = _check_points("reference", reference)
        target_mean, target_cov = reference.mean(axis=0), _covariance(reference)
    else:
        target_mean, std = _check_target(target)
        target_cov = std**2 * np.eye(2)
    fd = frechet_distance(samples.mean(axis=0), _covariance(samples), target_mean, target_cov)
    return {"corr": correlation(samples), "fd": fd}


def correlation(points: np.ndarray) -> float:
    """The Pearson correlation of the x and y of ``points`` (n, 2), in [-1, 1].

    A constant axis has no correlation to measure: it gives 0.0 rather than NaN, so a
    collapsed generator still writes a valid metrics.jsonl and does not stop the run
    (``std_x`` or ``std_y`` of 0 already says what happened).
    """
    points = _check_points("points", points)
    centred = points - points.mean(axis=0)
    sx, sy = np.sqrt(np.mean(centred**2, axis=0))
    if sx == 0.0 or sy == 0.0:
        return 0.0
    return float(np.clip(np.mean(centred[:, 0] * centred[:, 1]) / (sx * sy), -1.0, 1.0))


def frechet_distance(mean1: np.ndarray, cov1: np.ndarray, mean2: np.ndarray, cov2: np.ndarray) -> float:
    """The Fréchet distance between N(mean1, cov1) and N(mean2, cov2), in closed form:

        ||m1 - m2||^2 + tr(C1 + C2 - 2 (C2^1/2 C1 C2^1/2)^1/2)

    as in FID. Between two Gaussians it is exactly the squared 2-Wasserstein distance
    (Dowson and Landau, 1982), so against the toy's target, itself a Gaussian, it is the
    exact W2^2 from the generated cloud's fitted Gaussian, not an estimate from target
    samples; for any cloud with that mean and covariance it is a lower bound on W2^2.
    For C2 = s^2 I it reduces to ||m1 - m2||^2 + sum over C1's eigenvalues l of
    (sqrt(l) - s)^2. The symmetric form C2^1/2 C1 C2^1/2 (same trace of square root as
    the usual C1 C2) lets both square roots come from ``eigh``.
    """
    root2 = _sqrt_psd(cov2)
    cross = _sqrt_psd(root2 @ cov1 @ root2)
    diff = np.asarray(mean1, dtype=np.float64) - np.asarray(mean2, dtype=np.float64)
    value = diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * np.trace(cross)
    # Round-off can leave -1e-16 for two equal Gaussians; a distance is never below 0.
    return float(max(value, 0.0))


def _sqrt_psd(matrix: np.ndarray) -> np.ndarray:
    """The square root of a symmetric positive semi-definite matrix, through ``eigh``."""
    values, vectors = np.linalg.eigh(matrix)
    # A flat cloud's covariance can come out with an eigenvalue of -1e-17.
    return (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T


def _covariance(points: np.ndarray) -> np.ndarray:
    # ddof=0, like std_x and std_y, so the diagonal is their square.
    return np.cov(points, rowvar=False, bias=True)


def sliced_wasserstein(
    a: np.ndarray, b: np.ndarray, *, projections: int = 128, seed: int = 0
) -> float:
    """Sliced Wasserstein-1 distance between point sets ``a`` (n, 2) and ``b`` (m, 2)."""
    a = _check_points("a", a)
    b = _check_points("b", b)
    is_int = isinstance(projections, (int, np.integer)) and not isinstance(projections, bool)
    if not is_int or projections < 1:
        raise InputError(f"projections must be a positive integer, got {projections!r}")
    offset = np.random.default_rng(seed).random()
    angles = (np.arange(projections) + offset) * (np.pi / projections)
    directions = np.stack([np.cos(angles), np.sin(angles)])  # (2, P)
    pa = np.sort(a @ directions, axis=0)  # (n, P): each column one projection, sorted
    pb = np.sort(b @ directions, axis=0)
    return float(np.mean(_wasserstein1_sorted(pa, pb)))


def _wasserstein1_sorted(pa: np.ndarray, pb: np.ndarray) -> np.ndarray:
    """Exact W1 per column of two column-sorted arrays (n, P) and (m, P).

    W1 is the integral over u in (0, 1] of |Qa(u) - Qb(u)|, with Q the quantile
    functions. Both are step functions, constant between the breakpoints i/n and j/m,
    so the integral is exact on the merged grid of breakpoints. The grid is kept in
    integer units of 1/(n*m) so no rounding can pick the wrong step.
    """
    n, m = len(pa), len(pb)
    if n == m:  # the grid is 1..n and both steps are the identity: compare sorted values
        return np.mean(np.abs(pa - pb), axis=0)
    steps_a = np.arange(1, n + 1, dtype=np.int64) * m
    steps_b = np.arange(1, m + 1, dtype=np.int64) * n
    grid = np.union1d(steps_a, steps_b)
    weights = np.diff(grid, prepend=0) / (n * m)
    # On the interval ending at g/(nm), Qa takes its ceil(g/m)-th smallest value.
    ia = (grid + m - 1) // m - 1
    ib = (grid + n - 1) // n - 1
    return weights @ np.abs(pa[ia] - pb[ib])


def _check_points(name: str, points) -> np.ndarray:
    return points_2d(name, points)


def _check_target(target) -> tuple[np.ndarray, float]:
    """``target`` as (mean (2,), std > 0), refusing anything else with what was received."""
    try:
        mean, std = target
        mean = np.asarray(mean, dtype=np.float64)
        std = float(std)
    except (TypeError, ValueError):
        mean, std = None, math.nan
    if mean is None or mean.shape != (2,) or not np.isfinite(mean).all() or not (math.isfinite(std) and std > 0):
        raise InputError(f"target must be (mean, std) with 2 finite means and a std > 0, got {target!r}")
    return mean, std
