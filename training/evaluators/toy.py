"""The toy GAN's evaluator: the generator's points against the data's.

Metrics (``gan_edge.training.metrics.toy``): per-axis mean and standard deviation, their
largest errors against the data, the sliced Wasserstein-1 distance, the x-y
correlation and the Fréchet distance to the analytic target N(data_mean,
data_std^2 I), on ``eval_samples`` points drawn from the same fixed latents at every
epoch so the snapshots show one generator moving. Figures: the book's 22-19 (each
panel titled with its cloud's corr and fd) and 22-20. ``ToyTask`` is that reference
(the run's data points and their Gaussian) for export's fidelity report.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gan_edge.latent import sample_latent
from gan_edge.training import figures
from gan_edge.training.metrics import toy as toy_metrics

# Points kept per snapshot for the progress figure (the book plots a few hundred).
SNAPSHOT_POINTS = 1000


@dataclass(frozen=True, eq=False)
class ToyTask:
    """The run's data points, and the Gaussian N(mean, std^2 I) they are drawn from (for ``fd``)."""

    reference: np.ndarray
    mean: tuple[float, float]
    std: float
    METRICS: ClassVar[tuple[str, ...]] = ("mean_err", "std_err", "swd", "corr", "fd")

    def measure(self, samples: np.ndarray) -> dict[str, float]:
        """Every metric of ``gan_edge.training.metrics.toy.evaluate`` (``METRICS`` among them)."""
        return toy_metrics.evaluate(samples, self.reference, target=(self.mean, self.std))


class ToyEvaluator:
    def __init__(self, config, run, data) -> None:
        self.run = run
        # The data, and the Gaussian it is drawn from: fd is measured against the latter.
        self.reference = self.task(config, data)
        self.latent = sample_latent(
            config.latent_distribution, config.eval_samples, config.latent_dim,
            np.random.default_rng(config.seed + 1),
        )
        self.snapshot_epochs = set(figures.progress_epochs(config.epochs))

    def measure(self, generator) -> dict[str, float]:
        """The scores ``observe`` records, without saving samples."""
        return self.reference.measure(generator(self.latent, training=False).numpy())

    def observe(self, epoch: int, generator) -> dict[str, float]:
        samples = generator(self.latent, training=False).numpy()
        if epoch in self.snapshot_epochs:
            self.run.save_samples(epoch, samples[:SNAPSHOT_POINTS])
        return self.reference.measure(samples)

    def finish(self, records: list[dict]) -> None:
        reference = self.reference
        figures.write_all(self.run.path, records, self.run.load_samples(), reference.reference,
                          target=(reference.mean, reference.std))

    @staticmethod
    def task(config, data=None) -> ToyTask:
        """The run's own data points (rebuilt from the config unless given) and their Gaussian."""
        if data is None:
            from gan_edge.training.data import load_training_data

            data = load_training_data(config, "gaussian")
        return ToyTask(data.samples, config.data_mean, config.data_std)

    @classmethod
    def score(cls, generate, config, *, samples: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
        """One row, ``generator``: ``samples`` points from latents drawn with ``seed``, as in training."""
        latent = sample_latent(config.latent_distribution, samples, config.latent_dim, np.random.default_rng(seed))
        return {"generator": cls.task(config).measure(generate(latent))}
