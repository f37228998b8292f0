"""The ops the C module generator handles: each read from the int8 flatbuffer into a
``_Layer`` (const arrays, integer parameters) and each with its C kernel.

Every kernel is TFLite Micro's reference kernel for int8, bit for bit:
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
from dataclasses import dataclass

import numpy as np

from gan_edge.errors import GanEdgeError

__all__ = ["UnsupportedModelError", "quantize_multiplier", "BUILDERS", "KERNELS", "SUPPORTED_OPS"]

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


def _load(model_bytes: bytes):
    from ai_edge_litert import schema_py_generated as schema

    try:
        model = schema.ModelT.InitFromPackedBuf(model_bytes, 0)
    except Exception as exc:  # the flatbuffer reader raises anything on garbage
        raise UnsupportedModelError(f"not a TFLite flatbuffer: {exc}") from None
    return schema, model


def _op_name(schema, code) -> str:
    builtin = max(code.builtinCode, code.deprecatedBuiltinCode)
    if builtin == schema.BuiltinOperator.CUSTOM:
        return (code.customCode or b"?").decode()
    by_code = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return by_code.get(builtin, str(builtin))


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
    in_scale, in_zp = _per_tensor(x, "input")
    out_scale, out_zp = _per_tensor(y, "output")
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
    return _Layer(
        "fully_connected", op.inputs[0], op.outputs[0],
        arrays={"weights": ("int8_t", weights.reshape(-1)), "bias": ("int32_t", bias),
                "multiplier": ("int32_t", mult), "shift": ("int8_t", shift)},
        scalars={"in_dim": in_dim, "out_dim": out_dim, "input_offset": -in_zp, "output_offset": out_zp,
                 "act_min": act_min, "act_max": act_max},
        in_size=in_dim, out_size=out_dim, macs=in_dim * out_dim,
        comment=(f"FULLY_CONNECTED {in_dim} -> {out_dim}, {'per-channel' if len(w.scales) > 1 else 'per-tensor'} "
                 f"int8 weights; input scale {in_scale:.9g} zp {in_zp}, output scale {out_scale:.9g} zp {out_zp}"),
    )


def _leaky_relu(schema, op, tensors, index) -> _Layer:
    where = f"op {index} (LEAKY_RELU)"
    x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
    if x.dtype != schema.TensorType.INT8 or y.dtype != schema.TensorType.INT8:
        raise UnsupportedModelError(f"{where}: only int8 is supported")
    in_scale, in_zp = _per_tensor(x, "input")
    out_scale, out_zp = _per_tensor(y, "output")
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
    if x.dtype != schema.TensorType.INT8 or y.dtype != schema.TensorType.INT8:
        raise UnsupportedModelError(f"{where}: only int8 activations are supported")
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
    in_scale, in_zp = _per_tensor(x, "input")
    out_scale, out_zp = _per_tensor(y, "output")
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
    return _Layer(
        "conv_2d", op.inputs[0], op.outputs[0],
        arrays={"weights": ("int8_t", weights.reshape(-1)), "bias": ("int32_t", bias),
                "multiplier": ("int32_t", mult), "shift": ("int8_t", shift)},
        scalars={"height": h, "width": wd, "in_channels": cin, "out_height": out_h, "out_width": out_w,
                 "out_channels": cout, "kernel_height": kh, "kernel_width": kw, "pad_height": pad_h,
                 "pad_width": pad_w, "input_offset": -in_zp, "output_offset": out_zp,
                 "act_min": act_min, "act_max": act_max},
        in_size=h * wd * cin, out_size=out_h * out_w * cout, macs=out_h * out_w * cout * kh * kw * cin,
        comment=(f"CONV_2D {h}x{wd}x{cin} -> {out_h}x{out_w}x{cout}, {kh}x{kw} "
                 f"{'SAME' if o.padding == schema.Padding.SAME else 'VALID'}, "
                 f"{'per-channel' if len(w.scales) > 1 else 'per-tensor'} int8 weights; input scale "
                 f"{in_scale:.9g} zp {in_zp}, output scale {out_scale:.9g} zp {out_zp}"),
    )


def _lookup(name: str):
    def build(schema, op, tensors, index) -> _Layer:
        from export.gemmlowp import logistic_table, tanh_table

        where = f"op {index} ({name})"
        x, y = tensors[op.inputs[0]], tensors[op.outputs[0]]
        if x.dtype != schema.TensorType.INT8 or y.dtype != schema.TensorType.INT8:
            raise UnsupportedModelError(f"{where}: only int8 is supported")
        in_scale, in_zp = _per_tensor(x, "input")
        out_scale, out_zp = _per_tensor(y, "output")
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

_REQUANTIZE = r"""
/* gemmlowp's SaturatingRoundingDoublingHighMul: (a * b * 2) >> 32, rounded to nearest. */
static int32_t gan_doubling_high_mul(int32_t a, int32_t b)
{
    int64_t ab;
    int32_t nudge;
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31)); /* C division truncates, as in gemmlowp */
}

