"""How fast is one DCGAN learning round on this CPU, in gan-edge and in the usual styles?

Times ONE learning round on MNIST at batch 128 (the "dcgan" preset: the book's
DCGAN, Adam 2e-4 beta_1 0.5 for both networks, latents uniform in [-1, 1]), with
fresh builds of the same models and optimizers, in the same process:

  gan-edge        ``FourStepRound.run_rounds(iterator, R)``: R rounds of steps
                  (a)-(d) in one ``tf.function`` graph (2 D updates, 2 G updates).
  gan-edge XLA    the same round compiled with ``tf.function(jit_compile=True)``.
                  XLA can compile neither the whole ``run_rounds`` (its
                  ``IteratorGetNext`` has no XLA kernel) nor the DCGAN's round as
                  built (``UpSampling2D``'s gradient, ``ResizeNearestNeighborGrad``,
                  has no XLA CPU kernel); so the round body is jit-compiled inside
                  the plain loop, with G's ``UpSampling2D`` swapped for the same
                  nearest-neighbour upsampling written with ``tf.repeat``.
  gan-edge bf16   the plain loop with both networks built under the
                  ``mixed_bfloat16`` policy, the last layers (tanh image, sigmoid
                  p_real) kept in float32; bf16 needs no loss scaling. Measured only
                  where /proc/cpuinfo lists avx512_bf16 or amx_bf16.
  keras (book)    Gildenblat's Keras DCGAN, which the book cites: fakes from
                  ``g.predict``, D compiled and ``train_on_batch`` on reals and fakes
                  concatenated (labels 1 and 0), then a combined G -> frozen D
                  ``train_on_batch`` (1 D update on 2x128 images, 1 G update).
  tf tutorial     the TensorFlow DCGAN tutorial: one ``tf.function`` step, two tapes,
                  both networks updated once, called from a Python loop over tf.data.

The styles do different work per round, so beside images/s (real images consumed
per second) each gets its FLOPs, counted analytically from the layer shapes.
Counting rule: a forward pass of a network on one sample costs 2 x its
Dense/Conv2D multiply-accumulates (bias, activation, pooling, upsampling and batch
norm are ignored); a backward pass costs 2 x the forward (input gradients plus
weight gradients), applied to every backward pass alike, which slightly overcounts
the backward passes through a frozen D and the unneeded input gradient of D's first
convolution. Per real image, in forward-pass units (G, D):
  gan-edge      (a) D 3; (b) G 3, D 3; (c) G 1 (fakes), D 3; (d) G 3, D 3  -> G 7, D 12
  keras (book)  predict G 1; D on 2 images 2 x 3; combined G 3, D 3        -> G 4, D 9
  tf tutorial   G 1 + 2; D real 1 + 2; D fake 1 + 2 (D tape) + 2 (G tape)  -> G 3, D 8
The CPU's fp32 peak is cores x GHz x FLOPs per cycle, the last from the ISA flags
(stated in the output): it is an upper bound, not a promise.

Each style warms up (tracing, compiling, oneDNN primitive creation), then the
measured repetitions alternate between the styles so that load from other work on
the shared cores falls on all alike. Nothing here asserts on a time.

Run: .venv/bin/python benchmarks/dcgan_speed.py [--repeats N] [--rounds R] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's start-up chatter out of the report
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

from gan_edge.training.config import default_config  # noqa: E402
from gan_edge.training.data.mnist import load_mnist, to_model_range  # noqa: E402
from gan_edge.training.loop import FourStepRound  # noqa: E402
from gan_edge.training.models import model_family  # noqa: E402
from gan_edge.training.train import build_optimizer, build_round, round_for  # noqa: E402

# The project keeps a copy of shared/ beside the repository (the MNIST test split).
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"
# Network passes per real image, in forward-pass units (see the docstring).
PASSES = {"gan-edge": (7, 12), "keras (book)": (4, 9), "tf tutorial": (3, 8)}
BF16_FLAGS = ("avx512_bf16", "amx_bf16")
XLA_GAIN_TO_KEEP = 0.10  # a speed option earns a config field at 10% or more


# -- the machine ----------------------------------------------------------------------


def cpu_info() -> dict[str, object]:
    text = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    flags = set(fields.get("flags", "").split())
    mhz = float(fields.get("cpu MHz", "nan"))
    cores = os.cpu_count() or 1
    if "avx512f" in flags:
        per_cycle, isa = 64, "avx512f: 2 FMA units x 16 fp32 lanes x 2 FLOPs"
    elif {"avx2", "fma"} <= flags:
        per_cycle, isa = 32, "avx2+fma: 2 FMA units x 8 fp32 lanes x 2 FLOPs"
    else:
        per_cycle, isa = 8, "sse: 2 units x 4 fp32 lanes, no FMA"
    return {
        "model": fields.get("model name", "unknown"),
        "cores": cores,
        "mhz": mhz,
        "flops_per_cycle": per_cycle,
        "peak_gflops": cores * mhz / 1000.0 * per_cycle,
        "peak_rule": f"{cores} cores x {mhz / 1000:.2f} GHz (cpu MHz in /proc/cpuinfo) x {per_cycle} "
        f"FLOPs/cycle ({isa}; 2 FMA units per core assumed)",
        "bf16_flags": [f for f in BF16_FLAGS if f in flags],
        "simd_flags": sorted(f for f in flags if f.startswith(("avx", "amx", "fma"))),
    }


def environment(cpu: dict[str, object]) -> dict[str, object]:
    from tensorflow.python.util import _pywrap_util_port  # noqa: PLC0415  # oneDNN on or off

    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "tf_keras": keras.__version__,
        "onednn": _pywrap_util_port.IsMklEnabled(),
        "cpu": cpu["model"],
        "cores": cpu["cores"],
        "cpu_mhz": cpu["mhz"],
        # 0 means TF picks (all visible cores).
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        "load_average_at_start": os.getloadavg(),
    }


# -- FLOPs --------------------------------------------------------------------------------


def forward_flops(model: keras.Model) -> int:
    """2 x the Dense and Conv2D multiply-accumulates of one sample's forward pass."""
    macs = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            macs += int(layer.kernel.shape[0]) * int(layer.kernel.shape[1])
        elif isinstance(layer, keras.layers.Conv2D):
            kh, kw, cin, _ = layer.kernel.shape
            _, h, w, cout = layer.output_shape
            macs += h * w * cout * kh * kw * cin
    return 2 * macs


