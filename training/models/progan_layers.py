"""ProGAN's layers (Karras et al., 2018): equalised learning rate, pixel norm, growth state.

- ``EqualizedDense`` and ``EqualizedConv2D`` (section 4.1): weights drawn from N(0, 1)
  and multiplied at every call by He's constant gain / sqrt(fan_in). Adam's step is
  then the same size for every layer whatever its fan-in. At export the converter
  folds the product into a constant, so a device sees a plain FULLY_CONNECTED or CONV_2D.
- ``PixelNorm`` (section 4.2): each pixel's feature vector divided by its RMS over the
  channels (MEAN, ADD, RSQRT, MUL: builtin ops only).
- ``Growth``: the phase of the growing, as non-trainable variables a model owns:
  ``level`` (0 to 3 for 4x4 to 32x32), ``alpha`` (the fade-in weight of that level)
  and ``images`` (real images shown so far; the schedule's clock). Being weights of the
  model, they are in every checkpoint, and a converter freezes them into constants.
- ``LevelBlend``: sum_k w_k x_k over the levels' outputs with w_L = alpha and
  w_(L-1) = 1 - alpha: the fade-in, and the stable phase when alpha is 1.
- ``DiscriminatorEntry``: where D's input enters at level k: from its own from-RGB
  path (k = L), faded against the block above (k = L - 1), or from the block above.
"""

from __future__ import annotations

import math

import tensorflow as tf
import tf_keras as keras

__all__ = ["EqualizedDense", "EqualizedConv2D", "PixelNorm", "Growth", "LevelBlend", "DiscriminatorEntry",
           "level_weights", "LEVELS"]

LEVELS = 4  # 4x4, 8x8, 16x16, 32x32: MNIST padded to 32x32; a user's pictures have their own
_HE_GAIN = math.sqrt(2.0)


class EqualizedDense(keras.layers.Layer):
    def __init__(self, units: int, gain: float = _HE_GAIN, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units, self.gain = units, gain

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.scale = self.gain / math.sqrt(fan_in)
        self.kernel = self.add_weight("kernel", (fan_in, self.units), initializer=keras.initializers.RandomNormal(0, 1))
        self.bias = self.add_weight("bias", (self.units,), initializer="zeros")

    def call(self, inputs):
        return tf.matmul(inputs, self.kernel * self.scale) + self.bias

    def get_config(self):
        return {**super().get_config(), "units": self.units, "gain": self.gain}


class EqualizedConv2D(keras.layers.Layer):
    def __init__(self, filters: int, kernel_size: int, gain: float = _HE_GAIN, **kwargs) -> None:
        super().__init__(**kwargs)
        self.filters, self.kernel_size, self.gain = filters, kernel_size, gain

    def build(self, input_shape):
        channels = int(input_shape[-1])
        self.scale = self.gain / math.sqrt(channels * self.kernel_size**2)
        shape = (self.kernel_size, self.kernel_size, channels, self.filters)
        self.kernel = self.add_weight("kernel", shape, initializer=keras.initializers.RandomNormal(0, 1))
        self.bias = self.add_weight("bias", (self.filters,), initializer="zeros")

    def call(self, inputs):
        return tf.nn.conv2d(inputs, self.kernel * self.scale, 1, "SAME") + self.bias

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size, "gain": self.gain}


class PixelNorm(keras.layers.Layer):
    def call(self, inputs):
        return inputs * tf.math.rsqrt(tf.reduce_mean(tf.square(inputs), axis=-1, keepdims=True) + 1e-8)


class Growth(keras.layers.Layer):
    """Holds the phase; never called. ``set(level, alpha)`` is what the schedule uses."""

    def __init__(self, level: int, alpha: float = 1.0, levels: int = LEVELS, **kwargs) -> None:
        super().__init__(**kwargs)
        self.levels = levels  # 4x4 to the top resolution: fixed when the networks are built
        self.level = self.add_weight("level", (), initializer=keras.initializers.Constant(level), trainable=False)
        self.alpha = self.add_weight("alpha", (), initializer=keras.initializers.Constant(alpha), trainable=False)
        self.images = self.add_weight("images", (), dtype=tf.int64, initializer="zeros", trainable=False)

    def set(self, level: int, alpha: float) -> None:
        self.level.assign(float(level))
        self.alpha.assign(float(alpha))


def level_weights(growth: Growth) -> list[tf.Tensor]:
    """w_k for each level k: alpha at the current level, 1 - alpha at the one below, 0 elsewhere."""
    at = lambda k: tf.cast(tf.equal(growth.level, float(k)), tf.float32)  # noqa: E731
    return [growth.alpha * at(k) + (1.0 - growth.alpha) * at(k + 1) for k in range(growth.levels)]


class LevelBlend(keras.layers.Layer):
    """[x_0, ..., x_3] (one shape) -> sum_k w_k x_k."""

    def __init__(self, growth: Growth, **kwargs) -> None:
        super().__init__(**kwargs)
        self.growth = growth

    def call(self, inputs):
        return tf.add_n([w * x for w, x in zip(level_weights(self.growth), inputs)])


class DiscriminatorEntry(keras.layers.Layer):
    """[from_rgb_k, from_block_above] -> D's input to block k.

    k = L: the from-RGB path alone; k = L - 1: alpha * block above + (1 - alpha) *
    from-RGB (the fade-in); k < L - 1: the block above alone.
    """

    def __init__(self, growth: Growth, level: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.growth, self.at_level = growth, level

    def call(self, inputs):
        from_rgb, above = inputs
        level, alpha, k = self.growth.level, self.growth.alpha, float(self.at_level)
        own = tf.cast(tf.equal(level, k), tf.float32) + (1.0 - alpha) * tf.cast(tf.equal(level, k + 1), tf.float32)
        through = tf.cast(tf.greater(level, k + 1), tf.float32) + alpha * tf.cast(tf.equal(level, k + 1), tf.float32)
        return own * from_rgb + through * above

    def get_config(self):
        return {**super().get_config(), "level": self.at_level}
