"""ONNX artifacts through tf2onnx (the manifest is embedded by ``gan_edge.manifest.embed_in_onnx``)."""

from __future__ import annotations

import tensorflow as tf

from export.source import TrainedGenerator

__all__ = ["OPSET", "to_float32"]

# Opset 17 is what ONNX Runtime's mobile builds and its quantization tools support
# fully; pinned so an artifact does not change with the converter's default.
OPSET = 17


def to_float32(trained: TrainedGenerator, *, batch_size: int | None = None) -> bytes:
    import tf2onnx

    signature = [tf.TensorSpec([batch_size, trained.config.latent_dim], tf.float32, name="latent")]
    model_proto, _ = tf2onnx.convert.from_keras(trained.model, input_signature=signature, opset=OPSET)
    return model_proto.SerializeToString()
