"""The generator's weight average: what a run publishes when ``generator_average`` is on.

A GAN's generator never settles: each round moves it against a discriminator that moved
too, so the weights after the last round are one point of an orbit around the solution.
The average of the recent weights sits nearer its centre (Yazici et al., 2019, "The
unusual effectiveness of averaging in GAN training"; ProGAN and StyleGAN publish such an
average). It is kept beside the generator and never trained: the four-step round stays
as the book lays it out, and only what is measured, sampled and exported changes.

The average is exponential, with StyleGAN2-ADA's ramp: its half-life is a fixed fraction
of the images seen so far (their ``ema_rampup``), so early in a run, when the weights
move far each epoch, it forgets fast, and late in a run it spans the last few percent of
training. Non-trainable weights (batch norm's moving statistics, ProGAN's fade-in alpha)
are copied, not averaged: they describe the live generator's activations, and the
average's differ from them by as little as its weights do.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

__all__ = ["CHECKPOINT_KEY", "GeneratorAverage", "published_key"]

# The checkpoint entry that holds the average (the live generator stays under "generator",
# so a run trained without one reads as before).
CHECKPOINT_KEY = "generator_average"


def published_key(config) -> str:
    """The checkpoint entry of the generator a run publishes: the one export, evaluate,
    generate and distillation's teacher read."""
    return CHECKPOINT_KEY if config.generator_average > 0 else "generator"


class GeneratorAverage:
    """An exponential average of ``generator``'s weights in ``model`` (same architecture).

    ``update(images)`` after each round that trained G on ``images`` samples (inside a
    compiled graph; under tf.distribute in the cross-replica context, with the global
    batch). ``images_seen`` is a variable, saved in checkpoints with ``model``, so a
    resumed run averages exactly as an uninterrupted one.
    """

    def __init__(self, generator: keras.Model, model: keras.Model, half_life_fraction: float) -> None:
        pairs = list(zip(model.weights, generator.weights))
        mismatched = [(a.name, b.name) for a, b in pairs if a.shape != b.shape]
        if len(model.weights) != len(generator.weights) or mismatched:
            raise ValueError(f"the average's model does not match the generator: {mismatched[:3]}")
        model.set_weights(generator.get_weights())
        self.model = model
        self.half_life_fraction = float(half_life_fraction)
        self.images_seen = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="average_images_seen")
        trainable = {id(v) for v in generator.trainable_weights}
        self._averaged = [(a, b) for a, b in pairs if id(b) in trainable]
        self._copied = [(a, b) for a, b in pairs if id(b) not in trainable]

    def update(self, images) -> None:
        images = tf.cast(images, tf.float64)
        seen = self.images_seen.assign_add(images)
        half_life = tf.maximum(self.half_life_fraction * seen, 1.0)
        # The share of the old average kept after this round: a half after ``half_life`` images.
        keep = tf.cast(tf.pow(tf.constant(0.5, tf.float64), images / half_life), tf.float32)
        for average, live in self._averaged:
            average.assign(live + keep * (average - live))
        for copy, live in self._copied:
            copy.assign(live)
