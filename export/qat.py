"""Quantization-aware training (format ``qat``): fine-tune the generator with int8 in the loop.

Post-training int8 rounds a generator that never saw rounding; QAT lets it adapt.
Order of calls (``export_run`` does them; the converter is ``tflite.to_int8``):

    check_quantizable(fold_batch_norm(trained.model))   # before any work
    tuned = fine_tune(trained, epochs=1, on_epoch=...)  # same four-step round as training
    tflite.to_int8(tuned, calibration)                  # full int8, int8 I/O

Why fold first: tfmot quantizes BatchNormalization only after a Conv2D; after a
Dense it leaves Dense+BN in float (the DCGAN stayed 26 MB). Folding the
inference-mode BN into the Dense before it (``kernel * g``, ``(bias - mean) * g + beta``
with ``g = gamma / sqrt(var + eps)``) gives one Dense that tfmot does quantize, and
the fine-tuning then trains the folded layer, so no batch statistics move.

Fine-tuning runs ``gan_edge.training.loop.FourStepRound`` with the wrapped generator and the
run's trained discriminator (both restored from the run's latest checkpoint), fresh
optimizers built from the run's config, on the run's own data, epoch by epoch through
training's own driver (``gan_edge.training.train.train_epoch``).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Callable

import numpy as np
import tensorflow as tf
import tf_keras as keras

from gan_edge.export.source import TrainedGenerator
from gan_edge.export.tflite import ExportError
from gan_edge.errors import ConfigError, RunFolderError, TrainingDiverged
from gan_edge.latent import sample_latent

__all__ = ["FOLD_TOLERANCE", "fold_batch_norm", "check_quantizable", "quantize_for_training", "fine_tune"]

# Largest output difference allowed between the folded and the original float model:
# folding only reorders float32 arithmetic (measured ~1e-6 on the DCGAN).
FOLD_TOLERANCE = 1e-4
_FOLD_CHECK_SAMPLES = 256


def fold_batch_norm(model: keras.Model, latents: np.ndarray | None = None) -> keras.Model:
    """A copy of Sequential ``model`` with each Dense(linear) + BatchNormalization pair
    replaced by one Dense holding the folded weights (inference-mode BN).

    With ``latents``, the folded model's output is compared with the original's and
    an ``ExportError`` raised when they differ by more than ``FOLD_TOLERANCE``.
    """
    has_bn = any(isinstance(layer, keras.layers.BatchNormalization) for layer in model.layers)
    if not has_bn:
        return model
    if not isinstance(model, keras.Sequential):
        raise ExportError(f"qat folds BatchNormalization in Sequential generators only, got a {type(model).__name__}")
    layers = list(model.layers)
    rebuilt, weights = [], []
    i = 0
    while i < len(layers):
        layer = layers[i]
        following = layers[i + 1] if i + 1 < len(layers) else None
        if isinstance(following, keras.layers.BatchNormalization):
            if not (isinstance(layer, keras.layers.Dense) and layer.get_config()["activation"] == "linear"):
                raise ExportError(
                    f"qat cannot fold BatchNormalization layer {following.name!r}: it follows "
                    f"{layer.name!r} ({type(layer).__name__}), expected a Dense layer without activation"
                )
            kernel, bias = _folded(layer, following)
            config = {**layer.get_config(), "use_bias": True}
            rebuilt.append(keras.layers.Dense.from_config(config))
            weights.append([kernel, bias])
            i += 2
            continue
        rebuilt.append(layer.__class__.from_config(layer.get_config()))
        weights.append(layer.get_weights())
        i += 1
    input_name = (getattr(model, "input_names", None) or ["latent"])[0]
    folded = keras.Sequential([keras.layers.Input(model.input_shape[1:], name=input_name)]
                              + rebuilt, name=model.name)
    for layer, values in zip(rebuilt, weights):
        layer.set_weights(values)
    if latents is not None:
        original = model(latents, training=False).numpy()
        difference = float(np.max(np.abs(folded(latents, training=False).numpy() - original)))
        if not difference <= FOLD_TOLERANCE:
            raise ExportError(
                f"folding BatchNormalization changed the generator's output by {difference:.2e}, "
                f"expected at most {FOLD_TOLERANCE:.0e}"
            )
    return folded


def _folded(dense: keras.layers.Dense, bn: keras.layers.BatchNormalization) -> tuple[np.ndarray, np.ndarray]:
    axis = bn.axis if isinstance(bn.axis, int) else bn.axis[0]
    if axis not in (-1, len(bn.input_shape) - 1):
        raise ExportError(f"qat can fold BatchNormalization {bn.name!r} over the last axis only, got axis {bn.axis}")
    kernel = dense.kernel.numpy().astype(np.float64)
    bias = dense.bias.numpy().astype(np.float64) if dense.use_bias else np.zeros(kernel.shape[-1])
    mean = bn.moving_mean.numpy().astype(np.float64)
    variance = bn.moving_variance.numpy().astype(np.float64)
    gamma = bn.gamma.numpy().astype(np.float64) if bn.scale else np.ones_like(mean)
    beta = bn.beta.numpy().astype(np.float64) if bn.center else np.zeros_like(mean)
    scale = gamma / np.sqrt(variance + bn.epsilon)
    return (kernel * scale).astype(np.float32), ((bias - mean) * scale + beta).astype(np.float32)


def check_quantizable(model: keras.Model) -> None:
    """Refuse, naming the first layer tfmot's default int8 scheme has no quantization for."""
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry,
    )

    supported = registry.Default8BitQuantizeRegistry()
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        if not supported.supports(layer):
            raise ExportError(
                f"qat cannot quantize layer {layer.name!r} ({type(layer).__name__}): tfmot has no int8 "
                "scheme for it; export the post-training int8 format instead"
            )


