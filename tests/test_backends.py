"""Backend options (LiteRT CompiledModel accelerators, external delegates, ONNX Runtime
providers), MAC counting, and the bench's --tf-baseline / --plot."""

from __future__ import annotations

import numpy as np
import pytest

import gan_edge
from gan_edge import BackendUnavailable, InputError
from gan_edge.cli.main import main
from gan_edge.macs import count_macs

# --- litert-compiled ------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["static1", "static4"])
def test_compiled_model_cpu_matches_the_interpreter(runtime_export, variant):
    path = runtime_export(variant)
    compiled = gan_edge.load(path, backend="litert-compiled", accelerator="cpu")
    reference = gan_edge.load(path)
    assert compiled.backend.name == "litert-compiled"
    np.testing.assert_array_equal(compiled.generate(9, seed=3), reference.generate(9, seed=3))
    out = np.empty((4, 2), np.float32)
    np.testing.assert_array_equal(compiled.generate_into(out, seed=1), reference.generate(4, seed=1))


def test_compiled_model_refuses_a_dynamic_batch_model(runtime_export):
    with pytest.raises(InputError) as info:
        gan_edge.load(runtime_export("float32"), backend="litert-compiled")
    message = str(info.value)
    assert "\n" not in message and "static-batch" in message and "--batch 1" in message


def test_compiled_model_gpu_is_refused_or_works(runtime_export):
    path = runtime_export("static1")
    try:
        gen = gan_edge.load(path, backend="litert-compiled", accelerator="gpu")
    except BackendUnavailable as exc:  # this machine: no GPU driver for LiteRT
        message = str(exc)
        assert "\n" not in message and "'gpu'" in message and "available: cpu" in message
    else:  # a machine with a GPU: it must still be right
        np.testing.assert_allclose(gen.generate(3, seed=0), gan_edge.load(path).generate(3, seed=0), atol=1e-4)


@pytest.mark.parametrize(
    "accelerator", ["tpu", "", "gpu+gpu", "cpu+"],
)
def test_compiled_model_bad_accelerator_name(runtime_export, accelerator):
    with pytest.raises(InputError, match="accelerator must be one of cpu, gpu, npu"):
        gan_edge.load(runtime_export("static1"), backend="litert-compiled", accelerator=accelerator)


def test_options_are_refused_by_other_backends(runtime_export):
    with pytest.raises(InputError, match="accelerator= is an option of backend 'litert-compiled', got backend 'litert'"):
        gan_edge.load(runtime_export("static1"), accelerator="cpu")
    with pytest.raises(InputError, match="providers= is an option of backend 'onnxruntime'"):
        gan_edge.load(runtime_export("static1"), providers=["CPUExecutionProvider"])
    with pytest.raises(InputError, match="delegate= is an option of backend 'litert'"):
        gan_edge.load(runtime_export("onnx"), delegate="/x.so")


# --- external delegates and ONNX Runtime providers --------------------------------------


def test_missing_delegate_library_is_refused_by_path(runtime_export, tmp_path):
    library = tmp_path / "libno_such_delegate.so"
    with pytest.raises(BackendUnavailable) as info:
        gan_edge.load(runtime_export("float32"), delegate=library, delegate_options={"precision": "fp16"})
    assert str(library) in str(info.value) and "\n" not in str(info.value)


def test_a_library_that_is_no_delegate_is_refused(runtime_export):
    import ctypes.util

    libm = ctypes.util.find_library("m") or "libm.so.6"
    with pytest.raises(BackendUnavailable, match="is not a TFLite delegate: it does not export tflite_plugin_create_delegate"):
        gan_edge.load(runtime_export("float32"), delegate=libm)


def test_providers(runtime_export):
    import onnxruntime

    path = runtime_export("onnx")
    assert gan_edge.load(path).backend.providers == ["CPUExecutionProvider"]
    gen = gan_edge.load(path, providers=["CPUExecutionProvider"])
    assert gen.generate(3, seed=0).shape == (3, 2)
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(BackendUnavailable) as info:
            gan_edge.load(path, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])
        message = str(info.value)
        assert "CUDAExecutionProvider" in message and "CPUExecutionProvider" in message
    with pytest.raises(InputError, match="providers must be a non-empty list"):
        gan_edge.load(path, providers="CPUExecutionProvider")


