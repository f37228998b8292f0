"""Fidelity: an artifact's samples against the float generator's, from the same latents.

Elementwise in data space: the largest and the mean absolute error, and the PSNR
with the float output's peak-to-peak range as the peak. The gate refuses an
artifact whose PSNR is below its threshold, before anything is written; the
thresholds are the formats' (``gan_edge.export.formats``).

The task-level view is added for every model, from the model's evaluator
(``gan_edge.training.evaluators``: ``evaluator_for(config).task(config)``, the same reference
the training evaluator measures with, so the numbers read against ``metrics.jsonl``),
keeping the metrics its task names (``METRICS``):

- toy: the artifact's samples against the run's own data (``mean_err``, ``std_err``,
  ``swd``, and ``corr`` and ``fd`` against the Gaussian the data is drawn from), so a
  quantization error can be read in the units that matter: does the artifact still
  draw the Gaussian, untilted?
- ring8, grid25: ``modes``, ``hq_share``, ``reverse_kl`` against the mixture.
- image generators (MNIST digits): ``fcd``, ``classes_covered``, ``precision``,
  ``recall`` of the artifact's first ``eval_samples`` images (the run's config), through
  the cached MNIST classifier, against the real digits the training evaluator picked.
  The coverage gate refuses an artifact that lost a digit the float generator draws
  from the same latents (``check_task_gate``).
"""

from __future__ import annotations

import math

import numpy as np

from gan_edge.export.tflite import ExportError
from gan_edge.training.evaluators.mnist import ImageTask
from gan_edge.training.evaluators.toy import ToyTask

__all__ = [
    "compare",
    "check_gate",
    "check_task_gate",
    "digit_shares",
    "TASK_METRICS",
    "IMAGE_TASK_METRICS",
    "ImageTask",
    "ToyTask",
    "task_target",
    "task_metrics",
]

# The task-level metrics kept per artifact (names as in metrics.jsonl), as the tasks name them.
TASK_METRICS = ToyTask.METRICS
IMAGE_TASK_METRICS = ImageTask.METRICS
# A digit is covered at 1% of the samples (as in training.metrics.mnist.classes_covered).
COVERED_SHARE = 0.01


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


def digit_shares(images: np.ndarray, target: ImageTask) -> np.ndarray:
    """The share of each digit (10,) among the classifier's predictions on the measured images."""
    return target.digit_shares(images)


def check_task_gate(variant: str, shares: np.ndarray, float_shares: np.ndarray) -> None:
    """Refuse an image artifact that lost a digit the float generator draws.

    A digit counts as drawn by the float generator at ``COVERED_SHARE`` of its samples
    (the ``classes_covered`` line) and as kept by the artifact at half that: a digit
    sitting on the line can flip by one sample without anything being lost (a tiny
    run's int8 artifact went from 6 to 5 covered digits that way at 128 samples).
    """
    lost = [d for d in range(10) if float_shares[d] >= COVERED_SHARE and shares[d] < COVERED_SHARE / 2]
    if lost:
        raise ExportError(
            f"{variant} artifact refused: it lost digit(s) {', '.join(map(str, lost))} "
            f"(under {COVERED_SHARE / 2:.1%} of its samples, the float generator's "
            f"{', '.join(f'{float_shares[d]:.1%}' for d in lost)} from the same latents); nothing was written "
            "(export_run(..., coverage_gate=False) writes it anyway)"
        )


def task_target(config):
    """What the artifact's samples are measured against: the task of the model's evaluator
    (``ToyTask``, ``ImageTask``, ``ModesTask``: see ``gan_edge.training.evaluators``)."""
    from gan_edge.training.evaluators import evaluator_for

    return evaluator_for(config).task(config)


def task_metrics(samples: np.ndarray, target) -> dict[str, float]:
    """The metrics ``target`` names in its ``METRICS`` (``mean_err``, ``std_err``, ``swd``,
    ``corr``, ``fd`` for the toy; ``fcd``, ``classes_covered``, ``precision``, ``recall`` for
    images; ``modes``, ``hq_share``, ``reverse_kl`` for the mixtures) of ``samples``; {} without one."""
    if target is None:
        return {}
    measured = target.measure(samples)
    return {name: measured[name] for name in target.METRICS}
