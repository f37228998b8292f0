"""The C module on emulated Cortex-M4, M7 and M55: instructions per gan_generate and per op,
flash, RAM, with the portable kernels (before) and the fast ones (after), side by side.

    python benchmarks/mcu_qemu.py [EXPORT_DIR] [--latents N]

EXPORT_DIR is a folder written by `gan-edge export RUN --formats c` (generator_int8.tflite
and c/); without it the toy generator (4 -> 16 -> 2) is trained and exported into a
temporary folder (about 45 s). For each core, `make -C firmware_examples/mcu run` builds
the image for its QEMU board twice, with PORTABLE=1 (TFLite Micro's reference loops: the
"before") and without (the fast DSP-extension or Helium kernels: the "after"), runs each
on N fixed latents (the corners of the int8 cube first), and this script reports:

- instructions per gan_generate: the mean over the N latents, counted by qemu/check.c with
  SysTick under QEMU's -icount (one instruction per nanosecond of virtual time); these are
  instructions, not cycles: QEMU models no pipeline, caches or flash wait states;
- instructions per multiply-accumulate, for the whole call and for each op (a PROFILE=1
  build: gan_generate reports after each op, check.c times the intervals);
- module flash: gan_generator.o's code and const data (weights, biases, multipliers);
- module static RAM and gan_generate stack (the deepest call chain, -fstack-usage);
- image flash and RAM: the whole `make run` example (main.c, startup, semihosting, libgcc);
- bit-exact: the int8 outputs against the tflite-micro interpreter's on the same latents.
For TFLite Micro only the arena is measured (RecordingMicroAllocator, on the host), not a
Cortex-M build (docs/firmware.md says why): its interpreter and kernels add tens of KiB.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
MCU = ROOT / "firmware_examples" / "mcu"
sys.path.insert(0, str(MCU / "qemu"))

from check_io import parse_check_output, write_latents_header  # noqa: E402

CORES = {"cortex-m4": "mps2-an386", "cortex-m7": "mps2-an500", "cortex-m55": "mps3-an547"}


def fixed_latents(dim: int, n: int) -> np.ndarray:
    corners = np.array(list(itertools.product((-128, 127), repeat=dim)))[:n] if dim <= 8 else np.empty((0, dim))
    rest = np.random.default_rng(0).integers(-128, 128, size=(max(n - len(corners), 0), dim))
    return np.concatenate([corners, rest]).astype(np.int8)


def tflm(model: Path, latents: np.ndarray, work: Path) -> tuple[np.ndarray, int]:
    """TFLM's int8 outputs on the latents, one invoke each, and its arena in bytes (printed
    by the C++ side, hence the subprocess)."""
    np.save(work / "latents.npy", latents)
    code = ("import numpy as np\n"
            "from tflite_micro.python.tflite_micro import runtime\n"
            f"it = runtime.Interpreter.from_file({str(model)!r})\n"
            "out = []\n"
            f"for row in np.load({str(work / 'latents.npy')!r}):\n"
            "    it.set_input(row[None, :], 0)\n"
            "    it.invoke()\n"
            "    out.append(it.get_output(0)[0].copy())\n"
            f"np.save({str(work / 'tflm.npy')!r}, np.stack(out))\n"
            "it.print_allocations()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    arena = int(re.search(r"Arena allocation total (\d+) bytes", done.stderr + done.stdout).group(1))
    return np.load(work / "tflm.npy").reshape(len(latents), -1), arena


def mve_instructions(obj: Path) -> int:
    """Helium (MVE) vector instructions, those on q registers, in an object's code."""
    # -m: objdump's default Arm architecture decodes no MVE (it prints `vmrs r0, <impl def>`).
    dump = subprocess.run(["arm-none-eabi-objdump", "-d", "-m", "armv8.1-m.main", str(obj)], capture_output=True,
                          text=True, check=True).stdout
    return len(re.findall(r"\tv\w+(?:\.\w+)*\t[^;@]*\bq\d", dump))


