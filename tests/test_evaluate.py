"""Evaluation is dispatched in one place (``gan_edge.training.evaluators``): ``gan-edge evaluate``
works on a run of every model the project trains, and the training evaluator and export's
fidelity report measure against the same reference, decided once."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gan_edge.cli.main import main
from gan_edge.training.config import default_config
from gan_edge.training.models import MODELS

# One epoch on little data: enough for a checkpoint to evaluate.
# The plain round for every model: evaluation does not depend on how the round ran, and XLA is
# trained in a fresh process by test_mode_collapse.py (see there why).
TINY = {"epochs": 1, "eval_samples": 64, "batch_size": 32, "data_samples": 256, "data_limit": 128,
        "jit_compile": False}


def tiny_config(model: str):
    return default_config(model).with_overrides(TINY)


@pytest.mark.parametrize("model", sorted(MODELS))  # every registered model, those added later too
def test_gan_edge_evaluate_scores_a_run_of_every_model(model, tmp_path, mnist_classifier_cache, monkeypatch,
                                                      capsys):
    from gan_edge.training.evaluators import evaluator_for
    from gan_edge.training.models import model_family
    from gan_edge.training.train import train

    config = tiny_config(model)
    run = train(config, tmp_path / "run").run.path
    if not model_family(model).DATA.startswith("mnist"):
        # Points in the plane: evaluating them must not go looking for MNIST.
        monkeypatch.setenv("GAN_EDGE_DATA", str(tmp_path / "no-mnist-here"))
    capsys.readouterr()
    assert main(["evaluate", str(run), "--samples", "64", "--json", str(tmp_path / "rows.json")]) == 0
    rows = json.loads((tmp_path / "rows.json").read_text())
    assert next(iter(rows)) == "generator"
    # The generator row holds what the evaluator's task measures, named as in metrics.jsonl.
    measured = set(evaluator_for(config).task(config).METRICS)
    assert measured <= set(rows["generator"])
    assert measured <= set(json.loads((run / "metrics.jsonl").read_text().splitlines()[-1]))
    assert all(np.isfinite(v) for row in rows.values() for v in row.values())
    out = capsys.readouterr().out
    assert all(name in out for name in rows)


@pytest.mark.parametrize("model", ["dcgan", "progan"])
def test_training_and_export_measure_against_one_pick_of_real_digits(model, mnist_classifier_cache, monkeypatch):
    from gan_edge.export import fidelity
    from gan_edge.training.data import load_training_data
    from gan_edge.training.evaluators import evaluator_for
    from gan_edge.training.evaluators import mnist as mnist_evaluator
    from gan_edge.training.models import model_family

    config = tiny_config(model)
    data = load_training_data(config, model_family(model).DATA)
    trained = evaluator_for(config)(config, None, data)
    exported = fidelity.task_target(config)
    assert exported.reference.shape == (config.eval_samples, 28, 28, 1)
    np.testing.assert_array_equal(trained.reference, exported.reference)

    # The pick is decided in one function: change it, and both follow.
    decide = mnist_evaluator.evaluation_draws
    monkeypatch.setattr(mnist_evaluator, "evaluation_draws", lambda c, n: (lambda z, p: (z, p[::-1]))(*decide(c, n)))
    reversed_trained = evaluator_for(config)(config, None, data).reference
    np.testing.assert_array_equal(reversed_trained, trained.reference[::-1])
    np.testing.assert_array_equal(fidelity.task_target(config).reference, reversed_trained)
