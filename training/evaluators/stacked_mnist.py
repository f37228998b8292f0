"""The Stacked-MNIST evaluator: how many of the 1,000 digit triples a generator draws.

Features: the digit the project's MNIST classifier (the one FCD uses: ``evaluators/mnist.py``,
``metrics/mnist/classifier.py``) predicts for each channel of a 28x28x3 sample; the sample's
mode is its triple, R, G, B (``training/data/stacked_mnist.py``). Per evaluation epoch, on
``eval_samples`` samples (the protocol's 26,000) from the same fixed latents:

- ``modes``: how many of the 1,000 triples are drawn at least once (PacGAN's count: no
  threshold, as its code counts the distinct predicted triples);
- ``reverse_kl``: KL(p || u) = sum_i p_i ln(1000 p_i), in nats, with p the histogram of the
  predicted triples and u uniform over the 1,000: 0 when every triple gets the same share,
  ln 1000 = 6.91 when one triple gets them all. It is PacGAN's (its code's ``log_metrics``:
  the unsmoothed histogram against 1/1000, natural log), the KL of PacGAN's Table 2 and of
  the rows R3GAN's Table 3 prints beside its own.

Real stacked pictures measure close to 1,000 modes and a reverse KL of about 0.02 at 26,000
samples (sampling noise, and the classifier's 1% errors per digit: tests/test_stacked_mnist.py).
The colour grids are the picture evaluator's, by inheritance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from gan_edge.latent import sample_latent
from gan_edge.training.data.stacked_mnist import MODES, load_stacked_mnist, modes_of
from gan_edge.training.evaluators.images import PicturesEvaluator
from gan_edge.training.evaluators.mnist import _real_digits, generate_in_chunks
from gan_edge.training.metrics.categories import category_histogram


def mode_metrics(modes: np.ndarray) -> dict[str, float]:
    """``modes`` and ``reverse_kl`` of predicted triples ``modes`` (n,) in 0..999."""
    counts = category_histogram(modes, MODES, kind="digit triples")
    p = counts[counts > 0] / counts.sum()
    return {"modes": float(len(p)), "reverse_kl": float(max(np.sum(p * np.log(MODES * p)), 0.0))}


def predicted_modes(samples: np.ndarray, classifier) -> np.ndarray:
    """The triple (n,) the classifier reads in samples (n, 28, 28, 3) in [-1, 1], channel by channel."""
    channels = np.moveaxis(np.asarray(samples), -1, 1)  # (n, 3, 28, 28): R, G, B of each in turn
    digits = classifier.predict_classes(channels.reshape(-1, *channels.shape[2:], 1))
    return modes_of(digits.reshape(len(samples), 3))


@dataclass(frozen=True, eq=False)
class StackedMnistTask:
    """The MNIST classifier that reads the triples; the first ``samples`` samples are measured."""

    classifier: Any
    samples: int
    METRICS: ClassVar[tuple[str, ...]] = ("modes", "reverse_kl")

    def measure(self, samples: np.ndarray) -> dict[str, float]:
        return mode_metrics(predicted_modes(samples[: self.samples], self.classifier))


class StackedMnistEvaluator(PicturesEvaluator):
    """The picture evaluator's run (fixed latents, colour grids, figures) with this task."""

    @classmethod
    def task(cls, config, data=None) -> StackedMnistTask:
        _, _, classifier = _real_digits(config)
        return StackedMnistTask(classifier, config.eval_samples)

    @classmethod
    def score(cls, generate, config, *, samples: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
        """Rows ``generator`` (``samples`` samples from latents drawn with ``seed``), ``real`` (as
        many real stacked pictures: what the classifier reads in the data itself) and
        ``untrained`` (a freshly initialised generator of the same architecture: the classifier
        reads digits into noise too, so an untrained generator already covers hundreds of modes)."""
        import tf_keras as keras

        from gan_edge.training.models import model_family

        task = StackedMnistTask(cls.task(config).classifier, samples)
        latent = sample_latent(config.latent_distribution, samples, config.latent_dim, np.random.default_rng(seed))
        real = load_stacked_mnist(config.data_dir or None, count=samples).images
        keras.utils.set_random_seed(config.seed)  # as training's first weights
        untrained = model_family(config.model).build_generator(config)
        return {"generator": task.measure(generate(latent)),
                "real": task.measure(real.astype(np.float32) / 127.5 - 1.0),
                "untrained": task.measure(generate_in_chunks(untrained, latent))}
