"""Read a .tflite flatbuffer in pure Python, checking it before a native runtime parses it.

``verify_tflite(model_bytes)`` walks a .tflite flatbuffer the way the TFLite
schema lays it out and raises ``ModelFileError`` naming the first thing wrong:
an offset or vector length that leaves the buffer, a tensor, buffer or opcode
index out of range, a tensor shape that is negative or absurdly large, a
constant whose data does not fit its shape, quantization parameters that do not
match their tensor. LiteRT runs its own flatbuffer verifier, but not these
semantic checks, and some kernels trust them (a fuzzer found crashes, see
``benchmarks/fuzz_loader.py``).

``tflite_metadata(model_bytes, name)`` returns the bytes of one ``metadata``
entry (where the manifest is embedded) and ``buffer_ranges(model_bytes)`` where
each buffer's data lies in the file, with the same bounded reader.

The walk is bounded: at most ``MAX_TABLES`` tables and ``MAX_DEPTH`` levels of
nesting are visited, so a hostile file costs at most a few milliseconds.
Pure Python, ``struct`` and numpy: no schema package, no TensorFlow. The vtable slots
below are copied from schema.fbs; tests/test_hostile_files.py checks them
against LiteRT's generated schema module.
"""

from __future__ import annotations

import contextlib
import struct

import numpy as np

from gan_edge.errors import ModelFileError

__all__ = ["MAX_TENSOR_BYTES", "SCHEMA_SLOTS", "buffer_ranges", "tflite_metadata", "verify_tflite"]

MAX_TABLES = 200_000
MAX_DEPTH = 32
# Largest tensor a generator on a device may declare: more is a corrupt shape.
MAX_TENSOR_BYTES = 1 << 30
MAX_RANK = 8

# Bits per element of each TensorType (TFLite schema order); None: no fixed size.
_TYPE_BITS = (32, 16, 32, 8, 64, None, 8, 16, 64, 8, 64, 128, 64, None, None, 32, 16, 4, 16, 2, 4, 8, 8)
_MAX_BUILTIN_CODE = 255  # the schema has ~210 today; a corrupt code is far larger
_MAX_UNION_TYPE = 255
# TensorType codes of the float types -> their little-endian numpy dtypes.
_FLOAT_TYPES = {0: np.dtype("<f4"), 1: np.dtype("<f2"), 10: np.dtype("<f8")}

# Field indices (vtable slots) of the tables the checks read, from schema.fbs.
_MODEL = dict(version=0, operator_codes=1, subgraphs=2, description=3, buffers=4,
              metadata_buffer=5, metadata=6, signature_defs=7)
_SUBGRAPH = dict(tensors=0, inputs=1, outputs=2, operators=3, name=4)
_TENSOR = dict(shape=0, type=1, buffer=2, name=3, quantization=4, is_variable=5,
               sparsity=6, shape_signature=7, variant_tensors=9, external_buffer=10)
_OPERATOR = dict(opcode_index=0, inputs=1, outputs=2, builtin_options_type=3, builtin_options=4,
                 custom_options=5, mutating_variable_inputs=7, intermediates=8,
                 large_custom_options_offset=9, large_custom_options_size=10,
                 builtin_options_2_type=11, builtin_options_2=12)
_OPCODE = dict(deprecated_builtin_code=0, custom_code=1, version=2, builtin_code=3)
_BUFFER = dict(data=0, offset=1, size=2)
_METADATA = dict(name=0, buffer=1)
_QUANT = dict(min=0, max=1, scale=2, zero_point=3, details_type=4, details=5, quantized_dimension=6)
_SIGNATURE = dict(inputs=0, outputs=1, signature_key=2, subgraph_index=4)
_TENSOR_MAP = dict(name=0, tensor_index=1)
# The schema's table names -> the slots above, for the test that ties them to the schema.
SCHEMA_SLOTS = {"Model": _MODEL, "SubGraph": _SUBGRAPH, "Tensor": _TENSOR, "Operator": _OPERATOR,
                "OperatorCode": _OPCODE, "Buffer": _BUFFER, "Metadata": _METADATA,
                "QuantizationParameters": _QUANT, "SignatureDef": _SIGNATURE, "TensorMap": _TENSOR_MAP}


