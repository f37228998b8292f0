"""`make -C firmware_examples/mcu run`: the C module on emulated Cortex-M4, M7 and M55 cores.

Each core runs under QEMU (mps2-an386, mps2-an500, mps3-an547) on 320 fixed latents, the
corners of the int8 cube and -128 / 127 in every position included; its int8 outputs must
equal the ``tflite-micro`` interpreter's, bit for bit. The instruction count check.c
reports (SysTick under ``-icount``) is checked against QEMU's own trace of every executed
instruction. Needs arm-none-eabi-gcc and qemu-system-arm; without them these tests fail,
unless GAN_EDGE_SKIP_CROSS=1 (then they are skipped, with the reason). The bad-input tests
need only make.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
MCU = REPO / "firmware_examples" / "mcu"
HARNESS = REPO / "firmware_examples" / "host" / "gan_harness.c"
sys.path.insert(0, str(MCU / "qemu"))  # check_io is a helper beside check.c, not a package

from check_io import parse_check_output, write_latents_header  # noqa: E402

pytestmark = pytest.mark.slow  # emulated targets (QEMU): `pytest -m "not slow"` leaves them out

CPUS = ("cortex-m4", "cortex-m7", "cortex-m55")
BOARDS = {"cortex-m4": "mps2-an386", "cortex-m7": "mps2-an500", "cortex-m55": "mps3-an547"}


def _need_cross_and_qemu() -> None:
    packages = {"arm-none-eabi-gcc": "gcc-arm-none-eabi", "qemu-system-arm": "qemu-system-arm"}
    missing = [tool for tool in packages if shutil.which(tool) is None]
    if not missing:
        return
    if os.environ.get("GAN_EDGE_SKIP_CROSS") == "1":
        pytest.skip(f"GAN_EDGE_SKIP_CROSS=1 and {', '.join(missing)} not on PATH: the QEMU runs were not checked")
    pytest.fail(f"{' and '.join(missing)} not on PATH: apt-get install -y {' '.join(packages[t] for t in missing)}"
                " (QEMU: .ci/install-qemu-system.sh), or set GAN_EDGE_SKIP_CROSS=1 to skip these tests")


def _make(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    make = shutil.which("make")
    if make is None:
        pytest.fail("make is not on PATH: apt-get install -y make")
    return subprocess.run([make, "-s", "-C", str(MCU), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


@pytest.fixture(scope="module")
def module_dir(runtime_models, tmp_path_factory) -> Path:
    """The shared toy generator (Dense 4->16, LeakyReLU, Dense 16->2) as a C module."""
    from conftest import _runtime_manifest_for
    from gan_edge.export.c_module import export_c_module
    from gan_edge.manifest import write_manifest

    path = tmp_path_factory.mktemp("mcu_qemu") / "gen_int8.tflite"
    path.write_bytes(runtime_models.tflite_int8)
    write_manifest(path, _runtime_manifest_for("int8", path.name, runtime_models.int8_io))
    return export_c_module(path, path.parent / "c").header.parent


def _latents(dim: int, rng: np.random.Generator, total: int = 320) -> np.ndarray:
    """The corners of the int8 cube (dim <= 8), each position pinned to -128 and to 127
    four times with the rest random, then uniform random rows up to total."""
    rows = [np.array(list(itertools.product((-128, 127), repeat=dim)))] if dim <= 8 else []
    for position, value in itertools.product(range(dim), (-128, 127)):
        block = rng.integers(-128, 128, size=(4, dim))
        block[:, position] = value
        rows.append(block)
    done = sum(len(r) for r in rows)
    rows.append(rng.integers(-128, 128, size=(max(total - done, 0), dim)))
    return np.concatenate(rows).astype(np.int8)


def _run_tflm(model: bytes, latents: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model)
    outputs = []
    for row in latents:  # one latent per invoke, as on the device
        interpreter.set_input(row[None, :], 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0)[0].copy())
    return np.stack(outputs)


def _run_check(module_dir: Path, build: Path, cpu: str, latents: np.ndarray, **header) -> tuple:
    header_path = write_latents_header(latents, build.parent / f"latents_{cpu}.h", **header)
    done = _make("run", f"CPU={cpu}", f"MODULE_DIR={module_dir}", f"BUILD_DIR={build}",
                 f"LATENTS={header_path}")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert f"QEMU {BOARDS[cpu]} ({cpu})" in done.stdout
    return parse_check_output(done.stdout, len(latents), 2)


# --- bit for bit, on each core ---------------------------------------------------------


@pytest.mark.parametrize("cpu", CPUS)
def test_each_core_matches_tflite_micro_bit_for_bit(cpu, module_dir, runtime_models, tmp_path):
    _need_cross_and_qemu()
    latents = _latents(4, np.random.default_rng(7))
    assert len(latents) == 320 and (latents == -128).all(axis=1).any() and (latents == 127).all(axis=1).any()

    outputs, instructions, calls = _run_check(module_dir, tmp_path / "build", cpu, latents)
    expected = _run_tflm(runtime_models.tflite_int8, latents)
    differ = np.flatnonzero((outputs != expected).any(axis=1))
    assert differ.size == 0, (
        f"{cpu} differs from TFLM on {differ.size} of {len(latents)} latents, first "
        f"{latents[differ[0]].tolist()}: {cpu} {outputs[differ[0]].tolist()} TFLM {expected[differ[0]].tolist()}")
    # 96 multiply-accumulates and 34 requantizations: hundreds to a few thousand instructions.
    assert 500 < instructions < 10_000 and calls >= len(latents)
    print(f"\n{cpu} on QEMU {BOARDS[cpu]}: {len(latents)} latents bit-exact with TFLM, "
          f"{instructions:.1f} instructions per gan_generate")


def _tool(name: str, *args) -> str:
    return subprocess.run([f"arm-none-eabi-{name}", *map(str, args)], capture_output=True, text=True,
                          check=True).stdout


def _one_insn_per_tb_flag(qemu: str) -> list[str]:
    """QEMU 8.1 renamed -singlestep to -accel tcg,one-insn-per-tb=on (and later dropped it)."""
    accel = subprocess.run([qemu, "-accel", "tcg,help"], capture_output=True, text=True)
    return ["-accel", "tcg,one-insn-per-tb=on"] if "one-insn-per-tb" in accel.stdout else ["-singlestep"]


@pytest.mark.parametrize("cpu", CPUS)
def test_instruction_count_equals_qemus_trace_of_every_instruction(cpu, module_dir, tmp_path):
    """The SysTick figure against QEMU logging each instruction (one per translation block)
    executed inside the module's functions, over the same calls."""
    _need_cross_and_qemu()
    count, passes = 20, 8
    latents = _latents(4, np.random.default_rng(1), total=count)[-count:]
    build = tmp_path / "build"
    _, instructions, calls = _run_check(module_dir, build, cpu, latents, passes=passes)
    assert calls == count * passes

    elf, obj = build / f"qemu-{cpu}" / "gan_check.elf", build / f"qemu-{cpu}" / "gan_generator.o"
    # gan_generate and what it calls; a helper outside the module (libgcc's 64-bit division,
    # say) would escape the trace, so there must be none.
    calls_of, function = {}, None
    for line in _tool("objdump", "-dr", obj).splitlines():
        if header := re.match(r"^[0-9a-f]+ <(\S+)>:$", line):
            function = header.group(1)
        elif call := re.search(r"R_ARM_THM_(?:CALL|JUMP24)\s+(\S+)$", line):
            calls_of.setdefault(function, set()).add(call.group(1))
    module_functions, todo = set(), ["gan_generate"]
    while todo:
        name = todo.pop()
        module_functions.add(name)
        todo += sorted(calls_of.get(name, set()) - module_functions)
    assert all(name.startswith("gan_") for name in module_functions), module_functions
    ranges = [(int(address, 16) & ~1, int(size)) for address, size, name in  # & ~1: the Thumb bit
              re.findall(r"^\s*\d+: ([0-9a-f]+) +(\d+) FUNC .* (\S+)$", _tool("readelf", "-sW", elf), re.M)
              if name in module_functions]

    log = tmp_path / "trace.log"
    qemu = shutil.which("qemu-system-arm")
    subprocess.run([qemu, "-machine", BOARDS[cpu], "-display", "none", "-monitor", "none", "-serial", "null",
                    "-icount", "shift=0", *_one_insn_per_tb_flag(qemu), "-d", "nochain,exec", "-D", str(log),
                    "-dfilter", ",".join(f"0x{start:x}+0x{size:x}" for start, size in ranges),
                    "-semihosting-config", "enable=on,target=native", "-kernel", str(elf)],
                   stdin=subprocess.DEVNULL, capture_output=True, check=True, timeout=120)
    inside = {start + offset for start, size in ranges for offset in range(size)}
    pcs = re.findall(r"^Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/", log.read_text(), re.M)
    executed = sum(1 for pc in pcs if int(pc, 16) in inside)
    # check.c calls gan_generate once per latent to print it, then passes times per latent timed.
    traced = executed / (count * (1 + passes))
    # A tick is 40 instructions (31.25 on the M55): +-2 ticks over 160 calls, and the tenths.
    assert abs(instructions - traced) <= 0.55, (instructions, traced)
    print(f"\n{cpu}: {instructions:.1f} instructions per gan_generate by SysTick, {traced:.2f} by QEMU's trace")


