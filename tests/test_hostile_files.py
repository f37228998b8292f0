"""Hostile model files: refused with a gan_edge error, never a crash, a hang or a traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gan_edge
from gan_edge.errors import ManifestError, ModelFileError
from gan_edge.onnx_file import onnx_external_data
from gan_edge.tflite_file import verify_tflite

ROOT = Path(__file__).resolve().parents[1]


def test_fuzzed_files_never_crash_hang_or_escape_as_other_errors(runtime_export, tmp_path):
    """120 seeded mutations of real exports on every backend, each load in its own child process."""
    for variant in ("float32", "int8", "static1", "onnx"):
        runtime_export(variant, sidecar=True, embed=True)
    report = tmp_path / "fuzz.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "fuzz_loader.py"), str(tmp_path), "--count", "120",
         "--seed", "0", "--timeout", "20", "--json", str(report)],
        capture_output=True, text=True, timeout=300,
    )
    assert report.is_file(), f"fuzz_loader.py wrote no report (exit {done.returncode}): {done.stderr[-2000:]}"
    results = json.loads(report.read_text())["results"]
    outcomes = {r["outcome"] for r in results}
    assert {r["index"] for r in results} == set(range(120))
    assert {r["backend"] for r in results} == {"litert", "litert-compiled", "onnxruntime"}
    bad = [r for r in results if r["outcome"] in ("crash", "hang", "other_error", "wrong_output")]
    assert not bad, bad
    assert done.returncode == 0, done.stdout[-2000:]
    assert "refused" in outcomes
    # With a manifest in place, its hash refuses every changed file: the sidecar's
    # sha256, or without it the embedded manifest's content hash.
    held = [r for r in results if r["manifest"] in ("sidecar", "embedded")]
    assert {r["manifest"] for r in held} == {"sidecar", "embedded"}
    assert all(r["outcome"] == "refused" for r in held), [r for r in held if r["outcome"] != "refused"]
    assert any(r["strategy"] == "weight" for r in held)
    # Rehashed files get past the hash: the structural checks and runtimes answer them.
    assert any(r["manifest"] == "rehashed" for r in results)


def test_verifier_slots_match_the_tflite_schema():
    """The vtable slots gan_edge.tflite_file reads are those of LiteRT's generated schema."""
    import inspect

    from ai_edge_litert import schema_py_generated as schema

    from gan_edge.tflite_file import SCHEMA_SLOTS

    checked = 0
    for table, slots in SCHEMA_SLOTS.items():
        for field, slot in slots.items():
            adder = getattr(schema, f"{table}Add{''.join(part.capitalize() for part in field.split('_'))}")
            # The generated adder writes the field into its vtable slot: builder.Prepend...Slot(N, ...)
            written = int(re.search(r"Slot\((\d+)", inspect.getsource(adder)).group(1))
            assert written == slot, f"{table}.{field}: slot {slot} here, {written} in the schema"
            checked += 1
    assert checked >= 50


def test_verifier_accepts_real_exports(runtime_models):
    for blob in (runtime_models.tflite_float32, runtime_models.tflite_int8, runtime_models.tflite_static4):
        verify_tflite(blob)


@pytest.mark.parametrize("cut", [8, 100, -40])
def test_truncated_tflite_is_refused_by_name(runtime_models, tmp_path, cut):
    path = tmp_path / "cut.tflite"
    path.write_bytes(runtime_models.tflite_float32[:cut])
    with pytest.raises(ModelFileError, match="cannot load .*cut.tflite"):
        gan_edge.load(path)


def test_out_of_range_offset_names_the_byte(runtime_models):
    blob = bytearray(runtime_models.tflite_float32)
    trace: list = []
    verify_tflite(bytes(blob), trace=trace)
    at = next(pos for pos, kind in trace if kind == "uoffset" and pos > 0)
    blob[at:at + 4] = (0x7FFFFFF0).to_bytes(4, "little")
    with pytest.raises(ModelFileError, match=r"offset \d+ at byte \d+ points outside the file"):
        verify_tflite(bytes(blob))


# --- ONNX external data ------------------------------------------------------------------