class _Invalid(Exception):
    """Raised inside a walk; turned into ModelFileError with the path of tables walked."""


class _Table:
    """One flatbuffer table whose vtable and inline part were checked to lie in the buffer."""

    __slots__ = ("reader", "pos", "size", "slots", "where")

    def __init__(self, reader: "_Reader", pos: int, where: str) -> None:
        self.reader, self.pos, self.where = reader, pos, where
        buf = reader.buf
        reader.count_table(where)
        reader.need(pos % 4 == 0, f"{where}: table at {pos} is not 4-byte aligned")
        reader.need(0 <= pos and pos + 4 <= len(buf), f"{where}: table at {pos} is outside the file")
        vtable = pos - struct.unpack_from("<i", buf, pos)[0]
        reader.trace_add(pos, "soffset")
        reader.need(vtable % 2 == 0 and 0 <= vtable and vtable + 4 <= len(buf),
                    f"{where}: vtable at {vtable} is outside the file")
        vsize, self.size = struct.unpack_from("<HH", buf, vtable)
        reader.trace_add(vtable, "vtable_size")
        reader.need(vsize >= 4 and vsize % 2 == 0 and vtable + vsize <= len(buf),
                    f"{where}: vtable size {vsize} is invalid or leaves the file")
        reader.need(self.size >= 4 and pos + self.size <= len(buf),
                    f"{where}: table size {self.size} leaves the file")
        self.slots = struct.unpack_from(f"<{(vsize - 4) // 2}H", buf, vtable + 4)

    def _field(self, slot: int, width: int) -> int | None:
        off = self.slots[slot] if slot < len(self.slots) else 0
        if off == 0:
            return None
        self.reader.need(off + width <= self.size,
                         f"{self.where}: field {slot} at {off} leaves its table of {self.size} bytes")
        return self.pos + off

    def scalar(self, slot: int, fmt: str, default: int | float = 0, kind: str = "scalar"):
        at = self._field(slot, struct.calcsize(fmt))
        if at is None:
            return default
        self.reader.trace_add(at, kind)
        return struct.unpack_from("<" + fmt, self.reader.buf, at)[0]

    def _target(self, slot: int) -> int | None:
        at = self._field(slot, 4)
        if at is None:
            return None
        return self.reader.follow(at, f"{self.where}.field{slot}")

    def table(self, slot: int, name: str) -> "_Table | None":
        target = self._target(slot)
        return None if target is None else self.reader.table(target, f"{self.where}.{name}")

    def vector(self, slot: int, elem_size: int, name: str) -> tuple[int, int] | None:
        """(start of the elements, count), checked to fit in the file."""
        target = self._target(slot)
        return None if target is None else self.reader.vector(target, elem_size, f"{self.where}.{name}")

    def ints(self, slot: int, fmt: str, name: str) -> tuple:
        found = self.vector(slot, struct.calcsize(fmt), name)
        if found is None:
            return ()
        start, count = found
        for i in range(min(count, 64)):  # where a fuzzer can aim; the values are all read below
            self.reader.trace_add(start + i * struct.calcsize(fmt), "element")
        return struct.unpack_from(f"<{count}{fmt}", self.reader.buf, start)

    def tables(self, slot: int, name: str) -> list["_Table"]:
        found = self.vector(slot, 4, name)
        if found is None:
            return []
        start, count = found
        return [self.reader.table(self.reader.follow(start + 4 * i, f"{self.where}.{name}[{i}]"),
                                  f"{self.where}.{name}[{i}]") for i in range(count)]

    def string(self, slot: int, name: str) -> bytes | None:
        target = self._target(slot)
        if target is None:
            return None
        start, count = self.reader.vector(target, 1, f"{self.where}.{name}")
        self.reader.need(start + count < len(self.reader.buf) and self.reader.buf[start + count] == 0,
                         f"{self.where}.{name}: string is not NUL-terminated inside the file")
        return bytes(self.reader.buf[start:start + count])


