"""Stacked-MNIST (issue 25): three real MNIST digits as R, G, B; 1,000 modes counted by the
project's MNIST classifier; reverse KL to uniform; `gan-edge train dcgan --data stacked-mnist`."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from gan_edge.training.data.stacked_mnist import (
    EVAL_SAMPLES, MODES, TRAINING_SAMPLES, draw_triples, load_stacked_mnist, modes_of,
)
from gan_edge.training.evaluators.stacked_mnist import StackedMnistTask, mode_metrics
from test_own_pictures import _files, _one_line_error, _status

MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
# 256 pictures in batches of 64: 4 rounds, measured on 200 samples.
TINY = {"data_limit": 256, "batch_size": 64, "eval_samples": 200, "rounds_per_call": 2}


@pytest.fixture(scope="module")
def classifier(mnist_classifier_cache):
    from gan_edge.training.config import default_config
    from gan_edge.training.evaluators.stacked_mnist import StackedMnistEvaluator

    return StackedMnistEvaluator.task(default_config("dcgan")).classifier


# --- the data ---------------------------------------------------------------------------

def test_each_channel_is_a_real_mnist_digit_with_its_recorded_label(tmp_path):
    from gan_edge.training.data.mnist import load_mnist

    mnist = load_mnist(MNIST_DIR, allow_download=False)
    data = load_stacked_mnist(MNIST_DIR, count=500, cache_dir=tmp_path)
    assert data.images.shape == (500, 28, 28, 3) and data.images.dtype == np.uint8
    for channel in range(3):
        np.testing.assert_array_equal(data.images[..., channel], mnist.images[data.indices[:, channel]])
    np.testing.assert_array_equal(data.digits, mnist.labels[data.indices])
    # The cache is read back, and a smaller set is the start of a larger one.
    again = load_stacked_mnist(MNIST_DIR, count=500, cache_dir=tmp_path)
    assert isinstance(again.images, np.memmap) and again.fingerprint == data.fingerprint
    np.testing.assert_array_equal(load_stacked_mnist(MNIST_DIR, count=100, cache_dir=tmp_path).images,
                                  data.images[:100])


def test_the_full_set_holds_every_triple_about_equally():
    labels = np.arange(10_000) % 10  # the draw does not depend on the digits: any 10,000 will do
    counts = np.bincount(modes_of(labels[draw_triples(10_000, TRAINING_SAMPLES)]), minlength=MODES)
    assert counts.min() > 64 and counts.max() < 192  # 128 each on average


# --- the measures -----------------------------------------------------------------------

@pytest.mark.parametrize("modes, expected_modes, expected_kl", [
    (np.repeat(np.arange(MODES), 26), 1000, 0.0),  # every triple, equally often
    (np.full(EVAL_SAMPLES, 123), 1, math.log(1000)),  # one triple only
    (np.repeat(np.arange(0, MODES, 2), 52), 500, math.log(2)),  # half the triples, equally often
])
def test_modes_and_reverse_kl_of_constructed_triples(modes, expected_modes, expected_kl):
    scores = mode_metrics(modes)
    assert scores["modes"] == expected_modes
    assert scores["reverse_kl"] == pytest.approx(expected_kl, abs=1e-12)


def test_a_generator_of_one_picture_is_one_mode(classifier, tmp_path):
    one = load_stacked_mnist(MNIST_DIR, count=1, cache_dir=tmp_path).images
    samples = np.repeat(one.astype(np.float32) / 127.5 - 1.0, 300, axis=0)
    scores = StackedMnistTask(classifier, 300).measure(samples)
    assert scores == {"modes": 1.0, "reverse_kl": pytest.approx(math.log(1000))}


def test_real_stacked_pictures_reach_nearly_every_mode_through_the_classifier(classifier, tmp_path):
    data = load_stacked_mnist(MNIST_DIR, count=EVAL_SAMPLES, cache_dir=tmp_path)
    truth = mode_metrics(modes_of(data.digits))
    scores = StackedMnistTask(classifier, EVAL_SAMPLES).measure(data.images.astype(np.float32) / 127.5 - 1.0)
    # 26 draws a triple on average: every one appears; the classifier's few errors per digit
    # move a sample to a neighbouring triple, which costs no mode and little KL.
    assert truth["modes"] == 1000 and scores["modes"] >= 995
    assert scores["reverse_kl"] < 0.05 and abs(scores["reverse_kl"] - truth["reverse_kl"]) < 0.01


# --- the command ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def stacked_run(tmp_path_factory, mnist_classifier_cache) -> Path:
    folder = tmp_path_factory.mktemp("stacked-run")
    config = folder / "tiny.json"
    config.write_text(json.dumps({**TINY, "loss_mode": "rpgan", "r1_gamma": 0.1, "r2_gamma": 0.1}))
    run = folder / "run"
    assert _status(["train", "dcgan", "--data", "stacked-mnist", "--epochs", 1, "--config", config, "--out", run]) == 0
    return run


def test_gan_edge_train_on_stacked_mnist_records_modes_and_reverse_kl(stacked_run, capsys):
    config = json.loads((stacked_run / "config.json").read_text())
    assert (config["data_path"], config["resolution"], config["channels"]) == ("stacked-mnist", 28, 3)
    assert config["eval_samples"] == 200  # the user's, over the protocol's 26,000
    data = json.loads((stacked_run / "data.json").read_text())
    assert (data["data"], data["samples"], data["mnist_digits"]) == ("stacked-mnist", 256, 10_000)
    records = [json.loads(line) for line in (stacked_run / "metrics.jsonl").read_text().splitlines()]
    assert 1 <= records[-1]["modes"] <= 200 and 0 <= records[-1]["reverse_kl"] <= math.log(1000)
    assert (stacked_run / "figures" / "samples_epoch_0001.png").is_file()


def test_the_protocol_measures_26000_samples_unless_told_otherwise():
    import argparse

    from gan_edge.cli.train import add_parser, resolve_config

    # The command line's own parser: every flag it has, at its default.
    parser = argparse.ArgumentParser()
    add_parser(parser.add_subparsers())
    args = parser.parse_args(["train", "dcgan", "--data", "stacked-mnist"])
    assert resolve_config(args).eval_samples == EVAL_SAMPLES


def test_resume_checks_the_stacked_data(stacked_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(stacked_run, run)
    data = json.loads((run / "data.json").read_text())
    (run / "data.json").write_text(json.dumps({**data, "mnist_sha256": "0" * 64}))
    before = _files(run)
    assert _status(["train", "dcgan", "--resume", "--out", run, "--epochs", 2]) == 2
    assert "--resume with different data" in _one_line_error(capsys)
    assert _files(run) == before


@pytest.mark.parametrize("argv, message", [
    (["dcgan", "--channels", 1], "stacked-mnist pictures are 28x28x3 (three MNIST digits as R, G, B), got --channels 1"),
    (["dcgan", "--resolution", 32], "got --resolution 32: leave --resolution out"),
    (["progan"], "--data stacked-mnist trains dcgan (28x28x3 pictures), got model 'progan'"),
    (["dcgan", "--data-dir", "EMPTY"], "no MNIST files in"),
])
def test_bad_input_is_one_line_and_writes_nothing(argv, message, tmp_path, capsys, mnist_classifier_cache):
    (tmp_path / "empty").mkdir()
    argv = [str(tmp_path / "empty") if a == "EMPTY" else a for a in argv]
    out = tmp_path / "run"
    assert _status(["train", argv[0], "--data", "stacked-mnist", *argv[1:], "--out", out]) == 2
    assert message in _one_line_error(capsys)
    assert not out.exists()
