"""The package as users install it: the wheel holds nothing generic, and installed in a fresh
virtual environment outside the checkout it generates, benchmarks and serves the page.

The wheel and sdist come from the ``gan_edge_wheel`` fixture (CI's own, or built here once).
The installed-wheel test needs the package registries (the wheel's dependencies and the page's
JavaScript runtimes); without them it fails with the fix, or is skipped with
GAN_EDGE_SKIP_WHEEL=1.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tarfile
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gan_edge.cli.main import main as gan_edge_main

ROOT = Path(__file__).resolve().parents[1]


def _names(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def test_the_wheel_installs_everything_under_the_projects_name(gan_edge_wheel):
    names = _names(gan_edge_wheel.wheel)
    # Nothing generic in site-packages: no top-level training/ or export/ beside a user's own.
    assert {name.split("/")[0] for name in names} == {"gan_edge", "gan_edge-0.1.0.dist-info"}
    for needed in ("gan_edge/generator.py", "gan_edge/training/loop.py", "gan_edge/training/models/dcgan.py",
                   "gan_edge/training/metrics/mnist/fcd.py", "gan_edge/export/pipeline.py",
                   "gan_edge/export/c_templates/kernels.c", "gan_edge/web_page/index.html",
                   "gan_edge/web_page/app.js", "gan_edge/web_page/package-lock.json"):
        assert needed in names, needed
    # The Chromium driver is for tests and a benchmark; a board does not install it.
    assert not [name for name in names if "headless" in name or name.startswith("tests/")]
    # Every module of the checkout's three packages is in the wheel.
    sources = {"gan_edge": "gan_edge", "training": "gan_edge/training", "export": "gan_edge/export"}
    for folder, installed in sources.items():
        for path in (ROOT / folder).rglob("*.py"):
            assert f"{installed}/{path.relative_to(ROOT / folder).as_posix()}" in names, path


def test_the_sdist_holds_the_sources_the_wheel_is_built_from(gan_edge_wheel):
    with tarfile.open(gan_edge_wheel.sdist) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    for needed in ("pyproject.toml", "README.md", "training/loop.py", "export/onnx.py",
                   "export/c_templates/kernels.c", "firmware_examples/web/index.html",
                   "firmware_examples/web/package-lock.json"):
        assert needed in names, needed


# --- the installed wheel, outside the checkout ---------------------------------------

@pytest.fixture(scope="module")
def installed(gan_edge_wheel, tmp_path_factory):
    """A fresh virtual environment with ``gan_edge[onnx]`` from the wheel, and a folder outside
    the checkout to run it in."""
    home = tmp_path_factory.mktemp("installed")
    venv = home / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                           f"{gan_edge_wheel.wheel}[onnx]"], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or ["?"])[-1]
        if os.environ.get("GAN_EDGE_SKIP_WHEEL") == "1":
            pytest.skip(f"GAN_EDGE_SKIP_WHEEL=1 and the wheel's dependencies could not be installed: {reason}")
        pytest.fail(f"pip could not install the wheel's dependencies ({reason}): reach PyPI, "
                    "or set GAN_EDGE_SKIP_WHEEL=1 to skip this test")
    work = home / "work"
    work.mkdir()
    # Only the venv: no checkout on the path, no TensorFlow, a private cache for the page's runtimes.
    env = {"PATH": f"{venv / 'bin'}{os.pathsep}{os.environ['PATH']}", "HOME": str(home),
           "GAN_EDGE_CACHE": str(home / "cache"), "PYTHONNOUSERSITE": "1"}
    return venv, work, env


def _run(installed, *args, **kwargs) -> subprocess.CompletedProcess:
    venv, work, env = installed
    return subprocess.run([str(venv / "bin" / args[0]), *args[1:]], cwd=work, env=env, capture_output=True,
                          text=True, timeout=300, **kwargs)


@pytest.mark.slow
def test_the_installed_wheel_has_no_generic_modules_and_no_tensorflow(installed):
    done = _run(installed, "python", "-c", "import importlib.util as u, json, gan_edge; print(json.dumps("
                "[gan_edge.__file__, u.find_spec('training'), u.find_spec('export'), u.find_spec('tensorflow')]"
                ", default=str))")
    assert done.returncode == 0, done.stderr
    location, training, export, tensorflow = json.loads(done.stdout)
    assert Path(location).is_relative_to(installed[0]) and not Path(location).is_relative_to(ROOT)
    assert (training, export, tensorflow) == (None, None, None)


@pytest.mark.slow
def test_the_installed_wheel_generates_what_the_checkout_generates(installed, runtime_export, tmp_path):
    model = runtime_export("int8")
    done = _run(installed, "gan-edge", "generate", str(model), "-n", "64", "--seed", "3", "--out", "samples.npy")
    assert done.returncode == 0, done.stderr
    assert gan_edge_main(["generate", str(model), "-n", "64", "--seed", "3", "--out", str(tmp_path / "here.npy")]) == 0
    assert np.array_equal(np.load(installed[1] / "samples.npy"), np.load(tmp_path / "here.npy"))


@pytest.mark.slow
def test_the_installed_wheel_benchmarks_onnx_and_tflite(installed, runtime_export):
    models = [runtime_export("onnx"), runtime_export("float32")]
    done = _run(installed, "gan-edge", "bench", *map(str, models), "--batch", "64", "--json", "bench.json")
    assert done.returncode == 0, done.stderr
    rows = json.loads((installed[1] / "bench.json").read_text())["rows"]
    assert {Path(row["artifact"]).suffix for row in rows} == {".onnx", ".tflite"}
    assert all(row["p50_us"] > 0 for row in rows)


@pytest.mark.slow
def test_the_installed_wheel_serves_the_page(installed, runtime_export):
    folder = runtime_export("onnx").parent
    server = subprocess.Popen([str(installed[0] / "bin" / "gan-edge"), "web", str(folder), "--port", "0"],
                              cwd=installed[1], env=installed[2], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        address = None
        deadline = time.monotonic() + 240  # the first start fetches the page's runtimes (npm pack)
        while address is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            if not line:
                break
            address = (re.search(r"open (http://\S+/)", line) or [None, None])[1]
        if address is None:
            server.kill()
            stderr = server.communicate(timeout=30)[1]
            if os.environ.get("GAN_EDGE_SKIP_WHEEL") == "1" and "npm" in stderr:
                pytest.skip(f"GAN_EDGE_SKIP_WHEEL=1 and the page's runtimes could not be fetched: {stderr.strip()}")
            pytest.fail(f"gan-edge web did not start: {stderr.strip()}")
        with urllib.request.urlopen(address, timeout=30) as page:
            assert page.status == 200 and b"<html" in page.read().lower()
        with urllib.request.urlopen(address + "api/models", timeout=30) as listing:
            assert "gen_onnx.onnx" in listing.read().decode()
    finally:
        server.terminate()
        server.communicate(timeout=30)
