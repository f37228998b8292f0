"""The book's toy GAN (Figures 22-17 and 22-18): it learns a 2-D Gaussian.

Generator: 4 random inputs -> Dense(16) + LeakyReLU(0.1) -> Dense(2), no output activation.
Discriminator: 2 inputs -> Dense(16) + LeakyReLU(0.1) -> Dense(16) + LeakyReLU(0.1)
-> Dense(1) with sigmoid (the probability that the input is real).
"""

from __future__ import annotations

import tf_keras as keras

OUTPUT_SHAPE = (2,)
OUTPUT_RANGE = None  # points in the plane: no bound
DATA = "gaussian"
EVALUATOR = "toy"


def build_generator(config) -> keras.Model:
    return keras.Sequential(
        [
            keras.layers.Input((config.latent_dim,), name="latent"),
            keras.layers.Dense(16, name="hidden"),
            keras.layers.LeakyReLU(0.1),
            keras.layers.Dense(2, name="point"),
        ],
        name="generator",
    )


def build_discriminator(config) -> keras.Model:
    return keras.Sequential(
        [
            keras.layers.Input(OUTPUT_SHAPE, name="point"),
            keras.layers.Dense(16, name="hidden_1"),
            keras.layers.LeakyReLU(0.1),
            keras.layers.Dense(16, name="hidden_2"),
            keras.layers.LeakyReLU(0.1),
            keras.layers.Dense(1, activation="sigmoid", name="p_real"),
        ],
        name="discriminator",
    )