# --- MACs -----------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["float32", "int8", "static1", "static4"])
def test_toy_generator_macs(runtime_export, variant):
    count = count_macs(runtime_export(variant))
    assert count.per_sample == 4 * 16 + 16 * 2 and count.by_op == {"FULLY_CONNECTED": 96}


def test_conv_model_macs(tmp_path):
    import tensorflow as tf
    import tf_keras as keras

    inputs = keras.Input((8, 8, 3), batch_size=2)
    h = keras.layers.Conv2D(5, 3, padding="same")(inputs)  # 8*8*5 * 3*3*3
    h = keras.layers.DepthwiseConv2D(3, padding="valid")(h)  # 6*6*5 * 3*3
    h = keras.layers.Conv2DTranspose(4, 2, strides=2)(h)  # 6*6*5 * 2*2*4
    outputs = keras.layers.Dense(7)(keras.layers.Flatten()(h))  # 12*12*4 * 7
    model = keras.Model(inputs, outputs)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    count = count_macs(converter.convert())
    assert count.by_op == {
        "CONV_2D": 8 * 8 * 5 * 27,
        "DEPTHWISE_CONV_2D": 6 * 6 * 5 * 9,
        "TRANSPOSE_CONV": 6 * 6 * 5 * 16,
        "FULLY_CONNECTED": 12 * 12 * 4 * 7,
    }
    assert count.per_sample == sum(count.by_op.values())


def test_macs_of_garbage(tmp_path):
    with pytest.raises(gan_edge.ModelFileError, match="not a TFLite flatbuffer"):
        count_macs(b"not a model at all")


# --- the bench: --tf-baseline, --plot, litert-compiled ------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    from gan_edge.training.config import default_config
    from gan_edge.training.train import train

    run_dir = tmp_path_factory.mktemp("tiny") / "run"
    train(default_config().with_overrides({"epochs": 1, "data_samples": 2000, "eval_samples": 2000}), run_dir)
    return run_dir


def test_cli_bench_tf_baseline_and_plot(runtime_export, tiny_run, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    plot = tmp_path / "bench.png"
    args = ["bench", str(runtime_export("int8")), "--batch", "1,8", "--runs", "5", "--warmup", "1"]
    assert main(args + ["--tf-baseline", str(tiny_run), "--plot", str(plot)]) == 0
    printed = capsys.readouterr().out
    lines = printed.splitlines()
    assert "vs tf.function" in lines[1] and "GMAC/s" in lines[1]
    tf_rows = [ln.split() for ln in lines if "(tf_keras)" in ln]
    assert sorted(row[2] for row in tf_rows) == ["tf", "tf", "tf.function", "tf.function"]
    assert all(row[-3] == "1.00x" for row in tf_rows if row[2] == "tf.function")
    ours = [ln.split() for ln in lines if ln.startswith("gen_int8.tflite ")]
    assert len(ours) == 2 and all(row[-3].endswith("x") and float(row[-3][:-1]) > 0 for row in ours)
    assert "MACs per sample: gen_int8.tflite 96" in printed
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_bench_plot_without_matplotlib(runtime_export, tmp_path, monkeypatch, capsys):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert main(["bench", str(runtime_export("int8")), "--plot", str(tmp_path / "p.png")]) == 2
    assert "pip install matplotlib" in capsys.readouterr().err
    assert not (tmp_path / "p.png").exists()


def test_cli_bench_compiled_model(runtime_export, capsys):
    args = ["bench", str(runtime_export("static1")), "--backend", "litert-compiled", "--accelerator", "cpu"]
    assert main(args + ["--batch", "1", "--runs", "5", "--warmup", "1"]) == 0
    assert "litert-compiled" in capsys.readouterr().out
