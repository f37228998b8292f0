"""The manifest schema: validation, JSON round trip, sidecar, embedding and content hash."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from gan_edge.export.embed import embed_in_onnx, embed_in_tflite
from gan_edge.artifact import read_manifest
from gan_edge.errors import ManifestError, ModelFileError
from gan_edge.manifest import (
    METADATA_KEY,
    Manifest,
    Quantization,
    content_sha256,
    file_sha256,
    manifest_path,
    read_embedded,
    read_sidecar,
    write_manifest,
)
from gan_edge.onnx_file import onnx_metadata
from gan_edge.tflite_file import tflite_metadata

# --- schema --------------------------------------------------------------------------


@pytest.mark.parametrize("variant", ["float32", "int8", "static1", "onnx"])
def test_round_trip_through_json(runtime_manifest, variant):
    m = runtime_manifest(variant, output_range=(-1.0, 1.0), output_shape=(28, 28, 1))
    again = Manifest.from_dict(json.loads(json.dumps(m.to_dict())))
    assert again == m
    assert again.output_shape == (28, 28, 1) and isinstance(again.output_shape, tuple)
    assert again.output_range == (-1.0, 1.0)
    if variant == "int8":
        assert isinstance(again.input_quantization, Quantization)
        assert again.input_quantization == m.input_quantization


def test_lists_from_json_become_tuples(runtime_manifest):
    m = runtime_manifest(output_shape=[28, 28, 1], output_range=[0, 1])
    assert m.output_shape == (28, 28, 1)
    assert m.output_range == (0.0, 1.0)


def test_dict_fields_are_private_copies(runtime_manifest):
    source = {"run": "runs/a", "model": "toy", "config": {"lr": 1e-3}}
    m = runtime_manifest(source=source)
    source["config"]["lr"] = 5.0
    m.to_dict()["source"]["run"] = "changed"
    assert m.source == {"run": "runs/a", "model": "toy", "config": {"lr": 1e-3}}


@pytest.mark.parametrize(
    "field, value, expected",
    [
        ("latent_dim", -3, "manifest field 'latent_dim' must be a positive int, got -3"),
        ("latent_dim", True, "manifest field 'latent_dim' must be a positive int, got True"),
        ("latent_dim", 4.0, "manifest field 'latent_dim' must be a positive int, got 4.0"),
        ("format", "pb", "manifest field 'format' must be one of tflite, onnx, got 'pb'"),
        ("variant", "", "manifest field 'variant' must be a non-empty str, got ''"),
        ("model_file", "out/gen.tflite", "'model_file' must be a file name without folders"),
        ("latent_distribution", "gauss", "unknown latent distribution 'gauss': expected one of uniform01"),
        ("output_shape", (), "'output_shape' must be a non-empty tuple of positive ints, got ()"),
        ("output_shape", (28, 0), "got (28, 0)"),
        ("output_shape", (2.0,), "got (2.0,)"),
        ("output_range", (1.0, -1.0), "'output_range' must be None or (low, high) finite"),
        ("output_range", (0.0, math.inf), "got (0.0, inf)"),
        ("output_range", (0.0,), "got (0.0,)"),
        ("batch_size", 0, "manifest field 'batch_size' must be a positive int or None, got 0"),
        ("calibration_samples", -1, "'calibration_samples' must be a positive int or None, got -1"),
        ("input_dtype", "float64", "'input_dtype' must be one of float32, int8, got 'float64'"),
        ("output_dtype", "uint8", "'output_dtype' must be one of float32, int8, got 'uint8'"),
        ("input_quantization", Quantization(0.1, 0), "'input_quantization' must be None when input_dtype is 'float32'"),
        ("output_quantization", {"scale": 0.1, "zero_point": 0}, "'output_quantization' must be a Quantization or None"),
        ("source", ["run"], "manifest field 'source' must be a dict, got ['run']"),
        ("source", {"x": object()}, "'source' must be JSON-serialisable"),
        ("tool_versions", {"tensorflow": 2.21}, "'tool_versions' must be a dict of str to str"),
        ("created", "yesterday", "'created' must be an ISO-8601 UTC timestamp"),
        ("created", "2025-01-31T12:00:00+02:00", "got '2025-01-31T12:00:00+02:00'"),
        ("created", "2025-01-31T12:00:00", "got '2025-01-31T12:00:00'"),
        ("sha256", "abc", "'sha256' must be 64 lowercase hex digits or None, got 'abc'"),
        ("schema_version", 2, "schema_version 2 is not supported: this runtime reads version 1"),
    ],
)
def test_each_field_is_validated(runtime_manifest, field, value, expected):
    with pytest.raises(ManifestError) as info:
        runtime_manifest(**{field: value})
    assert expected in str(info.value)


def test_utc_z_suffix_is_accepted(runtime_manifest):
    assert runtime_manifest(created="2025-01-31T12:00:00Z").created == "2025-01-31T12:00:00Z"


@pytest.mark.parametrize("side", ["input", "output"])
def test_int8_requires_quantization(runtime_manifest, side):
    with pytest.raises(ManifestError, match=f"'{side}_quantization' is required when {side}_dtype is 'int8', got None"):
        runtime_manifest("int8", **{f"{side}_quantization": None})


@pytest.mark.parametrize(
    "scale, zero_point, expected",
    [
        (0.0, 0, "'scale' must be a positive finite float, got 0.0"),
        (math.nan, 0, "'scale' must be a positive finite float, got nan"),
        (0.1, 200, "'zero_point' must be an int in [-128, 127], got 200"),
        (0.1, 1.0, "'zero_point' must be an int in [-128, 127], got 1.0"),
    ],
)
def test_quantization_is_validated(scale, zero_point, expected):
    with pytest.raises(ManifestError) as info:
        Quantization(scale, zero_point)
    assert expected in str(info.value)


def test_from_dict_refuses_unknown_keys_by_name(runtime_manifest):
    d = runtime_manifest().to_dict() | {"latent_size": 4}
    with pytest.raises(ManifestError, match=r"unknown keys \['latent_size'\]"):
        Manifest.from_dict(d)


def test_from_dict_refuses_missing_keys_by_name(runtime_manifest):
    d = runtime_manifest().to_dict()
    del d["latent_dim"], d["created"]
    with pytest.raises(ManifestError, match=r"missing keys \['latent_dim', 'created'\]"):
        Manifest.from_dict(d)


@pytest.mark.parametrize("version", [2, 0, "1", None])
def test_from_dict_refuses_other_schema_versions(runtime_manifest, version):
    # Other keys may mean other things in another version, so even an otherwise
    # broken dict is refused for its version first.
    d = {"schema_version": version, "future_field": 1}
    with pytest.raises(ManifestError) as info:
        Manifest.from_dict(d)
    assert f"schema_version {version!r} is not supported: this runtime reads version 1" in str(info.value)


def test_from_dict_refuses_bad_quantization_dict(runtime_manifest):
    d = runtime_manifest("int8").to_dict()
    d["input_quantization"] = {"scale": 0.1}
    with pytest.raises(ManifestError, match="'input_quantization' must be None or"):
        Manifest.from_dict(d)


def test_from_dict_refuses_non_objects():
    with pytest.raises(ManifestError, match="must be a JSON object, got list"):
        Manifest.from_dict([1, 2])


# --- sidecar -------------------------------------------------------------------------


def test_manifest_path_appends_to_the_full_file_name(tmp_path):
    assert manifest_path(tmp_path / "gen_int8.tflite") == tmp_path / "gen_int8.tflite.manifest.json"
    assert manifest_path("gen.onnx").name == "gen.onnx.manifest.json"


def test_write_then_read_sidecar(tmp_path, runtime_manifest):
    model = tmp_path / "gen.tflite"
    model.write_bytes(b"TFL3 pretend model bytes")
    m = runtime_manifest(model_file=model.name)
    sidecar = write_manifest(model, m)
    assert sidecar == manifest_path(model)
    on_disk = json.loads(sidecar.read_text())
    assert on_disk["sha256"] == file_sha256(model)
    assert read_sidecar(model, model.read_bytes()) == dataclasses.replace(m, sha256=on_disk["sha256"])


def test_write_manifest_needs_the_model_first(tmp_path, runtime_manifest):
    with pytest.raises(ModelFileError, match="no model file at .*gen.tflite: write the model before"):
        write_manifest(tmp_path / "gen.tflite", runtime_manifest())


def test_sidecar_hash_mismatch_is_refused(tmp_path, runtime_manifest):
    model = tmp_path / "gen.tflite"
    model.write_bytes(b"original")
    write_manifest(model, runtime_manifest())
    expected = file_sha256(model)
    model.write_bytes(b"tampered")
    with pytest.raises(ManifestError) as info:
        read_sidecar(model, model.read_bytes())
    message = str(info.value)
    assert file_sha256(model) in message and expected in message
    assert "changed after export" in message


def test_sidecar_without_hash_is_refused(tmp_path, runtime_manifest):
    model = tmp_path / "gen.tflite"
    model.write_bytes(b"model")
    manifest_path(model).write_text(json.dumps(runtime_manifest().to_dict()))
    with pytest.raises(ManifestError, match="has no sha256"):
        read_sidecar(model, model.read_bytes())


def test_sidecar_with_bad_json_names_the_file(tmp_path):
    model = tmp_path / "gen.tflite"
    model.write_bytes(b"model")
    manifest_path(model).write_text("{not json")
    with pytest.raises(ManifestError, match=r"cannot read manifest .*gen.tflite.manifest.json"):
        read_sidecar(model, model.read_bytes())


def test_sidecar_with_bad_field_names_the_file_and_field(tmp_path, runtime_manifest):
    model = tmp_path / "gen.tflite"
    model.write_bytes(b"model")
    d = runtime_manifest().to_dict() | {"latent_dim": -3}
    manifest_path(model).write_text(json.dumps(d))
    with pytest.raises(ManifestError, match=r"gen.tflite.manifest.json: manifest field 'latent_dim' must be a positive int, got -3"):
        read_sidecar(model, model.read_bytes())


def _unstamped(manifest: Manifest) -> Manifest:
    return dataclasses.replace(manifest, content_sha256=None)


def test_read_falls_back_to_embedded_copy(tmp_path, runtime_models, runtime_manifest):
    model = tmp_path / "gen.tflite"
    m = runtime_manifest(variant="float32", model_file=model.name)
    model.write_bytes(embed_in_tflite(runtime_models.tflite_float32, m))
    assert _unstamped(read_manifest(model)) == m


def test_sidecar_wins_over_embedded_copy(tmp_path, runtime_models, runtime_manifest):
    model = tmp_path / "gen.tflite"
    model.write_bytes(embed_in_tflite(runtime_models.tflite_float32, runtime_manifest(variant="int8")))
    write_manifest(model, runtime_manifest(variant="float32"))
    got = read_manifest(model)
    assert got.variant == "float32"


def test_no_manifest_anywhere_says_where_it_looked_and_the_fix(tmp_path, runtime_models):
    model = tmp_path / "gen.tflite"
    model.write_bytes(runtime_models.tflite_float32)
    with pytest.raises(ManifestError) as info:
        read_manifest(model)
    message = str(info.value)
    assert str(manifest_path(model)) in message
    assert "embedded" in message and "gan-edge export" in message


# --- embedded in .tflite -------------------------------------------------------------


def _run_tflite(model_bytes: bytes, z: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_bytes)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, list(z.shape))
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, z)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def _metadata_names(model_bytes: bytes) -> list[str]:
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(model_bytes, 0)
    return [model.Metadata(i).Name().decode() for i in range(model.MetadataLength())]


def _embedded(model_bytes: bytes) -> dict:
    return json.loads(tflite_metadata(model_bytes, METADATA_KEY))


def test_embed_then_extract_tflite(runtime_models, runtime_manifest):
    original = runtime_models.tflite_float32
    assert tflite_metadata(original, METADATA_KEY) is None
    m = runtime_manifest(sha256="0" * 64)
    embedded = embed_in_tflite(original, m)
    got = _embedded(embedded)
    # A file cannot hold its own hash: the embedded copy has none, but a content hash
    # of everything around its own digits.
    assert got == dataclasses.replace(m, sha256=None, content_sha256=got["content_sha256"]).to_dict()
    assert content_sha256(embedded, got["content_sha256"]) == got["content_sha256"]
    # The converter's own entries survive.
    assert _metadata_names(embedded) == _metadata_names(original) + [METADATA_KEY]


def test_embedded_tflite_still_runs_the_same(runtime_models, runtime_manifest):
    z = np.random.default_rng(0).random((5, 4), dtype=np.float32)
    embedded = embed_in_tflite(runtime_models.tflite_float32, runtime_manifest())
    np.testing.assert_array_equal(_run_tflite(embedded, z), _run_tflite(runtime_models.tflite_float32, z))


def test_embedded_tflite_keeps_weights_16_byte_aligned(runtime_models, runtime_manifest):
    from ai_edge_litert import schema_py_generated as schema

    embedded = embed_in_tflite(runtime_models.tflite_int8, runtime_manifest())
    model = schema.Model.GetRootAs(embedded, 0)
    base = np.frombuffer(embedded, dtype=np.uint8).ctypes.data
    offsets = [
        model.Buffers(i).DataAsNumpy().ctypes.data - base
        for i in range(model.BuffersLength())
        if model.Buffers(i).DataLength() > 0
    ]
    assert len(offsets) >= 3
    assert [o % 16 for o in offsets] == [0] * len(offsets)


def test_embedding_twice_replaces_the_entry(runtime_models, runtime_manifest):
    once = embed_in_tflite(runtime_models.tflite_float32, runtime_manifest(variant="float32"))
    twice = embed_in_tflite(once, runtime_manifest(variant="float32", latent_distribution="normal"))
    assert _metadata_names(twice).count(METADATA_KEY) == 1
    assert _embedded(twice)["latent_distribution"] == "normal"
    assert len(twice) == len(once)  # the old buffer is reused, not orphaned


def test_embed_refuses_non_tflite_bytes(runtime_manifest):
    with pytest.raises(ModelFileError, match=r"not a TFLite model: expected the file identifier b'TFL3'"):
        embed_in_tflite(b"\x00" * 64, runtime_manifest())
    with pytest.raises(ModelFileError, match="not a TFLite model"):
        tflite_metadata(b"garbage", METADATA_KEY)


def test_embed_refuses_buffers_stored_outside_the_flatbuffer(runtime_models, runtime_manifest):
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    # Rebuild the model the way >2 GB models are laid out: weights after the
    # flatbuffer, found by offset/size.
    model = schema.ModelT.InitFromPackedBuf(runtime_models.tflite_float32, 0)
    index = next(i for i, b in enumerate(model.buffers) if b.data is not None and len(b.data))
    size = len(model.buffers[index].data)
    model.buffers[index] = schema.BufferT(data=None, offset=10_000, size=size)
    builder = flatbuffers.Builder(4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    with pytest.raises(ModelFileError, match=rf"buffers \[{index}\] are stored outside the flatbuffer"):
        embed_in_tflite(bytes(builder.Output()), runtime_manifest())


# --- embedded in .onnx ---------------------------------------------------------------


def test_embed_then_extract_onnx_through_onnxruntime(runtime_models, runtime_manifest):
    import onnxruntime as ort

    m = runtime_manifest("onnx", model_file="gen.onnx")
    once = embed_in_onnx(runtime_models.onnx, dataclasses.replace(m, variant="old"))
    twice = embed_in_onnx(once, m)
    session = ort.InferenceSession(twice, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    assert list(meta) == [METADATA_KEY]
    # Our protobuf reader finds what ONNX Runtime finds.
    assert onnx_metadata(twice, METADATA_KEY) == meta[METADATA_KEY]
    got = json.loads(meta[METADATA_KEY])
    assert got == dataclasses.replace(m, content_sha256=got["content_sha256"]).to_dict()
    assert onnx_metadata(runtime_models.onnx, METADATA_KEY) is None


def test_embedded_manifest_must_be_a_json_object():
    with pytest.raises(ManifestError, match="not valid JSON"):
        read_embedded("{oops", b"", "gen.onnx")
    with pytest.raises(ManifestError, match="must be a JSON object, got list"):
        read_embedded("[1]", b"", "gen.onnx")


# --- the content hash: a changed byte is caught without the sidecar --------------------


@pytest.mark.parametrize("variant", ["int8", "onnx"])
def test_every_changed_weight_is_caught_without_the_sidecar(runtime_models, runtime_manifest, tmp_path, variant):
    from gan_edge.onnx_file import initializer_ranges
    from gan_edge.tflite_file import buffer_ranges

    if variant == "onnx":
        stamped = embed_in_onnx(runtime_models.onnx, runtime_manifest("onnx", model_file="gen.onnx"))
        ranges, path = initializer_ranges(stamped), tmp_path / "gen.onnx"
    else:
        stamped = embed_in_tflite(runtime_models.tflite_int8, runtime_manifest("int8", model_file="gen.tflite"))
        metadata = tflite_metadata(stamped, METADATA_KEY)
        ranges = [(a, b) for a, b in buffer_ranges(stamped) if b > a and stamped[a:b] != metadata]
        path = tmp_path / "gen.tflite"
    assert len(ranges) >= 2  # the weights of every layer
    path.write_bytes(stamped)
    assert read_manifest(path).content_sha256 is not None
    rng = np.random.default_rng(0)
    for start, end in ranges:
        changed = bytearray(stamped)
        changed[int(rng.integers(start, end))] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(changed))
        with pytest.raises(ManifestError, match=r"gen\.\w+ was changed after export: its content hash is [0-9a-f]{64}"):
            read_manifest(path)


def test_an_edited_embedded_manifest_is_caught(runtime_models, runtime_manifest, tmp_path):
    stamped = embed_in_tflite(runtime_models.tflite_float32, runtime_manifest("float32", output_range=(-1.0, 1.0)))
    path = tmp_path / "gen.tflite"
    path.write_bytes(stamped.replace(b'"output_range":[-1.0,1.0]', b'"output_range":[-9.0,9.0]'))
    assert path.read_bytes() != stamped
    with pytest.raises(ManifestError, match="was changed after export"):
        read_manifest(path)


def test_an_embedded_manifest_without_content_hash_is_refused(runtime_models, runtime_manifest, tmp_path):
    stamped = embed_in_tflite(runtime_models.tflite_float32, runtime_manifest("float32"))
    digest = json.loads(tflite_metadata(stamped, METADATA_KEY))["content_sha256"]
    path = tmp_path / "gen.tflite"
    # As an export from before content hashes: null, padded so the flatbuffer keeps its layout.
    unhashed = b'"content_sha256":null' + b" " * 62
    path.write_bytes(stamped.replace(f'"content_sha256":"{digest}"'.encode(), unhashed))
    with pytest.raises(ManifestError, match="has no content_sha256 .* re-export the model"):
        read_manifest(path)
