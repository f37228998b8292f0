"""Score a trained generator the way a run does, beside the reference rows that place it.

``evaluate_generator(generate, config, samples=...)`` takes any callable that maps
latents to samples (a tf_keras generator, or an exported model through gan_edge)
and returns rows of metrics, ``generator`` first, from the model's evaluator
(``gan_edge.training.evaluators``: its ``score``): for MNIST also ``real_vs_real`` (two
disjoint halves of the real digits) and ``untrained_vs_real`` (a freshly
initialised generator of the same architecture), all against the same reference;
for the mixtures also ``real`` (points drawn from the mixture itself).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from gan_edge.training.evaluators import evaluator_for

__all__ = ["evaluate_generator"]


def evaluate_generator(
    generate: Callable[[np.ndarray], np.ndarray], config, *, samples: int = 2000, seed: int = 0
) -> dict[str, dict[str, float]]:
    return evaluator_for(config).score(generate, config, samples=samples, seed=seed)
