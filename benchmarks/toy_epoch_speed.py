"""How much faster is gan-edge's one-graph epoch than the book's Keras loop?

Times ONE toy epoch (10,000 points, batch 32, 313 learning rounds, the default
config) in two styles, with fresh builds of the same models, the same optimizers
(Adam: D lr 1e-3, G lr 2e-4) and the same batch size, in the same process:

  gan-edge    ``FourStepRound.run_rounds(iterator, 313)``: the whole epoch in one
              ``tf.function`` graph, batches pulled from a ``tf.data`` iterator.
  book style  what the book's notebooks do: D compiled with binary cross-entropy,
              a combined model G -> frozen D, and a Python loop over a numpy array
              shuffled per epoch calling ``train_on_batch`` / ``predict`` for the
              steps (a) D on reals, (b) G via combined, (c) D on ``g.predict`` fakes,
              (d) G via combined again.

Why: the issue claims the one-graph loop makes a toy epoch at least 50 times
faster; the book-style loop pays Python and Keras dispatch costs four to five
times per round, which the graph pays once per epoch. Each style gets one warm-up
epoch (tracing, compiling), then the measured epochs alternate between styles so
that load from other work on the shared cores falls on both alike. Nothing here
asserts on a time.

Run: .venv/bin/python benchmarks/toy_epoch_speed.py [--epochs-measured N] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
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
from gan_edge.training.data import batches, toy as toy_data  # noqa: E402
from gan_edge.training.models import model_family  # noqa: E402
from gan_edge.training.train import build_optimizer, build_round  # noqa: E402

TARGET_SPEED_UP = 50.0


def environment() -> dict[str, object]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "python": platform.python_version(),
        "tensorflow": tf.__version__,
        "tf_keras": keras.__version__,
        "cpu": cpu,
        "os.cpu_count": os.cpu_count(),
        # 0 means TF picks (all visible cores).
        "intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
    }


def gan_edge_epoch(config, real: np.ndarray, steps: int):
    """Build the project's round; return a function that trains one epoch."""
    round_ = build_round(config)
    iterator = iter(batches(real, config.batch_size, config.seed))
    steps_t = tf.constant(steps)
    # .numpy() waits for the graph to finish, so the clock stops after the work.
    return lambda: round_.run_rounds(iterator, steps_t)["d_loss"].numpy()


def book_epoch(config, real: np.ndarray, steps: int):
    """Build the book's compiled D and combined G -> frozen D; return one epoch's loop."""
    family = model_family(config.model)
    g, d = family.build_generator(config), family.build_discriminator(config)
    d.compile(optimizer=build_optimizer(config.d_optimizer), loss="binary_crossentropy")
    d.trainable = False  # frozen inside the combined model only: d keeps its compiled state
    combined = keras.Sequential([g, d], name="combined")
    combined.compile(optimizer=build_optimizer(config.g_optimizer), loss="binary_crossentropy")
    rng = np.random.default_rng(config.seed)
    n, bs, dim = len(real), config.batch_size, config.latent_dim

    def epoch():
        shuffled = real[rng.permutation(n)]
        for i in range(steps):
            batch = shuffled[i * bs : (i + 1) * bs]
            m = len(batch)  # the last batch is partial
            ones, zeros = np.ones((m, 1), np.float32), np.zeros((m, 1), np.float32)
            d.train_on_batch(batch, ones)  # (a)
            combined.train_on_batch(rng.uniform(0, 1, (m, dim)).astype(np.float32), ones)  # (b)
            fakes = g.predict(rng.uniform(0, 1, (m, dim)).astype(np.float32), verbose=0)
            d.train_on_batch(fakes, zeros)  # (c)
            combined.train_on_batch(rng.uniform(0, 1, (m, dim)).astype(np.float32), ones)  # (d)

    return epoch


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def summary(times_ms: list[float], steps: int) -> dict[str, float]:
    median = statistics.median(times_ms)
    return {
        "median_ms": median,
        "min_ms": min(times_ms),
        "rounds_per_s": steps / (median / 1000.0),
        "epochs_ms": times_ms,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs-measured", type=int, default=3, help="measured epochs per style (default 3)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.epochs_measured < 1:
        parser.error(f"--epochs-measured must be 1 or more, got {args.epochs_measured}")

    env = environment()
    print("environment")
    for key, value in env.items():
        print(f"  {key:18} {value}")

    # Full cross-entropy on every sample, as train_on_batch computes it: like for like.
    config = default_config("toy2d").with_overrides({"loss_mode": "standard"})
    keras.utils.set_random_seed(config.seed)
    real = toy_data.gaussian_points(config.data_samples, config.data_mean, config.data_std, config.seed)
    steps = math.ceil(len(real) / config.batch_size)
    print(f"\none epoch: {len(real)} points, batch {config.batch_size}, {steps} rounds of steps (a)-(d)")

    styles = {"gan-edge": gan_edge_epoch(config, real, steps), "book style": book_epoch(config, real, steps)}
    warm_up = {name: timed(fn) for name, fn in styles.items()}
    print("warm-up epoch (tracing, compiling): " + ", ".join(f"{k} {v:.0f} ms" for k, v in warm_up.items()))

    times: dict[str, list[float]] = {name: [] for name in styles}
    for _ in range(args.epochs_measured):  # alternate, so background load hits both styles
        for name, fn in styles.items():
            times[name].append(timed(fn))

    results = {name: summary(t, steps) for name, t in times.items()}
    print(f"\nmeasured epochs: {args.epochs_measured} per style")
    print(f"  {'style':12} {'median ms':>10} {'min ms':>10} {'rounds/s':>10}   epochs (ms)")
    for name, r in results.items():
        epochs = ", ".join(f"{t:.0f}" for t in r["epochs_ms"])
        print(f"  {name:12} {r['median_ms']:10.1f} {r['min_ms']:10.1f} {r['rounds_per_s']:10.0f}   {epochs}")

    speed_up = results["book style"]["median_ms"] / results["gan-edge"]["median_ms"]
    met = speed_up >= TARGET_SPEED_UP
    print(f"\nspeed-up: {speed_up:.1f} times (median book-style epoch / median gan-edge epoch)")
    print(f"target: at least {TARGET_SPEED_UP:.0f} times: {'met' if met else 'NOT met'}")

    if args.json:
        figures = {
            "environment": env,
            "epoch": {"points": len(real), "batch_size": config.batch_size, "rounds": steps},
            "warm_up_ms": warm_up,
            "styles": results,
            "speed_up": speed_up,
            "target": TARGET_SPEED_UP,
            "target_met": met,
        }
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
        print(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
