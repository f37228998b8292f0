"""ONNX artifacts, one function per format; each returns the model's bytes.

Float through tf2onnx; int8 by ONNX Runtime's static quantizer in QDQ form
(QuantizeLinear/DequantizeLinear pairs around float ops, float input and output),
which every execution provider reads and fuses into integer kernels where it can.
The manifest is embedded afterwards by ``gan_edge.export.embed.embed_in_onnx``.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from pathlib import Path
from typing import Iterator

import numpy as np
import tensorflow as tf

from gan_edge.export.source import TrainedGenerator
from gan_edge.export.tflite import ExportError
from gan_edge.errors import BackendUnavailable

__all__ = ["OPSET", "INTEGER_ARITHMETIC", "to_float32", "to_int8_qdq", "integer_arithmetic", "op_type_counts"]

# Opset 17 is what ONNX Runtime's mobile builds and its quantization tools support
# fully; pinned so an artifact does not change with the converter's default.
OPSET = 17
# Rows per calibration batch fed to ONNX Runtime (MinMax only needs the extremes).
_CALIBRATION_BATCH = 100

# Why the weights get 7 bits. On x86 without VNNI (AVX2, and AVX-512 before VNNI) ONNX
# Runtime's int8 kernels shift the activations to uint8 and multiply them by the int8
# weights with vpmaddubsw, which adds each pair of products into an int16 and saturates
# there: 255 * 127 * 2 = 64,770, twice what an int16 holds. On a Zen 1 EPYC that took the
# toy generator from 43 dB to 21 dB against its float model while a VNNI machine drew it
# right. VNNI and Arm accumulate in int32 and cannot saturate. ONNX Runtime's documented
# remedy is reduce_range: weights in [-64, 64], so a pair reaches at most 255 * 64 * 2 =
# 32,640. The cost is one bit of weight precision (docs/export.md has the measured dB).
_INT16_MAX = 32_767
_UINT8_ACTIVATION_MAX = 255
_WEIGHT_BOUND = 64
# Into each onnx-int8 manifest (``integer_arithmetic``), with the bound measured on its weights.
INTEGER_ARITHMETIC = {
    "weights": f"int8 in [-{_WEIGHT_BOUND}, {_WEIGHT_BOUND}] (7 bits, ONNX Runtime's reduce_range), per tensor",
    "activations": "int8, per tensor",
    "assumes": "a product pair of a uint8-shifted activation and two weights fits an int16 "
               "(x86 without VNNI: vpmaddubsw); int32 accumulation elsewhere (VNNI, Arm)",
    "int16_limit": _INT16_MAX,
}
# The ops whose weights ONNX Runtime's x86 kernels multiply pairwise into int16.
_INTEGER_MATMUL_OPS = ("MatMul", "Gemm", "Conv", "ConvTranspose")


def to_float32(trained: TrainedGenerator, *, batch_size: int | None = None) -> bytes:
    import tf2onnx

    signature = [tf.TensorSpec([batch_size, trained.config.latent_dim], tf.float32, name="latent")]
    model_proto, _ = tf2onnx.convert.from_keras(trained.model, input_signature=signature, opset=OPSET)
    return model_proto.SerializeToString()


def to_int8_qdq(
    trained: TrainedGenerator,
    calibration_latents: np.ndarray,
    *,
    batch_size: int | None = None,
) -> bytes:
    """int8 weights and activations in QDQ form, float32 input and output.

    Per-tensor MinMax ranges from ``calibration_latents`` (draws of the
    generator's own latent distribution) run through the float ONNX model.
    """
    try:
        from onnxruntime.quantization import (
            CalibrationDataReader,
            QuantFormat,
            QuantType,
            quantize_static,
        )
    except ImportError:
        raise BackendUnavailable(
            "ONNX int8 export needs onnxruntime and onnx: pip install gan-edge[export]"
        ) from None

    float_bytes = to_float32(trained, batch_size=batch_size)

    class _Latents(CalibrationDataReader):
        def __init__(self) -> None:
            step = batch_size or _CALIBRATION_BATCH
            rows = np.asarray(calibration_latents, dtype=np.float32)
            # A static-batch model takes only full batches: drop the ragged tail.
            usable = len(rows) - len(rows) % step if batch_size else len(rows)
            self._batches = iter(rows[i : i + step] for i in range(0, usable, step))

        def get_next(self):
            batch = next(self._batches, None)
            return None if batch is None else {"latent": batch}

    # The quantizer is path in, path out; a private folder keeps its temporaries
    # (it writes augmented models beside the output) away from the export folder.
    with tempfile.TemporaryDirectory(prefix="gan-edge-onnx-int8-") as work:
        source, target = Path(work) / "float.onnx", Path(work) / "int8.onnx"
        source.write_bytes(float_bytes)
        with _without_preprocess_advice():
            quantize_static(
                source,
                target,
                _Latents(),
                quant_format=QuantFormat.QDQ,
                activation_type=QuantType.QInt8,
                weight_type=QuantType.QInt8,
                per_channel=False,
                # 7-bit weights: see INTEGER_ARITHMETIC.
                reduce_range=True,
            )
        return target.read_bytes()


def integer_arithmetic(model_bytes: bytes) -> dict:
    """``INTEGER_ARITHMETIC`` with the worst int16 pair sum this QDQ model can reach.

    Read from the weights, not measured on a CPU: for every int8 weight that a MatMul,
    Gemm or Conv consumes through a DequantizeLinear, the largest sum of two products
    with uint8 activations is 255 * 2 * max|w - zero point|. Raises ``ExportError``
    naming the weight when that exceeds an int16, as it would on x86 without VNNI.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_from_string(model_bytes).graph
    initializers = {init.name: init for init in graph.initializer}
    consumers: dict[str, list[str]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node.op_type)
    worst, worst_weight = 0, None
    for node in graph.node:
        weight = initializers.get(node.input[0]) if node.op_type == "DequantizeLinear" else None
        if weight is None or weight.data_type != onnx.TensorProto.INT8:
            continue
        if not any(op in _INTEGER_MATMUL_OPS for op in consumers.get(node.output[0], ())):
            continue
        zero_point = (numpy_helper.to_array(initializers[node.input[2]]).astype(np.int32)
                      if len(node.input) > 2 and node.input[2] in initializers else 0)
        centred = np.abs(numpy_helper.to_array(weight).astype(np.int32) - zero_point)
        pair_sum = _UINT8_ACTIVATION_MAX * 2 * int(centred.max(initial=0))
        if pair_sum > worst:
            worst, worst_weight = pair_sum, weight.name
    if worst > _INT16_MAX:
        raise ExportError(
            f"onnx-int8 weight {worst_weight!r} can make an int16 intermediate of {worst:,}, over "
            f"{_INT16_MAX:,}: x86 CPUs without VNNI would saturate it; quantize with 7-bit weights "
            f"(reduce_range)"
        )
    return {**INTEGER_ARITHMETIC, "worst_pair_sum": worst}


@contextlib.contextmanager
def _without_preprocess_advice() -> Iterator[None]:
    """Drop the quantizer's "consider pre-processing" warning (root logger).

    Pre-processing (shape inference, graph fusions) changes nothing for a
    generator made of MatMul/Add/activation nodes; the advice is noise for a user.
    """

    def keep(record: logging.LogRecord) -> bool:
        return "pre-processing" not in record.getMessage()

    root = logging.getLogger()
    root.addFilter(keep)
    try:
        yield
    finally:
        root.removeFilter(keep)


def op_type_counts(model_bytes: bytes) -> dict[str, int]:
    """How many nodes of each type the model's graph holds (to check a QDQ model)."""
    import onnx

    counts: dict[str, int] = {}
    for node in onnx.load_from_string(model_bytes).graph.node:
        counts[node.op_type] = counts.get(node.op_type, 0) + 1
    return counts
