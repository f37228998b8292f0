"""A full-int8 TFLite generator as a self-contained C99 module, for microcontrollers.

``export_c_module(int8_tflite_path, out_dir)`` writes ``gan_generator.h`` and
``gan_generator.c``: the weights, biases and requantization parameters as
``const`` arrays (flash), and ``gan_generate(latent, out)``, which runs the model
with integer arithmetic only, no heap and one small stack buffer. It reproduces
TFLite Micro's reference kernels bit for bit (``tests/test_c_module.py`` checks it):

- the effective scale of each layer becomes a 32-bit multiplier and a shift exactly
  as TFLite's ``QuantizeMultiplier`` makes them (frexp, round half away from zero),
  from the same float/double expressions TFLM evaluates in ``Prepare``;
- ``MultiplyByQuantizedMultiplier`` is gemmlowp's double rounding
  (``SaturatingRoundingDoublingHighMul`` then ``RoundingDivideByPOT``), TFLM's
  default (it is built without ``TFLITE_SINGLE_ROUNDING``).

Only FULLY_CONNECTED and LEAKY_RELU are supported (the toy generator's ops); any
other model is refused with the ops named, and belongs to TFLite Micro. Needs only
ai-edge-litert's flatbuffer schema and numpy: no TensorFlow.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gan_edge.errors import GanEdgeError, RunFolderError
from gan_edge.manifest import Manifest, extract_from_tflite, file_sha256, read_manifest

__all__ = ["UnsupportedModelError", "CModule", "FILES", "export_c_module", "quantize_multiplier"]

FILES = ("gan_generator.h", "gan_generator.c")
SUPPORTED_OPS = ("FULLY_CONNECTED", "LEAKY_RELU")
_INT32_MAX = 2**31 - 1


class UnsupportedModelError(GanEdgeError):
    """The model uses ops, types or a graph shape the C module generator does not handle."""


@dataclass(frozen=True)
class CModule:
    """What ``export_c_module`` wrote, and the footprint it computed."""

    header: Path
    source: Path
    flash_bytes: int  # const data: weights + biases + multipliers + shifts
    weight_bytes: int  # int8 weights alone
    stack_buffer_bytes: int  # int8 activation buffers inside gan_generate
    largest_activation: int  # elements of the largest intermediate tensor
    layers: tuple[str, ...] = field(default_factory=tuple)


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
    kind: str  # "fc" or "leaky_relu"
    input: int  # tensor index
    output: int
    arrays: dict  # name -> (ctype, np.ndarray) for const data
    scalars: dict  # name -> int
    in_size: int
    out_size: int
    comment: str


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


def _fully_connected(schema, op, tensors, index) -> _Layer:
    where = f"op {index} (FULLY_CONNECTED)"
    inputs = list(op.inputs)
    x, w = tensors[inputs[0]], tensors[inputs[1]]
    b = tensors[inputs[2]] if len(inputs) > 2 and inputs[2] >= 0 else None
    y = tensors[op.outputs[0]]
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
        "fc", inputs[0], op.outputs[0],
        arrays={"weights": ("int8_t", weights.reshape(-1)), "bias": ("int32_t", bias),
                "multiplier": ("int32_t", mult), "shift": ("int8_t", shift)},
        scalars={"in_dim": in_dim, "out_dim": out_dim, "input_offset": -in_zp, "output_offset": out_zp,
                 "act_min": act_min, "act_max": act_max},
        in_size=in_dim, out_size=out_dim,
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
        in_size=size, out_size=size,
        comment=(f"LEAKY_RELU alpha {float(alpha):.9g} on {size} values; input scale {in_scale:.9g} zp {in_zp}, "
                 f"output scale {out_scale:.9g} zp {out_zp}"),
    )


def _parse(model_bytes: bytes) -> tuple[list[_Layer], _Tensor, _Tensor]:
    schema, model = _load(model_bytes)
    if not model.subgraphs or len(model.subgraphs) != 1:
        raise UnsupportedModelError(f"expected one subgraph, found {len(model.subgraphs or [])}")
    subgraph = model.subgraphs[0]
    names = [_op_name(schema, c) for c in model.operatorCodes or []]
    used = [names[op.opcodeIndex] for op in subgraph.operators or []]
    unsupported = sorted(set(used) - set(SUPPORTED_OPS))
    if unsupported:
        raise UnsupportedModelError(
            f"the C module generator supports only {', '.join(SUPPORTED_OPS)}; this model also uses "
            f"{', '.join(unsupported)}: run it with TensorFlow Lite Micro instead "
            f"(https://github.com/tensorflow/tflite-micro), which executes the .tflite file as it is")
    tensors = _tensors(schema, model, subgraph)
    if len(subgraph.inputs) != 1 or len(subgraph.outputs) != 1:
        raise UnsupportedModelError("expected one input and one output tensor")
    x, y = tensors[subgraph.inputs[0]], tensors[subgraph.outputs[0]]
    if x.dtype != schema.TensorType.INT8 or y.dtype != schema.TensorType.INT8:
        raise UnsupportedModelError(
            "input and output must be int8: export the full-integer `int8` format, not int8-float-io")
    builders = {"FULLY_CONNECTED": _fully_connected, "LEAKY_RELU": _leaky_relu}
    layers = [builders[used[i]](schema, op, tensors, i) for i, op in enumerate(subgraph.operators)]
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


# --- writing C ------------------------------------------------------------------------


def _c_array(ctype: str, name: str, values: np.ndarray, per_line: int = 16) -> str:
    items = [str(int(v)) for v in values]
    rows = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    body = ",\n    ".join(rows)
    return f"static const {ctype} {name}[{len(items)}] = {{\n    {body}\n}};\n"


def _c_float(x: float) -> str:
    return f"{float(_f32(x)):.9g}f"


_ITEM_SIZE = {"int8_t": 1, "int32_t": 4}

_KERNELS = r"""
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