# --- what `make run` prints, and how it fails ----------------------------------------------


def _host_points(module_dir: Path, tmp_path: Path, n: int) -> list[str]:
    """main.c's points, computed on the host: same sampler seed, same float32 arithmetic."""
    seed = int(re.search(r"uint32_t rng = (0x[0-9A-Fa-f]+)u;", (MCU / "main.c").read_text()).group(1), 16)
    header = (module_dir / "gan_generator.h").read_text()
    scale = np.float32(float(re.search(r"#define GAN_OUTPUT_SCALE ([0-9.e+-]+)f", header).group(1)))
    zero = int(re.search(r"#define GAN_OUTPUT_ZERO_POINT \((-?\d+)\)", header).group(1))
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no host C compiler on PATH: apt-get install -y gcc")
    binary = tmp_path / "gan_harness"
    subprocess.run([cc, "-std=c99", "-O2", "-I", str(module_dir), str(HARNESS), str(module_dir / "gan_generator.c"),
                    "-o", str(binary)], check=True, capture_output=True)
    latents = subprocess.run([str(binary), "sample", str(n), str(seed)], capture_output=True, check=True).stdout
    out = np.frombuffer(subprocess.run([str(binary), "generate"], input=latents, capture_output=True,
                                       check=True).stdout, np.int8).reshape(n, -1)
    values = (out.astype(np.int32) - zero).astype(np.float32) * scale
    milli = np.trunc(values * np.float32(1000) + np.where(values < 0, np.float32(-0.5), np.float32(0.5)))
    return [" ".join(f"{'-' if m < 0 else ''}{abs(int(m)) // 1000}.{abs(int(m)) % 1000:03d}" for m in row)
            for row in milli]


