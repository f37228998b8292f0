"""ProGAN against the DCGAN: the same 10,000 digits, the same CPU time, the same scores.

Each model trains in this process until training has used --cpu-minutes of CPU time
(time.process_time: every thread counts, so the budget means the same on a busy or a
quiet machine), stopping between compiled calls. Then each is scored by the project's
MNIST evaluator on 2,000 samples against the same real digits: FCD, digits covered,
class KL, precision and recall (ProGAN's 32x32 samples are measured on their 28x28
centre). ProGAN grows 4x4 -> 32x32 on its preset's schedule (phases of 6,000 images)
unless --phase-images says otherwise; the table says which resolution it reached.

Writes benchmarks/results/progan_vs_dcgan.{txt,json} and progan_vs_dcgan.png: ProGAN's
samples at each resolution as it grew (drawn when training moved past it), its final
32x32 samples, and the DCGAN's, from fixed latents.

    python benchmarks/progan_vs_dcgan.py [--cpu-minutes 12] [--phase-images 6000] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from _mnist_bench import ROOT, SHOWN  # first: sys.path, data folder, TensorFlow

from gan_edge.export.source import load_generator  # noqa: E402
from gan_edge.latent import sample_latent  # noqa: E402
from gan_edge.training.config import default_config  # noqa: E402
from gan_edge.training.evaluate import evaluate_generator  # noqa: E402
from gan_edge.training.image_grid import write_panels  # noqa: E402
from gan_edge.training.train import train  # noqa: E402

NEVER = 1_000_000  # epochs: the CPU budget, not the schedule, ends each run


def train_for(model: str, overrides: dict, cpu_seconds: float, out: Path) -> dict:
    config = default_config(model).with_overrides({"epochs": NEVER, "eval_every": NEVER, **overrides})
    rounds = 0

    def count(n: int) -> None:
        nonlocal rounds
        rounds += n

    wall, cpu = time.perf_counter(), time.process_time()
    train(config, out, on_rounds=count, should_stop=lambda: time.process_time() - cpu >= cpu_seconds)
    return {"config": config, "rounds": rounds, "images": rounds * config.batch_size,
            "cpu_minutes": (time.process_time() - cpu) / 60, "wall_minutes": (time.perf_counter() - wall) / 60}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-minutes", type=float, default=12.0, help="CPU time per model (all threads)")
    parser.add_argument("--phase-images", type=int, default=6000, help="ProGAN: real images per fade-in and per stable phase")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / f"progan-vs-dcgan-{time.strftime('%Y%m%d-%H%M%S')}")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    if args.cpu_minutes <= 0 or args.phase_images < 1:
        parser.error(f"--cpu-minutes and --phase-images must be positive, got {args.cpu_minutes}, {args.phase_images}")

    growth = {"resolutions": [4, 8, 16, 32], "fade_images": args.phase_images, "stable_images": args.phase_images}
    plans = {"DCGAN": ("dcgan", {}), "ProGAN": ("progan", {"growth": growth})}
    print(f"ProGAN against DCGAN: {args.cpu_minutes:g} CPU-minutes each on {os.cpu_count()} CPUs, "
          f"the 10,000 shared MNIST digits; run folders under {args.out}", flush=True)
    runs, rows, finals = {}, {}, {}
    for label, (model, overrides) in plans.items():
        run = train_for(model, overrides, args.cpu_minutes * 60, args.out / model)
        trained = load_generator(args.out / model)
        run["phase"] = {k: float(v.numpy()) for k, v in _phase(trained.model).items()} if model == "progan" else {}
        scores = evaluate_generator(lambda z: trained(z).numpy(), run["config"], samples=2000)
        rows[label], runs[label] = scores, run
        config = run["config"]
        # The evaluator's fixed latents (MnistEvaluator: the first draw from seed + 1), so the
        # final panel shows the same samples as the panels drawn while ProGAN grew.
        latent = sample_latent(config.latent_distribution, 16, config.latent_dim,
                               np.random.default_rng(config.seed + 1))
        finals[label] = trained(latent).numpy()
        print(f"{label}: {run['rounds']:,} rounds, {run['images']:,} images in {run['cpu_minutes']:.1f} CPU-min "
              f"({run['wall_minutes']:.1f} min wall)" + (f", at {_resolution(run['phase'])}" if run["phase"] else ""),
              flush=True)

    lines = [f"after {args.cpu_minutes:g} CPU-minutes each ({os.cpu_count()} CPUs), 2,000 samples each:",
             f"{'':<22}{'images':>9}{'CPU min':>9}" + "".join(f"{n:>16}" for n in SHOWN)]
    lines.append("-" * len(lines[-1]))
    for label, scores in rows.items():
        run = runs[label]
        lines.append(f"{label:<22}{run['images']:>9,}{run['cpu_minutes']:>9.1f}"
                     + "".join(f"{scores['generator'][n]:>16.3f}" for n in SHOWN))
    # Both models are scored against the same real digits: one real-against-real row.
    references = [("real vs real", rows["DCGAN"]["real_vs_real"])]
    references += [(f"{label} untrained", scores["untrained_vs_real"]) for label, scores in rows.items()]
    for name, scores in references:
        lines.append(f"{name:<22}{'':>9}{'':>9}" + "".join(f"{scores[n]:>16.3f}" for n in SHOWN))
    text = "\n".join(lines)
    print("\n" + text)

    args.results.mkdir(parents=True, exist_ok=True)
    panels = {f"ProGAN {int(f.stem[7:])}x{int(f.stem[7:])}": np.load(f)
              for f in sorted((args.out / "progan" / "figures").glob("growth_*.npy"))}
    panels["ProGAN final"] = finals["ProGAN"]
    panels["DCGAN final"] = finals["DCGAN"]
    figure = write_panels(panels, args.results / "progan_vs_dcgan.png",
                          f"{args.cpu_minutes:g} CPU-minutes each: ProGAN as it grew, then both at the end")
    (args.results / "progan_vs_dcgan.txt").write_text(text + "\n")
    (args.results / "progan_vs_dcgan.json").write_text(json.dumps({
        "cpu_minutes": args.cpu_minutes, "phase_images": args.phase_images,
        "runs": {k: {n: v for n, v in r.items() if n != "config"} for k, r in runs.items()}, "rows": rows,
    }, indent=2))
    print(f"\nfigure: {figure}")
    return 0


def _phase(generator) -> dict:
    from gan_edge.training.models.progan import growth_of

    growth = growth_of(generator)
    return {"level": growth.level, "alpha": growth.alpha, "images": growth.images}


def _resolution(phase: dict) -> str:
    side = 4 * 2 ** round(phase["level"])
    return f"{side}x{side}, alpha {phase['alpha']:.2f}, {phase['images']:,.0f} images"


if __name__ == "__main__":
    sys.exit(main())
