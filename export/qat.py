"""Quantization-aware training (format ``qat``): fine-tune the generator with int8 in the loop.

Post-training int8 rounds a generator that never saw rounding; QAT lets it adapt.
Order of calls (``export_run`` does them; the converter is ``tflite.to_int8``):

    check_quantizable(trainable_form(trained.model))   # before any work
    tuned = fine_tune(trained, epochs=1, on_epoch=...)  # same four-step round as training
    tflite.to_int8(tuned, calibration)                  # full int8, int8 I/O

``trainable_form`` is the float generator tfmot can wrap: the DCGAN with its
BatchNormalization folded, a fully grown ProGAN as the chain of its top resolution's layers.

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

import functools
import math
import types
from dataclasses import replace
from typing import Any, Callable

import numpy as np
import tensorflow as tf
import tf_keras as keras

from gan_edge.export.source import TrainedGenerator
from gan_edge.export.tflite import ExportError
from gan_edge.errors import ConfigError, RunFolderError, TrainingDiverged
from gan_edge.latent import sample_latent

__all__ = ["FOLD_TOLERANCE", "trainable_form", "fold_batch_norm", "progan_chain", "check_quantizable",
           "quantize_for_training", "start_ranges_calibrated", "fine_tune"]

# Largest output difference allowed between the folded and the original float model:
# folding only reorders float32 arithmetic (measured ~1e-6 on the DCGAN).
FOLD_TOLERANCE = 1e-4
# Latents that check a rewrite of the generator and set the fake quantizers' starting ranges.
_CALIBRATION_SAMPLES = 256


def trainable_form(model: keras.Model, latents: np.ndarray | None = None) -> keras.Model:
    """The float generator QAT wraps, the same function as ``model``: a ProGAN generator as
    ``progan_chain``, any other with ``fold_batch_norm``. With ``latents``, the two models'
    outputs are compared (``FOLD_TOLERANCE``)."""
    from gan_edge.training.models.progan_layers import Growth

    if any(isinstance(layer, Growth) for layer in model.submodules):
        return progan_chain(model, latents)
    return fold_batch_norm(model, latents)


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
        _check_same_function(model, folded, latents, "folding BatchNormalization")
    return folded


def progan_chain(model: keras.Model, latents: np.ndarray | None = None) -> keras.Model:
    """A fully grown ProGAN generator as the Sequential chain of layers the export converts
    (``lowering.lower_for_edge``: the top level alone, upsampling as ``NearestUpsampling2x``, a
    constant-shape reshape), with its equalised layers kept: their kernels are the variables
    the run trained, so the run's optimizer settings fit them (a plain Dense holding kernel
    times scale would take Adam steps 1/scale times larger, and collapsed the generator in
    one epoch). Refused while the generator is still growing: fine-tuning then would train
    levels the export drops."""
    from gan_edge.export.lowering import lower_for_edge
    from gan_edge.training.models.progan import fully_grown, growth_of

    if fully_grown(model) is None:
        growth = growth_of(model)
        top = 4 * 2 ** (growth.levels - 1)
        side = 4 * 2 ** round(float(growth.level.numpy()))
        raise ExportError(
            f"qat fine-tunes a fully grown ProGAN only ({top}x{top}, alpha 1): this generator is at "
            f"{side}x{side}, alpha {float(growth.alpha.numpy()):.2f}; train it until growing ends, "
            "or export the post-training int8 format"
        )
    chain = lower_for_edge(model)
    if latents is not None:
        _check_same_function(model, chain, latents, "cutting ProGAN to its top level")
    return chain


def _check_same_function(original: keras.Model, rewritten: keras.Model, latents: np.ndarray, what: str) -> None:
    expected = original(latents, training=False).numpy()
    difference = float(np.max(np.abs(rewritten(latents, training=False).numpy() - expected)))
    if not difference <= FOLD_TOLERANCE:
        raise ExportError(
            f"{what} changed the generator's output by {difference:.2e}, expected at most {FOLD_TOLERANCE:.0e}"
        )


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
    """Refuse, naming the first layer neither tfmot's default int8 scheme nor ``_own_configs``
    has a quantization for."""
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry,
    )

    supported, own = registry.Default8BitQuantizeRegistry(), _own_configs(model)
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer) or type(layer) in own:
            continue
        if not supported.supports(layer):
            raise ExportError(
                f"qat cannot quantize layer {layer.name!r} ({type(layer).__name__}): tfmot has no int8 "
                "scheme for it; export the post-training int8 format instead"
            )


def quantize_for_training(model: keras.Model) -> keras.Model:
    """``model`` wrapped with fake-quantization, after the checks: tfmot's default int8 scheme,
    with ``_own_configs`` for the layers it has none for."""
    import tensorflow_model_optimization as tfmot

    check_quantizable(model)
    own = _own_configs(model)
    if not own:
        return tfmot.quantization.keras.quantize_model(model)
    quantize = tfmot.quantization.keras
    annotated = keras.Sequential(  # a model with own configs is progan_chain's Sequential chain
        [keras.layers.Input(model.input_shape[1:], name="latent")]
        + [quantize.quantize_annotate_layer(layer, own[type(layer)]()) if type(layer) in own else layer
           for layer in model.layers],
        name=model.name,
    )
    custom = {cls.__name__: cls for cls in (*own, *own.values())}
    with quantize.quantize_scope(custom):
        return quantize.quantize_apply(quantize.quantize_annotate_model(annotated))


def start_ranges_calibrated(quantized: keras.Model, float_form: keras.Model, latents: np.ndarray) -> None:
    """Set the fake quantizers' ranges of ``quantize_for_training(float_form)`` as post-training
    calibration would: each activation range to the min and max (widened to hold 0) of
    that layer's float output on ``latents``, each kernel range to its kernel's.

    Why: tfmot starts every activation range at [-6, 6] and moves it by an exponential
    moving average with decay 0.999 and no debiasing, so after one epoch of 157 batches
    (MNIST's 10,000 digits) a range is still 85% the initial one; the fine-tuning would
    train against, and the converter would write, ranges that fit no layer.
    """
    outputs = dict(zip((layer.name for layer in float_form.layers), _layer_outputs(float_form, latents)))
    outputs[None] = latents  # the model input's quantizer
    for wrapper in quantized.layers:
        inner = getattr(wrapper, "layer", None)
        values = outputs.get(getattr(inner, "name", None))
        for variable in wrapper.weights:
            end = variable.name.split("/")[-1].split(":")[0]
            if end in _RANGE_MIN:
                variable.assign(np.full(variable.shape, min(float(values.min()), 0.0), np.float32))
            elif end in _RANGE_MAX:
                variable.assign(np.full(variable.shape, max(float(values.max()), 0.0), np.float32))
    # The kernels' quantizers (tfmot's LastValueQuantizer) take their weights' range on any
    # training-mode call; the activations' averages move by 0.1% of a batch's range.
    quantized(latents[:1], training=True)


# The names tfmot gives the range variables of an activation's fake quantizer: a layer's
# output (own configs, weightless layers), a Dense or Conv2D after its activation, the input.
_RANGE_MIN = ("output_min", "post_activation_min", "quantize_layer_min")
_RANGE_MAX = ("output_max", "post_activation_max", "quantize_layer_max")


def _layer_outputs(model: keras.Model, latents: np.ndarray) -> list[np.ndarray]:
    """Each layer's output on ``latents``, for a model that is a chain of its layers."""
    outputs, x = [], tf.constant(latents)
    for layer in model.layers:
        x = layer(x, training=False)
        outputs.append(x.numpy())
    return outputs


def _own_configs(model: keras.Model) -> dict[type, type]:
    """Layer type -> the tfmot QuantizeConfig class that makes the fake quantization round
    where the int8 file will. In a generator with pixel norm, full int8 keeps each LeakyReLU
    and pixel norm in float32 (``lowering.int8_float_ops``): the convolution's int8 output is
    dequantized, LeakyReLU and pixel norm run in float, and one QUANTIZE follows. So LeakyReLU
    rounds nothing and pixel norm rounds its output. The lowering's upsampling and reshape
    copy int8 values: they round nothing either. The equalised layers round as tfmot's
    Dense and Conv2D do: the kernel symmetric on 255 levels (per output channel in a
    convolution), the output on 256; rounding ``kernel`` on its range is rounding
    ``kernel * scale`` on the scaled range, the grid the int8 file holds."""
    from gan_edge.export.lowering import NearestUpsampling2x, StaticReshape, int8_float_ops
    from gan_edge.training.models.progan_layers import EqualizedConv2D, EqualizedDense, PixelNorm

    if not int8_float_ops(model):
        return {}
    configs = _quantize_configs()
    return {PixelNorm: configs.rounds_output, keras.layers.LeakyReLU: configs.rounds_nothing,
            NearestUpsampling2x: configs.rounds_nothing, StaticReshape: configs.rounds_nothing,
            EqualizedDense: configs.like_dense, EqualizedConv2D: configs.like_conv}


@functools.cache
def _quantize_configs() -> types.SimpleNamespace:
    """tfmot QuantizeConfig classes (built on first use: tfmot loads slowly): one that rounds
    nothing; one that rounds the layer's output as a QUANTIZE op does (8 bits, asymmetric,
    its range a moving average of the batches' min and max); two that also round the
    ``kernel`` as tfmot's default scheme rounds a Dense's and a Conv2D's."""
    import tensorflow_model_optimization as tfmot

    quantizers = tfmot.quantization.keras.quantizers

    class RoundsNothing(tfmot.quantization.keras.QuantizeConfig):
        def get_weights_and_quantizers(self, layer):
            return []

        def get_activations_and_quantizers(self, layer):
            return []

        def set_quantize_weights(self, layer, quantize_weights):
            pass

        def set_quantize_activations(self, layer, quantize_activations):
            pass

        def get_output_quantizers(self, layer):
            return []

        def get_config(self):
            return {}

    class RoundsOutput(RoundsNothing):
        def get_output_quantizers(self, layer):
            return [quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False,
                                                      narrow_range=False)]

    class RoundsKernelPerTensor(RoundsOutput):
        per_axis = False

        def get_weights_and_quantizers(self, layer):
            return [(layer.kernel, quantizers.LastValueQuantizer(num_bits=8, per_axis=self.per_axis,
                                                                 symmetric=True, narrow_range=True))]

        def set_quantize_weights(self, layer, quantize_weights):
            layer.kernel = quantize_weights[0]  # what the layer's call multiplies by its scale

    class RoundsKernelPerChannel(RoundsKernelPerTensor):
        per_axis = True

    return types.SimpleNamespace(rounds_nothing=RoundsNothing, rounds_output=RoundsOutput,
                                 like_dense=RoundsKernelPerTensor, like_conv=RoundsKernelPerChannel)


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
    check_latents = sample_latent(config.latent_distribution, _CALIBRATION_SAMPLES, config.latent_dim,
                                  np.random.default_rng(config.seed + 3))
    float_form = trainable_form(trained.model, check_latents)
    generator = quantize_for_training(float_form)
    start_ranges_calibrated(generator, float_form, check_latents)
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
