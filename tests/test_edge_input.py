"""The edge side refuses what a hostile or careless user hands it, in one line (issue 23).

Each hazard below was found by probing: a sample count that filled memory and disk, an
output path that is a folder, unwritable or already taken, a thread count that crashed
LiteRT, a manifest nested or numbered past what json.loads survives, external data hidden
in an ONNX model's functions, and LiteRT's GPU accelerator beside TensorFlow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gan_edge
from gan_edge import BackendUnavailable, InputError, ManifestError, ModelFileError
from gan_edge.cli.main import build_parser, main
from gan_edge.manifest import MAX_MANIFEST_BYTES, MAX_MANIFEST_DEPTH, MAX_NUMBER_CHARS, manifest_path

CLI = [sys.executable, "-m", "gan_edge.cli.main"]
# A sidecar or embedded manifest that json.loads would recurse into until RecursionError.
DEEP = "[" * 100_000 + "]" * 100_000


def one_line_error(capsys, command: str) -> str:
    err = capsys.readouterr().err
    assert err.startswith(f"gan-edge {command}: error: ") and err.count("\n") == 1, err
    return err


def run_cli(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def image_model(tmp_path_factory) -> Path:
    """A float32 image generator, latent 4 -> (4, 4, 1) in [-1, 1], untrained: for the .png paths."""
    import tensorflow as tf
    import tf_keras as keras
    from conftest import _runtime_manifest_for

    from gan_edge.manifest import write_manifest

    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    outputs = keras.layers.Reshape((4, 4, 1))(keras.layers.Dense(16, activation="tanh")(inputs))
    model = keras.Model(inputs, outputs)
    fn = tf.function(lambda z: model(z, training=False), input_signature=[tf.TensorSpec([None, 4], tf.float32)])
    blob = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], model).convert()
    path = tmp_path_factory.mktemp("image_model") / "gen_image.tflite"
    path.write_bytes(blob)
    write_manifest(path, _runtime_manifest_for("float32", path.name, output_shape=(4, 4, 1), output_range=(-1.0, 1.0)))
    return path


# --- generate: the samples go to disk in chunks -----------------------------------------


@pytest.mark.parametrize("variant", ["float32", "int8", "static4", "onnx"])
def test_npy_written_in_chunks_equals_one_call(runtime_export, tmp_path, monkeypatch, capsys, variant):
    from gan_edge.cli import generate

    # 10 rows a chunk: 1,003 rows take 101 chunks, the last one short (and padded by the static4 model).
    monkeypatch.setattr(generate, "CHUNK_BYTES", 10 * 2 * 4)
    path, out = runtime_export(variant), tmp_path / "samples.npy"
    assert main(["generate", str(path), "-n", "1003", "--seed", "5", "--out", str(out)]) == 0
    assert f"wrote {out}: 1003 samples of shape (2,), float32" in capsys.readouterr().out
    np.testing.assert_array_equal(np.load(out), gan_edge.load(path).generate(1003, seed=5))


def test_npy_output_does_not_grow_the_memory(runtime_export, tmp_path):
    """134 MB of samples: the process's peak memory grows by one chunk, not by the file."""
    path = runtime_export("float32")
    # VmHWM, the peak of this process's own memory: ru_maxrss would keep pytest's from before exec.
    code = ("import sys; from gan_edge.cli.main import main; status = main(sys.argv[1:]); "
            "print(open('/proc/self/status').read().split('VmHWM:')[1].split()[0], file=sys.stderr); sys.exit(status)")
    peaks = {}
    for n in (1, 2**24):
        out = tmp_path / f"samples{n}.npy"
        done = subprocess.run([sys.executable, "-c", code, "generate", str(path), "-n", str(n), "--seed", "0",
                               "--out", str(out)], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        peaks[n] = int(done.stderr.strip().splitlines()[-1]) * 1024  # KiB
        assert np.load(out, mmap_mode="r").shape == (n, 2)
    file_bytes = (tmp_path / f"samples{2**24}.npy").stat().st_size
    assert file_bytes > 2**27
    assert peaks[2**24] - peaks[1] < 40 * 2**20, (peaks, file_bytes)


# --- generate: sizes refused before any work ---------------------------------------------


def test_npy_beyond_the_free_disk_is_refused_with_the_numbers(runtime_export, tmp_path, capsys):
    import shutil

    path, out = runtime_export("float32"), tmp_path / "out" / "samples.npy"
    n = shutil.disk_usage(tmp_path).free  # 8 bytes a sample: eight times what the disk holds
    before = sorted(tmp_path.iterdir())
    assert main(["generate", str(path), "-n", str(n), "--out", str(out)]) == 2
    err = one_line_error(capsys, "generate")
    needed = n * 8 + 128  # the .npy header of this shape is 128 bytes
    assert f"-n {n:,} needs {needed:,} bytes" in err and f"{tmp_path} has" in err and "free" in err
    assert "pass a smaller -n" in err
    assert sorted(tmp_path.iterdir()) == before  # no output, no folder for it


def test_npy_beyond_the_size_bound_is_refused_whatever_the_disk(runtime_export, tmp_path, monkeypatch, capsys):
    import shutil

    from gan_edge.cli import generate

    real = shutil.disk_usage
    monkeypatch.setattr(shutil, "disk_usage", lambda p: real(p)._replace(free=2**62))
    n = generate.MAX_NPY_BYTES // 8 + 1
    assert main(["generate", str(runtime_export("float32")), "-n", str(n), "--out", str(tmp_path / "x.npy")]) == 2
    err = one_line_error(capsys, "generate")
    assert f"-n {n:,} needs {n * 8 + 128:,} bytes" in err and f"at most {generate.MAX_NPY_BYTES:,}" in err
    assert not (tmp_path / "x.npy").exists()


@pytest.mark.parametrize("n", [10_000_000, 10**12])
def test_png_grid_above_the_pixel_bound_is_refused(image_model, tmp_path, capsys, n):
    from gan_edge.cli import generate

    assert main(["generate", str(image_model), "-n", str(n), "--out", str(tmp_path / "grid.png")]) == 2
    err = one_line_error(capsys, "generate")
    assert f"a grid of {n:,} images of 4x4 is" in err and f"above the {generate.MAX_PNG_PIXELS:,}" in err
    assert "write .npy" in err and not (tmp_path / "grid.png").exists()


def test_png_grid_below_the_bound_is_written(image_model, tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["generate", str(image_model), "-n", "9", "--seed", "1", "--out", str(out)]) == 0
    assert out.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("n", ["0", "-3"])
def test_n_must_be_positive(runtime_export, tmp_path, capsys, n):
    assert main(["generate", str(runtime_export("float32")), "-n", n, "--out", str(tmp_path / "x.npy")]) == 2
    assert f"-n must be a positive int, got {n}" in one_line_error(capsys, "generate")


def test_generate_beyond_memory_is_refused_with_the_numbers(runtime_export):
    from gan_edge.capacity import available_memory

    gen = gan_edge.load(runtime_export("float32"))
    with pytest.raises(InputError) as info:
        gen.generate(10**12)
    message = str(info.value)
    assert "\n" not in message and "needs 8,000,000,000,000 bytes (7.3 TiB) of memory" in message
    assert "available" in message and "generate_into" in message
    assert available_memory() < 8 * 10**12  # the number the message compares against is real


def test_bench_batch_beyond_memory_is_refused(runtime_export, capsys):
    path = runtime_export("float32")
    assert main(["bench", str(path), "--batch", "1," + str(10**12), "--runs", "1", "--warmup", "0"]) == 2
    err = one_line_error(capsys, "bench")
    assert "batch 1,000,000,000,000 of gen_float32.tflite needs 8,000,000,000,000 bytes" in err
    assert "available: use a smaller batch" in err


# --- generate: where the output goes ------------------------------------------------------


def test_out_onto_a_folder_is_refused(runtime_export, tmp_path, capsys):
    folder = tmp_path / "samples.npy"
    folder.mkdir()
    assert main(["generate", str(runtime_export("float32")), "-n", "3", "--out", str(folder)]) == 2
    assert f"--out {folder} is a folder: expected a file path ending in .npy or .png" in one_line_error(capsys, "generate")
    assert list(folder.iterdir()) == []


@pytest.mark.parametrize("out", ["/sys/samples.npy", "/sys/gan_edge_new/samples.npy"])
def test_out_into_a_folder_that_cannot_be_written_is_refused(runtime_export, capsys, out):
    # sysfs takes no new files, even from root (a chmod 555 folder would not stop root).
    assert main(["generate", str(runtime_export("float32")), "-n", "3", "--out", out]) == 2
    err = one_line_error(capsys, "generate")
    assert f"cannot write --out {out}: " in err and "pass an --out in a folder you can write" in err
    assert not Path(out).exists() and not Path("/sys/gan_edge_new").exists()


def test_out_under_a_file_is_refused(runtime_export, tmp_path, capsys):
    path = runtime_export("float32")
    out = path / "samples.npy"  # the model file taken for a folder
    assert main(["generate", str(path), "-n", "3", "--out", str(out)]) == 2
    assert f"cannot write --out {out}: {path} is not a folder" in one_line_error(capsys, "generate")


def test_existing_output_is_kept_unless_force(runtime_export, tmp_path, capsys):
    path, out = runtime_export("float32"), tmp_path / "samples.npy"
    out.write_bytes(b"earlier results")
    assert main(["generate", str(path), "-n", "3", "--out", str(out)]) == 2
    assert f"--out {out} already exists: pass --force to overwrite it" in one_line_error(capsys, "generate")
    assert out.read_bytes() == b"earlier results"
    assert main(["generate", str(path), "-n", "3", "--seed", "2", "--out", str(out), "--force"]) == 0
    np.testing.assert_array_equal(np.load(out), gan_edge.load(path).generate(3, seed=2))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["samples.npy", path.name, manifest_path(path).name])


