"""Multiply-accumulates per sample of a .tflite model, read from its ops (no TensorFlow).

``count_macs(path_or_bytes)`` walks subgraph 0 of the flatbuffer with LiteRT's
generated schema and adds, per op (shapes as the converter stored them; a dynamic
batch dim is stored as 1):

- FULLY_CONNECTED: output rows x in x out, the weight tensor being (out, in);
- CONV_2D: out_h x out_w x out_c x k_h x k_w x in_c (filter (out_c, k_h, k_w, in_c));
- DEPTHWISE_CONV_2D: out_h x out_w x out_c x k_h x k_w (filter (1, k_h, k_w, out_c));
- TRANSPOSE_CONV: in_h x in_w x in_c x k_h x k_w x out_c (every input pixel is
  scattered through the whole kernel; filter (out_c, k_h, k_w, in_c));

then divides by the model's batch. Other ops (activations, reshapes, (de)quantize,
adds) are not counted: they are a rounding error next to these for a generator.
Used by ``gan-edge bench`` to turn latency into GMAC/s.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from gan_edge.errors import ModelFileError
from gan_edge.tflite_ops import op_name

__all__ = ["MacCount", "count_macs"]


class MacCount(NamedTuple):
    """MACs per sample in total and by op name (only ops that count)."""

    per_sample: int
    by_op: dict[str, int]


def count_macs(model: str | os.PathLike | bytes) -> MacCount:
    """MACs per generated sample of the TFLite model ``model`` (a path or its bytes)."""
    from ai_edge_litert import schema_py_generated as schema

    data = model if isinstance(model, (bytes, bytearray)) else Path(model).read_bytes()
    if len(data) < 8 or bytes(data[4:8]) != b"TFL3":
        raise ModelFileError("cannot count MACs: not a TFLite flatbuffer (no b'TFL3' identifier)")
    try:
        root = schema.Model.GetRootAs(data, 0)
        graph = root.Subgraphs(0)

        def shape(index: int) -> tuple[int, ...]:
            return tuple(int(d) for d in graph.Tensors(index).ShapeAsNumpy())

        by_op: dict[str, int] = {}
        for i in range(graph.OperatorsLength()):
            op = graph.Operators(i)
            code = root.OperatorCodes(op.OpcodeIndex())
            name = op_name(code.BuiltinCode(), code.DeprecatedBuiltinCode())
            ins, out = op.InputsAsNumpy(), shape(int(op.OutputsAsNumpy()[0]))
            if name == "FULLY_CONNECTED":
                units, features = shape(int(ins[1]))
                macs = int(np.prod(out)) // units * units * features
            elif name == "CONV_2D":
                _, k_h, k_w, in_c = shape(int(ins[1]))
                macs = int(np.prod(out)) * k_h * k_w * in_c
            elif name == "DEPTHWISE_CONV_2D":
                _, k_h, k_w, _ = shape(int(ins[1]))
                macs = int(np.prod(out)) * k_h * k_w
            elif name == "TRANSPOSE_CONV":
                out_c, k_h, k_w, _ = shape(int(ins[1]))
                macs = int(np.prod(shape(int(ins[2])))) * k_h * k_w * out_c
            else:
                continue
            by_op[name] = by_op.get(name, 0) + macs
        batch = shape(int(graph.InputsAsNumpy()[0]))[0] or 1
    except ModelFileError:
        raise
    except Exception as exc:  # a corrupt flatbuffer fails anywhere in the generated code
        raise ModelFileError(f"cannot count MACs: the TFLite flatbuffer does not parse: {exc!r}") from None
    by_op = {k: v // batch for k, v in by_op.items()}
    return MacCount(sum(by_op.values()), by_op)
