"""Shared fixtures. Each group is prefixed by the test area that owns it."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from types import SimpleNamespace
from typing import Callable

import numpy as np
import pytest

# --- the order pytest-xdist hands out test files ----------------------------------
# `make test` runs one worker per core and gives each a whole file at a time, in collection
# order. The longest files (measured: each about a minute or more of a 12-minute serial run)
# go first, so that no worker is left with one of them while the others have finished.
LONGEST_FILES_FIRST = ("test_dcgan.py", "test_distribute.py", "test_web.py", "test_qat.py",
                       "test_crash_safety.py", "test_progan.py", "test_end_to_end.py")


def pytest_collection_modifyitems(config, items):
    if "PYTEST_XDIST_WORKER" in os.environ:  # every worker sorts alike, as xdist requires
        rank = {name: i for i, name in enumerate(LONGEST_FILES_FIRST)}
        items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


# --- vulkan_: no Vulkan driver in the test process ----------------------------------
# Debian's chromium brings Mesa's Vulkan drivers, which link their own LLVM. LiteRT's GPU
# accelerator (probed by the litert-compiled backend's tests) loads them into this process,
# beside TensorFlow's LLVM, and the two option registries collide: a later XLA compile
# segfaults, and the process aborts at exit ("free(): invalid pointer"). So this process sees
# no Vulkan driver (LiteRT's GPU accelerator then reports itself unavailable, as on a machine
# without one), and Chromium, which needs one for WebGPU, gets the original variables back
# (the vulkan_for_browser fixture).
VULKAN_DRIVER_VARIABLES = ("VK_ICD_FILENAMES", "VK_DRIVER_FILES")
# pytest-xdist's workers inherit the environment this file already changed in the process
# that started them: the originals travel to them in a variable of their own.
_SAVED_VULKAN = "GAN_EDGE_TESTS_ORIGINAL_VULKAN"
_ORIGINAL_VULKAN = json.loads(os.environ.setdefault(
    _SAVED_VULKAN, json.dumps({name: os.environ.get(name) for name in VULKAN_DRIVER_VARIABLES})))
for _name in VULKAN_DRIVER_VARIABLES:
    os.environ[_name] = os.devnull


@pytest.fixture(scope="module")
def vulkan_for_browser():
    """The original Vulkan variables while a module's Chromium runs (it is started inside)."""
    for name, value in _ORIGINAL_VULKAN.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    yield
    for name in VULKAN_DRIVER_VARIABLES:
        os.environ[name] = os.devnull

# --- runtime_: tiny real generators exported the way `export/` does ---------------

RUNTIME_LATENT_DIM = 4
RUNTIME_OUTPUT_SHAPE = (2,)


@pytest.fixture(scope="session")
def runtime_models() -> SimpleNamespace:
    """A Keras generator Input(4)->Dense(16)->LeakyReLU(0.1)->Dense(2) and its exports.

    Fields: ``keras`` (the model, the reference), ``tflite_float32`` (dynamic
    batch), ``tflite_int8`` (full int8, dynamic batch), ``tflite_static1`` and
    ``tflite_static4`` (float32, batch fixed at 1 / 4), ``onnx`` (opset 17,
    dynamic batch), all bytes; ``int8_io``: the int8 model's
    ((in_scale, in_zp), (out_scale, out_zp)); ``calibration``: the (300, 4)
    uniform [0, 1) latents the int8 ranges were calibrated on.
    """
    # TensorFlow only here: the runtime under test must never need it.
    import tensorflow as tf
    import tf_keras as keras
    import tf2onnx
    from ai_edge_litert.interpreter import Interpreter

    keras.utils.set_random_seed(0)
    inputs = keras.Input((RUNTIME_LATENT_DIM,))
    h = keras.layers.Dense(16)(inputs)
    h = keras.layers.LeakyReLU(0.1)(h)
    outputs = keras.layers.Dense(RUNTIME_OUTPUT_SHAPE[0])(h)
    model = keras.Model(inputs, outputs)
    calibration = np.random.default_rng(0).random((300, RUNTIME_LATENT_DIM), dtype=np.float32)

    def to_tflite(batch: int | None, int8: bool) -> bytes:
        fn = tf.function(
            lambda z: model(z, training=False),
            input_signature=[tf.TensorSpec([batch, RUNTIME_LATENT_DIM], tf.float32)],
        )
        converter = tf.lite.TFLiteConverter.from_concrete_functions(
            [fn.get_concrete_function()], model
        )
        if int8:
            converter.optimizations = [tf.lite.Optimize.DEFAULT]
            converter.representative_dataset = lambda: ([z[None]] for z in calibration)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
            converter.inference_input_type = tf.int8
            converter.inference_output_type = tf.int8
        return converter.convert()

    tflite_int8 = to_tflite(None, int8=True)
    interpreter = Interpreter(model_content=tflite_int8)
    int8_io = tuple(
        tuple(d["quantization"])
        for d in (interpreter.get_input_details()[0], interpreter.get_output_details()[0])
    )
    onnx_model, _ = tf2onnx.convert.from_keras(
        model,
        input_signature=[tf.TensorSpec([None, RUNTIME_LATENT_DIM], tf.float32, name="latent")],
        opset=17,
    )
    return SimpleNamespace(
        keras=model,
        tflite_float32=to_tflite(None, int8=False),
        tflite_int8=tflite_int8,
        tflite_static1=to_tflite(1, int8=False),
        tflite_static4=to_tflite(4, int8=False),
        onnx=onnx_model.SerializeToString(),
        int8_io=int8_io,
        calibration=calibration,
    )