def test_generate_help_names_force():
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert "--force" in subparsers.choices["generate"].format_help()


# --- threads and workers ------------------------------------------------------------------


def test_thread_counts_past_the_bound_are_refused_before_the_runtime(runtime_export):
    """In a process of its own: before the bound, 40,000 threads segfaulted in close()."""
    from gan_edge.backends import THREADS_PER_CPU, max_threads
    from gan_edge.capacity import usable_cpus

    path, bound = runtime_export("float32"), max_threads()
    code = ("import sys, gan_edge\n"
            "for options in ({'threads': 40000}, {'workers': 40000}, {'threads': %d}, {'workers': %d}):\n"
            "    try:\n"
            "        gan_edge.load(sys.argv[1], **options).close()\n"
            "    except gan_edge.InputError as exc:\n"
            "        print(exc)\n") % (bound + 1, bound + 1)
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    why = f"({THREADS_PER_CPU} per usable core, {usable_cpus()} here)"
    assert bound == THREADS_PER_CPU * usable_cpus() and lines == [
        f"threads must be at most {bound} {why}, got 40000",
        f"workers must be at most {bound} {why}, got 40000",
        f"threads must be at most {bound} {why}, got {bound + 1}",
        f"workers must be at most {bound} {why}, got {bound + 1}",
    ]


