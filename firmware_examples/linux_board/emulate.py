#!/usr/bin/env python3
"""Run generate.py on an emulated Raspberry Pi 4 core (Cortex-A72, aarch64) on this x86-64 machine.

    python emulate.py MODEL.tflite -n 64 --seed 0 --out DIR [--wheel gan_edge-*.whl] [--cache DIR]
    python emulate.py --prepare-only [--cache DIR]

What a board would have after `pip install gan-edge`, nothing more: Debian 12's arm64
python3.11 (its .debs unpacked with `dpkg -x`, no arm64 package installed on this machine)
and the aarch64 wheels of the edge install's dependencies (read from pyproject.toml; numpy
pinned to this machine's version, so only the architecture differs), fetched once into the
cache folder. gan_edge itself is installed from a wheel, as a user installs it: the one given
with --wheel (CI passes the wheel it ships), else one built from this checkout
(`python -m build --wheel`), so the code under test is the code here, packaged. `qemu-aarch64-static
-cpu cortex-a72` runs that python; TensorFlow is not in the emulated site-packages at all, so an
accidental TensorFlow import fails the run.

LiteRT's CPU probe (cpuinfo) segfaults on this machine's x86 /proc/cpuinfo text, so the
run sees a Cortex-A72's text instead, bind-mounted over /proc/cpuinfo in a private mount
namespace (`unshare -m` as root, `unshare -rm` otherwise): nothing changes outside it.

Needs: qemu-user-static, and apt set up for arm64 packages
(`dpkg --add-architecture arm64 && apt-get update`, as root). Exit status: the emulated
generate.py's; 2 for bad input or a missing tool (one line says which and how to get it);
3 when the dependencies cannot be fetched (no registry reachable).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEFAULT_CACHE = REPO / ".cache" / "aarch64"
CPUINFO = HERE / "cortex_a72_cpuinfo.txt"
QEMU = "qemu-aarch64-static"
PYTHON_VERSION = "3.11"  # Debian 12's python3 on a Raspberry Pi OS / Debian board
# Debian 12's arm64 python3.11 and the shared libraries it, numpy's and LiteRT's .so files load.
DEBS = ("python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib", "libc6", "libgcc-s1",
        "libstdc++6", "zlib1g", "libexpat1", "libffi8", "libssl3", "libbz2-1.0", "liblzma5", "libuuid1",
        "libcrypt1")
# manylinux tags a Debian 12 aarch64 board (glibc 2.36) accepts, newest first.
PLATFORMS = ("manylinux_2_28_aarch64", "manylinux_2_27_aarch64", "manylinux_2_17_aarch64",
             "manylinux2014_aarch64")


class SetupError(Exception):
    """A missing tool or bad input: exit status 2."""


class FetchError(Exception):
    """The registries could not be reached: exit status 3 (tests skip on it)."""


def edge_requirements() -> list[str]:
    """pyproject's [project] dependencies, numpy pinned to the version this machine runs."""
    import tomllib

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    try:
        import numpy
    except ImportError:
        return list(deps)
    return [f"numpy=={numpy.__version__}" if d.startswith("numpy") else d for d in deps]


def _run(cmd: list[str], what: str, cwd: Path | None = None) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr or result.stdout).strip().splitlines()[-1:] or ["(no output)"]
        raise FetchError(f"could not {what}: {last[0]}")


def _check_apt_arm64() -> None:
    for tool in ("apt-get", "dpkg"):
        if shutil.which(tool) is None:
            raise SetupError(f"{tool} not found: the arm64 python comes from Debian packages (a Debian or Ubuntu host)")
    foreign = subprocess.run(["dpkg", "--print-foreign-architectures"], capture_output=True, text=True).stdout.split()
    if "arm64" not in foreign:
        raise SetupError("apt has no arm64 packages: run as root `dpkg --add-architecture arm64 && apt-get update`")


def prepare(cache: Path) -> tuple[Path, Path]:
    """The arm64 root (python + libraries) and site-packages, fetched once per dependency set.

    Built in a temporary folder beside the cache and renamed into place, so an interrupted
    fetch leaves no half-filled cache behind.
    """
    requirements = edge_requirements()
    key = hashlib.sha256(json.dumps([DEBS, requirements, PLATFORMS]).encode()).hexdigest()[:12]
    target = cache / key
    if (target / "ready").is_file():
        return target / "root", target / "site"
    _check_apt_arm64()
    cache.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=cache, prefix=".fetch-"))
    try:
        (work / "debs").mkdir()
        print(f"emulate.py: fetching arm64 python{PYTHON_VERSION} and {', '.join(requirements)} into {target}",
              file=sys.stderr)
        _run(["apt-get", "download", "-qq", *(f"{name}:arm64" for name in DEBS)], "download the arm64 .debs",
             cwd=work / "debs")
        for deb in sorted((work / "debs").glob("*.deb")):
            _run(["dpkg", "-x", str(deb), str(work / "root")], f"unpack {deb.name}")
        shutil.rmtree(work / "debs")
        platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
        _run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--target",
              str(work / "site"), "--only-binary=:all:", *platforms, "--python-version", PYTHON_VERSION,
              "--implementation", "cp", *requirements], "download the aarch64 wheels")
        (work / "ready").write_text("\n".join([*DEBS, *requirements]) + "\n")
        shutil.rmtree(target, ignore_errors=True)  # a stale, unfinished one
        os.replace(work, target)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return target / "root", target / "site"