class _Reader:
    def __init__(self, buf: bytes, trace: list | None) -> None:
        self.buf = buf
        self.trace = trace
        self.tables_seen = 0

    @staticmethod
    def need(condition: bool, message: str) -> None:
        if not condition:
            raise _Invalid(message)

    def trace_add(self, pos: int, kind: str) -> None:
        if self.trace is not None:
            self.trace.append((pos, kind))

    def count_table(self, where: str) -> None:
        self.tables_seen += 1
        self.need(self.tables_seen <= MAX_TABLES, f"more than {MAX_TABLES} tables (at {where})")
        self.need(where.count(".") <= MAX_DEPTH, f"tables nested deeper than {MAX_DEPTH} (at {where})")

    def follow(self, at: int, where: str) -> int:
        """The target of the uoffset stored at ``at``."""
        self.need(at % 4 == 0 and at + 4 <= len(self.buf), f"{where}: offset at {at} is misplaced")
        value = struct.unpack_from("<I", self.buf, at)[0]
        self.trace_add(at, "uoffset")
        self.need(0 < value < 1 << 31 and at + value < len(self.buf),
                  f"{where}: offset {value} at byte {at} points outside the file ({len(self.buf)} bytes)")
        return at + value

    def table(self, pos: int, where: str) -> _Table:
        return _Table(self, pos, where)

    def vector(self, pos: int, elem_size: int, where: str) -> tuple[int, int]:
        self.need(pos % 4 == 0 and pos + 4 <= len(self.buf), f"{where}: vector at {pos} is misplaced")
        count = struct.unpack_from("<I", self.buf, pos)[0]
        self.trace_add(pos, "length")
        self.need(pos + 4 + count * elem_size <= len(self.buf),
                  f"{where}: vector of {count} elements at byte {pos} leaves the file ({len(self.buf)} bytes)")
        return pos + 4, count


def verify_tflite(model_bytes: bytes, *, name: str = "the model", trace: list | None = None) -> None:
    """Raise ``ModelFileError`` unless ``model_bytes`` is a structurally sound .tflite model.

    ``trace``, if a list, receives ``(byte position, kind)`` of every offset,
    length and scalar read (the fuzzer aims its mutations there).
    """
    with _walking(model_bytes, name, trace) as (reader, model):
        _check_model(reader, model)


def tflite_metadata(model_bytes: bytes, key: str, *, name: str = "the model") -> bytes | None:
    """The data of the ``metadata`` entry called ``key``, or None when there is none."""
    with _walking(model_bytes, name) as (reader, model):
        buffers = model.tables(_MODEL["buffers"], "buffers")
        for i, entry in enumerate(model.tables(_MODEL["metadata"], "metadata")):
            if entry.string(_METADATA["name"], "name") != key.encode():
                continue
            index = entry.scalar(_METADATA["buffer"], "I")
            reader.need(index < len(buffers), f"metadata[{i}].buffer = {index}: only {len(buffers)} buffers")
            start, end = _buffer_range(reader, buffers[index], f"buffers[{index}]")
            return reader.buf[start:end]
    return None


def buffer_ranges(model_bytes: bytes, *, name: str = "the model") -> list[tuple[int, int]]:
    """(start, end) in the file of each buffer's data, in the model's buffer order."""
    with _walking(model_bytes, name) as (reader, model):
        return [_buffer_range(reader, b, f"buffers[{i}]")
                for i, b in enumerate(model.tables(_MODEL["buffers"], "buffers"))]


