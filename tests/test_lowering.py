"""Export's rewrite of UpSampling2D + Conv2D into one sub-pixel convolution: the same
function, and an artifact LiteRT's XNNPACK delegate runs as one partition; for ProGAN
also in int8, with pixel norm kept in float inside that partition."""

import numpy as np
import pytest
import tf_keras as keras
from ai_edge_litert.interpreter import OpResolverType

from gan_edge.export.lowering import NearestUpsampling2x, StaticReshape, SubPixelConv2D, lower_for_edge, subpixel_kernel


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
    conv = model.layers[1]
    subpixel = SubPixelConv2D(subpixel_kernel(conv.kernel.numpy()), conv.bias.numpy() if bias else None, activation)
    x = np.random.default_rng(1).normal(size=(2, 5, 6, 3)).astype(np.float32)
    expected = model(x).numpy()
    assert expected.shape == (2, 10, 12, 4)
    # Borders included: the zero padding of the upsampled map is the small map's.
    np.testing.assert_allclose(subpixel(x).numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("kernel_size, expected_layers", [(5, [SubPixelConv2D]), (7, [SubPixelConv2D]),
                                                          (3, [NearestUpsampling2x, keras.layers.Conv2D]),
                                                          (1, [NearestUpsampling2x, keras.layers.Conv2D])])
def test_kernels_of_5x5_and_up_fold_and_smaller_ones_keep_their_conv(kernel_size, expected_layers):
    # A 3x3 kernel folds to 3x3 with 4x the weights and no fewer multiply-accumulates:
    # there only the upsampling is rewritten, into ops XNNPACK runs.
    model = upsample_then_conv(kernel_size, 4, "relu")
    lowered = lower_for_edge(model)
    assert [type(layer) for layer in lowered.layers] == expected_layers
    x = np.random.default_rng(1).normal(size=(2, 5, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(lowered(x).numpy(), model(x).numpy(), atol=1e-5)


def test_nearest_upsampling_as_depth_to_space_is_exact():
    x = np.random.default_rng(10).normal(size=(2, 3, 4, 5)).astype(np.float32)
    np.testing.assert_array_equal(NearestUpsampling2x()(x).numpy(), keras.layers.UpSampling2D(2)(x).numpy())


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
    branch_input = keras.layers.Input((4, 4, 1))
    upsampled = keras.layers.UpSampling2D(2)(branch_input)
    branched = keras.Model(branch_input, keras.layers.Add()([keras.layers.Conv2D(1, 3, padding="same")(upsampled),
                                                            upsampled]))
    for model in (bilinear, branched):
        assert lower_for_edge(model) is model
    # A convolution that cannot fold keeps its layer; only the upsampling before it changes.
    x = np.random.default_rng(11).normal(size=(2, 4, 4, 1)).astype(np.float32)
    for model in (valid, strided):
        lowered = lower_for_edge(model)
        assert [type(layer) for layer in lowered.layers] == [NearestUpsampling2x, keras.layers.Conv2D]
        assert lowered.layers[1] is model.layers[1]
        np.testing.assert_allclose(lowered(x).numpy(), model(x).numpy(), atol=1e-6)


def test_a_functional_chain_with_equalized_convs_and_a_reshape_is_lowered_to_the_same_function():
    from gan_edge.training.models.progan_layers import EqualizedConv2D, PixelNorm

    keras.utils.set_random_seed(5)
    latent = keras.layers.Input((24,))
    h = keras.layers.Reshape((2, 3, 4))(latent)
    h = PixelNorm()(keras.layers.LeakyReLU(0.2)(h))
    h = EqualizedConv2D(6, 5, name="conv_a")(keras.layers.UpSampling2D(2)(h))
    h = EqualizedConv2D(2, 3, name="to_rgb")(keras.layers.UpSampling2D(2)(h))
    model = keras.Model(latent, h)
    for layer in model.layers:  # a bias that is not zero, so a dropped or untiled bias shows
        if isinstance(layer, EqualizedConv2D):
            layer.bias.assign(np.random.default_rng(6).normal(size=layer.bias.shape))
    lowered = lower_for_edge(model)
    assert [type(layer) for layer in lowered.layers] == [StaticReshape, keras.layers.LeakyReLU, PixelNorm,
                                                         SubPixelConv2D, NearestUpsampling2x, EqualizedConv2D]
    z = np.random.default_rng(7).normal(size=(3, 24)).astype(np.float32)
    expected = model(z).numpy()
    assert expected.shape == (3, 8, 12, 2)
    np.testing.assert_allclose(lowered(z).numpy(), expected, atol=1e-5)


def test_the_dcgan_generator_lowers_to_one_xnnpack_partition(tmp_path):
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    from gan_edge.export.tflite import builtin_op_names
    from gan_edge.training.config import default_config
    from gan_edge.training.models import dcgan

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
    from gan_edge.training.config import default_config
    from gan_edge.training.models import progan

    generator = progan.build_generator(default_config("progan"))
    growth = progan.growth_of(generator)
    z = np.random.default_rng(4).normal(size=(3, 128)).astype(np.float32)
    growth.set(3, 0.5)  # still fading in 32x32: every level counts, nothing is pruned
    assert lower_for_edge(generator) is generator
    growth.set(3, 1.0)
    lowered = lower_for_edge(generator)
    names = {layer.name for layer in lowered.layers}
    assert "fade_in" not in names and "to_rgb_16x16" not in names and "to_rgb_32x32" in names
    # Its 3x3 convolutions stay; each upsampling becomes depth_to_space of four copies.
    assert not any(isinstance(layer, keras.layers.UpSampling2D) for layer in lowered.layers)
    assert [layer.name for layer in lowered.layers if isinstance(layer, NearestUpsampling2x)] == [
        "up_to_8x8", "up_to_16x16", "up_to_32x32"]
    np.testing.assert_allclose(lowered(z, training=False).numpy(), generator(z, training=False).numpy(), atol=1e-6)


@pytest.fixture(scope="module")
def progan_int8():
    """A fully grown ProGAN generator (seeded, untrained) as a full-int8 artifact with a dynamic batch."""
    from types import SimpleNamespace

    from gan_edge.export.tflite import to_int8
    from gan_edge.training.config import default_config
    from gan_edge.training.models import progan

    keras.utils.set_random_seed(8)
    config = default_config("progan")
    generator = progan.build_generator(config)
    progan.growth_of(generator).set(3, 1.0)
    calibration = np.random.default_rng(9).normal(size=(16, config.latent_dim)).astype(np.float32)
    return to_int8(SimpleNamespace(model=generator, config=config), calibration)


def test_the_progan_int8_generator_is_one_xnnpack_partition(progan_int8):
    from ai_edge_litert.interpreter import Interpreter

    from gan_edge.export.tflite import builtin_op_names

    ops = builtin_op_names(progan_int8)
    # No resize (depth_to_space instead), no shape arithmetic for the batch (a constant
    # reshape): both would run outside XNNPACK and cut the graph.
    assert "DEPTH_TO_SPACE" in ops and not {"RESIZE_NEAREST_NEIGHBOR", "SHAPE", "STRIDED_SLICE", "PACK"} & set(ops)
    interpreter = Interpreter(model_content=progan_int8, num_threads=1)
    interpreter.allocate_tensors()
    # Before: the int8 RSQRT of each of the 9 pixel norms and the 3 resizes ran in TFLite's
    # own kernels, 14 partitions.
    assert [op["op_name"] for op in interpreter._get_ops_details()].count("DELEGATE") == 1


def test_progan_int8_keeps_pixel_norm_in_float_and_every_weight_layer_in_int8(progan_int8):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=progan_int8, num_threads=1,
                              experimental_op_resolver_type=OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    kinds = {}
    for op in interpreter._get_ops_details():
        dtypes = {tensors[i]["dtype"].__name__ for i in op["inputs"] if i >= 0}
        kinds.setdefault(op["op_name"], set()).update(dtypes)
    assert interpreter.get_input_details()[0]["dtype"] == np.int8
    assert interpreter.get_output_details()[0]["dtype"] == np.int8
    for weighted in ("FULLY_CONNECTED", "CONV_2D"):
        assert "float32" not in kinds[weighted] and "int8" in kinds[weighted], (weighted, kinds[weighted])
    for float_op in ("LEAKY_RELU", "SQUARE", "MEAN", "RSQRT", "MUL"):
        assert kinds[float_op] <= {"float32", "int32"}, (float_op, kinds[float_op])
    assert kinds["DEQUANTIZE"] == {"int8"} and kinds["QUANTIZE"] == {"float32"}
