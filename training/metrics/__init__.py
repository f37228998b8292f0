"""Evaluators, chosen by name; each is ``evaluate(samples, reference) -> dict[str, float]``.

Each lives in its own module, imported only when asked for, so that choosing the
numpy-only toy metrics never imports what a heavier evaluator needs.
"""

from __future__ import annotations

import importlib
from typing import Callable

from gan_edge.errors import ConfigError

__all__ = ["EVALUATORS", "get_evaluator"]

Evaluator = Callable[..., dict[str, float]]

# name -> module holding its ``evaluate``
EVALUATORS: dict[str, str] = {
    "toy": "training.metrics.toy",  # moments, sliced Wasserstein, correlation, Fréchet distance of 2-D points
    "mnist": "training.metrics.mnist.evaluate",  # FCD, digit classes, precision/recall
}


def get_evaluator(name: str) -> Evaluator:
    """Return the ``evaluate`` function registered as ``name``; refuse unknown names."""
    if name not in EVALUATORS:
        valid = ", ".join(EVALUATORS)
        raise ConfigError(f"unknown evaluator {name!r}: expected one of {valid}")
    evaluate: Evaluator = importlib.import_module(EVALUATORS[name]).evaluate
    return evaluate
