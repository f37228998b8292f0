"""The generated C99 module against TFLite Micro's reference kernels, bit for bit.

The C is compiled with the system ``cc`` together with ``firmware_examples/host/gan_harness.c``
(int8 latents on stdin, int8 outputs on stdout) and run on 12,000+ latents, the extremes
-128 and 127 in every position included; the outputs must equal what the ``tflite-micro``
package's interpreter returns. LiteRT (XNNPACK) is run on the same latents and its
disagreements with TFLM are counted and printed, not asserted: they are allowed.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from gan_edge.errors import GanEdgeError
from gan_edge.export.embed import embed_in_tflite

REPO = Path(__file__).resolve().parents[1]
HARNESS = REPO / "firmware_examples" / "host" / "gan_harness.c"
CFLAGS = ["-std=c99", "-O2", "-Wall", "-Wextra", "-pedantic", "-Werror"]


def _cc() -> str:
    cc = shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        pytest.fail("no C compiler on PATH: install one (apt-get install -y gcc) to test the C module")
    return cc


@pytest.fixture(scope="module")
def int8_model(runtime_models, tmp_path_factory) -> Path:
    """The shared toy generator's full-int8 export, with its manifest as a sidecar."""
    from conftest import _runtime_manifest_for

    path = tmp_path_factory.mktemp("c_module") / "gen_int8.tflite"
    manifest = _runtime_manifest_for("int8", path.name, runtime_models.int8_io)
    path.write_bytes(runtime_models.tflite_int8)
    from gan_edge.manifest import write_manifest

    write_manifest(path, manifest)
    return path


@pytest.fixture(scope="module")
def harness(int8_model) -> Path:
    from gan_edge.export.c_module import export_c_module

    module = export_c_module(int8_model, int8_model.parent / "c")
    binary = int8_model.parent / "gan_harness"
    subprocess.run([_cc(), *CFLAGS, "-I", str(module.header.parent), str(HARNESS), str(module.source),
                    "-o", str(binary)], check=True, capture_output=True, text=True)
    return binary


def _latents(dim: int, rng: np.random.Generator) -> np.ndarray:
    """Corners of the int8 cube, each position pinned to -128 and to 127 (and to every
    other value) with the rest random, then uniform random rows: 12,000+ in all."""
    rows = [np.array(list(itertools.product((-128, 127), repeat=min(dim, 12))))]
    if dim > 12:
        rows = [rng.choice([-128, 127], size=(4096, dim))]
    for position in range(dim):
        for value in range(-128, 128):
            block = rng.integers(-128, 128, size=(8 if value in (-128, 127) else 1, dim))
            block[:, position] = value
            rows.append(block)
    rows.append(rng.integers(-128, 128, size=(12_000, dim)))
    return np.concatenate(rows).astype(np.int8)


def _run_c(binary: Path, latents: np.ndarray, out_size: int) -> np.ndarray:
    done = subprocess.run([str(binary), "generate"], input=latents.tobytes(), capture_output=True, check=True)
    return np.frombuffer(done.stdout, np.int8).reshape(len(latents), out_size)


def _run_tflm(model: bytes, latents: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model)
    outputs = []
    for row in latents:  # TFLM has no resize: one latent per invoke, as on a device
        interpreter.set_input(row[None, :], 0)
        interpreter.invoke()
        outputs.append(interpreter.get_output(0)[0].copy())
    return np.stack(outputs)


def _run_litert(model: bytes, latents: np.ndarray) -> np.ndarray:
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    index = interpreter.get_input_details()[0]["index"]
    interpreter.resize_tensor_input(index, latents.shape)
    interpreter.allocate_tensors()
    interpreter.set_tensor(index, latents)
    interpreter.invoke()
    return interpreter.get_tensor(interpreter.get_output_details()[0]["index"])


def test_c_module_matches_tflite_micro_bit_for_bit(harness, int8_model, runtime_models):
    model = runtime_models.tflite_int8
    latents = _latents(4, np.random.default_rng(0))
    assert len(latents) >= 10_000
    for value in (-128, 127):
        assert all((latents[:, p] == value).sum() >= 8 for p in range(4))

    c_out = _run_c(harness, latents, 2)
    tflm_out = _run_tflm(model, latents)
    differ = np.flatnonzero((c_out != tflm_out).any(axis=1))
    assert differ.size == 0, (
        f"C differs from TFLM on {differ.size} of {len(latents)} latents, first {latents[differ[0]].tolist()}: "
        f"C {c_out[differ[0]].tolist()} TFLM {tflm_out[differ[0]].tolist()}"
    )

    litert_out = _run_litert(model, latents)
    rows = (litert_out != tflm_out).any(axis=1)
    steps = np.abs(litert_out.astype(int) - tflm_out.astype(int))
    print(f"\nLiteRT vs TFLM on {len(latents)} latents: {rows.sum()} differ "
          f"({100 * rows.mean():.2f}%), largest difference {steps.max()} step(s)")


