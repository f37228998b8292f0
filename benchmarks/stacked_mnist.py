"""Stacked-MNIST: how many of the 1,000 digit triples the colour DCGAN draws after a CPU budget.

The VEEGAN / PacGAN protocol (training/data/stacked_mnist.py, training/evaluators/stacked_mnist.py):
128,000 pictures of three MNIST digits stacked as R, G, B; 26,000 generated samples, each
channel read by the project's MNIST classifier; ``modes`` is how many triples are drawn at
least once, ``reverse_kl`` KL(p || uniform over 1,000) in nats. Printed beside the published
rows: R3GAN (Huang et al., NeurIPS 2024, Table 3: 1,000 modes, KL 0.029) and PacGAN
(Lin et al., NeurIPS 2018, Table 2: DCGAN 99 modes, KL 3.40; PacDCGAN2 1,000, 0.06), as the
issue quotes them: PacGAN's repository holds its table only as an image
(stacked_MNIST_experiments/results/Table2.png), which we could not read here, and R3GAN's
table was not in our sources. Their runs train for hours on GPUs (PacGAN: 50 epochs of
128,000); ours is bounded by CPU time.

The run: `gan-edge train dcgan --data stacked-mnist` in this process (the book's DCGAN at
28x28x3) with --overrides merged in, stopped when training has used --cpu-minutes of CPU time
(time.process_time: every thread of the process; a checkpoint is written where it stops), or
earlier at --wall-minutes if given (the table then says so). The stacked set and the MNIST
classifier are made before the clock starts; the 26,000 samples are measured after it stops,
from the checkpoint. The default recipe is R3GAN's as the issue scales it: the relativistic
pairing loss (rpgan) with R1 and R2 (gamma 0.1 each: its small-image setting after the burn-in),
Adam beta_1 0 / beta_2 0.99, 2e-4 for both networks, batches of 64 (PacGAN's), and the book's
DCGAN with G narrowed to 256 / 64 / 32 (the screen below RECIPE).

    python benchmarks/stacked_mnist.py [--cpu-minutes 25] [--wall-minutes M] [--seed 61]
                                       [--overrides JSON] [--threads 1] [--out DIR] [--name stacked_mnist]
                                       [--samples 26000]

Writes benchmarks/results/NAME.txt, NAME.json and NAME_samples.png (64 samples), and keeps
the run folder (--out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import time
from pathlib import Path

from _mnist_bench import ROOT  # first: sys.path, data folder, TensorFlow

import tensorflow as tf  # noqa: E402

from gan_edge.training.config import default_config  # noqa: E402
from gan_edge.training.data import load_training_data, resolve_image_shape  # noqa: E402
from gan_edge.training.data.stacked_mnist import EVAL_SAMPLES, NAME, TRAINING_SAMPLES  # noqa: E402
from gan_edge.training.evaluators import evaluator_for  # noqa: E402

# Screened on seed 7, 6 CPU-minutes each, 26,000 samples (modes, reverse KL): the book's G
# (1024/128/64) 967, 0.70 (240 rounds); G 256/64/32 988, 0.46 (340 rounds); the same at Adam
# 5e-4 761, 1.53; G 128/32/32 996, 0.46 (350 rounds). D (the book's) costs most of a round, so
# a narrower G buys rounds; 256/64/32 keeps more of G for the longer run.
_ADAM = {"name": "adam", "learning_rate": 2e-4, "beta_1": 0.0, "beta_2": 0.99}
RECIPE = {"loss_mode": "rpgan", "r1_gamma": 0.1, "r2_gamma": 0.1, "batch_size": 64,
          "d_optimizer": _ADAM, "g_optimizer": _ADAM, "generator_widths": [256, 64, 32]}
# (row, modes, reverse KL, where): the published rows, as the issue quotes them.
PUBLISHED = [
    ("R3GAN (Table 3)", 1000, 0.029, "Huang et al. 2024"),
    ("PacGAN: DCGAN (Table 2)", 99, 3.40, "Lin et al. 2018"),
    ("PacGAN: PacDCGAN2 (Table 2)", 1000, 0.06, "Lin et al. 2018"),
]
TARGET = {"modes": 990, "reverse_kl": 0.1, "cpu_minutes": 60}
NEVER = 1_000_000  # epochs and evaluations: the budget stops the run, the measurement follows


def machine() -> str:
    try:
        lscpu = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
    except OSError:
        lscpu = ""
    fields = dict(line.split(":", 1) for line in lscpu.splitlines() if ":" in line)
    model = fields.get("Model name", platform.processor() or "unknown").strip()
    return f"{model}, {os.cpu_count()} CPUs ({platform.machine()})"


def train_within(config, out: Path, cpu_seconds: float, wall_seconds: float | None) -> dict:
    """Train ``config`` into ``out`` until its CPU time (or wall time) is spent."""
    from gan_edge.training.train import train

    rounds = 0

    def count(n: int) -> None:
        nonlocal rounds
        rounds += n

    wall, cpu = time.perf_counter(), time.process_time()

    def spent() -> bool:
        over_wall = wall_seconds is not None and time.perf_counter() - wall >= wall_seconds
        return time.process_time() - cpu >= cpu_seconds or over_wall

    train(config, out, on_rounds=count, should_stop=spent)
    return {"rounds": rounds, "images": rounds * config.batch_size,
            "cpu_minutes": (time.process_time() - cpu) / 60, "wall_minutes": (time.perf_counter() - wall) / 60}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-minutes", type=float, default=25.0, help="CPU time of training (all threads)")
    parser.add_argument("--wall-minutes", type=float, help="stop earlier at this wall time (a shared machine)")
    parser.add_argument("--seed", type=int, default=61)
    parser.add_argument("--overrides", default="{}", help="JSON config keys merged over the recipe")
    parser.add_argument("--threads", type=int, default=1, help="TensorFlow's intra- and inter-op threads")
    parser.add_argument("--out", type=Path, help="run folder (default runs/stacked-mnist-TIMESTAMP)")
    parser.add_argument("--name", default="stacked_mnist", help="result files' name")
    parser.add_argument("--samples", type=int, default=EVAL_SAMPLES, help="samples measured (the protocol's 26,000)")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    if args.cpu_minutes <= 0 or args.threads < 1:
        parser.error(f"--cpu-minutes and --threads must be positive, got {args.cpu_minutes}, {args.threads}")
    tf.config.threading.set_intra_op_parallelism_threads(args.threads)
    tf.config.threading.set_inter_op_parallelism_threads(args.threads)
    overrides = {**RECIPE, **json.loads(args.overrides)}
    out = args.out or ROOT / "runs" / f"stacked-mnist-{time.strftime('%Y%m%d-%H%M%S')}"
    # Few samples measured while training (the untrained generator's grid); 26,000 after.
    config = default_config("dcgan").with_overrides(
        {**overrides, "data_path": NAME, "seed": args.seed, "epochs": NEVER, "eval_every": NEVER, "eval_samples": 64})
    config = resolve_image_shape(config)
    evaluator = evaluator_for(config)
    load_training_data(config, "images")  # the stacked set's cache, made before the clock
    evaluator.task(config)  # and the classifier, trained or loaded
    print(f"Stacked-MNIST: {args.cpu_minutes:g} CPU-minutes of training, seed {args.seed}, {args.threads} thread(s), "
          f"on {machine()}; run folder {out}", flush=True)
    run = train_within(config, out, args.cpu_minutes * 60, None if args.wall_minutes is None else args.wall_minutes * 60)

    from gan_edge.export.source import load_generator
    from gan_edge.training.evaluators.mnist import evaluation_draws, generate_in_chunks
    from gan_edge.training.image_grid import write_grid

    trained = load_generator(out)
    cpu = time.process_time()
    rows = evaluator.score(lambda z: generate_in_chunks(trained.model, z), config, samples=args.samples,
                           seed=args.seed + 1)
    measure_minutes = (time.process_time() - cpu) / 60
    # 64 samples from the evaluator's fixed latents, the channels shown as the colours they are.
    latent, _ = evaluation_draws(config, TRAINING_SAMPLES)
    args.results.mkdir(parents=True, exist_ok=True)
    write_grid(generate_in_chunks(trained.model, latent[:64]), args.results / f"{args.name}_samples.png",
               f"Stacked-MNIST, seed {args.seed}, {run['cpu_minutes']:.1f} CPU-minutes")
    ours, real, untrained = rows["generator"], rows["real"], rows["untrained"]
    stopped_by_wall = run["cpu_minutes"] < args.cpu_minutes * 0.99
    epochs = run["images"] / TRAINING_SAMPLES

    label = f"gan-edge DCGAN, {config.loss_mode} + R1 {config.r1_gamma:g} + R2 {config.r2_gamma:g} (ours)"
    lines = [
        f"Stacked-MNIST (PacGAN's protocol: 128,000 training pictures, {args.samples:,} samples measured, "
        "modes of 1,000 read by the project's MNIST classifier, reverse KL in nats)",
        f"machine: {machine()}; TensorFlow {tf.__version__}, {args.threads} thread(s), nice as started",
        f"seed {args.seed}; settings over the dcgan default preset: {json.dumps(overrides, sort_keys=True)}",
        f"training: {run['cpu_minutes']:.1f} CPU-minutes ({run['wall_minutes']:.1f} wall), {run['rounds']:,} rounds of "
        f"{config.batch_size} = {run['images']:,} pictures ({epochs:.2f} epochs)"
        + (f"; stopped by --wall-minutes {args.wall_minutes:g} before the {args.cpu_minutes:g} CPU-minute budget"
           if stopped_by_wall else ""),
        f"measurement: {measure_minutes:.1f} CPU-minutes for {args.samples:,} samples, as many real pictures and "
        "as many from the untrained generator",
        "",
        f"{'row':<52} {'modes':>6} {'reverse KL':>11}  training",
        "-" * 96,
        f"{label:<52} {ours['modes']:>6.0f} {ours['reverse_kl']:>11.3f}  {run['cpu_minutes']:.1f} CPU-min, "
        f"{epochs:.2f} epochs",
        f"{'real stacked pictures (the classifier floor)':<52} {real['modes']:>6.0f} {real['reverse_kl']:>11.3f}  -",
        f"{'the same generator untrained (noise read as digits)':<52} {untrained['modes']:>6.0f} "
        f"{untrained['reverse_kl']:>11.3f}  0",
    ]
    lines += [f"{row:<52} {modes:>6,} {kl:>11.3f}  {where}" for row, modes, kl, where in PUBLISHED]
    missed = []
    if ours["modes"] < TARGET["modes"]:
        missed.append(f"modes {ours['modes']:.0f} < {TARGET['modes']} (short by {TARGET['modes'] - ours['modes']:.0f})")
    if ours["reverse_kl"] > TARGET["reverse_kl"]:
        missed.append(f"reverse KL {ours['reverse_kl']:.3f} > {TARGET['reverse_kl']} "
                      f"({ours['reverse_kl'] / TARGET['reverse_kl']:.1f}x)")
    lines += ["", f"target (issue 25): >= {TARGET['modes']} modes and KL <= {TARGET['reverse_kl']} within "
                  f"{TARGET['cpu_minutes']} CPU-minutes: " + ("met" if not missed else "missed: " + "; ".join(missed))]
    text = "\n".join(lines) + "\n"
    print(text, end="")
    (args.results / f"{args.name}.txt").write_text(text)
    record = {"seed": args.seed, "machine": machine(), "threads": args.threads, "overrides": overrides,
              "config": config.to_dict(), "run_folder": str(out), **run, "epochs": epochs,
              "measure_cpu_minutes": measure_minutes, "generator": ours, "real": real, "untrained": untrained,
              "published": [dict(zip(("row", "modes", "reverse_kl", "source"), p)) for p in PUBLISHED],
              "target": TARGET, "missed": missed}
    (args.results / f"{args.name}.json").write_text(json.dumps(record, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