@contextlib.contextmanager
def _walking(model_bytes: bytes, name: str, trace: list | None = None):
    """(reader, root table) of a flatbuffer; any fault inside becomes one ModelFileError."""
    buf = bytes(model_bytes) if not isinstance(model_bytes, bytes) else model_bytes
    if len(buf) < 8 or buf[4:8] != b"TFL3":
        raise ModelFileError(f"{name} is not a TFLite model: no 'TFL3' file identifier at bytes 4..8")
    if len(buf) >= 1 << 31:
        raise ModelFileError(f"{name} is {len(buf)} bytes: models of 2 GB or more are not supported")
    reader = _Reader(buf, trace)
    try:
        yield reader, reader.table(reader.follow(0, "root"), "model")
    except _Invalid as exc:
        raise ModelFileError(f"{name} is not a valid TFLite model: {exc}") from None
    except struct.error as exc:  # a bound missed above; still a refusal, never a crash
        raise ModelFileError(f"{name} is not a valid TFLite model: {exc}") from None


def _buffer_range(r: _Reader, buffer: _Table, where: str) -> tuple[int, int]:
    offset = buffer.scalar(_BUFFER["offset"], "Q")
    size = buffer.scalar(_BUFFER["size"], "Q")
    if offset > 1:  # weights stored after the flatbuffer (models past 2 GB)
        r.need(offset + size <= len(r.buf), f"{where}: offset {offset} + size {size} leaves the file")
        return offset, offset + size
    data = buffer.vector(_BUFFER["data"], 1, "data")
    return (0, 0) if data is None else (data[0], data[0] + data[1])


def _check_model(r: _Reader, model: _Table) -> None:
    need = r.need
    buffers = model.tables(_MODEL["buffers"], "buffers")
    n_buffers = len(buffers)
    ranges = [_buffer_range(r, b, f"buffers[{i}]") for i, b in enumerate(buffers)]
    codes = []
    for i, code in enumerate(model.tables(_MODEL["operator_codes"], "operator_codes")):
        deprecated = code.scalar(_OPCODE["deprecated_builtin_code"], "b")
        builtin = code.scalar(_OPCODE["builtin_code"], "i")
        code.string(_OPCODE["custom_code"], "custom_code")
        need(0 <= deprecated and 0 <= builtin <= _MAX_BUILTIN_CODE,
             f"operator_codes[{i}]: builtin code {max(deprecated, builtin)} is not an operator")
        codes.append(builtin)
    subgraphs = model.tables(_MODEL["subgraphs"], "subgraphs")
    need(1 <= len(subgraphs), "the model has no subgraph")
    model.string(_MODEL["description"], "description")
    for i, index in enumerate(model.ints(_MODEL["metadata_buffer"], "i", "metadata_buffer")):
        need(0 <= index < n_buffers, f"metadata_buffer[{i}] = {index}: only {n_buffers} buffers")
    for i, entry in enumerate(model.tables(_MODEL["metadata"], "metadata")):
        entry.string(_METADATA["name"], "name")
        index = entry.scalar(_METADATA["buffer"], "I")
        need(index < n_buffers, f"metadata[{i}].buffer = {index}: only {n_buffers} buffers")
    n_tensors = []
    for s, subgraph in enumerate(subgraphs):
        n_tensors.append(_check_subgraph(r, subgraph, s, ranges, len(codes)))
    for i, sig in enumerate(model.tables(_MODEL["signature_defs"], "signature_defs")):
        sig.string(_SIGNATURE["signature_key"], "signature_key")
        index = sig.scalar(_SIGNATURE["subgraph_index"], "I")
        need(index < len(subgraphs), f"signature_defs[{i}].subgraph_index = {index}: only {len(subgraphs)} subgraphs")
        for side in ("inputs", "outputs"):
            for j, tmap in enumerate(sig.tables(_SIGNATURE[side], side)):
                tmap.string(_TENSOR_MAP["name"], "name")
                t = tmap.scalar(_TENSOR_MAP["tensor_index"], "I")
                need(t < n_tensors[index], f"signature_defs[{i}].{side}[{j}] = tensor {t}: only {n_tensors[index]}")


