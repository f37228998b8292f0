"""The DCGAN's evaluator: generated digits measured through an MNIST classifier.

Features and labels come from a small CNN trained by this project on the real
digits (``gan_edge.training.metrics.mnist.classifier``; cached between runs). Per
evaluation epoch, on ``eval_samples`` images from fixed latents against as many
real images: FCD (Fréchet distance in the classifier's 128-d penultimate features,
not Inception FID), digit coverage, KL divergence from the real class mix, class
entropy, and k-NN precision and recall (Kynkäänniemi et al., 2019).

The mode-collapse alarm watches a fixed probe batch: when its predicted digits
cover fewer than ``collapse_min_classes`` classes or fewer than
``collapse_min_entropy_bits`` bits, the record gets ``collapse_alarm`` 1, a warning
is logged with the epoch, and the probe batch is drawn (like Figure 22-24).

``ImageTask`` is the reference a run measures against, for export's fidelity report;
``score`` gives ``gan-edge evaluate``'s rows.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf

from gan_edge.latent import sample_latent
from gan_edge.training import figures
from gan_edge.png import image_grid
from gan_edge.training.image_grid import write_grid, write_panels
from gan_edge.training.metrics.mnist import class_entropy, classes_covered, evaluate, load_or_train_classifier

logger = logging.getLogger("gan_edge.training")

PROBE_SIZE = 256
GRID_SIZE = 64
GRID_EPOCHS = (0, 1, 2, 3, 5, 10, 20, 30, 50, 75, 100, 150, 200)
_CHUNK = 500


def classifier_cache_dir() -> Path:
    """Where the classifier's weights are cached: $GAN_EDGE_CACHE or ~/.cache/gan-edge."""
    return Path(os.environ.get("GAN_EDGE_CACHE") or Path.home() / ".cache" / "gan-edge")


def _real_digits(config):
    """Every real digit available (model range) with labels, and the classifier trained on them.

    The classifier learns from all of them, whatever part the GAN trains on, so that
    runs of any size are measured alike (cached between runs).
    """
    from gan_edge.training.data.mnist import load_mnist, to_model_range

    everything = load_mnist(config.data_dir or None)
    images = to_model_range(everything.images)
    return images, everything.labels, load_or_train_classifier(classifier_cache_dir(), images, everything.labels)


