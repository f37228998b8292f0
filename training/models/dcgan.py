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

A user's pictures (``config.resolution``, ``config.channels``) get the same networks
grown or shrunk by whole stages, so that at 28x28x1 they are exactly the book's:
G starts at 4x4 (7x7 at 28) and each UpSampling2D + Conv2D(5x5), tanh stage doubles the
side until the last writes the picture's channels; the stages' channels halve towards
the picture, from the base width down to the last width (the book's 128 and 64). D
is Radford et al.'s for any side but 28 (strided 4x4 convolutions down to 4x4: the
book's pooling D grown to 32x32 cost twice as much a round), with DiffAugment
(``config.augment``) at its input.
"""

from __future__ import annotations

import math

import tf_keras as keras

from gan_edge.training.models.augment import augment_layer
from gan_edge.training.models.remedies import Pack, remedy_layer

OUTPUT_SHAPE = (28, 28, 1)  # the book's; ``output_shape(config)`` for a user's pictures
OUTPUT_RANGE = (-1.0, 1.0)  # tanh
DATA = "mnist"
EVALUATOR = "mnist"


BOOK_WIDTHS = (1024, 128, 64)  # dense units, channels at 7x7, channels at 14x14
# A user's pictures: dense units, channels at 4x4, channels of the last stage before the
# picture (at 32x32: 64 maps at 8x8, 32 at 16x16, then the picture). On the Zen 4 a round
# of 64 at 32x32 took 2.1 s with the book's widths and D, 0.3 s with these and Radford's D.
PICTURE_WIDTHS = (256, 128, 32)


def output_shape(config) -> tuple[int, int, int]:
    """What G draws: the book's 28x28x1 on MNIST, else the config's pictures."""
    if not getattr(config, "data_path", ""):
        return OUTPUT_SHAPE
    return (config.resolution, config.resolution, config.channels)


def stage_channels(side: int, widths: tuple[int, ...]) -> tuple[int, list[int]]:
    """(the side G starts at, the channels of each stage between it and the picture).

    The book's 28: 7x7, [64]. 32: 4x4, [128, 64]; 64: 4x4, [128, 128, 64]."""
    _, base_channels, last_channels = widths
    start = 7 if side == 28 else 4
    inner = int(math.log2(side // start)) - 1  # stages before the one that draws the picture
    return start, [min(base_channels, last_channels * 2 ** (inner - 1 - i)) for i in range(inner)]


def build_generator(config) -> keras.Model:
    layers = keras.layers
    side, _, channels = output_shape(config)
    book = side == 28  # the book's widths and layer names, so its runs read as before
    widths = tuple(getattr(config, "generator_widths", ())) or (BOOK_WIDTHS if book else PICTURE_WIDTHS)
    dense, base = widths[0], widths[1]
    start, inner = stage_channels(side, widths)
    stack = [
        layers.Input((config.latent_dim,), name="latent"),
        layers.Dense(dense, activation="tanh", name=f"dense_{dense}"),
        layers.Dense(start * start * base, name=f"dense_{start * start * base}"),
        layers.BatchNormalization(name="bn"),
        layers.Activation("tanh"),
        layers.Reshape((start, start, base)),
    ]
    for i, width in enumerate(inner):
        at = start * 2 ** (i + 1)
        stack += [layers.UpSampling2D(2),
                  layers.Conv2D(width, 5, padding="same", activation="tanh",
                                name=f"conv_{width}" if book else f"conv_{width}_at_{at}x{at}")]
    stack += [layers.UpSampling2D(2), layers.Conv2D(channels, 5, padding="same", activation="tanh", name="image")]
    return keras.Sequential(stack, name="generator")


def build_discriminator(config) -> keras.Model:
    layers = keras.layers
    side, _, _ = output_shape(config)
    stack = [layers.Input(output_shape(config), name="image")]
    augment = augment_layer(config)
    if augment is not None:
        stack.append(augment)
    if config.pack > 1:
        stack.append(Pack(config.pack, name="pack"))
    if side == 28:
        stack += [
            layers.Conv2D(64, 5, padding="same", activation="tanh", name="conv_64"),
            layers.MaxPooling2D(2),
            layers.Conv2D(128, 5, padding="valid", activation="tanh", name="conv_128"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(1024, activation="tanh", name="dense_1024"),
        ]
    else:
        # Radford et al.'s D: 4x4 convolutions of stride 2 with leaky ReLUs, down to 4x4. At
        # 32x32 it costs 18 M multiply-adds a picture where the book's D, grown to the size,
        # cost 39 M; D runs in all four steps, so this is most of a round's time.
        width = 64
        while side > 4:
            side //= 2
            stack += [layers.Conv2D(width, 4, strides=2, padding="same", name=f"conv_{width}_to_{side}x{side}"),
                      layers.LeakyReLU(0.2)]
            width = min(2 * width, 256)
        stack.append(layers.Flatten())
    remedy = remedy_layer(config.remedy)
    if remedy is not None:
        stack.append(remedy)
    stack.append(layers.Dense(1, activation="sigmoid", name="p_real"))
    return keras.Sequential(stack, name="discriminator")
