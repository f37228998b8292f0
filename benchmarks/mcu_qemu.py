"""The C module on emulated Cortex-M4, M7 and M55: instructions per gan_generate, flash, RAM.

    python benchmarks/mcu_qemu.py [EXPORT_DIR] [--latents N]

EXPORT_DIR is a folder written by `gan-edge export RUN --formats c` (generator_int8.tflite
and c/); without it the toy generator (4 -> 16 -> 2) is trained and exported into a
temporary folder (about 45 s). For each core, `make -C firmware_examples/mcu run` builds
the image for its QEMU board and runs it on N fixed latents (the corners of the int8 cube
first), and this script reports:

- instructions per gan_generate: the mean over the N latents, counted by qemu/check.c with
  SysTick under QEMU's -icount (one instruction per nanosecond of virtual time); these are
  instructions, not cycles: QEMU models no pipeline, caches or flash wait states;
- module flash: gan_generator.o's code and const data (weights, biases, multipliers);
- gan_generate stack: the deepest call chain of the module, from -fstack-usage;
- image flash and RAM: the whole `make run` example (main.c, startup, semihosting, libgcc);
- bit-exact: the int8 outputs against the tflite-micro interpreter's on the same latents.
For TFLite Micro only the arena is measured (RecordingMicroAllocator, on the host), not a
Cortex-M build: its interpreter and kernels add tens of KiB of flash on top.
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

    rows = []
    for cpu, board in CORES.items():
        print(f"{cpu} on QEMU {board} ...", file=sys.stderr, flush=True)
        build = work / "build"
        common = (f"CPU={cpu}", f"MODULE_DIR={module_dir}", f"BUILD_DIR={build}")
        outputs, instructions, calls = parse_check_output(make_run(*common, f"LATENTS={latents_h}"),
                                                          len(latents), out_size)
        make_run(*common)  # the example image, main.c, whose size is reported
        objects = build / f"qemu-{cpu}"
        m_text, m_data, m_bss = sizes(objects / "gan_generator.o")
        i_text, i_data, i_bss = sizes(objects / "gan_main.elf")
        same = int((outputs == reference).all(axis=1).sum())
        if cpu == "cortex-m55":
            mve = mve_instructions(objects / "gan_generator.o")
        rows.append((board, cpu, f"{instructions:,.1f}", f"{m_text + m_data:,}", f"{m_data + m_bss}",
                     f"{deepest_stack(objects):,}", f"{i_text + i_data:,}", f"{i_data + i_bss:,}",
                     f"{same}/{len(latents)}"))

    heads = ("board", "core", "instructions/gan_generate", "module flash", "module static RAM",
             "gan_generate stack", "image flash", "image RAM (incl. 1 KiB stack)", "bit-exact vs TFLM")
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    print(f"C module on emulated Cortex-M cores: {model.name}, {dim} -> {out_size}, {len(latents)} fixed latents "
          f"(corners of the int8 cube first); bytes unless stated")
    for r in (heads, *rows):
        print("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
    print(f"tflite-micro, same model: arena {arena:,} bytes (RecordingMicroAllocator on the host), before the "
          f"interpreter's own code and RAM; no Cortex-M build of TFLM was measured")
    print("instructions, not cycles: QEMU -icount shift=0 makes one instruction one nanosecond of virtual time; "
          "qemu/check.c reads SysTick (core clock) around the calls and calibrates it on a loop of known length")
    print(f"environment: {first_line(['arm-none-eabi-gcc', '--version'])}; "
          f"{first_line(['qemu-system-arm', '--version'])}; -Os -std=c99 (the module: -O2, the Makefile's MODULE_OPT), -mcpu=<core> -mthumb "
          f"(cortex-m55: -mfloat-abi=hard; MVE vector instructions in the module: {mve}, from gan_dot's intrinsics)")
    return 0 if all(r[-1].split("/")[0] == r[-1].split("/")[1] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
