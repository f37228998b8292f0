"""Training survives SIGTERM, SIGKILL and divergence: real `gan-edge train` processes.

A stopped run writes a checkpoint where it is and prints the resume command; the
resumed run must end with exactly the weights and metrics of a run never stopped.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gan_edge.errors import GanEdgeError

EPOCHS = 3
# Small compiled calls so a stop lands inside an epoch; no per-epoch evaluation (speed).
CONFIG = {"rounds_per_call": 4, "eval_every": 1000, "pretrain_discriminator": False, "eval_samples": 500,
          "data_samples": 2000}


def _train_command(out: Path, config: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "gan_edge.cli.main", "train", "toy2d", "--epochs", str(EPOCHS),
            "--config", str(config), "--out", str(out), *extra]


def _start(command: list[str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=open(log, "w"), env=env, text=True)


def _wait_for(log: Path, text: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if text in log.read_text():
            return
        assert process.poll() is None, f"training ended before {text!r}:\n{log.read_text()}"
        time.sleep(0.05)
    process.kill()
    raise AssertionError(f"no {text!r} after {timeout} s:\n{log.read_text()}")


def _run(command: list[str], log: Path) -> int:
    process = _start(command, log)
    process.communicate(timeout=180)
    return process.returncode


def _weights(run: Path) -> dict[str, np.ndarray]:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(run / "checkpoints")))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name.startswith(("generator/", "discriminator/")) and "OPTIMIZER_SLOT" not in name}


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("crash") / "config.json"
    path.write_text(json.dumps(CONFIG))
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, config_file) -> Path:
    """The same run, never stopped."""
    out = tmp_path_factory.mktemp("reference") / "run"
    log = out.parent / "log.txt"
    assert _run(_train_command(out, config_file), log) == 0, log.read_text()
    return out


def _assert_same_as(run: Path, reference: Path) -> None:
    ours, theirs = _weights(run), _weights(reference)
    assert ours.keys() == theirs.keys() and ours
    for name in ours:
        np.testing.assert_array_equal(ours[name], theirs[name], err_msg=name)
    assert [r["epoch"] for r in _metrics(run)] == list(range(1, EPOCHS + 1))
    for mine, ref in zip(_metrics(run), _metrics(reference)):
        assert mine["d_loss"] == pytest.approx(ref["d_loss"], rel=1e-6)
        assert (mine["tp"], mine["fn"], mine["fp"], mine["tn"]) == (ref["tp"], ref["fn"], ref["fp"], ref["tn"])


def test_sigterm_saves_mid_epoch_and_resume_is_exact(tmp_path, config_file, reference):
    out, log = tmp_path / "run", tmp_path / "log.txt"
    process = _start(_train_command(out, config_file), log)
    _wait_for(log, "epoch 1/", process)
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    text = log.read_text()
    assert process.returncode == 128 + signal.SIGTERM, text
    assert "stopped by SIGTERM" in text
    assert f"resume with: gan-edge train toy2d --resume --out {out}" in text
    assert "Traceback" not in text
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(out / "checkpoints"))
    position = tf.train.load_checkpoint(latest).get_tensor("position/.ATTRIBUTES/VARIABLE_VALUE")
    if position:  # stopped inside epoch 2 (or later): the round reached is saved
        assert json.loads(position)["round"] > 0

    assert _run(_train_command(out, config_file, "--resume"), tmp_path / "resume.txt") == 0, (
        (tmp_path / "resume.txt").read_text())
    _assert_same_as(out, reference)


def test_sigkill_loses_only_the_unsaved_rounds(tmp_path, config_file, reference):
    out, log = tmp_path / "run", tmp_path / "log.txt"
    process = _start(_train_command(out, config_file), log)
    _wait_for(log, "epoch 2/", process)
    process.kill()  # SIGKILL: no handler runs, nothing is flushed
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    # An epoch is printed after its checkpoint: every epoch seen is on disk.
    printed = max(int(line.split()[1].split("/")[0]) for line in log.read_text().splitlines()
                  if line.startswith("epoch "))
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(out / "checkpoints"))
    assert latest is not None and int(latest.rsplit("-", 1)[1]) >= printed

    assert _run(_train_command(out, config_file, "--resume"), tmp_path / "resume.txt") == 0, (
        (tmp_path / "resume.txt").read_text())
    _assert_same_as(out, reference)


def _diverging_train(monkeypatch, tmp_path, corrupt):
    """Train 3 toy epochs in-process, calling ``corrupt(round_, totals)`` after epoch 2's rounds."""
    import gan_edge.training.train as train_module
    from gan_edge.training.config import default_config

    build = train_module.build_round

    def build_round(config, *args, **kwargs):
        round_ = build(config, *args, **kwargs)
        original, calls = round_.run_rounds, []

        def run_rounds(iterator, steps):
            totals = original(iterator, steps)
            calls.append(1)
            return corrupt(round_, totals) if len(calls) == 2 else totals

        round_.run_rounds = run_rounds
        return round_

    monkeypatch.setattr(train_module, "build_round", build_round)
    config = default_config("toy2d").with_overrides(
        {"epochs": 3, "eval_every": 1000, "eval_samples": 500, "pretrain_discriminator": False,
         "data_samples": 2000})
    out = tmp_path / "run"
    with pytest.raises(GanEdgeError) as caught:
        train_module.train(config, out)
    return out, str(caught.value)


