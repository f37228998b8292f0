"""The toy GAN's evaluator: the generator's points against the data's.

Metrics (``training.metrics.toy``): per-axis mean and standard deviation, their
largest errors against the data, the sliced Wasserstein-1 distance, the x-y
correlation and the Fréchet distance to the analytic target N(data_mean,
data_std^2 I), on ``eval_samples`` points drawn from the same fixed latents at every
epoch so the snapshots show one generator moving. Figures: the book's 22-19 (each
panel titled with its cloud's corr and fd) and 22-20.
"""

from __future__ import annotations

import numpy as np

from gan_edge.latent import sample_latent
from training import figures
from training.metrics import toy as toy_metrics

# Points kept per snapshot for the progress figure (the book plots a few hundred).
SNAPSHOT_POINTS = 1000


class ToyEvaluator:
    def __init__(self, config, run, data) -> None:
        self.run = run
        self.real = data.samples
        # The Gaussian the data is drawn from: fd is measured against it, not the samples.
        self.target = (config.data_mean, config.data_std)
        self.latent = sample_latent(
            config.latent_distribution, config.eval_samples, config.latent_dim,
            np.random.default_rng(config.seed + 1),
        )
        self.snapshot_epochs = set(figures.progress_epochs(config.epochs))

    def observe(self, epoch: int, generator) -> dict[str, float]:
        samples = generator(self.latent, training=False).numpy()
        if epoch in self.snapshot_epochs:
            self.run.save_samples(epoch, samples[:SNAPSHOT_POINTS])
        return toy_metrics.evaluate(samples, self.real, target=self.target)

    def finish(self, records: list[dict]) -> None:
        figures.write_all(self.run.path, records, self.run.load_samples(), self.real, target=self.target)