def _onnx_with_external_data(runtime_models, folder: Path, location: str) -> Path:
    import onnx
    from onnx.external_data_helper import convert_model_to_external_data

    model = onnx.load_from_string(runtime_models.onnx)
    convert_model_to_external_data(model, all_tensors_to_one_file=True, location="weights.bin", size_threshold=0)
    folder.mkdir(parents=True, exist_ok=True)
    onnx.save_model(model, str(folder / "gen.onnx"))  # writes weights.bin beside it
    if location != "weights.bin":
        for tensor in model.graph.initializer:
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = location
        (folder / "gen.onnx").write_bytes(model.SerializeToString())
    return folder / "gen.onnx"


def test_onnx_external_data_beside_the_model_is_allowed(runtime_models, tmp_path):
    path = _onnx_with_external_data(runtime_models, tmp_path / "m", "weights.bin")
    assert set(onnx_external_data(path.read_bytes())) == {"weights.bin"}
    from gan_edge.backends import open_backend

    backend = open_backend("onnxruntime", path)  # no manifest needed to open it
    out = backend.run(np.zeros((3, 4), np.float32))
    assert out.shape == (3, 2)


@pytest.mark.parametrize("location", ["../weights.bin", "sub/../../weights.bin", "/etc/passwd", "..\\weights.bin"])
def test_onnx_external_data_outside_the_folder_is_refused(runtime_models, tmp_path, location):
    path = _onnx_with_external_data(runtime_models, tmp_path / "m", location)
    (tmp_path / "weights.bin").write_bytes((tmp_path / "m" / "weights.bin").read_bytes())
    with pytest.raises(ModelFileError, match=r"cannot load .*gen.onnx: gen.onnx reads tensor "
                                             r"data from .*outside its folder"):
        gan_edge.load(path)


def test_onnx_external_data_through_a_symlink_out_of_the_folder_is_refused(runtime_models, tmp_path):
    path = _onnx_with_external_data(runtime_models, tmp_path / "m", "link.bin")
    (tmp_path / "secret.bin").write_bytes((tmp_path / "m" / "weights.bin").read_bytes())
    (tmp_path / "m" / "link.bin").symlink_to(tmp_path / "secret.bin")
    with pytest.raises(ModelFileError, match="outside its folder"):
        gan_edge.load(path)


# --- manifests: what test_manifest.py and test_runtime.py do not already cover ------------


def test_embedded_manifest_of_another_version_is_refused_at_load(runtime_export):
    path = runtime_export("onnx", sidecar=False, embed=True)
    import onnx

    model = onnx.load(str(path))
    for prop in model.metadata_props:
        if prop.key == "gan_edge_manifest":
            data = json.loads(prop.value)
            data["schema_version"] = 2
            prop.value = json.dumps(data)
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ManifestError, match="manifest embedded in .*schema_version 2 is not supported"):
        gan_edge.load(path)


