"""Export's rewrite of UpSampling2D + Conv2D into one sub-pixel convolution: the same
function, and an artifact LiteRT's XNNPACK delegate runs as one partition."""

import numpy as np
import pytest
import tf_keras as keras

from export.lowering import SubPixelConv2D, lower_for_edge, subpixel_kernel


def upsample_then_conv(kernel_size: int, channels: int, activation, bias: bool = True) -> keras.Sequential:
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.layers.Input((5, 6, 3)),
        keras.layers.UpSampling2D(2),
        keras.layers.Conv2D(channels, kernel_size, padding="same", activation=activation, use_bias=bias,
                            bias_initializer="random_normal"),
    ])


@pytest.mark.parametrize("kernel_size, activation, bias", [(5, "tanh", True), (3, None, True), (1, "relu", False),
                                                           (7, None, False)])
def test_the_subpixel_form_computes_the_same_function(kernel_size, activation, bias):
    model = upsample_then_conv(kernel_size, 4, activation, bias)
    lowered = lower_for_edge(model)
    assert [type(layer) for layer in lowered.layers] == [SubPixelConv2D]
    x = np.random.default_rng(1).normal(size=(2, 5, 6, 3)).astype(np.float32)
    expected = model(x).numpy()
    assert expected.shape == (2, 10, 12, 4)
    # Borders included: the zero padding of the upsampled map is the small map's.
    np.testing.assert_allclose(lowered(x).numpy(), expected, atol=1e-5)


def test_a_5x5_kernel_becomes_3x3_with_four_phases_of_channels():
    kernel = np.random.default_rng(2).normal(size=(5, 5, 3, 2))
    folded = subpixel_kernel(kernel)
    assert folded.shape == (3, 3, 3, 8)
    # Every original tap lands in exactly one place per phase: each phase sums all of them.
    for phase in range(4):
        np.testing.assert_allclose(folded[..., phase * 2 : phase * 2 + 2].sum(axis=(0, 1)), kernel.sum(axis=(0, 1)))
    # Phase (0, 0): offsets -2, -1 land on -1; 0, 1 on 0; 2 on +1 (per axis).
    np.testing.assert_allclose(folded[0, 0, :, 0:2], kernel[0:2, 0:2].sum(axis=(0, 1)))
    np.testing.assert_allclose(folded[2, 2, :, 0:2], kernel[4, 4])


def test_models_without_the_pattern_pass_through_unchanged():
    bilinear = keras.Sequential([keras.layers.Input((4, 4, 1)), keras.layers.UpSampling2D(2, interpolation="bilinear"),
                                 keras.layers.Conv2D(1, 3, padding="same")])
    valid = keras.Sequential([keras.layers.Input((4, 4, 1)), keras.layers.UpSampling2D(2),
                              keras.layers.Conv2D(1, 3, padding="valid")])
    strided = keras.Sequential([keras.layers.Input((4, 4, 1)), keras.layers.UpSampling2D(2),
                                keras.layers.Conv2D(1, 3, strides=2, padding="same")])
    functional_input = keras.layers.Input((4, 4, 1))
    functional = keras.Model(functional_input, keras.layers.Conv2D(1, 3, padding="same")(
        keras.layers.UpSampling2D(2)(functional_input)))
    for model in (bilinear, valid, strided, functional):
        assert lower_for_edge(model) is model


def test_the_dcgan_generator_lowers_to_one_xnnpack_partition(tmp_path):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from export.tflite import builtin_op_names
    from training.config import default_config
    from training.models import dcgan

    generator = dcgan.build_generator(default_config("dcgan"))
    lowered = lower_for_edge(generator)
    z = np.random.default_rng(3).uniform(-1, 1, (4, 100)).astype(np.float32)
    np.testing.assert_allclose(lowered(z, training=False).numpy(), generator(z, training=False).numpy(), atol=1e-5)

    function = tf.function(lambda latent: lowered(latent, training=False),
                           input_signature=[tf.TensorSpec([1, 100], tf.float32)])
    model_bytes = tf.lite.TFLiteConverter.from_concrete_functions([function.get_concrete_function()], lowered).convert()
    ops = builtin_op_names(model_bytes)
    assert "DEPTH_TO_SPACE" in ops and "RESIZE_NEAREST_NEIGHBOR" not in ops
    interpreter = Interpreter(model_content=model_bytes, num_threads=1)
    interpreter.allocate_tensors()
    # XNNPACK replaces the whole graph with one delegate node (a resize would split it in three).
    assert [op["op_name"] for op in interpreter._get_ops_details()].count("DELEGATE") == 1


def test_a_fully_grown_progan_generator_keeps_only_its_32x32_path():
    from training.config import default_config
    from training.models import progan

    generator = progan.build_generator(default_config("progan"))
    growth = progan.growth_of(generator)
    z = np.random.default_rng(4).normal(size=(3, 128)).astype(np.float32)
    growth.set(3, 0.5)  # still fading in 32x32: every level counts, nothing is pruned
    assert lower_for_edge(generator) is generator
    growth.set(3, 1.0)
    lowered = lower_for_edge(generator)
    names = {layer.name for layer in lowered.layers}
    assert "fade_in" not in names and "to_rgb_16x16" not in names and "to_rgb_32x32" in names
    np.testing.assert_allclose(lowered(z, training=False).numpy(), generator(z, training=False).numpy(), atol=1e-6)
