"""How often does the toy GAN learn its target? 20 seeds, 13 epochs, each configuration.

A run passes when the exported float32 generator draws the target: after 13 epochs,
20,000 points generated from the exported model (``export_run``, float32 TFLite only,
then ``gan_edge.load(path).generate``, as a device would) have their mean within 0.1
of the data's (5, 5) and their standard deviation within 0.1 of its 1, in both axes,
and the correlation of x and y within 0.1 of 0. The correlation is in the criterion
because the per-axis moments pass a tilted ellipse (issue 12). ``fd``, the Fréchet
distance to the data's Gaussian, is printed beside them but does not decide.
The issue's target is at least 19 passing runs of 20 with the default settings.

Configurations compared in the same run (a preset of toy2d and overrides of it):
  default              what `gan-edge train toy2d` does: the book's gated loss with R1
                       (gamma 12) and Adam beta (0, 0.99), D 3e-3 -> 3e-4, G 2e-3 -> 2e-5
  standard loss        the default with the full cross-entropy instead of the book's gating
  no R1                the default without the gradient penalty
  book settings        the book's toy GAN as printed (the "book" preset): gating, D warm-up,
                       Adam 1e-3 / 2e-4 with beta_1 0.5, constant rates, no R1

    python benchmarks/toy_quality.py [--seeds 20] [--first-seed 0] [--only NAME] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf  # noqa: E402

import gan_edge  # noqa: E402
from gan_edge.export import export_run  # noqa: E402
from gan_edge.export.fidelity import task_target  # noqa: E402
from gan_edge.training.config import default_config  # noqa: E402
from gan_edge.training.train import train  # noqa: E402

EPOCHS = 13  # the book's, and the issue's
POINTS = 20_000  # generated from each exported model
TOLERANCE = 0.1  # on each axis's mean and std, and on the correlation
TARGET_SHARE = 0.95  # 19 of 20

# (preset, overrides of it), "default" first; add entries to compare them side by side.
CONFIGURATIONS: dict[str, tuple[str, dict]] = {
    "default": ("default", {}),
    "standard loss": ("default", {"loss_mode": "standard"}),
    "no R1": ("default", {"r1_gamma": 0.0}),
    "book settings": ("book", {}),
}


def passes(metrics: dict, mean: tuple[float, float], std: float) -> bool:
    means = (metrics["mean_x"] - mean[0], metrics["mean_y"] - mean[1])
    stds = (metrics["std_x"] - std, metrics["std_y"] - std)
    return all(abs(d) <= TOLERANCE for d in (*means, *stds, metrics["corr"]))


def run_seed(preset: str, overrides: dict, seed: int, workdir: Path) -> dict:
    """Train, export float32, generate POINTS through gan_edge, measure: one row."""
    started = time.perf_counter()
    config = default_config("toy2d", preset).with_overrides({"epochs": EPOCHS, **overrides, "seed": seed})
    run = train(config, workdir / f"seed{seed}").run
    (artifact,) = export_run(run.path, formats=("float32",))
    points = gan_edge.load(artifact.path).generate(POINTS, seed=seed)
    target = task_target(config)  # the run's data points and the Gaussian they are drawn from
    metrics = target.measure(points)  # the toy evaluator's metrics, as in training
    return {"seed": seed, "passed": passes(metrics, target.mean, target.std), **metrics,
            "seconds": time.perf_counter() - started}


ROW = "{seed:>5} {mean_x:>8.3f} {mean_y:>8.3f} {std_x:>8.3f} {std_y:>8.3f} {corr:>7.3f} {fd:>7.4f} {verdict:>5}"
HEADER = f"{'seed':>5} {'mean_x':>8} {'mean_y':>8} {'std_x':>8} {'std_y':>8} {'corr':>7} {'fd':>7} {'pass':>5}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from here (default 0)")
    parser.add_argument("--only", choices=tuple(CONFIGURATIONS), help="run one configuration")
    parser.add_argument("--json", type=Path, help="write every run's measurements here")
    args = parser.parse_args()
    if args.seeds < 1:
        parser.error(f"--seeds must be 1 or more, got {args.seeds}")
    # Every run builds fresh models, so TensorFlow's retracing warning is expected here.
    tf.get_logger().setLevel("ERROR")

    names = [args.only] if args.only else list(CONFIGURATIONS)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    needed = math.ceil(TARGET_SHARE * args.seeds)
    print(f"toy GAN quality: {args.seeds} seeds x {EPOCHS} epochs per configuration, "
          f"{POINTS:,} points from each exported float32 model")
    print(f"pass: |mean - target| <= {TOLERANCE} and |std - target| <= {TOLERANCE} in both axes, "
          f"and |corr| <= {TOLERANCE}")
    report, summary = {}, []
    for name in names:
        preset, overrides = CONFIGURATIONS[name]
        print(f"\n{name} (preset {preset!r}{', ' + json.dumps(overrides) if overrides else ''})")
        print(HEADER)
        print("-" * len(HEADER))
        started = time.perf_counter()
        results = []
        with tempfile.TemporaryDirectory() as workdir:
            for seed in seeds:
                row = run_seed(preset, overrides, seed, Path(workdir))
                results.append(row)
                print(ROW.format(**row, verdict="yes" if row["passed"] else "NO"), flush=True)
        passed = sum(r["passed"] for r in results)
        print(f"{passed}/{args.seeds} passed, target at least {needed} of {args.seeds}")
        report[name] = results
        median = lambda key: sorted(abs(r[key]) for r in results)[len(results) // 2]  # noqa: E731
        summary.append((name, passed, median("corr"), median("fd"), time.perf_counter() - started))
    if len(summary) > 1:
        header = f"\n{'configuration':<22} {'passed':>7} {'median |corr|':>14} {'median fd':>10} {'seconds':>8}"
        print(header)
        print("-" * (len(header) - 1))
        for name, passed, corr, fd, seconds in summary:
            print(f"{name:<22} {passed:>4}/{args.seeds:<2} {corr:>14.3f} {fd:>10.4f} {seconds:>8.0f}")
    if "default" in report:
        passed = sum(r["passed"] for r in report["default"])
        verdict = "met" if passed >= needed else "MISSED"
        print(f"\ntarget: at least {needed} of {args.seeds} with the default settings: "
              f"{passed}/{args.seeds}, {verdict}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
