"""The grid25 model: PacGAN's toy GAN (training.models.multimode) on the grid25 mixture."""

from gan_edge.training.models.multimode import (  # noqa: F401  (the family's interface)
    EVALUATOR,
    OUTPUT_RANGE,
    OUTPUT_SHAPE,
    build_discriminator,
    build_generator,
)

DATA = "grid25"
