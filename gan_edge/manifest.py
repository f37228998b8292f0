"""The metadata that travels with every exported model, defined once.

Export builds a ``Manifest`` and writes it in two places:

1. inside the model (export.embed: a TFLite ``metadata`` entry or an ONNX
   ``metadata_props`` value), stamped with ``content_sha256``, a hash of the whole
   file taken with that hash's own digits read as zeros (``content_sha256()``),
   so a model copied without its sidecar still describes itself and a changed
   byte anywhere in it is caught;
2. beside it, ``write_manifest(model_path, manifest)``: the sidecar
   ``<model>.manifest.json`` with the sha256 of the final file.

A device reads it back through gan_edge.artifact, which prefers the sidecar
(``read_sidecar``) and else checks the embedded copy (``read_embedded``). Both
hashes detect a changed or corrupted file, not a forger: anyone can recompute
them. Pure Python: no runtime, no schema package.
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as _dt
import hashlib
import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from gan_edge.errors import InputError, ManifestError, ModelFileError
from gan_edge.io import atomic_write_json
from gan_edge.latent import check_distribution

__all__ = [
    "SCHEMA_VERSION",
    "METADATA_KEY",
    "Quantization",
    "Manifest",
    "utc_timestamp",
    "manifest_path",
    "file_sha256",
    "write_manifest",
    "read_sidecar",
    "read_embedded",
    "content_sha256",
    "content_hash_marker",
    "UNSTAMPED",
]

SCHEMA_VERSION = 1
# Name of the TFLite metadata entry and of the ONNX metadata_props key.
METADATA_KEY = "gan_edge_manifest"
SIDECAR_SUFFIX = ".manifest.json"

FORMATS = ("tflite", "onnx")
DTYPES = ("float32", "int8")
_INT8_RANGE = (-128, 127)
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_REEXPORT = "re-export the model with `gan-edge export`"
# The embedded manifest's content_sha256 before export.embed stamps it: the digits
# every content hash is computed with (see content_sha256()).
UNSTAMPED = "0" * 64
# What a manifest's JSON may be, checked before json.loads sees it (_parse_json). A
# real one is a few KiB, nests a few levels deep and holds no number longer than a float's repr
# (24 characters). Past these, json.loads recurses until RecursionError (100,000 '['
# deep) or refuses an int of over 4,300 digits with ValueError: neither names the file.
MAX_MANIFEST_BYTES = 1 << 20
MAX_MANIFEST_DEPTH = 32
MAX_NUMBER_CHARS = 64
# A JSON string (escapes included), which may hold brackets and digits of its own.
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_LONG_NUMBER = re.compile(r"[-0-9][-+.0-9eE]{%d,}" % MAX_NUMBER_CHARS)


def _is_int(value: Any) -> bool:
    # bool is an int subclass, but `latent_dim=True` is always a mistake.
    return isinstance(value, int) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _field_error(name: str, expected: str, value: Any) -> ManifestError:
    return ManifestError(f"manifest field {name!r} must be {expected}, got {value!r}")


@dataclass(frozen=True)
class Quantization:
    """Affine int8 quantization: ``real = (q - zero_point) * scale``."""

    scale: float
    zero_point: int

    def __post_init__(self) -> None:
        if not _is_real(self.scale) or not math.isfinite(self.scale) or self.scale <= 0:
            raise _field_error("scale", "a positive finite float", self.scale)
        if not _is_int(self.zero_point) or not _INT8_RANGE[0] <= self.zero_point <= _INT8_RANGE[1]:
            raise _field_error("zero_point", "an int in [-128, 127]", self.zero_point)
        object.__setattr__(self, "scale", float(self.scale))

    def to_dict(self) -> dict[str, Any]:
        return {"scale": self.scale, "zero_point": self.zero_point}


@dataclass(frozen=True)
class Manifest:
    """What a device needs to know about a model file, schema version 1.

    Build it with every field (``sha256`` is filled in by ``write_manifest``);
    it validates itself on construction and raises ``ManifestError`` naming the
    field, the expected value and the received one. JSON lists are accepted where
    a tuple is expected, so ``Manifest(**json.load(f))``-style code round-trips.
    """

    schema_version: int
    format: str
    variant: str
    model_file: str
    latent_dim: int
    latent_distribution: str
    output_shape: tuple[int, ...]
    output_range: tuple[float, float] | None
    batch_size: int | None
    input_dtype: str
    output_dtype: str
    input_quantization: Quantization | None
    output_quantization: Quantization | None
    calibration_samples: int | None
    source: dict
    tool_versions: dict
    created: str
    sha256: str | None = None  # the whole file's; in the sidecar only
    content_sha256: str | None = None  # see content_sha256(); in the embedded copy
    # What an integer artifact assumes of the kernels that run it (export.onnx.INTEGER_ARITHMETIC:
    # 7-bit weights, so no int16 intermediate saturates on x86 without VNNI); None for float ones.
    integer_arithmetic: dict | None = None

    def __post_init__(self) -> None:
        if not _is_int(self.schema_version) or self.schema_version != SCHEMA_VERSION:
            raise ManifestError(
                f"manifest schema_version {self.schema_version!r} is not supported: this "
                f"runtime reads version {SCHEMA_VERSION}; {_REEXPORT} or upgrade gan-edge"
            )
        if self.format not in FORMATS:
            raise _field_error("format", f"one of {', '.join(FORMATS)}", self.format)
        if not isinstance(self.variant, str) or not self.variant:
            raise _field_error("variant", "a non-empty str", self.variant)
        if (
            not isinstance(self.model_file, str)
            or not self.model_file
            or os.path.basename(self.model_file) != self.model_file
            or "\\" in self.model_file
        ):
            raise _field_error("model_file", "a file name without folders", self.model_file)
        if not _is_int(self.latent_dim) or self.latent_dim < 1:
            raise _field_error("latent_dim", "a positive int", self.latent_dim)
        try:
            check_distribution(self.latent_distribution)
        except (InputError, TypeError) as exc:
            raise ManifestError(f"manifest field 'latent_distribution': {exc}") from None
        self._check_output_shape()
        self._check_output_range()
        for name in ("batch_size", "calibration_samples"):
            value = getattr(self, name)
            if value is not None and (not _is_int(value) or value < 1):
                raise _field_error(name, "a positive int or None", value)
        for side in ("input", "output"):
            self._check_io(side)
        for name in ("source", "tool_versions", "integer_arithmetic"):
            value = getattr(self, name)
            if name == "integer_arithmetic" and value is None:
                continue  # optional: a float artifact assumes nothing of integer kernels
            if not isinstance(value, dict):
                raise _field_error(name, "a dict", value)
            try:
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise _field_error(name, f"JSON-serialisable ({exc})", value) from None
            # A private copy, so mutating the caller's dict cannot change a manifest.
            object.__setattr__(self, name, copy.deepcopy(value))
        versions = self.tool_versions.items()
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in versions):
            raise _field_error("tool_versions", "a dict of str to str", self.tool_versions)
        _check_timestamp(self.created)
        for name in ("sha256", "content_sha256"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not _SHA256_RE.match(value)):
                raise _field_error(name, "64 lowercase hex digits or None", value)

    def _check_output_shape(self) -> None:
        shape = self.output_shape
        if (
            not isinstance(shape, (tuple, list))
            or not shape
            or not all(_is_int(d) and d >= 1 for d in shape)
        ):
            raise _field_error("output_shape", "a non-empty tuple of positive ints", shape)
        object.__setattr__(self, "output_shape", tuple(shape))

    def _check_output_range(self) -> None:
        rng = self.output_range
        if rng is None:
            return
        if (
            not isinstance(rng, (tuple, list))
            or len(rng) != 2
            or not all(_is_real(v) and math.isfinite(v) for v in rng)
            or not rng[0] < rng[1]
        ):
            raise _field_error("output_range", "None or (low, high) finite with low < high", rng)
        object.__setattr__(self, "output_range", (float(rng[0]), float(rng[1])))

    def _check_io(self, side: str) -> None:
        dtype = getattr(self, f"{side}_dtype")
        quant = getattr(self, f"{side}_quantization")
        if dtype not in DTYPES:
            raise _field_error(f"{side}_dtype", f"one of {', '.join(DTYPES)}", dtype)
        if quant is not None and not isinstance(quant, Quantization):
            raise _field_error(f"{side}_quantization", "a Quantization or None", quant)
        # int8 values mean nothing without their scale and zero point; float ones
        # must not carry any, or a reader could apply them twice.
        if dtype == "int8" and quant is None:
            raise ManifestError(
                f"manifest field '{side}_quantization' is required when {side}_dtype is "
                f"'int8', got None"
            )
        if dtype != "int8" and quant is not None:
            raise ManifestError(
                f"manifest field '{side}_quantization' must be None when {side}_dtype is "
                f"{dtype!r}, got {quant!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (tuples as lists, quantization as dicts)."""
        d: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Quantization):
                value = value.to_dict()
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dict):
                value = copy.deepcopy(value)
            d[f.name] = value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Manifest":
        """Build from ``to_dict``'s output; refuse other versions, unknown or missing keys."""
        if not isinstance(d, Mapping):
            raise ManifestError(f"a manifest must be a JSON object, got {type(d).__name__}")
        # The version decides what the other keys mean, so check it before them.
        if "schema_version" not in d:
            raise ManifestError(f"manifest has no 'schema_version' key; {_REEXPORT}")
        version = d["schema_version"]
        if not _is_int(version) or version != SCHEMA_VERSION:
            raise ManifestError(
                f"manifest schema_version {version!r} is not supported: this runtime reads "
                f"version {SCHEMA_VERSION}; {_REEXPORT} or upgrade gan-edge"
            )
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ManifestError(
                f"manifest has unknown keys {unknown}: expected only {names}"
            )
        # The hashes have defaults: a sidecar has no content hash, an embedded copy no sha256.
        missing = [f.name for f in dataclasses.fields(cls) if f.name not in d and f.default is dataclasses.MISSING]
        if missing:
            raise ManifestError(f"manifest is missing keys {missing}; {_REEXPORT}")
        kwargs = dict(d)
        for side in ("input", "output"):
            kwargs[f"{side}_quantization"] = _quantization_from(
                f"{side}_quantization", d[f"{side}_quantization"]
            )
        return cls(**kwargs)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))


