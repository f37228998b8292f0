"""Sweep the toy GAN's training settings over many seeds at once: how the default was found.

``benchmarks/toy_quality.py`` measures the real thing (``gan_edge.training.train``, export,
``gan_edge``) at about 20 s per seed; a sweep over settings needs thousands of runs.
This script re-implements the toy GAN's four-step round for K independent seeds in one
graph: every weight has a leading axis of K (``einsum`` per layer) and Adam, being
element-wise, updates all K models as K separate optimizers would. One setting on 60
seeds takes about 20 s on one core. It follows ``training/loop.py`` step for step
(book gating, R1 on real data in step (a), D warm-up, linear rate decay over the run's
updates), with Keras's initialisers, 10,000 data points per seed and batches of 32; its
noise streams differ from the real loop's, so its seeds are not the real runs' seeds.
A run passes as in toy_quality.py: |mean - 5| <= 0.1 and |std - 1| <= 0.1 in both axes
and |corr| <= 0.1, on 20,000 points. The found default was then checked with the real
code on fresh seeds (toy_quality.py --first-seed 1000).

One setting per line of a JSON-lines file, keys (all optional but d and g):
  d, g       {"lr", "b1", "b2", "final"}: Adam for D and G; "final": the rate reached at
             the end of a linear decay (absent: constant)
  r1         R1 weight gamma (0: off);   loss  "book" (gated) or "standard"
  pretrain   one epoch of D warm-up;     ema   an exponential average of G's weights

    python benchmarks/toy_sweep.py SETTINGS.jsonl [--first-seed 20] [--seeds 60] [--rows]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

HIDDEN, LATENT, BATCH, DATA, EPOCHS, POINTS, TOLERANCE = 16, 4, 32, 10_000, 13, 20_000, 0.1


def _glorot(rng, k: int, fan_in: int, fan_out: int) -> np.ndarray:
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, (k, fan_in, fan_out)).astype(np.float32)


def _optimizer(settings: dict, updates: int):
    rate = settings["lr"]
    if settings.get("final"):
        rate = keras.optimizers.schedules.PolynomialDecay(settings["lr"], updates, settings["final"], power=1.0)
    return keras.optimizers.Adam(rate, beta_1=settings.get("b1", 0.5), beta_2=settings.get("b2", 0.999))


def train_many(setting: dict, seeds: list[int]) -> np.ndarray:
    """Train one toy GAN per seed under ``setting``; their final points, (K, POINTS, 2)."""
    k = len(seeds)
    rng = np.random.default_rng(seeds[0] * 7919 + 17)
    var = tf.Variable
    zeros = lambda *shape: np.zeros((k, *shape), np.float32)  # noqa: E731
    g = [var(_glorot(rng, k, LATENT, HIDDEN)), var(zeros(1, HIDDEN)), var(_glorot(rng, k, HIDDEN, 2)), var(zeros(1, 2))]
    d = [var(_glorot(rng, k, 2, HIDDEN)), var(zeros(1, HIDDEN)), var(_glorot(rng, k, HIDDEN, HIDDEN)),
         var(zeros(1, HIDDEN)), var(_glorot(rng, k, HIDDEN, 1)), var(zeros(1, 1))]
    g_average = [var(v) for v in g]
    data = tf.constant((rng.standard_normal((k, DATA, 2)) + 5.0).astype(np.float32))
    steps = math.ceil(DATA / BATCH)
    warmup = steps if setting.get("pretrain") else 0
    g_opt = _optimizer(setting["g"], 2 * EPOCHS * steps)
    d_opt = _optimizer(setting["d"], 2 * (EPOCHS * steps + warmup))
    g_opt.build(g)
    d_opt.build(d)
    noise = tf.random.Generator.from_seed(seeds[0] + 12345)
    gamma, gated, ema = setting.get("r1", 0.0), setting.get("loss", "standard") == "book", setting.get("ema", 0.0)

    def dense(x, w, b, leaky=True):
        y = tf.einsum("kbi,kio->kbo", x, w) + b
        return tf.where(y > 0, y, 0.1 * y) if leaky else y

    def generate(z, weights):
        return dense(dense(z, *weights[:2]), *weights[2:], leaky=False)

    def logits(x):
        return dense(dense(dense(x, *d[:2]), *d[2:4]), *d[4:], leaky=False)

    def reduce(per_sample, gate):  # the book's gating: gated-out samples weigh 0
        weights = tf.cast(gate, tf.float32) if gated else 1.0
        return tf.reduce_sum(tf.reduce_mean(per_sample * weights, axis=[1, 2]))  # sum over the K models

    def d_step(x, real: bool):  # (a) and (c)
        with tf.GradientTape() as tape:
            with tf.GradientTape() as input_tape:
                input_tape.watch(x)
                logit = logits(x)
                total = tf.reduce_sum(logit)
            target = tf.ones_like(logit) if real else tf.zeros_like(logit)
            per_sample = tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=logit)
            loss = reduce(per_sample, logit < 0 if real else logit >= 0)
            if real and gamma > 0:
                grad = input_tape.gradient(total, x)
                loss += 0.5 * gamma * tf.reduce_sum(tf.reduce_mean(tf.reduce_sum(grad * grad, -1), 1))
        d_opt.apply_gradients(zip(tape.gradient(loss, d), d))

    def g_step(n):  # (b) and (d)
        with tf.GradientTape() as tape:
            logit = logits(generate(noise.uniform([k, n, LATENT]), g))
            per_sample = tf.nn.sigmoid_cross_entropy_with_logits(labels=tf.ones_like(logit), logits=logit)
            loss = reduce(per_sample, logit < 0)
        g_opt.apply_gradients(zip(tape.gradient(loss, g), g))
        if ema:
            for average, v in zip(g_average, g):
                average.assign(ema * average + (1 - ema) * v)

    @tf.function
    def epoch(order, with_g: bool):
        for i in tf.range(steps):
            real = tf.gather(data, order[:, i * BATCH:(i + 1) * BATCH], batch_dims=1)
            n = tf.shape(real)[1]
            d_step(real, True)
            if with_g:
                g_step(n)
            d_step(generate(noise.uniform([k, n, LATENT]), g), False)
            if with_g:
                g_step(n)

    shuffle = np.random.default_rng(seeds[0] + 99)
    order = lambda: tf.constant(np.argsort(shuffle.random((k, DATA)), axis=1).astype(np.int32))  # noqa: E731
    if warmup:
        epoch(order(), False)
    for _ in range(EPOCHS):
        epoch(order(), True)
    z = np.random.default_rng(seeds[0] + 1).random((k, POINTS, LATENT)).astype(np.float32)
    return generate(tf.constant(z), g_average if ema else g).numpy()


def measure(points: np.ndarray) -> dict[str, np.ndarray]:
    mean, std = points.mean(axis=1), points.std(axis=1)
    corr = np.array([np.corrcoef(p[:, 0], p[:, 1])[0, 1] for p in points])
    worst = np.maximum(np.abs(mean - 5).max(1), np.maximum(np.abs(std - 1).max(1), np.abs(corr)))
    return {"mean": mean, "std": std, "corr": corr, "worst": worst, "passed": worst <= TOLERANCE}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("settings", type=Path, help="a JSON-lines file, one setting per line")
    parser.add_argument("--first-seed", type=int, default=20)
    parser.add_argument("--seeds", type=int, default=60)
    parser.add_argument("--rows", action="store_true", help="print each failing seed")
    args = parser.parse_args()
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    print(f"toy GAN sweep: seeds {seeds[0]}-{seeds[-1]}, {EPOCHS} epochs, pass: mean, std within {TOLERANCE} "
          f"per axis and |corr| <= {TOLERANCE} on {POINTS:,} points")
    print(f"{'passed':>7} {'median |corr|':>14} {'median worst':>13} {'s':>4}  setting")
    for line in args.settings.read_text().splitlines():
        if not line.strip():
            continue
        setting = json.loads(line)
        started = time.perf_counter()
        m = measure(train_many(setting, seeds))
        print(f"{m['passed'].sum():>3}/{len(seeds):<3} {np.median(np.abs(m['corr'])):>14.3f} "
              f"{np.median(m['worst']):>13.3f} {time.perf_counter() - started:>4.0f}  {json.dumps(setting)}", flush=True)
        if args.rows:
            for i in np.flatnonzero(~m["passed"]):
                print(f"    seed {seeds[i]}: mean {m['mean'][i].round(3)} std {m['std'][i].round(3)} "
                      f"corr {m['corr'][i]:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
