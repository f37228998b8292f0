"""``gan-edge demo``: the whole product in one command, on the toy 2-D GAN.

Train the book's toy GAN, draw its figures, export its generator (TFLite float32
and int8, ONNX), generate through the edge runtime from each artifact, and print
one table: size, latency per sample, and distance of the samples to the target
(per axis, and of the joint distribution: correlation and Fréchet distance).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gan_edge.cli._progress import TrainingProgress
from gan_edge.cli._workstation import require_tensorflow
from gan_edge.cli.train import default_run_dir, describer

DEMO_SAMPLES = 10_000


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("demo", help="train, export and run the toy GAN end to end")
    parser.add_argument("--epochs", type=int, default=13, help="training epochs (default 13, as the book)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, help="run folder to create (default runs/demo-TIMESTAMP)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    require_tensorflow()
    import gan_edge
    from gan_edge.export import export_run
    from gan_edge.training.config import default_config
    from gan_edge.training.data.toy import gaussian_points
    from gan_edge.training.metrics import toy as toy_metrics
    from gan_edge.training.train import train

    config = default_config("toy2d").with_overrides({"epochs": args.epochs, "seed": args.seed})
    out = args.out or default_run_dir("demo")
    print(f"1/3 training the toy GAN ({config.epochs} epochs) into {out}")
    progress = TrainingProgress(config.epochs, describer("toy2d"))
    try:
        result = train(config, out, on_start=progress.start, on_epoch=progress.epoch, on_rounds=progress.rounds)
    finally:
        progress.close()

    print("2/3 exporting the generator (TFLite float32, TFLite int8, ONNX)")
    artifacts = export_run(result.run.path)

    print(f"3/3 generating {DEMO_SAMPLES:,} points from each artifact through gan_edge")
    reference = gaussian_points(config.data_samples, config.data_mean, config.data_std, config.seed + 100)
    gaussian = (config.data_mean, config.data_std)  # what those points are drawn from: fd's target
    rows = []
    for artifact in artifacts:
        generator = gan_edge.load(artifact.path)
        generator.generate(DEMO_SAMPLES, seed=0)  # warm-up: allocation and first-run costs
        started = time.perf_counter()
        samples = generator.generate(DEMO_SAMPLES, seed=1)
        micros = (time.perf_counter() - started) / DEMO_SAMPLES * 1e6
        measured = toy_metrics.evaluate(samples, reference, target=gaussian)
        rows.append((artifact.path.name, artifact.size_bytes, micros, measured))

    print()
    print(_table(rows))
    print()
    print(_explanation(config))
    print(f"run folder:    {result.run.path}")
    print(f"figures:       {result.run.figures}")
    print(f"artifacts:     {artifacts[0].path.parent}")
    return 0


def _table(rows) -> str:
    header = (f"{'artifact':<26} {'bytes':>8} {'us/sample':>10} {'mean_err':>9} {'std_err':>8} {'swd':>7} "
              f"{'corr':>7} {'fd':>7}")
    lines = [header, "-" * len(header)]
    for name, size, micros, m in rows:
        lines.append(
            f"{name:<26} {size:>8,} {micros:>10.3f} {m['mean_err']:>9.3f} {m['std_err']:>8.3f} {m['swd']:>7.3f} "
            f"{m['corr']:>7.3f} {m['fd']:>7.3f}"
        )
    return "\n".join(lines)


def _explanation(config) -> str:
    target = f"N(mean ({config.data_mean[0]:g}, {config.data_mean[1]:g}), std {config.data_std:g})"
    return "\n".join([
        "mean_err, std_err: largest per-axis error of the mean and standard deviation against the target",
        f"{target}; swd: sliced Wasserstein-1 distance to target samples (0 = same distribution).",
        "corr: correlation of x and y (the target's is 0); fd: Fréchet distance from the Gaussian fitted",
        "to the samples to the target (0 = same mean and covariance). The per-axis columns cannot see a",
        "tilted cloud; corr and fd can.",
    ])
