"""A user's own pictures: a folder of PNG and JPEG files (or a uint8 .npy/.npz) decoded once
into a uint8 cache file and handed back as a read-only memmap.

Call ``inspect_images(path)`` to learn what the defaults would be, ``load_images(path, ...)``
for the data, then ``to_model_range(data.images[start:stop])`` one batch at a time: the set
stays uint8 on disk, so 100,000 pictures cost their cache file, never a float32 copy in memory.

Each picture is composited over the background where it has transparency, centre-cropped to
a square, resized to the resolution and converted to grey or RGB. The cache file is named by
the data's fingerprint (file names and sizes: stat, not read) and the settings; a second call
with the same data and settings decodes nothing.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Mapping

import numpy as np

from gan_edge.capacity import check_disk
from gan_edge.errors import DataError, InputError
from gan_edge.io import atomic_path, atomic_write_json
from gan_edge.training.config import IMAGE_BACKGROUNDS, IMAGE_CHANNELS, IMAGE_RESOLUTIONS
from gan_edge.training.data.image_files import (
    MAX_PIXELS,
    SKIP_HINT,
    ArrayFile,
    Unreadable,
    find_source,
    square_pixels,
)
from gan_edge.web_vendor import cache_root

__all__ = [
    "ImageData",
    "SUPPORTED_RESOLUTIONS",
    "CHANNELS",
    "BACKGROUNDS",
    "MAX_PIXELS",
    "inspect_images",
    "load_images",
    "nearest_resolution",
    "to_model_range",
]

# What the models build (gan_edge.training.config decides it once).
SUPPORTED_RESOLUTIONS = IMAGE_RESOLUTIONS
CHANNELS = IMAGE_CHANNELS
BACKGROUNDS = IMAGE_BACKGROUNDS
# Part of every cache file's name: bump it when decoding changes, so no old cache is reused.
_CACHE_VERSION = 1


@dataclass(frozen=True, eq=False)  # eq=False: comparing arrays with == has no single truth value
class ImageData:
    """The decoded set: ``images`` uint8 (n, res, res, channels), a read-only memmap of the cache.

    ``labels`` int64 (n,) indexes ``label_names`` (None and () when the data has no labels).
    ``fingerprint`` identifies the data and the settings (store it with a run, compare on
    resume); ``source`` is one line for logs; ``ignored`` counts non-image files seen,
    ``skipped`` unreadable pictures left out (only with ``skip_bad``).
    """

    images: np.ndarray
    labels: np.ndarray | None
    label_names: tuple[str, ...]
    fingerprint: dict
    source: str
    ignored: int
    skipped: int

    def __len__(self) -> int:
        return len(self.images)


def nearest_resolution(side: int) -> int:
    """The supported resolution nearest ``side`` (ties go up: enlarging loses no detail)."""
    return min(SUPPORTED_RESOLUTIONS, key=lambda r: (abs(r - side), -r))


def inspect_images(path, *, skip_bad: bool = False) -> tuple[int, int, int]:
    """``(count, typical side, channels)`` from the headers alone, nothing decoded.

    The side is the most common one after the square crop (ties: the larger); channels are
    3 when any picture is stored in colour (RGB, RGBA, a palette with colour), else 1.
    """
    return _inspect(find_source(path), skip_bad)


def load_images(
    path,
    *,
    resolution: int | None = None,
    channels: int | None = None,
    background: str = "white",
    cache_dir=None,
    skip_bad: bool = False,
    labels: Mapping[str, str] | None = None,
    min_images: int = 1,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImageData:
    """The pictures at ``path`` as uint8 (n, resolution, resolution, channels), from the cache.

    ``path``: a folder (PNG and JPEG found recursively, in the order of their relative paths;
    hidden files and folders left out, other files ignored and counted) or a .npy/.npz of
    uint8 (n, H, W[, C]) with C 1, 3 or 4 (an .npz: its single array or ``images``, and an
    optional ``labels``). ``resolution`` and ``channels`` default to the data's own
    (``inspect_images``). Labels: the immediate subfolders' names when the images sit in two
    or more of them, or ``labels`` {relative path or file name: label}, which must name
    every picture. ``on_progress(done, total)`` is called after each picture decoded (never
    on a cache hit). Every refusal is a ``DataError`` naming the file or value.
    """
    _check_settings(resolution, channels, background, min_images, labels)
    source = find_source(path)
    if labels is not None and isinstance(source, ArrayFile):
        raise DataError(
            f"a labels mapping names picture files, but {source.path} is an array file: "
            "put the labels in the .npz as `labels`, or pass a folder of pictures"
        )
    _check_count(source.count, min_images, source.where)
    if resolution is None or channels is None:
        _, side, colour = _inspect(source, skip_bad)
        resolution = resolution or nearest_resolution(side)
        channels = channels or colour
    fingerprint = {
        "files": len(source.names_sizes),
        "names_sizes_sha256": _sha256_json(source.names_sizes),
        "resolution": resolution,
        "channels": channels,
        "background": background,
    }
    folder = Path(cache_dir) if cache_dir is not None else cache_root() / "images"
    stamp = _sha256_json([_CACHE_VERSION, fingerprint, source.where, source.mtimes])[:24]
    cache = folder / f"{stamp}-{resolution}px-{channels}ch-{background}.npy"

    images, bad = read_cache(cache, fingerprint, source.count)
    if images is None:
        bad = _write_cache(cache, source, fingerprint, min_images, skip_bad, on_progress)
        images, _ = read_cache(cache, fingerprint, source.count)
        if images is None:
            raise DataError(f"{cache} was written but does not read back: check the disk, or set GAN_EDGE_CACHE")
    if bad and not skip_bad:  # a cache made with skip_bad: this call refuses as a fresh decode would
        raise DataError(f"{bad[0][1]}; {SKIP_HINT}")
    _check_count(len(images), min_images, _after_skipping(source.where, bad))

    skipped = {name for name, _ in bad}
    label_index, label_names, label_origin = source.labels(skipped, labels)
    parts = [
        f"{source.where}: {len(images)} pictures at {resolution}x{resolution}x{channels} "
        f"on {background}"
    ]
    if bad:
        parts.append(f"{len(bad)} unreadable skipped")
    if source.ignored:
        parts.append(f"{source.ignored} other files ignored")
    if label_names:
        parts.append(f"{len(label_names)} labels from {label_origin}")
    parts.append(f"cache {cache}")
    return ImageData(
        images, label_index, label_names, fingerprint, ", ".join(parts), source.ignored, len(bad)
    )


def to_model_range(batch_uint8) -> np.ndarray:
    """float32 in [-1, 1] (the generator's tanh range), for ONE batch: ``data.images[i:j]``."""
    batch = batch_uint8
    if (
        not isinstance(batch, np.ndarray)
        or batch.dtype != np.uint8
        or batch.ndim != 4
        or batch.shape[-1] not in CHANNELS
    ):
        raise InputError(
            f"a batch must be uint8 (n, res, res, 1 or 3), got {_describe(batch)}; "
            "pass a slice of ImageData.images, one batch at a time"
        )
    out = batch.astype(np.float32)
    out /= np.float32(127.5)
    out -= np.float32(1.0)
    return out


# --- settings ---------------------------------------------------------------------------


def _check_settings(resolution, channels, background, min_images, labels) -> None:
    if resolution is not None and not (_is_int(resolution) and resolution in SUPPORTED_RESOLUTIONS):
        raise DataError(
            f"resolution must be one of {', '.join(map(str, SUPPORTED_RESOLUTIONS))}, "
            f"got {resolution!r}; leave it out for the data's own size, rounded to the nearest"
        )
    if channels is not None and not (_is_int(channels) and channels in CHANNELS):
        raise DataError(f"channels must be 1 (grey) or 3 (RGB), got {channels!r}")
    if background not in BACKGROUNDS:
        raise DataError(
            f"background must be one of {', '.join(BACKGROUNDS)}, got {background!r}: "
            "it fills the transparent parts of a picture"
        )
    if not (_is_int(min_images) and min_images >= 1):
        raise DataError(f"min_images must be an integer of 1 or more, got {min_images!r}")
    if labels is not None and not (
        isinstance(labels, Mapping)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items())
    ):
        raise DataError(
            f"labels must map file names or relative paths to label names (str to str), "
            f"got {type(labels).__name__}"
        )


