"""The book's four-step learning round (Glassner, ch. 22), and nothing else.

Each round takes one batch of real samples and runs, in this order:
  (a) false-negative step: D judges real samples labelled real; only D learns.
  (b) true-negative step:  G makes fakes from fresh noise, D judges them, the
      gradient flows back through D into G; only G learns (D is frozen).
  (c) false-positive step: fresh fakes labelled fake; only D learns (G is frozen).
  (d) the true-negative step again; only G learns.

"Positive" means "D says real". A frozen network is called with ``training=False``
and its variables are never handed to an optimizer, so a step cannot change it.

Three loss modes:
  standard  binary cross-entropy on every sample (G uses the non-saturating
            form: fakes labelled real), the usual practice.
  book      per-sample gating as the book's flowcharts draw it: D learns only
            from its mistakes (FN in (a), FP in (c)); G learns only from the fakes
            D caught (TN in (b) and (d)); TP samples change nothing. Gated-out
            samples weigh zero and the sum is divided by the batch size, so a step
            with fewer mistakes moves the weights less.
  rpgan     the relativistic pairing loss (Jolicoeur-Martineau, 2019; R3GAN, Huang et
            al., 2024): the i-th real sample is paired with the i-th fake, and D's loss
            is softplus(logit(fake) - logit(real)), G's softplus(logit(real) -
            logit(fake)). D judges each fake against a real one rather than against a
            fixed threshold, so G cannot win by moving every fake to one spot D rates
            highly: that is what costs modes. In the round each step keeps its one
            side: (a) differentiates the pair loss through the reals only, the paired
            fakes' logits held constant; (c) through the fakes only, the reals'
            logits held constant (so (a) + (c) is the pair loss's whole gradient for
            D, taken in two updates as the book takes it); (b) and (d) through the
            fakes, against the batch's reals judged by the current D.

Regularisers of D join its steps: R1 (Mescheder, Geiger and Nowozin, 2018) in (a), a
zero-centred gradient penalty on real data, gamma / 2 * E ||grad_x logit D(x)||^2, and R2
in (c), the same penalty on the fakes. R1 vanishes where D is flat on the data, so it
does not move the game's equilibrium; it damps the orbiting around it that plain
gradient play keeps up (in the toy GAN, the generator otherwise settles on a tilted line:
benchmarks/toy_quality.py). R3GAN needs both with the pairing loss: R1 alone lets D
grow steep where the fakes are, and the game diverges.

The recorded ``d_loss`` and ``g_loss`` are always the full cross-entropies (the
quantities of the book's Figure 22-20), whichever mode trains. The confusion
counts come from (a) for TP/FN and from (c) for FP/TN, measured before that
step's update (under rpgan they say where D's logits fall against 0, which that
loss does not train for).
"""

from __future__ import annotations

import contextlib

import tensorflow as tf
import tf_keras as keras

from gan_edge.errors import ConfigError
from gan_edge.training.config import LOSS_MODES

__all__ = ["FourStepRound", "ROUND_METRICS", "accumulate_rounds"]

# Sums accumulated over the rounds of one call; losses are turned into means per round.
ROUND_METRICS = ("d_loss", "g_loss", "tp", "fn", "fp", "tn")


# Keras clips probabilities the same way before taking logs.
_EPSILON = 1e-7


def _binary_cross_entropy(target: tf.Tensor, p_real: tf.Tensor) -> tf.Tensor:
    """Per-sample binary cross-entropy of probabilities (D ends in a sigmoid)."""
    p = tf.clip_by_value(p_real, _EPSILON, 1.0 - _EPSILON)
    return -(target * tf.math.log(p) + (1.0 - target) * tf.math.log(1.0 - p))


def _logits(p_real: tf.Tensor) -> tf.Tensor:
    """D's logits from its probabilities (every D here ends in a sigmoid): R1 is
    defined on the logit, whose gradient is grad p / (p (1 - p)).

    Where float32 rounds the sigmoid to 0 or 1 (|logit| above about 16) the clip makes
    the recovered logit flat, so R1 sees no gradient there; a D under R1 stays far
    from that, its logits near 0 on the data."""
    p = tf.clip_by_value(p_real, _EPSILON, 1.0 - _EPSILON)
    return tf.math.log(p) - tf.math.log1p(-p)


