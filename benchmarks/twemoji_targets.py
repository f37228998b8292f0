#!/usr/bin/env python3
"""Issue 22's targets for runs trained on Twemoji (or any pictures), one run folder at a time.

    python benchmarks/twemoji_targets.py RUN [RUN ...] [--out DIR] [--samples 2000] [--seed 22]
        [--skip aarch64,browser,m7]

For each run folder written by `gan-edge train dcgan|progan --data FOLDER`:

1. quality: `evaluate_generator` on --samples latents of --seed (fd beside fd_floor,
   categories covered, category KL, precision, recall; the untrained generator of the same
   architecture beside it), the CPU-minutes of training from RUN/cpu_seconds.txt when
   present, and a grid of 64 samples drawn by the int8 artifact (`gan-edge generate`);
2. export: `gan-edge export --formats int8,int8-float-io,onnx --batch 1` into
   RUN/export-targets (rewritten each time), each artifact's PSNR against its gate from
   report.json; and the C module (what `--formats c` adds) when the int8 model's weights
   fit 256 KiB, the microcontroller budget (the mcu preset at 32x32x3);
3. aarch64: benchmarks/aarch64_agreement.py's comparison of the int8 artifact on an
   emulated Cortex-A72 with x86-64 (set GAN_EDGE_WHEEL to install a built wheel there;
   otherwise emulate.py builds one from this checkout);
4. browser: the page (firmware_examples/web) in headless Chromium, test mode, on the
   int8-float-io (batch 1) and onnx artifacts, on WebAssembly and WebGPU; the outputs it
   shows against gan_edge's (LiteRT / ONNX Runtime on x86-64) on the latents it reports,
   and the page's own WebGPU-against-WebAssembly check;
5. Cortex-M7 (only with the C module): `make -C firmware_examples/mcu run CPU=cortex-m7
   IMAGES=16`, the board's int8 bytes against tflite-micro's on the latents the board
   drew, those bytes dequantized into a PNG grid; instructions per image from
   qemu/check.c (LATENTS=, QEMU -icount: instructions, not cycles); flash and RAM.

Writes DIR/twemoji_targets.txt (everything printed), DIR/<run>_int8_grid.png (the
`gan-edge generate` grid), DIR/<run>_m7_grid.png (the board's images), and each grid with
its caption beside it (*_captioned.png).
Images from models trained on Twemoji are credited "Twemoji (CC-BY 4.0)".
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import io
import json
import math
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "tests"):  # tests/headless.py drives Chromium (not part of the install)
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import aarch64_agreement  # noqa: E402
from mcu_qemu import deepest_stack, first_line, host_cpu, make_run, sizes, tflm  # noqa: E402  (puts qemu/ on sys.path)
from check_io import parse_check_output, write_latents_header  # noqa: E402

from gan_edge.cli.main import main as gan_edge_main  # noqa: E402

CREDIT = "Twemoji (CC-BY 4.0)"
MCU_WEIGHT_BYTES = 256 * 1024  # the microcontroller budget: int8 weights of the generator
STEPS = ("aarch64", "browser", "m7")
GRID = 64
M7_IMAGES = 16
M7_COUNTED = 4  # latents for check.c's instruction count (the first the board drew)
BROWSER_N = 8  # samples per page run, fewer for big pictures (browser())


class Report:
    """Everything printed, kept for the results file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def cli(*argv: str) -> str:
    """`gan-edge ARGV`, its stdout returned; a failure raises with its output."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = gan_edge_main(list(argv))
    if status != 0:
        raise RuntimeError(f"gan-edge {' '.join(argv)} exited {status}: {(err.getvalue() or out.getvalue())[-1000:]}")
    return out.getvalue()


def cpu_minutes(run: Path) -> str:
    path = run / "cpu_seconds.txt"
    if not path.is_file():
        return "not recorded"
    found = re.search(r"[0-9]+(?:\.[0-9]*)?", path.read_text())
    return f"{float(found.group()) / 60:.1f}" if found else f"unreadable ({path})"


# -- 1. quality -------------------------------------------------------------------------------------

def quality(run: Path, trained, samples: int, seed: int, say: Report) -> dict:
    from gan_edge.training.evaluate import evaluate_generator

    rows = evaluate_generator(lambda z: trained(z).numpy(), trained.config, samples=samples, seed=seed)
    say(f"  quality: {samples:,} samples, seed {seed}, float generator (checkpoint {Path(trained.checkpoint).name})")
    say(f"    {'row':<20}{'fd':>10}{'fd_floor':>10}{'categories':>12}{'category_kl':>13}{'precision':>11}{'recall':>8}")
    for name, row in rows.items():
        covered = (f"{row['categories_covered']:.0f} of {row['categories']:.0f}" if "categories" in row else "-")
        kl = f"{row['category_kl']:.3f}" if "category_kl" in row else "-"
        say(f"    {name:<20}{row['fd']:>10.2f}{row['fd_floor']:>10.2f}{covered:>12}{kl:>13}"
            f"{row['precision']:>11.3f}{row['recall']:>8.3f}")
    say(f"  CPU-minutes of training (cpu_seconds.txt): {cpu_minutes(run)}")
    return rows["generator"]


def grid(model: Path, seed: int, out: Path, stem: str, title: str, say: Report) -> None:
    from gan_edge.training.image_grid import write_grid

    png = out / f"{stem}_int8_grid.png"
    cli("generate", str(model), "-n", str(GRID), "--seed", str(seed), "--out", str(png), "--force")
    with tempfile.TemporaryDirectory() as tmp:
        cli("generate", str(model), "-n", str(GRID), "--seed", str(seed), "--out", f"{tmp}/s.npy")
        captioned = write_grid(np.load(f"{tmp}/s.npy"), out / f"{stem}_int8_grid_captioned.png",
                               f"{title}, int8, seed {seed}. {CREDIT}")
    say(f"  grid: {png.name} ({captioned.name} with its caption)")
    say(f"    caption: {GRID} samples of {title}, int8 artifact ({model.name}), `gan-edge generate -n {GRID} "
        f"--seed {seed}`; trained on {CREDIT}")


# -- 2. export --------------------------------------------------------------------------------------

def export(run: Path, say: Report) -> tuple[Path, dict, str]:
    """`gan-edge export` into RUN/export-targets, then the C module (`--formats c`'s step) when
    the int8 model's weights, as the C module holds them, fit the microcontroller budget."""
    from gan_edge.errors import GanEdgeError
    from gan_edge.export.c_graph import read_chain
    from gan_edge.export.c_module import export_c_module
    from gan_edge.export.formats import DEFAULT_MIN_PSNR_DB

    target = run / "export-targets"
    if target.exists():
        shutil.rmtree(target)  # this script's own folder: a fresh export of the latest checkpoint
    formats = "int8,int8-float-io,onnx"
    command = ("export", str(run), "--out", str(target), "--formats", formats, "--batch", "1")
    say(f"  export: `gan-edge export RUN --formats {formats} --batch 1` into {target}")
    try:
        cli(*command)
    except RuntimeError as exc:  # an export writes all or nothing: again without gates, to measure the rest
        if "below the gate" not in str(exc):
            raise
        say(f"    REFUSED: {str(exc).split(': ', 1)[1].strip()}")
        say("    exported again with --min-psnr 0 for every format, to measure the other targets; the gates are "
            "the defaults below")
        cli(*command, "--min-psnr", ",".join(f"{name}=0" for name in formats.split(",")))
    report = json.loads((target / "report.json").read_text())
    say(f"    {'file':<36}{'bytes':>10}{'PSNR dB':>10}{'gate dB':>9}  passed")
    for a in report["artifacts"]:
        psnr = math.inf if a.get("psnr_db") is None else a["psnr_db"]
        a["min_psnr_db"] = DEFAULT_MIN_PSNR_DB[a["variant"]]
        say(f"    {a['file']:<36}{a['bytes']:>10,}{psnr:>10.1f}{a['min_psnr_db']:>9.0f}  "
            f"{'yes' if psnr >= a['min_psnr_db'] else 'NO'}")
    int8 = target / "generator_int8.tflite"
    try:
        layers = read_chain(int8.read_bytes())[0]
    except GanEdgeError as exc:
        reason = str(exc).split(" (nor op")[0]  # the first op it lacks; the message lists every one
        say(f"    C module: none, the int8 model is not one the C module covers: {reason[:300]}")
        return target, report, "not covered by the C module"
    weights = sum(layer.arrays["weights"][1].size for layer in layers if "weights" in layer.arrays)
    if weights > MCU_WEIGHT_BYTES:
        say(f"    C module: none, {weights:,} bytes of int8 weights are over the 256 KiB microcontroller budget")
        return target, report, f"no C module ({weights / 1024:.0f} KiB of weights)"
    module = export_c_module(int8, target / "c")
    say(f"    C module (`--formats c`): {module.header} and {module.source.name}: {module.flash_bytes:,} bytes of "
        f"const data, {module.weight_bytes:,} of them int8 weights (<= {MCU_WEIGHT_BYTES:,}); {module.macs:,} "
        f"MACs per image")
    return target, report, ""


# -- 3. aarch64 -------------------------------------------------------------------------------------

def aarch64(model: Path, seed: int, say: Report) -> str:
    if os.environ.get("GAN_EDGE_WHEEL"):
        os.environ["WHEEL"] = os.environ["GAN_EDGE_WHEEL"]  # linux_board/Makefile's WHEEL, read from the environment
    with tempfile.TemporaryDirectory() as tmp:
        line = aarch64_agreement.compare(model, 16, seed, Path(tmp))
    say(f"  aarch64 (qemu-aarch64-static -cpu cortex-a72 against x86-64, {model.name}, 16 samples, seed {seed}):")
    say(f"    {'model':48s} {'samples':>7} {'bit-identical':>14} {'max |diff|':>12} {'8-bit steps':>14} "
        f"{'emulated s':>10}")
    say(f"    {line}")
    if "failed" in line:
        return "failed"
    return "yes" if line.split()[-4] == "yes" else "no"


# -- 4. browser -------------------------------------------------------------------------------------

def browser(export_dir: Path, seed: int, say: Report) -> str:
    import gan_edge
    from browser_bench import ACCELERATORS
    from headless import run_page
    from test_web import FLOAT_ATOL, FLOAT_MIN_PSNR_DB, _floats, _int8_output_step, _psnr_db  # as the test reads them
    from gan_edge.web import make_server
    from gan_edge.web_server import MAX_REPORT_BYTES

    files = ["generator_int8-float-io_b1.tflite", "generator_onnx.onnx"]
    # A WebGPU report carries two float32 outputs in base64; the server drops a report over
    # MAX_REPORT_BYTES without a word, so big pictures take fewer samples.
    values = int(np.prod(gan_edge.load(export_dir / files[0]).output_shape))
    n = int(max(1, min(BROWSER_N, 0.75 * MAX_REPORT_BYTES // (2 * values * 4 * 4 / 3))))
    server = make_server(export_dir, port=0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        reports = run_page(server, {"test": 1, "models": ",".join(files), "accelerators": ",".join(ACCELERATORS),
                                    "n": n, "seed": seed}, timeout_s=300)
    finally:
        server.shutdown()
        server.server_close()
    done = reports[-1]
    adapter = done.get("adapter") or {}
    say(f"  browser: {done.get('userAgent')}; WebGPU adapter "
        f"{'/'.join(v for v in (adapter.get('vendor'), adapter.get('architecture')) if v) or 'none'}"
        f"{' (software fallback)' if adapter.get('isFallbackAdapter') else ''}; {n} samples, seed {seed}")
    say(f"    {'file':<36}{'asked':>7}{'ran on':>8}{'max |diff| vs x86-64':>22}{'int8 steps':>11}{'PSNR dB':>9}  "
        f"page's WebGPU check")
    verdicts = []
    results = [r for r in reports if r["kind"] == "result"]
    for file in files:
        for accelerator in ACCELERATORS:
            if not any(r["model"] == file and r["requested"] == accelerator for r in results):
                say(f"    {file:<36}{accelerator:>7}  no report came back (over the server's {MAX_REPORT_BYTES:,} bytes?)")
                verdicts.append(f"{Path(file).suffix[1:]} {accelerator}: error, no report")
    for r in results:
        if "error" in r:
            say(f"    {r['model']:<36}{r['requested']:>7}  error: {r['error']}")
            verdicts.append(f"{Path(r['model']).suffix[1:]} {r['requested']}: error")
            continue
        generator = gan_edge.load(export_dir / r["model"])
        latents = _floats(r["latents"], (n, generator.latent_dim))
        page = _floats(r["outputs"], (n, *generator.output_shape))
        native = generator.generate_from_latent(latents)
        diff = float(np.abs(page.astype(np.float64) - native).max())
        step = _int8_output_step(export_dir / r["model"])
        low, high = generator.manifest.output_range or (-1.0, 1.0)
        psnr = _psnr_db(page, native, high - low)
        check = r.get("agreement")
        note = "-" if check is None else check.get("line") or ("agrees" if check["agrees"] else "disagrees")
        say(f"    {r['model']:<36}{r['requested']:>7}{r['accelerator']:>8}{diff:>22.3g}"
            f"{(f'{diff / step:.2f}' if step else '-'):>11}{psnr:>9.1f}  {note}")
        # tests/test_web.py's bounds: one int8 step; float outputs within 1e-5 or at 90 dB or more
        within = diff <= step * 1.001 if step else diff <= FLOAT_ATOL or psnr >= FLOAT_MIN_PSNR_DB
        shown = r["requested"] if r["accelerator"] == r["requested"] else f"{r['requested']} refused, wasm shown"
        verdicts.append(f"{Path(r['model']).suffix[1:]} {shown}: {'same' if within else 'DIFFERS'}")
    return "; ".join(verdicts)


# -- 5. Cortex-M7 -----------------------------------------------------------------------------------

def cortex_m7(export_dir: Path, out: Path, stem: str, title: str, say: Report) -> str:
    from ai_edge_litert.interpreter import Interpreter
    from gan_edge.png import encode_png, image_grid
    from gan_edge.training.image_grid import write_grid

    module_dir, model = export_dir / "c", export_dir / "generator_int8.tflite"
    header = (module_dir / "gan_generator.h").read_text()
    shape = tuple(int(re.search(rf"#define GAN_OUTPUT_{k} (\d+)", header).group(1))
                  for k in ("HEIGHT", "WIDTH", "CHANNELS"))
    size = int(np.prod(shape))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        images_file, latents_file, build = work / "images.bin", work / "latents.bin", work / "build"
        make_run("CPU=cortex-m7", f"MODULE_DIR={module_dir}", f"BUILD_DIR={build}", f"IMAGES={M7_IMAGES}",
                 f"IMAGES_FILE={images_file}", f"IMAGE_LATENTS_FILE={latents_file}")
        latents = np.frombuffer(latents_file.read_bytes(), np.int8).reshape(M7_IMAGES, -1)
        board = np.frombuffer(images_file.read_bytes(), np.int8).reshape(M7_IMAGES, size)
        objects = build / "qemu-cortex-m7"
        m_text, m_data, m_bss = sizes(objects / "gan_generator.o")
        i_text, i_data, i_bss = sizes(objects / "gan_main.elf")
        stack = deepest_stack(objects)
        reference, arena = tflm(model, latents, work)
        exact = int((board == reference).all(axis=1).sum())
        counted = write_latents_header(latents[:M7_COUNTED], work / "latents.h", passes=1)
        outputs, instructions, calls = parse_check_output(
            make_run("CPU=cortex-m7", f"MODULE_DIR={module_dir}", f"BUILD_DIR={build}", f"LATENTS={counted}"),
            M7_COUNTED, size)
    counted_exact = bool(np.array_equal(outputs, reference[:M7_COUNTED]))
    # The int8 model's own output quantization: q -> (q - zero_point) * scale, the tanh's [-1, 1].
    (scale, zero_point) = Interpreter(model_path=str(model)).get_output_details()[0]["quantization"]
    images = (board.reshape(M7_IMAGES, *shape).astype(np.float32) - zero_point) * scale
    png = out / f"{stem}_m7_grid.png"
    png.write_bytes(encode_png(image_grid(images, low=-1.0, high=1.0)))
    captioned = write_grid(images, out / f"{stem}_m7_grid_captioned.png",
                           f"{title} on an emulated Cortex-M7, int8. {CREDIT}")
    say(f"  Cortex-M7 (QEMU mps2-an500, `make run CPU=cortex-m7 IMAGES={M7_IMAGES}`, module {module_dir}):")
    say(f"    {exact}/{M7_IMAGES} images bit-exact with tflite-micro on the latents the board drew; "
        f"check.c on the first {M7_COUNTED}: {'bit-exact' if counted_exact else 'DIFFERENT'}")
    say(f"    instructions per image: {instructions:,.0f} (mean of {calls} gan_generate calls; QEMU -icount: "
        f"instructions, not cycles)")
    say(f"    module flash {m_text + m_data:,} B, module static RAM {m_data + m_bss:,} B, gan_generate stack "
        f"{stack:,} B; image (main.c) flash {i_text + i_data:,} B, RAM {i_data + i_bss:,} B; "
        f"tflite-micro arena {arena:,} B")
    say(f"    grid: {png.name} ({captioned.name} with its caption), the board's int8 bytes dequantized with the model's output quantization "
        f"(scale {scale:.6g}, zero point {zero_point}), [-1, 1] -> 0..255")
    say(f"    caption: {M7_IMAGES} images of {title} drawn by an emulated Cortex-M7 (int8 C module); "
        f"trained on {CREDIT}")
    return f"{exact}/{M7_IMAGES} exact, {instructions / 1e6:,.2f} M instr/image"


# -- the whole run ----------------------------------------------------------------------------------

def measure(run: Path, args, say: Report) -> dict:
    from gan_edge.export.source import load_generator

    trained = load_generator(run)
    config = trained.config
    shape = f"{config.resolution}x{config.resolution}x{config.channels}"
    title = f"{run.name} ({config.model}, {shape})"
    say(f"run {run}: {config.model}, data {config.data_path or 'MNIST'}, {shape}")
    row = {"run": run.name, "shape": shape, "cpu_min": cpu_minutes(run)}
    scores = quality(run, trained, args.samples, args.seed, say)
    row["fd"] = f"{scores['fd']:.2f} / {scores['fd_floor']:.2f}"
    row["categories"] = (f"{scores['categories_covered']:.0f}/{scores['categories']:.0f}"
                         if "categories" in scores else "-")
    row["p/r"] = f"{scores['precision']:.2f}/{scores['recall']:.2f}"

    export_dir, report, no_c = export(run, say)
    int8 = next(a for a in report["artifacts"] if a["file"] == "generator_int8.tflite")
    psnr = math.inf if int8["psnr_db"] is None else int8["psnr_db"]
    row["int8 gate"] = f"{'' if psnr >= int8['min_psnr_db'] else 'below: '}{psnr:.1f} / {int8['min_psnr_db']:.0f} dB"
    stem = re.sub(r"[^A-Za-z0-9_.-]", "_", run.name)
    grid(export_dir / "generator_int8.tflite", args.seed, args.out, stem, title, say)
    for step, label, call in (
        ("aarch64", "aarch64", lambda: aarch64(export_dir / "generator_int8.tflite", args.seed, say)),
        ("browser", "browser", lambda: browser(export_dir, args.seed, say)),
        ("m7", "Cortex-M7", lambda: no_c or cortex_m7(export_dir, args.out, stem, title, say)),
    ):
        if step in args.skip:
            row[label] = "skipped"
            continue
        try:
            row[label] = call()
        except Exception as exc:  # noqa: BLE001  (one target failing must not hide the others)
            message = str(exc).strip().splitlines() or [type(exc).__name__]
            say(f"  {label}: FAILED: {type(exc).__name__}: {message[-1]}")
            row[label] = "FAILED"
    return row


def environment() -> list[str]:
    import importlib.metadata as md

    def version(name: str) -> str:
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return "-"

    def tool(command: list[str]) -> str:
        try:
            return first_line(command)
        except (OSError, subprocess.CalledProcessError, IndexError):
            return f"{command[0]} missing"

    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    packages = ("gan-edge", "tensorflow", "tf_keras", "ai-edge-litert", "onnxruntime", "tflite-micro", "numpy")
    return [
        f"date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"machine: {host_cpu()}; avx512_vnni: {'yes' if ' avx512_vnni' in flags else 'no'}; "
        f"os.cpu_count {os.cpu_count()}",
        f"python {platform.python_version()}; " + ", ".join(f"{p} {version(p)}" for p in packages),
        f"tools: {tool(['qemu-aarch64-static', '--version'])}; {tool(['qemu-system-arm', '--version'])}; "
        f"{tool(['arm-none-eabi-gcc', '--version'])}; {tool(['chromium', '--version'])}",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", type=Path, nargs="+", metavar="RUN", help="run folders of gan-edge train --data")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "twemoji_targets")
    parser.add_argument("--samples", type=int, default=2000, help="samples the quality rows measure (default 2000)")
    parser.add_argument("--seed", type=int, default=22, help="seed of every latent draw (default 22)")
    parser.add_argument("--skip", default="", help=f"comma-separated targets to leave out: {', '.join(STEPS)}")
    args = parser.parse_args()
    args.skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if args.skip - set(STEPS):
        parser.error(f"--skip takes some of {', '.join(STEPS)}, got {', '.join(sorted(args.skip - set(STEPS)))}")
    names = [run.resolve().name for run in args.runs]
    if len(set(names)) < len(names):
        parser.error(f"the runs' folder names name their grids in --out: give folders of different names, got "
                     f"{', '.join(names)}")
    for run in args.runs:
        if not (run / "config.json").is_file():
            parser.error(f"{run} is not a run folder (no config.json): pass folders written by gan-edge train")
    if args.samples < 2:
        parser.error(f"--samples must be at least 2, got {args.samples}")
    args.runs = [run.resolve() for run in args.runs]  # the Makefiles run in their own folders
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)

    say = Report()
    say(f"issue 22's targets: {len(args.runs)} run(s); images from models trained on Twemoji: {CREDIT}")
    for line in environment():
        say(line)
    rows = []
    for run in args.runs:
        say()
        try:
            rows.append(measure(run, args, say))
        except Exception as exc:  # noqa: BLE001  (the other runs are still measured)
            say(f"  FAILED: {type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[-1]}")
            rows.append({"run": run.name, "int8 gate": "FAILED"})

    say()
    say("summary")
    heads = ("run", "shape", "cpu_min", "fd", "categories", "p/r", "int8 gate", "aarch64", "browser", "Cortex-M7")
    widths = [max(len(h), *(len(str(r.get(h, "-"))) for r in rows)) for h in heads]
    say("  ".join(h.ljust(w) for h, w in zip(heads, widths)).rstrip())
    for r in rows:
        say("  ".join(str(r.get(h, "-")).ljust(w) for h, w in zip(heads, widths)).rstrip())
    say(f"fd: Fréchet distance in the pictures' own feature net / its floor (two halves of the real pictures); "
        f"categories: covered / those holding 1% or more of the real pictures by the net's prediction; p/r: "
        f"precision/recall; {args.samples:,} samples, seed {args.seed}. browser: what the page shows against "
        f"gan_edge on x86-64 (same: within one int8 step; float outputs within 1e-5 or at 90 dB or more); 'webgpu refused': the "
        f"page's own check found WebGPU wrong and showed WebAssembly's output")
    text = args.out / "twemoji_targets.txt"
    text.write_text("\n".join(say.lines) + "\n")
    print(f"wrote {text} and the grids beside it")
    return 1 if any(missed(r) for r in rows) else 0


def missed(row: dict) -> bool:
    """Whether a measured target was missed (a skipped one is not)."""
    if row["int8 gate"] == "FAILED":
        return True
    m7 = row["Cortex-M7"]
    return (row["int8 gate"].startswith("below") or row["aarch64"] in ("no", "failed", "FAILED")
            or any(word in row["browser"] for word in ("FAILED", "DIFFERS", "error"))
            or (m7[0].isdigit() and not m7.startswith(f"{M7_IMAGES}/{M7_IMAGES} ")) or m7 == "FAILED")


if __name__ == "__main__":
    sys.exit(main())
