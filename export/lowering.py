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
A fully grown ProGAN generator (32x32, alpha 1) loses the levels its blend weights 0:
the lower to-RGB convolutions, their upsampling to 32x32 and the blend itself
(``training.models.progan.fully_grown``); one still growing is kept whole.
Other models pass through unchanged.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

__all__ = ["lower_for_edge", "subpixel_kernel", "SubPixelConv2D"]


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


def _foldable(upsampling, conv) -> bool:
    return (
        isinstance(upsampling, keras.layers.UpSampling2D)
        and tuple(upsampling.size) == (2, 2)
        and upsampling.interpolation == "nearest"
        and upsampling.data_format == "channels_last"
        and type(conv) is keras.layers.Conv2D  # not subclasses: their call may differ
        and conv.padding == "same"
        and tuple(conv.strides) == (1, 1)
        and tuple(conv.dilation_rate) == (1, 1)
        and conv.groups == 1
        and conv.data_format == "channels_last"
        and conv.kernel_size[0] == conv.kernel_size[1]
        and conv.kernel_size[0] % 2 == 1
    )


def lower_for_edge(model: keras.Model) -> keras.Model:
    """``model`` with each foldable UpSampling2D + Conv2D pair as one ``SubPixelConv2D``,
    or a fully grown ProGAN without its unused levels; ``model`` itself otherwise."""
    from training.models.progan import fully_grown
    from training.models.progan_layers import Growth

    if any(isinstance(layer, Growth) for layer in model.submodules):
        return fully_grown(model) or model
    if not isinstance(model, keras.Sequential):
        return model
    layers, changed, i = list(model.layers), False, 0
    lowered = []
    while i < len(layers):
        if i + 1 < len(layers) and _foldable(layers[i], layers[i + 1]):
            conv = layers[i + 1]
            kernel = subpixel_kernel(conv.kernel.numpy())
            bias = conv.bias.numpy() if conv.use_bias else None
            lowered.append(SubPixelConv2D(kernel, bias, conv.activation, name=f"{conv.name}_subpixel"))
            changed, i = True, i + 2
        else:
            lowered.append(layers[i])
            i += 1
    if not changed:
        return model
    return keras.Sequential([keras.layers.Input(model.input_shape[1:], name="latent"), *lowered], name=model.name)