def build_wheel(out: Path) -> Path:
    """A wheel of this checkout, built without isolation (no download), into ``out``."""
    _run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
         "build gan-edge's wheel (pip install build setuptools wheel)")
    (wheel,) = out.glob("gan_edge-*.whl")
    return wheel


def install_wheel(wheel: Path, cache: Path) -> Path:
    """``wheel`` unpacked as pip installs it (pure Python: any platform), once per wheel content."""
    if not (wheel.is_file() and wheel.name.startswith("gan_edge-") and wheel.suffix == ".whl"):
        raise SetupError(f"--wheel must be a gan_edge-*.whl file, got {wheel}")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()[:12]
    target = cache / "wheels" / digest
    if not (target / "ready").is_file():
        work = Path(tempfile.mkdtemp(dir=cache, prefix=".wheel-"))
        try:
            _run([sys.executable, "-m", "pip", "install", "-q", "--disable-pip-version-check", "--no-deps",
                  "--target", str(work), str(wheel)], f"install {wheel.name}")
            (work / "ready").write_text(wheel.name + "\n")
            (target.parent).mkdir(parents=True, exist_ok=True)
            shutil.rmtree(target, ignore_errors=True)
            os.replace(work, target)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
    return target


def emulated_command(root: Path, sites: list[Path], script_args: list[str]) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run generate.py on the emulated core, importing from ``sites``."""
    qemu = shutil.which(QEMU)
    if qemu is None:
        raise SetupError(f"{QEMU} not found: apt-get install qemu-user-static")
    if shutil.which("unshare") is None:
        raise SetupError("unshare not found: apt-get install util-linux")
    python = root / "usr" / "bin" / f"python{PYTHON_VERSION}"
    inner = (f'mount --bind "$1" /proc/cpuinfo && shift && exec "$@"')
    namespace = ["unshare", "-m"] if os.geteuid() == 0 else ["unshare", "-rm"]
    command = [*namespace, "sh", "-c", inner, "sh", str(CPUINFO),
               qemu, "-cpu", "cortex-a72", "-L", str(root), str(python), str(HERE / "generate.py"), *script_args]
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "PYTHONPATH": os.pathsep.join(map(str, sites)),
           "PYTHONNOUSERSITE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return command, env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path, nargs="?", help="an exported generator (.tflite) with its manifest")
    parser.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="folder for samples.npy (and grid.png)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE,
                        help=f"where the arm64 python and wheels are kept (default {DEFAULT_CACHE})")
    parser.add_argument("--prepare-only", action="store_true", help="fetch the dependencies, run nothing")
    parser.add_argument("--wheel", type=Path,
                        help="the gan_edge wheel to install on the board (default: build one from this checkout)")
    args = parser.parse_args(argv)
    try:
        if not args.prepare_only:
            if args.model is None or args.out is None:
                raise SetupError("give MODEL and --out DIR (or --prepare-only)")
            if not args.model.is_file():
                raise SetupError(f"no model file at {args.model}: export one with `gan-edge export RUN`")
        root, site = prepare(args.cache)
        if args.prepare_only:
            print(f"arm64 python and wheels ready in {root.parent}")
            return 0
        if args.wheel is None:
            with tempfile.TemporaryDirectory(prefix="gan-edge-wheel-") as built:
                installed = install_wheel(build_wheel(Path(built)), args.cache)
        else:
            installed = install_wheel(args.wheel.resolve(), args.cache)
        command, env = emulated_command(root, [installed, site], [str(args.model.resolve()), "-n", str(args.n),
                                                                  "--seed", str(args.seed),
                                                                  "--out", str(args.out.resolve())])
    except SetupError as exc:
        print(f"emulate.py: error: {exc}", file=sys.stderr)
        return 2
    except FetchError as exc:
        print(f"emulate.py: error: {exc}", file=sys.stderr)
        return 3
    print(f"emulate.py: running generate.py on an emulated Cortex-A72 ({QEMU})", file=sys.stderr)
    return subprocess.run(command, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
