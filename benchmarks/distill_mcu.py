"""The mcu DCGAN distilled from the book's (issue 24): its quality in float and int8, its CPU time.

    python benchmarks/distill_mcu.py TEACHER_RUN [--seed 51] [--cpu-minutes 30] [--out DIR]
                                     [--overrides JSON] [--name distill_mcu]
    python benchmarks/distill_mcu.py TEACHER_RUN --score RUN_DIR [--cpu-minutes-spent M]

1. `gan-edge distill TEACHER_RUN --preset mcu --seed S --out DIR --cpu-minutes M` runs as a
   child process, as a user runs it, and stops cleanly at a checkpoint once its CPU time
   (user + system, every thread) reaches M. The CPU time reported is the child's own
   (getrusage of the reaped child): loading the data and the teacher and the in-run
   evaluations (every 5 epochs here) count against the budget.
2. The teacher, the distilled student and the student's int8 TFLite export (what the C
   module computes, bit for bit) are scored by the project's MNIST evaluator on 2,000
   samples against the same real digits, as benchmarks/mcu_dcgan_quality.py scores them:
   FCD, digits covered, class KL, precision, recall, and the real-vs-real floor; beside
   them the imitation gap, mean |student(z) - teacher(z)| on those latents.

--score skips step 1 and scores a distilled run folder that exists (its CPU time then
comes from --cpu-minutes-spent). Writes benchmarks/results/NAME.{txt,json} and NAME.png
(16 samples of the teacher and of the student, float and int8, on the same latents).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _mnist_bench import ROOT, SHOWN  # first: sys.path, data folder, TensorFlow

from gan_edge.export import export_run  # noqa: E402
from gan_edge.export.source import load_generator  # noqa: E402
from gan_edge.latent import sample_latent  # noqa: E402
from gan_edge.training.evaluate import evaluate_generator  # noqa: E402
from gan_edge.training.image_grid import write_panels  # noqa: E402
from gan_edge.training.run import RunFolder  # noqa: E402
from mcu_dcgan_quality import int8_sampler  # noqa: E402

EVAL_EVERY = 5  # epochs between the run's own evaluations (FCD in metrics.jsonl)
EPOCHS = 1000  # more than any budget here reaches: the CPU budget ends the run
SAMPLES = 2000


def distill_for(teacher: Path, out: Path, seed: int, cpu_minutes: float, overrides: dict) -> dict:
    """Run `gan-edge distill --cpu-minutes` (a clean stop with a checkpoint); its CPU and wall time."""
    settings = out.parent / f"{out.name}-overrides.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"eval_every": EVAL_EVERY, **overrides}))
    command = [sys.executable, "-m", "gan_edge.cli.main", "distill", str(teacher), "--preset", "mcu",
               "--seed", str(seed), "--epochs", str(EPOCHS), "--config", str(settings), "--out", str(out),
               "--cpu-minutes", f"{cpu_minutes:g}"]
    before, wall = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    code = subprocess.run(command, cwd=ROOT).returncode
    if code != 0:
        raise SystemExit(f"gan-edge distill failed with exit status {code}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    epochs = len(RunFolder(out).read_metrics())
    return {"cpu_minutes": cpu / 60, "wall_minutes": (time.perf_counter() - wall) / 60,
            "stopped_by_budget": epochs < EPOCHS, "command": " ".join(command)}


def int8_scores(run_dir: Path, config) -> tuple[dict, object, int]:
    """The run's int8 TFLite export scored as the float generator is; the sampler and its size."""
    artifact = export_run(run_dir, run_dir / "export-int8", formats=("int8",), fidelity_samples=500)[0]
    manifest = json.loads(Path(f"{artifact.path}.manifest.json").read_text())
    q_in, q_out = manifest["input_quantization"], manifest["output_quantization"]
    sampler = int8_sampler(artifact.path, (q_in["scale"], q_in["zero_point"]), (q_out["scale"], q_out["zero_point"]))
    return evaluate_generator(sampler, config, samples=SAMPLES), sampler, artifact.size_bytes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("teacher", type=Path, help="a `gan-edge train dcgan` run folder")
    parser.add_argument("--seed", type=int, default=51, help="the student's seed (default 51)")
    parser.add_argument("--cpu-minutes", type=float, default=30.0, help="CPU budget of the distillation")
    parser.add_argument("--overrides", default="{}", help="JSON object of config overrides for the student")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / f"distill-mcu-{time.strftime('%Y%m%d-%H%M%S')}")
    parser.add_argument("--score", type=Path, help="score this distilled run folder instead of distilling")
    parser.add_argument("--cpu-minutes-spent", type=float, help="with --score: the CPU minutes it took")
    parser.add_argument("--name", default="distill_mcu", help="stem of the result files")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    overrides = json.loads(args.overrides)
    teacher_dir = args.teacher.resolve()

    if args.score is None:
        print(f"distilling {teacher_dir} into {args.out}: seed {args.seed}, {args.cpu_minutes:g} CPU-minutes",
              flush=True)
        run = distill_for(teacher_dir, args.out, args.seed, args.cpu_minutes, overrides)
        student_dir = args.out
    else:
        student_dir = args.score
        run = {"cpu_minutes": args.cpu_minutes_spent, "wall_minutes": None, "stopped_by_budget": None}

    teacher, student = load_generator(teacher_dir), load_generator(student_dir)
    config = student.config
    rows = {"teacher (book DCGAN, float)": evaluate_generator(lambda z: teacher(z).numpy(), teacher.config,
                                                              samples=SAMPLES),
            "student (mcu, float)": evaluate_generator(lambda z: student(z).numpy(), config, samples=SAMPLES)}
    rows["student (mcu, int8 TFLite)"], int8, int8_bytes = int8_scores(student_dir, config)
    latent = sample_latent(config.latent_distribution, SAMPLES, config.latent_dim, np.random.default_rng(0))
    taught = teacher(latent).numpy()
    gaps = {"student (mcu, float)": float(np.abs(student(latent).numpy() - taught).mean()),
            "student (mcu, int8 TFLite)": float(np.abs(int8(latent) - taught).mean())}
    metrics = RunFolder(student_dir).read_metrics()
    epochs = metrics[-1]["epoch"] if metrics else 0
    rounds = _rounds_trained(student_dir, epochs)

    cpu = run["cpu_minutes"]
    lines = [f"`gan-edge distill {teacher_dir} --preset mcu --seed {config.seed}`"
             + (f", overrides {json.dumps(overrides)}" if overrides else "")
             + f": {rounds:,} rounds ({rounds * config.batch_size:,} images) in "
             + (f"{cpu:.1f} CPU-minutes (user + system, {os.cpu_count()} CPUs)" if cpu is not None else "an unmeasured time"),
             ("imitation alone" if config.imitation_only
              else f"the four-step round, D from the teacher's: {config.teacher_discriminator}")
             + f", imitation_weight {config.imitation_weight:g}; "
             f"int8 TFLite {int8_bytes:,} bytes; {SAMPLES:,} samples each; machine: {_cpu_name()}",
             f"{'':<30}" + "".join(f"{n:>16}" for n in SHOWN) + f"{'gap to teacher':>16}"]
    lines.append("-" * len(lines[-1]))
    for label, scores in rows.items():
        lines.append(f"{label:<30}" + "".join(f"{scores['generator'][n]:>16.3f}" for n in SHOWN)
                     + (f"{gaps[label]:>16.3f}" if label in gaps else ""))
    floor = next(iter(rows.values()))["real_vs_real"]
    lines.append(f"{'real vs real':<30}" + "".join(f"{floor[n]:>16.3f}" for n in SHOWN))
    text = "\n".join(lines)
    print("\n" + text)

    args.results.mkdir(parents=True, exist_ok=True)
    sixteen = latent[:16]
    figure = write_panels({"teacher": teacher(sixteen).numpy(), "student, float": student(sixteen).numpy(),
                           "student, int8": int8(sixteen)}, args.results / f"{args.name}.png",
                          f"the same 16 latents, seed {config.seed}")
    (args.results / f"{args.name}.txt").write_text(text + "\n")
    (args.results / f"{args.name}.json").write_text(json.dumps({
        "teacher": str(teacher_dir), "student": str(student_dir), "seed": config.seed, "overrides": overrides,
        "run": run, "rounds": rounds, "epochs_completed": epochs, "int8_bytes": int8_bytes, "gap_to_teacher": gaps,
        "rows": rows, "metrics": metrics, "machine": {"cpu": _cpu_name(), "cpus": os.cpu_count(),
                                                      "python": platform.python_version()},
    }, indent=2, default=float))
    print(f"\nfigure: {figure}\nrun folder: {student_dir}")
    return 0


def _rounds_trained(run_dir: Path, epochs: int) -> int:
    """Rounds in the last checkpoint: whole epochs, plus the rounds of a stop inside one."""
    import tensorflow as tf

    from gan_edge.training.config import config_from_dict

    config = config_from_dict(json.loads((run_dir / "config.json").read_text()))
    per_epoch = -(-(config.data_limit or 10_000) // config.batch_size)
    checkpoint = tf.train.latest_checkpoint(str(run_dir / "checkpoints"))
    position = tf.train.load_variable(checkpoint, "position/.ATTRIBUTES/VARIABLE_VALUE").decode()
    if position:
        where = json.loads(position)
        return (where["epoch"] - 1) * per_epoch + where["round"]
    return epochs * per_epoch


def _cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


if __name__ == "__main__":
    sys.exit(main())
