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
  diversity             the book's suggestion read literally: each sample's mean L1 distance
                        to the rest of its batch, before D's last layer
  pack 2, pack 4        PacGAN: D judges 2 or 4 samples at once
  R1, R1 + pack 2       R1 penalty (gamma 0.1, Mescheder et al. 2018), Adam beta_1 0, beta_2 0.99,
                        D's rate 1e-3 and G's 5e-4 falling to 1e-6; alone and with pack 2

The protocol trains 400,000 rounds per run at a constant rate of 1e-4: hours per run on
this CPU. The default preset compresses it: --epochs epochs of 100,000 samples (1,000
rounds each; 20 by default) with R1 and the rates falling linearly to 1e-6 (the "R1"
configuration, so "R1" and "none" are the same run), each round compiled with XLA.
Runs go to --jobs worker processes of one thread each (on 2 cores, two one-thread
processes train more rounds per second than one two-thread process). The output says
which settings ran; every finished run is in --json as soon as it finishes.

    python benchmarks/mode_collapse.py [--seeds 10] [--epochs 5] [--only ring8|grid25]
                                       [--configs "none,pack 2"] [--jobs 2] [--json FILE]
                                       [--set '{"r1_gamma": 0.1}' [--label "R1 0.1"]]
    python benchmarks/mode_collapse.py --report FILE [FILE ...]   # the tables of --json files

--set merges JSON overrides (TrainConfig keys, as in a config file) into every chosen
configuration, to screen a setting without editing CONFIGURATIONS; such runs are recorded
as "<configuration> + <label>". The header shows the first configuration's settings.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

_R1 = {
    "r1_gamma": 0.1,
    "d_optimizer": {"learning_rate": 1e-3, "beta_1": 0.0, "beta_2": 0.99, "final_learning_rate": 1e-6},
    "g_optimizer": {"learning_rate": 5e-4, "beta_1": 0.0, "beta_2": 0.99, "final_learning_rate": 1e-6},
}
CONFIGURATIONS: dict[str, dict] = {
    "none": {},
    "minibatch discr.": {"remedy": "minibatch_discrimination"},
    "mbstd": {"remedy": "mbstd"},
    "diversity": {"remedy": "diversity"},
    "pack 2": {"pack": 2},
    "pack 4": {"pack": 4},
    # The 20,000-round candidates: R1 (gamma 0.1) with Adam beta_1 0 / beta_2 0.99 and D's
    # rate twice G's (1e-3 and 5e-4), both falling to 1e-6; alone and with PacGAN2's packing.
    "R1": _R1,
    "R1 + pack 2": {**_R1, "pack": 2},
    # Issue 25: R3GAN's recipe, the relativistic pairing loss with R1 and R2 at the same gamma.
    "RpGAN": {**_R1, "loss_mode": "rpgan", "r2_gamma": _R1["r1_gamma"]},
}

# PacGAN Table 1 (Lin et al., 2018, arXiv:1712.04086): modes (max 8 / 25), high-quality
# share %, reverse KL; means over 10 runs. The mode counts are the ones the issue quotes;
# the other two columns are as we read the paper's table (the PacGAN repository holds it
# only as an image, results/Table1.png, which we could not open here).
PUBLISHED = {
    "ring8": [("GAN", 6.3, 98.2, 0.45), ("PacGAN2", 7.9, 95.6, 0.07),
              ("PacGAN3", 7.8, 97.7, 0.10), ("PacGAN4", 7.8, 95.9, 0.07)],
    "grid25": [("GAN", 17.3, 94.8, 0.70), ("PacGAN2", 23.8, 91.3, 0.13),
               ("PacGAN3", 24.6, 94.2, 0.06), ("PacGAN4", 24.8, 93.6, 0.04)],
}
MODE_COUNT = {"ring8": 8, "grid25": 25}


def _worker_init() -> None:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    tf.get_logger().setLevel("ERROR")  # fresh models per run: retracing warnings are expected


def configure(model: str, name: str, extra: dict, seed: int = 0, epochs: int | None = None):
    """The preset of ``model`` with configuration ``name``, then ``extra`` (--set), merged in."""
    from gan_edge.training.config import default_config

    config = default_config(model).with_overrides(CONFIGURATIONS[name]).with_overrides(extra)
    return config.with_overrides({"seed": seed, **({"epochs": epochs} if epochs is not None else {})})


def run_one(model: str, name: str, seed: int, epochs: int | None, extra: dict, label: str) -> dict:
    """Train one configuration with one seed; its final mode metrics and seconds."""
    from gan_edge.training.train import train

    config = configure(model, name, extra, seed, epochs)
    config = config.with_overrides({"eval_every": max(config.epochs, 1)})  # measure once, at the end
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as workdir:
        record = train(config, Path(workdir) / "run").records[-1]
    return {"model": model, "configuration": f"{name} + {label}" if label else name, "seed": seed,
            "rounds": config.epochs * config.data_samples // config.batch_size, "overrides": extra,
            "seconds": time.perf_counter() - started, **{k: record[k] for k in ("modes", "hq_share", "reverse_kl")}}


def summary(values: list[float]) -> str:
    mean = statistics.fmean(values)
    spread = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{mean:.2f} ± {spread:.2f}"


