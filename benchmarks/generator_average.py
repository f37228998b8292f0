"""What the generator's weight average buys, measured side by side in the same run.

    python benchmarks/generator_average.py RUN [RUN ...] [--out benchmarks/results/generator_average]

A run trained with ``generator_average`` (``gan-edge train ... --generator-average 0.05``)
measures, at every evaluation, the average it publishes and the live generator it trains
(``live_*`` in metrics.jsonl): one trajectory, two readings, so the difference is the
average's alone and not a seed's. This script prints both per evaluated epoch, and for
image models draws the two generators' samples from the same latents side by side
(``OUT_<run>.png``), since a lower FCD must also be a picture a person prefers.
"""

from __future__ import annotations

import argparse
import json
import platform
from pathlib import Path

import numpy as np

# What each kind of run is read by, in print order; lower is better except where marked.
HEADLINES = ("fcd", "fd", "classes_covered", "modes", "hq_share", "reverse_kl", "precision", "recall",
             "coverage", "mean_err", "std_err")
HIGHER_IS_BETTER = {"classes_covered", "modes", "hq_share", "precision", "recall", "coverage"}


def records(run: Path) -> list[dict]:
    """The evaluated epochs of metrics.jsonl, then both generators measured at the last
    checkpoint (epoch "last": a run stopped on a CPU budget ends inside an epoch)."""
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    return [r for r in rows if any(k.startswith("live_") for k in r)] + [{"epoch": "last", **at_last_checkpoint(run)}]


def _config_and_generators(run: Path):
    """The run's config and its two generators at the last checkpoint: live, average."""
    import tensorflow as tf

    from gan_edge.training.averaging import CHECKPOINT_KEY
    from gan_edge.training.config import config_from_dict
    from gan_edge.training.models import model_family

    config = config_from_dict(json.loads((run / "config.json").read_text()))
    if config.generator_average <= 0:
        raise SystemExit(f"{run} keeps no weight average: train it with --generator-average (got 0)")
    family = model_family(config.model)
    checkpoint = tf.train.latest_checkpoint(str(run / "checkpoints"))
    generators = []
    for key in ("generator", CHECKPOINT_KEY):
        generator = family.build_generator(config)
        tf.train.Checkpoint(**{key: generator}).read(checkpoint).expect_partial()
        generators.append(generator)
    return config, generators


def at_last_checkpoint(run: Path) -> dict[str, float]:
    from gan_edge.training.data import load_training_data
    from gan_edge.training.evaluators import evaluator_for
    from gan_edge.training.models import model_family
    from gan_edge.training.run import RunFolder

    config, (live, average) = _config_and_generators(run)
    evaluator = evaluator_for(config)(config, RunFolder.open(run), load_training_data(config, model_family(config.model).DATA))
    return {**evaluator.measure(average), **{f"live_{k}": v for k, v in evaluator.measure(live).items()}}


def table(run: Path) -> str:
    rows = records(run)
    names = [n for n in HEADLINES if n in rows[-1] and f"live_{n}" in rows[-1]]
    header = f"{'epoch':>5}  " + "  ".join(f"{n + ' avg / live':>24}" for n in names)
    lines = [header, "-" * len(header)]
    for r in rows:
        lines.append(f"{r['epoch']!s:>5}  " + "  ".join(f"{r[n]:>11.3f} / {r['live_' + n]:<10.3f}" for n in names))
    last = rows[-1]
    better = sum((last[n] > last[f"live_{n}"]) == (n in HIGHER_IS_BETTER) for n in names if last[n] != last[f"live_{n}"])
    lines.append(f"last checkpoint: the average is better on {better} of {len(names)} metrics")
    return "\n".join(lines)


def side_by_side(run: Path, path: Path, count: int = 16) -> Path | None:
    """The live generator's and the average's samples from the same latents, or None for
    models that draw points rather than pictures."""
    from gan_edge.latent import sample_latent
    from gan_edge.training.image_grid import write_panels
    from gan_edge.training.models import output_shape

    config, generators = _config_and_generators(run)
    if len(output_shape(config)) < 3:
        return None
    latent = sample_latent(config.latent_distribution, count, config.latent_dim, np.random.default_rng(2026))
    panels = {label: np.clip(generator(latent, training=False).numpy(), -1.0, 1.0)
              for label, generator in zip(("live generator", "weight average (published)"), generators)}
    return write_panels(panels, path, f"{run.name}: the same {count} latents")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/generator_average"),
                        help="prefix of the .txt and .png files written")
    args = parser.parse_args(argv)
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    report = [f"generator average vs live generator, same run; machine: {cpu}"]
    for run in args.runs:
        config = json.loads((run / "config.json").read_text())
        report += ["", f"{run} ({config['model']}, seed {config['seed']}, generator_average "
                       f"{config['generator_average']}, {config['epochs']} epochs)", table(run)]
        figure = side_by_side(run, args.out.with_name(f"{args.out.name}_{run.name}.png"))
        if figure is not None:
            report.append(f"samples: {figure}")
    text = "\n".join(report)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".txt").write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
