"""Configs: defaults as the book sets them, overrides checked by name and type."""

import json

import pytest

from gan_edge.errors import ConfigError
from gan_edge.training.config import config_from_dict, default_config, load_config_file


def test_toy_defaults_follow_the_book():
    config = default_config("toy2d")
    assert (config.epochs, config.batch_size, config.latent_dim) == (13, 32, 4)
    assert config.data_samples == 10_000 and config.data_mean == (5.0, 5.0) and config.data_std == 1.0
    # The default adds R1 and decaying two time-scale rates to the book's gated round.
    assert config.loss_mode == "book" and config.pretrain_discriminator and config.r1_gamma == 12.0
    assert (config.d_optimizer.learning_rate, config.d_optimizer.final_learning_rate) == (3e-3, 3e-4)
    assert (config.g_optimizer.learning_rate, config.g_optimizer.final_learning_rate) == (2e-3, 2e-5)
    assert (config.g_optimizer.beta_1, config.g_optimizer.beta_2) == (0.0, 0.99)


def test_the_book_preset_is_the_book_as_printed():
    config = default_config("toy2d", "book")
    assert config.loss_mode == "book" and config.pretrain_discriminator and config.r1_gamma == 0.0
    assert config.d_optimizer.learning_rate == 1e-3 and config.g_optimizer.learning_rate == 2e-4
    assert config.d_optimizer.final_learning_rate == 0.0 and config.g_optimizer.beta_2 == 0.999


def test_the_toy_preset_leaks_into_no_other_model():
    # Presets merge into the field defaults: the toy's R1 and Adam betas must not
    # reach a model whose preset names only some optimizer keys.
    for model in ("dcgan", "progan"):
        config = default_config(model)
        assert config.r1_gamma == 0.0, model
        assert config.d_optimizer.beta_2 == 0.999 and config.g_optimizer.beta_2 == 0.999, model
        assert config.d_optimizer.final_learning_rate == 0.0, model
    for model in ("ring8", "grid25"):  # their own R1 and schedule, not the toy's
        config = default_config(model)
        assert config.r1_gamma == 0.1 and config.d_optimizer.final_learning_rate == 1e-6, model


def test_round_trip_through_json():
    config = default_config().with_overrides({"epochs": 3, "g_optimizer": {"beta_1": 0.5}})
    again = config_from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config
    assert again.g_optimizer.beta_1 == 0.5 and again.g_optimizer.learning_rate == 2e-3


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"epoch": 3}, "unknown key 'epoch' in config"),
        ({"epochs": -1}, "epochs must be 0 or more, got -1"),
        ({"epochs": "3"}, "config.epochs must be int, got str '3'"),
        ({"epochs": True}, "config.epochs must be int, got bool"),
        ({"batch_size": 0}, "batch_size must be positive, got 0"),
        ({"loss_mode": "wgan"}, "unknown loss_mode 'wgan': expected one of standard, book, rpgan"),
        ({"model": "bigan"}, "unknown model 'bigan': expected one of toy2d"),
        ({"latent_distribution": "cauchy"}, "unknown latent_distribution 'cauchy'"),
        ({"d_optimizer": {"name": "rmsprop"}}, "unknown optimizer name 'rmsprop': expected one of adam, sgd"),
        ({"d_optimizer": {"lr": 1}}, "unknown key 'lr' in config.d_optimizer"),
        ({"data_mean": [1, 2, 3]}, "config.data_mean must be a list of 2 numbers"),
        ({"g_optimizer": {"final_learning_rate": -1e-5}}, "final_learning_rate must be 0 (constant rate) or in (0, "
                                                          "learning_rate 0.002], got -1e-05"),
        ({"g_optimizer": {"final_learning_rate": 0.01}}, "final_learning_rate must be 0 (constant rate) or in (0, "
                                                         "learning_rate 0.002], got 0.01"),
        ({"g_optimizer": {"final_learning_rate": float("nan")}}, "final_learning_rate must be 0 (constant rate)"),
        ({"d_optimizer": {"beta_2": 1.0}}, "beta_2 must be in [0, 1), got 1.0"),
        ({"r1_gamma": -1.0}, "r1_gamma must be 0 (off) or a positive finite number, got -1.0"),
        ({"r1_gamma": float("nan")}, "r1_gamma must be 0 (off) or a positive finite number, got nan"),
        ({"r1_gamma": float("inf")}, "r1_gamma must be 0 (off) or a positive finite number, got inf"),
        ({"r1_gamma": "high"}, "config.r1_gamma must be float, got str 'high'"),
        ({"r2_gamma": -1.0}, "r2_gamma must be 0 (off) or a positive finite number, got -1.0"),
        ({"r2_gamma": float("inf")}, "r2_gamma must be 0 (off) or a positive finite number, got inf"),
        ({"g_optimizer": {"final_learning_rate": "low"}}, "config.g_optimizer.final_learning_rate must be"),
    ],
)
def test_bad_overrides_are_refused_by_name(overrides, message):
    with pytest.raises(ConfigError) as excinfo:
        default_config().with_overrides(overrides)
    assert message in str(excinfo.value)


def test_config_file_errors(tmp_path):
    with pytest.raises(ConfigError, match="no config file at"):
        load_config_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{epochs: 3")
    with pytest.raises(ConfigError, match="is not valid JSON"):
        load_config_file(bad)
    listed = tmp_path / "list.json"
    listed.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="must hold a JSON object, got list"):
        load_config_file(listed)


def test_a_final_learning_rate_decays_linearly_over_the_runs_updates():
    import tf_keras as keras

    from gan_edge.training.train import build_optimizer, build_round

    def schedule(optimizer):
        return keras.optimizers.schedules.deserialize(optimizer.get_config()["learning_rate"])

    config = default_config("dcgan").with_overrides(  # its preset: Adam 2e-4, constant
        {"d_optimizer": {"learning_rate": 1e-3, "final_learning_rate": 1e-5}})
    rate = schedule(build_optimizer(config.d_optimizer, updates=100))
    assert [float(rate(step)) for step in (0, 50, 100, 400)] == pytest.approx([1e-3, 5.05e-4, 1e-5, 1e-5])
    # Without the run's length, or without a final rate, the rate stays constant.
    assert build_optimizer(config.d_optimizer).get_config()["learning_rate"] == pytest.approx(1e-3)
    assert build_optimizer(config.g_optimizer, updates=100).get_config()["learning_rate"] == pytest.approx(2e-4)
    # Two updates per round for each network; D's warm-up rounds count for D only.
    round_ = build_round(config.with_overrides({"g_optimizer": {"final_learning_rate": 1e-6}}), 30, warmup_rounds=10)
    assert schedule(round_.d_optimizer).decay_steps == 80
    assert schedule(round_.g_optimizer).decay_steps == 60


def test_a_final_learning_rate_round_trips_through_json():
    config = default_config("grid25").with_overrides({"g_optimizer": {"final_learning_rate": 1e-5}})
    assert config_from_dict(json.loads(json.dumps(config.to_dict()))) == config
