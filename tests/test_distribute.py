"""The four-step round under tf.distribute: MirroredStrategy on two logical CPU devices,
and MultiWorkerMirroredStrategy with two local worker processes on 127.0.0.1.

What is compared, and why it can be: replica k trains on the k-th slice of each global
batch and of each round's latents (drawn once, as one device draws them), losses are
sums over the global batch, gradients and counts are summed over replicas. So a
distributed run computes the single device's rounds, and differs only in the order of
floating-point sums: we require losses within a relative 1e-5 and equal confusion counts
after 3 toy epochs (measured: 6e-7, counts equal).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gan_edge.errors import ConfigError

# The runs compared here have different lengths (3 and 4 epochs), and a decaying rate
# decays over the length configured: the toy's default rates are held constant (its R1,
# which each replica computes on its slice, stays on).
CONFIG = {"data_samples": 1000, "eval_every": 1000, "eval_samples": 500,
          "d_optimizer": {"final_learning_rate": 0.0}, "g_optimizer": {"final_learning_rate": 0.0}}
LOSS_TOLERANCE = 1e-5
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh process: the CPU must be split into two devices before TF initialises.
MIRRORED = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from gan_edge.training import distribute
    from gan_edge.training.config import default_config
    from gan_edge.training.train import train

    out, overrides = sys.argv[1], json.loads(sys.argv[2])
    book = default_config("toy2d").with_overrides({**overrides, "epochs": 3})
    standard = book.with_overrides({"loss_mode": "standard", "epochs": 1})
    average = {"generator_average": 0.05, "eval_every": 1}
    result = {
        "replicas": distribute.plan_for("mirrored", book).strategy.num_replicas_in_sync,
        "default": train(book.with_overrides({"epochs": 4}), out + "/default").records,
        "mirrored": train(book, out + "/mirrored", strategy="mirrored").records,
        # A strategy is not part of the experiment: the mirrored run continues on one device.
        "resumed": train(book.with_overrides({"epochs": 4}), out + "/mirrored", resume=True).records,
        "standard_default": train(standard, out + "/sd").records,
        "standard_mirrored": train(standard, out + "/sm", strategy="mirrored").records,
        # The generator's weight average moves in the cross-replica context, once a round.
        "average_default": train(standard.with_overrides(average), out + "/ad").records,
        "average_mirrored": train(standard.with_overrides(average), out + "/am", strategy="mirrored").records,
    }
    print("RESULT " + json.dumps(result))
""")


def _assert_same_losses(ours: list[dict], reference: list[dict]) -> None:
    assert [r["epoch"] for r in ours] == [r["epoch"] for r in reference[:len(ours)]]
    for mine, ref in zip(ours, reference):
        for name in ("d_loss", "g_loss"):
            assert mine[name] == pytest.approx(ref[name], rel=LOSS_TOLERANCE), (mine["epoch"], name)
        assert [mine[k] for k in ("tp", "fn", "fp", "tn")] == [ref[k] for k in ("tp", "fn", "fp", "tn")]


