"""Progressive growing (ProGAN, Karras et al., 2018) on MNIST padded to 32x32 (Glassner ch. 22).

The networks grow 4x4 -> 8x8 -> 16x16 -> 32x32; each new resolution fades in with a
weight alpha rising from 0 to 1 (``gan_edge.training.progan_schedule``). On a user's
pictures (``config.resolution``, ``config.channels``) they grow from 4x4 to the pictures'
side, in their channels, with wider levels (``IMAGE_CHANNELS``): the book's "large
samples", in colour. Below, "32x32" stands for the top resolution.

How the growing is built: both networks are built once, at full resolution, with
every level's layers, and a ``Growth`` layer of non-trainable variables (level, alpha,
images shown) that their blend layers read. G renders every level's to-RGB output,
upsamples each nearest-neighbour to 32x32 and keeps alpha times the current level's
plus (1 - alpha) times the level below (the fade-in; alpha is 1 when stable). D
average-pools its 32x32 input to each level and enters at the current level's
from-RGB path, faded against the block above during a fade-in. So shapes never
change: the four-step round, its compiled graphs, the optimizers and the checkpoint
see the same variables from the first round to the last, and a run stopped in the
middle of a fade-in resumes at the same alpha, because the phase is a variable in the
checkpoint. The layers of levels not reached yet are computed and multiplied by 0:
they get zero gradients and stay as initialised (Adam moves nothing on a zero gradient
it has never seen otherwise). At 32x32 that costs little; at 1024x1024 it would not.

The real images get the same blend before step (a) (``prepare_real``, the round's
one hook): downsampled to the current resolution, and during a fade-in
(1 - alpha) * upsample(downsample2(x)) + alpha * x, then shown to D at 32x32.

Departures from the paper, for a 2-core CPU and the book's round: channels 64-64-32-16
(not 512); the book's binary cross-entropy with a sigmoid D (not WGAN-GP); the
minibatch standard deviation is appended to D's flattened 4x4 features as one number
(``remedies.MinibatchStdDev``), not as a feature map; G ends in tanh, so samples stay in
[-1, 1] as the DCGAN's do. Equalised learning rate is used in both networks, pixel
norm in G only, as in the paper.
"""

from __future__ import annotations

import tf_keras as keras

import math

from gan_edge.training.loop import FourStepRound
from gan_edge.training.models.augment import augment_layer
from gan_edge.training.models.progan_layers import (
    DiscriminatorEntry, EqualizedConv2D, EqualizedDense, Growth, LevelBlend, PixelNorm, level_weights,
)
from gan_edge.training.models.remedies import MinibatchStdDev
from gan_edge.training.progan_schedule import GrowthSchedule, level_of

OUTPUT_SHAPE = (32, 32, 1)  # MNIST's; ``output_shape(config)`` for a user's pictures
OUTPUT_RANGE = (-1.0, 1.0)  # tanh
DATA = "mnist32"  # MNIST padded with 2 pixels of background (-1) on each side
EVALUATOR = "mnist32"  # the MNIST evaluator, on samples with that border cropped off

# Feature maps per level (4x4, 8x8, 16x16, 32x32) on MNIST.
G_CHANNELS = (64, 64, 32, 16)
D_CHANNELS = (64, 64, 32, 16)
# On a user's pictures, from 4x4 up: colour needs more maps at the coarse levels, where
# they are cheap; the finest levels stay narrow, where a map costs the most.
IMAGE_CHANNELS = (128, 128, 64, 32, 16, 16)
_SLOPE = 0.2


def output_shape(config) -> tuple[int, int, int]:
    """What G draws: MNIST padded to 32x32x1, else the config's pictures."""
    if not getattr(config, "data_path", ""):
        return OUTPUT_SHAPE
    return (config.resolution, config.resolution, config.channels)


def _levels(config) -> int:
    return int(math.log2(output_shape(config)[0])) - 1  # 4x4 is level 0


def level_channels(config, on_mnist: tuple[int, ...]) -> tuple[int, ...]:
    """Feature maps per level, 4x4 first: ``on_mnist`` (G's or D's) on MNIST, else
    IMAGE_CHANNELS for G and D alike."""
    return on_mnist if not getattr(config, "data_path", "") else IMAGE_CHANNELS[: _levels(config)]


def _initial_growth(config, name: str) -> Growth:
    resolution, alpha = GrowthSchedule.from_config(config).state(0)
    return Growth(level_of(resolution), alpha, levels=_levels(config), name=name)


