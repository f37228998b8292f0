"""Mode-collapse remedies: Keras layers that let the discriminator see a whole batch.

A collapsed generator makes batches whose samples are all alike; a discriminator that
judges one sample at a time cannot see that. Each remedy gives D a view of the batch:

- ``Pack(m)`` (PacGAN, Lin et al., 2018): D judges m samples at once. At D's input,
  (n, d) -> (n/m, m*d), or for images (n, h, w, c) -> (n/m, h, w, m*c); D then outputs one judgement per pack, and the four-step
  round's confusion counts count packs. A trailing n mod m samples are dropped.
- ``MinibatchStdDev`` (Karras et al., 2018, ProGAN section 3): the standard deviation
  of each feature over the batch, averaged into one number and appended to every
  sample, before D's last layer. Karras' code splits the batch into groups of 4; here
  the group is the whole batch, as the paper's text describes it.
- ``MinibatchDiscrimination`` (Salimans et al., 2016, section 3.2): features f (n, A)
  are projected by a learned tensor T (A, B*C) to M (n, B, C); for each of B kernels,
  o_b(x_i) = sum_j exp(-||M_i,b - M_j,b||_1) over the batch (j = i included, as in the
  paper), and the B values are appended to f.
- ``BatchDiversity``: the book's suggestion read literally (Glassner, ch. 22: let D see
  several of G's outputs together so that too-similar ones give themselves away). No
  weights: the mean L1 distance of each sample's features to the rest of the batch is
  appended. It is minibatch discrimination without the learned projection and kernel.

The batch statistics are computed whether ``training`` is True or False: D is called
with ``training=False`` when it is frozen in steps (b) and (d), and it must still see
the batch then. The layers live in D only, so exporting G is unaffected.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

__all__ = ["Pack", "MinibatchStdDev", "MinibatchDiscrimination", "BatchDiversity", "remedy_layer"]


class Pack(keras.layers.Layer):
    """(n, ..., c) -> (n // m, ..., m * c): consecutive samples are judged together.

    Points (n, d) become (n // m, m * d); images (n, h, w, c) become (n // m, h, w, m * c),
    PacGAN's stacking of m images along the channel axis.
    """

    def __init__(self, factor: int, **kwargs) -> None:
        super().__init__(**kwargs)
        if factor < 1:
            raise ValueError(f"pack factor must be 1 or more, got {factor}")
        self.factor = factor

    def call(self, inputs):
        sample = inputs.shape[1:]  # static: the layers after this one need the channel count
        packs = tf.shape(inputs)[0] // self.factor
        grouped = tf.reshape(inputs[: packs * self.factor], [packs, self.factor, *sample])
        # Move the pack axis next to the channels: (packs, m, ..., c) -> (packs, ..., m, c).
        rank = len(sample) + 1
        grouped = tf.transpose(grouped, [0, *range(2, rank), 1, rank])
        return tf.reshape(grouped, [packs, *sample[:-1], self.factor * sample[-1]])

    def compute_output_shape(self, input_shape):
        n = None if input_shape[0] is None else input_shape[0] // self.factor
        return (n, *input_shape[1:-1], self.factor * input_shape[-1])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class MinibatchStdDev(keras.layers.Layer):
    """Append one number per batch: the mean over features of their std over the batch."""

    def call(self, inputs):
        mean = tf.reduce_mean(inputs, axis=0, keepdims=True)
        std = tf.sqrt(tf.reduce_mean(tf.square(inputs - mean), axis=0) + 1e-8)
        statistic = tf.reduce_mean(std)
        column = tf.fill(tf.stack([tf.shape(inputs)[0], 1]), statistic)
        return tf.concat([inputs, column], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] + 1)


class MinibatchDiscrimination(keras.layers.Layer):
    """Salimans et al.'s minibatch features: ``kernels`` closeness scores appended."""

    def __init__(self, kernels: int = 16, kernel_dim: int = 5, **kwargs) -> None:
        super().__init__(**kwargs)
        self.kernels = kernels
        self.kernel_dim = kernel_dim

    def build(self, input_shape):
        self.projection = self.add_weight(
            name="projection",
            shape=(int(input_shape[-1]), self.kernels * self.kernel_dim),
            initializer=keras.initializers.RandomNormal(stddev=0.02),
        )
        super().build(input_shape)

    def call(self, inputs):
        m = tf.reshape(inputs @ self.projection, [-1, self.kernels, self.kernel_dim])  # (n, B, C)
        l1 = tf.reduce_sum(tf.abs(m[:, None] - m[None, :]), axis=-1)  # (n, n, B)
        closeness = tf.reduce_sum(tf.exp(-l1), axis=1)  # (n, B)
        return tf.concat([inputs, closeness], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] + self.kernels)

    def get_config(self):
        return {**super().get_config(), "kernels": self.kernels, "kernel_dim": self.kernel_dim}


class BatchDiversity(keras.layers.Layer):
    """Append each sample's mean L1 distance to the other samples of its batch."""

    def call(self, inputs):
        l1 = tf.reduce_sum(tf.abs(inputs[:, None] - inputs[None, :]), axis=-1)  # (n, n), 0 on the diagonal
        n = tf.cast(tf.shape(inputs)[0], inputs.dtype)
        return tf.concat([inputs, tf.reduce_sum(l1, axis=1, keepdims=True) / tf.maximum(n - 1.0, 1.0)], axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] + 1)


def remedy_layer(name: str) -> keras.layers.Layer | None:
    """The layer placed before D's last layer for a remedy name (``None`` for "none")."""
    from gan_edge.training.config import REMEDIES, _check_choice

    _check_choice("remedy", name, REMEDIES)
    return {
        "none": lambda: None,
        "minibatch_discrimination": lambda: MinibatchDiscrimination(name="minibatch_discrimination"),
        "mbstd": lambda: MinibatchStdDev(name="mbstd"),
        "diversity": lambda: BatchDiversity(name="diversity"),
    }[name]()
