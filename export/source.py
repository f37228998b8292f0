"""Rebuild a trained generator from a run folder: its config, the model registry, the last checkpoint."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

import tensorflow as tf
import tf_keras as keras

from gan_edge.errors import RunFolderError
from gan_edge.training.averaging import published_key
from gan_edge.training.config import TrainConfig
from gan_edge.training.models import model_family, output_shape
from gan_edge.training.run import RunFolder

__all__ = ["TrainedGenerator", "load_generator"]


@dataclass(frozen=True)
class TrainedGenerator:
    model: keras.Model
    config: TrainConfig
    family: ModuleType
    run: RunFolder
    checkpoint: str

    @property
    def output_shape(self) -> tuple[int, ...]:
        return output_shape(self.config)

    def __call__(self, latent) -> tf.Tensor:
        return self.model(latent, training=False)


def load_generator(run_dir) -> TrainedGenerator:
    run = RunFolder.open(run_dir)
    config = run.config()
    family = model_family(config.model)
    generator = family.build_generator(config)
    checkpoint = tf.train.latest_checkpoint(str(run.checkpoints))
    if checkpoint is None:
        raise RunFolderError(
            f"{run.path} has no generator checkpoint in {run.checkpoints}: train it first "
            "(a run with --epochs 0 has nothing to export)"
        )
    # Only the generator is needed; the rest of the checkpoint (D, optimizers,
    # noise state) is ignored.
    try:
        # The generator the run publishes: its weight average where it keeps one.
        status = tf.train.Checkpoint(**{published_key(config): generator}).read(checkpoint)
    # A truncated data file surfaces as IndexError from TensorFlow's reader, other damage as an OpError.
    except (IndexError, tf.errors.OpError) as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RunFolderError(f"{checkpoint} cannot be read ({first_line}): the checkpoint is damaged; "
                             f"restore {run.checkpoints} from a copy, or train a new run") from None
    # A weight of another shape: the config no longer describes the networks it saved.
    except ValueError as exc:
        first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RunFolderError(f"{checkpoint} does not hold the {config.model} generator {run.config_file} "
                             f"describes ({first_line}): train a new run") from None
    status.expect_partial()
    try:
        status.assert_existing_objects_matched()
    except AssertionError as exc:
        raise RunFolderError(f"{checkpoint} does not hold a {config.model} generator: {exc}") from None
    return TrainedGenerator(generator, config, family, run, checkpoint)