def deepest_stack(build: Path, root: str = "gan_generate") -> int:
    """Bytes of stack on the deepest call chain from root (-fstack-usage, objdump relocations)."""

    def base(name: str) -> str:  # gan_fully_connected.constprop.0 -> gan_fully_connected
        return name.split(".")[0]

    usage = {base(m.group(1)): int(m.group(2)) for su in build.glob("*.su")
             for m in re.finditer(r":(\w+(?:\.\w+)*)\t(\d+)\t", su.read_text())}
    calls, function = {}, None
    dump = subprocess.run(["arm-none-eabi-objdump", "-dr", str(build / "gan_generator.o")], capture_output=True,
                          text=True, check=True).stdout
    for line in dump.splitlines():
        if header := re.match(r"^[0-9a-f]+ <(\S+)>:$", line):
            function = base(header.group(1))
        elif call := re.search(r"R_ARM_THM_(?:CALL|JUMP24)\s+(\S+)$", line):
            calls.setdefault(function, set()).add(base(call.group(1)))

    def depth(name: str) -> int:
        return usage.get(name, 0) + max((depth(c) for c in calls.get(name, ())), default=0)

    return depth(root)


def sizes(path: Path) -> tuple[int, int, int]:
    text, data, bss = map(int, subprocess.run(["arm-none-eabi-size", str(path)], capture_output=True, text=True,
                                              check=True).stdout.splitlines()[1].split()[:3])
    return text, data, bss