def test_sampler_draws_the_manifest_distribution(harness):
    """uniform01 at the model's input scale: every int8 code of [0, 1), evenly."""
    done = subprocess.run([str(harness), "sample", "40000", "12345"], capture_output=True, check=True)
    codes = np.frombuffer(done.stdout, np.int8).reshape(-1, 4)
    assert codes.shape == (40000, 4)
    counts = np.bincount(codes.astype(int).ravel() + 128, minlength=256)
    assert (counts > 0).sum() >= 250  # zero point -128: [0, 1) spans (nearly) all codes
    assert counts.max() < 3 * counts.mean()
    # Dequantized, the mean is near 0.5 (the fake manifest's input scale is 1/255).
    real = (codes.astype(float) + 128) / 255
    assert abs(real.mean() - 0.5) < 0.01


def test_header_states_the_footprint(harness, int8_model):
    header = (int8_model.parent / "c" / "gan_generator.h").read_text()
    # 4x16 + 16x2 int8 weights; 18 int32 biases and multipliers; 18 int8 shifts.
    assert "96 bytes of int8 weights" in header
    assert f"flash: {96 + 18 * 4 * 2 + 18} bytes" in header
    # small: on the stack, reentrant; the 16-value hidden layer and the fast kernel's 8-byte scratch
    assert "stack: 24 bytes of activation buffers" in header
    assert "#define GAN_LATENT_DIM 4" in header


def test_quantize_multiplier_matches_tflite():
    from gan_edge.export.c_module import quantize_multiplier

    assert quantize_multiplier(0.0) == (0, 0)
    assert quantize_multiplier(0.5) == (1 << 30, 0)
    assert quantize_multiplier(1.0) == (1 << 30, 1)
    assert quantize_multiplier(2.0**-40) == (0, 0)  # below 2**-31: TFLite zeroes it
    # q * 2**31 rounds up to 2**31: the mantissa is halved and the shift bumped.
    assert quantize_multiplier(1 - 2.0**-34) == (1 << 30, 1)


def _with_op_renamed(model: bytes, old: str, new: str) -> bytes:
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    tree = schema.ModelT.InitFromPackedBuf(model, 0)
    for code in tree.operatorCodes:
        if max(code.builtinCode, code.deprecatedBuiltinCode) == getattr(schema.BuiltinOperator, old):
            code.builtinCode = code.deprecatedBuiltinCode = getattr(schema.BuiltinOperator, new)
    builder = flatbuffers.Builder(1024)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_unsupported_ops_are_named_and_point_to_tflite_micro(runtime_models, tmp_path):
    from gan_edge.export.c_module import UnsupportedModelError, export_c_module
    from conftest import _runtime_manifest_for

    path = tmp_path / "gen_hard_swish.tflite"
    raw = _with_op_renamed(runtime_models.tflite_int8, "LEAKY_RELU", "HARD_SWISH")
    path.write_bytes(embed_in_tflite(raw, _runtime_manifest_for("int8", path.name, runtime_models.int8_io)))
    with pytest.raises(UnsupportedModelError, match=r"^op 1 of 3 is HARD_SWISH, which the C module generator "
                                                    r"does not support; .*run this model with TensorFlow Lite Micro"):
        export_c_module(path, tmp_path / "c")
    assert issubclass(UnsupportedModelError, GanEdgeError)
    assert not (tmp_path / "c").exists()


def test_float_io_models_are_refused(runtime_models, tmp_path):
    from gan_edge.export.c_module import UnsupportedModelError, export_c_module
    from conftest import _runtime_manifest_for

    path = tmp_path / "gen_float32.tflite"
    path.write_bytes(embed_in_tflite(runtime_models.tflite_float32, _runtime_manifest_for("float32", path.name)))
    with pytest.raises(UnsupportedModelError, match="must be int8: export the full-integer `int8` format"):
        export_c_module(path, tmp_path / "c")


def test_existing_module_is_not_overwritten(harness, int8_model):
    from gan_edge.export.c_module import export_c_module

    with pytest.raises(GanEdgeError, match="already exists: pass a new --out folder"):
        export_c_module(int8_model, int8_model.parent / "c")


