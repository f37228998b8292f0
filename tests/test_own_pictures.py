"""A user's own pictures through every stage (issue 22): `gan-edge train --data`, the colour
grids and the image metrics, resume's data check, export, and `generate --out grid.png`;
and the book's models on MNIST exactly as they were.

One tiny run on a folder the tests make (PNG and JPEG, mixed sizes, grey, RGB and RGBA)
is trained for the module and exported once; the refusals are checked on copies of it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gan_edge.cli.main import main

TWEMOJI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "twemoji"
# 96 pictures in batches of 32: 3 rounds an epoch, measured on 64 samples.
TINY = {"batch_size": 32, "eval_samples": 64, "rounds_per_call": 3}


def _status(argv: list[str]) -> int:
    try:
        return main([str(a) for a in argv])
    except SystemExit as exc:
        return exc.code


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    lines = [line for line in err.strip().splitlines() if not line.startswith("decoding")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def make_pictures(folder: Path, count: int = 96) -> Path:
    """``count`` pictures of coloured discs on a plain ground: PNG and JPEG, 20 to 64 px, grey,
    RGB and RGBA (transparent around the disc), in two subfolders."""
    rng = np.random.default_rng(0)
    for i in range(count):
        side = (20, 32, 48, 64)[i % 4]
        yy, xx = np.mgrid[:side, :side]
        disc = (yy - side / 2) ** 2 + (xx - side / 2) ** 2 < (side * rng.uniform(0.2, 0.45)) ** 2
        colour = rng.integers(0, 256, 3)
        rgba = np.zeros((side, side, 4), np.uint8)
        rgba[disc] = [*colour, 255]
        kind = i % 3
        sub = folder / ("warm" if colour[0] > 127 else "cool")
        sub.mkdir(parents=True, exist_ok=True)
        if kind == 0:
            Image.fromarray(rgba, "RGBA").save(sub / f"{i:03d}.png")
        elif kind == 1:
            Image.fromarray(rgba[..., :3], "RGB").save(sub / f"{i:03d}.jpg", quality=92)
        else:
            Image.fromarray(rgba[..., :3], "RGB").convert("L").save(sub / f"{i:03d}.png")
    (folder / "README.txt").write_text("not a picture")
    return folder


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    import os

    saved = os.environ.get("GAN_EDGE_CACHE")
    os.environ["GAN_EDGE_CACHE"] = str(tmp_path_factory.mktemp("cache"))
    yield
    if saved is None:
        os.environ.pop("GAN_EDGE_CACHE", None)
    else:
        os.environ["GAN_EDGE_CACHE"] = saved


@pytest.fixture(scope="module")
def pictures(tmp_path_factory) -> Path:
    return make_pictures(tmp_path_factory.mktemp("pictures") / "discs")


@pytest.fixture(scope="module")
def picture_run(tmp_path_factory, pictures, cache) -> Path:
    """`gan-edge train dcgan --data` on the folder: one epoch at 16x16, in colour."""
    folder = tmp_path_factory.mktemp("picture-run")
    config = folder / "tiny.json"
    config.write_text(json.dumps(TINY))
    run = folder / "run"
    assert _status(["train", "dcgan", "--data", pictures, "--resolution", 16, "--epochs", 1,
                    "--augment", "diffaugment", "--config", config, "--out", run]) == 0
    return run


def test_a_folder_trains_in_colour_at_the_resolution_asked(picture_run, pictures):
    config = json.loads((picture_run / "config.json").read_text())
    assert (config["data_path"], config["resolution"], config["channels"]) == (str(pictures.resolve()), 16, 3)
    data = json.loads((picture_run / "data.json").read_text())
    assert (data["files"], data["resolution"], data["channels"], data["skipped"]) == (96, 16, 3, 0)
    record = json.loads((picture_run / "metrics.jsonl").read_text().splitlines()[-1])
    for name in ("fd", "fd_floor", "precision", "recall", "density", "coverage", "categories_covered"):
        assert np.isfinite(record[name]), name
    assert record["categories"] == 2  # the two subfolders are the labels
    grid = Image.open(picture_run / "figures" / "samples_epoch_0001.png")
    assert grid.mode in ("RGB", "RGBA")
    pixels = np.asarray(grid.convert("RGB")).astype(int)
    assert np.abs(pixels[..., 0] - pixels[..., 1]).max() > 0  # not grey


def test_the_shape_defaults_to_the_data_s_own(tmp_path, pictures, cache):
    from gan_edge.training.config import default_config
    from gan_edge.training.data import resolve_image_shape

    config = resolve_image_shape(default_config("progan").with_overrides({"data_path": str(pictures)}))
    # The sides are 20, 32, 48 and 64, a quarter each: the commonest, ties to the larger, is 64.
    assert (config.resolution, config.channels) == (64, 3)
    assert config.growth.resolutions == (4, 8, 16, 32, 64)


def test_progan_grows_to_the_pictures_from_an_array(tmp_path, cache):
    from gan_edge.export.source import load_generator
    from gan_edge.training.config import default_config
    from gan_edge.training.train import train

    grey = np.random.default_rng(1).integers(0, 256, (64, 16, 16), dtype=np.uint8)
    np.save(tmp_path / "grey.npy", grey)
    config = default_config("progan").with_overrides({
        **TINY, "epochs": 1, "data_path": str(tmp_path / "grey.npy"),
        "growth": {"fade_images": 32, "stable_images": 32}})
    result = train(config, tmp_path / "run")
    assert result.run.config().growth.resolutions == (4, 8, 16)
    trained = load_generator(result.run.path)
    assert trained.output_shape == (16, 16, 1)
    assert trained(np.zeros((2, config.latent_dim), np.float32)).shape == (2, 16, 16, 1)


def test_the_colour_run_exports_and_generates_an_rgb_grid(picture_run, tmp_path, capsys):
    out = tmp_path / "export"
    assert _status(["export", picture_run, "--out", out, "--formats", "float32,int8,onnx"]) == 0
    import gan_edge

    for artifact in ("generator_int8.tflite", "generator_onnx.onnx"):
        assert tuple(gan_edge.load(out / artifact).manifest.output_shape) == (16, 16, 3)
    png = tmp_path / "grid.png"
    assert _status(["generate", out / "generator_int8.tflite", "-n", 16, "--seed", 3, "--out", png]) == 0
    image = Image.open(png)
    assert image.mode == "RGB" and image.size == (4 * 18 + 2, 4 * 18 + 2)


# --- refusals: one line, exit 2, nothing written -----------------------------------------

def test_resume_on_changed_data_is_refused_and_changes_nothing(picture_run, pictures, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(picture_run, run)
    changed = tmp_path / "discs"
    shutil.copytree(pictures, changed)
    before = _files(run)
    # The run's config names its data by path: point a copy of it at the changed copy of the data.
    config = json.loads((run / "config.json").read_text())
    (run / "config.json").write_text(json.dumps({**config, "data_path": str(changed)}))
    before = _files(run)
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(changed / "warm" / "extra.png")
    assert _status(["train", "dcgan", "--resume", "--out", run, "--epochs", 2]) == 2
    assert "--resume with different data" in _one_line_error(capsys)
    assert _files(run) == before


def test_resume_with_other_channels_is_refused(picture_run, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(picture_run, run)
    before = _files(run)
    assert _status(["train", "dcgan", "--resume", "--out", run, "--epochs", 2, "--channels", 1]) == 2
    assert "was trained with channels=3, not 1" in _one_line_error(capsys)
    assert _files(run) == before


@pytest.mark.parametrize("flags, message", [
    (["--resolution", 48], "resolution must be one of 16, 28, 32, 64, 128 (what the models build), got 48"),
    (["--channels", 4], "channels must be 1 (grey) or 3 (RGB), got 4"),
])
def test_a_shape_the_models_cannot_build_is_refused(pictures, tmp_path, capsys, cache, flags, message):
    out = tmp_path / "run"
    assert _status(["train", "dcgan", "--data", pictures, *flags, "--out", out]) == 2
    assert message in _one_line_error(capsys)
    assert not out.exists()


def test_bad_folders_are_refused_before_a_run_folder_is_made(pictures, tmp_path, capsys, cache):
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no pictures here")
    few = tmp_path / "few"
    few.mkdir()
    for i in range(3):
        shutil.copy(next(pictures.rglob("*.png")), few / f"{i}.png")
    bad = tmp_path / "bad"
    shutil.copytree(pictures, bad)
    whole = next(bad.rglob("*.png")).read_bytes()
    (bad / "cool" / "truncated.png").write_bytes(whole[: len(whole) // 2])
    cases = [
        (empty, "no PNG or JPEG"),
        (few, "holds 3 usable pictures, expected at least 32 (one batch)"),
        (bad, "truncated.png"),
        (tmp_path / "missing", "no such file or folder"),
    ]
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps(TINY))
    for folder, message in cases:
        out = tmp_path / f"run-{folder.name}"
        assert _status(["train", "dcgan", "--data", folder, "--resolution", 16, "--config", config,
                        "--out", out]) == 2, folder
        assert message in _one_line_error(capsys), folder
        assert not out.exists()


def test_skip_bad_leaves_unreadable_pictures_out_and_says_how_many(pictures, tmp_path, capsys, cache):
    bad = tmp_path / "bad"
    shutil.copytree(pictures, bad)
    (bad / "cool" / "truncated.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    config = tmp_path / "tiny.json"
    config.write_text(json.dumps({**TINY, "eval_every": 1000}))
    run = tmp_path / "run"
    assert _status(["train", "dcgan", "--data", bad, "--resolution", 16, "--epochs", 1, "--skip-bad",
                    "--config", config, "--out", run]) == 0
    assert "1 unreadable skipped" in capsys.readouterr().out
    assert json.loads((run / "data.json").read_text())["skipped"] == 1


# --- the book's models, exactly as they were -------------------------------------------

def _book_dcgan(config):
    """The DCGAN as training/models/dcgan.py built it before pictures of other shapes
    (git 36ca08d), copied here as the reference."""
    import tf_keras as keras

    from gan_edge.training.models.remedies import Pack, remedy_layer

    layers = keras.layers
    dense, c7, c14 = tuple(config.generator_widths) or (1024, 128, 64)
    generator = keras.Sequential([
        layers.Input((config.latent_dim,), name="latent"),
        layers.Dense(dense, activation="tanh", name=f"dense_{dense}"),
        layers.Dense(7 * 7 * c7, name=f"dense_{7 * 7 * c7}"),
        layers.BatchNormalization(name="bn"),
        layers.Activation("tanh"),
        layers.Reshape((7, 7, c7)),
        layers.UpSampling2D(2),
        layers.Conv2D(c14, 5, padding="same", activation="tanh", name=f"conv_{c14}"),
        layers.UpSampling2D(2),
        layers.Conv2D(1, 5, padding="same", activation="tanh", name="image"),
    ], name="generator")
    stack = [layers.Input((28, 28, 1), name="image")]
    if config.pack > 1:
        stack.append(Pack(config.pack, name="pack"))
    stack += [
        layers.Conv2D(64, 5, padding="same", activation="tanh", name="conv_64"),
        layers.MaxPooling2D(2),
        layers.Conv2D(128, 5, padding="valid", activation="tanh", name="conv_128"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(1024, activation="tanh", name="dense_1024"),
    ]
    remedy = remedy_layer(config.remedy)
    if remedy is not None:
        stack.append(remedy)
    stack.append(layers.Dense(1, activation="sigmoid", name="p_real"))
    return generator, keras.Sequential(stack, name="discriminator")


def _assert_same_networks(reference, built) -> None:
    """(G, D) built now against (G, D) as the old code built them: same layers, same weights."""
    for old, new in zip(reference, built, strict=True):
        assert _layers(old) == _layers(new)
        for a, b in zip(old.weights, new.weights, strict=True):
            assert a.name == b.name
            np.testing.assert_array_equal(a.numpy(), b.numpy())


def _layers(model) -> list[tuple[str, dict]]:
    """Each layer's class and settings (where it has a config); names are compared
    through the weights' names."""
    def settings(layer) -> dict:
        try:
            return {k: v for k, v in layer.get_config().items() if k != "name"}
        except NotImplementedError:  # ProGAN's blend layers hold a Growth layer, no config
            return {}

    return [(type(layer).__name__, settings(layer)) for layer in model.layers]