# -- the styles: each builder returns run(rounds) that trains and waits for the result ----


class _RepeatUpSampling2D(keras.layers.Layer):
    """Nearest-neighbour upsampling as UpSampling2D does it, with a gradient XLA can compile."""

    def __init__(self, size: int, **kwargs):
        super().__init__(**kwargs)
        self.size = size

    def call(self, x):
        return tf.repeat(tf.repeat(x, self.size, axis=1), self.size, axis=2)


def _clone(model: keras.Model, swap) -> keras.Model:
    clone = keras.models.clone_model(model, clone_function=swap)
    clone.set_weights(model.get_weights())
    return clone


def gan_edge(config, dataset):
    round_ = build_round(config)
    iterator = iter(dataset)
    # .numpy() waits for the graph to finish, so the clock stops after the work.
    return lambda rounds: round_.run_rounds(iterator, tf.constant(rounds))["d_loss"].numpy()


def gan_edge_xla(config, dataset):
    plain = build_round(config)
    upsampling = lambda layer: (  # noqa: E731
        _RepeatUpSampling2D(layer.size[0]) if isinstance(layer, keras.layers.UpSampling2D)
        else layer.__class__.from_config(layer.get_config())
    )
    round_ = round_for(config, _clone(plain.generator, upsampling), plain.discriminator)
    jitted = tf.function(round_.round, jit_compile=True)
    # The iterator stays outside XLA: only the round body is compiled.
    loop = tf.function(lambda it, steps: FourStepRound._accumulate(jitted, it, steps))
    iterator = iter(dataset)
    return lambda rounds: loop(iterator, tf.constant(rounds))["d_loss"].numpy()


def gan_edge_bf16(config, dataset):
    family = model_family(config.model)
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        # The tanh image and the sigmoid p_real stay in float32: exact where saturating.
        last_in_fp32 = lambda layer: layer.__class__.from_config(  # noqa: E731
            {**layer.get_config(), **({"dtype": "float32"} if layer.name in ("image", "p_real") else {})}
        )
        g = _clone(family.build_generator(config), last_in_fp32)
        d = _clone(family.build_discriminator(config), last_in_fp32)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    round_ = round_for(config, g, d)
    iterator = iter(dataset)
    return lambda rounds: round_.run_rounds(iterator, tf.constant(rounds))["d_loss"].numpy()