def test_cli_export_formats_c_writes_the_module_beside_int8(tmp_path, capsys):
    from gan_edge.cli.main import main

    run_dir = tmp_path / "run"
    assert main(["train", "toy2d", "--epochs", "1", "--seed", "3", "--out", str(run_dir)]) == 0
    assert main(["export", str(run_dir), "--formats", "c", "--out", str(tmp_path / "art")]) == 0
    out = capsys.readouterr().out
    assert (tmp_path / "art" / "generator_int8.tflite").is_file()  # c implies int8
    header = (tmp_path / "art" / "c" / "gan_generator.h").read_text()
    assert "Source model: generator_int8.tflite" in header and "bytes of const data" in out
    # A second export into the same folder is refused before any work, in one line.
    assert main(["export", str(run_dir), "--formats", "c", "--out", str(tmp_path / "art")]) == 2
    assert "already exists: pass a new --out folder" in capsys.readouterr().err


# --- the mcu-preset DCGAN: CONV_2D, TANH, DEPTH_TO_SPACE, RESHAPE --------------------------


@pytest.fixture(scope="module")
def dcgan(tmp_path_factory):
    """The mcu DCGAN's int8 model, its C module and the host harness built from it."""
    from gan_edge.export.c_module import export_c_module
    from mcu_dcgan_model import mcu_dcgan_int8

    model = mcu_dcgan_int8()
    folder = tmp_path_factory.mktemp("c_dcgan")
    module = export_c_module(model, folder / "c")
    binary = folder / "gan_harness"
    subprocess.run([_cc(), *CFLAGS, "-I", str(module.header.parent), str(HARNESS), str(module.source),
                    "-o", str(binary)], check=True, capture_output=True, text=True)
    return model, module, binary


def test_dcgan_c_module_matches_tflite_micro_bit_for_bit(dcgan):
    model, module, binary = dcgan
    rng = np.random.default_rng(1)
    latents = np.concatenate([
        rng.choice(np.array([-128, 127], np.int8), size=(200, 100)),  # the corners saturate every layer
        np.full((1, 100), -128, np.int8), np.full((1, 100), 127, np.int8), np.zeros((1, 100), np.int8),
        rng.integers(-128, 128, size=(2800, 100)),
    ]).astype(np.int8)
    c_out = _run_c(binary, latents, 784)
    tflm_out = _run_tflm(model.read_bytes(), latents).reshape(len(latents), 784)
    differ = np.flatnonzero((c_out != tflm_out).any(axis=1))
    assert differ.size == 0, (f"C differs from TFLM on {differ.size} of {len(latents)} latents, first at row "
                              f"{differ[0]}: {int((c_out[differ[0]] != tflm_out[differ[0]]).sum())} pixels")
    # Not a constant image: the test would pass vacuously on a dead generator.
    assert len(np.unique(c_out)) > 50 and c_out.std(axis=0).mean() > 1


def test_dcgan_tables_are_tflite_micros_tanh():
    """Every int8 code through the table against tanh itself: within one step of 1/128."""
    from gan_edge.export.gemmlowp import logistic_table, tanh_table

    for scale, zero_point in ((0.0200909767, 3), (0.0075131, 1), (0.1, -20), (0.001, 0)):
        codes = np.arange(-128, 128)
        exact = np.clip(np.round(np.tanh((codes - zero_point) * np.float32(scale)) * 128), -128, 127)
        assert np.abs(np.array(tanh_table(scale, zero_point)) - exact).max() <= 1
        exact = np.clip(np.round(1 / (1 + np.exp(-(codes - zero_point) * np.float32(scale))) * 256) - 128, -128, 127)
        assert np.abs(np.array(logistic_table(scale, zero_point)) - exact).max() <= 1


def test_dcgan_module_fits_the_mcu_budget(dcgan):
    """The mcu preset's promise: int8 weights <= 256 KiB, the largest live pair <= 64 KiB,
    the arena static (a 1 KiB MCU stack cannot hold it) and sized to that pair."""
    _, module, _ = dcgan
    assert module.weight_bytes == 12_800 + 200_704 + 36_864 + 1_152 <= 256 * 1024
    assert module.largest_pair_bytes == 2 * 7 * 7 * 128 <= 64 * 1024
    assert module.static_buffer_bytes == module.largest_pair_bytes and module.stack_buffer_bytes == 0
    source = module.source.read_text()
    assert "static int8_t gan_arena[12544] GAN_ALIGNED;" in source and "float" not in source.split("gan_generate(")[1].split(
        "uint32_t gan_rng_next")[0]
    for op in ("CONV_2D", "TANH", "DEPTH_TO_SPACE", "RESHAPE", "FULLY_CONNECTED"):
        assert op in module.header.read_text()


