"""Distillation: a small generator learns to draw what a trained one draws (issue 24).

The student is an ordinary dcgan run (``--preset mcu``: the microcontroller's generator)
whose config names a teacher, the run folder of a trained dcgan. Its loss is the imitation
term, ``imitation_weight`` times the mean absolute difference between the student's picture
and the teacher's for the same latents z, per sample (the output distillation of Aguinaldo
et al., 2019, and GAN Compression, Li et al., 2020). The term ties each latent to the
teacher's picture, so the student inherits the teacher's modes instead of finding its own.

By default (``imitation_only``) that term is the whole of training: ``ImitationRound``
steps G alone onto teacher(z) for fresh latents. With ``imitation_only`` off the student
plays the usual four-step round with the term added to G's loss in steps (b) and (d) (the
round's ``generator_penalty``), the adversarial steps meant to keep its pictures sharp where
regression would average what it cannot fit. Measured, the game cost more than it gave:
the comment on ``DISTILLATION`` says by how much.

The teacher is frozen (called with ``training=False``, in no optimizer) and is not part of
the student's checkpoints: a resumed run loads it again from the run folder its config
names, at that folder's last checkpoint. With ``teacher_discriminator`` the student's D
starts as the teacher's D, which already tells the teacher's digits from real ones.

``student_config`` builds a new student's config and ``check_teacher`` refuses a teacher
that cannot be imitated, both before anything is written; ``training/train.py`` asks
``imitation_penalty`` and ``start_from_teacher`` when it builds the round.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import tensorflow as tf

from gan_edge.errors import ConfigError, RunFolderError
from gan_edge.training.config import TrainConfig, default_config
from gan_edge.training.loop import FourStepRound
from gan_edge.training.models import output_shape
from gan_edge.training.run import RunFolder

__all__ = ["DISTILLATION", "TEACHER_SETTINGS", "student_config", "teacher_path", "check_teacher",
           "load_teacher", "imitation_penalty", "start_from_teacher", "ImitationRound"]

STUDENT_MODEL = "dcgan"  # the family of every preset distill trains, and of the teachers it takes
# What the student takes from its teacher: the same data, and the same latents, so that one
# z feeds both networks.
TEACHER_SETTINGS = ("data_dir", "data_path", "data_limit", "resolution", "channels", "background", "skip_bad",
                    "latent_dim", "latent_distribution")
# What `gan-edge distill` adds to the student's preset (--config overrides it): imitation
# alone (``ImitationRound``), G at Adam 1e-3 with beta_1 0.9 (a regression, not a game).
# Measured on the mcu preset, FCD on 2,000 samples: the four-step round with the imitation
# term at weight 10 and D from the teacher's reached 52.8 (int8) in 30 CPU-minutes from a
# teacher of FCD 29.6, and 105.9 in 15 from one of 24.2 (docs/firmware.md). From that second
# teacher, a screen of regression alone onto a bank of 50,000 of its pictures (seed 5)
# reached 27.7 after 3 CPU-minutes and 26.3 after 7; imitation alone through this round
# (fresh latents every round, so each round costs a teacher pass; seed 7) 26.3 in int8 after
# 8.1. benchmarks/distill_mcu.py measures the default on a fresh seed (docs/firmware.md).
# ``imitation_only: false`` keeps the game.
DISTILLATION: dict[str, Any] = {"imitation_weight": 10.0, "imitation_only": True,
                                "g_optimizer": {"learning_rate": 1e-3, "beta_1": 0.9}}


def teacher_path(teacher_dir: str | Path) -> str:
    """The teacher as a config names it: absolute, so the run can be resumed from anywhere."""
    return str(Path(teacher_dir).expanduser().resolve())


def student_config(teacher_dir: str | Path, preset: str = "mcu", overrides: dict[str, Any] | None = None) -> TrainConfig:
    """A new student: the dcgan ``preset``, the teacher's data and latent settings, the
    distillation's defaults, then ``overrides``; checked against the teacher."""
    teacher = _teacher_config(teacher_path(teacher_dir))
    settings = {name: getattr(teacher, name) for name in TEACHER_SETTINGS}
    config = default_config(STUDENT_MODEL, preset).with_overrides(
        {**settings, **DISTILLATION, **(overrides or {}), "teacher": teacher_path(teacher_dir)})
    check_teacher(config)
    return config


def check_teacher(config: TrainConfig) -> None:
    """Refuse, before any work, a teacher that ``config``'s student cannot be trained on."""
    load_teacher(config)
    if config.teacher_discriminator:
        from gan_edge.training.models import model_family

        start_from_teacher(model_family(config.model).build_discriminator(config), config)


