"""The four-step round: frozen networks stay frozen, gating follows the book, counts add up."""

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from gan_edge.training.config import default_config
from gan_edge.training.data import batches
from gan_edge.training.data.toy import gaussian_points
from gan_edge.training.loop import FourStepRound
from gan_edge.training.models import model_family
from gan_edge.training.train import build_optimizer


def make_round(loss_mode="standard", seed=0):
    config = default_config().with_overrides({"loss_mode": loss_mode, "seed": seed})
    keras.utils.set_random_seed(seed)
    family = model_family("toy2d")
    return FourStepRound(
        family.build_generator(config),
        family.build_discriminator(config),
        build_optimizer(config.g_optimizer),
        build_optimizer(config.d_optimizer),
        latent_dim=4,
        latent_distribution="uniform01",
        loss_mode=loss_mode,
        seed=seed,
    )


def weights(model):
    return [w.numpy().copy() for w in model.weights]


def same(before, after):
    return all(np.array_equal(a, b) for a, b in zip(before, after))


def real_batch(n=32):
    return tf.constant(gaussian_points(n, (5.0, 5.0), 1.0, seed=1))


@pytest.mark.parametrize("loss_mode", ["standard", "book", "rpgan"])
def test_generator_step_leaves_discriminator_bit_for_bit(loss_mode):
    round_ = make_round(loss_mode)
    d_before, g_before = weights(round_.discriminator), weights(round_.generator)
    d_iterations = int(round_.d_optimizer.iterations.numpy())
    round_.generator_step(tf.constant(32), real_logits=tf.zeros([32]))
    assert same(d_before, weights(round_.discriminator))
    assert int(round_.d_optimizer.iterations.numpy()) == d_iterations
    assert not same(g_before, weights(round_.generator)), "G should have learned"


@pytest.mark.parametrize("is_real", [True, False])
def test_discriminator_step_leaves_generator_bit_for_bit(is_real):
    round_ = make_round()
    g_before, d_before = weights(round_.generator), weights(round_.discriminator)
    g_iterations = int(round_.g_optimizer.iterations.numpy())
    samples = real_batch() if is_real else round_.generator(round_.sample_latent(32), training=False)
    round_.discriminator_step(samples, is_real=is_real)
    assert same(g_before, weights(round_.generator))
    assert int(round_.g_optimizer.iterations.numpy()) == g_iterations
    assert not same(d_before, weights(round_.discriminator))


def force_discriminator_output(round_, called_real: bool):
    """Shift D's last bias so it calls every sample real (or fake), keeping its slope."""
    bias = round_.discriminator.layers[-1].bias
    bias.assign(bias + (12.0 if called_real else -12.0))


def calls_all_real(round_, samples) -> bool:
    return bool(tf.reduce_all(round_.discriminator(samples, training=False) >= 0.5))


def test_book_mode_true_positives_change_nothing():
    # D calls every real sample real (TP): in step (a) it has no mistake to learn from.
    round_ = make_round("book")
    force_discriminator_output(round_, called_real=True)
    before = weights(round_.discriminator)
    _, called_real = round_.discriminator_step(real_batch(), is_real=True)
    assert bool(tf.reduce_all(called_real))
    assert same(before, weights(round_.discriminator))


def test_book_mode_generator_learns_only_from_caught_fakes():
    # D calls every fake real (no TN): G has nothing to learn from in steps (b)/(d).
    round_ = make_round("book")
    force_discriminator_output(round_, called_real=True)
    assert calls_all_real(round_, round_.generator(round_.sample_latent(256), training=False))
    before = weights(round_.generator)
    round_.generator_step(tf.constant(32))
    assert same(before, weights(round_.generator))
    # The same situation in standard mode still moves G.
    standard = make_round("standard")
    force_discriminator_output(standard, called_real=True)
    before = weights(standard.generator)
    standard.generator_step(tf.constant(32))
    assert not same(before, weights(standard.generator))


def test_book_mode_discriminator_learns_from_its_mistakes():
    round_ = make_round("book")
    force_discriminator_output(round_, called_real=False)  # every real sample called fake: all FN
    before = weights(round_.discriminator)
    round_.discriminator_step(real_batch(), is_real=True)
    assert not same(before, weights(round_.discriminator))


