"""Does the DCGAN learn to draw digits on this CPU within about an hour? Measured, not assumed.

Trains the MNIST DCGAN on the 10,000 digits in ../shared/data/mnist (the only split
on disk here) for a shortened schedule, evaluating every few epochs with the
project's MNIST classifier, then prints the scores beside the two reference rows
(real against real, an untrained generator against real) and writes the last
sample grid. Targets from the issue: recognisable digits to a person looking at
the grid, and at least 9 of the 10 classes covered.

    python benchmarks/dcgan_quality.py [--preset default|book] [--epochs 20] [--out DIR]
                                       [--remedy mbstd|minibatch_discrimination|diversity] [--pack M]
                                       [--r1-gamma G]

With --remedy or --pack the discriminator takes that mode-collapse remedy (the winner of
benchmarks/mode_collapse.py), with --r1-gamma the R1 gradient penalty on real digits (the
toy GAN's regulariser), and the results are written under a name that says so, beside the
run without it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from _mnist_bench import ROOT, SHOWN  # first: sys.path, data folder, TensorFlow

from gan_edge.training.config import default_config  # noqa: E402
from gan_edge.training.evaluate import evaluate_generator  # noqa: E402
from gan_edge.training.train import train  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="default", choices=("default", "book"))
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--eval-every", type=int, default=2)
    parser.add_argument("--remedy", default="none", help="a mode-collapse remedy of D (training/config.py REMEDIES)")
    parser.add_argument("--pack", type=int, default=1, help="PacGAN: D judges this many images at once")
    parser.add_argument("--r1-gamma", type=float, default=0.0, help="R1 penalty weight on real digits (0: off)")
    parser.add_argument("--out", type=Path, help="run folder (default: a new folder under runs/)")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()

    config = default_config("dcgan", args.preset).with_overrides(
        {"epochs": args.epochs, "eval_every": args.eval_every, "remedy": args.remedy, "pack": args.pack,
         "r1_gamma": args.r1_gamma}
    )
    label = args.preset + (f"_{args.remedy}" if args.remedy != "none" else "") + (
        f"_pack{args.pack}" if args.pack > 1 else "") + (f"_r1_{args.r1_gamma:g}" if args.r1_gamma else "")
    out = args.out or ROOT / "runs" / f"dcgan-quality-{label}-{time.strftime('%Y%m%d-%H%M%S')}"
    print(f"DCGAN, preset {args.preset}, remedy {args.remedy}, pack {args.pack}, R1 gamma {config.r1_gamma:g}: "
          f"{config.epochs} epochs, "
          f"batch {config.batch_size}, {config.d_optimizer.name} lr {config.d_optimizer.learning_rate}; "
          f"run folder {out}", flush=True)
    started = time.perf_counter()

    def on_epoch(record: dict) -> None:
        minutes = (time.perf_counter() - started) / 60
        scores = "  ".join(f"{k} {record[k]:.3f}" for k in SHOWN if k in record)
        print(f"epoch {record['epoch']:3d}  {minutes:6.1f} min  d_loss {record['d_loss']:.3f}  "
              f"g_loss {record['g_loss']:.3f}  {scores}", flush=True)

    result = train(config, out, on_epoch=on_epoch)
    minutes = (time.perf_counter() - started) / 60

    generator = result.run.path  # rebuilt from the checkpoint, exactly as export does
    from gan_edge.export.source import load_generator

    trained = load_generator(generator)
    rows = evaluate_generator(lambda z: trained(z).numpy(), config, samples=2000)
    print(f"\nafter {config.epochs} epochs ({minutes:.1f} min on this machine), 2,000 samples each:")
    header = f"{'':<20}" + "".join(f"{n:>16}" for n in SHOWN)
    print(header)
    print("-" * len(header))
    for name, values in rows.items():
        print(f"{name:<20}" + "".join(f"{values[n]:>16.3f}" for n in SHOWN))
    covered = rows["generator"]["classes_covered"]
    print(f"\ntarget: at least 9 of 10 digits covered: {covered:.0f}, {'met' if covered >= 9 else 'MISSED'}; "
          "recognisable digits: look at the grid")

    args.results.mkdir(parents=True, exist_ok=True)
    grid = result.run.figures / f"samples_epoch_{config.epochs:04d}.png"
    shutil.copy(grid, args.results / f"dcgan_{label}_samples.png")
    (args.results / f"dcgan_{label}_quality.json").write_text(
        json.dumps({"minutes": minutes, "records": result.records, "rows": rows}, indent=2)
    )
    print(f"grid: {args.results / f'dcgan_{label}_samples.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