def build_generator(config) -> keras.Model:
    layers = keras.layers
    growth = _initial_growth(config, "growth")
    levels, channels, top = growth.levels, level_channels(config, G_CHANNELS), output_shape(config)[0]
    latent = layers.Input((config.latent_dim,), name="latent")

    def conv(h, channels, name):
        h = EqualizedConv2D(channels, 3, name=name)(h)
        return PixelNorm()(layers.LeakyReLU(_SLOPE)(h))

    h = PixelNorm(name="normalize_latent")(latent)
    h = EqualizedDense(4 * 4 * channels[0], name="dense_4x4")(h)
    h = PixelNorm()(layers.LeakyReLU(_SLOPE)(layers.Reshape((4, 4, channels[0]))(h)))
    h = conv(h, channels[0], "conv_4x4")
    rgbs = []
    for level in range(levels):
        side = 4 * 2**level
        if level > 0:
            h = layers.UpSampling2D(2, name=f"up_to_{side}x{side}")(h)
            h = conv(h, channels[level], f"conv_{side}x{side}_a")
            h = conv(h, channels[level], f"conv_{side}x{side}_b")
        rgb = EqualizedConv2D(output_shape(config)[2], 1, gain=1.0, name=f"to_rgb_{side}x{side}")(h)
        if level < levels - 1:
            rgb = layers.UpSampling2D(2 ** (levels - 1 - level), name=f"rgb_{side}x{side}_to_{top}x{top}")(rgb)
        rgbs.append(rgb)
    image = LevelBlend(growth, name="fade_in")(rgbs)
    image = layers.Activation("tanh", name="image")(image)
    return keras.Model(latent, image, name="generator")


def build_discriminator(config) -> keras.Model:
    layers = keras.layers
    growth = _initial_growth(config, "growth")
    levels = growth.levels
    channels = level_channels(config, D_CHANNELS)
    image = layers.Input(output_shape(config), name="image")
    augment = augment_layer(config)
    seen = image if augment is None else augment(image)

    def conv(h, width, name):
        return layers.LeakyReLU(_SLOPE)(EqualizedConv2D(width, 3, name=name)(h))

    h = None
    for level in reversed(range(levels)):
        side = 4 * 2**level
        x = seen if level == levels - 1 else layers.AveragePooling2D(2 ** (levels - 1 - level))(seen)
        from_rgb = layers.LeakyReLU(_SLOPE)(EqualizedConv2D(channels[level], 1, name=f"from_rgb_{side}x{side}")(x))
        h = from_rgb if h is None else DiscriminatorEntry(growth, level, name=f"enter_{side}x{side}")([from_rgb, h])
        if level > 0:
            h = conv(h, channels[level], f"conv_{side}x{side}_a")
            h = conv(h, channels[level - 1], f"conv_{side}x{side}_b")
            h = layers.AveragePooling2D(2)(h)
    h = conv(h, channels[0], "conv_4x4")
    h = MinibatchStdDev(name="mbstd")(layers.Flatten()(h))
    h = layers.LeakyReLU(_SLOPE)(EqualizedDense(channels[0], name="dense")(h))
    p_real = layers.Activation("sigmoid", name="p_real")(EqualizedDense(1, gain=1.0, name="logit")(h))
    return keras.Model(image, p_real, name="discriminator")


def growth_of(model: keras.Model) -> Growth:
    return next(m for m in model.submodules if isinstance(m, Growth))


def fully_grown(generator: keras.Model) -> keras.Model | None:
    """G's 32x32 path alone, once growing is over (level 32x32, alpha 1): the levels
    below are then weighted 0, so the blend, their to-RGB convolutions and their
    upsampling can go. None while G is still growing. Same layers, same weights."""
    growth = growth_of(generator)
    if round(float(growth.level.numpy())) != growth.levels - 1 or float(growth.alpha.numpy()) != 1.0:
        return None
    top = 4 * 2 ** (growth.levels - 1)
    rgb = generator.get_layer(f"to_rgb_{top}x{top}").output
    return keras.Model(generator.input, keras.layers.Activation("tanh", name="image")(rgb), name=generator.name)


def render_at(generator: keras.Model, latent, resolution: int):
    """G's samples at ``resolution`` (stable, alpha 1), whatever phase it is in; the
    phase is put back afterwards. Samples stay 32x32: lower levels are upsampled."""
    growth = growth_of(generator)
    phase = (float(growth.level.numpy()), float(growth.alpha.numpy()))
    growth.set(level_of(resolution), 1.0)
    try:
        return generator(latent, training=False).numpy()
    finally:
        growth.set(*phase)


def prepare_real(discriminator: keras.Model):
    """The real images' blend, read from D's phase: x (n, 32, 32, 1) -> the same shape."""
    import tensorflow as tf

    growth = growth_of(discriminator)

    def at_level(x, level):
        factor = 2 ** (growth.levels - 1 - level)
        if factor == 1:
            return x
        low = tf.nn.avg_pool2d(x, factor, factor, "VALID")
        return tf.repeat(tf.repeat(low, factor, axis=1), factor, axis=2)  # nearest-neighbour upsampling

    def prepare(x):
        return tf.add_n([w * at_level(x, k) for k, w in enumerate(level_weights(growth))])

    return prepare


class GrowingRound(FourStepRound):
    """The four-step round unchanged, with the real images of each batch blended for
    the current phase before it starts (``prepare_real``)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.prepare_real = prepare_real(self.discriminator)

    def round(self, real, *args, **kwargs):
        return super().round(self.prepare_real(real), *args, **kwargs)

    def pretrain_round(self, real, *args, **kwargs):
        return super().pretrain_round(self.prepare_real(real), *args, **kwargs)


# The four-step round, with the real images blended for the current phase before step (a).
ROUND = GrowingRound
