"""firmware_examples/: the Cortex-M4 build, the Linux-board script, the phone constants.

The MCU test needs arm-none-eabi-gcc (apt-get install -y gcc-arm-none-eabi). Without it
the test fails, so a CI that lost the cross compiler cannot pass unnoticed; set
GAN_EDGE_SKIP_CROSS=1 to skip it on purpose (it then shows as skipped, with the reason).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "firmware_examples"
sys.path.insert(0, str(EXAMPLES))  # write_model_interface is a script, not a package

import write_model_interface  # noqa: E402


# --- microcontroller --------------------------------------------------------------------


def _tflm_arena_bytes(model: Path) -> int:
    """TFLM's RecordingMicroAllocator total for the model (printed to stderr by the C++ side)."""
    code = ("import numpy as np, sys\n"
            "from tflite_micro.python.tflite_micro import runtime\n"
            f"it = runtime.Interpreter.from_file({str(model)!r})\n"
            "it.set_input(np.zeros(it.get_input_details(0)['shape'], np.int8), 0)\n"
            "it.invoke()\nit.print_allocations()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(re.search(r"Arena allocation total (\d+) bytes", done.stderr + done.stdout).group(1))


def test_mcu_example_builds_for_cortex_m4(runtime_export, tmp_path):
    if shutil.which("arm-none-eabi-gcc") is None:
        if os.environ.get("GAN_EDGE_SKIP_CROSS") == "1":
            pytest.skip("GAN_EDGE_SKIP_CROSS=1: the Cortex-M4 build was not checked")
        pytest.fail("arm-none-eabi-gcc is not on PATH: install the cross compiler "
                    "(apt-get install -y gcc-arm-none-eabi), or set GAN_EDGE_SKIP_CROSS=1 to skip this test")
    from gan_edge.export.c_module import export_c_module

    model = runtime_export("int8")
    module = export_c_module(model, tmp_path / "c")
    build = tmp_path / "build"
    done = subprocess.run(["make", "-C", str(EXAMPLES / "mcu"), f"MODULE_DIR={module.header.parent}",
                           f"BUILD_DIR={build}"], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    text, data, bss = map(int, re.search(r"^\s*(\d+)\s+(\d+)\s+(\d+)\s+\d+\s+[0-9a-f]+\s+\S*gan_mcu\.elf",
                                         done.stdout, re.M).groups())
    stack = {m.group(1): int(m.group(2))
             for m in re.finditer(r":(\w+)(?:\.constprop\.?\d*)?\t(\d+)\t", "".join(
                 p.read_text() for p in build.glob("*.su")))}
    # Deepest call path inside the module: gan_generate -> gan_fully_connected -> gan_requantize.
    generate_stack = stack["gan_generate"] + stack.get("gan_fully_connected", 0) + stack.get("gan_requantize", 0)
    arena = _tflm_arena_bytes(model)
    print(f"\nCortex-M4 image: flash {text + data} bytes, RAM {data + bss} bytes (1,024 of it the reserved "
          f"stack); module const data {module.flash_bytes} bytes; gan_generate stack {generate_stack} bytes "
          f"(-fstack-usage); TFLM arena for the same model {arena} bytes, before the interpreter's own code")
    assert text + data < 8 * 1024
    assert generate_stack < 256
    assert module.stack_buffer_bytes < arena


# --- Linux board ------------------------------------------------------------------------

_NO_TF = ("import runpy, sys\n"
          "sys.argv = {argv!r}\n"
          "try:\n    runpy.run_path({script!r}, run_name='__main__')\n"
          "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
          "loaded = [m for m in sys.modules if m == 'tensorflow' or m.startswith(('tensorflow.', 'tf_keras'))]\n"
          "assert not loaded, loaded\n")


def _run_board_script(model: Path, out: Path, n: int) -> str:
    script = EXAMPLES / "linux_board" / "generate.py"
    argv = [str(script), str(model), "-n", str(n), "--out", str(out)]
    done = subprocess.run([sys.executable, "-c", _NO_TF.format(argv=argv, script=str(script))],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _read_png_gray(path: Path) -> np.ndarray:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        assert struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = chunks.get(kind, b"") + body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert (depth, color) == (8, 0)
    rows = np.frombuffer(zlib.decompress(chunks[b"IDAT"]), np.uint8).reshape(height, width + 1)
    assert (rows[:, 0] == 0).all()
    return rows[:, 1:]


def test_linux_board_script_on_the_toy_model_needs_no_tensorflow(runtime_export, tmp_path):
    out = _run_board_script(runtime_export("int8"), tmp_path / "out", 500)
    samples = np.load(tmp_path / "out" / "samples.npy")
    assert samples.shape == (500, 2) and samples.dtype == np.float32
    assert "latency per sample:" in out
    assert not (tmp_path / "out" / "grid.png").exists()


def test_linux_board_script_writes_a_png_grid_for_images(runtime_manifest, tmp_path):
    import tensorflow as tf
    import tf_keras as keras

    from gan_edge.manifest import write_manifest

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(784, activation="tanh"),
                              keras.layers.Reshape((28, 28, 1))])
    fn = tf.function(lambda z: model(z), input_signature=[tf.TensorSpec([None, 8], tf.float32)])
    path = tmp_path / "image_float32.tflite"
    path.write_bytes(tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], model).convert())
    write_manifest(path, runtime_manifest("float32", path.name, latent_dim=8, latent_distribution="uniform11",
                                          output_shape=(28, 28, 1), output_range=(-1.0, 1.0)))

    _run_board_script(path, tmp_path / "out", 10)
    assert np.load(tmp_path / "out" / "samples.npy").shape == (10, 28, 28, 1)
    grid = _read_png_gray(tmp_path / "out" / "grid.png")
    assert grid.shape == (3 * 30 + 2, 4 * 30 + 2)  # 10 images -> 4 columns x 3 rows, 2-px borders
    assert grid[2:30, 2:30].std() > 0  # the first image is not blank