def keras_book(config, images: np.ndarray):
    """Gildenblat's loop: D on [reals; g.predict fakes], then G through a frozen D."""
    family = model_family(config.model)
    keras.utils.set_random_seed(config.seed)
    g, d = family.build_generator(config), family.build_discriminator(config)
    d.compile(optimizer=build_optimizer(config.d_optimizer), loss="binary_crossentropy")
    d.trainable = False  # frozen inside the combined model only: d keeps its compiled state
    combined = keras.Sequential([g, d], name="combined")
    combined.compile(optimizer=build_optimizer(config.g_optimizer), loss="binary_crossentropy")
    rng = np.random.default_rng(config.seed)
    bs, dim = config.batch_size, config.latent_dim
    labels = np.concatenate([np.ones((bs, 1)), np.zeros((bs, 1))]).astype(np.float32)
    ones = np.ones((bs, 1), np.float32)

    def run(rounds: int) -> float:
        for _ in range(rounds):
            real = images[rng.choice(len(images), bs, replace=False)]
            fakes = g.predict(rng.uniform(-1, 1, (bs, dim)).astype(np.float32), verbose=0)
            d_loss = d.train_on_batch(np.concatenate([real, fakes]), labels)
            combined.train_on_batch(rng.uniform(-1, 1, (bs, dim)).astype(np.float32), ones)
        return 2.0 * d_loss  # a mean over reals and fakes; gan-edge reports their sum

    return run


def tf_tutorial(config, dataset):
    """The TensorFlow DCGAN tutorial's train_step: both networks, two tapes, one function."""
    family = model_family(config.model)
    keras.utils.set_random_seed(config.seed)
    g, d = family.build_generator(config), family.build_discriminator(config)
    g_opt, d_opt = build_optimizer(config.g_optimizer), build_optimizer(config.d_optimizer)
    bce = keras.losses.BinaryCrossentropy()  # D ends in a sigmoid: probabilities, not logits

    @tf.function
    def train_step(real):
        n = tf.shape(real)[0]
        noise = tf.random.uniform([n, config.latent_dim], -1.0, 1.0)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fakes = g(noise, training=True)
            real_out, fake_out = d(real, training=True), d(fakes, training=True)
            g_loss = bce(tf.ones_like(fake_out), fake_out)
            d_loss = bce(tf.ones_like(real_out), real_out) + bce(tf.zeros_like(fake_out), fake_out)
        g_opt.apply_gradients(zip(g_tape.gradient(g_loss, g.trainable_variables), g.trainable_variables))
        d_opt.apply_gradients(zip(d_tape.gradient(d_loss, d.trainable_variables), d.trainable_variables))
        return d_loss

    iterator = iter(dataset)

    def run(rounds: int) -> float:
        for _ in range(rounds):
            loss = train_step(next(iterator))
        return loss.numpy()

    return run


# -- measuring and reporting --------------------------------------------------------------


def timed(fn, rounds: int) -> float:
    """Seconds per round of one call of ``rounds`` rounds."""
    start = time.perf_counter()
    fn(rounds)
    return (time.perf_counter() - start) / rounds


