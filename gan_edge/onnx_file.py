"""Read an .onnx model's protobuf in pure Python, before ONNX Runtime parses it.

``onnx_external_data(model_bytes)`` lists the external-data locations of the
model's tensors and ``check_onnx_external_data(path)`` refuses locations that
leave the model's folder (ONNX Runtime would read any file they name);
``check_onnx_weights`` refuses float weights that hold NaN or inf.
``onnx_metadata(model_bytes, key)`` returns one ``metadata_props`` value (where
the manifest is embedded) and ``initializer_ranges(model_bytes)`` where the
weights' raw data lies in the file.

A minimal protobuf reader, no ``onnx`` package: the device needs onnxruntime
only. Bounded like gan_edge.tflite_file: at most ``MAX_ENTRIES`` graph entries
and ``MAX_DEPTH`` nested graphs, so a hostile file costs milliseconds.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from gan_edge.errors import ModelFileError

__all__ = ["check_onnx_external_data", "check_onnx_weights", "initializer_ranges", "onnx_external_data",
           "onnx_metadata"]

MAX_ENTRIES = 200_000
MAX_DEPTH = 32


class _Invalid(Exception):
    """Raised inside a walk; turned into ModelFileError."""


def _onnx_fields(buf: bytes, start: int, end: int):
    """Yield (field number, wire type, value or (start, end)) of one protobuf message."""
    pos = start
    while pos < end:
        key, pos = _varint(buf, pos, end)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos, end)
            yield field, wire, value
        elif wire == 1:
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos, end)
            if length > end - pos:
                raise _Invalid(f"a field of {length} bytes at byte {pos} leaves the file")
            yield field, wire, (pos, pos + length)
            pos += length
        elif wire == 5:
            pos += 4
        else:
            raise _Invalid(f"protobuf wire type {wire} at byte {pos}")
        if pos > end:
            raise _Invalid(f"a field at byte {pos} leaves the message")


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Invalid(f"bad varint at byte {pos}")
        b = buf[pos]
        pos += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, pos


# ModelProto: graph=7, training_info=20, functions=25; GraphProto: node=1, initializer=5,
# sparse_initializer=15; NodeProto.attribute=5; AttributeProto: t=5, g=6, tensors=10,
# graphs=11, sparse_tensor=22, sparse_tensors=23; SparseTensorProto: values=1, indices=2;
# TensorProto: external_data=13, data_location=14, raw_data=9; StringStringEntryProto: key=1,
# value=2; FunctionProto: node=7, attribute_proto=11 (attribute defaults);
# TrainingInfoProto: initialization=1, algorithm=2 (graphs); ModelProto.metadata_props=14.
def onnx_external_data(model_bytes: bytes) -> list[str]:
    """The ``location`` of every tensor whose data lives outside an ONNX model, or [].

    Every place a tensor can sit is walked: the graph's initializers and its nodes'
    attributes (subgraphs included), and also the model's functions (their nodes'
    attributes and attribute defaults) and its training-info graphs, which ONNX Runtime
    may read as well.
    """
    buf = bytes(model_bytes)
    found: list[str] = []
    budget = [MAX_ENTRIES]

    def tensor(start: int, end: int) -> None:
        locations, external = [], False
        for field, wire, value in _onnx_fields(buf, start, end):
            if field == 13 and wire == 2:
                entry = {f: bytes(buf[v[0]:v[1]]) for f, w, v in _onnx_fields(buf, *value) if w == 2}
                if entry.get(1) == b"location":
                    locations.append(entry.get(2, b"").decode("utf-8", "replace"))
            elif field == 14 and wire == 0 and value == 1:
                external = True
        # EXTERNAL without a location is reported as "", which the check refuses.
        found.extend(locations or ([""] if external else []))

    def sparse(start: int, end: int) -> None:
        for field, wire, value in _onnx_fields(buf, start, end):
            if field in (1, 2) and wire == 2:
                tensor(*value)

    def count() -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise _Invalid(f"more than {MAX_ENTRIES} graph entries")

    def graph(start: int, end: int, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise _Invalid(f"graphs nested deeper than {MAX_DEPTH}")
        for field, wire, value in _onnx_fields(buf, start, end):
            count()
            if wire != 2:
                continue
            if field == 5:
                tensor(*value)
            elif field == 15:
                sparse(*value)
            elif field == 1:
                node(*value, depth)

    def node(start: int, end: int, depth: int) -> None:
        for field, wire, value in _onnx_fields(buf, start, end):
            if field == 5 and wire == 2:
                attribute(*value, depth)

    def function(start: int, end: int) -> None:
        for field, wire, value in _onnx_fields(buf, start, end):
            count()
            if wire != 2:
                continue
            if field == 7:
                node(*value, 0)
            elif field == 11:
                attribute(*value, 0)

    def training_info(start: int, end: int) -> None:
        for field, wire, value in _onnx_fields(buf, start, end):
            if field in (1, 2) and wire == 2:
                graph(*value, 0)

    def attribute(start: int, end: int, depth: int) -> None:
        for field, wire, value in _onnx_fields(buf, start, end):
            if wire != 2:
                continue
            if field in (5, 10):
                tensor(*value)
            elif field in (22, 23):
                sparse(*value)
            elif field in (6, 11):
                graph(*value, depth + 1)

    try:
        for field, wire, value in _onnx_fields(buf, 0, len(buf)):
            if wire != 2:
                continue
            if field == 7:
                graph(*value, 0)
            elif field == 25:
                function(*value)
            elif field == 20:
                training_info(*value)
    except _Invalid as exc:
        raise ModelFileError(f"not a valid ONNX model: {exc}") from None
    return found


def check_onnx_external_data(path: str | os.PathLike, model_bytes: bytes | None = None) -> None:
    """Refuse an ONNX model whose external data would be read from outside its folder."""
    path = Path(path)
    data = path.read_bytes() if model_bytes is None else model_bytes
    folder = path.resolve().parent
    for location in onnx_external_data(data):
        bad = (
            not location
            or "\x00" in location
            or os.path.isabs(location)
            or location.startswith(("/", "\\"))
            or (len(location) > 1 and location[1] == ":")  # a Windows drive
            or ".." in location.replace("\\", "/").split("/")
        )
        if not bad:
            try:
                (folder / location).resolve().relative_to(folder)
            except (ValueError, OSError, RuntimeError):
                bad = True  # a symlink out of the folder, or a loop
        if bad:
            raise ModelFileError(
                f"{path.name} reads tensor data from {location!r}, outside its folder {folder}: "
                f"refused; keep external data files beside the model and name them relatively"
            )


def onnx_metadata(model_bytes: bytes, key: str) -> str | None:
    """The value of ``metadata_props[key]`` (UTF-8), or None when the model has none."""
    buf = bytes(model_bytes)
    try:
        for field, wire, value in _onnx_fields(buf, 0, len(buf)):
            if field != 14 or wire != 2:
                continue
            entry = {f: bytes(buf[v[0]:v[1]]) for f, w, v in _onnx_fields(buf, *value) if w == 2}
            if entry.get(1) == key.encode():
                return entry.get(2, b"").decode("utf-8")
    except _Invalid as exc:
        raise ModelFileError(f"not a valid ONNX model: {exc}") from None
    except UnicodeDecodeError as exc:
        raise ModelFileError(f"the ONNX metadata entry {key!r} is not UTF-8: {exc}") from None
    return None


# TensorProto.data_type codes of the float types -> little-endian numpy dtypes (raw_data).
_FLOAT_TYPES = {1: np.dtype("<f4"), 10: np.dtype("<f2"), 11: np.dtype("<f8")}


def check_onnx_weights(model_bytes: bytes) -> None:
    """Refuse float initializers that hold NaN or inf: a trained generator has none, and
    one that does would answer NaN for every sample."""
    buf = bytes(model_bytes)
    try:
        for field, wire, value in _onnx_fields(buf, 0, len(buf)):
            if field != 7 or wire != 2:
                continue
            for f, w, v in _onnx_fields(buf, *value):
                if f != 5 or w != 2:
                    continue
                fields = list(_onnx_fields(buf, *v))
                dtype = _FLOAT_TYPES.get(next((x for tf, tw, x in fields if tf == 2 and tw == 0), 0))
                data = [r for tf, tw, r in fields if tw == 2 and (tf == 9 or (tf == 4 and dtype == _FLOAT_TYPES[1]))]
                for start, end in data if dtype is not None else ():
                    values = np.frombuffer(buf, dtype=dtype, count=(end - start) // dtype.itemsize, offset=start)
                    if not np.isfinite(values).all():
                        raise _Invalid(f"an initializer at byte {start} holds NaN or inf")
    except _Invalid as exc:
        raise ModelFileError(f"not a valid ONNX model: {exc}") from None


def initializer_ranges(model_bytes: bytes) -> list[tuple[int, int]]:
    """(start, end) in the file of each graph initializer's raw_data (the weights)."""
    buf = bytes(model_bytes)
    ranges = []
    try:
        for field, wire, value in _onnx_fields(buf, 0, len(buf)):
            if field != 7 or wire != 2:
                continue
            for f, w, v in _onnx_fields(buf, *value):
                if f == 5 and w == 2:
                    ranges += [r for tf, tw, r in _onnx_fields(buf, *v) if tf == 9 and tw == 2]
    except _Invalid as exc:
        raise ModelFileError(f"not a valid ONNX model: {exc}") from None
    return ranges