/* tflite::reference_integer_ops::FullyConnected(PerChannel) for one batch row. */
static void gan_fully_connected(const int8_t *in, int8_t *out, int in_dim, int out_dim,
                                const int8_t *weights, const int32_t *bias,
                                const int32_t *multiplier, const int8_t *shift,
                                int32_t input_offset, int32_t output_offset,
                                int32_t act_min, int32_t act_max)
{
    int o, d;
    for (o = 0; o < out_dim; ++o) {
        const int8_t *row = weights + (long)o * in_dim;
        int32_t acc = 0;
        for (d = 0; d < in_dim; ++d) {
            acc += (int32_t)row[d] * ((int32_t)in[d] + input_offset);
        }
        acc += bias[o];
        acc = gan_requantize(acc, multiplier[o], shift[o]) + output_offset;
        out[o] = gan_clamp(acc, act_min, act_max);
    }
}

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
"""


def _sampler(manifest: Manifest, in_scale: float, in_zp: int) -> tuple[str, str]:
    """C for gan_sample_latent: (header doc, body). Integer only."""
    from gan_edge.latent import DISTRIBUTIONS

    bounds = DISTRIBUTIONS[manifest.latent_distribution]
    if bounds is not None:
        low, high = bounds
        q_lo = max(-128, in_zp + _round_half_away(low / in_scale))
        q_hi = min(127, in_zp + _round_half_away(high / in_scale))
        doc = (f"uniform over the int8 codes {q_lo}..{q_hi}, i.e. {manifest.latent_distribution} "
               f"[{low:g}, {high:g}] at the input scale")
        body = f"""    /* {manifest.latent_distribution}: the codes {q_lo}..{q_hi} cover [{low:g}, {high:g}].
     * Lemire's multiply-shift maps 32 random bits onto the {q_hi - q_lo + 1} codes. */
    int i;
    for (i = 0; i < GAN_LATENT_DIM; ++i) {{
        const uint32_t r = gan_rng_next(state);
        latent[i] = (int8_t)({q_lo} + (int32_t)(((uint64_t)r * {q_hi - q_lo + 1}u) >> 32));
    }}