def test_budgets_refuse_a_module_that_does_not_fit(dcgan, tmp_path):
    from gan_edge.export.c_module import BudgetError, export_c_module

    model, module, _ = dcgan
    with pytest.raises(BudgetError, match=r"would not fit: const data [\d,]+ bytes \(\d+\.\d KiB\) > --flash-kib 128; "
                                          r"activation buffers 12,544 bytes \(12\.2 KiB\) > --ram-kib 8"):
        export_c_module(model, tmp_path / "c", flash_kib=128, ram_kib=8)
    assert not (tmp_path / "c").exists()
    fits = export_c_module(model, tmp_path / "c", flash_kib=512, ram_kib=16)
    assert fits.flash_bytes == module.flash_bytes


def test_cli_budgets_refuse_in_one_line_with_status_2(tmp_path, capsys):
    from gan_edge.cli.main import main

    run_dir = tmp_path / "run"
    assert main(["train", "toy2d", "--epochs", "1", "--seed", "3", "--out", str(run_dir)]) == 0
    capsys.readouterr()
    # A budget without the c format is refused before any work.
    assert main(["export", str(run_dir), "--formats", "int8", "--ram-kib", "4", "--out", str(tmp_path / "a")]) == 2
    err = capsys.readouterr().err
    assert "--ram-kib is a budget for the C module: add c to --formats" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a").exists()
    # The toy module has 258 bytes of const data: 0.1 KiB is too little.
    assert main(["export", str(run_dir), "--formats", "c", "--flash-kib", "0.1", "--out", str(tmp_path / "b")]) == 2
    err = capsys.readouterr().err
    assert "would not fit: const data 258 bytes (0.3 KiB) > --flash-kib 0.1" in err
    assert f"the exports above were written; {tmp_path / 'b' / 'c'} was not" in err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "b" / "c").exists()
    assert main(["export", str(run_dir), "--formats", "c", "--flash-kib", "1", "--ram-kib", "1",
                 "--out", str(tmp_path / "ok")]) == 0
    assert "24 bytes of stack buffers" in capsys.readouterr().out


# --- fast kernels and their fallback (tests/mcu_edge_model.py) --------------------------------


def test_layers_the_fast_kernels_do_not_cover_run_the_portable_ones_bit_exact(tmp_path):
    """The edge model: its first Dense (in_dim 6) and last Conv2D (3 output channels) are not
    covered by the fast kernels. The export says so, per layer, and calls the portable kernels
    for them; the host build (no DSP, no Helium: every layer portable) equals TFLM bit for bit.
    The emulated cores run the same module with the fast kernels: tests/test_mcu_qemu.py."""
    from gan_edge.export.c_module import export_c_module
    from mcu_edge_model import LATENT_DIM, mcu_edge_int8

    model = mcu_edge_int8()
    module = export_c_module(model, tmp_path / "c")
    assert module.portable_notes == (
        "op 0 (FULLY_CONNECTED): gan_fully_connected, portable: the fast kernel does not cover it (in_dim 6 is not "
        "a multiple of 4)",
        "op 5 (CONV_2D): gan_conv_2d, portable: the fast kernel does not cover it (in_channels 6 is not a multiple "
        "of 4; out_channels 3 is odd)")
    header, source = module.header.read_text(), module.source.read_text()
    assert "kernel: gan_conv_2d_fast (DSP extension or Helium" in header
    assert "kernel: gan_conv_2d, portable: the fast kernel does not cover it (in_channels 6" in header
    calls = source.split("void gan_generate(")[1].split("\n}\n")[0]
    assert re.findall(r"^    (gan_\w+)\(", calls, re.M) == [
        "gan_fully_connected", "gan_leaky_relu", "gan_conv_2d_fast", "gan_leaky_relu", "gan_conv_2d"]

    for flags in (["-DGAN_PORTABLE_KERNELS"], []):  # both build; on the host both are the portable kernels
        binary = tmp_path / f"harness{len(flags)}"
        subprocess.run([_cc(), *CFLAGS, *flags, "-I", str(module.header.parent), str(HARNESS), str(module.source),
                        "-o", str(binary)], check=True, capture_output=True, text=True)
    latents = _latents(LATENT_DIM, np.random.default_rng(4))
    c_out = _run_c(binary, latents, 27)
    tflm_out = _run_tflm(model.read_bytes(), latents).reshape(len(latents), 27)
    assert np.array_equal(c_out, tflm_out), f"{int((c_out != tflm_out).any(axis=1).sum())} latents differ"
