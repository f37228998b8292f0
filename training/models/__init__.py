"""The model registry: a model family is chosen by name and refused by name.

Each family module provides ``build_generator(config)`` and
``build_discriminator(config)`` returning tf_keras models, plus ``OUTPUT_SHAPE``
and ``OUTPUT_RANGE`` (what a sample is, for the exported model's metadata),
``DATA`` (the data set it learns, see ``training.data``) and ``EVALUATOR``
(how a run measures it, see ``training.evaluators``).
Modules are imported only when asked for, because they import TensorFlow.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from gan_edge.errors import ConfigError

__all__ = ["MODELS", "model_family"]

MODELS: dict[str, str] = {
    "toy2d": "training.models.toy",
    "dcgan": "training.models.dcgan",
    "ring8": "training.models.ring8",
    "grid25": "training.models.grid25",
    "progan": "training.models.progan",
}


def model_family(name: str) -> ModuleType:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}: expected one of {', '.join(MODELS)}")
    return importlib.import_module(MODELS[name])