/* gemmlowp's RoundingDivideByPOT: x / 2**exponent, rounded half away from zero. The
 * floor shift is written without right-shifting a negative value (implementation-defined). */
static int32_t gan_rounding_divide_by_pot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    const int32_t floor_shift = x >= 0 ? (x >> exponent) : ~((~x) >> exponent);
    return floor_shift + (remainder > threshold ? 1 : 0);
}

/* TFLite's MultiplyByQuantizedMultiplier (double rounding): x * multiplier * 2**(shift - 31). */
static int32_t gan_requantize(int32_t x, int32_t multiplier, int shift)
{
    const int left_shift = shift > 0 ? shift : 0;
    const int right_shift = shift > 0 ? 0 : -shift;
    /* The generator proved |x| << left_shift fits int32 for this model. */
    return gan_rounding_divide_by_pot(gan_doubling_high_mul(x * (1 << left_shift), multiplier), right_shift);
}

static int8_t gan_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : (v > hi ? hi : v));
}
"""

DOT = r"""
/* sum of w[i] * (x[i] + x_offset) for i < n, exactly as the reference loops compute it:
 * the generator proved the int32 sums cannot overflow, so any order gives the same bits.
 * Helium (MVE, e.g. Cortex-M55) takes 16 products per instruction, the DSP extension
 * (Cortex-M4, M7) two; anything else runs the plain loop. */
#if defined(__ARM_FEATURE_MVE) && (__ARM_FEATURE_MVE & 1)
#include <arm_mve.h>
static int32_t gan_dot(const int8_t *w, const int8_t *x, int n, int32_t x_offset)
{
    int32_t acc = 0, w_sum = 0;
    while (n > 0) {
        const mve_pred16_t lanes = vctp8q((uint32_t)n);
        const int8x16_t wv = vld1q_z_s8(w, lanes);
        acc = vmladavaq_s8(acc, wv, vld1q_z_s8(x, lanes));
        w_sum = vaddvaq_s8(w_sum, wv);
        w += 16;
        x += 16;
        n -= 16;
    }
    return acc + x_offset * w_sum;
}
#elif defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#include <arm_acle.h>
#include <string.h>
static int32_t gan_dot(const int8_t *w, const int8_t *x, int n, int32_t x_offset)
{
    int32_t acc = 0, w_sum = 0;
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t wq, xq;
        int16x2_t w_even, w_odd;
        memcpy(&wq, w + i, 4); /* one unaligned word load; the shifts below are a rotation */
        memcpy(&xq, x + i, 4);
        w_even = __sxtb16((int8x4_t)wq);
        w_odd = __sxtb16((int8x4_t)((wq >> 8) | (wq << 24)));
        acc = __smlad(w_even, __sxtb16((int8x4_t)xq), acc);
        acc = __smlad(w_odd, __sxtb16((int8x4_t)((xq >> 8) | (xq << 24))), acc);
        if (x_offset != 0) {
            w_sum = __smlad(w_even, 0x00010001, w_sum);
            w_sum = __smlad(w_odd, 0x00010001, w_sum);
        }
    }
    for (; i < n; ++i) {
        acc += (int32_t)w[i] * (int32_t)x[i];
        w_sum += w[i];
    }
    return acc + x_offset * w_sum;
}
#else
static int32_t gan_dot(const int8_t *w, const int8_t *x, int n, int32_t x_offset)
{
    int32_t acc = 0;
    int i;
    for (i = 0; i < n; ++i) {
        acc += (int32_t)w[i] * ((int32_t)x[i] + x_offset);
    }
    return acc;
}
#endif
"""

KERNELS = {
    "fully_connected": r"""
/* tflite::reference_integer_ops::FullyConnected(PerChannel) for one batch row. */
static void gan_fully_connected(const int8_t *in, int8_t *out, const int8_t *weights, const int32_t *bias,
                   const int32_t *multiplier, const int8_t *shift, int in_dim, int out_dim,
                   int32_t input_offset, int32_t output_offset, int32_t act_min, int32_t act_max)
{
    int o;
    for (o = 0; o < out_dim; ++o) {
        int32_t acc = gan_dot(weights + (long)o * in_dim, in, in_dim, input_offset);
        acc += bias[o];
        acc = gan_requantize(acc, multiplier[o], shift[o]) + output_offset;
        out[o] = gan_clamp(acc, act_min, act_max);
    }
}
""",
    "conv_2d": r"""
