"""Train a GAN into a run folder: build, loop over epochs, measure, record.

``train(config, out_dir, on_epoch=...)`` reads top to bottom: seed, data, models,
the four-step round, then per epoch: rounds in one graph, a measurement of the
generator against the data, a checkpoint, a line of metrics. It prints nothing;
``on_epoch`` receives each epoch's record (the CLI draws a progress bar from it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import tensorflow as tf
import tf_keras as keras

from gan_edge.latent import sample_latent
from training import figures
from training.config import OptimizerConfig, TrainConfig
from training.data import batches, toy as toy_data
from training.loop import FourStepRound
from training.metrics import toy as toy_metrics
from training.models import model_family
from training.run import RunFolder

__all__ = ["TrainResult", "train", "build_optimizer", "build_checkpoint"]

# Points kept per snapshot for the progress figure (the book plots a few hundred).
SNAPSHOT_POINTS = 1000


@dataclass(frozen=True)
class TrainResult:
    run: RunFolder
    records: list[dict[str, Any]]


def build_optimizer(config: OptimizerConfig) -> keras.optimizers.Optimizer:
    if config.name == "adam":
        return keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1)
    return keras.optimizers.SGD(config.learning_rate, momentum=config.momentum, nesterov=config.nesterov)


def build_checkpoint(round_: FourStepRound, epoch: tf.Variable) -> tf.train.Checkpoint:
    """Everything a resumed run needs: weights, both optimizers, the noise state, the epoch."""
    return tf.train.Checkpoint(
        generator=round_.generator,
        discriminator=round_.discriminator,
        g_optimizer=round_.g_optimizer,
        d_optimizer=round_.d_optimizer,
        noise=round_.noise,
        epoch=epoch,
    )


def train(
    config: TrainConfig,
    out_dir: str | Path,
    *,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    run = RunFolder.create(out_dir, config)
    keras.utils.set_random_seed(config.seed)  # weight initialisers and dataset shuffling

    family = model_family(config.model)
    real = toy_data.gaussian_points(config.data_samples, config.data_mean, config.data_std, config.seed)
    iterator = iter(batches(real, config.batch_size, config.seed))
    steps_per_epoch = math.ceil(len(real) / config.batch_size)

    round_ = FourStepRound(
        family.build_generator(config),
        family.build_discriminator(config),
        build_optimizer(config.g_optimizer),
        build_optimizer(config.d_optimizer),
        latent_dim=config.latent_dim,
        latent_distribution=config.latent_distribution,
        loss_mode=config.loss_mode,
        seed=config.seed,
    )
    epoch = tf.Variable(0, dtype=tf.int64, name="epoch")
    manager = tf.train.CheckpointManager(build_checkpoint(round_, epoch), run.checkpoints, max_to_keep=3)
    writer = tf.summary.create_file_writer(str(run.tensorboard))

    # The same latent vectors every epoch, so snapshots show one generator moving.
    eval_latent = sample_latent(
        config.latent_distribution,
        config.eval_samples,
        config.latent_dim,
        np.random.default_rng(config.seed + 1),
    )
    snapshot_epochs = set(figures.progress_epochs(config.epochs))

    def measure(epoch_number: int) -> dict[str, float]:
        samples = round_.generator(eval_latent, training=False).numpy()
        if epoch_number in snapshot_epochs:
            run.save_samples(epoch_number, samples[:SNAPSHOT_POINTS])
        return toy_metrics.evaluate(samples, real)

    if config.pretrain_discriminator:
        round_.run_pretrain_rounds(iterator, tf.constant(steps_per_epoch))

    records: list[dict[str, Any]] = []
    measure(0)  # the untrained generator: epoch 0 of the progress figure
    for epoch_number in range(1, config.epochs + 1):
        totals = round_.run_rounds(iterator, tf.constant(steps_per_epoch))
        record = {"epoch": epoch_number, **{k: _plain(v) for k, v in totals.items()}}
        record.update(measure(epoch_number))
        _check_finite(record)
        epoch.assign(epoch_number)
        manager.save(checkpoint_number=epoch_number)
        with writer.as_default(step=epoch_number):
            for name, value in record.items():
                if name != "epoch":
                    tf.summary.scalar(name, value)
        records.append(record)
        run.write_metrics(records)
        if on_epoch is not None:
            on_epoch(record)

    writer.flush()
    if records:
        figures.write_all(run.path, records, run.load_samples(), real)
    return TrainResult(run, records)


def _plain(value: tf.Tensor) -> float | int:
    value = value.numpy()
    return int(value) if np.issubdtype(value.dtype, np.integer) else float(value)


def _check_finite(record: dict[str, Any]) -> None:
    from gan_edge.errors import GanEdgeError

    bad = [k for k in ("d_loss", "g_loss") if not math.isfinite(record[k])]
    if bad:
        raise GanEdgeError(
            f"training diverged at epoch {record['epoch']}: {', '.join(bad)} is not finite; "
            "the last good checkpoint is kept"
        )