def _check_subgraph(r: _Reader, subgraph: _Table, s: int, ranges: list[tuple[int, int]], n_codes: int) -> int:
    need = r.need
    tensors = subgraph.tables(_SUBGRAPH["tensors"], "tensors")
    n = len(tensors)
    # Tensors that hold a value before any operator runs: constants, variables, empty ones.
    ready = {t for t, tensor in enumerate(tensors)
             if _check_tensor(r, tensor, f"subgraphs[{s}].tensors[{t}]", ranges)}
    subgraph.string(_SUBGRAPH["name"], "name")

    def indices(values: tuple, where: str, optional: bool) -> None:
        for k, v in enumerate(values):
            need((optional and v == -1) or 0 <= v < n, f"{where}[{k}] = {v}: the subgraph has {n} tensors")

    inputs = subgraph.ints(_SUBGRAPH["inputs"], "i", "inputs")
    outputs = subgraph.ints(_SUBGRAPH["outputs"], "i", "outputs")
    indices(inputs, f"subgraphs[{s}].inputs", False)
    indices(outputs, f"subgraphs[{s}].outputs", False)
    ready.update(inputs)
    for o, op in enumerate(subgraph.tables(_SUBGRAPH["operators"], "operators")):
        where = f"subgraphs[{s}].operators[{o}]"
        opcode = op.scalar(_OPERATOR["opcode_index"], "I")
        need(opcode < n_codes, f"{where}.opcode_index = {opcode}: the model has {n_codes} operator codes")
        op_inputs = op.ints(_OPERATOR["inputs"], "i", "inputs")
        indices(op_inputs, f"{where}.inputs", True)
        # An omitted input (-1) is an optional trailing one (a bias); kernels such as
        # int8 FULLY_CONNECTED dereference a missing weight tensor (a fuzzed segfault).
        present = [t for t in op_inputs if t != -1]
        need(list(op_inputs[:len(present)]) == present,
             f"{where}.inputs {list(op_inputs)}: only trailing inputs may be omitted (-1)")
        # Operators run in list order: reading a tensor nothing has written yet is
        # what LiteRT reports only at invoke time ("Input tensor N lacks data").
        for t in op_inputs:
            need(t == -1 or t in ready, f"{where} reads tensor {t}, which no earlier operator writes "
                                        f"and which holds no data")
        op_outputs = op.ints(_OPERATOR["outputs"], "i", "outputs")
        indices(op_outputs, f"{where}.outputs", False)
        ready.update(op_outputs)
        indices(op.ints(_OPERATOR["intermediates"], "i", "intermediates"), f"{where}.intermediates", False)
        for union, value in (("builtin_options_type", "builtin_options"),
                             ("builtin_options_2_type", "builtin_options_2")):
            kind = op.scalar(_OPERATOR[union], "B")
            options = op.table(_OPERATOR[value], value)
            # Their fields differ per operator; _Table checked their vtable and size.
            need(kind <= _MAX_UNION_TYPE and (options is None or kind != 0),
                 f"{where}.{value}: options of type {kind}")
        op.vector(_OPERATOR["custom_options"], 1, "custom_options")
        op.vector(_OPERATOR["mutating_variable_inputs"], 1, "mutating_variable_inputs")
        need(op.scalar(_OPERATOR["large_custom_options_offset"], "Q") == 0
             and op.scalar(_OPERATOR["large_custom_options_size"], "Q") == 0,
             f"{where}: custom options stored outside the flatbuffer are not supported")
    for k, t in enumerate(outputs):
        need(t in ready, f"subgraphs[{s}].outputs[{k}] = tensor {t}: no operator writes it and it holds no data")
    return n