def summary(per_round_s: list[float], batch: int, flops: float, peak_gflops: float) -> dict[str, object]:
    median = statistics.median(per_round_s)
    return {
        "median_s": median,
        "min_s": min(per_round_s),
        "max_s": max(per_round_s),
        "images_per_s": batch / median,
        "gflop_per_round": flops / 1e9,
        "gflops": flops / 1e9 / median,
        "fraction_of_fp32_peak": flops / 1e9 / median / peak_gflops,
        "rounds_s": per_round_s,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="measured calls per style (default 5)")
    parser.add_argument("--rounds", type=int, default=2, help="rounds per measured call (default 2)")
    parser.add_argument("--warm-up-rounds", type=int, default=3, help="rounds before measuring (default 3)")
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA, help=f"MNIST folder (default {DEFAULT_DATA})")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    for name in ("repeats", "rounds", "warm_up_rounds"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be 1 or more, got {getattr(args, name)}")

    cpu = cpu_info()
    env = environment(cpu)
    print("environment (shared machine: a DCGAN training run and other engineers use the same cores)")
    for key, value in env.items():
        print(f"  {key:22} {value}")
    print(f"  {'fp32 peak':22} {cpu['peak_gflops']:.0f} GFLOP/s = {cpu['peak_rule']}")

    config = default_config("dcgan")
    bs = config.batch_size
    images = to_model_range(load_mnist(args.data_dir).images)
    dataset = (  # full batches only: every round costs the same, and XLA sees one shape
        tf.data.Dataset.from_tensor_slices(images)
        .shuffle(len(images), seed=config.seed)
        .batch(bs, drop_remainder=True)
        .repeat()
        .prefetch(tf.data.AUTOTUNE)
    )
    print(f"\none round: batch {bs} of {len(images)} MNIST images ({args.data_dir}), "
          f"latent {config.latent_dim} {config.latent_distribution}, Adam 2e-4 beta_1 0.5")

    family = model_family(config.model)
    g_flops = forward_flops(family.build_generator(config))
    d_flops = forward_flops(family.build_discriminator(config))
    print(f"forward FLOPs per sample: G {g_flops / 1e6:.1f} M, D {d_flops / 1e6:.1f} M (2 x MACs)")

    styles = {
        "gan-edge": (gan_edge(config, dataset), "gan-edge"),
        "gan-edge XLA": (gan_edge_xla(config, dataset), "gan-edge"),
    }
    if cpu["bf16_flags"]:
        styles["gan-edge bf16"] = (gan_edge_bf16(config, dataset), "gan-edge")
    else:
        print(f"bf16 mixed precision: not supported by this CPU (no {' or '.join(BF16_FLAGS)}; "
              f"SIMD flags: {' '.join(cpu['simd_flags'])})")
    styles["keras (book)"] = (keras_book(config, images), "keras (book)")
    styles["tf tutorial"] = (tf_tutorial(config, dataset), "tf tutorial")

    warm_up, warm_up_loss = {}, {}
    for name, (fn, _) in styles.items():
        start = time.perf_counter()
        warm_up_loss[name] = float(fn(args.warm_up_rounds))
        warm_up[name] = time.perf_counter() - start
    print(f"warm-up ({args.warm_up_rounds} rounds; tracing, compiling): "
          + ", ".join(f"{k} {v:.1f} s" for k, v in warm_up.items()))
    # The gan-edge variants start from the same weights, noise and batches: their
    # losses differ only by XLA's or bf16's arithmetic. The others draw their own.
    print("d_loss after warm-up (sanity): " + ", ".join(f"{k} {v:.4f}" for k, v in warm_up_loss.items()))

    times: dict[str, list[float]] = {name: [] for name in styles}
    for _ in range(args.repeats):  # alternate, so background load hits every style alike
        for name, (fn, _) in styles.items():
            times[name].append(timed(fn, args.rounds))

    results = {}
    for name, (_, kind) in styles.items():
        g_passes, d_passes = PASSES[kind]
        flops = bs * (g_passes * g_flops + d_passes * d_flops)
        results[name] = summary(times[name], bs, flops, cpu["peak_gflops"])

    print(f"\nmeasured: {args.repeats} calls of {args.rounds} rounds per style, alternating; "
          f"times are per round (load average now {os.getloadavg()[0]:.1f})")
    print(f"  {'style':14} {'median s':>9} {'min s':>7} {'max s':>7} {'images/s':>9} "
          f"{'GFLOP/rnd':>9} {'GFLOP/s':>8} {'of peak':>8}")
    for name, r in results.items():
        print(f"  {name:14} {r['median_s']:9.3f} {r['min_s']:7.3f} {r['max_s']:7.3f} {r['images_per_s']:9.1f} "
              f"{r['gflop_per_round']:9.1f} {r['gflops']:8.1f} {r['fraction_of_fp32_peak']:8.1%}")

    base = results["gan-edge"]
    print("\nratios against gan-edge (median round time: > 1 means faster than gan-edge; "
          "GFLOP/s: > 1 means the cores did more useful work per second)")
    ratios = {}
    for name, r in results.items():
        if name == "gan-edge":
            continue
        ratios[name] = {"speed": base["median_s"] / r["median_s"], "gflops": r["gflops"] / base["gflops"]}
        print(f"  {name:14} round speed x{ratios[name]['speed']:.2f}   GFLOP/s x{ratios[name]['gflops']:.2f}")
    for option in ("gan-edge XLA", "gan-edge bf16"):
        if option in ratios:
            gain = ratios[option]["speed"] - 1.0
            verdict = "helps" if gain >= XLA_GAIN_TO_KEEP else "does not help"
            print(f"  {option}: {gain:+.0%} round speed: {verdict} (threshold +{XLA_GAIN_TO_KEEP:.0%})")

    if args.json:
        figures = {
            "environment": env,
            "cpu": cpu,
            "batch_size": bs,
            "forward_flops_per_sample": {"generator": g_flops, "discriminator": d_flops},
            "passes_per_image": PASSES,
            "warm_up_s": warm_up,
            "warm_up_d_loss": warm_up_loss,
            "styles": results,
            "ratios": ratios,
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
