"""Fidelity: an artifact's samples against the float generator's, from the same latents.

Elementwise in data space: the largest and the mean absolute error, and the PSNR
with the float output's peak-to-peak range as the peak. The gate refuses an
artifact whose PSNR is below its threshold, before anything is written.
"""

from __future__ import annotations

import math

import numpy as np

from export.tflite import ExportError

__all__ = ["compare", "DEFAULT_MIN_PSNR_DB", "check_gate"]

# Float artifacts differ from TensorFlow only by operator rounding (measured at
# over 120 dB on the toy generator); int8 keeps 256 levels over the output range,
# which caps the PSNR near 59 dB and lands near 40 dB on the toy generator.
DEFAULT_MIN_PSNR_DB: dict[str, float] = {
    "float32": 80.0,
    "onnx": 80.0,
    "int8": 30.0,
}


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