# --- phones -----------------------------------------------------------------------------


def _parse_constants(text: str) -> dict[str, object]:
    values = {}
    for name, raw in re.findall(r"(?:const val|val|static let) (\w+): [\w\[\]]+ = (.+)", text):
        raw = raw.strip()
        if raw.startswith('"'):
            values[name] = raw.strip('"')
        elif raw in ("true", "false"):
            values[name] = raw == "true"
        elif raw.startswith(("intArrayOf(", "[")):
            values[name] = [int(v) for v in re.findall(r"-?\d+", raw)]
        elif "nan" in raw.lower():
            values[name] = math.nan
        elif re.fullmatch(r"-?\d+", raw):
            values[name] = int(raw)
        else:
            values[name] = float(raw.rstrip("f"))
    return values


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-7)
    return a == b


def test_phone_constants_match_a_real_manifest(runtime_export):
    from gan_edge.artifact import read_manifest

    manifest = read_manifest(runtime_export("int8"))
    expected = write_model_interface.constants(manifest)
    assert expected["INPUT_SCALE"] == manifest.input_quantization.scale
    assert expected["OUTPUT_ZERO_POINT"] == manifest.output_quantization.zero_point
    for text in (write_model_interface.kotlin(manifest), write_model_interface.swift(manifest)):
        parsed = _parse_constants(text)
        assert parsed.keys() == expected.keys()
        assert all(_same(parsed[k], expected[k]) for k in expected), (parsed, expected)


def test_checked_in_phone_constants_are_current_for_the_toy_generator(runtime_manifest):
    """The files in the repo were written by the script for the toy float32 artifact:
    same names as the script writes now, and the toy's shapes and distribution."""
    kotlin = EXAMPLES / "android/app/src/main/java/dev/ganedge/demo/ModelInterface.kt"
    swift = EXAMPLES / "ios/GanEdgeDemo/ModelInterface.swift"
    for path in (kotlin, swift):
        parsed = _parse_constants(path.read_text())
        assert list(parsed) == list(write_model_interface.constants(runtime_manifest("float32")))
        assert parsed["LATENT_DIM"] == 4 and parsed["OUTPUT_SHAPE"] == [2]
        assert parsed["LATENT_DISTRIBUTION"] == "uniform01" and parsed["INPUT_DTYPE"] == "float32"
        assert (parsed["INPUT_SCALE"], parsed["INPUT_ZERO_POINT"]) == (1.0, 0)
