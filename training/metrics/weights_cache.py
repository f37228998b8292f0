"""Weights of the networks that metrics measure with, cached on disk and vouched for.

A cache entry is two files: the weights (``*.weights.h5``, tf_keras' own format: no
pickled or saved model with code) and a JSON record written after them, holding the
settings the weights were trained with and the weights' SHA-256. An entry is used only
when every setting matches and the weights still hash to the record's value; anything
else (another data hash, a half-written or foreign file) is retrained and overwritten.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

__all__ = ["file_sha256", "matching_record", "save_weights_atomically"]


def matching_record(info_path: Path, weights_path: Path, key: dict) -> dict | None:
    """The record at ``info_path`` if it matches ``key`` and vouches for ``weights_path``; else None."""
    try:
        info = json.loads(Path(info_path).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or any(info.get(k) != v for k, v in key.items()):
        return None
    if not Path(weights_path).is_file() or file_sha256(weights_path) != info.get("weights_sha256"):
        return None
    return info


def save_weights_atomically(model, path: Path) -> None:
    """``model.save_weights`` into ``path`` through a temporary file beside it."""
    # Not gan_edge.io.atomic_path: tf_keras picks the weights format from the name,
    # and only a name ending in .weights.h5 gets the format load_weights expects.
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".weights.h5", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes it private; a plain open() would not
    try:
        model.save_weights(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def file_sha256(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
