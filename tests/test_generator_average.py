"""The generator's weight average (training/averaging.py): the rule it follows, what a run
publishes with it (measured, checkpointed, exported), and that a stopped run resumes it
exactly."""

from __future__ import annotations

import numpy as np
import pytest

from gan_edge.errors import ConfigError

CONFIG = {"epochs": 2, "rounds_per_call": 4, "eval_every": 1, "pretrain_discriminator": False,
          "eval_samples": 500, "data_samples": 2000, "generator_average": 0.05}


def _small_generator():
    import tf_keras as keras

    model = keras.Sequential([keras.layers.Dense(3, input_shape=(2,)), keras.layers.BatchNormalization()])
    model(np.zeros((1, 2), np.float32), training=False)
    return model


def test_the_average_halves_its_memory_every_half_life_and_copies_statistics():
    import tensorflow as tf

    from gan_edge.training.averaging import GeneratorAverage

    live, twin = _small_generator(), _small_generator()
    average = GeneratorAverage(live, twin, half_life_fraction=0.5)
    start = [w.copy() for w in live.get_weights()]
    for w in twin.get_weights():  # the average starts as the generator
        assert any(np.array_equal(w, s) for s in start)
    moved = [w + 1.0 for w in start]
    live.set_weights(moved)
    average.update(tf.constant(100))  # 100 images seen, half-life 50: keep 0.5 ** 2
    average.update(tf.constant(100))  # 200 seen, half-life 100: keep 0.5
    keep = 0.25 * 0.5
    trainable = {id(v) for v in live.trainable_weights}
    for a, b, s, m in zip(twin.weights, live.weights, start, moved):
        expected = m + keep * (s - m) if id(b) in trainable else m
        np.testing.assert_allclose(a.numpy(), expected, rtol=1e-6, err_msg=a.name)
    assert float(average.images_seen.numpy()) == 200.0


def test_the_average_refuses_a_model_of_another_shape():
    import tf_keras as keras

    from gan_edge.training.averaging import GeneratorAverage

    other = keras.Sequential([keras.layers.Dense(4, input_shape=(2,)), keras.layers.BatchNormalization()])
    with pytest.raises(ValueError, match="does not match the generator"):
        GeneratorAverage(_small_generator(), other, 0.05)


@pytest.mark.parametrize("value", [-0.1, 1.0, float("nan")])
def test_a_generator_average_outside_0_to_1_is_refused(value):
    from gan_edge.training.config import default_config

    with pytest.raises(ConfigError, match="generator_average must be 0 .off. or a fraction"):
        default_config("toy2d").with_overrides({"generator_average": value})


@pytest.fixture(scope="module")
def averaged_run(tmp_path_factory):
    from gan_edge.training.config import default_config
    from gan_edge.training.train import train

    out = tmp_path_factory.mktemp("averaged") / "run"
    config = default_config("toy2d").with_overrides(CONFIG)
    return config, out, train(config, out)


def _checkpoint_variables(run, prefix: str) -> dict[str, np.ndarray]:
    import tensorflow as tf

    reader = tf.train.load_checkpoint(tf.train.latest_checkpoint(str(run / "checkpoints")))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if name.startswith(prefix + "/") and "OPTIMIZER_SLOT" not in name}


def test_a_run_measures_and_exports_the_average_beside_the_live_generator(averaged_run):
    from gan_edge.export.source import load_generator
    from gan_edge.training.data import load_training_data
    from gan_edge.training.evaluators.toy import ToyEvaluator

    config, out, result = averaged_run
    last = result.records[-1]
    # Both generators are measured, and they are not the same network.
    assert "mean_err" in last and "live_mean_err" in last
    assert last["mean_err"] != last["live_mean_err"]
    averaged = _checkpoint_variables(out, "generator_average")
    live = _checkpoint_variables(out, "generator")
    assert averaged and len(averaged) == len(live)
    # What export rebuilds is the average, and it measures as the run recorded it.
    trained = load_generator(out)
    published = sorted(w.numpy().tobytes() for w in trained.model.weights)
    assert published == sorted(v.tobytes() for v in averaged.values())
    assert published != sorted(v.tobytes() for v in live.values())
    evaluator = ToyEvaluator(config, trained.run, load_training_data(config, "gaussian"))
    assert evaluator.measure(trained.model)["mean_err"] == pytest.approx(last["mean_err"], abs=1e-5)


def test_a_run_stopped_inside_an_epoch_resumes_its_average_exactly(averaged_run, tmp_path):
    from gan_edge.training.train import train

    config, reference, reference_result = averaged_run
    calls = []
    stopped = train(config, tmp_path / "run", on_rounds=calls.append, should_stop=lambda: len(calls) >= 5)
    assert stopped.stopped_at is not None
    resumed = train(config, tmp_path / "run", resume=True)
    assert resumed.records == reference_result.records
    expected = _checkpoint_variables(reference, "generator_average")
    for name, value in _checkpoint_variables(tmp_path / "run", "generator_average").items():
        np.testing.assert_array_equal(value, expected[name], err_msg=name)
