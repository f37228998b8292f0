"""The budget as a choice (issue 24): widths of the mcu DCGAN, each distilled from the same teacher,
side by side: int8 weights, FCD, CPU time, instructions on the emulated Cortex-M cores, flash, RAM.

    python benchmarks/distill_widths.py RUN_DIR... [--results DIR] [--name distill_widths]

Each RUN_DIR is a width's folder, measured beforehand by the two existing benchmarks (this script
trains, exports and times nothing; it gathers and prints):

    python benchmarks/distill_mcu.py TEACHER --seed S --cpu-minutes M \\
        --overrides '{"generator_widths": [W1, C7, C14]}' --out RUN_DIR/run \\
        --name NAME_W1_C7_C14 --results DIR                       # FCD, classes, CPU time
    gan-edge export RUN_DIR/run --formats c --out RUN_DIR/export-c   # the C module (its header)
    python benchmarks/mcu_qemu.py RUN_DIR/export-c > DIR/NAME_W1_C7_C14_mcu.txt   # QEMU counts

It reads, per width, DIR/NAME_W1_C7_C14.json (distill_mcu.py), DIR/NAME_W1_C7_C14_mcu.txt
(mcu_qemu.py's table) and RUN_DIR/export-c/c/gan_generator.h (int8 weight bytes and the kernel of
each layer, as the C exporter counts them), and writes DIR/NAME.{txt,json}.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CORES = ("cortex-m4", "cortex-m7", "cortex-m55")
INSTRUCTIONS = "instructions/gan_generate"  # mcu_qemu.py's column
ROWS = {"teacher": "teacher (book DCGAN, float)", "float": "student (mcu, float)",
        "int8": "student (mcu, int8 TFLite)"}


def qemu_table(text: str) -> dict:
    """mcu_qemu.py's first table, keyed by (core, kernels): its cells by column name."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("board "))
    heads = re.split(r"\s{2,}", lines[start].strip())
    table = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        cells = dict(zip(heads, re.split(r"\s{2,}", line.strip())))
        table[cells["core"], cells["kernels"]] = cells
    macs = int(re.search(r"([\d,]+) MACs per call", text).group(1).replace(",", ""))
    return {"macs": macs, "rows": table, "environment": next((l for l in lines if l.startswith("environment:")), "")}


def header_facts(path: Path) -> dict:
    """Weight bytes, const data and each layer's kernel as the generated header states them."""
    text = path.read_text()
    flash, weights = re.search(r"flash: (\d+) bytes of const data \((\d+) bytes of int8 weights", text).groups()
    portable = re.findall(r"kernel: .*portable: (.*)", text)
    return {"const_bytes": int(flash), "weight_bytes": int(weights), "portable_layers": portable}


def gather(run_dir: Path, results: Path, name: str) -> dict:
    config = json.loads((run_dir / "run" / "config.json").read_text())
    widths = list(config["generator_widths"])
    stem = f"{name}_{'_'.join(map(str, widths))}"
    distilled = json.loads((results / f"{stem}.json").read_text())
    qemu = qemu_table((results / f"{stem}_mcu.txt").read_text())
    facts = header_facts(run_dir / "export-c" / "c" / "gan_generator.h")
    rows = distilled["rows"]
    return {
        "widths": widths, "seed": config["seed"], "weight_bytes": facts["weight_bytes"],
        "const_bytes": facts["const_bytes"], "portable_layers": facts["portable_layers"], "macs": qemu["macs"],
        "cpu_minutes": distilled["run"]["cpu_minutes"], "rounds": distilled["rounds"],
        "fcd": {k: rows[label]["generator"]["fcd"] for k, label in ROWS.items()},
        "classes": {k: rows[label]["generator"]["classes_covered"] for k, label in ROWS.items()},
        "real_vs_real_fcd": rows[ROWS["teacher"]]["real_vs_real"]["fcd"],
        "gap_to_teacher": distilled["gap_to_teacher"],
        "cores": {cpu: {kernels: qemu["rows"][cpu, kernels] for kernels in ("portable", "fast")} for cpu in CORES},
        "environment": qemu["environment"], "machine": distilled["machine"], "teacher": distilled["teacher"],
        "results": [f"{stem}.txt", f"{stem}.json", f"{stem}.png", f"{stem}_mcu.txt"],
    }


