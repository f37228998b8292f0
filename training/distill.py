"""Distillation: a small generator learns to draw what a trained one draws (issue 24).

The student is an ordinary dcgan run (``--preset mcu``: the microcontroller's generator)
whose config names a teacher, the run folder of a trained dcgan. It trains by the usual
four-step round with one term more in G's loss in steps (b) and (d) (the round's
``generator_penalty``): ``imitation_weight`` times the mean absolute difference between
the student's picture and the teacher's for the same latents z, per sample. The
imitation term ties each latent to the teacher's digit, so the student inherits the
teacher's modes instead of finding its own; the adversarial steps keep its pictures sharp
where plain regression onto the teacher would average what it cannot fit (the output
distillation of Aguinaldo et al., 2019, and GAN Compression, Li et al., 2020).

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
from gan_edge.training.models import output_shape
from gan_edge.training.run import RunFolder

__all__ = ["DISTILLATION", "TEACHER_SETTINGS", "student_config", "teacher_path", "check_teacher",
           "load_teacher", "imitation_penalty", "start_from_teacher"]

STUDENT_MODEL = "dcgan"  # the family of every preset distill trains, and of the teachers it takes
# What the student takes from its teacher: the same data, and the same latents, so that one
# z feeds both networks.
TEACHER_SETTINGS = ("data_dir", "data_path", "data_limit", "resolution", "channels", "background", "skip_bad",
                    "latent_dim", "latent_distribution")
# What `gan-edge distill` adds to the student's preset (--config overrides it). Screened with
# the mcu preset on seed 7 against an early teacher (the book's DCGAN after 9 epochs, FCD
# 54.0), the run's own FCD on 2,000 samples after epochs 1, 2, 3 (about 2 CPU-minutes each):
# weight 10 with D from the teacher's 178.8, 121.3, 110.0; weight 10 with a fresh D 195.1 (9
# digits), 129.4, 117.5; weight 30 with D from the teacher's 243.4 (8 digits), 141.3.
# benchmarks/distill_mcu.py measures the result on a fresh seed (docs/firmware.md).
DISTILLATION: dict[str, Any] = {"imitation_weight": 10.0, "teacher_discriminator": True}


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
