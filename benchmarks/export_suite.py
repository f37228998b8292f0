"""Every export format of a freshly trained toy run, side by side.

Trains the default toy GAN (13 epochs, about 10 s on 2 cores), exports every format
(dynamic batch, plus static batches with --batch), and prints one row per artifact:
its size and the ratio to the float artifact of the same file type (float32 .tflite,
or float .onnx for onnx-int8), its fidelity against the float generator on the same
10,000 latents (PSNR, max abs error), its samples' sliced Wasserstein distance to the
training data (the float generator's own is printed first: no artifact can beat it by
more than noise), and the export time (conversion, load, fidelity check, write).

    python benchmarks/export_suite.py [--seed 0] [--batch 1,8] [--keep DIR] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from importlib import metadata
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from export import export_run  # noqa: E402
from training.config import default_config  # noqa: E402
from training.train import train  # noqa: E402


def measure(workdir: Path, seed: int, batch_sizes: tuple[int, ...]) -> dict:
    run = train(default_config().with_overrides({"seed": seed}), workdir / "run")
    export_run(run.run.path, workdir / "export", formats=("all",), batch_sizes=batch_sizes)
    return json.loads((workdir / "export" / "report.json").read_text())


def print_table(report: dict) -> None:
    reference = report["float_generator"]
    print(f"float generator vs data: swd {reference['swd']:.4f}  mean_err {reference['mean_err']:.4f}  "
          f"std_err {reference['std_err']:.4f}")
    header = f"{'format':<20} {'bytes':>7} {'vs f32':>7} {'PSNR dB':>8} {'max abs err':>12} {'swd':>7} {'seconds':>8}"
    print(header)
    print("-" * len(header))
    for a in report["artifacts"]:
        name = a["variant"] if a["batch_size"] is None else f"{a['variant']} b{a['batch_size']}"
        ratio = "-" if a["size_vs_float32"] is None else f"{a['size_vs_float32']:.2f}x"
        print(f"{name:<20} {a['bytes']:>7,} {ratio:>7} {a['psnr_db']:>8.1f} {a['max_abs_err']:>12.2e} "
              f"{a['swd']:>7.4f} {a['seconds']:>8.2f}")


def environment() -> dict:
    versions = {}
    for package in ("tensorflow", "ai-edge-litert", "onnxruntime", "tf2onnx", "onnx"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            pass
    return {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count(), **versions}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch", default="1", help="static batch sizes, comma-separated ('' for none)")
    parser.add_argument("--keep", type=Path, help="write the run and the artifacts here instead of a temporary folder")
    parser.add_argument("--json", type=Path, help="also write the report and the environment here")
    args = parser.parse_args()
    batch_sizes = tuple(int(b) for b in args.batch.split(",") if b.strip())

    if args.keep is not None:
        report = measure(args.keep, args.seed, batch_sizes)
    else:
        with tempfile.TemporaryDirectory(prefix="export-suite-") as workdir:
            report = measure(Path(workdir), args.seed, batch_sizes)
    env = environment()
    print(" ".join(f"{k}={v}" for k, v in env.items()))
    print_table(report)
    if args.json is not None:
        args.json.write_text(json.dumps({"environment": env, "report": report}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