def _retyped_leaky_relu_output(tflite: bytes) -> bytes:
    """``tflite`` with the LeakyReLU's int8 output retyped UINT8 (keeping its int8 zero
    point): the flatbuffer stays valid, XNNPACK refuses the node with three messages."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(tflite, 0))
    graph = model.subgraphs[0]
    leaky = next(op for op in graph.operators
                 if model.operatorCodes[op.opcodeIndex].builtinCode == schema.BuiltinOperator.LEAKY_RELU)
    graph.tensors[leaky.outputs[0]].type = schema.TensorType.UINT8
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_litert_messages_reach_the_user_one_by_one(runtime_models, tmp_path):
    from gan_edge.backends import open_backend

    path = tmp_path / "retyped.tflite"
    path.write_bytes(_retyped_leaky_relu_output(runtime_models.tflite_int8))
    with pytest.raises(ModelFileError) as refused:
        open_backend("litert", path)
    message = str(refused.value)
    # LiteRT's own text runs them together: "...in XNNPACK delegateunsupported datatype..."
    assert "delegateunsupported" not in message and "tensor 4Node" not in message
    assert re.search(
        r"LiteRT cannot load .*retyped.tflite: unsupported zero-point value \(-?\d+\) for UINT8 tensor \d+ "
        r"in XNNPACK delegate; unsupported datatype \(UINT8\) of tensor \d+ in XNNPACK delegate; "
        r"failed to create XNNPACK Value for tensor \d+; Node number \d+ \(TfLiteXNNPackDelegate\) "
        r"failed to prepare\.$",
        message,
    ), message


@pytest.mark.parametrize("raw, readable", [
    # Messages LiteRT 2.x gave for broken models (ai-edge-litert's Interpreter), verbatim.
    ("tflite/kernels/activations.cc:309 input->type != output->type (INT16 != INT8)Node number 1 "
     "(LEAKY_RELU) failed to prepare.",
     "tflite/kernels/activations.cc:309 input->type != output->type (INT16 != INT8); Node number 1 "
     "(LEAKY_RELU) failed to prepare."),
    ("XNNPack delegate failed to reshape runtimeNode number 3 (TfLiteXNNPackDelegate) failed to prepare.",
     "XNNPack delegate failed to reshape runtime; Node number 3 (TfLiteXNNPackDelegate) failed to prepare."),
    ("Attempting to resize dimension 1 of tensor 0 with value 4 to 5. ResizeInputTensorStrict only allows "
     "mutating unknown dimensions identified by -1.",
     "Attempting to resize dimension 1 of tensor 0 with value 4 to 5. ResizeInputTensorStrict only allows "
     "mutating unknown dimensions identified by -1."),
    # Not seen verbatim: the sentence seam, between known messages.
    ("Failed to allocate tensorsNode number 0 (FULLY_CONNECTED) failed to invoke.Restored original execution "
     "plan after delegate application failure.",
     "Failed to allocate tensors; Node number 0 (FULLY_CONNECTED) failed to invoke; Restored original "
     "execution plan after delegate application failure."),
])
def test_litert_message_separates_run_together_messages(raw, readable):
    from gan_edge.backends.litert import litert_message

    assert litert_message(RuntimeError(raw)) == readable


def test_litert_message_keeps_a_call_trace_last_line():
    from gan_edge.backends.litert import litert_message

    trace = ("CompiledModel error: code=3, message=ERROR: [./litert/cc/litert_compiled_model.h:2138]\n"
             "└ ERROR: [./litert/cc/litert_compiled_model.h:562]\n└ Failed to allocate tensors")
    assert litert_message(RuntimeError(trace), last_line=True) == "Failed to allocate tensors"


# --- what the fuzzer found on the DCGAN's exports -------------------------------------------


def _with_tflite_tensor(blob: bytes, change) -> bytes:
    """``blob`` rebuilt after ``change(model, graph)`` edits its object tree."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(blob, 0))
    change(model, model.subgraphs[0])
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_compiled_model_refuses_a_declared_shape_its_op_does_not_compute(runtime_models, tmp_path):
    """CompiledModel sizes buffers from declared shapes: a wrong output shape aborted the process."""
    from gan_edge.backends import open_backend

    def narrow_output(model, graph):
        graph.tensors[graph.outputs[0]].shape = np.array([1, 1], dtype=np.int32)

    path = tmp_path / "narrow.tflite"
    path.write_bytes(_with_tflite_tensor(runtime_models.tflite_static1, narrow_output))
    with pytest.raises(ModelFileError, match=r"narrow.tflite: tensor \d+ \(.*\) declares shape \[1, 1\] "
                                             r"but its op computes \[1, 2\]"):
        open_backend("litert-compiled", path)
    assert open_backend("litert", path).run(np.zeros((1, 4), np.float32)).shape == (1, 2)


def test_float_weights_that_hold_nan_are_refused(runtime_models, tmp_path):
    from gan_edge.backends import open_backend

    def poison(model, graph):
        weights = next(b for b in model.buffers if b.data is not None and len(b.data) >= 64)
        values = np.frombuffer(bytes(weights.data), dtype="<f4").copy()
        values[3] = np.nan
        weights.data = np.frombuffer(values.tobytes(), dtype=np.uint8)

    path = tmp_path / "nan.tflite"
    path.write_bytes(_with_tflite_tensor(runtime_models.tflite_float32, poison))
    with pytest.raises(ModelFileError, match=r"cannot load .*nan.tflite: .*its constant data holds NaN or inf"):
        open_backend("litert", path)

    import onnx
    from onnx import numpy_helper

    model = onnx.load_from_string(runtime_models.onnx)
    initializer = next(t for t in model.graph.initializer if numpy_helper.to_array(t).size >= 8)
    values = numpy_helper.to_array(initializer).copy()
    values.flat[0] = np.inf
    initializer.CopyFrom(numpy_helper.from_array(values, initializer.name))
    path = tmp_path / "inf.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(ModelFileError, match=r"cannot load .*inf.onnx: not a valid ONNX model: an initializer "
                                             r"at byte \d+ holds NaN or inf"):
        open_backend("onnxruntime", path)