def _after_skipping(where: str, bad: list) -> str:
    return f"{where} (after skipping {len(bad)} unreadable)" if bad else where


def _check_count(count: int, min_images: int, where: str) -> None:
    if count < min_images:
        raise DataError(
            f"{where} holds {count} usable pictures, expected at least {min_images} "
            "(one batch): add pictures or use a smaller batch size"
        )


# --- the defaults, the fingerprint, the cache ----------------------------------------------


def _inspect(source, skip_bad: bool) -> tuple[int, int, int]:
    sides, colour, count = collections.Counter(), False, 0
    for side, in_colour in source.headers(skip_bad):
        sides[side] += 1
        colour = colour or in_colour
        count += 1
    if count == 0:
        raise DataError(f"none of the {source.count} pictures in {source.where} is readable; {SKIP_HINT}")
    side = max(sides.items(), key=lambda item: (item[1], item[0]))[0]
    return count, side, 3 if colour else 1


def _sha256_json(value) -> str:
    return hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()


def read_cache(cache: Path, fingerprint: dict, total: int) -> tuple[np.ndarray | None, list]:
    """The cached images and the pictures skipped when they were made; (None, []) if unusable.

    The .json beside the .npy is written last: without it, or with an .npy of another shape
    (a damaged or foreign file), the cache is rebuilt rather than trusted.
    """
    try:
        meta = json.loads(cache.with_suffix(".json").read_text())
        res, channels = fingerprint["resolution"], fingerprint["channels"]
        bad = [tuple(item) for item in meta["bad"]]
        images = np.load(cache, mmap_mode="r", allow_pickle=False)
        expected = (total - len(bad), res, res, channels)
        if meta["fingerprint"] == fingerprint and images.shape == expected and images.dtype == np.uint8:
            return images, bad
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return None, []