def load_teacher(config: TrainConfig):
    """The teacher's generator (``gan_edge.export.source.TrainedGenerator``), at its run's
    last checkpoint, checked to draw what ``config``'s student draws from the same latents."""
    # Export's loader is the one place a generator is rebuilt from a run folder.
    from gan_edge.export.source import load_generator

    stored = _teacher_config(config.teacher)
    if stored.model != STUDENT_MODEL:
        raise ConfigError(f"teacher {config.teacher} is a {stored.model} run: distill imitates a {STUDENT_MODEL} "
                          f"generator (train one with `gan-edge train {STUDENT_MODEL}`)")
    try:
        teacher = load_generator(config.teacher)
    except RunFolderError as exc:
        raise RunFolderError(f"teacher: {exc}") from None
    for name in ("latent_dim", "latent_distribution"):
        if getattr(stored, name) != getattr(config, name):
            raise ConfigError(f"the student must take the teacher's latents: teacher {config.teacher} has {name} "
                              f"{getattr(stored, name)!r}, the student {getattr(config, name)!r} (leave {name} "
                              "to the teacher)")
    if teacher.output_shape != output_shape(config):
        raise ConfigError(f"the student must draw the teacher's pictures: teacher {config.teacher} draws "
                          f"{teacher.output_shape}, the student would draw {output_shape(config)} (leave the data "
                          "settings to the teacher)")
    return teacher


def imitation_penalty(config: TrainConfig):
    """``(z, fakes) -> imitation_weight * mean |fakes - teacher(z)|`` per sample, for the
    four-step round's ``generator_penalty``; None without a teacher or with weight 0."""
    if not config.teacher or not config.imitation_weight:
        return None
    teacher = load_teacher(config).model
    teacher.trainable = False  # the tape then records no gradient into it
    weight = config.imitation_weight

    def penalty(z: tf.Tensor, fakes: tf.Tensor) -> tf.Tensor:
        gap = tf.abs(fakes - teacher(z, training=False))
        return weight * tf.reduce_mean(tf.reshape(gap, [tf.shape(gap)[0], -1]), axis=1)

    return penalty


def start_from_teacher(discriminator, config: TrainConfig) -> None:
    """Load the teacher's D, from its run's last checkpoint, into ``discriminator`` (built
    for ``config``); refuse one built otherwise (another pack, remedy or picture shape)."""
    checkpoint = tf.train.latest_checkpoint(str(RunFolder(Path(config.teacher)).checkpoints))
    if checkpoint is None:  # load_teacher says why in full
        raise RunFolderError(f"teacher {config.teacher} has no checkpoint to take its discriminator from")
    fix = "set teacher_discriminator to false, or distill with the teacher's pack and remedy"
    try:
        status = tf.train.Checkpoint(discriminator=discriminator).read(checkpoint)
        status.expect_partial()
        status.assert_existing_objects_matched()
    except (AssertionError, ValueError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ConfigError(f"the teacher's discriminator in {checkpoint} is not built as the student's "
                          f"({first_line}): {fix}") from None


def _teacher_config(path: str) -> TrainConfig:
    try:
        return RunFolder.open(path).config()
    except RunFolderError as exc:
        raise RunFolderError(f"teacher: {exc}") from None


class ImitationRound(FourStepRound):
    """Distillation by imitation alone (``imitation_only``): each round G draws fresh
    latents z and learns ``imitation_penalty`` (the gap to teacher(z)) and nothing else; the
    batch of real pictures sets only the round's size, and D is neither used nor trained
    (it stays as built, in the checkpoint, so the run folder is an ordinary one).

    Why a round without the game: the teacher is a deterministic map from z to a picture,
    so regression onto it has a target for every latent and no equilibrium to find, and a
    round costs one G step and a teacher pass instead of four steps through the book's D.
    Records ``g_loss`` as the imitation term and ``d_loss`` as 0 (no D step ran)."""

    G_UPDATES_PER_ROUND = 1

    def round(self, real: tf.Tensor, noise=None, global_size=None) -> dict[str, tf.Tensor]:
        n = tf.shape(real)[0]
        z = self.sample_latent(n) if noise is None else noise[0]
        with tf.GradientTape() as tape:
            loss = self._mean(self.generator_penalty(z, self.generator(z, training=True)), global_size)
        variables = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        zero = tf.constant(0, tf.int64)  # no D step, so nothing was judged
        return {"d_loss": tf.constant(0.0), "g_loss": loss, "tp": zero, "fn": zero, "fp": zero, "tn": zero}