/* tflite::reference_integer_ops::ConvPerChannel, batch 1, stride 1, no dilation: NHWC
 * input, OHWI weights; taps outside the image are skipped, as TFLM skips them. */
static void gan_conv_2d(const int8_t *in, int8_t *out, const int8_t *weights, const int32_t *bias,
                        const int32_t *multiplier, const int8_t *shift, int height, int width,
                        int in_channels, int out_height, int out_width, int out_channels,
                        int kernel_height, int kernel_width, int pad_height, int pad_width,
                        int32_t input_offset, int32_t output_offset, int32_t act_min, int32_t act_max)
{
    int y, x, o, ky, kx;
    for (y = 0; y < out_height; ++y) {
        for (x = 0; x < out_width; ++x) {
            for (o = 0; o < out_channels; ++o) {
                const int8_t *filter = weights + (long)o * kernel_height * kernel_width * in_channels;
                int32_t acc = 0;
                for (ky = 0; ky < kernel_height; ++ky) {
                    const int iy = y - pad_height + ky;
                    if (iy < 0 || iy >= height) {
                        continue;
                    }
                    for (kx = 0; kx < kernel_width; ++kx) {
                        const int ix = x - pad_width + kx;
                        const int8_t *pixel, *taps;
                        if (ix < 0 || ix >= width) {
                            continue;
                        }
                        pixel = in + ((long)iy * width + ix) * in_channels;
                        taps = filter + ((long)ky * kernel_width + kx) * in_channels;
                        acc += gan_dot(taps, pixel, in_channels, input_offset);
                    }
                }
                acc += bias[o];
                acc = gan_requantize(acc, multiplier[o], shift[o]) + output_offset;
                *out++ = gan_clamp(acc, act_min, act_max);
            }
        }
    }
}
""",
    "leaky_relu": r"""
/* tflite::reference_ops::QuantizeLeakyRelu: one multiplier for x >= 0, one for alpha * x.
 * Safe in place (out == in). */
static void gan_leaky_relu(const int8_t *in, int8_t *out, int size,
                           int32_t input_zero_point, int32_t output_zero_point,
                           int32_t multiplier_identity, int shift_identity,
                           int32_t multiplier_alpha, int shift_alpha)
{
    int i;
    for (i = 0; i < size; ++i) {
        const int32_t x = (int32_t)in[i] - input_zero_point;
        const int32_t y = x >= 0 ? gan_requantize(x, multiplier_identity, shift_identity)
                                 : gan_requantize(x, multiplier_alpha, shift_alpha);
        out[i] = gan_clamp(output_zero_point + y, -128, 127);
    }
}
""",
    "lookup": r"""
/* TANH or LOGISTIC: table[code + 128] is TFLM's int8 result for the code. Safe in place. */
static void gan_lookup(const int8_t *in, int8_t *out, const int8_t *table, int size)
{
    int i;
    for (i = 0; i < size; ++i) {
        out[i] = table[(int32_t)in[i] + 128];
    }
}
""",
    "depth_to_space": r"""
/* tflite::reference_ops::DepthToSpace, batch 1: input channel (by * block + bx) * out_channels + c
 * of pixel (y, x) becomes channel c of pixel (y * block + by, x * block + bx). */
static void gan_depth_to_space(const int8_t *in, int8_t *out, int height, int width, int out_channels,
                               int block)
{
    const long out_row = (long)width * block * out_channels;
    int y, x, by, bx, c;
    for (y = 0; y < height; ++y) {
        for (x = 0; x < width; ++x) {
            for (by = 0; by < block; ++by) {
                for (bx = 0; bx < block; ++bx) {
                    int8_t *dst = out + ((long)y * block + by) * out_row + ((long)x * block + bx) * out_channels;
                    for (c = 0; c < out_channels; ++c) {
                        dst[c] = *in++;
                    }
                }
            }
        }
    }
}
""",
    "copy": r"""
static void gan_copy(const int8_t *in, int8_t *out, int size)
{
    int i;
    for (i = 0; i < size; ++i) {
        out[i] = in[i];
    }
}
""",
}
# Kernels that requantize need the fixed-point helpers before them; those with dot products, gan_dot.
REQUANTIZING = ("fully_connected", "conv_2d", "leaky_relu")
DOTTING = ("fully_connected", "conv_2d")
REQUANTIZE_HELPERS = _REQUANTIZE
