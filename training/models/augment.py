"""DiffAugment (Zhao, Liu, Lin, Zhu and Han, NeurIPS 2020) as the first layer of D.

A discriminator shown a few thousand pictures memorises them and stops teaching G. DiffAugment
transforms every picture D sees, real and generated, in D's steps and in G's, with the same
random, differentiable operations, so D cannot tell the sets apart by the transforms and G's
gradient flows through them. The paper's "color,translation,cutout" policy, on [-1, 1] pixels:

- colour: per picture, brightness + U(-0.5, 0.5), saturation * U(0, 2) about its grey,
  contrast * U(0.5, 1.5) about its mean;
- translation: per picture, a shift of up to 1/8 of the side in each direction, the
  uncovered pixels 0 (mid grey);
- cutout: per picture, a square of half the side at a random centre set to 0.

Being a layer of D, it runs wherever D runs: the four-step round calls D in all four steps,
frozen or not, so both networks' steps see augmented pictures, as the paper requires. It
draws from its own ``tf.random.Generator``, seeded from the config and kept in every
checkpoint, so a resumed run draws what it would have drawn. D alone holds it: G's export
is unaffected.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

__all__ = ["DiffAugment", "augment_layer"]


class DiffAugment(keras.layers.Layer):
    TRANSLATION = 1 / 8
    CUTOUT = 1 / 2

    def __init__(self, seed: int = 0, **kwargs) -> None:
        super().__init__(**kwargs)
        self.seed = seed
        self.rng = tf.random.Generator.from_seed(seed)

    def call(self, x, training=None):  # noqa: ARG002: D is augmented frozen or not (docstring)
        return self._cutout(self._translate(self._colour(x)))

    def _uniform(self, n, low, high):
        return self.rng.uniform([n, 1, 1, 1], low, high)

    def _colour(self, x):
        n = tf.shape(x)[0]
        x = x + self._uniform(n, -0.5, 0.5)
        grey = tf.reduce_mean(x, axis=-1, keepdims=True)
        x = (x - grey) * self._uniform(n, 0.0, 2.0) + grey
        mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
        return (x - mean) * self._uniform(n, 0.5, 1.5) + mean

    def _offsets(self, n, low, high):
        """(n, 2) whole numbers in [low, high), as floats. Kept in float32 throughout: any
        int32 tensor in the round (the generator's integer draw, or a cast to int) made a
        DCGAN round on this CPU nearly twice as slow (550 ms against 300)."""
        return tf.floor(self.rng.uniform([n, 2], 0.0, 1.0) * float(high - low)) + float(low)

    def _translate(self, x):
        n, side = tf.shape(x)[0], x.shape[1]
        most = int(side * self.TRANSLATION + 0.5)
        shift = self._offsets(n, -most, most + 1)
        # Shifts as (n, side, side) selection matrices, one row per output row, zero where
        # the source is outside: two small matmuls, whose gradients are matmuls too.
        index = tf.range(side, dtype=x.dtype)
        source = index[None, :, None] - shift[:, None, :]  # (n, side, 2): the source of each row / column
        rows = tf.cast(tf.equal(source[..., 0, None], index), x.dtype)  # (n, out, in)
        cols = tf.cast(tf.equal(source[..., 1, None], index), x.dtype)
        x = tf.einsum("nij,njwc->niwc", rows, x)
        return tf.einsum("nkj,nijc->nikc", cols, x)

    def _cutout(self, x):
        n, side = tf.shape(x)[0], x.shape[1]
        size = int(side * self.CUTOUT + 0.5)
        low = self._offsets(n, 0, side + (1 - size % 2)) - float(size // 2)  # (n, 2)
        index = tf.range(side, dtype=x.dtype)[None, :]
        in_rows = tf.cast((index >= low[:, :1]) & (index < low[:, :1] + size), x.dtype)
        in_cols = tf.cast((index >= low[:, 1:]) & (index < low[:, 1:] + size), x.dtype)
        return x * (1.0 - in_rows[:, :, None, None] * in_cols[:, None, :, None])

    def get_config(self):
        return {**super().get_config(), "seed": self.seed}


def augment_layer(config) -> keras.layers.Layer | None:
    """D's augmentation for ``config.augment``, or None ("none")."""
    if getattr(config, "augment", "none") == "none":
        return None
    # Its own stream: the seed's neighbour, not the round's noise seed itself.
    return DiffAugment(seed=config.seed + 7919, name="diffaugment")
