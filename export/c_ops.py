"""The ops the C module generator handles: each read from the int8 flatbuffer into a
``_Layer`` (const arrays, integer parameters) and each with its C kernel, kept as C in
export/c_templates/kernels.c.

Every kernel is TFLite Micro's reference kernel for int8, bit for bit (the weighted layers
also have fast kernels, for the DSP extension and Helium, that give the same bits; a
layer they do not cover runs the portable one, and ``_Layer.portable_reason`` says why):
``FULLY_CONNECTED`` and ``CONV_2D`` (per-channel or per-tensor weights; the convolution
with stride 1, no dilation, SAME or VALID padding) requantize their int32 accumulators
with multipliers and shifts made exactly as TFLM's ``Prepare`` makes them; ``TANH`` and
``LOGISTIC`` are 256-entry tables of what TFLM's gemmlowp fixed point computes for each
int8 code (export/gemmlowp.py); ``LEAKY_RELU`` has its two multipliers; ``DEPTH_TO_SPACE``
is a copy in TFLM's order and ``RESHAPE`` is no code at all (the buffer is reused).
Only the kernels a model uses are written into its C file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gan_edge.errors import GanEdgeError
from gan_edge.tflite_ops import op_name

__all__ = ["UnsupportedModelError", "quantize_multiplier", "BUILDERS", "KERNELS", "SUPPORTED_OPS",
           "FAST_HELPERS"]

_INT32_MAX = 2**31 - 1


class UnsupportedModelError(GanEdgeError):
    """The model uses ops, types or a graph shape the C module generator does not handle."""


# --- TFLite's fixed-point helpers, as Python -------------------------------------------


def _round_half_away(x: float) -> int:
    # TfLiteRound is std::round; Python's round() would round half to even.
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's ``QuantizeMultiplier``: ``real ~= multiplier * 2**(shift - 31)``."""
    if real == 0.0:
        return 0, 0
    q, shift = math.frexp(real)
    q_fixed = _round_half_away(q * (1 << 31))
    if q_fixed == 1 << 31:
        q_fixed //= 2
        shift += 1
    if shift < -31:  # every bit would be shifted out
        return 0, 0
    return q_fixed, shift


def _f32(x) -> np.float32:
    return np.float32(x)


# --- reading the model ----------------------------------------------------------------


@dataclass
class _Tensor:
    name: str
    shape: tuple[int, ...]
    dtype: int
    scales: np.ndarray  # float32, as stored
    zero_points: np.ndarray
    data: np.ndarray | None  # constant data, or None for activations


@dataclass
class _Layer:
    kind: str  # a key of KERNELS, or "reshape" (no code)
    input: int  # tensor index
    output: int
    arrays: dict  # name -> (ctype, np.ndarray) for const data
    scalars: dict  # name -> int, the kernel's arguments after the buffers, in order
    in_size: int
    out_size: int
    comment: str
    in_place: bool = False  # the kernel may write over its input
    macs: int = 0  # multiply-accumulates per call
    fast: bool = False  # call the fast kernel (KERNELS[kind + "_fast"]), which covers this layer
    scratch: int = 0  # bytes of arena the fast kernel needs beside its input and output
    portable_reason: str = ""  # why a weighted layer runs the portable kernel


def _load(model_bytes: bytes):
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.ModelT.InitFromPackedBuf(model_bytes, 0)
    except Exception as exc:  # the flatbuffer reader raises anything on garbage
        raise UnsupportedModelError(f"not a TFLite flatbuffer: {exc}") from None
    return schema, model


def _tensors(schema, model, subgraph) -> list[_Tensor]:
    dtypes = {schema.TensorType.INT8: np.int8, schema.TensorType.INT32: np.int32}
    tensors = []
    for t in subgraph.tensors:
        q = t.quantization
        scales = np.asarray(q.scale if q is not None and q.scale is not None else [], np.float32)
        zps = np.asarray(q.zeroPoint if q is not None and q.zeroPoint is not None else [], np.int64)
        data = None
        buffer = model.buffers[t.buffer] if t.buffer < len(model.buffers) else None
        if buffer is not None and buffer.data is not None and len(buffer.data) and t.type in dtypes:
            data = np.frombuffer(bytes(bytearray(buffer.data)), dtype=dtypes[t.type]).reshape(t.shape)
        name = t.name.decode() if isinstance(t.name, bytes) else str(t.name)
        tensors.append(_Tensor(name, tuple(int(d) for d in t.shape), t.type, scales, zps, data))
    return tensors