@pytest.fixture(scope="module")
def mirrored(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("mirrored")
    done = subprocess.run([sys.executable, "-c", MIRRORED, str(out), json.dumps(CONFIG)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    line = next(l for l in done.stdout.splitlines() if l.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def test_mirrored_on_two_devices_matches_one_device(mirrored):
    assert mirrored["replicas"] == 2
    assert len(mirrored["mirrored"]) == 3
    _assert_same_losses(mirrored["mirrored"], mirrored["default"])
    # Counts are summed over replicas: every sample of the epoch is counted once.
    assert all(r["tp"] + r["fn"] == CONFIG["data_samples"] for r in mirrored["mirrored"])
    _assert_same_losses(mirrored["standard_mirrored"], mirrored["standard_default"])


def test_mirrored_run_averages_the_generator_as_one_device(mirrored):
    _assert_same_losses(mirrored["average_mirrored"], mirrored["average_default"])
    (ours,), (reference,) = mirrored["average_mirrored"], mirrored["average_default"]
    # The published (averaged) generator and the live one, each measured as on one device.
    for name in ("mean_err", "std_err", "live_mean_err", "live_std_err"):
        assert ours[name] == pytest.approx(reference[name], rel=1e-3, abs=1e-5), name
    assert ours["mean_err"] != ours["live_mean_err"]


def test_mirrored_run_resumes_on_one_device(mirrored):
    _assert_same_losses(mirrored["resumed"], mirrored["default"])
    assert len(mirrored["resumed"]) == 4


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _train_two_workers(tmp_path: Path, out: Path, epochs: int, *extra: str) -> list[str]:
    """Launch worker 0 (the chief) and worker 1 on loopback; return their logs."""
    config = tmp_path / "config.json"
    config.write_text(json.dumps(CONFIG))
    cluster = {"worker": [f"127.0.0.1:{port}" for port in _free_ports(2)]}
    processes, logs = [], []
    try:
        for index in range(2):
            scratch = tmp_path / f"tmp-worker{index}"
            scratch.mkdir(exist_ok=True)
            log = tmp_path / f"worker{index}-{epochs}.log"
            logs.append(log)
            env = {**ENV, "TMPDIR": str(scratch),
                   "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})}
            command = [sys.executable, "-m", "gan_edge.cli.main", "train", "toy2d", "--epochs", str(epochs),
                       "--config", str(config), "--out", str(out), "--strategy", "multiworker", *extra]
            processes.append(subprocess.Popen(command, cwd=ROOT, env=env, stdout=open(log, "w"),
                                              stderr=subprocess.STDOUT))
        for process, log in zip(processes, logs):
            assert process.wait(timeout=150) == 0, log.read_text()[-3000:]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
    return [log.read_text() for log in logs]


def _metrics(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line]


@pytest.mark.slow
def test_two_workers_train_checkpoint_on_the_chief_and_resume(tmp_path, mirrored):
    out = tmp_path / "run"
    chief_log, worker_log = _train_two_workers(tmp_path, out, 2)
    assert "epoch 2/2" in chief_log and "epoch 2/2" in worker_log
    names = lambda: sorted(p.name for p in (out / "checkpoints").iterdir() if p.suffix == ".index")  # noqa: E731
    assert names() == ["ckpt-1.index", "ckpt-2.index"]  # one per epoch, by the chief
    # The non-chief saved into a temporary folder and deleted it.
    assert not any((tmp_path / "tmp-worker1").iterdir())

    _train_two_workers(tmp_path, out, 3, "--resume")
    assert names() == ["ckpt-1.index", "ckpt-2.index", "ckpt-3.index"]
    records = _metrics(out)
    assert [r["epoch"] for r in records] == [1, 2, 3]
    # Two workers, one replica each, compute the single device's rounds.
    _assert_same_losses(records, mirrored["default"])
    assert not any((tmp_path / "tmp-worker1").iterdir())


def test_unknown_strategy_is_refused_by_name_before_anything_is_written(tmp_path):
    from gan_edge.training.config import default_config
    from gan_edge.training.train import train

    with pytest.raises(ConfigError, match="unknown strategy 'tpu': expected one of default, mirrored, multiworker"):
        train(default_config("toy2d"), tmp_path / "run", strategy="tpu")
    assert not (tmp_path / "run").exists()


def test_batch_statistics_remedies_are_refused_under_a_strategy():
    from gan_edge.training.config import default_config
    from gan_edge.training.distribute import plan_for

    config = default_config("ring8").with_overrides({"pack": 2})
    with pytest.raises(ConfigError, match="pack 2 judges whole batches, which strategy 'mirrored' splits"):
        plan_for("mirrored", config)


def test_an_xla_round_is_refused_under_a_strategy():
    from gan_edge.training.config import default_config
    from gan_edge.training.distribute import plan_for

    config = default_config("ring8")  # its preset compiles the round with XLA
    with pytest.raises(ConfigError, match="jit_compile compiles the single-device round, not strategy 'mirrored'"):
        plan_for("mirrored", config)
    assert plan_for("default", config) is None


def test_replica_slices_cover_the_global_batch_once():
    from gan_edge.training.distribute import replica_slice

    for n in (1, 7, 16, 32):
        for replicas in (1, 2, 3, 4):
            bounds = [tuple(int(v) for v in replica_slice(n, k, replicas)) for k in range(replicas)]
            assert bounds[0][0] == 0 and bounds[-1][1] == n
            assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:])), bounds
