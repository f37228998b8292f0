"""FCD against CPU-minutes, for finished runs side by side (issue 25's time-to-quality curve).

Reads each run folder's metrics.jsonl (the in-run evaluations: ``fcd`` on the run's
``eval_samples``), its config (batch size, so images per epoch) and cpu_seconds.txt (the
CPU time, all threads, its training commands spent). A run records no clock per epoch,
so the CPU-minutes of epoch e are estimated as the run's total times e / (epochs done):
a round costs the same all run long, and each run evaluates at a fixed interval, so the
estimate is off by the start-up (data, classifier) and by the rounds of an epoch a budget
stopped, both spread over the run (a few percent for runs of tens of epochs). Prints
one table per run and draws the curves into --figure.

    python benchmarks/time_to_quality.py RUN [RUN ...] [--labels A,B] [--figure FILE.png]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from gan_edge.training.run import RunFolder  # noqa: E402


def curve(run: RunFolder) -> list[tuple[int, float, float]]:
    """[(epoch, estimated CPU-minutes, fcd)] of ``run``'s evaluations."""
    records = run.read_metrics()
    minutes = run.cpu_seconds() / 60
    if not records or not minutes:
        raise SystemExit(f"{run.path}: no finished epoch or no CPU count (cpu_seconds.txt): train the run to its end")
    epochs = records[-1]["epoch"]
    return [(r["epoch"], minutes * r["epoch"] / epochs, r["fcd"]) for r in records if "fcd" in r]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--labels", help="comma-separated, one per run (default: the folders' names)")
    parser.add_argument("--figure", type=Path, default=Path("benchmarks/results/time_to_quality.png"))
    args = parser.parse_args()
    labels = args.labels.split(",") if args.labels else [run.name for run in args.runs]
    if len(labels) != len(args.runs):
        parser.error(f"--labels names {len(labels)} runs, got {len(args.runs)} run folders")

    figure, axis = plt.subplots(figsize=(6.4, 4.0))
    for path, label in zip(args.runs, labels):
        run = RunFolder.open(path)
        points, config = curve(run), run.config()
        print(f"\n{label} ({path}): batch {config.batch_size}, loss {config.loss_mode}, "
              f"{config.eval_samples} samples an evaluation")
        print(f"  {'epoch':>5} {'CPU-min':>8} {'fcd':>8}")
        for epoch, minutes, fcd in points:
            print(f"  {epoch:>5} {minutes:>8.1f} {fcd:>8.2f}")
        axis.plot([p[1] for p in points], [p[2] for p in points], marker="o", label=label)
    axis.set_xlabel("CPU-minutes (estimated per epoch from the run's total)")
    axis.set_ylabel("FCD (in-run evaluation)")
    axis.set_yscale("log")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend()
    figure.tight_layout()
    args.figure.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.figure, dpi=120)
    print(f"\nfigure: {args.figure}")


if __name__ == "__main__":
    main()