def test_bench_threads_past_the_bound_is_one_line_not_a_crash(runtime_export):
    from gan_edge.backends import max_threads

    done = run_cli("bench", runtime_export("float32"), "--threads", "1,100000", "--runs", "1", "--warmup", "0")
    assert done.returncode == 2, (done.returncode, done.stderr)
    assert done.stderr.count("\n") == 1 and done.stdout == ""
    assert f"gan-edge bench: error: threads must be at most {max_threads()} " in done.stderr


@pytest.mark.parametrize("variant", ["float32", "onnx"])
def test_thread_counts_at_the_bound_still_run(runtime_export, variant):
    from gan_edge.backends import max_threads

    path = runtime_export(variant)
    with gan_edge.load(path, threads=max_threads(), workers=2) as gen:
        np.testing.assert_allclose(gen.generate(5, seed=1), gan_edge.load(path).generate(5, seed=1), atol=1e-6)


# --- manifests: bounded before json.loads --------------------------------------------------


def _sidecar(runtime_export, text: str) -> Path:
    path = runtime_export("float32")
    manifest_path(path).write_text(text)
    return path


def _valid_sidecar_text(path: Path, **changes) -> str:
    return json.dumps(json.loads(manifest_path(path).read_text()) | changes)


@pytest.mark.parametrize(
    "make, expected",
    [
        (lambda path: DEEP, f"nests deeper than {MAX_MANIFEST_DEPTH}"),
        (lambda path: _valid_sidecar_text(path).replace('"latent_dim": 4', '"latent_dim": ' + "9" * 5000),
         f"a number longer than {MAX_NUMBER_CHARS} characters"),
        (lambda path: _valid_sidecar_text(path) + " " * MAX_MANIFEST_BYTES,
         f"is {MAX_MANIFEST_BYTES + 1:,} bytes or more, above the {MAX_MANIFEST_BYTES:,}"),
    ],
    ids=["deep", "long-number", "large"],
)
def test_hostile_sidecar_is_refused_by_load(runtime_export, make, expected):
    path = runtime_export("float32")
    manifest_path(path).write_text(make(path))
    with pytest.raises(ManifestError) as info:
        gan_edge.load(path)
    message = str(info.value)
    assert "\n" not in message and expected in message
    assert f"manifest {manifest_path(path)}" in message and "re-export the model with `gan-edge export`" in message


