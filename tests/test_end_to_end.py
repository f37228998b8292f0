"""From training to the edge runtime: a short real run, exported, loaded, generating.

One small run is trained and exported once for the module; each test reads it.
"""

import json
import subprocess
import sys

import numpy as np
import pytest

import gan_edge
from gan_edge.export import export_run
from gan_edge.cli.main import main
from gan_edge.errors import ConfigError, RunFolderError
from gan_edge.artifact import read_manifest
from gan_edge.training.config import default_config
from gan_edge.training.train import train

SMALL = {"epochs": 2, "data_samples": 2000, "eval_samples": 2000, "seed": 7}


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    return train(default_config().with_overrides(SMALL), tmp_path_factory.mktemp("e2e") / "run")


@pytest.fixture(scope="module")
def exported(trained_run):
    return {a.variant: a for a in export_run(trained_run.run.path)}


def test_training_writes_the_run_folder(trained_run):
    run = trained_run.run
    lines = run.metrics_file.read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]
    record = json.loads(lines[-1])
    for name in ("d_loss", "g_loss", "tp", "fn", "fp", "tn", "mean_err", "std_err", "swd", "corr", "fd"):
        assert name in record
    assert -1.0 <= record["corr"] <= 1.0 and record["fd"] >= 0.0
    # Every real sample of the epoch is counted once by step (a), every fake once by (c).
    assert record["tp"] + record["fn"] == SMALL["data_samples"]
    assert record["fp"] + record["tn"] == SMALL["data_samples"]
    assert sorted(p.name for p in run.figures.iterdir()) == ["confusion.png", "losses.png", "progress.png"]
    assert sorted(run.load_samples()) == [0, 1, 2]
    assert any(run.tensorboard.iterdir())
    assert (run.checkpoints / "checkpoint").is_file()


def test_every_evaluator_metric_reaches_tensorboard(trained_run):
    import tensorflow as tf

    tags = set()
    for events in trained_run.run.tensorboard.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(events)):
            tags |= {value.tag for value in event.summary.value}
    assert set(trained_run.records[-1]) - {"epoch"} <= tags
    assert {"corr", "fd"} <= tags


def test_training_is_reproducible_for_a_seed(trained_run, tmp_path):
    again = train(default_config().with_overrides(SMALL), tmp_path / "again")
    assert again.records == trained_run.records


def test_export_writes_each_artifact_with_its_manifest_and_report(exported, trained_run):
    assert sorted(exported) == ["float32", "int8", "onnx"]
    for artifact in exported.values():
        manifest = read_manifest(artifact.path)  # verifies the sha256 of the model file
        assert manifest.latent_dim == 4 and manifest.output_shape == (2,)
        assert manifest.source["model"] == "toy2d"
    int8 = read_manifest(exported["int8"].path)
    assert int8.input_dtype == "int8" and int8.input_quantization is not None
    assert int8.calibration_samples == 500
    report = json.loads((exported["int8"].path.parent / "report.json").read_text())
    assert {a["variant"] for a in report["artifacts"]} == {"float32", "int8", "onnx"}
    for entry in [report["float_generator"], *report["artifacts"]]:
        assert {"mean_err", "std_err", "swd", "corr", "fd"} <= set(entry)


def test_export_report_sees_a_tilted_cloud(trained_run):
    from gan_edge.export import fidelity

    config = trained_run.run.config()
    task = fidelity.task_target(config)
    assert (task.mean, task.std) == (config.data_mean, config.data_std)  # fd's analytic target
    # the run's Gaussian, tilted: x and y correlated 0.5, each axis still N(mean, std)
    rng = np.random.default_rng(0)
    tilted = (rng.normal(size=(20_000, 2)) @ np.linalg.cholesky([[1.0, 0.5], [0.5, 1.0]]).T * config.data_std
              + np.asarray(config.data_mean))
    measured = fidelity.task_metrics(tilted, task)
    assert tuple(measured) == fidelity.TASK_METRICS
    # per axis within the toy benchmark's 0.1 (the reference is only 2,000 points), yet corr 0.5
    assert measured["mean_err"] < 0.1 * config.data_std and measured["std_err"] < 0.1 * config.data_std
    assert abs(measured["corr"] - 0.5) < 0.02 and measured["fd"] > 0.1 * config.data_std**2