def _per_tensor(t: _Tensor, what: str) -> tuple[float, int]:
    if len(t.scales) != 1:
        raise UnsupportedModelError(f"{what} tensor {t.name!r} must have one scale, has {len(t.scales)}")
    return float(t.scales[0]), int(t.zero_points[0])


def _int8_activations(schema, x: _Tensor, y: _Tensor, where: str) -> tuple[tuple[float, int], tuple[float, int]]:
    """The (scale, zero point) of an op's int8 input and output; any other type is refused."""
    if x.dtype != schema.TensorType.INT8 or y.dtype != schema.TensorType.INT8:
        raise UnsupportedModelError(f"{where}: only int8 activations are supported")
    return _per_tensor(x, "input"), _per_tensor(y, "output")


def _activation_range(schema, fused: int, scale: float, zp: int, op: str) -> tuple[int, int]:
    """TFLite's CalculateActivationRangeQuantized for int8."""
    act = schema.ActivationFunctionType

    def quantize(f: float) -> int:  # evaluated in float32 in TFLite
        return zp + _round_half_away(float(_f32(f) / _f32(scale)))

    if fused == act.NONE:
        return -128, 127
    if fused == act.RELU:
        return max(-128, quantize(0.0)), 127
    if fused == act.RELU6:
        return max(-128, quantize(0.0)), min(127, quantize(6.0))
    raise UnsupportedModelError(f"{op}: fused activation {fused} is not supported (only NONE, RELU, RELU6)")


def _weighted_operands(op, tensors):
    """(input, weights, bias or None, output) of a FULLY_CONNECTED or CONV_2D op."""
    inputs = list(op.inputs)
    bias = tensors[inputs[2]] if len(inputs) > 2 and inputs[2] >= 0 else None
    return tensors[inputs[0]], tensors[inputs[1]], bias, tensors[op.outputs[0]]


def _fully_connected(schema, op, tensors, index) -> _Layer:
    where = f"op {index} (FULLY_CONNECTED)"
    x, w, b, y = _weighted_operands(op, tensors)
    options = op.builtinOptions
    if w.dtype != schema.TensorType.INT8 or w.data is None or len(w.shape) != 2:
        raise UnsupportedModelError(f"{where}: weights must be a constant 2-D int8 tensor (int4 or "
                                    f"float weights are not supported)")
    if options is not None and options.weightsFormat != 0:
        raise UnsupportedModelError(f"{where}: shuffled weights formats are not supported")
    if np.any(w.zero_points != 0):
        raise UnsupportedModelError(f"{where}: weights must be symmetric (zero point 0), as TFLite int8 requires")
    if b is not None and (b.dtype != schema.TensorType.INT32 or b.data is None):
        raise UnsupportedModelError(f"{where}: bias must be a constant int32 tensor")
    out_dim, in_dim = w.shape
    if int(np.prod(x.shape)) != in_dim or int(np.prod(y.shape)) != out_dim:
        raise UnsupportedModelError(
            f"{where}: only batch 1 is supported: input {x.shape} and output {y.shape} against weights "
            f"{w.shape}; export with a dynamic batch (the default) or --batch 1")
    (in_scale, in_zp), (out_scale, out_zp) = _int8_activations(schema, x, y, where)
    weights = w.data.astype(np.int8)
    bias = b.data.astype(np.int64) if b is not None else np.zeros(out_dim, np.int64)

    # The multipliers from the very expressions TFLM's CalculateOpDataFullyConnected uses.
    if len(w.scales) > 1:
        if len(w.scales) != out_dim:
            raise UnsupportedModelError(f"{where}: {len(w.scales)} weight scales for {out_dim} outputs")
        reals = [float(np.float64(_f32(in_scale)) * np.float64(s) / np.float64(_f32(out_scale))) for s in w.scales]
    else:
        # Per-tensor: GetQuantizedConvolutionMultipler multiplies the two scales in float32.
        reals = [float(np.float64(_f32(in_scale) * w.scales[0]) / np.float64(_f32(out_scale)))] * out_dim
    pairs = [quantize_multiplier(r) for r in reals]
    mult = np.array([m for m, _ in pairs], np.int64)
    shift = np.array([s for _, s in pairs], np.int64)

    # The accumulator must fit int32 after the left shift, or C and TFLM both overflow.
    span = 255  # |input - zero_point| <= 255 for int8
    bound = np.abs(weights.astype(np.int64)).sum(axis=1) * span + np.abs(bias)
    bound = bound << np.maximum(shift, 0)
    if bound.max() > _INT32_MAX:
        raise UnsupportedModelError(f"{where}: the int32 accumulator could overflow (bound {bound.max()})")
    if np.any(shift > 31) or np.any(shift < -31):
        raise UnsupportedModelError(f"{where}: requantization shift out of range: {shift.tolist()}")
    act_min, act_max = _activation_range(schema, options.fusedActivationFunction if options else 0,
                                         out_scale, out_zp, where)
    # The fast kernel takes four rows at a time, four columns per step.
    misfits = [f"{name} {value} is not a multiple of 4" for name, value in (("in_dim", in_dim), ("out_dim", out_dim))
               if value % 4]
    return _Layer(
        "fully_connected", op.inputs[0], op.outputs[0],
        arrays={"weights": ("int8_t", weights.reshape(-1)), "bias": ("int32_t", bias),
                "multiplier": ("int32_t", mult), "shift": ("int8_t", shift)},
        scalars={"in_dim": in_dim, "out_dim": out_dim, "input_offset": -in_zp, "output_offset": out_zp,
                 "act_min": act_min, "act_max": act_max},
        in_size=in_dim, out_size=out_dim, macs=in_dim * out_dim,
        fast=not misfits, scratch=0 if misfits else 2 * in_dim, portable_reason="; ".join(misfits),
        comment=(f"FULLY_CONNECTED {in_dim} -> {out_dim}, {'per-channel' if len(w.scales) > 1 else 'per-tensor'} "
                 f"int8 weights; input scale {in_scale:.9g} zp {in_zp}, output scale {out_scale:.9g} zp {out_zp}"),
    )