"""
        return doc, body
    # normal: Irwin-Hall, the sum of 12 16-bit uniforms minus their mean has std 65536;
    # q = zp + round(z / scale) = zp + round(s * 2**16 / scale / 2**32).
    mult = _round_half_away(65536.0 / in_scale)
    doc = "approximately N(0, 1) (Irwin-Hall: the sum of 12 uniforms), clamped to int8"
    body = f"""    /* normal: Irwin-Hall sum of 12 uniform 16-bit draws, centred; std 65536 = 1.0.
     * Scaled by 2**16 / input_scale = {mult} and rounded, with integers only. */
    int i, k;
    for (i = 0; i < GAN_LATENT_DIM; ++i) {{
        int64_t s = 0, q;
        for (k = 0; k < 6; ++k) {{
            const uint32_t r = gan_rng_next(state);
            s += (int64_t)(r & 0xFFFFu) + (int64_t)(r >> 16);
        }}
        s -= 12 * 32768;
        q = s * {mult} + ((int64_t)1 << 31);
        q = q >= 0 ? q / ((int64_t)1 << 32) : -((-q + (((int64_t)1 << 32) - 1)) / ((int64_t)1 << 32));
        q += {in_zp};
        latent[i] = (int8_t)(q < -128 ? -128 : (q > 127 ? 127 : q));
    }}
"""
    return doc, body


def _render(layers: list[_Layer], x: _Tensor, y: _Tensor, manifest: Manifest, source_name: str,
            sha256: str) -> tuple[str, str, CModule]:
    in_scale, in_zp = _per_tensor(x, "model input")
    out_scale, out_zp = _per_tensor(y, "model output")
    latent_dim = int(np.prod(x.shape))
    out_size = int(np.prod(y.shape))

    # Buffers: a fully connected layer writes to a buffer other than the one it reads;
    # LeakyReLU works in place; the last layer writes straight into `out`.
    largest = max([l.out_size for l in layers[:-1]], default=0)
    calls, where, used = [], "latent", set()
    for i, layer in enumerate(layers):
        if i == len(layers) - 1:
            dest = "out"
        elif layer.kind == "leaky_relu" and where != "latent":
            dest = where
        else:
            dest = "buf_b" if where == "buf_a" else "buf_a"
        if dest.startswith("buf"):
            used.add(dest)
        s = layer.scalars
        p = f"gan_l{i}_"
        if layer.kind == "fc":
            calls.append(f"    gan_fully_connected({where}, {dest}, {s['in_dim']}, {s['out_dim']}, {p}weights, "
                         f"{p}bias, {p}multiplier, {p}shift,\n                        {s['input_offset']}, "
                         f"{s['output_offset']}, {s['act_min']}, {s['act_max']});")
        else:
            calls.append(f"    gan_leaky_relu({where}, {dest}, {s['size']}, {s['input_zero_point']}, "
                         f"{s['output_zero_point']}, {s['multiplier_identity']}, {s['shift_identity']}, "
                         f"{s['multiplier_alpha']}, {s['shift_alpha']});")
        where = dest
    stack_buffers = len(used) * largest
    weight_bytes = sum(l.arrays["weights"][1].size for l in layers if "weights" in l.arrays)
    flash = sum(_ITEM_SIZE[c] * a.size for l in layers for c, a in l.arrays.values())

    sampler_doc, sampler_body = _sampler(manifest, in_scale, in_zp)
    layer_lines = "\n".join(f" *   {i}: {l.comment}" for i, l in enumerate(layers))
    header = f"""/* gan_generator.h: generated by gan-edge (export/c_module.py); do not edit.
 *
 * Source model: {source_name}
 *   sha256 {sha256}
 *   latent: {latent_dim} x int8, {manifest.latent_distribution}; output: {out_size} x int8, shape {tuple(manifest.output_shape)}
 * Layers (TFLite Micro reference kernels, bit-exact, integers only):
{layer_lines}
 *
 * Footprint (computed by the generator):
 *   flash: {flash} bytes of const data ({weight_bytes} bytes of int8 weights, the rest int32
 *          biases and multipliers, int8 shifts), plus the code of two small kernels
 *   stack: {stack_buffers} bytes of activation buffers in gan_generate (largest intermediate
 *          tensor: {largest} int8 values), plus a few words of locals per call
 *   heap: none; static RAM: none (the PRNG state belongs to the caller)
 */
#ifndef GAN_GENERATOR_H
#define GAN_GENERATOR_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {{
#endif

#define GAN_LATENT_DIM {latent_dim}
#define GAN_OUTPUT_SIZE {out_size}
#define GAN_FLASH_DATA_BYTES {flash}
#define GAN_STACK_BUFFER_BYTES {stack_buffers}

/* real = (q - zero_point) * scale, for the latent and for the output. */
#define GAN_INPUT_SCALE {_c_float(in_scale)}
#define GAN_INPUT_ZERO_POINT ({in_zp})
#define GAN_OUTPUT_SCALE {_c_float(out_scale)}
#define GAN_OUTPUT_ZERO_POINT ({out_zp})