@pytest.mark.parametrize("cpu", CPUS)
def test_run_prints_the_points_the_host_computes_and_exits_0(cpu, module_dir, tmp_path):
    _need_cross_and_qemu()
    done = _make("run", f"CPU={cpu}", f"MODULE_DIR={module_dir}", f"BUILD_DIR={tmp_path / 'build'}")
    assert done.returncode == 0, done.stdout + done.stderr
    printed = done.stdout.replace("\r", "").split("gan-edge: generated points\n", 1)[1].splitlines()
    assert printed == _host_points(module_dir, tmp_path, 8)


def _fake_module(folder: Path, module_dir: Path, generate_body: str) -> Path:
    """A module with the real header and a gan_generate that misbehaves."""
    folder.mkdir()
    shutil.copy(module_dir / "gan_generator.h", folder)
    (folder / "gan_generator.c").write_text(
        '#include "gan_generator.h"\n'
        f"void gan_generate(const int8_t *latent, int8_t *out) {{ (void)latent; (void)out; {generate_body} }}\n"
        "uint32_t gan_rng_next(uint32_t *state) { return ++*state; }\n"
        "void gan_sample_latent(uint32_t *state, int8_t *latent) { latent[0] = (int8_t)gan_rng_next(state); }\n"
        "void gan_dequantize(const int8_t *out, float *values) { values[0] = out[0]; }\n")
    return folder


