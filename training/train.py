"""Train a GAN into a run folder: build, loop over epochs, measure, record.

``train(config, out_dir, ...)`` reads top to bottom: the run folder (new, or an
existing one to resume), data, models, the four-step round, a checkpoint; then
per epoch: rounds in compiled graphs, the evaluator's measurement, a line of
metrics, a checkpoint. It prints nothing: ``on_start`` receives the rounds per
epoch once the data is loaded, ``on_epoch`` each epoch's record and ``on_rounds``
the number of rounds just trained (the CLI draws its progress bar from them);
``on_decode(done, total)`` follows a first decode of a user's pictures and
``on_data`` gets one line saying what the data is. Each call adds the CPU time it spent
(all threads, from the data's loading on) to the run folder's ``cpu_seconds.txt``.

Resuming is exact: the checkpoint holds both networks, both optimizers, the
noise generator's state and the epoch, and the order of each epoch's batches
depends only on (seed, epoch). ``should_stop`` (the CLI sets it on SIGINT and
SIGTERM) is asked between compiled calls; when it says stop, the run saves a
checkpoint where it is and returns. A stop inside an epoch saves the round
reached and the epoch's metric sums so far (``position``, a string variable in
the checkpoint), and a resumed run skips that many batches of the same epoch
order, so it sees exactly the batches and noise it would have seen. Before any
checkpoint is written every weight is checked finite, and a non-finite loss stops
the run naming the epoch and rounds: a diverged run keeps its last good checkpoint.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import tensorflow as tf
import tf_keras as keras

from gan_edge.errors import RunFolderError, TrainingDiverged
from gan_edge.training import averaging, distill, distribute
from gan_edge.training.config import OptimizerConfig, TrainConfig
from gan_edge.training.data import batch_source, epoch_batches, load_training_data, resolve_image_shape
from gan_edge.training.evaluators import evaluator_for
from gan_edge.training.loop import FourStepRound
from gan_edge.training.models import model_family
from gan_edge.training.progan_schedule import growth_driver
from gan_edge.training.run import RunFolder

__all__ = ["TrainResult", "train", "train_epoch", "epoch_record", "build_optimizer", "build_checkpoint",
           "build_round", "round_for"]


@dataclass(frozen=True)
class TrainResult:
    run: RunFolder
    records: list[dict[str, Any]]
    # Set when should_stop ended the run early: (epoch, rounds of it done, rounds per epoch).
    stopped_at: tuple[int, int, int] | None = None
    checkpoint: str | None = None  # the checkpoint written last


# Mid-epoch checkpoints are numbered epoch * _MID_EPOCH + round (ckpt-5000120: epoch 5,
# round 120), so they never collide with the end-of-epoch ckpt-5.
_MID_EPOCH = 1_000_000


def build_optimizer(config: OptimizerConfig, updates: int | None = None) -> keras.optimizers.Optimizer:
    """The optimizer ``config`` names; with ``final_learning_rate`` set and the run's
    number of ``updates`` known, its rate decays linearly over them."""
    rate = config.learning_rate
    if config.final_learning_rate and updates:
        rate = keras.optimizers.schedules.PolynomialDecay(rate, updates, config.final_learning_rate, power=1.0)
    if config.name == "adam":
        return keras.optimizers.Adam(rate, beta_1=config.beta_1, beta_2=config.beta_2)
    return keras.optimizers.SGD(rate, momentum=config.momentum, nesterov=config.nesterov)


def build_round(config: TrainConfig, rounds: int | None = None, warmup_rounds: int = 0) -> FourStepRound:
    """Fresh networks and optimizers for ``config``, seeded, wired into the four-step round.

    ``rounds`` (and D's ``warmup_rounds`` before them): how many rounds the run trains,
    for optimizers whose learning rate decays over the run.
    """
    keras.utils.set_random_seed(config.seed)  # weight initialisers
    family = model_family(config.model)
    generator, discriminator = family.build_generator(config), family.build_discriminator(config)
    if config.teacher_discriminator:  # distillation: D starts as the teacher's (training/distill.py)
        distill.start_from_teacher(discriminator, config)
    average = None
    if config.generator_average > 0:  # built after G and D: their first weights are as without it
        average = averaging.GeneratorAverage(generator, family.build_generator(config), config.generator_average)
    return round_for(config, generator, discriminator, rounds=rounds, warmup_rounds=warmup_rounds, average=average)


def round_for(config: TrainConfig, generator, discriminator, *, seed: int | None = None,
              rounds: int | None = None, warmup_rounds: int = 0, average=None) -> FourStepRound:
    """The four-step round over given networks, with fresh optimizers from ``config``.

    For callers that bring their own networks (QAT fine-tuning, benchmarks); ``seed``
    overrides the noise seed. A config with a teacher adds the imitation term to G's loss
    (training/distill.py), QAT fine-tuning of a distilled run included. ``average``: the
    generator's weight average the round keeps (training/averaging.py), or None.
    """
    family = model_family(config.model)
    # A family may prepare its real samples before step (a) (progan: the fade-in blend);
    # distillation by imitation alone replaces the round (training/distill.py).
    round_class = distill.ImitationRound if config.imitation_only else getattr(family, "ROUND", FourStepRound)
    # The round says how often it steps G; D is stepped in (a) and (c), and its warm-up
    # rounds are those two steps alone.
    g_updates = None if rounds is None else round_class.G_UPDATES_PER_ROUND * rounds
    d_updates = None if rounds is None else 2 * (rounds + warmup_rounds)
    round_ = round_class(
        generator,
        discriminator,
        build_optimizer(config.g_optimizer, g_updates),
        build_optimizer(config.d_optimizer, d_updates),
        latent_dim=config.latent_dim,
        latent_distribution=config.latent_distribution,
        loss_mode=config.loss_mode,
        seed=config.seed if seed is None else seed,
        r1_gamma=config.r1_gamma,
        r2_gamma=config.r2_gamma,
        generator_penalty=distill.imitation_penalty(config),
        average=average,
    )
    if config.jit_compile:
        # The round alone: the loop around it pulls batches from an iterator, which XLA
        # cannot compile.
        round_.round = tf.function(round_.round, jit_compile=True)
    return round_


def build_checkpoint(round_: FourStepRound, epoch: tf.Variable) -> tf.train.Checkpoint:
    """Everything a resumed run needs: weights, both optimizers, the noise state, the epoch,
    and the generator's average where the run keeps one (training/averaging.py)."""
    average = {} if round_.average is None else {
        averaging.CHECKPOINT_KEY: round_.average.model,
        "average_images_seen": round_.average.images_seen,
    }
    return tf.train.Checkpoint(
        generator=round_.generator,
        discriminator=round_.discriminator,
        g_optimizer=round_.g_optimizer,
        d_optimizer=round_.d_optimizer,
        noise=round_.noise,
        epoch=epoch,
        **average,
    )


def train(
    config: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
    on_rounds: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    on_decode: Callable[[int, int], None] | None = None,
    on_data: Callable[[str], None] | None = None,
    strategy: str = "default",
) -> TrainResult:
    # "default" is the single-device path; the others: training/distribute.py. A
    # strategy is how a run is computed, not what it computes: it is not in the config,
    # and a run may be resumed under another one.
    started = time.process_time()
    plan = distribute.plan_for(strategy, config)
    # A user's pictures: the shape the networks are built for, fixed before the run folder
    # records the config (a resumed run's config has it already).
    config = resolve_image_shape(config)
    # Before the run folder: data that cannot be used is refused with nothing made.
    data = load_training_data(config, model_family(config.model).DATA, on_progress=on_decode)
    if on_data is not None:
        on_data(data.source)
    callbacks = dict(on_epoch=on_epoch, on_rounds=on_rounds, on_start=on_start, should_stop=should_stop, data=data)
    if plan is not None and not plan.chief:  # another worker: reads the chief's run folder, writes nothing in it
        return _train(config, RunFolder.open(out_dir) if resume else RunFolder(Path(out_dir)), plan,
                      resume=resume, **callbacks)
    if resume:
        result = _train(config, RunFolder.resume(out_dir, config), plan, resume=True, **callbacks)
    else:
        with RunFolder.new(out_dir, config) as run:  # taken back if the run fails before its first checkpoint
            result = _train(config, run, plan, resume=False, **callbacks)
    # What the run cost, from the data's loading on: the figure a CPU budget is judged by.
    result.run.add_cpu_seconds(time.process_time() - started)
    return result


def _train(config: TrainConfig, run: RunFolder, plan, *, resume: bool, on_epoch, on_rounds, on_start,
           should_stop, data) -> TrainResult:
    chief = plan is None or plan.chief
    if data.fingerprint is not None and chief:
        if resume:
            run.check_data(data.fingerprint)
        else:
            run.record_data(data.fingerprint)
    samples = batch_source(data)
    steps_per_epoch = math.ceil(len(data.samples) / config.batch_size)
    if on_start is not None:
        on_start(steps_per_epoch)

    def batches(epoch_number: int, skip: int | None = None):
        if plan is None:
            dataset = epoch_batches(samples, config.batch_size, config.seed, epoch_number)
            return dataset if skip is None else dataset.skip(skip)
        return plan.epoch_batches(samples, config.batch_size, config.seed, epoch_number, skip or 0)

    # The run's length, for learning rates that decay over it (D's warm-up epoch included).
    length = {"rounds": config.epochs * steps_per_epoch,
              "warmup_rounds": steps_per_epoch if config.pretrain_discriminator else 0}
    if plan is None:
        round_ = build_round(config, **length)
    else:
        with plan.strategy.scope():
            round_ = distribute.DistributedRound(build_round(config, **length), plan.strategy)
    growth = growth_driver(config, round_)  # progan: moves the fade-in between compiled calls
    epoch = tf.Variable(0, dtype=tf.int64, name="epoch")
    checkpoint = build_checkpoint(round_, epoch)
    # Where a stop inside an epoch left off (JSON: epoch, round, sums); "" at epoch ends.
    position = tf.Variable("", dtype=tf.string, name="position")
    checkpoint.position = position
    manager = tf.train.CheckpointManager(checkpoint, run.checkpoints, max_to_keep=3)
    records: list[dict[str, Any]] = []
    if resume:
        _restore(checkpoint, build_checkpoint(round_, epoch), manager, run)
        records = [r for r in run.read_metrics() if r["epoch"] <= int(epoch.numpy())]
        if chief:  # last: a resume refused above has changed nothing in the run
            run.save_config(config)
    resume_at = json.loads(position.numpy().decode()) if position.numpy() else None
    stop = should_stop or (lambda: False)

    def save(number: int, where: str) -> str:
        _check_weights_finite(round_, where, manager.latest_checkpoint)
        if not chief:
            plan.save_elsewhere(checkpoint, number)
            return str(run.checkpoints / f"ckpt-{number}")  # the chief's
        return manager.save(checkpoint_number=number)

    evaluator = evaluator_for(config)(config, run, data) if chief else distribute.NoEvaluator()
    if growth is not None and hasattr(evaluator, "resolution_done"):
        growth.on_resolution_done = lambda resolution: evaluator.resolution_done(resolution, round_.published)
    writer = tf.summary.create_file_writer(str(run.tensorboard)) if chief else distribute.NoWriter()
    first = int(epoch.numpy()) + 1
    if first == 1 and resume_at is None:
        if config.pretrain_discriminator:
            round_.run_pretrain_rounds(iter(batches(0)), tf.constant(steps_per_epoch))
        with writer.as_default(step=0):
            evaluator.observe(0, round_.published)  # the untrained generator: snapshots, grids
        if stop() and config.epochs > 0:
            position.assign(json.dumps({"epoch": 1, "round": 0, "sums": {}}))
            saved = save(_MID_EPOCH, "after the warm-up")
            return TrainResult(run, records, (1, 0, steps_per_epoch), saved)

    for epoch_number in range(first, config.epochs + 1):
        skip, sums = 0, {}
        if resume_at is not None and resume_at["epoch"] == epoch_number:
            skip, sums = resume_at["round"], _sums_from_json(resume_at["sums"])
        resume_at = None
        iterator = iter(batches(epoch_number, skip))
        done = train_epoch(round_, iterator, steps_per_epoch, config, on_rounds,
                           epoch=epoch_number, start=skip, sums=sums, stop=stop, growth=growth)
        if done < steps_per_epoch:  # stopped inside the epoch
            saved = manager.latest_checkpoint
            if done > skip:  # else the checkpoint restored from is this very state
                position.assign(json.dumps({"epoch": epoch_number, "round": done, "sums": _sums_to_json(sums)}))
                saved = save(epoch_number * _MID_EPOCH + done, f"epoch {epoch_number}, round {done}")
            return TrainResult(run, records, (epoch_number, done, steps_per_epoch), saved)
        record = {"epoch": epoch_number, **epoch_record(sums, steps_per_epoch)}
        if growth is not None:
            record.update(growth.record())  # resolution, alpha
        _check_finite(record)
        with writer.as_default(step=epoch_number):
            if epoch_number % config.eval_every == 0 or epoch_number == config.epochs:
                record.update(evaluator.observe(epoch_number, round_.published))
                if round_.average is not None:
                    # The live generator beside the average it publishes: what averaging buys.
                    live = evaluator.measure(round_.generator)
                    record.update({f"live_{name}": value for name, value in live.items()})
            for name, value in record.items():
                if name != "epoch":
                    tf.summary.scalar(name, value)
        records.append(record)
        # Metrics first, checkpoint second: a crash in between is redone on resume.
        if chief:
            run.write_metrics(records)
        epoch.assign(epoch_number)
        position.assign("")
        saved = save(epoch_number, f"the end of epoch {epoch_number}")
        if on_epoch is not None:
            on_epoch(record)
        if epoch_number < config.epochs and stop():
            return TrainResult(run, records, (epoch_number + 1, 0, steps_per_epoch), saved)

    writer.flush()
    if records:
        evaluator.finish(records)
    return TrainResult(run, records)


def train_epoch(round_, iterator, steps: int, config: TrainConfig, on_rounds=None, *,
                epoch: int, sums: dict, start: int = 0, stop: Callable[[], bool] | None = None,
                growth=None) -> int:
    """Rounds ``start`` to ``steps`` of an epoch, in one compiled call or in calls of
    ``rounds_per_call`` rounds; adds to ``sums`` and returns the rounds done, fewer
    than ``steps`` when ``stop()`` said so between two calls. ``epoch_record(sums, steps)``
    is then the epoch's line of metrics.

    The one epoch driver: ``train`` and QAT fine-tuning (``gan_edge.export.qat``) both run it.
    A non-finite loss raises ``TrainingDiverged`` before its rounds are added."""
    chunk = config.rounds_per_call or steps
    done = start
    while done < steps:
        size = min(chunk, steps - done)
        totals = {name: value.numpy() for name, value in round_.run_rounds(iterator, tf.constant(size)).items()}
        bad = [name for name in ("d_loss", "g_loss") if not math.isfinite(totals[name])]
        if bad:
            raise TrainingDiverged(
                f"training diverged at epoch {epoch}, rounds {done + 1}-{done + size} of {steps}: "
                f"{', '.join(bad)} is not finite; nothing of this epoch was saved, the last good "
                "checkpoint is kept (lower the learning rates to train further)"
            )
        if growth is not None:  # the real images these rounds showed: (a) judged each once
            growth.advance(int(totals["tp"] + totals["fn"]))
        for name, value in totals.items():
            # Losses come back as means over the call's rounds: weigh them by its size.
            weight = size if name in ("d_loss", "g_loss") else 1
            sums[name] = sums.get(name, 0) + value * weight
        done += size
        if on_rounds is not None:
            on_rounds(size)
        if done < steps and stop is not None and stop():
            break
    return done


def epoch_record(sums: dict, steps: int) -> dict[str, float | int]:
    """``train_epoch``'s sums as the epoch's metrics: losses as means per round, counts as totals."""
    return {
        name: float(value / steps) if name in ("d_loss", "g_loss") else int(value)
        for name, value in sums.items()
    }


# Sums round-trip exactly and keep their numpy types, so a resumed epoch adds up
# the same way as one never stopped (float32 losses, int64 counts).
def _sums_to_json(sums: dict) -> dict:
    return {name: [float(v), "float32"] if isinstance(v, np.floating) else [int(v), "int64"]
            for name, v in sums.items()}


def _sums_from_json(data: dict) -> dict:
    return {name: np.dtype(kind).type(value) for name, (value, kind) in data.items()}


def _check_weights_finite(round_, where: str, last_good: str | None) -> None:
    """Refuse to checkpoint NaN or inf: a diverged run keeps its last good checkpoint."""
    groups = {
        "generator": round_.generator.weights,
        "discriminator": round_.discriminator.weights,
        "generator optimizer": list(round_.g_optimizer.variables),
        "discriminator optimizer": list(round_.d_optimizer.variables),
    }
    for group, variables in groups.items():
        for variable in variables:
            if variable.dtype.is_floating and not np.isfinite(variable.numpy()).all():
                kept = f"the last good checkpoint {last_good} is kept" if last_good else "no checkpoint was written"
                raise TrainingDiverged(
                    f"training diverged at {where}: the {group}'s {variable.name} holds NaN or inf, "
                    f"so no checkpoint was written; {kept} (lower the learning rates to train further)"
                )


def _restore(checkpoint: tf.train.Checkpoint, without_position: tf.train.Checkpoint, manager, run: RunFolder) -> None:
    if manager.latest_checkpoint is None:
        raise RunFolderError(f"{run.path} has no checkpoint to resume from (in {run.checkpoints})")
    try:
        # Checkpoints written before stops were resumable have no position: they are epoch ends.
        names = {name for name, _ in tf.train.list_variables(manager.latest_checkpoint)}
        if not any(name.startswith("position/") for name in names):
            checkpoint = without_position
        checkpoint.restore(manager.latest_checkpoint).assert_existing_objects_matched()
    except (AssertionError, ValueError) as exc:
        raise RunFolderError(
            f"{manager.latest_checkpoint} does not match this model: {_first_line(exc)} (nothing was changed)"
        ) from None
    # A truncated data file surfaces as IndexError from TensorFlow's reader, other damage as an OpError.
    except (IndexError, tf.errors.OpError) as exc:
        raise RunFolderError(
            f"{manager.latest_checkpoint} cannot be read ({_first_line(exc)}): the checkpoint is damaged; "
            f"restore {run.checkpoints} from a copy, or train a new run (nothing was changed)"
        ) from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _check_finite(record: dict[str, Any]) -> None:
    bad = [k for k in ("d_loss", "g_loss") if not math.isfinite(record[k])]
    if bad:
        raise TrainingDiverged(
            f"training diverged at epoch {record['epoch']}: {', '.join(bad)} is not finite; "
            "the last good checkpoint is kept"
        )