/* Run the generator on one quantized latent. latent: GAN_LATENT_DIM values; out:
 * GAN_OUTPUT_SIZE values. Integer arithmetic only; reentrant; uses no heap. */
void gan_generate(const int8_t *latent, int8_t *out);

/* xorshift32 (Marsaglia 2003): the next 32 random bits. *state must not be 0;
 * seed it with any non-zero value (e.g. from a hardware RNG or a device ID). */
uint32_t gan_rng_next(uint32_t *state);

/* Draw one quantized latent from the model's distribution, directly in int8:
 * {sampler_doc}. */
void gan_sample_latent(uint32_t *state, int8_t *latent);

/* Dequantize an output into data space. Uses float: it is outside the int8 path,
 * and a board that has no FPU can keep the int8 values and scale them later. */
void gan_dequantize(const int8_t *out, float *values);

#ifdef __cplusplus
}}
#endif

#endif /* GAN_GENERATOR_H */
"""
    arrays = []
    for i, layer in enumerate(layers):
        if not layer.arrays:
            continue
        arrays.append(f"/* layer {i}: {layer.comment} */\n")
        for name, (ctype, values) in layer.arrays.items():
            arrays.append(_c_array(ctype, f"gan_l{i}_{name}", values))
        arrays.append("\n")
    buffers = "".join(f"    int8_t {b}[{largest}];\n" for b in sorted(used))
    source = f"""/* gan_generator.c: generated by gan-edge (export/c_module.py) from {source_name}; do not edit.
 * C99, no heap, no floating point in gan_generate. See gan_generator.h. */
#include "gan_generator.h"

{''.join(arrays)}{_KERNELS}
void gan_generate(const int8_t *latent, int8_t *out)
{{
{buffers}{chr(10).join(calls)}
}}

uint32_t gan_rng_next(uint32_t *state)
{{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}}

void gan_sample_latent(uint32_t *state, int8_t *latent)
{{
{sampler_body}}}

void gan_dequantize(const int8_t *out, float *values)
{{
    int i;
    for (i = 0; i < GAN_OUTPUT_SIZE; ++i) {{
        values[i] = (float)((int32_t)out[i] - GAN_OUTPUT_ZERO_POINT) * GAN_OUTPUT_SCALE;
    }}
}}
"""
    info = CModule(Path(), Path(), flash, weight_bytes, stack_buffers, largest,
                   tuple(l.comment for l in layers))
    return header, source, info


def export_c_module(int8_tflite_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                    overwrite: bool = False) -> CModule:
    """Write ``gan_generator.h`` and ``gan_generator.c`` for the full-int8 model into ``out_dir``.

    The model's manifest (the sidecar, else the embedded copy) gives the latent
    distribution. Raises ``UnsupportedModelError`` for ops or types the generator
    does not handle, and ``RunFolderError`` if the files exist and ``overwrite`` is False.
    """
    path = Path(int8_tflite_path)
    out_dir = Path(out_dir)
    check_target(out_dir, overwrite=overwrite)
    model_bytes = path.read_bytes()
    manifest = read_manifest(path, embedded=extract_from_tflite(model_bytes))
    layers, x, y = _parse(model_bytes)
    if int(np.prod(x.shape)) != manifest.latent_dim:
        raise UnsupportedModelError(f"{path.name}: the model takes {x.shape} but its manifest says "
                                    f"latent_dim {manifest.latent_dim}")
    header, source, info = _render(layers, x, y, manifest, path.name, file_sha256(path))
    out_dir.mkdir(parents=True, exist_ok=True)
    h_path, c_path = out_dir / FILES[0], out_dir / FILES[1]
    h_path.write_text(header, encoding="utf-8")
    c_path.write_text(source, encoding="utf-8")
    return CModule(h_path, c_path, info.flash_bytes, info.weight_bytes, info.stack_buffer_bytes,
                   info.largest_activation, info.layers)


def check_target(out_dir: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Refuse an ``out_dir`` that already holds a generated module (before any work starts)."""
    if overwrite:
        return
    for name in FILES:
        existing = Path(out_dir) / name
        if existing.exists():
            raise RunFolderError(f"{existing} already exists: pass a new --out folder (nothing was overwritten)")