def _quantization_from(name: str, value: Any) -> Quantization | None:
    if value is None or isinstance(value, Quantization):
        return value
    if not isinstance(value, Mapping) or set(value) != {"scale", "zero_point"}:
        raise _field_error(name, "None or {'scale': float, 'zero_point': int}", value)
    return Quantization(scale=value["scale"], zero_point=value["zero_point"])


def _check_timestamp(value: Any) -> None:
    expected = "an ISO-8601 UTC timestamp such as '2025-01-31T12:00:00+00:00'"
    if not isinstance(value, str):
        raise _field_error("created", expected, value)
    try:
        # Python 3.10's fromisoformat does not accept the 'Z' suffix.
        parsed = _dt.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith("Z") else value)
    except ValueError:
        raise _field_error("created", expected, value) from None
    if parsed.utcoffset() != _dt.timedelta(0):
        raise _field_error("created", expected, value)


def utc_timestamp() -> str:
    """Now, as the manifest's ``created`` field wants it."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


# --- sidecar -------------------------------------------------------------------------


def manifest_path(model_path: str | os.PathLike) -> Path:
    """``gen_int8.tflite`` -> ``gen_int8.tflite.manifest.json``, in the same folder."""
    model_path = Path(model_path)
    return model_path.with_name(model_path.name + SIDECAR_SUFFIX)


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        # Streamed, so a large model is not read into memory twice.
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def write_manifest(model_path: str | os.PathLike, manifest: Manifest) -> Path:
    """Hash the (final) model file, store the hash, write the sidecar atomically.

    Call it after the model file is written: any later change to the model makes
    ``read_manifest`` refuse it. Returns the sidecar's path.
    """
    model_path = Path(model_path)
    if not model_path.is_file():
        raise ModelFileError(f"no model file at {model_path}: write the model before its manifest")
    stamped = dataclasses.replace(manifest, sha256=file_sha256(model_path))
    return atomic_write_json(manifest_path(model_path), stamped.to_dict())


def read_sidecar(model_path: str | os.PathLike, model_bytes: bytes) -> Manifest | None:
    """The sidecar manifest of ``model_path``, checked against ``model_bytes`` (the
    file's content), or None when there is no sidecar."""
    model_path = Path(model_path)
    sidecar = manifest_path(model_path)
    if not sidecar.is_file():
        return None
    where = f"manifest {sidecar}"
    try:
        with open(sidecar, "rb") as f:
            raw = f.read(MAX_MANIFEST_BYTES + 1)  # one byte more tells "too large" from "at the bound"
    except OSError as exc:
        raise ManifestError(f"cannot read {where}: {exc}; {_REEXPORT}") from None
    manifest = _from_dict_at(_parse_json(raw, where), str(sidecar))
    if manifest.sha256 is None:
        raise ManifestError(
            f"manifest {sidecar} has no sha256, so it cannot be checked against "
            f"{model_path.name}; {_REEXPORT}"
        )
    actual = hashlib.sha256(model_bytes).hexdigest()
    if actual != manifest.sha256:
        raise ManifestError(
            f"{model_path.name} has sha256 {actual} but its manifest {sidecar.name} "
            f"expects {manifest.sha256}: the model or the manifest was changed after "
            f"export; {_REEXPORT}"
        )
    return manifest


def read_embedded(raw: bytes | str, model_bytes: bytes, where: str) -> Manifest:
    """The manifest embedded in a model (``raw``, its JSON text), checked against the
    model's content hash. ``where`` names the model in errors."""
    manifest = _from_dict_at(_decode_embedded(raw, where), f"the manifest embedded in {where}")
    if manifest.content_sha256 is None:
        raise ManifestError(
            f"the manifest embedded in {where} has no content_sha256 (an export from before "
            f"content hashes), so a changed weight could not be detected; {_REEXPORT}"
        )
    actual = content_sha256(model_bytes, manifest.content_sha256)
    if actual != manifest.content_sha256:
        found = "its manifest's hash is not in the file once" if actual is None else f"its content hash is {actual}"
        raise ManifestError(
            f"{where} was changed after export: {found}, its embedded manifest expects "
            f"{manifest.content_sha256}; {_REEXPORT}"
        )
    return manifest


def content_hash_marker(digest: str) -> bytes:
    """How ``"content_sha256": digest`` reads inside an embedded manifest (Manifest.to_json)."""
    return json.dumps({"content_sha256": digest}, separators=(",", ":"))[1:-1].encode()


def content_sha256(model_bytes: bytes, digest: str) -> str | None:
    """The sha256 of ``model_bytes`` with the embedded ``digest`` read as UNSTAMPED.

    A file cannot contain its own hash; masking only the hash's digits keeps every
    other byte (the graph, the weights, the rest of the manifest) covered. None when
    the digest is not in the file exactly once (a changed or foreign manifest).
    """
    data, marker = bytes(model_bytes), content_hash_marker(digest)
    if data.count(marker) != 1:
        return None
    return hashlib.sha256(data.replace(marker, content_hash_marker(UNSTAMPED))).hexdigest()


def _from_dict_at(data: Any, where: str) -> Manifest:
    try:
        return Manifest.from_dict(data)
    except ManifestError as exc:
        raise ManifestError(f"{where}: {exc}") from None


def _decode_embedded(raw: bytes | str, where: str) -> dict:
    data = _parse_json(raw, f"the '{METADATA_KEY}' entry in {where}")
    if not isinstance(data, dict):
        raise ManifestError(
            f"the '{METADATA_KEY}' entry in {where} must be a JSON object, "
            f"got {type(data).__name__}; {_REEXPORT}"
        )
    return data


def _parse_json(raw: bytes | str, where: str) -> Any:
    """``json.loads(raw)`` for a manifest, after refusing what it cannot survive (see
    MAX_MANIFEST_BYTES): every refusal a one-line ManifestError naming ``where``."""

    def refuse(problem: str) -> ManifestError:
        return ManifestError(f"cannot read {where}: {problem}; {_REEXPORT}")

    if len(raw) > MAX_MANIFEST_BYTES:
        size = f"{len(raw):,} bytes or more" if len(raw) == MAX_MANIFEST_BYTES + 1 else f"{len(raw):,} bytes"
        raise refuse(f"it is {size}, above the {MAX_MANIFEST_BYTES:,} a manifest may take")
    try:
        text = raw.decode("utf-8") if isinstance(raw, (bytes, bytearray)) else raw
    except UnicodeDecodeError as exc:
        raise refuse(f"it is not valid JSON ({exc})") from None
    # Outside its strings a JSON text is ASCII, so one byte per character from here.
    skeleton = _JSON_STRING.sub('""', text).encode("utf-8", "replace")
    codes = np.frombuffer(skeleton, dtype=np.uint8)
    steps = np.isin(codes, (ord("["), ord("{"))).astype(np.int32) - np.isin(codes, (ord("]"), ord("}")))
    depth = int(np.cumsum(steps).max(initial=0))
    if depth > MAX_MANIFEST_DEPTH:
        raise refuse(f"it nests deeper than {MAX_MANIFEST_DEPTH} levels ({depth:,})")
    if _LONG_NUMBER.search(skeleton.decode("ascii", "replace")):
        raise refuse(f"it holds a number longer than {MAX_NUMBER_CHARS} characters")
    try:
        return json.loads(text)
    except ValueError as exc:  # JSONDecodeError and the like
        raise refuse(f"it is not valid JSON ({exc})") from None
