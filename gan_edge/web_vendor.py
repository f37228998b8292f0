"""The browser page's JavaScript runtimes (LiteRT.js, ONNX Runtime Web), exactly as its lock file pins them.

The page imports three npm packages; its ``package-lock.json`` (package data beside
``index.html``) pins each one's version and sha512. ``find_runtimes(page_dir, fetch=...)``
returns a folder for each, taken from the first place that holds exactly the pinned version:

1. ``page_dir/node_modules`` (a checkout after ``npm ci``: development and CI);
2. the user cache, ``$GAN_EDGE_CACHE`` or ``$XDG_CACHE_HOME/gan-edge`` or
   ``~/.cache/gan-edge``, under ``web/<name>-<version>``;
3. with ``fetch=True``, filled by the ordinary npm client (``npm pack``, which knows the
   user's registry, proxy and credentials): the tarball's sha512 is checked against the
   lock file before a byte of it is extracted, its members are checked (regular files and
   folders inside the package, bounded in number and size) before anything is written, and
   it is extracted beside the cache folder and renamed into place, so a cache folder that
   exists is always complete.

Every refusal is a ``BackendUnavailable`` that says what to do. Nothing is printed here:
``on_fetch`` receives the one line a caller may show before the download starts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Callable

from gan_edge.errors import BackendUnavailable

__all__ = [
    "NPM_CI", "VENDOR_PACKAGES", "PinnedPackage", "cache_root", "check_integrity", "find_runtimes",
    "install_tarball", "pinned_packages",
]

# The npm packages the page imports (index.html's import map); only these are served.
VENDOR_PACKAGES = ("@litertjs/core", "@litertjs/wasm-utils", "onnxruntime-web")
NPM_CI = "npm ci --prefix firmware_examples/web"
LOCK_FILE = "package-lock.json"
# onnxruntime-web 1.30.0, the largest, is 33 MB packed and 145 MB unpacked in 509 files.
# The bounds leave room for later releases and still stop a hostile archive from filling
# the disk or the member table.
MAX_TARBALL_BYTES = 256 << 20
MAX_UNPACKED_BYTES = 1 << 30
MAX_MEMBERS = 20_000
MAX_LOCK_BYTES = 4 << 20
# A first fetch of onnxruntime-web takes seconds on a fast link; a phone's hotspot, minutes.
NPM_TIMEOUT_S = 600


@dataclass(frozen=True)
class PinnedPackage:
    """One runtime as the lock file pins it: name, exact version, sha512 in SRI form."""

    name: str
    version: str
    integrity: str  # "sha512-<base64>"

    @property
    def spec(self) -> str:
        return f"{self.name}@{self.version}"

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


def pinned_packages(page_dir: Path) -> tuple[PinnedPackage, ...]:
    """The page's runtimes as ``page_dir/package-lock.json`` pins them."""
    lock = Path(page_dir) / LOCK_FILE
    fix = (
        f"the page's lock file pins its JavaScript runtimes ({', '.join(VENDOR_PACKAGES)}): copy "
        f"firmware_examples/web whole, lock file included (in a checkout, `{NPM_CI}` installs them)"
    )
    try:
        if lock.stat().st_size > MAX_LOCK_BYTES:
            raise BackendUnavailable(f"{lock} is larger than {MAX_LOCK_BYTES >> 20} MiB: not the page's lock file; {fix}")
        packages = json.loads(lock.read_text(encoding="utf-8")).get("packages", {})
    except FileNotFoundError:
        raise BackendUnavailable(f"no {LOCK_FILE} in {page_dir}: {fix}") from None
    except (OSError, UnicodeDecodeError, ValueError, AttributeError) as exc:
        raise BackendUnavailable(f"cannot read {lock} ({exc}): {fix}") from None
    pins = []
    for name in VENDOR_PACKAGES:
        entry = packages.get(f"node_modules/{name}") if isinstance(packages, dict) else None
        version = entry.get("version") if isinstance(entry, dict) else None
        integrity = entry.get("integrity") if isinstance(entry, dict) else None
        if not (isinstance(version, str) and isinstance(integrity, str) and integrity.startswith("sha512-")):
            raise BackendUnavailable(
                f"{lock} does not pin {name} with a version and a sha512 integrity "
                f"(got version {version!r}, integrity {integrity!r}): {fix}"
            )
        pins.append(PinnedPackage(name, version, integrity))
    return tuple(pins)


