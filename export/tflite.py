"""TFLite artifacts, one function per format; each returns the model's bytes.

Conversion goes through a ``tf.function`` with an explicit input signature, so
the batch dimension is dynamic (``None``) or fixed as asked: LiteRT's GPU
accelerator only takes static shapes. After conversion the op list is checked:
an artifact that needs TensorFlow (Flex) ops would not run on a device. The model
is first rewritten into an equivalent one edge runtimes run faster
(``gan_edge.export.lowering``: upsampling + convolution as one sub-pixel convolution).

Full-integer formats quantize every op but those ``gan_edge.export.lowering.int8_float_ops``
names (ProGAN's pixel norm), which stay float32 between a DEQUANTIZE and a QUANTIZE:
the converter is asked only to calibrate, then its MLIR quantizer runs with those
op types on its deny list, as ``tf.lite.experimental.QuantizationDebugger`` does for
selective quantization (that class itself writes float input and output only).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np
import tensorflow as tf
import tf_keras as keras
from ai_edge_litert import schema_py_generated as schema

from gan_edge.export.lowering import int8_float_ops, lower_for_edge
from gan_edge.export.source import TrainedGenerator
from gan_edge.errors import GanEdgeError
from gan_edge.io import quiet_native_stderr
from gan_edge.tflite_ops import op_name

__all__ = [
    "to_float32",
    "to_float16",
    "to_dynamic_range",
    "to_int8",
    "to_int8_float_io",
    "builtin_op_names",
    "ExportError",
]


class ExportError(GanEdgeError):
    """A conversion produced something that cannot be deployed, or failed outright."""


def to_float32(trained: TrainedGenerator, *, batch_size: int | None = None) -> bytes:
    return _convert(_converter(trained, batch_size))


def to_float16(trained: TrainedGenerator, *, batch_size: int | None = None) -> bytes:
    """float16 weights, float32 compute on CPU (the weights are dequantized once at load);
    GPU delegates run it in float16. Half the weight bytes, near-float samples."""
    converter = _converter(trained, batch_size)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_types = [tf.float16]
    return _convert(converter)


def to_dynamic_range(trained: TrainedGenerator, *, batch_size: int | None = None) -> bytes:
    """Dynamic-range int8: int8 weights, activations quantized on the fly, float I/O.

    No calibration. The converter leaves weight tensors under 1024 elements in
    float (its size threshold), so a very small generator comes out unchanged.
    """
    converter = _converter(trained, batch_size)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    return _convert(converter)


def to_int8(
    trained: TrainedGenerator,
    calibration_latents: np.ndarray,
    *,
    batch_size: int | None = None,
) -> bytes:
    """Full-integer model: int8 weights and activations, int8 input and output.

    Activation ranges come from running ``calibration_latents`` (draws of the
    generator's own latent distribution) through the float model.
    """
    return _full_integer(trained, calibration_latents, batch_size, io_type=tf.int8)


def to_int8_float_io(
    trained: TrainedGenerator,
    calibration_latents: np.ndarray,
    *,
    batch_size: int | None = None,
) -> bytes:
    """Full-integer int8 inside, float32 input and output (a QUANTIZE and a
    DEQUANTIZE op at the edges): the caller needs no scale or zero point."""
    return _full_integer(trained, calibration_latents, batch_size, io_type=tf.float32)


def builtin_op_names(model_bytes: bytes) -> list[str]:
    """The names of the operators a TFLite model uses (custom ops by their custom name)."""
    model = schema.ModelT.InitFromPackedBuf(model_bytes, 0)
    return [op_name(code.builtinCode, code.deprecatedBuiltinCode, code.customCode)
            for code in model.operatorCodes or []]


def _full_integer(trained: TrainedGenerator, calibration_latents: np.ndarray, batch_size: int | None, *,
                  io_type: tf.DType) -> bytes:
    """int8 weights and activations, input and output of ``io_type``; the ops
    ``int8_float_ops`` names stay float32 (XNNPACK runs them in the same partition)."""
    model = lower_for_edge(trained.model)
    converter = _converter(trained, batch_size, model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = _representative(calibration_latents)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    keep_float = int8_float_ops(model)
    if not keep_float:
        converter.inference_input_type = io_type
        converter.inference_output_type = io_type
        return _convert(converter)
    # The converter's public options quantize every op that has an int8 kernel; its
    # quantizer's deny list is reached only this way (what QuantizationDebugger does).
    from tensorflow.lite.python.convert import mlir_quantize

    converter._experimental_calibrate_only = True  # the float model with the calibrated ranges
    with quiet_native_stderr():
        calibrated = converter.convert()
        model_bytes = mlir_quantize(calibrated, input_data_type=io_type, output_data_type=io_type,
                                    denylisted_ops=list(keep_float))
    return _checked(model_bytes)


def _converter(trained: TrainedGenerator, batch_size: int | None,
               lowered: keras.Model | None = None) -> tf.lite.TFLiteConverter:
    # The same function, in the form edge runtimes run fastest (export/lowering.py).
    model = lower_for_edge(trained.model) if lowered is None else lowered
    signature = tf.TensorSpec([batch_size, trained.config.latent_dim], tf.float32, name="latent")
    function = tf.function(lambda latent: model(latent, training=False), input_signature=[signature])
    return tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], model)


def _convert(converter: tf.lite.TFLiteConverter) -> bytes:
    with quiet_native_stderr():
        model_bytes = converter.convert()
    return _checked(model_bytes)


def _checked(model_bytes: bytes) -> bytes:
    flex = [name for name in builtin_op_names(model_bytes) if name.startswith("Flex")]
    if flex:
        raise ExportError(
            f"the converted model needs TensorFlow ops that devices do not have: {', '.join(sorted(set(flex)))}"
        )
    return model_bytes


def _representative(latents: np.ndarray) -> "callable":
    def samples() -> Iterable[list[np.ndarray]]:
        for row in latents:
            yield [row[None, :].astype(np.float32)]

    return samples