def print_table(model: str, runs: list[dict], names: list[str]) -> None:
    width = max([17] + [len(n) for n in names])
    header = (f"{'data':<7} {'configuration':<{width}} {'runs':>4} {'rounds/run':>10} {'modes':>13} "
              f"{'high quality %':>15} {'reverse KL':>13} {'s/run':>6}")
    print(header)
    print("-" * len(header))
    for name in names:
        mine = [r for r in runs if r["model"] == model and r["configuration"] == name]
        if not mine:
            continue
        rounds = sorted({r["rounds"] for r in mine})
        print(f"{model:<7} {name:<{width}} {len(mine):>4} {'/'.join(f'{n:,}' for n in rounds):>10} "
              f"{summary([r['modes'] for r in mine]):>13} "
              f"{summary([100 * r['hq_share'] for r in mine]):>15} "
              f"{summary([r['reverse_kl'] for r in mine]):>13} "
              f"{statistics.fmean(r['seconds'] for r in mine):>6.0f}")
    for label, modes, hq, kl in PUBLISHED[model]:
        print(f"{model:<7} {'paper ' + label:<{width}} {10:>4} {400_000:>10,} {modes:>13.1f} {hq:>15.1f} "
              f"{kl:>13.2f}   (PacGAN Table 1)")
    print()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from here (to add seeds to a --json)")
    parser.add_argument("--epochs", type=int, help="epochs of 100,000 samples (default: the preset's, 20)")
    parser.add_argument("--only", choices=tuple(MODE_COUNT), help="run one data set")
    parser.add_argument("--configs", help=f"comma-separated, from: {', '.join(CONFIGURATIONS)} (default: all)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes, one thread each")
    parser.add_argument("--json", type=Path, help="write every finished run here as it finishes")
    parser.add_argument("--set", dest="extra", default="{}",
                        help="JSON object of config overrides merged into every chosen configuration")
    parser.add_argument("--label", help="name of the --set overrides in the tables (default: the JSON)")
    parser.add_argument("--report", type=Path, nargs="+", help="print the tables of --json files; train nothing")
    args = parser.parse_args()
    if args.report:
        runs = []
        for path in args.report:
            data = json.loads(path.read_text())
            # Older files hold no rounds per run: their file-wide epochs of 1,000 rounds say it.
            runs += [{"rounds": data["epochs"] * 1000, **run} for run in data["runs"]]
        for model in dict.fromkeys(r["model"] for r in runs):
            print_table(model, runs, list(dict.fromkeys(r["configuration"] for r in runs)))
        return 0
    try:
        extra = json.loads(args.extra)
    except json.JSONDecodeError as exc:
        parser.error(f"--set must be a JSON object, got {args.extra!r}: {exc}")
    if not isinstance(extra, dict):
        parser.error(f"--set must be a JSON object, got {type(extra).__name__} {args.extra!r}")
    label = args.label or (json.dumps(extra, separators=(",", ":")) if extra else "")
    names = list(CONFIGURATIONS) if not args.configs else [n.strip() for n in args.configs.split(",")]
    unknown = [n for n in names if n not in CONFIGURATIONS]
    if unknown:
        parser.error(f"unknown configuration {unknown[0]!r}: expected one of {', '.join(CONFIGURATIONS)}")
    models = [args.only] if args.only else list(MODE_COUNT)

    from gan_edge.errors import ConfigError

    try:  # refuse a bad --set before any training starts
        preset = configure(models[0], names[0], extra, epochs=args.epochs)
    except ConfigError as exc:
        parser.error(f"--set: {exc}")
    epochs = preset.epochs
    rounds = epochs * preset.data_samples // preset.batch_size
    d, g = preset.d_optimizer, preset.g_optimizer
    print(f"mode collapse: {args.seeds} seeds per configuration (the protocol: 10), {rounds:,} rounds per "
          f"run (the protocol: 400,000), batch {preset.batch_size}; Adam (beta_1, beta_2) D ({d.beta_1}, "
          f"{d.beta_2}), G ({g.beta_1}, {g.beta_2}), rate falling D {d.learning_rate:g} -> "
          f"{d.final_learning_rate:g}, G {g.learning_rate:g} -> {g.final_learning_rate:g} (the protocol: "
          f"1e-4 constant, beta_1 0.8); R1 gamma {preset.r1_gamma:g}; XLA {'on' if preset.jit_compile else 'off'}; "
          f"2,500 points measured; {args.jobs} one-thread workers on {os.cpu_count()} CPUs"
          + (f"; --set {json.dumps(extra)}" if extra else "") + "\n", flush=True)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    tasks = [(model, name, seed) for model in models for name in names for seed in seeds]
    runs: list[dict] = []
    started = time.perf_counter()
    # A fresh worker every 10 runs: TensorFlow keeps each run's graphs, and a worker that
    # trained 30 runs held 3.5 GB.
    with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn"),
                             initializer=_worker_init, max_tasks_per_child=10) as pool:
        futures = [pool.submit(run_one, model, name, seed, args.epochs, extra, label)
                   for model, name, seed in tasks]
        for future in as_completed(futures):
            run = future.result()
            runs.append(run)
            print(f"[{len(runs):>3}/{len(tasks)} {(time.perf_counter() - started) / 60:5.1f} min] {run['model']} "
                  f"{run['configuration']:<17} seed {run['seed']}: {run['modes']:.0f} modes, "
                  f"{100 * run['hq_share']:.1f}% high quality, reverse KL {run['reverse_kl']:.3f} "
                  f"({run['seconds']:.0f} s)", flush=True)
            if args.json:
                args.json.write_text(json.dumps({"epochs": epochs, "runs": runs}, indent=1))
    print()
    for model in models:
        print_table(model, runs, [f"{n} + {label}" if label else n for n in names])
    print("modes: covered of 8 (ring8) or 25 (grid25); mean ± sample std over seeds.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
