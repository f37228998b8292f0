"""The mode-collapse evaluator (ring8, grid25): how many of the mixture's modes G covers.

Metrics (``gan_edge.training.metrics.modes``): ``modes``, ``hq_share``, ``reverse_kl``, on
``eval_samples`` points (the protocol's 2,500) from the same fixed latents at every
evaluation, so the curve follows one generator. Figures: ``figures/modes.png``, the
last evaluation's generated points over the real ones with the mode means marked,
and the losses and confusion counts of the toy GAN's figures. ``ModesTask`` is the
mixture measured against, for export's fidelity report and ``gan-edge evaluate``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from gan_edge.latent import sample_latent
from gan_edge.training import figures
from gan_edge.training.data.toy import MODE_SETS, ModeSet
from gan_edge.training.metrics import modes as mode_metrics
from gan_edge.training.models import model_family

# Real points drawn under the generated ones: enough to show each mode's spread.
REAL_POINTS = 2500


@dataclass(frozen=True, eq=False)
class ModesTask:
    """The mixture the run learns: its mode means and their standard deviation."""

    modes: ModeSet
    METRICS: ClassVar[tuple[str, ...]] = ("modes", "hq_share", "reverse_kl")

    def measure(self, samples: np.ndarray) -> dict[str, float]:
        return mode_metrics.evaluate(samples, self.modes.means, self.modes.std)


class ModesEvaluator:
    def __init__(self, config, run, data) -> None:
        self.run = run
        self.reference = self.task(config)
        self.modes = self.reference.modes
        self.real = data.samples[:REAL_POINTS]
        self.latent = sample_latent(
            config.latent_distribution, config.eval_samples, config.latent_dim,
            np.random.default_rng(config.seed + 1),
        )
        self.last: tuple[int, np.ndarray] | None = None

    def measure(self, generator) -> dict[str, float]:
        """The scores ``observe`` records, without saving samples."""
        return self.reference.measure(generator(self.latent, training=False).numpy())

    def observe(self, epoch: int, generator) -> dict[str, float]:
        samples = generator(self.latent, training=False).numpy()
        self.last = (epoch, samples)
        self.run.save_samples(epoch, samples)
        return self.reference.measure(samples)

    def finish(self, records: list[dict]) -> None:
        if self.last is None:  # a resumed run with nothing left to train
            saved = self.run.load_samples()
            if not saved:
                return
            self.last = max(saved.items())
        epoch, samples = self.last
        figures.plot_losses(records, self.run.path / "figures" / "losses.png")
        figures.plot_confusion(records, self.run.path / "figures" / "confusion.png")
        scores = self.reference.measure(samples)
        _plot_modes(samples, self.real, self.modes, epoch, scores, self.run.path / "figures" / "modes.png")

    @staticmethod
    def task(config, data=None) -> ModesTask:
        """The mixture of ``config.model``'s data set (ring8, grid25)."""
        return ModesTask(MODE_SETS[model_family(config.model).DATA])

    @classmethod
    def score(cls, generate, config, *, samples: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
        """Rows ``generator`` (``samples`` points from latents drawn with ``seed``) and ``real``
        (as many points drawn from the mixture itself, with ``seed``: the best a generator can do)."""
        from gan_edge.training.data.toy import mixture_points

        task = cls.task(config)
        latent = sample_latent(config.latent_distribution, samples, config.latent_dim, np.random.default_rng(seed))
        return {"generator": task.measure(generate(latent)),
                "real": task.measure(mixture_points(task.modes, samples, seed))}


def _plot_modes(samples, real, modes, epoch, scores, path) -> None:
    fig = figures._new_figure((5.5, 5.5))
    ax = fig.add_subplot()
    # The means go underneath: a collapsed generator's points must not hide behind them.
    ax.scatter(modes.means[:, 0], modes.means[:, 1], s=60, marker="+", linewidths=0.6, c="gray",
               label="mode means", zorder=1)
    ax.scatter(real[:, 0], real[:, 1], s=4, c="tab:blue", alpha=0.4, label="real", zorder=2)
    ax.scatter(samples[:, 0], samples[:, 1], s=6, c="tab:orange", alpha=0.5, label="generated", zorder=3)
    reach = np.abs(modes.means).max() + 1.0
    ax.set_xlim(-reach, reach)
    ax.set_ylim(-reach, reach)
    ax.set_aspect("equal")
    ax.set_title(f"{modes.name}, epoch {epoch}: {scores['modes']:.0f}/{len(modes.means)} modes, "
                 f"{100 * scores['hq_share']:.1f}% high quality, reverse KL {scores['reverse_kl']:.2f}",
                 fontsize=9)
    ax.legend(fontsize=8, loc="upper right")
    figures._save(fig, path)
