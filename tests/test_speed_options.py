"""The speed benchmark's own arithmetic: the FLOPs it reports and the XLA variant's swap.

benchmarks/dcgan_speed.py measured XLA slower than the plain loop on CPU, so no
``jit_compile`` option exists to test; what stays checked is what its printed
figures rest on.
"""

import importlib.util
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from gan_edge.training.config import default_config
from gan_edge.training.models import model_family

_PATH = Path(__file__).resolve().parents[1] / "benchmarks" / "dcgan_speed.py"


def _benchmark():
    spec = importlib.util.spec_from_file_location("dcgan_speed", _PATH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dcgan_forward_flops_match_the_hand_count():
    bench = _benchmark()
    config = default_config("dcgan")
    family = model_family("dcgan")
    # G: Dense 100->1024, Dense 1024->6272, Conv 5x5 128->64 at 14x14, Conv 5x5 64->1 at 28x28.
    g_macs = 100 * 1024 + 1024 * 6272 + 14 * 14 * 64 * 25 * 128 + 28 * 28 * 1 * 25 * 64
    # D: Conv 5x5 1->64 at 28x28, Conv 5x5 64->128 valid at 10x10, Dense 3200->1024, Dense 1024->1.
    d_macs = 28 * 28 * 64 * 25 * 1 + 10 * 10 * 128 * 25 * 64 + 3200 * 1024 + 1024
    assert bench.forward_flops(family.build_generator(config)) == 2 * g_macs
    assert bench.forward_flops(family.build_discriminator(config)) == 2 * d_macs


def test_repeat_upsampling_equals_keras_upsampling_and_its_gradient():
    bench = _benchmark()
    x = tf.constant(np.random.default_rng(0).normal(size=(2, 3, 4, 5)), tf.float32)
    reference, swapped = keras.layers.UpSampling2D(2), bench._RepeatUpSampling2D(2)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a, b = reference(x), swapped(x)
        loss_a, loss_b = tf.reduce_sum(a * a), tf.reduce_sum(b * b)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_allclose(tape.gradient(loss_a, x).numpy(), tape.gradient(loss_b, x).numpy())