def make_run(*args: str) -> str:
    done = subprocess.run(["make", "-s", "-C", str(MCU), "run", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"make run {' '.join(args)} failed:\n{done.stdout[-2000:]}{done.stderr}")
    return done.stdout


def first_line(command: list[str]) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export_dir", nargs="?", type=Path, help="an export folder with c/ (default: make one)")
    parser.add_argument("--latents", type=int, default=320, help="fixed latents per core (default 320)")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    work = Path(tmp.name)

    if args.export_dir is None:
        from gan_edge.cli.main import main as gan_edge_main

        print(f"training and exporting the toy generator into {work / 'run'} ...", file=sys.stderr, flush=True)
        with contextlib.redirect_stdout(sys.stderr):  # stdout carries the table alone
            if gan_edge_main(["train", "toy2d", "--seed", "0", "--out", str(work / "run")]) != 0:
                return 1
            if gan_edge_main(["export", str(work / "run"), "--formats", "c"]) != 0:
                return 1
        args.export_dir = work / "run" / "export"
    module_dir, model = args.export_dir / "c", args.export_dir / "generator_int8.tflite"
    if not (module_dir / "gan_generator.c").is_file() or not model.is_file():
        parser.error(f"{args.export_dir} lacks c/gan_generator.c or generator_int8.tflite: "
                     "write them with `gan-edge export RUN --formats c`")

    header = (module_dir / "gan_generator.h").read_text()
    dim = int(re.search(r"#define GAN_LATENT_DIM (\d+)", header).group(1))
    out_size = int(re.search(r"#define GAN_OUTPUT_SIZE (\d+)", header).group(1))
    latents = fixed_latents(dim, args.latents)
    reference, arena = tflm(model, latents, work)
    latents_h = write_latents_header(latents, work / "latents.h")

    from gan_edge.export.c_graph import read_chain

    layers = read_chain(model.read_bytes())[0]
    macs = sum(layer.macs for layer in layers)
    rows, per_op = [], {}
    for cpu, board in CORES.items():
        for variant, flag in (("portable", "PORTABLE=1"), ("fast", "PORTABLE=0")):
            print(f"{cpu} on QEMU {board}, {variant} kernels ...", file=sys.stderr, flush=True)
            build = work / "build"
            common = (f"CPU={cpu}", f"MODULE_DIR={module_dir}", f"BUILD_DIR={build}", flag)
            outputs, instructions, calls = parse_check_output(make_run(*common, f"LATENTS={latents_h}"),
                                                              len(latents), out_size)
            profiled = make_run(*common, f"LATENTS={latents_h}", "PROFILE=1")
            per_op[cpu, variant] = [float(v) for v in re.findall(r"^op \d+ instructions (\d+\.\d)$", profiled, re.M)]
            make_run(*common)  # the example image, main.c, whose size is reported
            objects = build / f"qemu-{cpu}{'-portable' if variant == 'portable' else ''}"
            m_text, m_data, m_bss = sizes(objects / "gan_generator.o")
            i_text, i_data, i_bss = sizes(objects / "gan_main.elf")
            same = int((outputs == reference).all(axis=1).sum())
            if cpu == "cortex-m55" and variant == "fast":
                mve = mve_instructions(objects / "gan_generator.o")
            rows.append((board, cpu, variant, f"{instructions:,.1f}", f"{instructions / macs:.3f}",
                         f"{m_text + m_data:,}", f"{m_data + m_bss:,}", f"{deepest_stack(objects):,}",
                         f"{i_text + i_data:,}", f"{i_data + i_bss:,}", f"{same}/{len(latents)}"))

    print(f"C module on emulated Cortex-M cores: {model.name}, {dim} -> {out_size}, {macs:,} MACs per call, "
          f"{len(latents)} fixed latents (corners of the int8 cube first); bytes unless stated")
    table(("board", "core", "kernels", "instructions/gan_generate", "per MAC", "module flash",
           "module static RAM", "gan_generate stack", "image flash", "image RAM (incl. 1 KiB stack)",
           "bit-exact vs TFLM"), rows)
    print()
    print("per op: instructions per MAC (instructions per call for ops without MACs), portable -> fast, and the "
          "speed-up")
    op_rows = []
    for i, layer in enumerate(layers):
        label = re.split(r", (?![0-9])|; | as a table| \(no code", layer.comment)[0]
        cells = [str(i), label, f"{layer.macs:,}"]
        for cpu in CORES:
            before, after = per_op[cpu, "portable"][i], per_op[cpu, "fast"][i]
            scale = layer.macs or 1
            digits = 3 if layer.macs else 0
            ratio = f" ({before / after:.2f}x)" if after > 0 and layer.macs else ""
            cells.append(f"{before / scale:,.{digits}f} -> {after / scale:,.{digits}f}{ratio}")
        op_rows.append(cells)
    table(("op", "layer", "MACs", *(f"{cpu}" for cpu in CORES)), op_rows)
    print(f"tflite-micro, same model: arena {arena:,} bytes (RecordingMicroAllocator on the host), before the "
          f"interpreter's own code and RAM; no Cortex-M build of TFLM was measured (docs/firmware.md: why)")
    print("instructions, not cycles: QEMU -icount shift=0 makes one instruction one nanosecond of virtual time; "
          "qemu/check.c reads SysTick (core clock) around the calls and calibrates it on a loop of known length; "
          "per op: the same over the intervals between the ops (PROFILE=1), less an empty interval")
    print(f"environment: host {host_cpu()}; {first_line(['arm-none-eabi-gcc', '--version'])}; "
          f"{first_line(['qemu-system-arm', '--version'])}; -Os -std=c99 (the module: -O2, the Makefile's "
          f"MODULE_OPT), -mcpu=<core> -mthumb (cortex-m55: -mfloat-abi=hard; MVE vector instructions in the fast "
          f"module: {mve}); portable = -DGAN_PORTABLE_KERNELS")
    return 0 if all(r[-1].split("/")[0] == r[-1].split("/")[1] for r in rows) else 1


def table(heads: tuple, rows: list) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    for r in (heads, *rows):
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())


def host_cpu() -> str:
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        name = re.search(r"^Model name:\s+(.+)$", text, re.M).group(1).strip()
        count = re.search(r"^CPU\(s\):\s+(\d+)$", text, re.M).group(1)
        family = re.search(r"^CPU family:\s+(\d+)$", text, re.M)
        model = re.search(r"^Model:\s+(\d+)$", text, re.M)
        where = f" (family {family.group(1)}, model {model.group(1)})" if family and model else ""
        return f"{name}{where}, {count} CPUs (lscpu)"
    except (OSError, subprocess.CalledProcessError, AttributeError):
        return "unknown (no lscpu)"


if __name__ == "__main__":
    sys.exit(main())
