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
from gan_edge.errors import BackendUnavailable

__all__ = ["OPSET", "to_float32", "to_int8_qdq", "op_type_counts"]

# Opset 17 is what ONNX Runtime's mobile builds and its quantization tools support
# fully; pinned so an artifact does not change with the converter's default.
OPSET = 17
# Rows per calibration batch fed to ONNX Runtime (MinMax only needs the extremes).
_CALIBRATION_BATCH = 100


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
            )
        return target.read_bytes()


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
