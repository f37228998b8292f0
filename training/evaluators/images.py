"""The evaluator of runs on a user's pictures: generated images measured in a feature net
trained on the pictures themselves.

Features come from ``gan_edge.training.metrics.images`` (a small CNN trained on the set:
to tell quarter turns apart, and the categories where the set is labelled; cached by the
data's hash; docs/image_metrics.md says why and how it was checked). Per evaluation epoch,
on ``eval_samples`` images from fixed latents: ``fd`` (Fréchet distance in its 128-d
features, not Inception FID) beside ``fd_floor`` (two disjoint halves of the real pictures,
as many as the samples), k-NN ``precision`` and ``recall``, and, with labels,
``categories_covered`` of ``categories`` and ``category_kl``. The grid of the first 64
samples is drawn in colour at a few epochs, into ``figures/`` and TensorBoard.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf

from gan_edge.latent import sample_latent
from gan_edge.png import image_grid
from gan_edge.training import figures
from gan_edge.training.evaluators.mnist import (
    GRID_EPOCHS, GRID_SIZE, classifier_cache_dir, evaluation_draws, generate_in_chunks,
)
from gan_edge.training.image_grid import write_grid
from gan_edge.training.metrics.images import evaluate_images, load_or_train_feature_net

def _pictures_and_net(config, data=None):
    """The run's pictures and the feature net trained on them (cached between runs)."""
    if data is None:
        from gan_edge.training.data import load_training_data, resolve_image_shape

        data = load_training_data(resolve_image_shape(config), "images")
    net = load_or_train_feature_net(classifier_cache_dir() / "feature-nets", data.samples, data.labels,
                                    data.label_names)
    return data, net


@dataclass(frozen=True, eq=False)
class PicturesTask:
    """The real pictures to measure against and the net whose features measure them."""

    reference: np.ndarray  # uint8 (n, r, r, c), the run's pictures
    net: Any
    samples: int  # the first ``samples`` generated images are measured
    seed: int = 0
    # coverage: the one k-NN score blank pictures do not fool (docs/image_metrics.md)
    METRICS: ClassVar[tuple[str, ...]] = ("fd", "fd_floor", "precision", "recall", "coverage", "categories_covered")

    def measure(self, samples: np.ndarray) -> dict[str, float]:
        return evaluate_images(samples[: self.samples], self.reference, self.net, seed=self.seed)


class PicturesEvaluator:
    def __init__(self, config, run, data) -> None:
        self.config = config
        self.run = run
        self.task_ = self.task(config, data)
        self.latent, _ = evaluation_draws(config, len(data.samples))
        self.grid_epochs = {e for e in GRID_EPOCHS if e <= config.epochs} | {config.epochs}

    @classmethod
    def task(cls, config, data=None) -> PicturesTask:
        data, net = _pictures_and_net(config, data)
        return PicturesTask(data.samples, net, config.eval_samples, config.seed + 1)

    @classmethod
    def score(cls, generate, config, *, samples: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
        """Rows ``generator`` and ``untrained_vs_real`` (a freshly initialised generator of the
        same architecture); each row carries the real-vs-real floor measured beside it."""
        import tf_keras as keras

        from gan_edge.training.models import model_family

        data, net = _pictures_and_net(config)
        latent = sample_latent(config.latent_distribution, samples, config.latent_dim, np.random.default_rng(seed))
        keras.utils.set_random_seed(config.seed)  # as training's first weights
        untrained = model_family(config.model).build_generator(config)
        return {
            "generator": evaluate_images(generate(latent), data.samples, net, seed=seed),
            "untrained_vs_real": evaluate_images(generate_in_chunks(untrained, latent), data.samples, net, seed=seed),
        }

    def measure(self, generator) -> dict[str, float]:
        """The scores ``observe`` records, without its figures."""
        return self.task_.measure(generate_in_chunks(generator, self.latent))

    def observe(self, epoch: int, generator) -> dict[str, float]:
        images = generate_in_chunks(generator, self.latent)
        record = self.task_.measure(images)
        if epoch in self.grid_epochs:
            grid = images[:GRID_SIZE]
            write_grid(grid, self.run.figures / f"samples_epoch_{epoch:04d}.png", f"epoch {epoch}")
            canvas = image_grid(grid, gap=0)
            tf.summary.image("samples", canvas[None] if canvas.ndim == 3 else canvas[None, :, :, None], step=epoch)
        return record

    def finish(self, records: list[dict]) -> None:
        figures.plot_losses(records, self.run.figures / "losses.png")
        figures.plot_confusion(records, self.run.figures / "confusion.png")
