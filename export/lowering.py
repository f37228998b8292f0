"""Rewrites of a generator into an equivalent one that edge runtimes run faster.

Applied to the Keras model just before TFLite conversion; the fidelity gate then
checks the artifact against the original float model, as for any other artifact.

Nearest-neighbour ``UpSampling2D(2)`` followed by a stride-1 ``Conv2D(k x k, 'same')``,
how the book's DCGAN draws its 14x14 and 28x28 maps, becomes one sub-pixel
convolution (Shi et al., 2016): a ``k' x k'`` convolution on the small map with four
times the output channels, then ``depth_to_space(2)``. Each output pixel of the
original at (2i + a, 2j + b) reads the upsampled map at offsets -r..r, that is the
small map at (i + floor((a + dy) / 2), j + floor((b + dx) / 2)); summing the taps that
land on the same small pixel gives phase (a, b)'s kernel, so the result is the same
function (up to float rounding of the summed weights), with zero padding matching too.
Why bother:
- LiteRT's XNNPACK delegate has no RESIZE_NEAREST_NEIGHBOR kernel, so each resize runs
  in TFLite's own kernels and cuts the graph into separate delegate partitions;
  DEPTH_TO_SPACE is delegated, and the whole generator becomes one partition.
- The original convolution computes every product on a map four times larger whose
  pixels repeat in 2x2 blocks: for 5x5 kernels the sub-pixel form does 3x3x4 = 36
  multiply-accumulates per small pixel and channel pair instead of 4x25 = 100.
The fold pays for kernels of 5x5 and up. A 3x3 kernel folds to 3x3 too, the same
multiply-accumulates with four times the weights (5 of 9 taps per phase zero); there,
and for an upsampling with no convolution after it, the upsampling alone is rewritten
as ``depth_to_space(concat([x] * 4), 2)`` (``NearestUpsampling2x``), which XNNPACK also
runs, in int8 without rounding (both ops copy values), and the convolution stays as
it is. The same rules apply to ProGAN's ``EqualizedConv2D`` (its kernel times its
run-time scale is the plain kernel), in any model that is a chain of one-input layers,
Sequential or functional. A ``Reshape`` in such a chain becomes one with a constant
shape (``StaticReshape``): Keras reshapes to ``(tf.shape(x)[0], *target)``, which with a
dynamic batch converts to SHAPE, STRIDED_SLICE and PACK ops XNNPACK does not take.
A fully grown ProGAN generator (32x32, alpha 1) first loses the levels its blend
weights 0: the lower to-RGB convolutions, their upsampling to 32x32 and the blend
itself (``gan_edge.training.models.progan.fully_grown``); one still growing is kept whole.
Other models pass through unchanged.

Pixel norm stays as it is in the graph, but has no int8 form XNNPACK runs: its
RSQRT has no quantized XNNPACK kernel (it cut the int8 graph at every pixel norm),
and in int8 the mean of squares and its reciprocal square root span ranges a
256-level grid resolves badly. ``int8_float_ops`` names the ops that full-integer
conversion keeps in float32 instead (``gan_edge.export.tflite``): each LeakyReLU + pixel norm
between two convolutions becomes DEQUANTIZE, float ops, QUANTIZE, which XNNPACK runs
in the same partition as the int8 convolutions. The LeakyReLU goes with it because an
int8 LEAKY_RELU would add one more rounding of its output to 256 levels per layer
(1.2 dB of the int8 artifact's PSNR on a trained ProGAN).
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

__all__ = ["lower_for_edge", "subpixel_kernel", "SubPixelConv2D", "NearestUpsampling2x", "StaticReshape",
           "int8_float_ops"]


def subpixel_kernel(kernel: np.ndarray) -> np.ndarray:
    """(k, k, cin, cout) of a conv after 2x nearest upsampling -> (k', k', cin, 4 * cout)
    of the equivalent conv on the small map; output channel (a * 2 + b) * cout + c is
    phase (a, b) of channel c, the order ``tf.nn.depth_to_space`` reads."""
    k, _, cin, cout = kernel.shape
    r = k // 2
    reach = (r + 1) // 2  # small-map offsets run from -reach to reach
    size = 2 * reach + 1
    out = np.zeros((size, size, cin, 4 * cout), dtype=np.float64)
    for a in range(2):
        for b in range(2):
            phase = slice((a * 2 + b) * cout, (a * 2 + b + 1) * cout)
            for dy in range(-r, r + 1):
                for dx in range(-r, r + 1):
                    p, q = (a + dy) // 2, (b + dx) // 2
                    out[p + reach, q + reach, :, phase] += kernel[dy + r, dx + r]
    return out.astype(kernel.dtype)


class SubPixelConv2D(keras.layers.Layer):
    """conv (SAME, stride 1) + bias + activation on the small map, then depth_to_space(2)."""

    def __init__(self, kernel: np.ndarray, bias: np.ndarray | None, activation, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kernel = tf.constant(kernel)
        self.bias = None if bias is None else tf.constant(np.tile(bias, 4))
        self.activation = keras.activations.get(activation)

    def call(self, inputs):
        y = tf.nn.conv2d(inputs, self.kernel, strides=1, padding="SAME")
        if self.bias is not None:
            y = tf.nn.bias_add(y, self.bias)
        # Elementwise, so it commutes with the rearrangement; before it, TFLite keeps
        # the activation next to the convolution that feeds it.
        return tf.nn.depth_to_space(self.activation(y), 2)


class NearestUpsampling2x(keras.layers.Layer):
    """``UpSampling2D(2)`` (nearest) as ``depth_to_space(concat([x] * 4), 2)``: output pixel
    (2i + a, 2j + b) reads channel block 2a + b of pixel (i, j), a copy of x[i, j]."""

    def call(self, inputs):
        return tf.nn.depth_to_space(tf.concat([inputs] * 4, axis=-1), 2)


class StaticReshape(keras.layers.Layer):
    """``Reshape(target)`` as ``tf.reshape(x, (-1, *target))``: the same function, with a
    constant shape operand however the batch is given."""

    def __init__(self, target_shape, **kwargs) -> None:
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)

    def call(self, inputs):
        return tf.reshape(inputs, (-1, *self.target_shape))

    def get_config(self):
        return {**super().get_config(), "target_shape": self.target_shape}


def _nearest_2x(layer) -> bool:
    return (
        isinstance(layer, keras.layers.UpSampling2D)
        and tuple(layer.size) == (2, 2)
        and layer.interpolation == "nearest"
        and layer.data_format == "channels_last"
    )


def _plain_conv(conv) -> tuple[np.ndarray, np.ndarray | None, object] | None:
    """(kernel, bias, activation) of a stride-1 SAME convolution with an odd square
    kernel, as a plain conv would hold them; None for any other layer."""
    from gan_edge.training.models.progan_layers import EqualizedConv2D

    if type(conv) is EqualizedConv2D:  # conv2d(x, kernel * scale, 1, "SAME") + bias
        if conv.kernel_size % 2 == 0:
            return None
        return conv.kernel.numpy() * np.float32(conv.scale), conv.bias.numpy(), None
    if (
        type(conv) is keras.layers.Conv2D  # not subclasses: their call may differ
        and conv.padding == "same"
        and tuple(conv.strides) == (1, 1)
        and tuple(conv.dilation_rate) == (1, 1)
        and conv.groups == 1
        and conv.data_format == "channels_last"
        and conv.kernel_size[0] == conv.kernel_size[1]
        and conv.kernel_size[0] % 2 == 1
    ):
        return conv.kernel.numpy(), conv.bias.numpy() if conv.use_bias else None, conv.activation
    return None


def _chain(model: keras.Model) -> list[keras.layers.Layer] | None:
    """The layers of a model that is one path from its input to its output, in order
    (the model is then their composition); None when any layer has several inputs
    or outputs."""
    if isinstance(model, keras.Sequential):
        return list(model.layers)
    if len(model.inputs) != 1 or len(model.outputs) != 1:
        return None
    layers, tensor = [], model.outputs[0]
    while tensor is not model.inputs[0]:
        history = getattr(tensor, "_keras_history", None)
        if history is None or history.tensor_index != 0:
            return None
        node = history.layer._inbound_nodes[history.node_index]
        inputs = node.keras_inputs
        if len(inputs) != 1 or len(tf.nest.flatten(node.outputs)) != 1:
            return None
        layers.append(history.layer)
        tensor = inputs[0]
    return layers[::-1]


def int8_float_ops(model: keras.Model) -> tuple[str, ...]:
    """The TFLite op types a full-integer artifact of ``model`` (already lowered) keeps
    in float32: pixel norm's and the LeakyReLU before it, when the model has a pixel
    norm. In a fully grown ProGAN generator these op types appear nowhere else (its
    convolutions and dense layers fold their scale and bias), so every CONV_2D and
    FULLY_CONNECTED stays int8; in one still growing, the fade-in's MUL and ADD stay
    float too."""
    from gan_edge.training.models.progan_layers import PixelNorm

    if any(isinstance(layer, PixelNorm) for layer in model.submodules):
        return PIXEL_NORM_OPS
    return ()


# leaky_relu(x) then x * rsqrt(mean(x^2) + eps), as the converter writes them.
PIXEL_NORM_OPS = ("LEAKY_RELU", "SQUARE", "MEAN", "ADD", "RSQRT", "MUL")


def lower_for_edge(model: keras.Model) -> keras.Model:
    """``model`` with each UpSampling2D(2) + conv (5x5 and up) pair as one ``SubPixelConv2D``,
    each other UpSampling2D(2) as a ``NearestUpsampling2x`` and each Reshape as a
    ``StaticReshape``, a fully grown ProGAN first cut to its 32x32 path; ``model`` itself
    when nothing applies (a ProGAN still growing included)."""
    from gan_edge.training.models.progan import fully_grown
    from gan_edge.training.models.progan_layers import Growth

    if any(isinstance(layer, Growth) for layer in model.submodules):
        grown = fully_grown(model)
        if grown is None:
            return model
        model = grown
    layers = _chain(model)
    if layers is None:
        return model
    lowered, changed, i = [], False, 0
    while i < len(layers):
        folded = _plain_conv(layers[i + 1]) if i + 1 < len(layers) and _nearest_2x(layers[i]) else None
        if folded is not None and folded[0].shape[0] > 3:  # 3x3 and 1x1 would not save a MAC
            kernel, bias, activation = folded
            conv = layers[i + 1]
            lowered.append(SubPixelConv2D(subpixel_kernel(kernel), bias, activation, name=f"{conv.name}_subpixel"))
            changed, i = True, i + 2
            continue
        if _nearest_2x(layers[i]):
            lowered.append(NearestUpsampling2x(name=layers[i].name))
            changed = True
        elif type(layers[i]) is keras.layers.Reshape and all(d > 0 for d in layers[i].target_shape):
            lowered.append(StaticReshape(layers[i].target_shape, name=layers[i].name))
            changed = True
        else:
            lowered.append(layers[i])
        i += 1
    if not changed:
        return model
    return keras.Sequential([keras.layers.Input(model.input_shape[1:], name="latent"), *lowered], name=model.name)