def _leaky_relu(schema, op, tensors, index) -> _Layer:
    where = f"op {index} (LEAKY_RELU)"
    x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
    (in_scale, in_zp), (out_scale, out_zp) = _int8_activations(schema, x, y, where)
    alpha = _f32(op.builtinOptions.alpha)
    # TFLM's CalculateOpDataLeakyRelu: both quotients in float32, then widened.
    m_alpha, s_alpha = quantize_multiplier(float(np.float64(_f32(in_scale) * alpha / _f32(out_scale))))
    m_id, s_id = quantize_multiplier(float(np.float64(_f32(in_scale) / _f32(out_scale))))
    if max(s_alpha, s_id) > 22:  # |input - zp| <= 255 = 2**8, shifted left must fit int32
        raise UnsupportedModelError(f"{where}: requantization shift too large ({s_alpha}, {s_id})")
    size = int(np.prod(x.shape))
    return _Layer(
        "leaky_relu", op.inputs[0], op.outputs[0], arrays={},
        scalars={"size": size, "input_zero_point": in_zp, "output_zero_point": out_zp,
                 "multiplier_identity": m_id, "shift_identity": s_id,
                 "multiplier_alpha": m_alpha, "shift_alpha": s_alpha},
        in_size=size, out_size=size, in_place=True,
        comment=(f"LEAKY_RELU alpha {float(alpha):.9g} on {size} values; input scale {in_scale:.9g} zp {in_zp}, "
                 f"output scale {out_scale:.9g} zp {out_zp}"),
    )



