"""gan_edge.load / Generator / backends against tiny real models and their Keras source."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

import gan_edge
from gan_edge import BackendUnavailable, InputError, ManifestError, ModelFileError
from gan_edge.backends import BACKENDS, open_backend
from gan_edge.manifest import Quantization, manifest_path

VARIANTS = ["float32", "int8", "static1", "static4", "onnx"]
FLOAT_VARIANTS = ["float32", "static1", "static4", "onnx"]


def keras_reference(runtime_models, z: np.ndarray) -> np.ndarray:
    return runtime_models.keras(z, training=False).numpy()


# --- what comes out ------------------------------------------------------------------


@pytest.mark.parametrize("variant", VARIANTS)
def test_generate_shape_and_dtype(runtime_export, variant):
    gen = gan_edge.load(runtime_export(variant))
    out = gen.generate(7, seed=0)
    assert out.shape == (7, 2) and out.dtype == np.float32
    assert np.isfinite(out).all()
    assert gen.latent_dim == 4 and gen.output_shape == (2,)
    assert gen.manifest.format == ("onnx" if variant == "onnx" else "tflite")


@pytest.mark.parametrize("variant", FLOAT_VARIANTS)
def test_float_models_match_keras(runtime_export, runtime_models, variant):
    gen = gan_edge.load(runtime_export(variant))
    z = np.random.default_rng(1).random((37, 4), dtype=np.float32)
    np.testing.assert_allclose(gen.generate_from_latent(z), keras_reference(runtime_models, z), atol=1e-5)


def test_int8_is_within_a_few_quantization_steps_of_float(runtime_export, runtime_models):
    gen = gan_edge.load(runtime_export("int8"))
    # The calibration latents: every activation lies inside its calibrated range,
    # so the error is rounding only, not clipping.
    z = runtime_models.calibration
    out_scale = runtime_models.int8_io[1][0]
    error = np.abs(gen.generate_from_latent(z) - keras_reference(runtime_models, z)) / out_scale
    assert error.max() <= 3.0, f"max error {error.max():.2f} output steps"
    assert error.mean() <= 1.0, f"mean error {error.mean():.2f} output steps"


def test_int8_quantizes_and_dequantizes_with_the_model_parameters(runtime_export, runtime_models):
    gen = gan_edge.load(runtime_export("int8"))
    (in_scale, in_zp), (out_scale, out_zp) = runtime_models.int8_io
    assert gen.input_details()["quantization"] == pytest.approx((in_scale, in_zp))
    assert gen.output_details()["quantization"] == pytest.approx((out_scale, out_zp))
    assert gen.input_details()["dtype"] == np.int8
    # Every output is an integer number of output steps away from the zero point.
    steps = gen.generate(50, seed=3) / np.float32(out_scale) + out_zp
    np.testing.assert_allclose(steps, np.round(steps), atol=1e-3)
    assert steps.min() >= -128 - 1e-3 and steps.max() <= 127 + 1e-3


@pytest.mark.parametrize("variant, n", [("static4", 10), ("static4", 3), ("static1", 5), ("float32", 600)])
def test_batches_of_any_size(runtime_export, runtime_models, variant, n):
    # static4 with 10 or 3 pads the last chunk; float32 with 600 spans several
    # dynamic chunks with a smaller remainder.
    gen = gan_edge.load(runtime_export(variant))
    z = np.random.default_rng(n).random((n, 4), dtype=np.float32)
    np.testing.assert_allclose(gen.generate_from_latent(z), keras_reference(runtime_models, z), atol=1e-5)


def test_dynamic_batch_resizes_and_back(runtime_export, runtime_models):
    gen = gan_edge.load(runtime_export("float32"))
    for n in (3, 3, 9, 1, 3):
        z = np.random.default_rng(n).random((n, 4), dtype=np.float32)
        np.testing.assert_allclose(gen.generate_from_latent(z), keras_reference(runtime_models, z), atol=1e-5)


@pytest.mark.parametrize("variant", ["int8", "static4"])
def test_generate_into_fills_the_buffer(runtime_export, variant):
    gen = gan_edge.load(runtime_export(variant))
    out = np.full((6, 2), np.nan, dtype=np.float32)
    returned = gen.generate_into(out, seed=11)
    assert returned is out
    np.testing.assert_array_equal(out, gen.generate(6, seed=11))


def test_generate_into_accepts_a_strided_view(runtime_export):
    gen = gan_edge.load(runtime_export("float32"))
    big = np.zeros((8, 2), dtype=np.float32)
    gen.generate_into(big[::2], seed=5)
    np.testing.assert_array_equal(big[::2], gen.generate(4, seed=5))
    assert (big[1::2] == 0).all()


@pytest.mark.parametrize("variant", ["float32", "int8", "onnx"])
def test_seeds_are_reproducible(runtime_export, variant):
    gen = gan_edge.load(runtime_export(variant))
    a, b, c = gen.generate(16, seed=42), gen.generate(16, seed=42), gen.generate(16, seed=43)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    np.testing.assert_array_equal(a, gen.generate_from_latent(gen.sample_latent(16, seed=42)))


def test_latents_follow_the_manifest_distribution(runtime_export):
    uniform = gan_edge.load(runtime_export("float32", name="u.tflite")).sample_latent(4000, seed=0)
    normal = gan_edge.load(
        runtime_export("float32", name="n.tflite", latent_distribution="normal")
    ).sample_latent(4000, seed=0)
    assert uniform.dtype == normal.dtype == np.float32 and uniform.shape == (4000, 4)
    assert uniform.min() >= 0.0 and uniform.max() < 1.0
    assert normal.min() < -2.0 and abs(normal.std() - 1.0) < 0.05


def test_threads_give_the_same_result(runtime_export):
    path = runtime_export("float32")
    one = gan_edge.load(path, threads=1).generate(64, seed=0)
    np.testing.assert_allclose(gan_edge.load(path, threads=2).generate(64, seed=0), one, atol=1e-6)


def test_from_file_and_repr(runtime_export):
    gen = gan_edge.Generator.from_file(runtime_export("onnx"))
    assert repr(gen) == (
        "Generator(model='gen_onnx.onnx', backend='onnxruntime', variant='onnx', "
        "latent_dim=4, output_shape=(2,))"
    )


# --- manifests at load time ----------------------------------------------------------


@pytest.mark.parametrize("variant", ["int8", "onnx"])
def test_load_without_sidecar_uses_embedded_copy(runtime_export, variant):
    path = runtime_export(variant, sidecar=False, embed=True, latent_distribution="uniform11")
    assert not manifest_path(path).exists()
    gen = gan_edge.load(path)
    assert gen.manifest.latent_distribution == "uniform11"
    assert gen.manifest.sha256 is None
    assert gen.generate(5, seed=0).shape == (5, 2)


def test_sidecar_is_preferred_and_hash_checked(runtime_export):
    path = runtime_export("float32", embed=True, latent_distribution="normal")
    gen = gan_edge.load(path)
    assert gen.manifest.sha256 is not None and gen.manifest.latent_distribution == "normal"
    path.write_bytes(path.read_bytes() + b"\0")
    with pytest.raises(ManifestError, match="changed after export"):
        gan_edge.load(path)


def test_load_without_any_manifest(runtime_export):
    path = runtime_export("float32", sidecar=False)
    with pytest.raises(ManifestError, match=r"no manifest for .*gen_float32.tflite.*gan-edge export"):
        gan_edge.load(path)


@pytest.mark.parametrize(
    "variant, fields, expected",
    [
        ("float32", {"latent_dim": 8}, "the model has latent dim 4 but its manifest says latent_dim=8"),
        ("float32", {"batch_size": 4}, "the model has batch dim None but its manifest says batch_size=4"),
        ("static1", {"batch_size": None}, "the model has batch dim 1 but its manifest says batch_size=None"),
        ("float32", {"output_shape": (3,)}, "output shape per sample (2,) but its manifest says output_shape=(3,)"),
        ("onnx", {"format": "tflite"}, "the model has format 'onnx' but its manifest says 'tflite'"),
        (
            "float32",
            {"input_dtype": "int8", "input_quantization": Quantization(0.1, 0)},
            "the model has input dtype float32 but its manifest says input_dtype='int8'",
        ),
        (
            "int8",
            {"output_quantization": Quantization(0.5, 0)},
            "output quantization (scale, zero_point) (0.00",
        ),
    ],
)
def test_manifest_that_disagrees_with_the_model_is_refused(runtime_export, variant, fields, expected):
    with pytest.raises(ManifestError) as info:
        gan_edge.load(runtime_export(variant, **fields))
    assert expected in str(info.value)
    assert "re-export" in str(info.value)


def test_int8_scale_within_tolerance_is_accepted(runtime_export, runtime_models):
    (scale, zp), _ = runtime_models.int8_io
    gan_edge.load(runtime_export("int8", input_quantization=Quantization(scale * (1 + 1e-8), zp)))
    with pytest.raises(ManifestError, match="input quantization"):
        gan_edge.load(runtime_export("int8", name="b.tflite", input_quantization=Quantization(scale * (1 + 1e-4), zp)))


# --- refusing bad input --------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match=r"no model file at .*nothing.tflite"):
        gan_edge.load(tmp_path / "nothing.tflite")


def test_directory_instead_of_file(tmp_path):
    (tmp_path / "dir.tflite").mkdir()
    with pytest.raises(ModelFileError, match=r"dir.tflite is not a file: expected a .tflite or .onnx"):
        gan_edge.load(tmp_path / "dir.tflite")


def test_empty_file(tmp_path):
    (tmp_path / "empty.tflite").write_bytes(b"")
    with pytest.raises(ModelFileError, match=r"model file .*empty.tflite is empty \(0 bytes\)"):
        gan_edge.load(tmp_path / "empty.tflite")


@pytest.mark.parametrize("name", ["junk.tflite", "junk.onnx"])
def test_garbage_bytes(tmp_path, name):
    (tmp_path / name).write_bytes(b"this is not a model" * 10)
    with pytest.raises(ModelFileError, match=rf"cannot load .*{name}"):
        gan_edge.load(tmp_path / name)


def test_unknown_extension(tmp_path):
    (tmp_path / "gen.pb").write_bytes(b"x")
    with pytest.raises(ModelFileError, match=r"unknown model file extension '.pb' .*expected one of .tflite, .onnx"):
        gan_edge.load(tmp_path / "gen.pb")


@pytest.mark.parametrize(
    "n, expected",
    [
        (0, "n must be a positive int, got 0"),
        (-2, "n must be a positive int, got -2"),
        (2.5, "n must be a positive int, got 2.5 (float)"),
        (True, "n must be a positive int, got True (bool)"),
        ("3", "n must be a positive int, got '3' (str)"),
    ],
)
def test_bad_n(runtime_export, n, expected):
    gen = gan_edge.load(runtime_export("float32"))
    for call in (gen.generate, gen.sample_latent):
        with pytest.raises(InputError) as info:
            call(n)
        assert str(info.value) == expected


def test_numpy_int_n_is_accepted(runtime_export):
    assert gan_edge.load(runtime_export("float32")).generate(np.int64(3)).shape == (3, 2)


@pytest.mark.parametrize(
    "z, expected",
    [
        (np.zeros((3, 10), np.float32), "latent must have shape (n, 4), got (3, 10)"),
        (np.zeros(4, np.float32), "latent must have shape (n, 4), got (4,)"),
        (np.zeros((0, 4), np.float32), "latent must have at least one row: shape (n, 4), got (0, 4)"),
        (np.zeros((3, 4), np.int64), "latent must have a floating dtype (float32), got int64"),
        (np.zeros((3, 4), bool), "latent must have a floating dtype (float32), got bool"),
        (
            np.array([[0, 0, 0, 0], [0, 0, 0, np.nan], [0, 0, np.inf, 0]], np.float32),
            "latent must be finite, got 2 NaN/inf values in 2 rows (first: row 1)",
        ),
        (np.full((2, 4), 1e300), "latent must be finite, got 8 NaN/inf values in 2 rows (first: row 0)"),
    ],
)
def test_bad_latent(runtime_export, z, expected):
    gen = gan_edge.load(runtime_export("float32"))
    with pytest.raises(InputError) as info:
        gen.generate_from_latent(z)
    assert expected in str(info.value)


def test_float64_latent_is_accepted(runtime_export, runtime_models):
    gen = gan_edge.load(runtime_export("float32"))
    z = np.random.default_rng(0).random((4, 4))
    np.testing.assert_allclose(gen.generate_from_latent(z), keras_reference(runtime_models, z.astype(np.float32)), atol=1e-5)


@pytest.mark.parametrize(
    "out, expected",
    [
        (np.zeros((3, 2), np.float64), "out must have dtype float32, got float64"),
        (np.zeros((3, 3), np.float32), "out must have shape (n, 2), got (3, 3)"),
        (np.zeros((3,), np.float32), "out must have shape (n, 2), got (3,)"),
        (np.zeros((0, 2), np.float32), "out must have at least one row"),
        ([[0.0, 0.0]], "out must be a float32 numpy array of shape (n, 2), got list"),
    ],
)
def test_bad_out_buffer(runtime_export, out, expected):
    gen = gan_edge.load(runtime_export("float32"))
    with pytest.raises(InputError) as info:
        gen.generate_into(out)
    assert expected in str(info.value)


def test_read_only_out_buffer(runtime_export):
    out = np.zeros((3, 2), np.float32)
    out.flags.writeable = False
    with pytest.raises(InputError, match="out must be writeable"):
        gan_edge.load(runtime_export("float32")).generate_into(out)


@pytest.mark.parametrize("seed", [-1, 1.5, "a"])
def test_bad_seed(runtime_export, seed):
    with pytest.raises(InputError, match=rf"seed must be None, a non-negative int or a numpy Generator, got {seed!r}"):
        gan_edge.load(runtime_export("float32")).generate(2, seed=seed)


@pytest.mark.parametrize("threads", [0, -1, 1.5, True])
@pytest.mark.parametrize("variant", ["float32", "onnx"])
def test_bad_threads(runtime_export, threads, variant):
    path = runtime_export(variant)
    with pytest.raises(InputError) as info:
        gan_edge.load(path, threads=threads)
    assert str(info.value) == f"threads must be None or a positive int, got {threads!r}"
    backend = "onnxruntime" if variant == "onnx" else "litert"
    with pytest.raises(InputError, match="threads must be None or a positive int"):
        open_backend(backend, path, threads=threads)


@pytest.mark.parametrize("name", ["tflm", "LiteRT", ""])
def test_unknown_backend(runtime_export, name):
    path = runtime_export("float32")
    for call in (lambda: gan_edge.load(path, backend=name), lambda: open_backend(name, path)):
        with pytest.raises(InputError) as info:
            call()
        assert str(info.value) == f"unknown backend {name!r}: expected one of {', '.join(BACKENDS)}"


def test_backend_for_the_other_format(runtime_export):
    with pytest.raises(InputError, match=r"backend 'onnxruntime' reads .onnx files, got gen_float32.tflite: pass backend='litert'"):
        gan_edge.load(runtime_export("float32"), backend="onnxruntime")


def test_onnxruntime_not_installed(runtime_export, monkeypatch):
    path = runtime_export("onnx")
    # None in sys.modules makes `import onnxruntime` raise ImportError.
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(BackendUnavailable, match=r"pip install gan-edge\[onnx\]"):
        gan_edge.load(path)


def test_explicit_default_backend_works(runtime_export):
    assert gan_edge.load(runtime_export("onnx"), backend="onnxruntime").backend.name == "onnxruntime"


def test_sidecar_json_is_what_export_wrote(runtime_export):
    path = runtime_export("int8")
    on_disk = json.loads(manifest_path(path).read_text())
    assert on_disk["input_dtype"] == "int8" and on_disk["model_file"] == path.name
    assert gan_edge.load(path).manifest.to_dict() == on_disk


# --- the hot path: no per-call allocation ----------------------------------------------


@pytest.mark.parametrize("variant", ["float32", "int8", "static4", "onnx"])
def test_repeated_generate_into_matches_generate(runtime_export, variant):
    gen = gan_edge.load(runtime_export(variant))
    out = np.empty((300, 2), dtype=np.float32)  # two dynamic chunks, the last one padded
    for seed in (0, 1, 0):
        gen.generate_into(out, seed=seed)
        np.testing.assert_array_equal(out, gen.generate(300, seed=seed))
    np.testing.assert_array_equal(out, gen.generate_from_latent(gen.sample_latent(300, seed=0)))


def test_steady_state_reuses_the_buffers(runtime_export):
    gen = gan_edge.load(runtime_export("int8"))
    interpreter = gen.backend._interpreter
    out = np.empty((600, 2), dtype=np.float32)
    gen.generate_into(out, seed=0)
    scratch, in_ptr = gen._latents.scratch, interpreter.tensor(gen.backend._in_index)().ctypes.data
    for seed in range(3):
        gen.generate_into(out, seed=seed)
    # Same scratch array, and the interpreter was not resized (its input buffer did not move).
    assert gen._latents.scratch is scratch and gen.backend._batch == 256
    assert interpreter.tensor(gen.backend._in_index)().ctypes.data == in_ptr


def test_seed_none_draws_fresh_samples(runtime_export):
    gen = gan_edge.load(runtime_export("float32"))
    assert not np.array_equal(gen.generate(8), gen.generate(8))


@pytest.mark.parametrize("variant", ["float32", "int8"])
def test_unseeded_calls_draw_the_default_stream_in_order(runtime_export, variant):
    # seed=None calls of a few rows take latents from a block drawn ahead; whatever the
    # call sizes, the rows are the stream's next ones, as if drawn call by call.
    gen = gan_edge.load(runtime_export(variant))
    gen._latents.default_rng = np.random.default_rng(7)  # the unseeded stream, made reproducible
    sizes = [1] * 50 + [30, 1, 64, 3] + [1] * 20
    rows = np.concatenate([gen.generate(n) for n in sizes])
    expected = gen.generate_from_latent(np.random.default_rng(7).random((sum(sizes), 4), dtype=np.float32))
    np.testing.assert_array_equal(rows, expected)
