"""The mcu DCGAN on emulated Cortex-M cores: the digits the M7 draws, and what it costs.

    python benchmarks/mcu_dcgan.py RUN_DIR [--images 16] [--latents 8]

RUN_DIR is a `gan-edge train dcgan --preset mcu` run (benchmarks/mcu_dcgan_quality.py
keeps one); its int8 model and C module are exported into RUN_DIR/export-mcu unless
there already. Then:

1. benchmarks/mcu_qemu.py on that export: for the Cortex-M4, M7 and M55 QEMU images,
   instructions per image on --latents fixed latents, module flash / static RAM /
   stack, image flash and RAM, bit-exactness against tflite-micro, TFLM's arena;
2. `make run CPU=cortex-m7 IMAGES=n`: the board draws n latents with gan_sample_latent,
   prints each image as ASCII art and writes the raw int8 bytes through semihosting; the
   bytes are checked against tflite-micro's on the same latents and drawn as a grid,
   each digit labelled with what the project's MNIST classifier reads in it;
3. the cost of DEPTH_TO_SPACE: the same M7 run with its copies skipped (the outputs are
   then wrong; only the instruction count is kept).

Writes benchmarks/results/mcu_dcgan_cores.txt, mcu_dcgan_m7.txt (ASCII art, labels) and
mcu_dcgan_m7_grid.png.
"""

from __future__ import annotations

import argparse
import contextlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from _mnist_bench import ROOT  # first: sys.path, data folder, TensorFlow

from mcu_qemu import MCU, make_run, tflm  # noqa: E402

sys.path.insert(0, str(MCU / "qemu"))
from check_io import parse_check_output, write_latents_header  # noqa: E402


def export(run_dir: Path) -> Path:
    out = run_dir / "export-mcu"
    if (out / "c" / "gan_generator.c").is_file():
        return out
    from gan_edge.cli.main import main as gan_edge_main

    with contextlib.redirect_stdout(sys.stderr):
        if gan_edge_main(["export", str(run_dir), "--formats", "c", "--out", str(out),
                          "--flash-kib", "512", "--ram-kib", "64"]) != 0:
            raise SystemExit(f"exporting {run_dir} failed")
    return out


def d2s_cost(module_dir: Path, work: Path, latents: np.ndarray) -> tuple[float, float]:
    """Instructions per image on the M7 with and without the DEPTH_TO_SPACE copies."""
    header = write_latents_header(latents, work / "d2s_latents.h", passes=1)
    counts = []
    for skip in (False, True):
        folder = work / ("d2s-skipped" if skip else "d2s")
        shutil.copytree(module_dir, folder, dirs_exist_ok=True)
        if skip:
            source = folder / "gan_generator.c"
            text = source.read_text()
            anchor = "    const long out_row = (long)width * block * out_channels;\n"
            source.write_text(text.replace(anchor, anchor + "    if (height > 0) {\n        return;\n    }\n"))
        out = make_run("CPU=cortex-m7", f"MODULE_DIR={folder}", f"BUILD_DIR={work / ('b-' + folder.name)}",
                       f"LATENTS={header}")
        counts.append(parse_check_output(out, len(latents), 784)[1])
    return counts[0], counts[0] - counts[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="a `gan-edge train dcgan --preset mcu` run folder")
    parser.add_argument("--images", type=int, default=16, help="images the M7 draws for the grid (default 16)")
    parser.add_argument("--latents", type=int, default=8, help="fixed latents per core for the table (default 8)")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    # Absolute: the board's Makefile runs in firmware_examples/mcu and reads MODULE_DIR from there.
    export_dir = export(args.run_dir.resolve())
    module_dir, model = export_dir / "c", export_dir / "generator_int8.tflite"
    args.results.mkdir(parents=True, exist_ok=True)

    print("1. cores: benchmarks/mcu_qemu.py", file=sys.stderr, flush=True)
    table = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "mcu_qemu.py"), str(export_dir),
                            "--latents", str(args.latents)], capture_output=True, text=True)
    if table.returncode != 0:
        raise SystemExit(f"benchmarks/mcu_qemu.py failed:\n{table.stdout}{table.stderr[-2000:]}")
    header = (module_dir / "gan_generator.h").read_text()
    footprint = "\n".join(line[3:] for line in header.splitlines() if line.startswith((" *   flash", " *   RAM",
                                                                                       " *          ", " *   work")))
    cores = table.stdout + "module header (computed by export/c_module.py):\n" + footprint + "\n"
    (args.results / "mcu_dcgan_cores.txt").write_text(cores)
    print(cores)

    print("2. the M7 draws the grid", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        images_file, latents_file = work / "images.bin", work / "latents.bin"
        console = make_run("CPU=cortex-m7", f"MODULE_DIR={module_dir}", f"BUILD_DIR={work / 'build'}",
                           f"IMAGES={args.images}", f"IMAGES_FILE={images_file}",
                           f"IMAGE_LATENTS_FILE={latents_file}")
        latents = np.frombuffer(latents_file.read_bytes(), np.int8).reshape(args.images, -1)
        board = np.frombuffer(images_file.read_bytes(), np.int8).reshape(args.images, 28, 28, 1)
        reference, _ = tflm(model, latents, work)
        exact = int((board.reshape(args.images, -1) == reference).all(axis=1).sum())
        total, d2s = d2s_cost(module_dir, work, latents[: min(4, args.images)])
        (args.results / "mcu_dcgan_m7_images.bin").write_bytes(board.tobytes())

    scale = float(re.search(r"#define GAN_OUTPUT_SCALE ([0-9.e+-]+)f", header).group(1))
    zero = int(re.search(r"#define GAN_OUTPUT_ZERO_POINT \((-?\d+)\)", header).group(1))
    images = (board.astype(np.float32) - zero) * scale
    from gan_edge.training.data.mnist import load_mnist, to_model_range
    from gan_edge.training.evaluators.mnist import classifier_cache_dir
    from gan_edge.training.image_grid import write_grid
    from gan_edge.training.metrics.mnist.classifier import load_or_train_classifier

    digits = load_mnist(None)
    classifier = load_or_train_classifier(classifier_cache_dir(), to_model_range(digits.images), digits.labels)
    labels = classifier.predict_classes(images)
    grid = write_grid(images, args.results / "mcu_dcgan_m7_grid.png",
                      f"mcu DCGAN on an emulated Cortex-M7 ({args.images} draws, int8)",
                      labels=[str(int(v)) for v in labels])
    text = (f"`make run CPU=cortex-m7 IMAGES={args.images}` on {export_dir}: {exact}/{args.images} images "
            f"bit-exact with tflite-micro on the latents the board drew\n"
            f"classifier reads: {' '.join(str(int(v)) for v in labels)} ({len(set(labels.tolist()))} different "
            f"digits)\n"
            f"DEPTH_TO_SPACE on the M7: {d2s:,.0f} of {total:,.0f} instructions per image "
            f"({100 * d2s / total:.2f}%)\n\n"
            + console.split("gan-edge: generated images\n", 1)[1].replace("\r", ""))
    (args.results / "mcu_dcgan_m7.txt").write_text(text)
    print("\n".join(text.splitlines()[:3]) + f"\ngrid: {grid}")
    return 0 if exact == args.images else 1


if __name__ == "__main__":
    sys.exit(main())
