"""`gan-edge distill`: a small generator trained to imitate a trained one (training/distill.py).

The teacher is the session's tiny DCGAN run (conftest.py ``tiny_dcgan_run``); students
train one epoch on the same 256 digits, so each run takes seconds."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from gan_edge.errors import ConfigError
from test_own_pictures import _files, _one_line_error, _status

# The student's overrides: batches small enough for several rounds on 256 digits.
TINY_STUDENT = {"batch_size": 64, "eval_samples": 128, "rounds_per_call": 2}


@pytest.fixture(scope="module")
def tiny_json(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("distill-config") / "tiny.json"
    path.write_text(json.dumps(TINY_STUDENT))
    return path


@pytest.fixture(scope="module")
def student_run(tiny_dcgan_run, tiny_json, tmp_path_factory) -> Path:
    """`gan-edge distill TEACHER --preset mcu` for one epoch, as a user runs it."""
    out = tmp_path_factory.mktemp("distill") / "student"
    assert _status(["distill", tiny_dcgan_run, "--preset", "mcu", "--epochs", 1, "--seed", 3,
                    "--config", tiny_json, "--out", out]) == 0
    return out


def test_the_run_names_its_teacher_and_is_the_mcu_generator_on_the_teachers_data(student_run, tiny_dcgan_run):
    config = json.loads((student_run / "config.json").read_text())
    teacher = json.loads((tiny_dcgan_run / "config.json").read_text())
    assert config["teacher"] == str(tiny_dcgan_run.resolve())
    assert config["imitation_weight"] > 0 and config["imitation_only"] is True  # the default: imitation alone
    assert config["teacher_discriminator"] is False and config["g_optimizer"]["learning_rate"] == 1e-3
    assert config["generator_widths"] == [128, 32, 32] and config["r1_gamma"] == 1.0  # the mcu preset's
    for name in ("data_limit", "latent_dim", "latent_distribution", "data_dir", "data_path"):
        assert config[name] == teacher[name], name
    assert config["seed"] == 3 and config["epochs"] == 1 and config["batch_size"] == 64
    records = [json.loads(line) for line in (student_run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1] and "fcd" in records[0]


def test_gan_edge_export_takes_the_distilled_run_unchanged(student_run, tmp_path, capsys):
    import gan_edge

    before = _files(student_run)
    assert _status(["export", student_run, "--formats", "int8", "--out", tmp_path / "export"]) == 0
    images = gan_edge.load(tmp_path / "export" / "generator_int8.tflite").generate(4, seed=0)
    assert images.shape == (4, 28, 28, 1)
    assert _files(student_run) == before


def test_the_imitation_term_pulls_the_student_towards_the_teacher(tiny_dcgan_run):
    """The four-step round (``imitation_only`` off), the same student trained the same way
    with and without the imitation term: with it, its pictures on fixed latents are much
    nearer the teacher's."""
    import tensorflow as tf

    from gan_edge.export.source import load_generator
    from gan_edge.latent import sample_latent
    from gan_edge.training.data import epoch_batches
    from gan_edge.training.data.mnist import load_mnist, to_model_range
    from gan_edge.training.distill import student_config
    from gan_edge.training.train import build_round, train_epoch

    latents = sample_latent("uniform11", 64, 100, np.random.default_rng(9))
    teacher = load_generator(tiny_dcgan_run)(latents).numpy()
    gaps = {}
    for weight in (0.0, 100.0):
        # G's rate ten times the preset's: 8 rounds then show the pull clearly.
        config = student_config(tiny_dcgan_run, "mcu", {"batch_size": 32, "imitation_weight": weight,
                                                        "imitation_only": False, "teacher_discriminator": True,
                                                        "g_optimizer": {"learning_rate": 2e-3, "beta_1": 0.5}})
        digits = tf.constant(to_model_range(load_mnist().images[: config.data_limit]))
        round_ = build_round(config)
        train_epoch(round_, iter(epoch_batches(digits, config.batch_size, config.seed, 1)), 8, config,
                    epoch=1, sums={})
        gaps[weight] = float(np.abs(round_.generator(latents, training=False).numpy() - teacher).mean())
    # Measured: 0.157 against 0.291 (train() on the same settings).
    assert gaps[100.0] < 0.7 * gaps[0.0], gaps


def test_imitation_alone_trains_g_towards_the_teacher_and_leaves_d_untouched(tiny_dcgan_run):
    """``imitation_only``: every round is one step of G onto teacher(z) for fresh latents;
    D is never stepped, so its weights and optimizer stay as built."""
    import tensorflow as tf

    from gan_edge.export.source import load_generator
    from gan_edge.latent import sample_latent
    from gan_edge.training.data import epoch_batches
    from gan_edge.training.data.mnist import load_mnist, to_model_range
    from gan_edge.training.distill import ImitationRound, student_config
    from gan_edge.training.train import build_round, train_epoch

    latents = sample_latent("uniform11", 64, 100, np.random.default_rng(9))
    teacher = load_generator(tiny_dcgan_run)(latents).numpy()
    config = student_config(tiny_dcgan_run, "mcu", {"batch_size": 32, "imitation_only": True,
                                                    "g_optimizer": {"learning_rate": 2e-3}})
    digits = tf.constant(to_model_range(load_mnist().images[: config.data_limit]))
    round_ = build_round(config)
    assert isinstance(round_, ImitationRound)
    d_before = [w.numpy().copy() for w in round_.discriminator.weights]
    gap_before = float(np.abs(round_.generator(latents, training=False).numpy() - teacher).mean())
    sums: dict = {}
    train_epoch(round_, iter(epoch_batches(digits, config.batch_size, config.seed, 1)), 8, config,
                epoch=1, sums=sums)
    gap_after = float(np.abs(round_.generator(latents, training=False).numpy() - teacher).mean())
    assert gap_after < 0.85 * gap_before, (gap_before, gap_after)  # measured: 0.230 -> 0.171
    assert all(np.array_equal(a, w.numpy()) for a, w in zip(d_before, round_.discriminator.weights))
    assert int(round_.d_optimizer.iterations.numpy()) == 0 and int(round_.g_optimizer.iterations.numpy()) == 8
    assert sums["d_loss"] == 0 and sums["g_loss"] > 0 and sums["tp"] == sums["fp"] == 0
    # One G update a round, so a decaying rate reaches its end with the run's last round.
    decaying = config.with_overrides({"g_optimizer": {"final_learning_rate": 1e-6}})
    schedule = build_round(decaying, rounds=8).g_optimizer.get_config()["learning_rate"]
    assert schedule["config"]["decay_steps"] == 8, schedule