# Plausible int8 parameters for manifests that need no real model behind them.
_RUNTIME_FAKE_INT8_IO = ((1 / 255, -128), (2 / 255, 0))


def _runtime_manifest_for(
    variant: str, model_file: str, int8_io=_RUNTIME_FAKE_INT8_IO, **overrides
):
    from gan_edge.manifest import Manifest, Quantization, utc_timestamp

    int8 = variant == "int8"
    in_q = out_q = None
    if int8:
        (in_scale, in_zp), (out_scale, out_zp) = int8_io
        in_q, out_q = Quantization(in_scale, in_zp), Quantization(out_scale, out_zp)
    fields = dict(
        schema_version=1,
        format="onnx" if variant == "onnx" else "tflite",
        variant="float32" if variant.startswith("static") else variant,
        model_file=model_file,
        latent_dim=RUNTIME_LATENT_DIM,
        latent_distribution="uniform01",
        output_shape=RUNTIME_OUTPUT_SHAPE,
        output_range=None,
        batch_size=int(variant[len("static"):]) if variant.startswith("static") else None,
        input_dtype="int8" if int8 else "float32",
        output_dtype="int8" if int8 else "float32",
        input_quantization=in_q,
        output_quantization=out_q,
        calibration_samples=300 if int8 else None,
        source={"run": "runs/test", "model": "toy", "config": {"latent_dim": 4}},
        tool_versions={"tensorflow": "2.21.0"},
        created=utc_timestamp(),
    )
    fields.update(overrides)
    return Manifest(**fields)


@pytest.fixture
def runtime_manifest() -> Callable:
    """``make(variant="float32", model_file="gen.tflite", int8_io=..., **fields) -> Manifest``.

    A valid manifest for a ``runtime_models`` variant ("float32", "int8",
    "static1", "static4", "onnx"), with any field overridden; needs no TensorFlow.
    """

    def make(variant: str = "float32", model_file: str = "gen.tflite", **overrides):
        return _runtime_manifest_for(variant, model_file, **overrides)

    return make


@pytest.fixture
def runtime_export(runtime_models, tmp_path) -> Callable[..., Path]:
    """``export(variant, *, sidecar=True, embed=False, name=None, **manifest_fields)``.

    Writes one of ``runtime_models`` (variant: "float32", "int8", "static1",
    "static4", "onnx") into ``tmp_path`` with its manifest as a sidecar and/or
    embedded, and returns the model path.
    """
    from gan_edge.export.embed import embed_in_onnx, embed_in_tflite
    from gan_edge.manifest import write_manifest

    blobs = {
        "float32": runtime_models.tflite_float32,
        "int8": runtime_models.tflite_int8,
        "static1": runtime_models.tflite_static1,
        "static4": runtime_models.tflite_static4,
        "onnx": runtime_models.onnx,
    }

    def export(variant: str, *, sidecar: bool = True, embed: bool = False, name=None, **fields):
        suffix = ".onnx" if variant == "onnx" else ".tflite"
        path = tmp_path / (name or f"gen_{variant}{suffix}")
        manifest = _runtime_manifest_for(variant, path.name, runtime_models.int8_io, **fields)
        data = blobs[variant]
        if embed:
            embedder = embed_in_onnx if variant == "onnx" else embed_in_tflite
            data = embedder(data, manifest)
        path.write_bytes(data)
        if sidecar:
            write_manifest(path, manifest)
        return path

    return export


