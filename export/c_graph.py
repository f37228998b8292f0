"""An int8 TFLite generator as the C module generator sees it: a chain of layers, and
where each layer's input and output live in one activation arena.

``read_chain(model_bytes)`` reads the flatbuffer's ops into ``_Layer``s (export/c_ops.py
builds each one) and refuses, naming the op and its position, anything that is not a
plain chain of supported int8 ops. ``plan_arena(layers)`` places the activations: each
op reads one end of the arena and writes the other, so the arena is the largest pair of
tensors live at once (with a fast kernel's scratch between them).
"""

from __future__ import annotations

from gan_edge.export.c_ops import BUILDERS, SUPPORTED_OPS, UnsupportedModelError, _Layer, _load, _Tensor, _tensors
from gan_edge.tflite_ops import op_name

__all__ = ["plan_arena", "read_chain"]


def read_chain(model_bytes: bytes) -> tuple[list[_Layer], _Tensor, _Tensor]:
    schema, model = _load(model_bytes)
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise UnsupportedModelError(f"expected one subgraph, found {len(model.subgraphs or [])}")
    subgraph = model.subgraphs[0]
    names = [op_name(c.builtinCode, c.deprecatedBuiltinCode, c.customCode) for c in model.operatorCodes or []]
    used = [names[op.opcodeIndex] for op in subgraph.operators or []]
    unsupported = [(i, name) for i, name in enumerate(used) if name not in BUILDERS]
    if unsupported:
        i, name = unsupported[0]
        more = "".join(f", op {j} {n}" for j, n in unsupported[1:])
        raise UnsupportedModelError(
            f"op {i} of {len(used)} is {name}, which the C module generator does not support"
            f"{' (nor' + more[1:] + ')' if more else ''}; it supports {', '.join(SUPPORTED_OPS)}: run this model "
            f"with TensorFlow Lite Micro instead (https://github.com/tensorflow/tflite-micro), which executes "
            f"the .tflite file as it is")
    tensors = _tensors(schema, model, subgraph)
    if len(subgraph.inputs) != 1 or len(subgraph.outputs) != 1:
        raise UnsupportedModelError("expected one input and one output tensor")
    x, y = tensors[subgraph.inputs[0]], tensors[subgraph.outputs[0]]
    if x.dtype != schema.TensorType.INT8 or y.dtype != schema.TensorType.INT8:
        raise UnsupportedModelError(
            "input and output must be int8: export the full-integer `int8` format, not int8-float-io")
    layers = [BUILDERS[used[i]](schema, op, tensors, i) for i, op in enumerate(subgraph.operators)]
    # One chain from the input to the output: each op reads what the previous one wrote.
    expected = subgraph.inputs[0]
    for i, layer in enumerate(layers):
        if layer.input != expected:
            raise UnsupportedModelError(f"op {i} does not read the previous op's output: only a plain chain "
                                        f"of layers is supported")
        expected = layer.output
    if not layers or expected != subgraph.outputs[0]:
        raise UnsupportedModelError("the last op does not write the model's output")
    return layers, x, y


def plan_arena(layers: list[_Layer]) -> tuple[list[tuple[str, int, str, int, int | None]], int]:
    """Where each op reads and writes: (src, src_size, dst, dst_size, scratch) with src/dst
    one of "latent", "out", "low", "high" (the two ends of the arena), scratch the offset in
    the arena of the fast kernel's scratch (None without one), and the arena's size.

    An op that reads one end writes the other, so the arena is the largest pair of
    tensors live at once, plus a fast kernel's scratch between them (at a multiple of 8
    bytes); elementwise ops and RESHAPE keep their input's place."""
    steps, where, arena = [], "latent", 0
    for i, layer in enumerate(layers):
        last = i == len(layers) - 1
        if layer.in_place and where != "latent" and not last:
            dest = where
        elif last:
            dest = "out"
        elif layer.kind == "reshape":  # the same bytes, wherever they are
            dest = where
        else:
            dest = "high" if where == "low" else "low"
        in_arena = layer.in_size if where in ("low", "high") and dest != where else 0
        out_arena = layer.out_size if dest in ("low", "high") else 0
        arena = max(arena, in_arena + out_arena)
        scratch = None
        if layer.fast and layer.scratch:
            low = layer.in_size if where == "low" else layer.out_size if dest == "low" else 0
            high = layer.in_size if where == "high" else layer.out_size if dest == "high" else 0
            scratch = _round8(low)
            arena = max(arena, scratch + _round8(layer.scratch) + high)
        steps.append((where, layer.in_size, dest, layer.out_size, scratch))
        where = dest
    return steps, arena


def _round8(n: int) -> int:
    return -(-n // 8) * 8
