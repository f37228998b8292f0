"""ProGAN: the growth schedule, the fade-in, training through the same round, resume mid-fade, export."""

import json

import numpy as np
import pytest

import gan_edge
from gan_edge.errors import ConfigError
from gan_edge.training.config import default_config
from gan_edge.training.progan_schedule import GrowthSchedule, growth_driver, level_of
from gan_edge.training.train import build_checkpoint, build_round, train

# 128 digits in batches of 32, one round per call: the phases are a few rounds long, so
# two epochs (256 images) pass through 4x4, the fade-in of 8x8, 8x8, the fade-in of 16x16, 16x16
# and half the fade-in of 32x32.
GROWTH = {"resolutions": [4, 8, 16, 32], "fade_images": 64, "stable_images": 32}
TINY = {"epochs": 2, "data_limit": 128, "batch_size": 32, "eval_samples": 64, "rounds_per_call": 1,
        "growth": GROWTH}


def tiny_config(**overrides):
    return default_config("progan").with_overrides({**TINY, **overrides})


@pytest.fixture(scope="module")
def progan_run(tmp_path_factory, mnist_classifier_cache):
    return train(tiny_config(), tmp_path_factory.mktemp("progan") / "run")


@pytest.fixture(scope="module")
def fresh_round():
    config = tiny_config()
    round_ = build_round(config)
    return round_, growth_driver(config, round_)


def test_a_schedule_not_ending_at_32_is_refused():
    with pytest.raises(ConfigError, match=r"^growth.resolutions must end at the data's resolution 32, "
                                          r"got \[4, 8, 16\]: end the schedule at 32$"):
        tiny_config(growth={"resolutions": [4, 8, 16]})
    with pytest.raises(ConfigError, match=r"must double at each step, got \[4, 16, 32\]"):
        tiny_config(growth={"resolutions": [4, 16, 32]})
    with pytest.raises(ConfigError, match="growth applies to progan only, got model 'dcgan'"):
        default_config("dcgan").with_overrides({"growth": GROWTH})


def test_alpha_and_resolution_advance_as_configured(fresh_round):
    schedule = GrowthSchedule((4, 8, 16, 32), fade_images=64, stable_images=32)
    expected = {0: (4, 1.0), 31: (4, 1.0), 32: (8, 0.0), 48: (8, 0.25), 95: (8, 63 / 64), 96: (8, 1.0),
                128: (16, 0.0), 160: (16, 0.5), 224: (32, 0.0), 256: (32, 0.5), 288: (32, 1.0), 10**6: (32, 1.0)}
    assert {n: schedule.state(n) for n in expected} == expected
    assert GrowthSchedule((32,), 64, 32).state(0) == (32, 1.0)  # no growing: full resolution from the start

    round_, driver = fresh_round
    assert driver.record() == {"resolution": 4, "alpha": 1.0}
    driver.advance(40)
    driver.advance(8)
    assert driver.images == 48 and driver.record() == {"resolution": 8, "alpha": 0.25}
    for growth in driver.growths:  # G's and D's phase move together
        assert (float(growth.level.numpy()), float(growth.alpha.numpy())) == (1.0, 0.25)
    _set(driver, 4, 1.0)


def _set(driver, resolution, alpha):
    for growth in driver.growths:
        growth.set(level_of(resolution), alpha)


def test_the_generator_renders_32x32_in_every_phase(fresh_round):
    round_, driver = fresh_round
    z = np.random.default_rng(0).normal(size=(3, 128)).astype(np.float32)
    for resolution in (4, 8, 16, 32):
        for alpha in (0.0, 0.5, 1.0):
            _set(driver, resolution, alpha)
            images = round_.generator(z, training=False).numpy()
            assert images.shape == (3, 32, 32, 1) and np.all(np.abs(images) <= 1)
            assert round_.discriminator(images).shape == (3, 1)
    _set(driver, 4, 1.0)