def _check_tensor(r: _Reader, tensor: _Table, where: str, ranges: list[tuple[int, int]]) -> bool:
    """Check one tensor; True if it holds a value before any operator runs."""
    need = r.need
    shape = tensor.ints(_TENSOR["shape"], "i", "shape")
    signature = tensor.ints(_TENSOR["shape_signature"], "i", "shape_signature")
    ttype = tensor.scalar(_TENSOR["type"], "b")
    need(0 <= ttype < len(_TYPE_BITS), f"{where}: tensor type {ttype} is not a TFLite type")
    need(len(shape) <= MAX_RANK and len(signature) <= MAX_RANK,
         f"{where}: rank {max(len(shape), len(signature))} is more than {MAX_RANK}")
    need(all(d >= 0 for d in shape), f"{where}: shape {list(shape)} has a negative dimension")
    need(all(d >= -1 for d in signature), f"{where}: shape_signature {list(signature)} is invalid")
    need(not signature or len(signature) == len(shape),
         f"{where}: shape {list(shape)} and shape_signature {list(signature)} differ in rank")
    need(all(sd == -1 or sd == d for sd, d in zip(signature, shape)),
         f"{where}: shape {list(shape)} disagrees with shape_signature {list(signature)}")
    elements = 1
    for d in shape:
        elements *= d
    bits = _TYPE_BITS[ttype]
    nbytes = None if bits is None else (elements * bits + 7) // 8
    need(nbytes is None or nbytes <= MAX_TENSOR_BYTES,
         f"{where}: shape {list(shape)} needs {nbytes} bytes, more than {MAX_TENSOR_BYTES}")
    index = tensor.scalar(_TENSOR["buffer"], "I")
    need(index < len(ranges), f"{where}.buffer = {index}: the model has {len(ranges)} buffers")
    start, end = ranges[index]
    size = end - start
    if size and ttype in _FLOAT_TYPES:
        # A trained generator has no NaN or inf weights (training refuses them); one that
        # does would run and answer NaN for every sample.
        values = np.frombuffer(r.buf, dtype=_FLOAT_TYPES[ttype], count=size // _FLOAT_TYPES[ttype].itemsize,
                               offset=start)
        need(bool(np.isfinite(values).all()), f"{where}: its constant data holds NaN or inf")
    if size and nbytes is not None:
        need(size == nbytes, f"{where}: shape {list(shape)} needs {nbytes} bytes of data, its buffer has {size}")
    tensor.string(_TENSOR["name"], "name")
    need(tensor.table(_TENSOR["sparsity"], "sparsity") is None,
         f"{where}: sparse tensors are not supported")
    need(tensor.vector(_TENSOR["variant_tensors"], 4, "variant_tensors") is None,
         f"{where}: variant tensors are not supported")
    need(tensor.scalar(_TENSOR["external_buffer"], "I") == 0,
         f"{where}: tensors in external buffers are not supported")
    quant = tensor.table(_TENSOR["quantization"], "quantization")
    if quant is not None:
        scale = quant.ints(_QUANT["scale"], "f", "scale")
        zero_point = quant.ints(_QUANT["zero_point"], "q", "zero_point")
        quant.ints(_QUANT["min"], "f", "min")
        quant.ints(_QUANT["max"], "f", "max")
        need(quant.scalar(_QUANT["details_type"], "B") == 0 and quant.table(_QUANT["details"], "details") is None,
             f"{where}: custom quantization details are not supported")
        axis = quant.scalar(_QUANT["quantized_dimension"], "i")
        if scale:
            need(len(zero_point) in (0, len(scale)),
                 f"{where}: {len(scale)} scales but {len(zero_point)} zero points")
            need(all(s == s and abs(s) != float("inf") for s in scale),
                 f"{where}: quantization scale is not finite")
            if len(scale) > 1:
                need(0 <= axis < len(shape) and shape[axis] == len(scale),
                     f"{where}: {len(scale)} per-channel scales on dimension {axis} of shape {list(shape)}")
    is_variable = tensor.scalar(_TENSOR["is_variable"], "B")
    return bool(size) or bool(is_variable) or elements == 0