def _conv_2d(schema, op, tensors, index) -> _Layer:
    where = f"op {index} (CONV_2D)"
    x, w, b, y = _weighted_operands(op, tensors)
    o = op.builtinOptions
    if w.dtype != schema.TensorType.INT8 or w.data is None or len(w.shape) != 4:
        raise UnsupportedModelError(f"{where}: weights must be a constant 4-D int8 tensor (OHWI)")
    if (o.strideH, o.strideW, o.dilationHFactor, o.dilationWFactor) != (1, 1, 1, 1):
        raise UnsupportedModelError(f"{where}: only stride 1 without dilation is supported, got stride "
                                    f"({o.strideH}, {o.strideW}) dilation ({o.dilationHFactor}, {o.dilationWFactor})")
    if np.any(w.zero_points != 0):
        raise UnsupportedModelError(f"{where}: weights must be symmetric (zero point 0), as TFLite int8 requires")
    if b is not None and (b.dtype != schema.TensorType.INT32 or b.data is None):
        raise UnsupportedModelError(f"{where}: bias must be a constant int32 tensor")
    cout, kh, kw, cin = w.shape
    if len(x.shape) != 4 or len(y.shape) != 4 or x.shape[0] != 1 or y.shape[0] != 1 or x.shape[3] != cin:
        raise UnsupportedModelError(f"{where}: only batch 1 NHWC without groups is supported: input {x.shape}, "
                                    f"output {y.shape}, weights {w.shape}")
    _, h, wd, _ = x.shape
    if o.padding == schema.Padding.SAME:
        out_h, out_w = h, wd
        pad_h, pad_w = max(kh - 1, 0) // 2, max(kw - 1, 0) // 2  # ComputePaddingHeightWidth, stride 1
    else:
        out_h, out_w, pad_h, pad_w = h - kh + 1, wd - kw + 1, 0, 0
    if tuple(y.shape) != (1, out_h, out_w, cout):
        raise UnsupportedModelError(f"{where}: output {y.shape} does not match input {x.shape} and weights {w.shape}")
    (in_scale, in_zp), (out_scale, out_zp) = _int8_activations(schema, x, y, where)
    if len(w.scales) not in (1, cout):
        raise UnsupportedModelError(f"{where}: {len(w.scales)} weight scales for {cout} output channels")
    scales = w.scales if len(w.scales) == cout else np.repeat(w.scales, cout)
    # PopulateConvolutionQuantizationParams: float32 scales widened to double, per channel.
    pairs = [quantize_multiplier(float(np.float64(_f32(in_scale)) * np.float64(s) / np.float64(_f32(out_scale))))
             for s in scales]
    mult = np.array([m for m, _ in pairs], np.int64)
    shift = np.array([s for _, s in pairs], np.int64)
    weights = w.data.astype(np.int8)
    bias = b.data.astype(np.int64) if b is not None else np.zeros(cout, np.int64)
    bound = (np.abs(weights.astype(np.int64)).reshape(cout, -1).sum(axis=1) * 255 + np.abs(bias)) \
        << np.maximum(shift, 0)
    if bound.max() > _INT32_MAX:
        raise UnsupportedModelError(f"{where}: the int32 accumulator could overflow (bound {bound.max()})")
    if np.any(shift > 31) or np.any(shift < -31):
        raise UnsupportedModelError(f"{where}: requantization shift out of range: {shift.tolist()}")
    act_min, act_max = _activation_range(schema, o.fusedActivationFunction, out_scale, out_zp, where)
    # The fast kernel widens whole words of each tap and takes output channels in pairs.
    misfits = ([f"in_channels {cin} is not a multiple of 4"] if cin % 4 else []) + (
        [f"out_channels {cout} is odd"] if cout % 2 else [])
    return _Layer(
        "conv_2d", op.inputs[0], op.outputs[0],
        arrays={"weights": ("int8_t", weights.reshape(-1)), "bias": ("int32_t", bias),
                "multiplier": ("int32_t", mult), "shift": ("int8_t", shift)},
        scalars={"height": h, "width": wd, "in_channels": cin, "out_height": out_h, "out_width": out_w,
                 "out_channels": cout, "kernel_height": kh, "kernel_width": kw, "pad_height": pad_h,
                 "pad_width": pad_w, "input_offset": -in_zp, "output_offset": out_zp,
                 "act_min": act_min, "act_max": act_max},
        in_size=h * wd * cin, out_size=out_h * out_w * cout, macs=out_h * out_w * cout * kh * kw * cin,
        # two im2col rows: int16 on the DSP extension, int8 on Helium
        fast=not misfits, scratch=0 if misfits else 4 * kh * kw * cin, portable_reason="; ".join(misfits),
        comment=(f"CONV_2D {h}x{wd}x{cin} -> {out_h}x{out_w}x{cout}, {kh}x{kw} "
                 f"{'SAME' if o.padding == schema.Padding.SAME else 'VALID'}, "
                 f"{'per-channel' if len(w.scales) > 1 else 'per-tensor'} int8 weights; input scale "
                 f"{in_scale:.9g} zp {in_zp}, output scale {out_scale:.9g} zp {out_zp}"),
    )