@pytest.mark.parametrize("loss_mode", ["standard", "rpgan"])
def test_run_rounds_counts_every_sample_once_and_is_reproducible(loss_mode):
    points = gaussian_points(100, (5.0, 5.0), 1.0, seed=0)
    results = []
    for _ in range(2):
        round_ = make_round(loss_mode, seed=3)
        totals = round_.run_rounds(iter(batches(points, 32, seed=3)), tf.constant(4))
        results.append({k: v.numpy() for k, v in totals.items()})
    totals = results[0]
    # 4 rounds: three full batches of 32 and the epoch's last batch of 4.
    assert totals["tp"] + totals["fn"] == 100
    assert totals["fp"] + totals["tn"] == 100
    assert np.isfinite(totals["d_loss"]) and np.isfinite(totals["g_loss"])
    assert results[0] == pytest.approx(results[1])


def test_unknown_loss_mode_is_refused():
    from gan_edge.errors import ConfigError

    round_ = make_round()
    with pytest.raises(ConfigError, match="unknown loss_mode 'wgan'"):
        FourStepRound(round_.generator, round_.discriminator, round_.g_optimizer, round_.d_optimizer,
                      latent_dim=4, latent_distribution="uniform01", loss_mode="wgan", seed=0)


def r1_round(r1_gamma, loss_mode="standard", seed=0, r2_gamma=0.0):
    """A toy round whose networks learn by plain SGD, so a step's change is -rate * gradient."""
    config = default_config().with_overrides({"seed": seed})
    keras.utils.set_random_seed(seed)
    family = model_family("toy2d")
    return FourStepRound(
        family.build_generator(config), family.build_discriminator(config),
        keras.optimizers.SGD(0.1), keras.optimizers.SGD(0.1),
        latent_dim=4, latent_distribution="uniform01", loss_mode=loss_mode, seed=seed, r1_gamma=r1_gamma,
        r2_gamma=r2_gamma,
    )


def logits_by_hand(d, samples):
    """D's logits from its last layer's pre-activation (not recovered from the sigmoid)."""
    h = samples
    for layer in d.layers[:-1]:
        h = layer(h, training=True)
    last = d.layers[-1]
    return tf.squeeze(tf.matmul(h, last.kernel) + last.bias, -1)


def sgd_step(variables, loss_fn, rate=0.1):
    """The weights one plain SGD step on ``loss_fn()`` would give, without taking it."""
    with tf.GradientTape() as tape:
        loss = loss_fn()
    return [v.numpy() - rate * g.numpy() for v, g in zip(variables, tape.gradient(loss, variables))]


def penalised_cross_entropy(d, samples, target: float, gamma: float) -> tf.Tensor:
    """D's cross-entropy on ``samples`` labelled ``target`` plus the zero-centred penalty
    gamma / 2 * E ||grad_x logit||^2 (R1 on reals, R2 on fakes), by their definitions."""
    with tf.GradientTape() as input_tape:
        input_tape.watch(samples)
        logits = logits_by_hand(d, samples)
    penalty = 0.5 * gamma * tf.reduce_mean(tf.reduce_sum(tf.square(input_tape.gradient(logits, samples)), axis=1))
    assert float(penalty) > 1e-4, "the test needs a D that is not flat on the samples"
    labels = tf.fill(tf.shape(logits), target)
    return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, logits)) + penalty


def assert_weights(model, expected):
    for got, want in zip(weights(model), expected):
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-6)


def test_r1_adds_the_gradient_penalty_of_the_logits_on_real_data():
    gamma = 3.0
    round_ = r1_round(gamma)
    d = round_.discriminator
    real = real_batch()

    # The expected step, computed another way: logits straight from the last layer's
    # pre-activation (not recovered from the sigmoid), and R1 by its definition.
    expected = sgd_step(d.trainable_variables, lambda: penalised_cross_entropy(d, real, 1.0, gamma))
    round_.discriminator_step(real, True)
    assert_weights(d, expected)
    # And the penalty made a difference: without it the step lands elsewhere.
    plain = r1_round(0.0)
    plain.discriminator_step(real, True)
    assert not all(np.allclose(a, b, atol=1e-6) for a, b in zip(weights(plain.discriminator), weights(d)))