def test_a_fault_fails_with_its_pc_and_status_3(module_dir, tmp_path):
    _need_cross_and_qemu()
    fake = _fake_module(tmp_path / "fault", module_dir, "__builtin_trap();")
    done = _make("run", "CPU=cortex-m55", f"MODULE_DIR={fake}", f"BUILD_DIR={tmp_path / 'build'}")
    assert done.returncode == 2  # make's own status when a recipe fails
    pc = int(re.search(r"gan_mcu: HardFault at pc 0x([0-9a-f]{8})", done.stdout).group(1), 16)
    nm = _tool("nm", tmp_path / "build" / "qemu-cortex-m55" / "gan_main.elf")
    assert pc == int(re.search(r"^([0-9a-f]+) T gan_generate$", nm, re.M).group(1), 16) & ~1
    assert "gan_mcu: exit status 3 on mps3-an547" in done.stderr


def test_a_hang_fails_at_the_time_limit(module_dir, tmp_path):
    _need_cross_and_qemu()
    fake = _fake_module(tmp_path / "hang", module_dir, 'for (;;) { __asm__ volatile("" ::: "memory"); }')
    done = _make("run", "CPU=cortex-m7", f"MODULE_DIR={fake}", f"BUILD_DIR={tmp_path / 'build'}", "TIMEOUT=2")
    assert done.returncode == 2
    assert "gan_mcu: no exit within TIMEOUT=2 s on mps2-an500: it hangs" in done.stderr
    assert "Error 124" in done.stderr


def _one_line(done: subprocess.CompletedProcess) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_an_unknown_core_is_refused_in_one_line_naming_the_valid_ones(tmp_path):
    line = _one_line(_make("run", "CPU=cortex-m3", f"BUILD_DIR={tmp_path}"))
    assert "CPU=cortex-m3 is not a core this example runs: use one of cortex-m4 cortex-m7 cortex-m55" in line
    assert not any(tmp_path.iterdir())  # refused before any work


def test_a_module_folder_without_the_generated_files_is_refused_in_one_line(tmp_path):
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "gan_generator.h").write_text("/* the .c is missing */\n")
    line = _one_line(_make("run", "CPU=cortex-m7", f"MODULE_DIR={tmp_path / 'c'}", f"BUILD_DIR={tmp_path / 'b'}"))
    assert f"MODULE_DIR={tmp_path / 'c'} lacks gan_generator.c or gan_generator.h" in line
    assert "gan-edge export RUN --formats c" in line
    assert not (tmp_path / "b").exists()


def test_no_qemu_is_refused_in_one_line_saying_how_to_install_it(module_dir, tmp_path):
    bin_dir = tmp_path / "bin"  # a PATH with the cross compiler (if any) but no QEMU
    bin_dir.mkdir()
    if shutil.which("arm-none-eabi-gcc"):
        (bin_dir / "arm-none-eabi-gcc").symlink_to(shutil.which("arm-none-eabi-gcc"))
    env = {**os.environ, "PATH": str(bin_dir)}
    line = _one_line(_make("run", f"MODULE_DIR={module_dir}", f"BUILD_DIR={tmp_path / 'b'}", env=env))
    assert "qemu-system-arm not found: install QEMU (apt-get install -y qemu-system-arm)" in line
    assert not (tmp_path / "b").exists()


# --- the mcu DCGAN: an image generator with convolutions -----------------------------------