def number(cell: str) -> float:
    return float(cell.replace(",", ""))


def report(widths: list[dict]) -> str:
    lines = ["mcu DCGAN widths, each distilled from the same teacher on the same seed: int8 weights, quality, "
             "instructions per image (fast kernels) on the emulated cores, flash and RAM; bytes unless stated", ""]
    heads = ("widths", "int8 weights", "KiB", "MACs", "CPU-min", "rounds", "FCD float", "FCD int8", "classes f/i8",
             *(f"{c[7:].upper()} instr" for c in CORES), *(f"{c[7:].upper()} /MAC" for c in CORES),
             "flash M4/M7", "flash M55", "RAM arena", "stack M4/M55", "bit-exact")
    rows = []
    for w in widths:
        fast = {cpu: w["cores"][cpu]["fast"] for cpu in CORES}
        exact = {fast[cpu]["bit-exact vs TFLM"] for cpu in CORES}
        rows.append((
            "/".join(map(str, w["widths"])), f"{w['weight_bytes']:,}", f"{w['weight_bytes'] / 1024:.1f}",
            f"{w['macs']:,}", f"{w['cpu_minutes']:.1f}", f"{w['rounds']:,}", f"{w['fcd']['float']:.1f}",
            f"{w['fcd']['int8']:.1f}", f"{w['classes']['float']:.0f}/{w['classes']['int8']:.0f}",
            *(f"{number(fast[cpu][INSTRUCTIONS]):,.0f}" for cpu in CORES),
            *(fast[cpu]["per MAC"] for cpu in CORES),
            f"{fast['cortex-m4']['module flash']}/{fast['cortex-m7']['module flash']}",
            fast["cortex-m55"]["module flash"],
            "/".join(sorted({fast[c]["module static RAM"] for c in CORES})),
            f"{fast['cortex-m4']['gan_generate stack']}/{fast['cortex-m55']['gan_generate stack']}",
            "/".join(sorted(exact))))
    sizes = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    for r in (heads, *rows):
        lines.append("  ".join(v.ljust(s) for v, s in zip(r, sizes)).rstrip())
    lines.append("")
    teacher = {f"{w['fcd']['teacher']:.1f}" for w in widths}
    floor = {f"{w['real_vs_real_fcd']:.1f}" for w in widths}
    classes = {f"{w['classes']['teacher']:.0f}" for w in widths}
    lines.append(f"teacher ({widths[0]['teacher']}), float: FCD {' / '.join(sorted(teacher))}, classes "
                 f"{' / '.join(sorted(classes))}; real vs real: FCD {' / '.join(sorted(floor))} "
                 f"(the same on each width's scoring unless several are shown)")
    for w in widths:
        portable = "; ".join(w["portable_layers"]) or "none"
        gap = w["gap_to_teacher"]
        lines.append(f"{'/'.join(map(str, w['widths']))}: const data {w['const_bytes']:,} bytes; mean |student - "
                     f"teacher| {gap['student (mcu, float)']:.3f} float, {gap['student (mcu, int8 TFLite)']:.3f} "
                     f"int8; layers on the portable kernel: {portable}; portable kernels: "
                     + ", ".join(f"{c[7:].upper()} {number(w['cores'][c]['portable'][INSTRUCTIONS]):,.0f}"
                                 for c in CORES))
    lines.append(f"seed {widths[0]['seed']}; CPU-minutes: user + system of `gan-edge distill` (distill_mcu.py); "
                 f"host: {widths[0]['machine']['cpu']}")
    lines.append(widths[0]["environment"])
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dirs", nargs="+", type=Path, help="one folder per width (run/, export-c/)")
    parser.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--name", default="distill_widths", help="stem of the result files")
    args = parser.parse_args()
    widths = sorted((gather(d, args.results, args.name) for d in args.run_dirs), key=lambda w: w["weight_bytes"])
    text = report(widths)
    print(text)
    (args.results / f"{args.name}.txt").write_text(text + "\n")
    (args.results / f"{args.name}.json").write_text(json.dumps({"widths": widths}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