def quantize_for_training(model: keras.Model) -> keras.Model:
    """``model`` wrapped with fake-quantization (tfmot ``quantize_model``), after the checks."""
    import tensorflow_model_optimization as tfmot

    check_quantizable(model)
    return tfmot.quantization.keras.quantize_model(model)


def fine_tune(
    trained: TrainedGenerator,
    *,
    epochs: int = 1,
    on_epoch: Callable[[dict[str, Any]], None] | None = None,
) -> TrainedGenerator:
    """Fold, wrap and fine-tune ``trained``'s generator for ``epochs`` epochs of the four-step round.

    Returns ``trained`` with the QAT model in place of the float one; ``on_epoch``
    receives ``{"epoch", "d_loss", "g_loss", "tp", "fn", "fp", "tn"}`` after each epoch.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 0:
        raise ConfigError(f"qat epochs must be an int, 0 or more (--qat-epochs), got {epochs!r}")
    from gan_edge.training.data import batch_source, epoch_batches, load_training_data
    from gan_edge.training.train import epoch_record, round_for, train_epoch

    config = trained.config
    check_latents = sample_latent(config.latent_distribution, _FOLD_CHECK_SAMPLES, config.latent_dim,
                                  np.random.default_rng(config.seed + 3))
    generator = quantize_for_training(fold_batch_norm(trained.model, check_latents))
    discriminator = _restore_discriminator(trained)
    round_ = round_for(config, generator, discriminator, seed=config.seed + 3)
    data = load_training_data(config, trained.family.DATA)
    samples = batch_source(data)
    steps = math.ceil(len(data.samples) / config.batch_size)
    for epoch in range(1, epochs + 1):
        # Epoch numbers past the run's own, so the batch order is not a replay of training.
        iterator = iter(epoch_batches(samples, config.batch_size, config.seed, config.epochs + epoch))
        sums: dict[str, float] = {}
        try:
            train_epoch(round_, iterator, steps, config, epoch=epoch, sums=sums)
        except TrainingDiverged:
            raise ExportError(f"qat fine-tuning diverged at epoch {epoch}: the losses are not finite") from None
        if on_epoch is not None:
            on_epoch({"epoch": epoch, **epoch_record(sums, steps)})
    return replace(trained, model=generator)


def _restore_discriminator(trained: TrainedGenerator) -> keras.Model:
    discriminator = trained.family.build_discriminator(trained.config)
    status = tf.train.Checkpoint(discriminator=discriminator).read(trained.checkpoint)
    status.expect_partial()
    try:
        status.assert_existing_objects_matched()
    except AssertionError as exc:
        raise RunFolderError(
            f"{trained.checkpoint} holds no {trained.config.model} discriminator to fine-tune against: "
            f"{str(exc).strip().splitlines()[0]}"
        ) from None
    return discriminator
