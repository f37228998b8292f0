"""The one check every metric and figure makes on its numbers: real, finite, float64."""

from __future__ import annotations

import numpy as np

from gan_edge.errors import InputError


def finite_float64(name: str, values: np.ndarray) -> np.ndarray:
    """``values`` as float64, refusing non-numeric dtypes and NaN or inf by name."""
    if not (np.issubdtype(values.dtype, np.floating) or np.issubdtype(values.dtype, np.integer)):
        raise InputError(f"{name} must be real numbers, got dtype {values.dtype}")
    values = values.astype(np.float64, copy=False)
    bad = np.count_nonzero(~np.isfinite(values))
    if bad:
        raise InputError(f"{name} must be finite, got {bad} NaN or inf values")
    return values


def points_2d(name: str, points, *, why: str = "") -> np.ndarray:
    """``points`` as a finite float64 (n, 2) array with n >= 2; ``why`` ends the count message."""
    arr = np.asarray(points)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InputError(f"{name} must have shape (n, 2), got {arr.shape}")
    if len(arr) < 2:
        raise InputError(f"{name} must have at least 2 points{why}, got {len(arr)}")
    return finite_float64(name, arr)


# tanh output and int8 round trips stray a hair past [-1, 1].
MODEL_RANGE_TOLERANCE = 1e-3


def in_model_range(name: str, arr: np.ndarray, *, fix: str = "") -> np.ndarray:
    """``arr`` (floats) refused by name unless finite and within [-1, 1], the generator's tanh
    range, up to ``MODEL_RANGE_TOLERANCE``; ``fix`` ends the out-of-range message."""
    bad = np.count_nonzero(~np.isfinite(arr))
    if bad:
        raise InputError(f"{name} must be finite, got {bad} NaN or inf values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -1 - MODEL_RANGE_TOLERANCE or hi > 1 + MODEL_RANGE_TOLERANCE:
        raise InputError(
            f"{name} must lie in [-1, 1] (the generator's tanh range), got values in "
            f"[{lo:.4g}, {hi:.4g}]{fix}"
        )
    return arr