# --- mnist_: the real digits and the classifier the MNIST evaluators measure with ----


def _shared_by_workers(tmp_path_factory, name: str) -> Path:
    """A folder every pytest-xdist worker of this run sees (their base folders' parent), or
    a fresh one of this session's when pytest runs in one process."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return tmp_path_factory.mktemp(name)
    folder = tmp_path_factory.getbasetemp().parent / name
    folder.mkdir(exist_ok=True)
    return folder


@contextlib.contextmanager
def _held(lock_file: Path):
    """An exclusive lock on ``lock_file`` (created) while the block runs."""
    with open(lock_file, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


MNIST_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


@pytest.fixture(scope="session")
def mnist_classifier_cache(tmp_path_factory):
    """A classifier cache trained once per session, and the data it was trained on.

    Sets ``GAN_EDGE_DATA`` (the shared MNIST test split) and ``GAN_EDGE_CACHE`` for
    the whole session, as a user's environment would, so every DCGAN run in the
    tests finds the same data and the same cached classifier.
    """
    import os

    from gan_edge.training.data.mnist import load_mnist, to_model_range
    from gan_edge.training.metrics.mnist import load_or_train_classifier

    cache = _shared_by_workers(tmp_path_factory, "classifier-cache")
    saved = {key: os.environ.get(key) for key in ("GAN_EDGE_DATA", "GAN_EDGE_CACHE")}
    os.environ["GAN_EDGE_DATA"] = str(MNIST_DIR)
    os.environ["GAN_EDGE_CACHE"] = str(cache)
    data = load_mnist(MNIST_DIR, allow_download=False)
    with _held(cache / ".lock"):  # one worker trains, the others load what it cached
        load_or_train_classifier(cache, to_model_range(data.images), data.labels)
    yield cache
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# --- targets_: exports that the emulated and browser targets run ---------------------

TINY_DCGAN = {"epochs": 1, "data_limit": 256, "batch_size": 64, "eval_samples": 128, "rounds_per_call": 2}


@pytest.fixture(scope="session")
def tiny_dcgan_run(tmp_path_factory, mnist_classifier_cache) -> Path:
    """A tiny DCGAN run (one epoch on 256 digits), trained once per session for every test
    that exports it; each exports into a folder of its own. Untrained digits, but the graph,
    the lowering and the quantization a user gets."""
    from gan_edge.training.config import default_config
    from gan_edge.training.train import train

    return train(default_config("dcgan").with_overrides(TINY_DCGAN), tmp_path_factory.mktemp("dcgan") / "run").run.path


@pytest.fixture(scope="session")
def targets_dcgan_export(tiny_dcgan_run) -> Path:
    """The tiny DCGAN exported through the real pipeline: float32, int8, int8-float-io and
    ONNX, each behind its fidelity gate."""
    from gan_edge.export import export_run

    out = tiny_dcgan_run / "targets-export"
    export_run(tiny_dcgan_run, out, formats=("float32", "int8", "int8-float-io", "onnx"), fidelity_samples=500)
    return out


# --- wheel_: the package as CI ships it ----------------------------------------------

@pytest.fixture(scope="session")
def gan_edge_wheel(tmp_path_factory) -> SimpleNamespace:
    """The wheel and sdist of this checkout: ``$GAN_EDGE_WHEEL`` (and the sdist beside it)
    when CI built them before the tests, else built here once (``python -m build``, no
    isolation, so no download), from the sdist as a user's pip would."""
    import subprocess
    import sys

    given = os.environ.get("GAN_EDGE_WHEEL")
    if given:
        wheel = Path(given).resolve()
        (sdist,) = wheel.parent.glob("gan_edge-*.tar.gz")
        return SimpleNamespace(wheel=wheel, sdist=sdist)
    out = tmp_path_factory.mktemp("dist")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(root)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    (wheel,), (sdist,) = out.glob("gan_edge-*.whl"), out.glob("gan_edge-*.tar.gz")
    return SimpleNamespace(wheel=wheel, sdist=sdist)
