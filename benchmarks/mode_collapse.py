"""Does a remedy stop mode collapse? Each configuration on the ring of 8 and the grid of 25.

The VEEGAN / PacGAN protocol: 2,500 generated points per run; a point is high quality
within 3 standard deviations of its nearest mode; a mode is covered when at least one
high-quality point is nearest to it; reverse KL is KL(mode histogram || uniform)
(training/metrics/modes.py). Printed beside PacGAN's Table 1 (Lin et al., NeurIPS 2018,
averages over 10 runs of 400 epochs of 100,000 samples; "GAN" is their unpacked baseline
with the same architecture, PacGANm packs m samples).

Configurations (overrides of the ring8 / grid25 preset):
  none                  no remedy
  minibatch discr.      Salimans et al. (2016) minibatch discrimination before D's last layer
  mbstd                 Karras et al. (2018) minibatch standard deviation before D's last layer
  pack 2, pack 4        PacGAN: D judges 2 or 4 samples at once

The protocol trains 400,000 rounds per run; a shared 2-core CPU runs about 30 per second,
so by default each run here is far shorter (--epochs x --samples / 100 rounds) with a
larger learning rate (1e-3 instead of 1e-4), and fewer seeds. The numbers therefore
measure how fast each configuration spreads over the modes early in training, not the
protocol's end state; the output says which settings ran.

    python benchmarks/mode_collapse.py [--seeds 2] [--epochs 2] [--samples 20000] [--lr 1e-3]
                                       [--only ring8|grid25] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

from training.config import default_config  # noqa: E402
from training.train import train  # noqa: E402

CONFIGURATIONS: dict[str, dict] = {
    "none": {},
    "minibatch discr.": {"remedy": "minibatch_discrimination"},
    "mbstd": {"remedy": "mbstd"},
    "pack 2": {"pack": 2},
    "pack 4": {"pack": 4},
}

# PacGAN Table 1 (Lin et al., 2018): modes (max 8 / 25), high-quality share %, reverse KL;
# means over 10 runs. The mode counts are the ones the issue quotes; the other columns are
# as we read the paper's table (arXiv:1712.04086, Table 1); check them there before citing.
PUBLISHED = {
    "ring8": [("GAN", 6.3, 98.2, 0.45), ("PacGAN2", 7.9, 95.6, 0.07),
              ("PacGAN3", 7.8, 97.7, 0.10), ("PacGAN4", 7.8, 95.9, 0.07)],
    "grid25": [("GAN", 17.3, 94.8, 0.70), ("PacGAN2", 23.8, 91.3, 0.13),
               ("PacGAN3", 24.6, 94.2, 0.06), ("PacGAN4", 24.8, 93.5, 0.04)],
}
MODE_COUNT = {"ring8": 8, "grid25": 25}


def run_configuration(model: str, overrides: dict, seeds, args, workdir: Path) -> list[dict]:
    adam = {"learning_rate": args.lr}
    results = []
    for seed in seeds:
        config = default_config(model).with_overrides({
            **overrides, "seed": seed, "epochs": args.epochs, "data_samples": args.samples,
            "eval_every": args.epochs, "d_optimizer": adam, "g_optimizer": adam,
        })
        results.append({"seed": seed, **train(config, workdir / f"{model}-{seed}-{len(results)}").records[-1]})
    return results


def summary(values: list[float]) -> str:
    mean = statistics.fmean(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.2f} ± {spread:.2f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--samples", type=int, default=20_000, help="training points per epoch")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate of both networks")
    parser.add_argument("--only", choices=tuple(MODE_COUNT), help="run one data set")
    parser.add_argument("--json", type=Path, help="write every run's final metrics here")
    args = parser.parse_args()
    tf.get_logger().setLevel("ERROR")  # fresh models per run: retracing warnings are expected

    rounds = args.epochs * args.samples // default_config("ring8").batch_size
    print(f"mode collapse: {args.seeds} seeds per configuration (the protocol: 10), {rounds:,} rounds "
          f"per run (the protocol: 400,000), Adam lr {args.lr:g} beta_1 0.8 (the protocol: 1e-4), "
          f"batch 100, 2,500 points measured; TensorFlow {tf.__version__}, {os.cpu_count()} CPUs\n")
    header = f"{'data':<7} {'configuration':<17} {'modes':>13} {'high quality %':>15} {'reverse KL':>13} {'s/run':>6}"
    report: dict = {}
    for model in [args.only] if args.only else list(MODE_COUNT):
        print(header)
        print("-" * len(header))
        report[model] = {}
        for name, overrides in CONFIGURATIONS.items():
            started = time.perf_counter()
            with tempfile.TemporaryDirectory() as workdir:
                results = run_configuration(model, overrides, range(args.seeds), args, Path(workdir))
            seconds = (time.perf_counter() - started) / args.seeds
            report[model][name] = results
            print(f"{model:<7} {name:<17} {summary([r['modes'] for r in results]):>13} "
                  f"{summary([100 * r['hq_share'] for r in results]):>15} "
                  f"{summary([r['reverse_kl'] for r in results]):>13} {seconds:>6.0f}", flush=True)
        for label, modes, hq, kl in PUBLISHED[model]:
            print(f"{model:<7} {'paper ' + label:<17} {modes:>13.1f} {hq:>15.1f} {kl:>13.2f}   (PacGAN Table 1)")
        print()
    print("modes: covered of 8 (ring8) or 25 (grid25); mean ± sample std over seeds.")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
