"""The mcu-preset DCGAN against the book's, at the same CPU time: the same scores.

Each generator trains in this process until training has used --cpu-minutes of CPU time
(time.process_time, every thread counted: progan_vs_dcgan.py's protocol), with the same
discriminator, four-step round and Adam settings (the dcgan "default" preset; "mcu"
narrows the generator to 128 / 32 / 32 and adds R1, gamma 1: training/config.py). Then each is scored by the project's MNIST
evaluator on 2,000 samples against the same real digits: FCD, digits covered, class KL,
precision and recall, for the float generator and for its int8 TFLite export (what the
C module computes, bit for bit).

Writes benchmarks/results/mcu_dcgan_quality.{txt,json} and mcu_dcgan_quality.png (16
samples of each, from the evaluator's fixed latents). The mcu run folder is kept (--out)
for benchmarks/mcu_dcgan.py, which builds it for the Cortex-M cores.

    python benchmarks/mcu_dcgan_quality.py [--cpu-minutes 10] [--presets default,mcu] [--name NAME] [--out DIR]
                                           [--seed N] [--overrides JSON] [--resume]

--presets mcu trains the mcu generator alone (a longer budget than the comparison had
time for); --name names the result files (default mcu_dcgan_quality). --seed sets every
trained preset's seed (default: the preset's). --overrides (a JSON object of config keys,
as `gan-edge train --config` takes) is merged into every trained preset, one level deep
for the optimizers: how candidate settings of the mcu preset were screened, e.g.
--presets mcu --overrides '{"r1_gamma": 1, "g_optimizer": {"learning_rate": 4e-4}}'.
--resume continues the run folders under --out (exact resume) for --cpu-minutes more each;
the table then shows the totals (each run folder keeps them in cpu_budget.json), and the
int8 export of the longer-trained generator goes to a new folder, export-<total>cpumin.
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

from gan_edge.export import export_run  # noqa: E402
from gan_edge.export.source import load_generator  # noqa: E402
from gan_edge.latent import sample_latent  # noqa: E402
from progan_vs_dcgan import train_for  # noqa: E402
from gan_edge.training.config import default_config  # noqa: E402
from gan_edge.training.evaluate import evaluate_generator  # noqa: E402
from gan_edge.training.image_grid import write_panels  # noqa: E402

PLANS = {"book DCGAN (1024/128/64)": "default", "mcu DCGAN (128/32/32)": "mcu"}


def int8_sampler(model_path: Path, input_q, output_q):
    """latents (float) -> images (float) through the int8 TFLite model, as a board computes them."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model_path.read_bytes())
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]

    def generate(z: np.ndarray) -> np.ndarray:
        q = np.clip(np.round(z / input_q[0]) + input_q[1], -128, 127).astype(np.int8)
        interpreter.resize_tensor_input(inp["index"], q.shape)
        interpreter.allocate_tensors()
        interpreter.set_tensor(inp["index"], q)
        interpreter.invoke()
        y = interpreter.get_tensor(out["index"]).astype(np.float32)
        return (y - output_q[1]) * output_q[0]

    return generate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cpu-minutes", type=float, default=10.0, help="CPU time per model (all threads)")
    parser.add_argument("--presets", default="default,mcu", help="dcgan presets to train, in order")
    parser.add_argument("--name", default="mcu_dcgan_quality", help="stem of the result files")
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / f"mcu-dcgan-{time.strftime('%Y%m%d-%H%M%S')}")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--seed", type=int, default=None, help="seed of every trained preset (default: the preset's)")
    parser.add_argument("--overrides", default="{}", help="JSON object merged into every trained preset's config")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run folders under --out for --cpu-minutes more each")
    args = parser.parse_args()
    if args.cpu_minutes <= 0:
        parser.error(f"--cpu-minutes must be positive, got {args.cpu_minutes}")
    try:
        extra = json.loads(args.overrides)
    except json.JSONDecodeError as exc:
        parser.error(f"--overrides is not valid JSON: {exc}")
    if not isinstance(extra, dict):
        parser.error(f"--overrides must be a JSON object, got {args.overrides!r}")
    if args.resume and (args.seed is not None or extra):
        parser.error("--resume continues the runs with their own settings: drop --seed and --overrides")
    if args.seed is not None:
        extra = {**extra, "seed": args.seed}
    plans = {label: preset for label, preset in PLANS.items() if preset in args.presets.split(",")}
    if not plans:
        parser.error(f"--presets must name some of {', '.join(PLANS.values())}, got {args.presets!r}")

    print(f"{' against '.join(plans)}: {args.cpu_minutes:g} {'more ' if args.resume else ''}CPU-minutes each on {os.cpu_count()} CPUs, "
          f"the 10,000 shared MNIST digits; run folders under {args.out}", flush=True)
    runs, rows, finals = {}, {}, {}
    for label, preset in plans.items():
        folder = args.out / preset
        if args.resume:
            run = continue_for(folder, args.cpu_minutes * 60)
        else:
            # The preset with --overrides on top, as TrainConfig.with_overrides merges them.
            settings = default_config("dcgan", preset).with_overrides(extra).to_dict()
            run = train_for("dcgan", {**settings, "epochs": 1_000_000, "eval_every": 1_000_000},
                            args.cpu_minutes * 60, folder)
        (folder / BUDGET_FILE).write_text(json.dumps({k: run[k] for k in ("rounds", "images", "cpu_minutes")}))
        config = run["config"]
        trained = load_generator(folder)
        scores = evaluate_generator(lambda z: trained(z).numpy(), run["config"], samples=2000)
        export_dir = folder / (f"export-{run['cpu_minutes']:.0f}cpumin" if args.resume else "export")
        artifacts = export_run(folder, export_dir, formats=("int8",), fidelity_samples=500)
        int8 = artifacts[0]
        manifest = json.loads(Path(f"{int8.path}.manifest.json").read_text())
        q_in, q_out = manifest["input_quantization"], manifest["output_quantization"]
        int8_scores = evaluate_generator(
            int8_sampler(int8.path, (q_in["scale"], q_in["zero_point"]), (q_out["scale"], q_out["zero_point"])),
            run["config"], samples=2000)
        latent = sample_latent(config.latent_distribution, 16, config.latent_dim,
                               np.random.default_rng(config.seed + 1))
        finals[label] = trained(latent).numpy()
        rows[label], rows[label + " int8"] = scores, int8_scores
        runs[label] = {**run, "int8_bytes": int8.size_bytes,
                       "generator_parameters": int(trained.model.count_params())}
        print(f"{label}: {run['rounds']:,} rounds, {run['images']:,} images in {run['cpu_minutes']:.1f} CPU-min "
              f"({run['wall_minutes']:.1f} min wall); int8 TFLite {int8.size_bytes:,} bytes", flush=True)

    seeds = sorted({run["config"].seed for run in runs.values()})
    spent = sorted({round(run["cpu_minutes"]) for run in runs.values()})
    lines = [f"after {'/'.join(map(str, spent))} CPU-minutes each ({os.cpu_count()} CPUs"
             + (f"; resumed for the last {args.cpu_minutes:g}" if args.resume else "")
             + f"), seed {', '.join(map(str, seeds))}"
             + (f", overrides {json.dumps({k: v for k, v in extra.items() if k != 'seed'})}"
                if set(extra) - {"seed"} else "") + ", 2,000 samples each:",
             f"{'':<30}{'images':>9}{'CPU min':>9}{'G params':>10}" + "".join(f"{n:>16}" for n in SHOWN)]
    lines.append("-" * len(lines[-1]))
    for label, scores in rows.items():
        run = runs.get(label)
        lead = (f"{run['images']:>9,}{run['cpu_minutes']:>9.1f}{run['generator_parameters']:>10,}" if run
                else f"{'':>9}{'':>9}{'':>10}")
        lines.append(f"{label:<30}{lead}" + "".join(f"{scores['generator'][n]:>16.3f}" for n in SHOWN))
    first = next(iter(rows.values()))
    lines.append(f"{'real vs real':<30}{'':>28}" + "".join(f"{first['real_vs_real'][n]:>16.3f}" for n in SHOWN))
    text = "\n".join(lines)
    print("\n" + text)

    args.results.mkdir(parents=True, exist_ok=True)
    figure = write_panels(finals, args.results / f"{args.name}.png", f"float samples after {'/'.join(map(str, spent))} CPU-min")
    (args.results / f"{args.name}.txt").write_text(text + "\n")
    (args.results / f"{args.name}.json").write_text(json.dumps({
        "cpu_minutes": args.cpu_minutes, "out": str(args.out), "seed": args.seed, "overrides": extra,
        "runs": {k: {n: v for n, v in r.items() if n != "config"} for k, r in runs.items()}, "rows": rows,
    }, indent=2, default=float))
    print(f"\nfigure: {figure}\nrun folders: {args.out}")
    return 0


# In each run folder: the rounds, images and CPU minutes trained so far, for --resume.
BUDGET_FILE = "cpu_budget.json"


def continue_for(folder: Path, cpu_seconds: float) -> dict:
    """Resume the run in ``folder`` for ``cpu_seconds`` more CPU time; totals include the earlier runs."""
    from gan_edge.training.config import config_from_dict
    from gan_edge.training.train import train

    if not (folder / BUDGET_FILE).is_file():
        raise SystemExit(f"--resume: {folder} has no {BUDGET_FILE}: train it with this script first")
    spent = json.loads((folder / BUDGET_FILE).read_text())
    config = config_from_dict(json.loads((folder / "config.json").read_text()))
    rounds = 0

    def count(n: int) -> None:
        nonlocal rounds
        rounds += n

    wall, cpu = time.perf_counter(), time.process_time()
    train(config, folder, resume=True, on_rounds=count, should_stop=lambda: time.process_time() - cpu >= cpu_seconds)
    return {"config": config, "rounds": spent["rounds"] + rounds, "images": spent["images"] + rounds * config.batch_size,
            "cpu_minutes": spent["cpu_minutes"] + (time.process_time() - cpu) / 60,
            "wall_minutes": (time.perf_counter() - wall) / 60}


if __name__ == "__main__":
    sys.exit(main())
