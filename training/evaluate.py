"""Score a trained generator the way a run does, beside the reference rows that place it.

``evaluate_generator(generate, config, samples=...)`` takes any callable that maps
latents to samples (a tf_keras generator, or an exported model through gan_edge)
and returns rows of metrics: ``generator`` and, for MNIST, ``real_vs_real`` (two
disjoint halves of the real digits) and ``untrained_vs_real`` (a freshly
initialised generator of the same architecture), all against the same reference.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from gan_edge.latent import sample_latent
from training.data import load_training_data
from training.models import model_family

__all__ = ["evaluate_generator"]


def evaluate_generator(
    generate: Callable[[np.ndarray], np.ndarray], config, *, samples: int = 2000, seed: int = 0
) -> dict[str, dict[str, float]]:
    family = model_family(config.model)
    latent = sample_latent(config.latent_distribution, samples, config.latent_dim, np.random.default_rng(seed))
    if family.EVALUATOR == "toy":
        from training.metrics import toy as toy_metrics

        data = load_training_data(config, family.DATA)
        target = (config.data_mean, config.data_std)  # fd against the data's Gaussian, as in training
        return {"generator": toy_metrics.evaluate(generate(latent), data.samples, target=target)}

    from training.data.mnist import load_mnist, to_model_range
    from training.evaluators.mnist import classifier_cache_dir
    from training.metrics.mnist import evaluate, load_or_train_classifier, reference_values
    from training.train import build_round

    if family.EVALUATOR == "mnist32":
        # ProGAN draws 28x28 digits padded to 32x32: measure the centre, as training does.
        from training.evaluators.mnist import CroppedMnistEvaluator, crop_border

        uncropped = generate
        generate = lambda z: crop_border(uncropped(z), CroppedMnistEvaluator.BORDER)  # noqa: E731
    real = load_mnist(config.data_dir or None)
    images = to_model_range(real.images)
    classifier = load_or_train_classifier(classifier_cache_dir(), images, real.labels)
    half = min(samples, len(images) // 2)
    untrained = build_round(config).generator
    untrained_samples = untrained(latent[:half], training=False).numpy()
    if family.EVALUATOR == "mnist32":
        untrained_samples = crop_border(untrained_samples, CroppedMnistEvaluator.BORDER)
    rows = reference_values(images[: 2 * half], real.labels[: 2 * half], classifier,
                            untrained_samples, seed=seed)
    # The same reference half as the two rows above, so all three share it.
    order = np.random.default_rng(seed).permutation(2 * half)
    reference = images[order[half : 2 * half]]
    rows = {"generator": evaluate(generate(latent[:half]), reference, classifier), **rows}
    return rows
