"""What a run measures after its epochs, chosen by the model's ``EVALUATOR`` name.

An evaluator is built once per run, ``Evaluator(config, run, data)``, then
``observe(epoch, generator) -> dict[str, float]`` is called at epoch 0 (the
untrained generator) and at each evaluation epoch, and ``finish(records)`` draws
the run's figures at the end. Each module states what it measures.
"""

from __future__ import annotations

import importlib

from gan_edge.errors import ConfigError

EVALUATORS = {
    "toy": "training.evaluators.toy:ToyEvaluator",
    "mnist": "training.evaluators.mnist:MnistEvaluator",
    "mnist32": "training.evaluators.mnist:CroppedMnistEvaluator",
    "modes": "training.evaluators.modes:ModesEvaluator",
}


def evaluator_class(name: str):
    if name not in EVALUATORS:
        raise ConfigError(f"unknown evaluator {name!r}: expected one of {', '.join(EVALUATORS)}")
    module, _, attribute = EVALUATORS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)