def _write_cache(cache, source, fingerprint, min_images, skip_bad, on_progress) -> list:
    """Decode every picture into ``cache``, one at a time; returns the unreadable ones, as (name, why)."""
    resolution, channels = fingerprint["resolution"], fingerprint["channels"]
    total = source.count
    check_disk(
        total * resolution * resolution * channels + 4096, cache,
        f"decoding {total:,} pictures at {resolution}x{resolution}x{channels}",
        "set GAN_EDGE_CACHE to a folder on a disk with more room",
    )
    fill, bad = BACKGROUNDS[fingerprint["background"]], []
    with _new_folders(cache.parent):
        with atomic_path(cache) as tmp, open(tmp, "wb") as out:
            # Rows go out as plain sequential writes, not through a memmap, so the process's
            # resident memory stays at one picture however large the set.
            _write_npy_header(out, (total, resolution, resolution, channels))
            header_bytes = out.tell()
            for done, (name, open_picture) in enumerate(source.pictures(), start=1):
                try:
                    out.write(square_pixels(name, open_picture, resolution, channels, fill))
                except Unreadable as error:
                    bad.append((name, str(error)))
                if bad and not skip_bad:
                    raise DataError(f"{bad[0][1]}; {SKIP_HINT}")
                if on_progress is not None:
                    on_progress(done, total)
            _check_count(total - len(bad), min_images, _after_skipping(source.where, bad))
            if bad:
                # numpy pads the header so that the first axis can change in place.
                out.seek(0)
                _write_npy_header(out, (total - len(bad), resolution, resolution, channels))
                assert out.tell() == header_bytes, "numpy's .npy header changed length"
            out.flush()
            os.fsync(out.fileno())
        # The commit mark, written once the .npy is in place: a cache without it is rebuilt.
        atomic_write_json(cache.with_suffix(".json"), {"fingerprint": fingerprint, "bad": bad})
    return bad


def _write_npy_header(out, shape: tuple[int, ...]) -> None:
    np.lib.format.write_array_header_1_0(out, {"descr": "|u1", "fortran_order": False, "shape": shape})


@contextlib.contextmanager
def _new_folders(folder: Path) -> Iterator[None]:
    """Create ``folder`` and its missing parents; on failure remove those still empty."""
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(
            f"cannot create the cache folder {folder} ({error.strerror}): "
            "set GAN_EDGE_CACHE to a writable folder"
        ) from error
    try:
        yield
    except BaseException:
        for made in missing:  # deepest first
            with contextlib.suppress(OSError):
                made.rmdir()
        raise


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _describe(value) -> str:
    if isinstance(value, np.ndarray):
        return f"{value.dtype} {value.shape}"
    return type(value).__name__