def _assert_last_checkpoint_is_epoch_1_and_finite(out: Path) -> None:
    import tensorflow as tf

    latest = tf.train.latest_checkpoint(str(out / "checkpoints"))
    assert latest.endswith("ckpt-1")
    reader = tf.train.load_checkpoint(latest)
    for name, dtype in reader.get_variable_to_dtype_map().items():
        if dtype.is_floating:
            assert np.isfinite(reader.get_tensor(name)).all(), name


def test_nan_loss_stops_naming_the_epoch_and_keeps_the_last_good_checkpoint(monkeypatch, tmp_path):
    import tensorflow as tf

    def nan_loss(round_, totals):
        return {**totals, "d_loss": tf.constant(math.nan)}

    out, message = _diverging_train(monkeypatch, tmp_path, nan_loss)
    assert "training diverged at epoch 2, rounds 1-63 of 63: d_loss is not finite" in message
    _assert_last_checkpoint_is_epoch_1_and_finite(out)


def test_nan_weights_are_never_checkpointed(monkeypatch, tmp_path):
    def nan_weights(round_, totals):
        weight = round_.generator.weights[0]
        weight.assign(np.full(weight.shape, np.nan, dtype=weight.dtype.as_numpy_dtype))
        return totals  # the losses of this call were still finite

    out, message = _diverging_train(monkeypatch, tmp_path, nan_weights)
    assert "training diverged at the end of epoch 2: the generator's" in message
    assert "no checkpoint was written" in message and "ckpt-1 is kept" in message
    _assert_last_checkpoint_is_epoch_1_and_finite(out)


def test_stop_inside_an_epoch_resumes_exactly_in_process(tmp_path):
    """The mid-epoch path, made deterministic: stop after the 5th compiled call."""
    from gan_edge.training.config import default_config
    from gan_edge.training.train import train

    config = default_config("toy2d").with_overrides({**CONFIG, "epochs": 2})
    reference = train(config, tmp_path / "reference")
    calls = []
    stopped = train(config, tmp_path / "run", on_rounds=calls.append, should_stop=lambda: len(calls) >= 5)
    assert stopped.stopped_at == (1, 20, 63) and stopped.checkpoint.endswith("ckpt-1000020")
    resumed = train(config, tmp_path / "run", resume=True)
    assert resumed.stopped_at is None
    assert resumed.records == reference.records  # the epoch's sums were carried across the stop
    for name, value in _weights(tmp_path / "reference").items():
        np.testing.assert_array_equal(_weights(tmp_path / "run")[name], value, err_msg=name)


def test_train_reports_the_epoch_size_it_uses(tmp_path):
    # The CLI sizes its progress bar from this report, not from a guess at the data's length.
    from gan_edge.training.config import default_config
    from gan_edge.training.train import train

    config = default_config("toy2d").with_overrides({**CONFIG, "epochs": 1, "data_samples": 1000})
    sizes, calls = [], []
    train(config, tmp_path / "run", on_start=sizes.append, on_rounds=calls.append)
    assert sizes == [math.ceil(1000 / config.batch_size)] == [sum(calls)]