def test_artifacts_draw_what_the_float_generator_draws(exported):
    assert exported["float32"].fidelity["psnr_db"] > 80
    assert exported["onnx"].fidelity["psnr_db"] > 80
    assert 30 < exported["int8"].fidelity["psnr_db"] < exported["float32"].fidelity["psnr_db"]


def test_edge_runtime_generates_from_every_artifact(exported):
    samples = {name: gan_edge.load(a.path).generate(5000, seed=3) for name, a in exported.items()}
    for name, points in samples.items():
        assert points.shape == (5000, 2) and points.dtype == np.float32, name
    np.testing.assert_allclose(samples["float32"], samples["onnx"], atol=1e-4)
    # int8 is a step of its output scale away from float, not a different distribution.
    scale = read_manifest(exported["int8"].path).output_quantization.scale
    assert np.abs(samples["int8"] - samples["float32"]).mean() < 4 * scale


def test_export_refuses_to_overwrite(exported, trained_run):
    before = exported["int8"].path.read_bytes()
    with pytest.raises(RunFolderError, match="already exists"):
        export_run(trained_run.run.path, formats=("int8",))
    assert exported["int8"].path.read_bytes() == before


def test_export_refuses_unknown_formats_before_work(trained_run, tmp_path):
    with pytest.raises(ConfigError, match="unknown export format 'int4'"):
        export_run(trained_run.run.path, tmp_path, formats=("float32", "int4"))
    assert not any(tmp_path.iterdir())


def test_export_gate_refuses_and_writes_nothing(trained_run, tmp_path):
    from gan_edge.export.tflite import ExportError

    with pytest.raises(ExportError, match=r"int8 artifact refused: psnr_db .* below the gate 200.0 dB"):
        export_run(trained_run.run.path, tmp_path, formats=("int8",), min_psnr_db={"int8": 200.0})
    assert [p.name for p in tmp_path.iterdir()] == []


def test_cli_generate_writes_npy(exported, tmp_path, capsys):
    out = tmp_path / "points.npy"
    assert main(["generate", str(exported["int8"].path), "-n", "300", "--seed", "1", "--out", str(out)]) == 0
    points = np.load(out)
    assert points.shape == (300, 2) and points.dtype == np.float32
    assert "wrote" in capsys.readouterr().out


def test_cli_train_and_export(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "toy2d", "--epochs", "1", "--seed", "2", "--out", str(run_dir)]) == 0
    assert f"run folder: {run_dir}" in capsys.readouterr().out
    assert main(["export", str(run_dir), "--formats", "int8", "--out", str(tmp_path / "art")]) == 0
    assert (tmp_path / "art" / "generator_int8.tflite").is_file()
    assert ", corr " in capsys.readouterr().out  # the printed line shows what report.json holds


def test_cli_trains_with_the_pairing_loss_and_both_penalties(tmp_path, capsys):
    run_dir, config = tmp_path / "run", tmp_path / "r3gan.json"
    config.write_text('{"r1_gamma": 1.0, "r2_gamma": 1.0, "data_samples": 640}')
    assert main(["train", "toy2d", "--loss-mode", "rpgan", "--config", str(config), "--epochs", "1",
                 "--out", str(run_dir)]) == 0
    recorded = json.loads((run_dir / "config.json").read_text())
    assert (recorded["loss_mode"], recorded["r1_gamma"], recorded["r2_gamma"]) == ("rpgan", 1.0, 1.0)
    (record,) = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert np.isfinite(record["d_loss"]) and record["tp"] + record["fn"] == 640


def test_cli_trains_and_exports_the_generator_average(tmp_path):
    run_dir, config = tmp_path / "run", tmp_path / "small.json"
    config.write_text('{"data_samples": 640}')
    assert main(["train", "toy2d", "--generator-average", "0.05", "--config", str(config), "--epochs", "1",
                 "--out", str(run_dir)]) == 0
    assert json.loads((run_dir / "config.json").read_text())["generator_average"] == 0.05
    (record,) = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert "mean_err" in record and "live_mean_err" in record
    assert main(["export", str(run_dir), "--formats", "float32", "--out", str(tmp_path / "art")]) == 0


