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

__all__ = ["evaluate_generator", "inception_fid_of"]


def evaluate_generator(
    generate: Callable[[np.ndarray], np.ndarray], config, *, samples: int = 2000, seed: int = 0
) -> dict[str, dict[str, float]]:
    return evaluator_for(config).score(generate, config, samples=samples, seed=seed)


def inception_fid_of(generate: Callable[[np.ndarray], np.ndarray], config, *, samples: int = 2000, seed: int = 0,
                     weights=None) -> float:
    """FID proper (InceptionV3's pool features) of ``samples`` generated images against as many
    of the run's real ones, from weights already on disk (``weights``, else Keras' cache):
    nothing is downloaded, and without them this raises before generating anything."""
    from gan_edge.latent import sample_latent
    from gan_edge.training.data import load_training_data, resolve_image_shape
    from gan_edge.training.metrics.images import inception_fid, inception_weights
    from gan_edge.training.models import model_family

    path = inception_weights(weights)
    config = resolve_image_shape(config)
    data = load_training_data(config, model_family(config.model).DATA)
    rng = np.random.default_rng(seed)
    latent = sample_latent(config.latent_distribution, samples, config.latent_dim, rng)
    reference = data.samples[np.sort(rng.permutation(len(data.samples))[:samples])]
    return inception_fid(generate(latent), reference, weights=path)
