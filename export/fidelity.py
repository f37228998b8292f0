"""Fidelity: an artifact's samples against the float generator's, from the same latents.

Elementwise in data space: the largest and the mean absolute error, and the PSNR
with the float output's peak-to-peak range as the peak. The gate refuses an
artifact whose PSNR is below its threshold, before anything is written.

For the toy model the task-level view is added: the artifact's samples against
the run's own target data (``training.metrics.toy.evaluate``: ``mean_err``,
``std_err``, ``swd``), so a quantization error can be read in the units that
matter: does the artifact still draw the Gaussian?
"""

from __future__ import annotations

import math

import numpy as np

from export.tflite import ExportError

__all__ = ["compare", "DEFAULT_MIN_PSNR_DB", "check_gate", "TASK_METRICS", "task_target", "task_metrics"]

# Default gates, from the toy generator (10,000 latents, trained 13 epochs, seed 0):
# - float32, onnx: only operator rounding differs from TensorFlow (measured 145 dB
#   and exact); 80 dB catches a wrong graph while leaving room for other kernels.
# - float16: an 11-bit significand on every weight puts the error near 2^-12 of
#   each product (measured 78 dB); 60 dB leaves room for deeper models, where the
#   errors of more layers add up, and is still far above any int8 artifact.
# - dynamic: int8 weights, float activations. The converter leaves tensors under
#   1024 elements in float, so the toy comes out bit-identical to float32 (145 dB);
#   a model whose weights do get quantized lands between int8 and float16, so its
#   gate sits at 40 dB, above the full-integer ones.
# - int8, int8-float-io, onnx-int8: 256 levels over each tensor's calibrated range
#   cap the PSNR near 59 dB; the toy lands at 47 to 50 dB, and latents outside the
#   calibrated range clip. 30 dB refuses a broken calibration (a wrong range or
#   zero point gives well under 20 dB) without refusing an ordinary int8 model.
DEFAULT_MIN_PSNR_DB: dict[str, float] = {
    "float32": 80.0,
    "onnx": 80.0,
    "float16": 60.0,
    "dynamic": 40.0,
    "int8": 30.0,
    "int8-float-io": 30.0,
    "onnx-int8": 30.0,
}

# The task-level metrics kept per artifact (names as in metrics.jsonl).
TASK_METRICS = ("mean_err", "std_err", "swd")


def compare(candidate: np.ndarray, reference: np.ndarray) -> dict[str, float]:
    if candidate.shape != reference.shape:
        raise ExportError(f"artifact output has shape {candidate.shape}, float model {reference.shape}")
    error = np.abs(candidate.astype(np.float64) - reference.astype(np.float64))
    rmse = float(np.sqrt(np.mean(error**2)))
    peak = float(np.ptp(reference))
    psnr = math.inf if rmse == 0 else 20.0 * math.log10(peak / rmse)
    return {"max_abs_err": float(error.max()), "mean_abs_err": float(error.mean()), "psnr_db": psnr}


def check_gate(variant: str, fidelity: dict[str, float], min_psnr_db: float) -> None:
    if not fidelity["psnr_db"] >= min_psnr_db:
        raise ExportError(
            f"{variant} artifact refused: psnr_db {fidelity['psnr_db']:.1f} is below the gate "
            f"{min_psnr_db:.1f} dB against the float generator; nothing was written"
        )


def task_target(config) -> np.ndarray | None:
    """The run's own training data when the model has a task-level evaluator, else None."""
    if config.model != "toy2d":
        return None
    from training.data.toy import gaussian_points

    return gaussian_points(config.data_samples, config.data_mean, config.data_std, config.seed)


def task_metrics(samples: np.ndarray, target: np.ndarray | None) -> dict[str, float]:
    """``mean_err``, ``std_err``, ``swd`` of ``samples`` against ``target``; {} without a target."""
    if target is None:
        return {}
    from training.metrics.toy import evaluate

    measured = evaluate(samples, target)
    return {name: measured[name] for name in TASK_METRICS}