def test_cli_cpu_budget_stops_cleanly_and_the_run_counts_its_cpu_time(tmp_path, capsys):
    run_dir, config = tmp_path / "run", tmp_path / "small.json"
    config.write_text('{"data_samples": 6400}')
    # A budget spent at the first look: the run stops with a checkpoint, and exits 0.
    assert main(["train", "toy2d", "--config", str(config), "--epochs", "2", "--cpu-minutes", "0.0001",
                 "--out", str(run_dir)]) == 0
    err = capsys.readouterr().err
    assert "stopped by its budget of 0.0001 CPU-minutes" in err
    assert f"resume with: gan-edge train toy2d --resume --out {run_dir} --cpu-minutes MINUTES" in err
    assert not (run_dir / "metrics.jsonl").exists()  # no epoch was finished
    spent = float((run_dir / "cpu_seconds.txt").read_text())
    assert spent > 0
    # Resumed without a budget it finishes, and the count adds this command's time.
    assert main(["train", "toy2d", "--resume", "--out", str(run_dir)]) == 0
    assert [r["epoch"] for r in map(json.loads, (run_dir / "metrics.jsonl").read_text().splitlines())] == [1, 2]
    assert float((run_dir / "cpu_seconds.txt").read_text()) > spent


def test_a_damaged_cpu_count_is_refused_naming_the_file(tmp_path, capsys):
    run_dir = tmp_path / "run"
    assert main(["train", "toy2d", "--epochs", "1", "--out", str(run_dir)]) == 0
    (run_dir / "cpu_seconds.txt").write_text("lots")
    assert main(["train", "toy2d", "--resume", "--epochs", "2", "--out", str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert f"{run_dir / 'cpu_seconds.txt'} is not a count of CPU seconds" in err and "'lots'" in err
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 1  # refused before training epoch 2


@pytest.mark.parametrize(
    "argv, message",
    [
        (["train", "toy2d", "--epochs", "-3"], "epochs must be 0 or more, got -3"),
        (["train", "bigan"], "unknown model 'bigan'"),
        (["train", "toy2d", "--generator-average", "1.5"], "generator_average must be 0 (off) or a fraction in (0, 1)"),
        (["generate", "nowhere.tflite", "-n", "3", "--out", "x.npy"], "no model file at nowhere.tflite"),
        (["export", "no-such-run"], "no run folder at no-such-run"),
    ],
)
def test_cli_errors_are_one_line_with_status_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_cli_refuses_a_config_file_with_an_unknown_key(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text('{"epochs": 2, "learning_rate": 0.1}')
    assert main(["train", "toy2d", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    assert "unknown key 'learning_rate' in config" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    "overrides, message",
    [
        ('{"r1_gamma": -2}', "r1_gamma must be 0 (off) or a positive finite number, got -2.0"),
        ('{"r1_gamma": NaN}', "r1_gamma must be 0 (off) or a positive finite number, got nan"),
        ('{"g_optimizer": {"final_learning_rate": -1e-5}}',
         "final_learning_rate must be 0 (constant rate) or in (0, learning_rate 0.002], got -1e-05"),
        ('{"d_optimizer": {"learning_rate": 1e-3, "final_learning_rate": 0.01}}',
         "final_learning_rate must be 0 (constant rate) or in (0, learning_rate 0.001], got 0.01"),
    ],
)
def test_cli_refuses_a_bad_regulariser_or_schedule_and_writes_nothing(overrides, message, tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(overrides)
    assert main(["train", "toy2d", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "run").exists()


def test_cli_refuses_a_folder_holding_another_run(trained_run, capsys):
    before = trained_run.run.config_file.read_bytes()
    assert main(["train", "toy2d", "--epochs", "1", "--out", str(trained_run.run.path)]) == 2
    assert "already holds another run" in capsys.readouterr().err
    assert trained_run.run.config_file.read_bytes() == before


def test_cli_not_a_model_in_a_real_process(tmp_path):
    fake = tmp_path / "model.tflite"
    fake.write_bytes(b"this is not a flatbuffer" * 10)
    result = subprocess.run(
        [sys.executable, "-m", "gan_edge.cli.main", "generate", str(fake), "-n", "2", "--out", str(tmp_path / "o.npy")],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert str(fake) in result.stderr
    assert not (tmp_path / "o.npy").exists()