def evaluation_draws(config, available: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed draws a run is measured with, decided here only: the ``eval_samples``
    latents, then the indices of as many of the run's ``available`` real images, both
    from one stream seeded ``config.seed + 1``. Training's evaluations and export's
    fidelity report both measure against this pick, so their numbers read together."""
    rng = np.random.default_rng(config.seed + 1)
    latent = sample_latent(config.latent_distribution, config.eval_samples, config.latent_dim, rng)
    pick = rng.choice(available, size=min(config.eval_samples, available), replace=False)
    return latent, pick


@dataclass(frozen=True, eq=False)
class ImageTask:
    """Real digits to measure against and the classifier whose features measure them."""

    reference: np.ndarray
    classifier: Any
    samples: int  # the first ``samples`` generated images are measured
    border: int = 0  # pixels of padding cropped from generated images first (ProGAN's 32x32)
    # coverage: the one k-NN score blank pictures do not fool (docs/image_metrics.md)
    METRICS: ClassVar[tuple[str, ...]] = ("fcd", "classes_covered", "precision", "recall", "coverage")

    def measured_images(self, images: np.ndarray) -> np.ndarray:
        """The first ``samples`` images, with ``border`` pixels cropped from each side."""
        return crop_border(images[: self.samples], self.border)

    def measure(self, samples: np.ndarray) -> dict[str, float]:
        """Every metric of ``gan_edge.training.metrics.mnist.evaluate`` (``METRICS`` among them)."""
        return evaluate(self.measured_images(samples), self.reference, self.classifier)

    def digit_shares(self, images: np.ndarray) -> np.ndarray:
        """The share of each digit (10,) among the classifier's predictions on the measured images."""
        classes = self.classifier.predict_classes(self.measured_images(images))
        return np.bincount(classes, minlength=10)[:10] / max(len(classes), 1)


class MnistEvaluator:
    BORDER = 0  # pixels of padding around the 28x28 digits in the model's samples

    def __init__(self, config, run, data) -> None:
        self.config = config
        self.run = run
        task = self.task(config, data)
        self.classifier, self.reference = task.classifier, task.reference
        self.latent, _ = evaluation_draws(config, len(data.samples))
        self.grid_epochs = {e for e in GRID_EPOCHS if e <= config.epochs} | {config.epochs}

    @classmethod
    def task(cls, config, data=None) -> ImageTask:
        """The ``eval_samples`` real digits of the run's data that training measures against
        (``evaluation_draws``), the classifier, and the border cropped from samples."""
        if data is None:
            from gan_edge.training.data import load_training_data
            from gan_edge.training.models import model_family

            data = load_training_data(config, model_family(config.model).DATA)
        _, pick = evaluation_draws(config, len(data.samples))
        _, _, classifier = _real_digits(config)
        return ImageTask(crop_border(data.samples[pick], cls.BORDER), classifier, config.eval_samples, cls.BORDER)

    @classmethod
    def score(cls, generate, config, *, samples: int = 2000, seed: int = 0) -> dict[str, dict[str, float]]:
        """Rows ``generator``, ``real_vs_real`` (two disjoint halves of the real digits) and
        ``untrained_vs_real`` (a freshly initialised generator of the same architecture), all
        against the same half of the real digits, on as many samples as a half holds."""
        import tf_keras as keras

        from gan_edge.training.metrics.mnist import reference_values, split_halves
        from gan_edge.training.models import model_family

        images, labels, classifier = _real_digits(config)
        latent = sample_latent(config.latent_distribution, samples, config.latent_dim, np.random.default_rng(seed))
        half = min(samples, len(images) // 2)
        keras.utils.set_random_seed(config.seed)  # as training's first weights
        untrained = model_family(config.model).build_generator(config)
        untrained_samples = crop_border(untrained(latent[:half], training=False).numpy(), cls.BORDER)
        rows = reference_values(images[: 2 * half], labels[: 2 * half], classifier, untrained_samples, seed=seed)
        _, reference = split_halves(2 * half, seed)  # the half the rows above were measured against
        generated = crop_border(generate(latent[:half]), cls.BORDER)
        return {"generator": evaluate(generated, images[reference], classifier), **rows}

    def generate(self, generator, latent: np.ndarray) -> np.ndarray:
        return generate_in_chunks(generator, latent)

    def measure(self, generator) -> dict[str, float]:
        """The scores ``observe`` records, without its figures and alarms."""
        return evaluate(self.generate(generator, self.latent), self.reference, self.classifier)

    def observe(self, epoch: int, generator) -> dict[str, float]:
        images = self.generate(generator, self.latent)
        record = evaluate(images, self.reference, self.classifier)
        probe_classes = self.classifier.predict_classes(images[:PROBE_SIZE])
        covered = classes_covered(probe_classes)
        entropy = class_entropy(probe_classes)
        collapsed = epoch > 0 and (
            covered < self.config.collapse_min_classes or entropy < self.config.collapse_min_entropy_bits
        )
        record["collapse_alarm"] = int(collapsed)
        if collapsed:
            logger.warning(
                "mode collapse suspected at epoch %d: the probe batch covers %d digits, %.2f bits",
                epoch, covered, entropy,
            )
            labels = [str(c) for c in probe_classes[:GRID_SIZE]]
            write_grid(images[:GRID_SIZE], self.run.figures / f"collapse_epoch_{epoch:04d}.png",
                       f"epoch {epoch}: probe batch, {covered} digits, {entropy:.2f} bits", labels)
        if epoch in self.grid_epochs:
            grid = images[:GRID_SIZE]
            write_grid(grid, self.run.figures / f"samples_epoch_{epoch:04d}.png", f"epoch {epoch}")
            tf.summary.image("samples", image_grid(grid, gap=0)[None, :, :, None], step=epoch)
        return record

    def finish(self, records: list[dict]) -> None:
        figures.plot_losses(records, self.run.figures / "losses.png")
        figures.plot_confusion(records, self.run.figures / "confusion.png")


class CroppedMnistEvaluator(MnistEvaluator):
    """ProGAN's 32x32 digits: the same measurements on the 28x28 centre. The classifier
    knows 28x28 digits, and the 2-pixel border cropped off is background padding in the
    real images (``mnist32`` data), so nothing the real digits hold is lost."""

    BORDER = 2

    def generate(self, generator, latent: np.ndarray) -> np.ndarray:
        return crop_border(super().generate(generator, latent), self.BORDER)

    def resolution_done(self, resolution: int, generator) -> None:
        """Draw G at the resolution training just moved past: ``figures/growth.png``
        gains a panel (16 samples from fixed latents, whole 32x32, upsampled from
        ``resolution``), and ``figures/samples_RxR.png`` holds its 64-sample grid."""
        from gan_edge.training.models.progan import render_at

        images = render_at(generator, self.latent[:GRID_SIZE], resolution)
        name = f"{resolution}x{resolution}"
        write_grid(images, self.run.figures / f"samples_{name}.png", f"at {name}, before growing")
        # The panels are kept on disk, so a resumed run's figure still shows the
        # resolutions passed before it stopped.
        np.save(self.run.figures / f"growth_{resolution:02d}.npy", images[:16])
        panels = {f"{int(f.stem[7:])}x{int(f.stem[7:])}": np.load(f)
                  for f in sorted(self.run.figures.glob("growth_*.npy"))}
        write_panels(panels, self.run.figures / "growth.png", "samples as the networks grew")


def crop_border(images: np.ndarray, border: int) -> np.ndarray:
    return images[:, border:-border, border:-border, :] if border else images


def generate_in_chunks(generator, latent: np.ndarray) -> np.ndarray:
    """G's samples for ``latent``, _CHUNK at a time: thousands at once would hold every
    layer's activations for all of them."""
    return np.concatenate(
        [generator(latent[i : i + _CHUNK], training=False).numpy() for i in range(0, len(latent), _CHUNK)]
    )
