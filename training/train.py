"""Train a GAN into a run folder: build, loop over epochs, measure, record.

``train(config, out_dir, ...)`` reads top to bottom: the run folder (new, or an
existing one to resume), data, models, the four-step round, a checkpoint; then
per epoch: rounds in compiled graphs, the evaluator's measurement, a line of
metrics, a checkpoint. It prints nothing: ``on_epoch`` receives each epoch's
record and ``on_rounds`` the number of rounds just trained (the CLI draws its
progress bar from them).

Resuming is exact at epoch boundaries: the checkpoint holds both networks, both
optimizers, the noise generator's state and the epoch, and the order of each
epoch's batches depends only on (seed, epoch).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import tensorflow as tf
import tf_keras as keras

from gan_edge.errors import GanEdgeError, RunFolderError
from training.config import OptimizerConfig, TrainConfig
from training.data import epoch_batches, load_training_data
from training.evaluators import evaluator_class
from training.loop import FourStepRound
from training.models import model_family
from training.run import RunFolder

__all__ = ["TrainResult", "train", "build_optimizer", "build_checkpoint", "build_round"]


@dataclass(frozen=True)
class TrainResult:
    run: RunFolder
    records: list[dict[str, Any]]


def build_optimizer(config: OptimizerConfig) -> keras.optimizers.Optimizer:
    if config.name == "adam":
        return keras.optimizers.Adam(config.learning_rate, beta_1=config.beta_1)
    return keras.optimizers.SGD(config.learning_rate, momentum=config.momentum, nesterov=config.nesterov)


def build_round(config: TrainConfig) -> FourStepRound:
    """Fresh networks and optimizers for ``config``, seeded, wired into the four-step round."""
    keras.utils.set_random_seed(config.seed)  # weight initialisers
    family = model_family(config.model)
    return FourStepRound(
        family.build_generator(config),
        family.build_discriminator(config),
        build_optimizer(config.g_optimizer),
        build_optimizer(config.d_optimizer),
        latent_dim=config.latent_dim,
        latent_distribution=config.latent_distribution,
        loss_mode=config.loss_mode,
        seed=config.seed,
    )


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
    resume: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_rounds: Callable[[int], None] | None = None,
) -> TrainResult:
    run = RunFolder.resume(out_dir, config) if resume else RunFolder.create(out_dir, config)
    family = model_family(config.model)
    data = load_training_data(config, family.DATA)
    samples = tf.constant(data.samples)
    steps_per_epoch = math.ceil(len(data.samples) / config.batch_size)

    round_ = build_round(config)
    epoch = tf.Variable(0, dtype=tf.int64, name="epoch")
    checkpoint = build_checkpoint(round_, epoch)
    manager = tf.train.CheckpointManager(checkpoint, run.checkpoints, max_to_keep=3)
    records: list[dict[str, Any]] = []
    if resume:
        _restore(checkpoint, manager, run)
        records = [r for r in run.read_metrics() if r["epoch"] <= int(epoch.numpy())]

    evaluator = evaluator_class(family.EVALUATOR)(config, run, data)
    writer = tf.summary.create_file_writer(str(run.tensorboard))
    first = int(epoch.numpy()) + 1
    if first == 1:
        if config.pretrain_discriminator:
            round_.run_pretrain_rounds(iter(epoch_batches(samples, config.batch_size, config.seed, 0)),
                                       tf.constant(steps_per_epoch))
        with writer.as_default(step=0):
            evaluator.observe(0, round_.generator)  # the untrained generator: snapshots, grids

    for epoch_number in range(first, config.epochs + 1):
        iterator = iter(epoch_batches(samples, config.batch_size, config.seed, epoch_number))
        record = {"epoch": epoch_number, **_train_epoch(round_, iterator, steps_per_epoch, config, on_rounds)}
        _check_finite(record)
        with writer.as_default(step=epoch_number):
            if epoch_number % config.eval_every == 0 or epoch_number == config.epochs:
                record.update(evaluator.observe(epoch_number, round_.generator))
            for name, value in record.items():
                if name != "epoch":
                    tf.summary.scalar(name, value)
        records.append(record)
        # Metrics first, checkpoint second: a crash in between is redone on resume.
        run.write_metrics(records)
        epoch.assign(epoch_number)
        manager.save(checkpoint_number=epoch_number)
        if on_epoch is not None:
            on_epoch(record)

    writer.flush()
    if records:
        evaluator.finish(records)
    return TrainResult(run, records)


def _train_epoch(round_, iterator, steps: int, config: TrainConfig, on_rounds) -> dict[str, float | int]:
    """One epoch of rounds, in one compiled call or in calls of ``rounds_per_call`` rounds."""
    chunk = config.rounds_per_call or steps
    sums: dict[str, float] = {}
    done = 0
    while done < steps:
        size = min(chunk, steps - done)
        totals = round_.run_rounds(iterator, tf.constant(size))
        for name, value in totals.items():
            value = value.numpy()
            # Losses come back as means over the call's rounds: weigh them by its size.
            weight = size if name in ("d_loss", "g_loss") else 1
            sums[name] = sums.get(name, 0) + value * weight
        done += size
        if on_rounds is not None:
            on_rounds(size)
    return {
        name: float(value / steps) if name in ("d_loss", "g_loss") else int(value)
        for name, value in sums.items()
    }


def _restore(checkpoint: tf.train.Checkpoint, manager, run: RunFolder) -> None:
    if manager.latest_checkpoint is None:
        raise RunFolderError(f"{run.path} has no checkpoint to resume from (in {run.checkpoints})")
    try:
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise RunFolderError(
            f"{manager.latest_checkpoint} does not match this model: {first_line}"
        ) from None


def _check_finite(record: dict[str, Any]) -> None:
    bad = [k for k in ("d_loss", "g_loss") if not math.isfinite(record[k])]
    if bad:
        raise GanEdgeError(
            f"training diverged at epoch {record['epoch']}: {', '.join(bad)} is not finite; "
            "the last good checkpoint is kept"
        )
