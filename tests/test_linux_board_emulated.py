"""generate.py on an emulated Cortex-A72 (aarch64) against `gan-edge generate` on x86-64.

`make -C firmware_examples/linux_board emulate` runs Debian's arm64 python3.11 with the
aarch64 wheels of numpy and ai-edge-litert under qemu-aarch64-static; see emulate.py. The
int8 generators must give the same samples as x86-64 bit for bit; the float32 one may
differ by the order of floating-point operations in XNNPACK's NEON and AVX kernels, bounded
here far below one 8-bit output step.

The board installs gan_edge from the wheel CI ships (the `gan_edge_wheel` fixture), not from
this source tree. Needs qemu-user-static and apt set up for arm64 (.ci/run installs both), and
the registries the first time (the arm64 python and wheels are fetched into .cache/aarch64).
Without any of them the tests fail with the fix, so a CI that lost them cannot pass unnoticed;
set GAN_EDGE_SKIP_EMULATION=1 to skip on purpose.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gan_edge.cli.main import main as gan_edge_main

pytestmark = pytest.mark.slow  # emulated targets (QEMU): `pytest -m "not slow"` leaves them out

BOARD = Path(__file__).resolve().parents[1] / "firmware_examples" / "linux_board"
# The DCGAN's outputs lie in [-1, 1]: one step of an 8-bit output is 2/255 ~ 0.0078.
FLOAT32_TOLERANCE = 1e-5


def _load_emulate_module():
    spec = importlib.util.spec_from_file_location("emulate", BOARD / "emulate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _skip_or_fail(what: str, fix: str) -> None:
    if os.environ.get("GAN_EDGE_SKIP_EMULATION") == "1":
        pytest.skip(f"GAN_EDGE_SKIP_EMULATION=1 and {what}: the aarch64 runs were not checked")
    pytest.fail(f"{what}: {fix} (or set GAN_EDGE_SKIP_EMULATION=1 to skip these tests)")


@pytest.fixture(scope="module")
def emulator(gan_edge_wheel) -> Path:
    """The arm64 python and wheels, fetched into the project's cache once; the gan_edge wheel to install."""
    missing = [tool for tool in ("qemu-aarch64-static", "unshare") if shutil.which(tool) is None]
    arm64 = "arm64" in subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True,
                                      text=True).stdout.split() if shutil.which("dpkg") else False
    if missing or not arm64:
        what = ", ".join(missing) + ("" if arm64 else (", " if missing else "") + "apt's arm64 architecture")
        _skip_or_fail(f"{what} missing", "apt-get install qemu-user-static; dpkg --add-architecture arm64 && "
                      "apt-get update")
    done = subprocess.run([sys.executable, str(BOARD / "emulate.py"), "--prepare-only"], capture_output=True,
                          text=True)
    if done.returncode == 3:  # emulate.py's status for "the registries could not be reached"
        _skip_or_fail(f"the arm64 python or wheels could not be fetched ({done.stderr.strip()})",
                      "reach Debian's and PyPI's registries once to fill .cache/aarch64")
    assert done.returncode == 0, done.stdout + done.stderr
    return gan_edge_wheel.wheel


def _emulated(wheel: Path, model: Path, n: int, seed: int, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["make", "-C", str(BOARD), "emulate", f"PYTHON={sys.executable}", f"MODEL={model}",
                           f"N={n}", f"SEED={seed}", f"OUT={out}", f"WHEEL={wheel}"],
                          capture_output=True, text=True, timeout=600)


def _on_both(wheel: Path, model: Path, n: int, seed: int, tmp_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(samples from the emulated Cortex-A72, samples from `gan-edge generate` here)."""
    done = _emulated(wheel, model, n, seed, tmp_path / "aarch64")
    assert done.returncode == 0, done.stdout + done.stderr
    assert gan_edge_main(["generate", str(model), "-n", str(n), "--seed", str(seed),
                          "--out", str(tmp_path / "x86_64.npy")]) == 0
    return np.load(tmp_path / "aarch64" / "samples.npy"), np.load(tmp_path / "x86_64.npy")


def test_toy_int8_on_cortex_a72_is_bit_identical(emulator, runtime_export, tmp_path):
    aarch64, x86_64 = _on_both(emulator, runtime_export("int8"), 2000, 7, tmp_path)
    assert aarch64.shape == (2000, 2) and aarch64.dtype == np.float32
    assert np.array_equal(aarch64, x86_64)


@pytest.mark.parametrize("variant", ["int8", "int8-float-io"])
def test_dcgan_int8_on_cortex_a72_is_bit_identical(emulator, targets_dcgan_export, tmp_path, variant):
    aarch64, x86_64 = _on_both(emulator, targets_dcgan_export / f"generator_{variant}.tflite", 6, 3, tmp_path)
    assert aarch64.shape == (6, 28, 28, 1)
    assert np.array_equal(aarch64, x86_64)
    assert (tmp_path / "aarch64" / "grid.png").is_file()


def test_dcgan_float32_on_cortex_a72_agrees_far_below_an_int8_step(emulator, targets_dcgan_export, tmp_path):
    aarch64, x86_64 = _on_both(emulator, targets_dcgan_export / "generator_float32.tflite", 6, 3, tmp_path)
    difference = float(np.abs(aarch64 - x86_64).max())
    print(f"DCGAN float32, aarch64 vs x86-64: max |difference| {difference:.3g} "
          f"({difference / (2 / 255):.2g} of an 8-bit step)")
    assert difference <= FLOAT32_TOLERANCE
    # Not a trivially equal pair: the digits vary across the batch.
    assert float(x86_64.std()) > 0.05


def test_a_model_without_a_manifest_is_refused_in_one_line(emulator, runtime_models, tmp_path):
    model = tmp_path / "bare.tflite"
    model.write_bytes(runtime_models.tflite_int8)
    done = _emulated(emulator, model, 4, 0, tmp_path / "out")
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "error:" in line and "make:" not in line]
    assert len(errors) == 1 and "no manifest" in errors[0], done.stderr
    assert not (tmp_path / "out").exists()


def test_missing_model_and_missing_qemu_are_one_line_errors(tmp_path, capsys, monkeypatch):
    emulate = _load_emulate_module()
    assert emulate.main([str(tmp_path / "absent.tflite"), "--out", str(tmp_path / "out")]) == 2
    assert "no model file at" in capsys.readouterr().err
    monkeypatch.setattr(emulate, "QEMU", "qemu-aarch64-not-installed")
    with pytest.raises(emulate.SetupError, match="apt-get install qemu-user-static"):
        emulate.emulated_command(tmp_path, [tmp_path], [])
