"""The one way a model file reaches a runtime: read once, checked, then handed over as bytes.

``open_artifact(path)`` is called by every backend (``gan_edge.load``, ``open_backend``),
``gan-edge devices --probe``, ``gan-edge bench``, the web page and the C exporter. In order:

1. the path: a non-empty file with a model extension (``check_model_file``);
2. the bytes, read once; every later step and the runtime see these same bytes;
3. the sidecar manifest, if there is one: its sha256 must be the bytes' (a model
   changed after export stops here);
4. the structure: the .tflite flatbuffer walked by gan_edge.tflite_file, the .onnx
   protobuf's external-data paths and float weights by gan_edge.onnx_file (no NaN or
   inf); LiteRT and ONNX Runtime trust what these check, and a fuzzer crashed them
   without it;
5. without a sidecar, the manifest embedded in the model, whose content hash must
   match the bytes: a changed weight is caught with or without the sidecar.

Each refusal is a ``ModelFileError`` or ``ManifestError`` naming the file, before
any native parser has seen a byte.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from gan_edge.errors import ManifestError, ModelFileError
from gan_edge.manifest import METADATA_KEY, Manifest, manifest_path, read_embedded, read_sidecar
from gan_edge.onnx_file import check_onnx_external_data, check_onnx_weights, onnx_external_data, onnx_metadata
from gan_edge.tflite_file import tflite_metadata, verify_tflite

__all__ = ["MODEL_FORMATS", "Artifact", "check_model_file", "open_artifact", "read_manifest"]

# file extension -> the model format (the manifest's `format`) it holds.
MODEL_FORMATS: dict[str, str] = {".tflite": "tflite", ".onnx": "onnx"}


@dataclass(frozen=True, eq=False)
class Artifact:
    """A model file that passed the checks: its bytes and, when it has one, its manifest."""

    path: Path
    format: str  # "tflite" or "onnx"
    data: bytes
    manifest: Manifest | None

    @property
    def has_external_data(self) -> bool:
        """True for an ONNX model whose weights live in files beside it (read by path)."""
        return self.format == "onnx" and bool(onnx_external_data(self.data))


def check_model_file(model_path: str | os.PathLike) -> Path:
    """Refuse, before any runtime sees it, a path that cannot be a model file."""
    path = Path(model_path)
    if not path.exists():
        raise ModelFileError(f"no model file at {path}")
    if not path.is_file():
        raise ModelFileError(f"{path} is not a file: expected a .tflite or .onnx model file")
    if path.stat().st_size == 0:
        raise ModelFileError(f"model file {path} is empty (0 bytes): re-export it")
    if path.suffix.lower() not in MODEL_FORMATS:
        valid = ", ".join(MODEL_FORMATS)
        raise ModelFileError(
            f"unknown model file extension {path.suffix!r} for {path}: expected one of {valid}"
        )
    return path


def open_artifact(model_path: str | os.PathLike, *, need_manifest: bool = True) -> Artifact:
    """Read and check ``model_path`` (see the module docstring).

    ``need_manifest=False`` accepts a model that carries no manifest at all (``manifest``
    is then None); one that has a manifest is still checked against it.
    """
    path = check_model_file(model_path)
    fmt = MODEL_FORMATS[path.suffix.lower()]
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelFileError(f"cannot read {path}: {exc}") from None
    manifest = read_sidecar(path, data)
    try:
        if fmt == "tflite":
            verify_tflite(data, name=path.name)
            embedded = tflite_metadata(data, METADATA_KEY, name=path.name)
        else:
            check_onnx_external_data(path, data)
            check_onnx_weights(data)
            embedded = onnx_metadata(data, METADATA_KEY)
    except ModelFileError as exc:
        raise ModelFileError(f"cannot load {path}: {exc}") from None
    if manifest is None and embedded is not None:
        manifest = read_embedded(embedded, data, str(path))
    elif manifest is None and need_manifest:
        raise ManifestError(
            f"no manifest for {path}: looked for the sidecar {manifest_path(path)} and for a "
            f"'{METADATA_KEY}' entry embedded in the model; re-export the model with "
            f"`gan-edge export`, which writes both"
        )
    return Artifact(path, fmt, data, manifest)


def read_manifest(model_path: str | os.PathLike) -> Manifest:
    """The checked manifest of the model at ``model_path`` (sidecar first, else embedded)."""
    return open_artifact(model_path).manifest