def test_resume_continues_the_distillation_and_refuses_another_teacher(student_run, tiny_dcgan_run, tmp_path,
                                                                          capsys):
    run = tmp_path / "student"
    shutil.copytree(student_run, run)
    other = tmp_path / "other-teacher"
    shutil.copytree(tiny_dcgan_run, other, ignore=shutil.ignore_patterns("targets-export", "*export*"))
    before = _files(run)
    assert _status(["distill", other, "--resume", "--out", run, "--epochs", 2]) == 2
    assert f"was trained with teacher='{tiny_dcgan_run.resolve()}'" in _one_line_error(capsys)
    assert _files(run) == before
    assert _status(["distill", tiny_dcgan_run, "--resume", "--out", run, "--epochs", 2]) == 0
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in records] == [1, 2]
    config = json.loads((run / "config.json").read_text())
    assert config["epochs"] == 2 and config["teacher"] == str(tiny_dcgan_run.resolve())


# --- refusals: one line, exit 2, nothing written -----------------------------------------

def _teacher_without_checkpoint(teacher: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "unfinished"
    folder.mkdir()
    shutil.copy(teacher / "config.json", folder / "config.json")
    return folder


def _toy_teacher(teacher: Path, tmp_path: Path) -> Path:
    from gan_edge.training.config import default_config

    folder = tmp_path / "toy"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(default_config("toy2d").to_dict()))
    return folder


@pytest.mark.parametrize("teacher, flags, message", [
    (lambda t, tmp: tmp / "absent", [], "teacher: no run folder at"),
    (lambda t, tmp: tmp, [], "it has no config.json"),
    (_teacher_without_checkpoint, [], "has no generator checkpoint"),
    (_toy_teacher, [], "is a toy2d run: distill imitates a dcgan generator"),
    (lambda t, tmp: t, ["--preset", "paper"], "unknown preset for dcgan 'paper': expected one of default, book, mcu"),
    (lambda t, tmp: t, ["--config", {"latent_dim": 64}],
     "the student must take the teacher's latents: teacher"),
    (lambda t, tmp: t, ["--config", {"pack": 2, "teacher_discriminator": True}], "the teacher's discriminator in"),
    (lambda t, tmp: t, ["--config", {"imitation_weight": -1}], "imitation_weight must be 0 or a positive"),
], ids=["no-folder", "no-config", "no-checkpoint", "not-dcgan", "unknown-preset", "other-latents",
        "other-discriminator", "negative-weight"])
def test_what_cannot_be_distilled_is_refused_with_nothing_written(tiny_dcgan_run, tmp_path, capsys, teacher,
                                                                   flags, message):
    argv = ["distill", teacher(tiny_dcgan_run, tmp_path), "--out", tmp_path / "student"]
    for flag in flags:
        if isinstance(flag, dict):  # a --config file
            (tmp_path / "overrides.json").write_text(json.dumps({**TINY_STUDENT, **flag}))
            flag = tmp_path / "overrides.json"
        argv.append(flag)
    assert _status(argv) == 2
    line = _one_line_error(capsys)
    assert line.startswith("gan-edge distill: error: ") and message in line, line
    assert not (tmp_path / "student").exists()


@pytest.mark.parametrize("overrides, message", [
    ({"imitation_weight": 1.0}, "imitation_weight, teacher_discriminator and imitation_only apply to a run with a"),
    ({"teacher_discriminator": True}, "imitation_weight, teacher_discriminator and imitation_only apply to a run"),
    ({"imitation_only": True}, "imitation_weight, teacher_discriminator and imitation_only apply to a run with a"),
    ({"teacher": "/runs/teacher", "imitation_only": True, "imitation_weight": 0.0},
     "imitation_only trains G by the imitation term alone: it needs an imitation_weight above 0"),
    ({"teacher": "runs/teacher"}, "teacher must be the absolute path of a run folder"),
    ({"teacher": "/runs/teacher", "imitation_weight": float("nan")}, "imitation_weight must be 0 or a positive"),
])
def test_the_config_refuses_distillation_settings_that_cannot_apply(overrides, message):
    from gan_edge.training.config import default_config

    with pytest.raises(ConfigError, match=message):
        default_config("dcgan", "mcu").with_overrides(overrides)
    with pytest.raises(ConfigError, match="teacher applies to dcgan only"):
        default_config("toy2d").with_overrides({"teacher": "/runs/teacher"})