@pytest.mark.parametrize("loss_mode", ["standard", "book"])
def test_r1_leaves_the_steps_on_fakes_and_of_g_unchanged(loss_mode):
    with_r1, without = r1_round(5.0, loss_mode), r1_round(0.0, loss_mode)
    for round_ in (with_r1, without):
        fakes = round_.generator(round_.sample_latent(32), training=False)
        round_.discriminator_step(fakes, False)  # (c)
        round_.generator_step(tf.constant(32))  # (b)/(d)
    assert same(weights(with_r1.discriminator), weights(without.discriminator))
    assert same(weights(with_r1.generator), weights(without.generator))


def test_r1_weighs_every_real_sample_under_the_books_gating():
    # The book's gating drops real samples D already calls real; R1 still sees them.
    round_ = r1_round(5.0, "book")
    real = real_batch()
    p_real = round_.discriminator(real, training=False).numpy()
    d = round_.discriminator
    # Shift D's last bias so it calls every real sample real (smallest logit 3): the
    # gated cross-entropy is then zero.
    shift = 3.0 - float(np.log(p_real.min() / (1 - p_real.min())))
    d.layers[-1].bias.assign(d.layers[-1].bias + shift)
    before = weights(d)
    round_.discriminator_step(real, True)
    assert not same(before, weights(d)), "R1 should move D even when (a) made no mistake"
    plain = r1_round(0.0, "book")
    plain.discriminator.layers[-1].bias.assign(plain.discriminator.layers[-1].bias + shift)
    plain_before = weights(plain.discriminator)
    plain.discriminator_step(real, True)
    assert same(plain_before, weights(plain.discriminator)), "without R1 and without mistakes D stays"


# -- the relativistic pairing loss (rpgan) and R2 ------------------------------------------


def test_rpgan_steps_a_and_c_together_take_the_whole_pair_loss_gradient():
    # Step (a) differentiates softplus(fake - real) through the reals, (c) through the
    # fakes; from the same weights their two changes add up to one SGD step on the pair
    # loss itself (the sum of the two updates is the pair loss's full gradient for D).
    real = real_batch()
    probe = r1_round(0.0, "rpgan")
    fakes = probe.generator(probe.sample_latent(32), training=False)
    start = weights(probe.discriminator)
    d = probe.discriminator
    whole = sgd_step(d.trainable_variables,
                     lambda: tf.reduce_mean(tf.math.softplus(logits_by_hand(d, fakes) - logits_by_hand(d, real))))
    moves = []
    for is_real in (True, False):
        round_ = r1_round(0.0, "rpgan")
        partners = round_._judged(fakes if is_real else real)
        round_.discriminator_step(real if is_real else fakes, is_real, partner_logits=partners)
        moves.append([a - b for a, b in zip(weights(round_.discriminator), start)])
    for w0, w1, move_a, move_c in zip(start, whole, *moves):
        np.testing.assert_allclose(w0 + move_a + move_c, w1, rtol=1e-4, atol=1e-6)
    assert any(np.abs(m).max() > 1e-5 for m in moves[0]) and any(np.abs(m).max() > 1e-5 for m in moves[1])


def test_rpgan_generator_step_raises_its_fakes_above_the_paired_reals():
    round_ = r1_round(0.0, "rpgan")
    real = real_batch()
    z = round_.sample_latent(32)
    real_logits = round_._judged(real)
    d, g = round_.discriminator, round_.generator
    expected = sgd_step(g.trainable_variables, lambda: tf.reduce_mean(
        tf.math.softplus(real_logits - logits_by_hand(d, g(z, training=True)))))
    round_.generator_step(tf.constant(32), z, real_logits=real_logits)
    assert_weights(g, expected)


def test_r2_penalises_the_gradient_on_fakes_in_step_c_only():
    gamma = 3.0
    round_ = r1_round(0.0, r2_gamma=gamma)
    d = round_.discriminator
    fakes = round_.generator(round_.sample_latent(32), training=False)

    expected = sgd_step(d.trainable_variables, lambda: penalised_cross_entropy(d, fakes, 0.0, gamma))
    round_.discriminator_step(fakes, False)
    assert_weights(d, expected)
    # Step (a) on the reals is R1's business: R2 leaves it as it was.
    with_r2, without = r1_round(0.0, r2_gamma=gamma), r1_round(0.0)
    for each in (with_r2, without):
        each.discriminator_step(real_batch(), True)
    assert same(weights(with_r2.discriminator), weights(without.discriminator))
