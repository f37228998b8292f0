"""The mode-collapse models (ring8, grid25): PacGAN's toy architecture, with remedies in D.

As in PacGAN's code (fjxmlzn/PacGAN, synthetic_data_experiments/2DGrid_GAN&PacGAN/
pacgan_task.py), which follows VEEGAN's:
  Generator: 2-D N(0, I) latent -> 4 x [Dense(400, no bias) + batch norm + ReLU] -> Dense(2).
  Discriminator: (2 * pack) inputs -> 3 x LinearMaxout(200 units, 5 pieces) -> Dense(1).
  Weights drawn from N(0, 0.02), biases 0.
Where this deviates: D ends in a sigmoid (the four-step round takes probabilities);
batch norm keeps its running statistics with momentum 0.95 (PacGAN's update is
0.05 * batch + 0.95 * running, a Keras momentum of 0.95); a remedy layer, if any,
sits before D's last layer; PacGAN's packing concatenates independently drawn real
samples, here consecutive samples of a shuffled batch are packed (the same in law).
The family modules ``ring8`` and ``grid25`` choose the data set.
"""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from gan_edge.training.models.remedies import Pack, remedy_layer

OUTPUT_SHAPE = (2,)
OUTPUT_RANGE = None  # points in the plane: no bound
EVALUATOR = "modes"

GENERATOR_UNITS, GENERATOR_LAYERS = 400, 4
DISCRIMINATOR_UNITS, DISCRIMINATOR_LAYERS, MAXOUT_PIECES = 200, 3, 5


def _init():
    return keras.initializers.RandomNormal(stddev=0.02)


class Maxout(keras.layers.Layer):
    """LinearMaxout (Goodfellow et al., 2013): the largest of ``pieces`` affine maps per unit."""

    def __init__(self, units: int, pieces: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.units, self.pieces = units, pieces
        self.linear = keras.layers.Dense(units * pieces, kernel_initializer=_init())

    def call(self, inputs):
        return tf.reduce_max(tf.reshape(self.linear(inputs), [-1, self.units, self.pieces]), axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "pieces": self.pieces}


def build_generator(config) -> keras.Model:
    layers = [keras.layers.Input((config.latent_dim,), name="latent")]
    for i in range(1, GENERATOR_LAYERS + 1):
        layers += [
            keras.layers.Dense(GENERATOR_UNITS, use_bias=False, kernel_initializer=_init(), name=f"hidden_{i}"),
            keras.layers.BatchNormalization(momentum=0.95, name=f"norm_{i}"),
            keras.layers.ReLU(),
        ]
    layers.append(keras.layers.Dense(2, kernel_initializer=_init(), name="point"))
    return keras.Sequential(layers, name="generator")


def build_discriminator(config) -> keras.Model:
    layers = [keras.layers.Input(OUTPUT_SHAPE, name="point")]
    if config.pack > 1:
        layers.append(Pack(config.pack, name="pack"))
    layers += [Maxout(DISCRIMINATOR_UNITS, MAXOUT_PIECES, name=f"maxout_{i}")
               for i in range(1, DISCRIMINATOR_LAYERS + 1)]
    remedy = remedy_layer(config.remedy)
    if remedy is not None:
        layers.append(remedy)
    layers.append(keras.layers.Dense(1, activation="sigmoid", kernel_initializer=_init(), name="p_real"))
    return keras.Sequential(layers, name="discriminator")