def _upsampled(images, factor):
    low = images[:, ::factor, ::factor]
    return np.repeat(np.repeat(low, factor, axis=1), factor, axis=2)


def test_fade_in_at_alpha_0_is_the_previous_resolution_upsampled(fresh_round):
    round_, driver = fresh_round
    z = np.random.default_rng(1).normal(size=(4, 128)).astype(np.float32)
    real = round_.generator(z).numpy()  # any 32x32 images will do as "real" ones
    for resolution in (8, 16, 32):
        _set(driver, resolution // 2, 1.0)
        previous = round_.generator(z, training=False).numpy()
        factor = 32 // (resolution // 2)
        # The previous stable phase renders at its resolution, nearest-neighbour upsampled ...
        np.testing.assert_array_equal(previous, _upsampled(previous, factor))
        _set(driver, resolution, 0.0)
        # ... and the new level, faded in at alpha 0, is exactly that.
        np.testing.assert_array_equal(round_.generator(z, training=False).numpy(), previous)
        # The real images: (1 - alpha) * upsample(downsample2(x)) + alpha * x at the new resolution.
        blocks = real.reshape(4, resolution // 2, factor, resolution // 2, factor, 1).mean(axis=(2, 4))
        np.testing.assert_allclose(round_.prepare_real(real).numpy(),
                                   np.repeat(np.repeat(blocks, factor, axis=1), factor, axis=2), atol=1e-6)
        _set(driver, resolution, 0.5)
        assert not np.allclose(round_.generator(z, training=False).numpy(), previous)
    _set(driver, 4, 1.0)


def test_tiny_training_records_resolution_and_alpha(progan_run):
    import tensorflow as tf

    records = progan_run.records
    # After epoch 1: 128 images (the fade-in of 16x16 begins); epoch 2: 256 (half of 32x32's).
    assert [(r["epoch"], r["resolution"], r["alpha"]) for r in records] == [(1, 16, 0.0), (2, 32, 0.5)]
    lines = [json.loads(line) for line in (progan_run.run.path / "metrics.jsonl").read_text().splitlines()]
    assert [(r["resolution"], r["alpha"]) for r in lines] == [(16, 0.0), (32, 0.5)]
    for name in ("d_loss", "g_loss", "fcd", "classes_covered"):
        assert np.isfinite(records[-1][name]), name
    assert records[-1]["tp"] + records[-1]["fn"] == 128
    tags = {value.tag for event_file in progan_run.run.tensorboard.glob("events.*")
            for event in tf.compat.v1.train.summary_iterator(str(event_file)) for value in event.summary.value}
    assert {"resolution", "alpha"} <= tags


def test_the_driver_reports_each_resolution_it_moves_past_once(fresh_round):
    round_, driver = fresh_round
    for growth in driver.growths:  # the clock at 0, whatever the tests before left
        growth.images.assign(0)
    done = []
    driver.on_resolution_done = done.append
    try:
        driver.advance(20)  # still 4x4
        driver.advance(20)  # 40: the fade-in of 8x8 began
        driver.advance(150)  # 190: past 8x8 and into the fade-in of 16x16
        driver.advance(100)  # 290: past 16x16, stable at 32x32
        driver.advance(500)  # 32x32 is never "done": training ends there
    finally:
        driver.on_resolution_done = None
        for growth in driver.growths:
            growth.images.assign(0)
        _set(driver, 4, 1.0)
    assert done == [4, 8, 16]


def test_render_at_draws_one_resolution_and_puts_the_phase_back(fresh_round):
    from gan_edge.training.models.progan import render_at

    round_, driver = fresh_round
    _set(driver, 16, 0.5)
    z = np.random.default_rng(2).normal(size=(2, 128)).astype(np.float32)
    at_8 = render_at(round_.generator, z, 8)
    np.testing.assert_array_equal(at_8, _upsampled(at_8, 4))  # 8x8 blocks of 4x4 pixels
    _set(driver, 8, 1.0)
    np.testing.assert_array_equal(at_8, round_.generator(z, training=False).numpy())
    _set(driver, 16, 0.5)
    render_at(round_.generator, z, 32)
    for growth in driver.growths:
        assert (float(growth.level.numpy()), float(growth.alpha.numpy())) == (2.0, 0.5)
    _set(driver, 4, 1.0)


def test_the_run_draws_its_samples_at_each_resolution_it_grew_past(progan_run):
    figures = progan_run.run.figures
    # The tiny run ends halfway through the fade-in of 32x32: 4, 8 and 16 are behind it.
    assert sorted(f.name for f in figures.glob("growth_*.npy")) == ["growth_04.npy", "growth_08.npy", "growth_16.npy"]
    for side, factor in ((4, 8), (8, 4), (16, 2)):
        panel = np.load(figures / f"growth_{side:02d}.npy")
        assert panel.shape == (16, 32, 32, 1)
        np.testing.assert_array_equal(panel, _upsampled(panel, factor))
        assert (figures / f"samples_{side}x{side}.png").stat().st_size > 0
    assert (figures / "growth.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not (figures / "samples_32x32.png").exists()


def test_resume_in_the_middle_of_a_fade_in_restores_alpha(progan_run, tmp_path):
    import tensorflow as tf

    calls = []
    stopped = train(tiny_config(), tmp_path / "run", on_rounds=calls.append, should_stop=lambda: len(calls) == 2)
    assert stopped.stopped_at == (1, 2, 4)  # 64 images: halfway through the fade-in of 8x8
    config = tiny_config()
    round_ = build_round(config)
    driver = growth_driver(config, round_)
    checkpoint = build_checkpoint(round_, tf.Variable(0, dtype=tf.int64))
    checkpoint.read(stopped.checkpoint).expect_partial()
    assert driver.images == 64 and driver.record() == {"resolution": 8, "alpha": 0.5}
    resumed = train(config, tmp_path / "run", resume=True)
    assert [(r["resolution"], r["alpha"]) for r in resumed.records] == [(16, 0.0), (32, 0.5)]


def test_export_to_tflite_and_onnx_generates_32x32(progan_run, tmp_path):
    from gan_edge.export import export_run
    from gan_edge.export.tflite import builtin_op_names

    artifacts = export_run(progan_run.run.path, tmp_path / "export", formats=("float32", "onnx"),
                           fidelity_samples=64)
    by_variant = {a.variant: a for a in artifacts}
    ops = set(builtin_op_names(by_variant["float32"].path.read_bytes()))
    assert ops <= {"FULLY_CONNECTED", "CONV_2D", "RESHAPE", "MUL", "ADD", "MEAN", "RSQRT", "SQUARE",
                   "LEAKY_RELU", "RESIZE_NEAREST_NEIGHBOR", "TANH", "SUM", "ADD_N", "SHAPE", "STRIDED_SLICE",
                   "PACK", "CONCATENATION", "POW"}, ops
    for artifact in artifacts:
        assert artifact.fidelity["max_abs_err"] < 1e-3, artifact
        images = gan_edge.load(artifact.path).generate(5, seed=0)
        assert images.shape == (5, 32, 32, 1) and np.all(np.abs(images) <= 1 + 1e-6)


def test_export_report_and_evaluate_measure_the_cropped_centre(progan_run, tmp_path, capsys):
    import json

    from gan_edge.cli.main import main

    artifacts = export_run_float32(progan_run, tmp_path)
    report = json.loads((artifacts[0].path.parent / "report.json").read_text())
    entry = report["artifacts"][0]
    for name in ("fcd", "classes_covered", "precision", "recall"):
        assert name in entry, name
    assert main(["evaluate", str(progan_run.run.path), "--samples", "64"]) == 0
    out = capsys.readouterr().out
    assert "real_vs_real" in out and "untrained_vs_real" in out


def export_run_float32(progan_run, tmp_path):
    from gan_edge.export import export_run

    return export_run(progan_run.run.path, tmp_path / "export32", formats=("float32",), fidelity_samples=64)