@pytest.fixture(scope="module")
def dcgan_module(tmp_path_factory) -> tuple[Path, Path]:
    """The mcu-preset DCGAN (random weights: tests/mcu_dcgan_model.py) as int8 and as C."""
    from gan_edge.export.c_module import export_c_module
    from mcu_dcgan_model import mcu_dcgan_int8

    model = mcu_dcgan_int8()
    return model, export_c_module(model, tmp_path_factory.mktemp("mcu_dcgan") / "c").header.parent


def test_m7_draws_the_images_and_writes_tflite_micros_bytes(dcgan_module, tmp_path):
    """`make run CPU=cortex-m7` on the image module: ASCII art on the console, and the raw
    int8 bytes written through semihosting equal TFLM's for the latents the board drew."""
    _need_cross_and_qemu()
    model, module = dcgan_module
    images, latents_file = tmp_path / "images.bin", tmp_path / "latents.bin"
    done = _make("run", "CPU=cortex-m7", f"MODULE_DIR={module}", f"BUILD_DIR={tmp_path / 'build'}", "IMAGES=6",
                 f"IMAGES_FILE={images}", f"IMAGE_LATENTS_FILE={latents_file}")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    assert f"raw int8 images: {images}; their latents: {latents_file}" in done.stdout
    latents = np.frombuffer(latents_file.read_bytes(), np.int8).reshape(6, 100)
    board = np.frombuffer(images.read_bytes(), np.int8).reshape(6, 784)
    expected = _run_tflm(model.read_bytes(), latents).reshape(6, 784)
    assert np.array_equal(board, expected), f"{int((board != expected).sum())} of {board.size} bytes differ"
    assert len(np.unique(latents, axis=0)) == 6  # six different draws of gan_sample_latent
    # Each image: a header line, then 28 rows of 56 characters from the ramp.
    text = done.stdout.replace("\r", "").split("gan-edge: generated images\n", 1)[1]
    for n in range(6):
        rows = text.split(f"image {n}\n", 1)[1].splitlines()[:28]
        assert all(len(r) == 56 and set(r) <= set(" .:-=+*#%@") for r in rows)
        ramp = " .:-=+*#%@"
        brightest = max(ramp.index(c) for c in rows[0] + "".join(rows[1:]))
        assert brightest == max(ramp.index(ramp[(int(v) + 128) * 10 // 256]) for v in board[n])


def _op_instructions(stdout: str) -> list[float]:
    """check.c's per-op lines (make run PROFILE=1): instructions per call of each op."""
    return [float(v) for v in re.findall(r"^op \d+ instructions (\d+\.\d)$", stdout, re.M)]


# Instructions per multiply-accumulate the fast kernels must stay under on the mcu DCGAN
# (issue 24: M4 and M7 <= 1.5, M55 <= 0.5 for the whole image; measured 1.39 and 0.32),
# and for its largest op (CONV_2D 7x7x32 -> 7x7x128; measured 1.25 and 0.27).
DCGAN_BUDGET = {"cortex-m4": (1.5, 1.35), "cortex-m7": (1.5, 1.35), "cortex-m55": (0.5, 0.35)}


@pytest.mark.parametrize("cpu", CPUS)
def test_dcgan_on_each_core_matches_tflite_micro(cpu, dcgan_module, tmp_path):
    """check.c on each core (built with PROFILE=1: the instructions of each op too): the
    corners of the latent cube and random latents, bit for bit, and the instructions per
    multiply-accumulate of the whole image and of its largest convolution, which only the
    fast kernels (SMLAD on the M4/M7, Helium on the M55) reach: the portable ones take 3.4
    and 1.1 per MAC."""
    _need_cross_and_qemu()
    from gan_edge.export.c_graph import read_chain

    model, module = dcgan_module
    rng = np.random.default_rng(3)
    latents = np.concatenate([np.full((1, 100), -128), np.full((1, 100), 127),
                              rng.integers(-128, 128, size=(2, 100))]).astype(np.int8)
    header = write_latents_header(latents, tmp_path / "latents.h", passes=1)
    done = _make("run", f"CPU={cpu}", f"MODULE_DIR={module}", f"BUILD_DIR={tmp_path / 'build'}", f"LATENTS={header}",
                 "PROFILE=1")
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr
    outputs, instructions, calls = parse_check_output(done.stdout, len(latents), 784)
    expected = _run_tflm(model.read_bytes(), latents).reshape(len(latents), 784)
    assert np.array_equal(outputs, expected)
    layers = read_chain(model.read_bytes())[0]
    per_op = _op_instructions(done.stdout)
    assert len(per_op) == len(layers) and calls == len(latents)
    macs = sum(layer.macs for layer in layers)
    assert abs(sum(per_op) - instructions) < 0.01 * instructions  # the ops account for the whole call
    biggest = max(range(len(layers)), key=lambda i: layers[i].macs)
    whole, conv = DCGAN_BUDGET[cpu]
    assert instructions / macs <= whole and per_op[biggest] / layers[biggest].macs <= conv, (
        f"{cpu}: {instructions / macs:.3f} instructions per MAC (at most {whole}), op {biggest} "
        f"{per_op[biggest] / layers[biggest].macs:.3f} (at most {conv})")
    print(f"\n{cpu} on QEMU {BOARDS[cpu]}: mcu DCGAN bit-exact with TFLM, {instructions:,.0f} instructions per "
          f"image, {instructions / macs:.3f} per MAC; per op: {per_op}")


@pytest.fixture(scope="module")
def edge_module(tmp_path_factory) -> tuple[Path, Path]:
    """tests/mcu_edge_model.py as int8 and as C: fast kernels on their tails and on a
    non-zero input zero point, and two layers that fall back to the portable kernels."""
    from gan_edge.export.c_module import export_c_module
    from mcu_edge_model import mcu_edge_int8

    model = mcu_edge_int8()
    return model, export_c_module(model, tmp_path_factory.mktemp("mcu_edge") / "c").header.parent


@pytest.mark.parametrize("cpu", CPUS)
def test_fast_kernels_and_their_fallback_match_tflite_micro_on_each_core(cpu, edge_module, tmp_path):
    """The edge model with the fast kernels and with PORTABLE=1 (every layer portable): both
    bit for bit with TFLM on 102 latents, and the covered convolution (op 3) clearly faster
    with its fast kernel, so the fast path is the one taken on this core."""
    _need_cross_and_qemu()
    from mcu_edge_model import LATENT_DIM

    model, module = edge_module
    rng = np.random.default_rng(5)
    latents = np.concatenate([np.full((1, LATENT_DIM), -128), np.full((1, LATENT_DIM), 127),
                              rng.choice([-128, 127], size=(20, LATENT_DIM)),
                              rng.integers(-128, 128, size=(80, LATENT_DIM))]).astype(np.int8)
    header = write_latents_header(latents, tmp_path / "latents.h", passes=1)
    expected = _run_tflm(model.read_bytes(), latents).reshape(len(latents), -1)
    per_op = {}
    for variant in ("PORTABLE=0", "PORTABLE=1"):
        done = _make("run", f"CPU={cpu}", f"MODULE_DIR={module}", f"BUILD_DIR={tmp_path / 'build'}",
                     f"LATENTS={header}", "PROFILE=1", variant)
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr
        outputs, _, _ = parse_check_output(done.stdout, len(latents), expected.shape[1])
        differ = np.flatnonzero((outputs != expected).any(axis=1))
        assert differ.size == 0, f"{cpu} {variant}: {differ.size} latents differ, first {latents[differ[0]]}"
        per_op[variant] = _op_instructions(done.stdout)
    fast, portable = per_op["PORTABLE=0"][3], per_op["PORTABLE=1"][3]
    assert fast < 0.7 * portable, (cpu, per_op)
    print(f"\n{cpu}: edge model bit-exact both ways; CONV_2D op 3: {fast:,.0f} instructions fast, "
          f"{portable:,.0f} portable")
