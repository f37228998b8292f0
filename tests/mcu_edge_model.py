"""A small int8 generator that reaches the corners of the C module's fast kernels, built
once per test session for tests/test_mcu_qemu.py and tests/test_c_module.py:

    latent 6 -> Dense(108) -> LeakyReLU -> Reshape(3, 3, 12) -> Conv2D(6, 3x3, same)
             -> LeakyReLU -> Conv2D(3, 3x3, same)

- the first Dense (in_dim 6) and the last Conv2D (3 output channels, odd) are not covered
  by the fast kernels: they run the portable ones (the export notes why);
- the middle Conv2D is covered: its input zero point is not 0 (after a LeakyReLU), its
  108-value rows are not a multiple of 8 (the DSP loop's tail) nor of 16 (Helium's
  predicated tail), and its 9 output pixels pair up unevenly (2 and 4 at a time).
Random weights (seeded), the real TFLite int8 conversion; about 3 s.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np

LATENT_DIM = 6
OUTPUT_SHAPE = (3, 3, 3)


@functools.lru_cache(maxsize=1)
def mcu_edge_int8(seed: int = 0) -> Path:
    import tensorflow as tf
    import tf_keras as keras

    from conftest import _runtime_manifest_for
    from gan_edge.manifest import write_manifest

    keras.utils.set_random_seed(seed)
    inputs = keras.Input((LATENT_DIM,))
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Dense(3 * 3 * 12)(inputs))
    h = keras.layers.Reshape((3, 3, 12))(h)
    h = keras.layers.LeakyReLU(0.2)(keras.layers.Conv2D(6, 3, padding="same")(h))
    outputs = keras.layers.Conv2D(OUTPUT_SHAPE[2], 3, padding="same")(h)
    model = keras.Model(inputs, outputs)
    calibration = np.random.default_rng(seed).uniform(-1, 1, (200, LATENT_DIM)).astype(np.float32)

    fn = tf.function(lambda z: model(z, training=False),
                     input_signature=[tf.TensorSpec([1, LATENT_DIM], tf.float32)])  # batch 1: no SHAPE ops
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([z[None]] for z in calibration)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    tflite = converter.convert()

    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite)
    int8_io = tuple(tuple(d["quantization"]) for d in (interpreter.get_input_details()[0],
                                                        interpreter.get_output_details()[0]))
    path = Path(tempfile.mkdtemp(prefix="mcu-edge-")) / "generator_int8.tflite"
    path.write_bytes(tflite)
    write_manifest(path, _runtime_manifest_for("int8", path.name, int8_io, latent_dim=LATENT_DIM,
                                               latent_distribution="uniform11", output_shape=OUTPUT_SHAPE,
                                               output_range=None, calibration_samples=len(calibration)))
    return path