def _lookup(name: str):
    def build(schema, op, tensors, index) -> _Layer:
        from gan_edge.export.gemmlowp import logistic_table, tanh_table

        where = f"op {index} ({name})"
        x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
        (in_scale, in_zp), (out_scale, out_zp) = _int8_activations(schema, x, y, where)
        if name == "LOGISTIC" and out_zp != -128:
            raise UnsupportedModelError(f"{where}: TFLM needs the output zero point -128, got {out_zp}")
        try:
            table = (tanh_table if name == "TANH" else logistic_table)(float(_f32(in_scale)), in_zp)
        except ValueError as exc:
            raise UnsupportedModelError(f"{where}: {exc}") from None
        size = int(np.prod(x.shape))
        return _Layer(
            "lookup", op.inputs[0], op.outputs[0], arrays={"table": ("int8_t", np.array(table, np.int64))},
            scalars={"size": size}, in_size=size, out_size=size, in_place=True,
            comment=(f"{name} on {size} values as a table of TFLM's int8 fixed-point results; input scale "
                     f"{in_scale:.9g} zp {in_zp}, output scale {out_scale:.9g} zp {out_zp}"),
        )
    return build


def _same_quantization(x: _Tensor, y: _Tensor, where: str) -> None:
    if x.dtype != y.dtype or list(x.scales) != list(y.scales) or list(x.zero_points) != list(y.zero_points):
        raise UnsupportedModelError(f"{where}: input and output must share type and quantization, as TFLM "
                                    f"requires of a rearranging op")


def _depth_to_space(schema, op, tensors, index) -> _Layer:
    where = f"op {index} (DEPTH_TO_SPACE)"
    x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
    block = int(op.builtinOptions.blockSize)
    _same_quantization(x, y, where)
    if len(x.shape) != 4 or x.shape[0] != 1 or x.shape[3] % (block * block):
        raise UnsupportedModelError(f"{where}: only batch 1 NHWC with depth divisible by {block * block}, got {x.shape}")
    _, h, w, c = x.shape
    size = h * w * c
    return _Layer("depth_to_space", op.inputs[0], op.outputs[0], arrays={},
                  scalars={"height": h, "width": w, "out_channels": c // (block * block), "block": block},
                  in_size=size, out_size=size,
                  comment=f"DEPTH_TO_SPACE {h}x{w}x{c} -> {h * block}x{w * block}x{c // (block * block)}")


def _reshape(schema, op, tensors, index) -> _Layer:
    where = f"op {index} (RESHAPE)"
    x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
    _same_quantization(x, y, where)
    size = int(np.prod(x.shape))
    if int(np.prod(y.shape)) != size:
        raise UnsupportedModelError(f"{where}: {x.shape} and {y.shape} differ in size")
    return _Layer("reshape", op.inputs[0], op.outputs[0], arrays={}, scalars={}, in_size=size, out_size=size,
                  in_place=True, comment=f"RESHAPE {x.shape} -> {y.shape} (no code: the same bytes)")


BUILDERS = {
    "FULLY_CONNECTED": _fully_connected,
    "CONV_2D": _conv_2d,
    "LEAKY_RELU": _leaky_relu,
    "TANH": _lookup("TANH"),
    "LOGISTIC": _lookup("LOGISTIC"),
    "DEPTH_TO_SPACE": _depth_to_space,
    "RESHAPE": _reshape,
}
SUPPORTED_OPS = tuple(BUILDERS)

# --- the C kernels --------------------------------------------------------------------------


def _c_sections() -> dict[str, str]:
    """export/c_templates/kernels.c cut at its ``/* @section NAME */`` lines: NAME -> the C after it."""
    text = (Path(__file__).with_name("c_templates") / "kernels.c").read_text(encoding="utf-8")
    parts = re.split(r"/\* @section ([\w ]+) \*/", text)
    return dict(zip(parts[1::2], parts[2::2]))


_SECTIONS = _c_sections()
# gemmlowp's rounding helpers and the multiplier they apply, for every requantizing kernel.
_REQUANTIZE = _SECTIONS["requantize"]
# The int8 dot product of the portable weighted kernels (with DSP-extension and Helium paths).
DOT = _SECTIONS["dot"]
# What the fast kernels share (word access, im2col, one output's requantization).
FAST_HELPERS = _SECTIONS["fast helpers"]
# kernel kind (_Layer.kind, or "copy") -> its C function, written into a module only if used.
KERNELS = {name.removeprefix("kernel "): text for name, text in _SECTIONS.items() if name.startswith("kernel ")}
REQUANTIZING = ("fully_connected", "conv_2d", "leaky_relu")
DOTTING = ("fully_connected", "conv_2d")
REQUANTIZE_HELPERS = _REQUANTIZE
