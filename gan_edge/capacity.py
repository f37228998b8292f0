"""What this machine can give a request: cores, memory for an array, disk for a file.

A request beyond them is refused up front as ``InputError`` with the numbers (the
bytes needed, the bytes there, the fix) rather than met half-way through by numpy's
MemoryError, by Linux's out-of-memory killer (it overcommits: an ``np.empty`` larger
than the free memory succeeds and the process dies filling it), or by a full disk.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from gan_edge.errors import InputError

__all__ = ["available_memory", "check_disk", "check_memory", "existing_folder", "format_bytes", "usable_cpus"]


def usable_cpus() -> int:
    """The cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS
        return os.cpu_count() or 1


def _meminfo_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_available() -> int | None:
    """What is left under this process's cgroup (v2) memory limit: a container's
    /proc/meminfo shows the host's memory, not the container's."""
    try:
        with open("/proc/self/cgroup") as f:
            group = next((line.strip()[3:] for line in f if line.startswith("0::")), None)
        if group is None:
            return None
        folder = Path("/sys/fs/cgroup") / group.lstrip("/")
        limit = (folder / "memory.max").read_text().strip()
        if limit == "max":
            return None
        return max(int(limit) - int((folder / "memory.current").read_text()), 0)
    except (OSError, ValueError):
        return None


def available_memory() -> int | None:
    """Bytes this process can still fill without swapping or being killed; None when unknown."""
    known = [m for m in (_meminfo_available(), _cgroup_available()) if m is not None]
    if not known:
        try:  # other Unixes
            known = [os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")]
        except (ValueError, OSError, AttributeError):
            return None
    return min(known)


def format_bytes(n: int) -> str:
    """``8,000,000,000,000 bytes (7.3 TiB)``: exact for comparing, readable at a glance."""
    size, unit = float(n), "bytes"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"):
        if size < 1024 or unit == "EiB":
            break
        size /= 1024
    return f"{n:,} bytes" if unit == "bytes" else f"{n:,} bytes ({size:.1f} {unit})"


def check_memory(nbytes: int, what: str, fix: str) -> None:
    """Refuse ``what`` (it needs ``nbytes``) when more than the available memory."""
    available = available_memory()
    if available is not None and nbytes > available:
        raise InputError(
            f"{what} needs {format_bytes(nbytes)} of memory, this machine has {format_bytes(available)} "
            f"available: {fix}"
        )


def existing_folder(path: str | os.PathLike) -> Path:
    """The nearest folder above ``path`` that exists (where its missing folders would go)."""
    folder = Path(os.path.abspath(path)).parent
    while not folder.exists():
        folder = folder.parent
    return folder


def check_disk(nbytes: int, path: str | os.PathLike, what: str, fix: str) -> None:
    """Refuse writing ``nbytes`` to ``path`` when its file system has less free."""
    folder = existing_folder(path)
    free = shutil.disk_usage(folder).free
    if nbytes > free:
        raise InputError(f"{what} needs {format_bytes(nbytes)} of disk, {folder} has {format_bytes(free)} free: {fix}")