@pytest.mark.parametrize("preset, overrides", [("default", {}), ("book", {}), ("mcu", {}),
                                               ("default", {"pack": 2, "remedy": "mbstd"})])
def test_the_book_dcgan_is_built_as_before(preset, overrides):
    import tf_keras as keras

    from gan_edge.training.config import default_config
    from gan_edge.training.models import model_family

    config = default_config("dcgan", preset).with_overrides(overrides)
    keras.utils.set_random_seed(config.seed)
    reference = _book_dcgan(config)
    keras.utils.set_random_seed(config.seed)
    family = model_family("dcgan")
    built = family.build_generator(config), family.build_discriminator(config)
    _assert_same_networks(reference, built)


def test_one_epoch_of_the_book_dcgan_gives_the_weights_it_gave_before(tiny_dcgan_run):
    """The shared tiny run (train() on MNIST, as a user runs it) against the models and
    the float pipeline of 36ca08d (MNIST as one float32 tensor), trained by hand."""
    import tensorflow as tf
    import tf_keras as keras

    from gan_edge.training.data import epoch_batches
    from gan_edge.training.data.mnist import load_mnist, to_model_range
    from gan_edge.training.run import RunFolder
    from gan_edge.training.train import round_for, train_epoch

    config = RunFolder.open(tiny_dcgan_run).config()
    assert config.epochs == 1 and not config.pretrain_discriminator
    keras.utils.set_random_seed(config.seed)
    generator, discriminator = _book_dcgan(config)
    round_ = round_for(config, generator, discriminator, rounds=4)
    digits = to_model_range(load_mnist().images[: config.data_limit])
    steps = -(-len(digits) // config.batch_size)
    train_epoch(round_, iter(epoch_batches(tf.constant(digits), config.batch_size, config.seed, 1)), steps,
                config, epoch=1, sums={})
    saved = tf.train.Checkpoint(generator=generator, discriminator=discriminator)
    reference = {v.name: v.numpy() for v in generator.weights + discriminator.weights}
    saved.read(tf.train.latest_checkpoint(str(tiny_dcgan_run / "checkpoints"))).expect_partial()
    trained = {v.name: v.numpy() for v in generator.weights + discriminator.weights}
    assert reference.keys() == trained.keys()
    for name in reference:
        np.testing.assert_array_equal(reference[name], trained[name], err_msg=name)


def _book_progan(config):
    """The ProGAN as training/models/progan.py built it before pictures of other shapes
    (git 36ca08d), copied here as the reference."""
    return _book_progan_generator(config), _book_progan_discriminator(config)


def _book_progan_generator(config):
    import tf_keras as keras

    from gan_edge.training.models.progan import (
        _SLOPE, D_CHANNELS, G_CHANNELS, OUTPUT_SHAPE, DiscriminatorEntry, EqualizedConv2D, EqualizedDense,
        LevelBlend, MinibatchStdDev, PixelNorm, _initial_growth,
    )
    from gan_edge.training.models.progan_layers import LEVELS

    layers = keras.layers
    growth = _initial_growth(config, "growth")
    latent = layers.Input((config.latent_dim,), name="latent")

    def conv(h, channels, name):
        h = EqualizedConv2D(channels, 3, name=name)(h)
        return PixelNorm()(layers.LeakyReLU(_SLOPE)(h))

    h = PixelNorm(name="normalize_latent")(latent)
    h = EqualizedDense(4 * 4 * G_CHANNELS[0], name="dense_4x4")(h)
    h = PixelNorm()(layers.LeakyReLU(_SLOPE)(layers.Reshape((4, 4, G_CHANNELS[0]))(h)))
    h = conv(h, G_CHANNELS[0], "conv_4x4")
    rgbs = []
    for level in range(LEVELS):
        side = 4 * 2**level
        if level > 0:
            h = layers.UpSampling2D(2, name=f"up_to_{side}x{side}")(h)
            h = conv(h, G_CHANNELS[level], f"conv_{side}x{side}_a")
            h = conv(h, G_CHANNELS[level], f"conv_{side}x{side}_b")
        rgb = EqualizedConv2D(1, 1, gain=1.0, name=f"to_rgb_{side}x{side}")(h)
        if level < LEVELS - 1:
            rgb = layers.UpSampling2D(2 ** (LEVELS - 1 - level), name=f"rgb_{side}x{side}_to_32x32")(rgb)
        rgbs.append(rgb)
    image = LevelBlend(growth, name="fade_in")(rgbs)
    image = layers.Activation("tanh", name="image")(image)
    return keras.Model(latent, image, name="generator")


def _book_progan_discriminator(config):
    import tf_keras as keras

    from gan_edge.training.models.progan import (
        _SLOPE, D_CHANNELS, G_CHANNELS, OUTPUT_SHAPE, DiscriminatorEntry, EqualizedConv2D, EqualizedDense,
        LevelBlend, MinibatchStdDev, PixelNorm, _initial_growth,
    )
    from gan_edge.training.models.progan_layers import LEVELS

    layers = keras.layers
    growth = _initial_growth(config, "growth")
    image = layers.Input(OUTPUT_SHAPE, name="image")

    def conv(h, channels, name):
        return layers.LeakyReLU(_SLOPE)(EqualizedConv2D(channels, 3, name=name)(h))

    h = None
    for level in reversed(range(LEVELS)):
        side = 4 * 2**level
        x = image if level == LEVELS - 1 else layers.AveragePooling2D(2 ** (LEVELS - 1 - level))(image)
        from_rgb = layers.LeakyReLU(_SLOPE)(EqualizedConv2D(D_CHANNELS[level], 1, name=f"from_rgb_{side}x{side}")(x))
        h = from_rgb if h is None else DiscriminatorEntry(growth, level, name=f"enter_{side}x{side}")([from_rgb, h])
        if level > 0:
            h = conv(h, D_CHANNELS[level], f"conv_{side}x{side}_a")
            h = conv(h, D_CHANNELS[level - 1], f"conv_{side}x{side}_b")
            h = layers.AveragePooling2D(2)(h)
    h = conv(h, D_CHANNELS[0], "conv_4x4")
    h = MinibatchStdDev(name="mbstd")(layers.Flatten()(h))
    h = layers.LeakyReLU(_SLOPE)(EqualizedDense(D_CHANNELS[0], name="dense")(h))
    p_real = layers.Activation("sigmoid", name="p_real")(EqualizedDense(1, gain=1.0, name="logit")(h))
    return keras.Model(image, p_real, name="discriminator")


def test_the_book_progan_is_built_as_before():
    import tf_keras as keras

    from gan_edge.training.config import default_config
    from gan_edge.training.models import model_family

    config = default_config("progan")
    keras.utils.set_random_seed(config.seed)
    reference = _book_progan(config)
    keras.utils.set_random_seed(config.seed)
    family = model_family("progan")
    built = family.build_generator(config), family.build_discriminator(config)
    _assert_same_networks(reference, built)
