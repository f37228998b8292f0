"""The book's DCGAN for MNIST (Glassner ch. 22, after Gildenblat's Keras DCGAN, 2020).

Generator: 100 latents uniform in [-1, 1] -> Dense(1024), tanh -> Dense(7*7*128),
BatchNormalization, tanh -> Reshape(7, 7, 128) -> UpSampling2D(2) -> Conv2D(64, 5x5,
same), tanh -> UpSampling2D(2) -> Conv2D(1, 5x5, same), tanh: 28x28x1 in [-1, 1].
``config.generator_widths`` replaces 1024 / 128 / 64 (the "mcu" preset: 128 / 32 / 32).
Discriminator: Conv2D(64, 5x5, same), tanh -> MaxPooling(2) -> Conv2D(128, 5x5,
valid), tanh -> MaxPooling(2) -> Flatten -> Dense(1024), tanh -> Dense(1), sigmoid.
The mode-collapse remedies are options of D, as on the toy mixtures (multimode.py): a
pack factor stacks that many images along the channel axis at D's input, and a remedy
layer sits before D's last layer. With neither, D is exactly the book's.
"""

from __future__ import annotations

import tf_keras as keras

from gan_edge.training.models.remedies import Pack, remedy_layer

OUTPUT_SHAPE = (28, 28, 1)
OUTPUT_RANGE = (-1.0, 1.0)  # tanh
DATA = "mnist"
EVALUATOR = "mnist"


BOOK_WIDTHS = (1024, 128, 64)  # dense units, channels at 7x7, channels at 14x14


def build_generator(config) -> keras.Model:
    layers = keras.layers
    dense, c7, c14 = tuple(getattr(config, "generator_widths", ())) or BOOK_WIDTHS
    return keras.Sequential(
        [
            layers.Input((config.latent_dim,), name="latent"),
            layers.Dense(dense, activation="tanh", name=f"dense_{dense}"),
            layers.Dense(7 * 7 * c7, name=f"dense_{7 * 7 * c7}"),
            layers.BatchNormalization(name="bn"),
            layers.Activation("tanh"),
            layers.Reshape((7, 7, c7)),
            layers.UpSampling2D(2),
            layers.Conv2D(c14, 5, padding="same", activation="tanh", name=f"conv_{c14}"),
            layers.UpSampling2D(2),
            layers.Conv2D(1, 5, padding="same", activation="tanh", name="image"),
        ],
        name="generator",
    )


def build_discriminator(config) -> keras.Model:
    layers = keras.layers
    stack = [layers.Input(OUTPUT_SHAPE, name="image")]
    if config.pack > 1:
        stack.append(Pack(config.pack, name="pack"))
    stack += [
        layers.Conv2D(64, 5, padding="same", activation="tanh", name="conv_64"),
        layers.MaxPooling2D(2),
        layers.Conv2D(128, 5, padding="valid", activation="tanh", name="conv_128"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        layers.Dense(1024, activation="tanh", name="dense_1024"),
    ]
    remedy = remedy_layer(config.remedy)
    if remedy is not None:
        stack.append(remedy)
    stack.append(layers.Dense(1, activation="sigmoid", name="p_real"))
    return keras.Sequential(stack, name="discriminator")
