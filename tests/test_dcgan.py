"""The MNIST DCGAN: the book's models, training through the same round, resume, evaluation, export."""

import json
import logging
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import gan_edge
from gan_edge.cli.main import main
from gan_edge.errors import ConfigError, RunFolderError
from gan_edge.training.config import default_config
from gan_edge.training.models import model_family
from gan_edge.training.train import train

# A few rounds on a slice of the real digits: enough to exercise everything, in seconds.
TINY = {"epochs": 2, "data_limit": 256, "batch_size": 64, "eval_samples": 128, "rounds_per_call": 2}


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory, mnist_classifier_cache):
    return train(default_config("dcgan").with_overrides(TINY), tmp_path_factory.mktemp("dcgan") / "run")


def test_models_follow_the_book():
    config = default_config("dcgan")
    family = model_family("dcgan")
    generator, discriminator = family.build_generator(config), family.build_discriminator(config)
    names = [layer.__class__.__name__ for layer in generator.layers]
    assert names == ["Dense", "Dense", "BatchNormalization", "Activation", "Reshape", "UpSampling2D",
                     "Conv2D", "UpSampling2D", "Conv2D"]
    assert generator.get_layer("dense_6272").units == 7 * 7 * 128
    latent = np.random.default_rng(0).uniform(-1, 1, (3, 100)).astype(np.float32)
    images = generator(latent, training=False).numpy()
    assert images.shape == (3, 28, 28, 1) and np.all(np.abs(images) <= 1)
    assert discriminator(images).shape == (3, 1)
    assert [l.kernel_size for l in discriminator.layers if hasattr(l, "kernel_size")] == [(5, 5), (5, 5)]


def test_presets():
    default, book = default_config("dcgan"), default_config("dcgan", "book")
    assert (book.d_optimizer.name, book.d_optimizer.learning_rate, book.d_optimizer.momentum,
            book.d_optimizer.nesterov) == ("sgd", 0.0005, 0.9, True)
    assert (default.batch_size, default.epochs, default.latent_dim) == (128, 100, 100)
    assert default.latent_distribution == "uniform11"
    with pytest.raises(ConfigError, match="unknown preset for dcgan 'fast': expected one of default, book"):
        default_config("dcgan", "fast")


def test_training_records_image_metrics_and_grids(dcgan_run):
    records = dcgan_run.records
    assert [r["epoch"] for r in records] == [1, 2]
    for name in ("d_loss", "g_loss", "tp", "fn", "fp", "tn", "fcd", "classes_covered", "precision",
                 "recall", "class_kl", "collapse_alarm"):
        assert name in records[-1], name
    assert records[-1]["tp"] + records[-1]["fn"] == TINY["data_limit"]
    figures = {p.name for p in dcgan_run.run.figures.iterdir()}
    assert {"samples_epoch_0000.png", "samples_epoch_0001.png", "samples_epoch_0002.png",
            "losses.png", "confusion.png"} <= figures


def test_collapse_alarm_fires_on_a_generator_of_one_digit(dcgan_run, caplog):
    from gan_edge.training.data import load_training_data
    from gan_edge.training.evaluators.mnist import MnistEvaluator

    config = dcgan_run.run.config()
    data = load_training_data(config, "mnist")
    one = data.samples[np.flatnonzero(data.labels == 1)[0]]
    collapsed = lambda latent, training=False: _Tensor(np.repeat(one[None], len(latent), axis=0))  # noqa: E731
    evaluator = MnistEvaluator(config, dcgan_run.run, data)
    with caplog.at_level(logging.WARNING, logger="gan_edge.training"):
        record = evaluator.observe(7, collapsed)
    assert record["collapse_alarm"] == 1 and record["classes_covered"] == 1
    assert "mode collapse suspected at epoch 7" in caplog.text
    assert (dcgan_run.run.figures / "collapse_epoch_0007.png").is_file()


class _Tensor:
    def __init__(self, array):
        self.array = array

    def numpy(self):
        return self.array


RESUME_SCRIPT = textwrap.dedent("""
    import json, sys, numpy as np, tensorflow as tf
    tf.config.experimental.enable_op_determinism()
    from gan_edge.training.config import default_config
    from gan_edge.training.train import train
    from gan_edge.export.source import load_generator
    model, out, overrides = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    config = default_config(model).with_overrides(overrides)
    train(config, out + "/straight")
    train(config.with_overrides({"epochs": 1}), out + "/stopped")
    train(config, out + "/stopped", resume=True)
    a = load_generator(out + "/straight").model.get_weights()
    b = load_generator(out + "/stopped").model.get_weights()
    print("identical" if all(np.array_equal(x, y) for x, y in zip(a, b)) else "different")
""")


@pytest.mark.parametrize("model, overrides", [
    # Stopping by a shorter --epochs shortens a decaying learning rate's schedule too, so
    # the toy's default rates are held constant here (its R1 stays on); a stop by signal
    # keeps the schedule and is tested with the default rates (test_crash_safety.py).
    ("toy2d", {"epochs": 2, "data_samples": 640, "eval_samples": 200,
               "d_optimizer": {"final_learning_rate": 0.0}, "g_optimizer": {"final_learning_rate": 0.0}}),
    ("dcgan", {**TINY, "data_limit": 128}),
])
def test_resume_ends_with_the_same_weights_as_a_straight_run(model, overrides, tmp_path, mnist_classifier_cache):
    # Op determinism is process-wide and cannot be turned off again: a child process.
    result = subprocess.run([sys.executable, "-c", RESUME_SCRIPT, model, str(tmp_path), json.dumps(overrides)],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "identical"


def test_resume_refuses_another_model_or_config(dcgan_run):
    config = dcgan_run.run.config()
    with pytest.raises(RunFolderError, match="holds a dcgan run, not toy2d"):
        train(default_config("toy2d"), dcgan_run.run.path, resume=True)
    with pytest.raises(RunFolderError, match="was trained with seed=0, not 5"):
        train(config.with_overrides({"seed": 5}), dcgan_run.run.path, resume=True)
    assert json.loads(dcgan_run.run.config_file.read_text())["seed"] == 0


def test_resume_refuses_a_checkpoint_of_another_architecture(dcgan_run, tmp_path):
    import shutil

    toy = train(default_config().with_overrides({"epochs": 1, "data_samples": 320, "eval_samples": 100}),
                tmp_path / "toy")
    shutil.rmtree(toy.run.checkpoints)
    shutil.copytree(dcgan_run.run.checkpoints, toy.run.checkpoints)
    with pytest.raises(RunFolderError, match="does not match this model"):
        train(toy.run.config().with_overrides({"epochs": 2}), toy.run.path, resume=True)


def test_export_generate_png_and_evaluate(dcgan_run, tmp_path, capsys):
    from gan_edge.export import export_run

    artifacts = {a.variant: a for a in export_run(dcgan_run.run.path, tmp_path / "export",
                                                  formats=("float32", "int8"))}
    generator = gan_edge.load(artifacts["int8"].path)
    images = generator.generate(5, seed=0)
    assert images.shape == (5, 28, 28, 1) and images.min() >= -1.0 - 1e-6 and images.max() <= 1.0 + 1e-6
    png = tmp_path / "grid.png"
    assert main(["generate", str(artifacts["int8"].path), "-n", "16", "--out", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(["evaluate", str(artifacts["float32"].path), "--samples", "100"]) == 0
    out = capsys.readouterr().out
    assert "real_vs_real" in out and "untrained_vs_real" in out and "fcd" in out
