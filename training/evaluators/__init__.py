"""What a generator is measured by, chosen by the model's ``EVALUATOR`` name.

The one place evaluation is dispatched: training, ``gan-edge evaluate``, export's
fidelity report and the benchmarks all ask ``evaluator_for(config)``, so a new model
family is one new evaluator, and report.json cannot drift from metrics.jsonl. An
evaluator class serves each of them through the same small interface:

- training: ``Evaluator(config, run, data)`` once per run, then
  ``observe(epoch, generator) -> dict[str, float]`` at epoch 0 (the untrained
  generator) and at each evaluation epoch, ``measure(generator) -> dict[str, float]``
  for the same scores without figures (the live generator beside the weight average a
  run publishes), and ``finish(records)`` to draw the run's figures at the end;
- ``Evaluator.task(config)``: what samples are measured against (the run's own
  reference, the same one ``observe`` measures with), an object whose
  ``measure(samples) -> dict[str, float]`` gives the metrics named in its ``METRICS``
  (names as in metrics.jsonl); export's fidelity report calls it per artifact;
- ``Evaluator.score(generate, config, samples=, seed=) -> {row: {metric: value}}``:
  ``gan-edge evaluate``'s rows for any latents -> samples callable, ``generator``
  first, then any reference rows that place it.

Each module states what it measures.
"""

from __future__ import annotations

import importlib

from gan_edge.errors import ConfigError

__all__ = ["EVALUATORS", "evaluator_class", "evaluator_for"]

EVALUATORS = {
    "toy": "gan_edge.training.evaluators.toy:ToyEvaluator",
    "mnist": "gan_edge.training.evaluators.mnist:MnistEvaluator",
    "mnist32": "gan_edge.training.evaluators.mnist:CroppedMnistEvaluator",
    "modes": "gan_edge.training.evaluators.modes:ModesEvaluator",
    "images": "gan_edge.training.evaluators.images:PicturesEvaluator",
    "stacked_mnist": "gan_edge.training.evaluators.stacked_mnist:StackedMnistEvaluator",
}


def evaluator_class(name: str):
    if name not in EVALUATORS:
        raise ConfigError(f"unknown evaluator {name!r}: expected one of {', '.join(EVALUATORS)}")
    module, _, attribute = EVALUATORS[name].partition(":")
    return getattr(importlib.import_module(module), attribute)


def evaluator_for(config):
    """The evaluator class of ``config.model``'s family (its ``EVALUATOR`` name), or
    "images" for a run on a user's pictures, "stacked_mnist" for one on Stacked-MNIST."""
    from gan_edge.training.data.stacked_mnist import NAME as STACKED_MNIST
    from gan_edge.training.models import model_family

    data_path = getattr(config, "data_path", "")
    if data_path:
        return evaluator_class("stacked_mnist" if data_path == STACKED_MNIST else "images")
    return evaluator_class(model_family(config.model).EVALUATOR)