def _record_if(condition: bool, tape: tf.GradientTape):
    """``tape`` as a context when ``condition`` holds, else a context that records nothing."""
    return tape if condition else contextlib.nullcontext()


class FourStepRound:
    """Owns the two networks, their optimizers and the noise source for training.

    Call ``run_rounds(iterator, steps)`` to train on ``steps`` batches inside one
    compiled graph; it returns per-round mean losses and summed confusion counts.
    """

    # G learns in steps (b) and (d): a learning rate that decays over a run decays over
    # twice its rounds (a subclass that steps G otherwise says so here).
    G_UPDATES_PER_ROUND = 2

    def __init__(
        self,
        generator: keras.Model,
        discriminator: keras.Model,
        g_optimizer,
        d_optimizer,
        *,
        latent_dim: int,
        latent_distribution: str,
        loss_mode: str,
        seed: int,
        r1_gamma: float = 0.0,
        r2_gamma: float = 0.0,
        generator_penalty=None,
        average=None,
    ) -> None:
        if loss_mode not in LOSS_MODES:
            raise ConfigError(f"unknown loss_mode {loss_mode!r}: expected one of {', '.join(LOSS_MODES)}")
        self.generator = generator
        self.discriminator = discriminator
        self.g_optimizer = g_optimizer
        self.d_optimizer = d_optimizer
        self.latent_dim = latent_dim
        self.latent_distribution = latent_distribution
        self.book_gating = loss_mode == "book"
        self.paired = loss_mode == "rpgan"
        self.r1_gamma = float(r1_gamma)
        self.r2_gamma = float(r2_gamma)
        # ``generator_penalty(z, fakes)`` -> a per-sample term added to G's loss in (b) and
        # (d), whatever the loss mode gates (distillation's imitation of a teacher:
        # training/distill.py).
        self.generator_penalty = generator_penalty
        # A ``GeneratorAverage`` (training/averaging.py) updated after each round, or None.
        self.average = average
        # A stateful generator, saved in checkpoints, so a resumed run draws the same noise.
        self.noise = tf.random.Generator.from_seed(seed)
        # Built eagerly so that the compiled functions never create variables.
        g_optimizer.build(generator.trainable_variables)
        d_optimizer.build(discriminator.trainable_variables)

    def sample_latent(self, n) -> tf.Tensor:
        shape = tf.stack([n, self.latent_dim])
        if self.latent_distribution == "uniform01":
            return self.noise.uniform(shape, 0.0, 1.0)
        if self.latent_distribution == "uniform11":
            return self.noise.uniform(shape, -1.0, 1.0)
        return self.noise.normal(shape)

    # -- the four steps -------------------------------------------------------------

    def discriminator_step(self, samples: tf.Tensor, is_real: bool, global_size=None, partner_logits=None):
        """Steps (a) (real samples, R1) and (c) (fakes, R2): only D is updated.

        ``partner_logits`` (rpgan): D's logits on the samples each one is paired with,
        held constant. ``global_size`` (tf.distribute, ``training/distribute.py``): this
        replica's samples are a slice of a global batch of that size; losses are sums
        over the slice divided by it, so summing over replicas gives the global mean.
        """
        gamma = self.r1_gamma if is_real else self.r2_gamma
        penalised = gamma > 0.0
        # The penalty needs the gradient of D's logits with respect to the samples: a
        # second tape records D's forward pass on them, only when the penalty is on.
        input_tape = tf.GradientTape(watch_accessed_variables=False)
        with tf.GradientTape() as tape:
            with _record_if(penalised, input_tape):
                if penalised:
                    input_tape.watch(samples)
                p_real = tf.squeeze(self.discriminator(samples, training=True), axis=-1)
                logits = _logits(p_real)
                # Summing the logits keeps their gradients per sample: each depends on its own
                # sample only (the batch-wise remedies aside, as in R1's usual implementations).
                logit_sum = tf.reduce_sum(logits) if penalised else None
            target = tf.ones_like(p_real) if is_real else tf.zeros_like(p_real)
            per_sample = _binary_cross_entropy(target, p_real)
            called_real = p_real >= 0.5
            if self.paired:  # D wants each real above its fake: softplus(fake - real)
                margin = logits - partner_logits if is_real else partner_logits - logits
                loss = self._mean(tf.math.softplus(-margin), global_size)
            else:
                # (a) learns from FN (real called fake), (c) from FP (fake called real).
                mistakes = tf.logical_not(called_real) if is_real else called_real
                loss = self._reduce(per_sample, mistakes, global_size)
            if penalised:  # weighs every sample, whatever the loss mode gates
                gradients = input_tape.gradient(logit_sum, samples)
                norms = tf.reduce_sum(tf.reshape(tf.square(gradients), [tf.shape(gradients)[0], -1]), axis=1)
                loss += 0.5 * gamma * self._mean(norms, global_size)
        variables = self.discriminator.trainable_variables
        self.d_optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._mean(per_sample, global_size), called_real

    def generator_step(self, batch_size, z=None, global_size=None, real_logits=None):
        """Steps (b) and (d): G learns through a frozen D (from latents ``z``, else fresh
        ones); under rpgan each fake is paired with a real one, ``real_logits`` held constant."""
        z = self.sample_latent(batch_size) if z is None else z
        with tf.GradientTape() as tape:
            fakes = self.generator(z, training=True)
            p_real = tf.squeeze(self.discriminator(fakes, training=False), axis=-1)
            # Non-saturating form: G wants its fakes called real.
            per_sample = _binary_cross_entropy(tf.ones_like(p_real), p_real)
            if self.paired:  # G wants each fake above its real: softplus(real - fake)
                loss = self._mean(tf.math.softplus(real_logits - _logits(p_real)), global_size)
            else:
                caught = p_real < 0.5  # TN: the fakes D caught
                loss = self._reduce(per_sample, caught, global_size)
            if self.generator_penalty is not None:
                loss += self._mean(self.generator_penalty(z, fakes), global_size)
        variables = self.generator.trainable_variables
        self.g_optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return self._mean(per_sample, global_size)

    def _judged(self, samples: tf.Tensor):
        """D's logits on ``samples`` as constants (rpgan's partners), None for the other modes."""
        if not self.paired:
            return None
        return tf.stop_gradient(_logits(tf.squeeze(self.discriminator(samples, training=False), axis=-1)))

    @staticmethod
    def _mean(per_sample: tf.Tensor, global_size) -> tf.Tensor:
        if global_size is None:
            return tf.reduce_mean(per_sample)
        return tf.reduce_sum(per_sample) / tf.cast(global_size, per_sample.dtype)

    def _reduce(self, per_sample: tf.Tensor, gate: tf.Tensor, global_size=None) -> tf.Tensor:
        if global_size is not None:  # a replica's share: its (gated) sum over the global batch
            weights = tf.cast(gate, per_sample.dtype) if self.book_gating else tf.ones_like(per_sample)
            return tf.reduce_sum(per_sample * weights) / tf.cast(global_size, per_sample.dtype)
        if not self.book_gating:
            return tf.reduce_mean(per_sample)
        weights = tf.cast(gate, per_sample.dtype)
        return tf.reduce_sum(per_sample * weights) / tf.cast(tf.size(per_sample), per_sample.dtype)

    def round(self, real: tf.Tensor, noise=None, global_size=None) -> dict[str, tf.Tensor]:
        """One learning round on one batch of real samples, steps (a) to (d).

        On one device the latents are drawn here. Under tf.distribute ``noise`` holds
        this replica's slices of the latents of (b), (c) and (d), drawn beforehand,
        and ``global_size`` the global batch (see ``discriminator_step``).
        """
        n = tf.shape(real)[0]
        z_b, z_c, z_d = noise or (None, None, None)
        fake_logits = None
        if self.paired:  # (a) pairs the reals with fakes of (c)'s latents, made by G before (b)
            z_c = self.sample_latent(n) if z_c is None else z_c
            fake_logits = self._judged(self.generator(z_c, training=False))
        loss_real, real_called_real = self.discriminator_step(real, True, global_size, fake_logits)  # (a)
        real_logits = self._judged(real)  # D after (a), as (b) and (c) see it
        g_loss_b = self.generator_step(n, z_b, global_size, real_logits)  # (b)
        fakes = self.generator(self.sample_latent(n) if z_c is None else z_c, training=False)
        loss_fake, fake_called_real = self.discriminator_step(fakes, False, global_size, real_logits)  # (c)
        g_loss_d = self.generator_step(n, z_d, global_size, self._judged(real))  # (d): D after (c)
        count = lambda mask: tf.reduce_sum(tf.cast(mask, tf.int64))  # noqa: E731
        return {
            "d_loss": loss_real + loss_fake,
            "g_loss": (g_loss_b + g_loss_d) / 2.0,
            "tp": count(real_called_real),
            "fn": count(tf.logical_not(real_called_real)),
            "fp": count(fake_called_real),
            "tn": count(tf.logical_not(fake_called_real)),
        }

    def pretrain_round(self, real: tf.Tensor, noise=None, global_size=None) -> dict[str, tf.Tensor]:
        """Steps (a) and (c) only: the optional warm-up of D before the game starts."""
        n = tf.shape(real)[0]
        (z_c,) = noise or (None,)
        # G does not learn here, so its fakes can be made before (a) for rpgan's pairs.
        fakes = self.generator(self.sample_latent(n) if z_c is None else z_c, training=False)
        loss_real, real_called_real = self.discriminator_step(real, True, global_size, self._judged(fakes))
        loss_fake, fake_called_real = self.discriminator_step(fakes, False, global_size, self._judged(real))
        count = lambda mask: tf.reduce_sum(tf.cast(mask, tf.int64))  # noqa: E731
        return {
            "d_loss": loss_real + loss_fake,
            "g_loss": tf.constant(float("nan")),
            "tp": count(real_called_real),
            "fn": count(tf.logical_not(real_called_real)),
            "fp": count(fake_called_real),
            "tn": count(tf.logical_not(fake_called_real)),
        }

    @property
    def published(self) -> keras.Model:
        """The generator the run measures, samples and exports: the average when there is one."""
        return self.generator if self.average is None else self.average.model

    # -- many rounds in one graph ---------------------------------------------------

    @tf.function
    def run_rounds(self, iterator, steps) -> dict[str, tf.Tensor]:
        """Train ``steps`` rounds, pulling batches from ``iterator``, in one graph."""
        return self._accumulate(self._round_then_average, iterator, steps)

    def _round_then_average(self, real: tf.Tensor) -> dict[str, tf.Tensor]:
        metrics = self.round(real)
        if self.average is not None:
            self.average.update(tf.shape(real)[0])
        return metrics

    @tf.function
    def run_pretrain_rounds(self, iterator, steps) -> dict[str, tf.Tensor]:
        return self._accumulate(self.pretrain_round, iterator, steps)

    @staticmethod
    def _accumulate(round_fn, iterator, steps) -> dict[str, tf.Tensor]:
        return accumulate_rounds(lambda: round_fn(next(iterator)), steps)


def accumulate_rounds(one_round, steps) -> dict[str, tf.Tensor]:
    """Call ``one_round() -> metrics`` ``steps`` times in a graph loop (call it inside a
    ``tf.function``); return the losses as means per round, the confusion counts summed.

    The one accumulator of rounds: ``FourStepRound`` and ``gan_edge.training.distribute``'s
    ``DistributedRound`` (whose round pulls, draws and reduces over replicas) both use it.
    """
    totals = {
        "d_loss": tf.constant(0.0),
        "g_loss": tf.constant(0.0),
        **{k: tf.constant(0, tf.int64) for k in ("tp", "fn", "fp", "tn")},
    }
    for _ in tf.range(steps):
        metrics = one_round()
        totals = {k: totals[k] + metrics[k] for k in totals}
    rounds = tf.cast(tf.maximum(steps, 1), tf.float32)
    totals["d_loss"] = totals["d_loss"] / rounds
    totals["g_loss"] = totals["g_loss"] / rounds
    return totals