def test_hostile_sidecar_is_refused_by_generate_and_devices(runtime_export, tmp_path, capsys):
    path = _sidecar(runtime_export, DEEP)
    out = tmp_path / "samples.npy"
    assert main(["generate", str(path), "-n", "3", "--out", str(out)]) == 2
    assert f"nests deeper than {MAX_MANIFEST_DEPTH}" in one_line_error(capsys, "generate")
    assert not out.exists()
    assert main(["devices", "--probe", str(path)]) == 2
    assert f"nests deeper than {MAX_MANIFEST_DEPTH}" in one_line_error(capsys, "devices")


def _embedded_tflite(runtime_export, monkeypatch, payload: str) -> Path:
    from gan_edge.export import embed
    from gan_edge.manifest import UNSTAMPED

    # The content hash's marker keeps export's stamping step working; what follows it is hostile.
    monkeypatch.setattr(embed, "_payload", lambda manifest: f'{{"content_sha256":"{UNSTAMPED}","x":{payload}}}')
    return runtime_export("float32", sidecar=False, embed=True)


def _embedded_onnx(runtime_export, payload: str) -> Path:
    import onnx

    from gan_edge.manifest import METADATA_KEY

    path = runtime_export("onnx", sidecar=False)
    model = onnx.load_from_string(path.read_bytes())
    model.metadata_props.add(key=METADATA_KEY, value=payload)
    path.write_bytes(model.SerializeToString())
    return path


@pytest.mark.parametrize("kind", ["tflite", "onnx"])
@pytest.mark.parametrize(
    "payload, expected",
    [(DEEP, f"nests deeper than {MAX_MANIFEST_DEPTH}"),
     ("-" + "1" * 5000, f"a number longer than {MAX_NUMBER_CHARS} characters")],
    ids=["deep", "long-number"],
)
def test_hostile_embedded_manifest_is_refused(runtime_export, monkeypatch, capsys, tmp_path, kind, payload, expected):
    path = (_embedded_tflite(runtime_export, monkeypatch, payload) if kind == "tflite"
            else _embedded_onnx(runtime_export, payload))
    with pytest.raises(ManifestError) as info:
        gan_edge.load(path)
    message = str(info.value)
    assert "\n" not in message and expected in message and f"the 'gan_edge_manifest' entry in {path}" in message
    assert main(["generate", str(path), "-n", "3", "--out", str(tmp_path / "x.npy")]) == 2
    assert expected in one_line_error(capsys, "generate")


def test_the_bounds_leave_real_manifests_alone(runtime_export):
    path = runtime_export("int8", embed=True)
    assert gan_edge.load(path).manifest.latent_dim == 4  # the sidecar
    manifest_path(path).unlink()
    assert gan_edge.load(path).manifest.latent_dim == 4  # the embedded copy


# --- ONNX: external data inside functions and training info ---------------------------------


def _external_tensor(location: str):
    from onnx import TensorProto

    tensor = TensorProto(name="leak", data_type=TensorProto.FLOAT, dims=[1], data_location=TensorProto.EXTERNAL)
    tensor.external_data.add(key="location", value=location)
    return tensor


def _in_function_node(model, tensor) -> None:
    from onnx import helper

    node = helper.make_node("Constant", [], ["c"], value=tensor)
    model.functions.append(helper.make_function("custom", "Leak", [], ["c"], [node], [helper.make_opsetid("", 17)]))


def _in_function_default(model, tensor) -> None:
    from onnx import helper

    function = helper.make_function("custom", "Leak", [], [], [], [helper.make_opsetid("", 17)])
    function.attribute_proto.append(helper.make_attribute("w", tensor))
    model.functions.append(function)


