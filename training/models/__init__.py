"""The model registry: a model family is chosen by name and refused by name.

Each family module provides ``build_generator(config)`` and
``build_discriminator(config)`` returning tf_keras models, plus ``OUTPUT_SHAPE``
and ``OUTPUT_RANGE`` (what a sample is, for the exported model's metadata; the image
models build for a user's pictures too, and say so with ``output_shape(config)``),
``DATA`` (the data set it learns, see ``gan_edge.training.data``) and ``EVALUATOR``
(how a run measures it, see ``gan_edge.training.evaluators``).
Modules are imported only when asked for, because they import TensorFlow.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from gan_edge.errors import ConfigError

__all__ = ["MODELS", "model_family", "output_shape"]

MODELS: dict[str, str] = {
    "toy2d": "gan_edge.training.models.toy",
    "dcgan": "gan_edge.training.models.dcgan",
    "ring8": "gan_edge.training.models.ring8",
    "grid25": "gan_edge.training.models.grid25",
    "progan": "gan_edge.training.models.progan",
}


def model_family(name: str) -> ModuleType:
    if name not in MODELS:
        raise ConfigError(f"unknown model {name!r}: expected one of {', '.join(MODELS)}")
    return importlib.import_module(MODELS[name])


def output_shape(config) -> tuple[int, ...]:
    """What ``config``'s generator draws: its family's ``output_shape(config)`` where the
    family builds for the data (the image models), else its fixed ``OUTPUT_SHAPE``."""
    family = model_family(config.model)
    shape = family.output_shape(config) if hasattr(family, "output_shape") else family.OUTPUT_SHAPE
    return tuple(shape)