def cache_root() -> Path:
    """Where fetched runtimes are kept: ``$GAN_EDGE_CACHE``, ``$XDG_CACHE_HOME/gan-edge``, ``~/.cache/gan-edge``."""
    if os.environ.get("GAN_EDGE_CACHE"):
        return Path(os.environ["GAN_EDGE_CACHE"])
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]) / "gan-edge"
    return Path.home() / ".cache" / "gan-edge"


def _cache_dir(pin: PinnedPackage) -> Path:
    return cache_root() / "web" / f"{pin.name}-{pin.version}"


def _holds(folder: Path, pin: PinnedPackage) -> bool:
    """True when ``folder`` is the package ``pin`` names, at exactly its version."""
    try:
        meta = json.loads((folder / "package.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("name") == pin.name and meta.get("version") == pin.version


def find_runtimes(
    page_dir: Path, *, fetch: bool, on_fetch: Callable[[str], None] | None = None
) -> dict[str, Path]:
    """Package name -> the folder its files are served from (see the module docstring)."""
    page_dir = Path(page_dir)
    found: dict[str, Path] = {}
    missing: list[PinnedPackage] = []
    for pin in pinned_packages(page_dir):
        for folder in (page_dir / "node_modules" / pin.name, _cache_dir(pin)):
            if _holds(folder, pin):
                found[pin.name] = folder
                break
        else:
            missing.append(pin)
    if not missing:
        return found
    names = ", ".join(map(str, missing))
    cache = cache_root() / "web"
    if not fetch:
        raise BackendUnavailable(
            f"the page's JavaScript runtimes ({names}) are neither in {page_dir / 'node_modules'} nor in "
            f"{cache}: let `gan-edge web` fetch them (without --no-fetch; needs npm), or run `{NPM_CI}` "
            f"in a checkout, or put each package's contents at {cache}/<name>-<version>"
        )
    npm = shutil.which("npm")
    if npm is None:
        raise BackendUnavailable(
            f"npm is not installed, and the page's JavaScript runtimes ({names}) are not in {cache}: "
            f"install Node.js's npm (e.g. apt-get install npm) and run `gan-edge web` again, or run "
            f"`{NPM_CI}` in a checkout, or put each package's contents at {cache}/<name>-<version>"
        )
    if on_fetch is not None:
        on_fetch(f"fetching the page's JavaScript runtimes: {names} (npm pack, sha512 checked) into {cache}")
    for pin in missing:
        found[pin.name] = _fetch(npm, pin)
    return found


def _fetch(npm: str, pin: PinnedPackage) -> Path:
    """``npm pack`` the pinned tarball, check its sha512, install it into the cache."""
    final = _cache_dir(pin)
    with tempfile.TemporaryDirectory(prefix="gan-edge-npm-pack-") as scratch:
        # cwd is the empty scratch folder, so no project's .npmrc or package.json nearby
        # changes what is fetched; the user's own npm settings (registry, proxy) still apply.
        command = [npm, "pack", pin.spec, "--pack-destination", scratch, "--ignore-scripts"]
        fix = f"check `npm pack {pin.spec}` by hand (network, `npm config get registry`), or put its contents at {final}"
        try:
            done = subprocess.run(command, cwd=scratch, capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise BackendUnavailable(f"`npm pack {pin.spec}` did not finish within {NPM_TIMEOUT_S} s: {fix}") from None
        except OSError as exc:
            raise BackendUnavailable(f"cannot run {npm}: {exc.strerror or exc}: {fix}") from None
        if done.returncode != 0:
            said = [line.strip() for line in (done.stderr or done.stdout or "").splitlines() if line.strip()]
            why = said[-1][:200] if said else "no message"
            raise BackendUnavailable(f"`npm pack {pin.spec}` failed with status {done.returncode} ({why}): {fix}")
        tarballs = sorted(Path(scratch).glob("*.tgz"))
        if len(tarballs) != 1:
            raise BackendUnavailable(
                f"`npm pack {pin.spec}` left {len(tarballs)} .tgz files instead of one: {fix}"
            )
        check_integrity(tarballs[0], pin)
        return install_tarball(tarballs[0], pin, final)


def check_integrity(tarball: Path, pin: PinnedPackage) -> None:
    """Refuse ``tarball`` unless its sha512 is the one the lock file pins for ``pin``."""
    size = tarball.stat().st_size
    if size > MAX_TARBALL_BYTES:
        raise BackendUnavailable(
            f"the tarball of {pin} is {size:,} bytes, more than the {MAX_TARBALL_BYTES:,} accepted: refused unread"
        )
    digest = hashlib.sha512()
    with open(tarball, "rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    got = "sha512-" + base64.b64encode(digest.digest()).decode("ascii")
    if not hmac.compare_digest(got, pin.integrity):
        raise BackendUnavailable(
            f"the tarball npm gave for {pin} has {got[:30]}..., but the page's {LOCK_FILE} pins "
            f"{pin.integrity[:30]}...: refused, nothing extracted; check npm's registry "
            f"(`npm config get registry`) and run `gan-edge web` again"
        )


def install_tarball(tarball: Path, pin: PinnedPackage, final: Path) -> Path:
    """Extract the npm tarball of ``pin`` into ``final``, all or nothing; returns ``final``.

    Every member is checked before anything is written: regular files and folders only,
    relative paths without ``..``, at most ``MAX_MEMBERS`` of them and ``MAX_UNPACKED_BYTES``
    in all. The package's top folder (``package/``) is dropped.
    """
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            members = _checked_members(archive, pin)
            final.parent.mkdir(parents=True, exist_ok=True)
            staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
            try:
                _extract(archive, members, staging)
                if not _holds(staging, pin):
                    raise BackendUnavailable(f"the tarball of {pin} holds no package.json naming {pin}: refused")
                try:
                    os.rename(staging, final)
                except OSError:
                    if not _holds(final, pin):  # not another process's complete copy: a real failure
                        raise
            finally:
                shutil.rmtree(staging, ignore_errors=True)  # gone after the rename, unless refused
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        raise BackendUnavailable(f"the tarball of {pin} is not a readable .tgz ({exc}): refused") from None
    except OSError as exc:
        raise BackendUnavailable(
            f"cannot write {pin} into {final}: {exc.strerror or exc} (remove that folder and run again)"
        ) from None
    return final


def _checked_members(archive: tarfile.TarFile, pin: PinnedPackage) -> list[tuple[tarfile.TarInfo, PurePosixPath]]:
    members, seen, total = [], set(), 0
    for member in archive:
        why = None
        path = PurePosixPath(member.name)
        relative = PurePosixPath(*path.parts[1:])  # npm puts everything under one top folder
        total += member.size
        if len(members) >= MAX_MEMBERS:
            why = f"more than {MAX_MEMBERS:,} members"
        elif not (member.isfile() or member.isdir()) or member.issparse():
            why = "a member that is not a regular file or folder (a link or a device)"
        elif path.is_absolute() or "\\" in member.name or ".." in path.parts:
            why = "a member outside the package"
        elif member.isfile() and (not relative.parts or relative in seen):
            why = "a file outside the package's top folder" if not relative.parts else "a file named twice"
        elif total > MAX_UNPACKED_BYTES:
            why = f"more than {MAX_UNPACKED_BYTES:,} bytes unpacked"
        if why:
            raise BackendUnavailable(f"the tarball of {pin} has {why} ({member.name!r}): refused, nothing extracted")
        seen.add(relative)
        members.append((member, relative))
    return members


def _extract(archive: tarfile.TarFile, members, staging: Path) -> None:
    for member, relative in members:
        target = staging.joinpath(*relative.parts)
        if member.isdir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        source = archive.extractfile(member)
        with source, open(target, "xb") as out:  # "x": a repeated name cannot overwrite
            shutil.copyfileobj(source, out)