def _in_training_info(model, tensor) -> None:
    import onnx
    from onnx import helper

    info = onnx.TrainingInfoProto()
    info.initialization.CopyFrom(helper.make_graph([], "init", [], [], initializer=[tensor]))
    model.training_info.append(info)


@pytest.mark.parametrize("place", [_in_function_node, _in_function_default, _in_training_info],
                         ids=["function-node", "function-default", "training-info"])
def test_onnx_external_data_outside_the_graph_is_checked(runtime_export, place):
    import onnx

    from gan_edge.onnx_file import onnx_external_data

    path = runtime_export("onnx", sidecar=False, embed=True)
    model = onnx.load_from_string(path.read_bytes())
    place(model, _external_tensor("../../etc/passwd"))
    data = model.SerializeToString()
    path.write_bytes(data)
    assert onnx_external_data(data) == ["../../etc/passwd"]
    with pytest.raises(ModelFileError) as info:
        gan_edge.load(path)
    assert f"{path.name} reads tensor data from '../../etc/passwd', outside its folder" in str(info.value)


# --- LiteRT's GPU accelerator beside TensorFlow ---------------------------------------------

_GPU_LOAD = """
import sys
{imports}
import gan_edge
try:
    gan_edge.load(sys.argv[1], backend="litert-compiled", accelerator="gpu+cpu")
    print("loaded")
except gan_edge.GanEdgeError as exc:
    print(type(exc).__name__, exc)
print("tensorflow loaded:", "tensorflow" in sys.modules)
"""


def test_gpu_accelerator_is_refused_beside_tensorflow(runtime_export):
    code = _GPU_LOAD.format(imports="import tensorflow")
    done = subprocess.run([sys.executable, "-c", code, str(runtime_export("static1"))],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    refusal, loaded = done.stdout.strip().splitlines()[-2:]
    assert refusal.startswith("BackendUnavailable accelerator 'gpu+cpu' is refused in this process: TensorFlow is loaded")
    assert "run generation in a process without TensorFlow, e.g. `gan-edge generate`" in refusal
    assert loaded == "tensorflow loaded: True"


def test_gpu_accelerator_gets_past_the_check_without_tensorflow(runtime_export):
    done = subprocess.run([sys.executable, "-c", _GPU_LOAD.format(imports=""), str(runtime_export("static1"))],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result, loaded = done.stdout.strip().splitlines()[-2:]
    # Here: no GPU driver (BackendUnavailable naming it); with a GPU: loaded. Never the TensorFlow refusal.
    assert result == "loaded" or (result.startswith("BackendUnavailable") and "TensorFlow" not in result), result
    assert loaded == "tensorflow loaded: False"


def test_gpu_refusal_in_this_process_names_what_is_available(runtime_export):
    assert "tensorflow" in sys.modules  # the runtime_models fixture converted with it
    with pytest.raises(BackendUnavailable) as info:
        gan_edge.load(runtime_export("static1"), backend="litert-compiled", accelerator="gpu")
    message = str(info.value)
    assert "\n" not in message and "TensorFlow is loaded" in message and message.endswith("available: cpu")


# --- a signature naming another tensor (found by benchmarks/fuzz_loader.py) ------------------


def test_compiled_model_refuses_a_signature_that_names_an_inner_tensor(runtime_export):
    """The Interpreter runs it (it reads the subgraph's outputs), CompiledModel fails in
    create_output_buffers with a bare RuntimeError: refused as a ModelFileError."""
    from ai_edge_litert import schema_py_generated as schema

    from gan_edge.backends import open_backend

    path = runtime_export("static1", sidecar=False)
    data = bytearray(path.read_bytes())
    output = schema.Model.GetRootAsModel(data, 0).SignatureDefs(0).Outputs(0)
    at = output._tab.Pos + output._tab.Offset(6)  # TensorMap.tensor_index
    assert int.from_bytes(data[at:at + 4], "little") == output.TensorIndex() != 1
    data[at:at + 4] = (1).to_bytes(4, "little")  # the first layer's weights, not the output
    path.write_bytes(bytes(data))
    assert open_backend("litert", path).run(np.zeros((1, 4), np.float32)).shape == (1, 2)
    with pytest.raises(ModelFileError) as info:
        open_backend("litert-compiled", path)
    assert str(info.value).startswith(f"LiteRT cannot compile {path}: ") and "\n" not in str(info.value)
