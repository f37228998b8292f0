"""Pictures as they are stored: a folder of PNG and JPEG files, or a uint8 .npy/.npz.

``find_source(path)`` lists them (stat only) as a ``Folder`` or an ``ArrayFile``; both give
``headers()`` (each picture's short side and whether it is in colour, nothing decoded),
``pictures()`` (each one opened in turn, its size checked before any pixel is decoded) and
``labels()``. ``square_pixels`` turns one picture into the bytes of one cached image, or
raises ``Unreadable`` naming it.
``gan_edge.training.data.images`` builds the cache from these; nothing here writes.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, ContextManager, Iterator

import numpy as np
from PIL import Image, ImageOps

from gan_edge.errors import DataError

__all__ = [
    "Folder", "ArrayFile", "Unreadable", "find_source", "square_pixels",
    "IMAGE_SUFFIXES", "MAX_PIXELS", "SKIP_HINT",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
# Checked from the header, before a pixel is decoded: a 64-megapixel RGBA picture already
# needs 256 MiB to decode, and a small file can claim far more.
MAX_PIXELS = 64_000_000
SKIP_HINT = "remove or replace the file, or skip unreadable files (skip_bad=True, --skip-bad)"
# Pillow's names; phones' multi-picture JPEGs open as "MPO" through the "JPEG" entry.
_PILLOW_FORMATS = ("PNG", "JPEG")
_GREY_MODES = ("1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F")
_CHUNK_IMAGES = 64

Opener = Callable[[], ContextManager[Image.Image]]


class Unreadable(Exception):
    """A picture that cannot be used; the message names it and says why."""


def find_source(path) -> Folder | ArrayFile:
    given = Path(os.fspath(path)).expanduser()
    if not given.exists():
        raise DataError(
            f"{given} does not exist: expected a folder of PNG or JPEG pictures, or a .npy/.npz "
            "file of uint8 images; check the path"
        )
    resolved = given.resolve()  # absolute: `source` and the cache name must not depend on the cwd
    if resolved.is_dir():
        return Folder.scan(resolved)
    if resolved.suffix.lower() in (".npy", ".npz"):
        return ArrayFile.open(resolved)
    raise DataError(
        f"{given} is a file ({resolved.suffix or 'no suffix'}): expected a folder of PNG or JPEG "
        "pictures, or a .npy/.npz of uint8 images; pass the folder that holds it"
    )


@dataclass(frozen=True)
class Folder:
    root: Path
    files: tuple[str, ...]  # relative POSIX paths, sorted: the order of the images
    names_sizes: tuple[tuple[str, int], ...]
    mtimes: tuple[int, ...]
    ignored: int

    @property
    def where(self) -> str:
        return str(self.root)

    @property
    def count(self) -> int:
        return len(self.files)

    @classmethod
    def scan(cls, root: Path) -> Folder:
        found, ignored, pending, seen = [], 0, [root], set()
        while pending:
            folder = pending.pop()
            try:
                stat = folder.stat()
                identity = (stat.st_dev, stat.st_ino)
                entries = [] if identity in seen else list(os.scandir(folder))
            except OSError as error:
                raise DataError(f"cannot list {folder} ({error.strerror}): check its permissions") from error
            seen.add(identity)  # links are followed (class folders often are links), each folder once
            for entry in entries:
                # Hidden entries are tools' leftovers (.git, .ipynb_checkpoints, macOS's
                # ._name.png resource forks, which are not pictures).
                if entry.name.startswith("."):
                    ignored += not entry.is_dir()
                elif entry.is_dir():
                    pending.append(Path(entry.path))
                elif entry.is_file() and entry.name.lower().endswith(IMAGE_SUFFIXES):
                    stat = entry.stat()
                    found.append((Path(entry.path).relative_to(root).as_posix(), stat.st_size, stat.st_mtime_ns))
                else:
                    ignored += 1
        if not found:
            raise DataError(
                f"no PNG or JPEG images in {root} ({ignored} other files ignored): expected "
                f"files ending in {', '.join(IMAGE_SUFFIXES)}, in it or its subfolders"
            )
        found.sort()
        return cls(
            root,
            tuple(name for name, _, _ in found),
            tuple((name, size) for name, size, _ in found),
            tuple(mtime for _, _, mtime in found),
            ignored,
        )

    def headers(self, skip_bad: bool) -> Iterator[tuple[int, bool]]:
        """(short side, in colour) of each picture, from its header; unreadable ones refused or skipped."""
        for name in self.files:
            try:
                with _open_picture(self.root / name, name) as picture:
                    yield min(picture.size), _in_colour(picture)
            except Unreadable as error:
                if not skip_bad:
                    raise DataError(f"{error}; {SKIP_HINT}") from None

    def pictures(self) -> Iterator[tuple[str, Opener]]:
        """(name, open) for each picture, in order; ``open()`` is a context manager."""
        for name in self.files:
            yield name, lambda name=name: _open_picture(self.root / name, name)

    def labels(self, skipped: set[str], mapping) -> tuple[np.ndarray | None, tuple[str, ...], str]:
        """(label index per kept picture, label names, where they came from).

        The ``mapping`` {relative path or file name: label} when given, else the
        ImageFolder convention: every picture inside one of two or more top subfolders.
        """
        kept = [name for name in self.files if name not in skipped]
        if mapping is not None:
            missing = [n for n in kept if n not in mapping and n.rsplit("/", 1)[-1] not in mapping]
            if missing:
                raise DataError(
                    f"the labels mapping has no label for {len(missing)} of {len(kept)} pictures "
                    f"in {self.root}, e.g. {missing[0]}: expected every picture named by its "
                    "relative path or file name"
                )
            names = [mapping[n] if n in mapping else mapping[n.rsplit("/", 1)[-1]] for n in kept]
            return (*_index(names), "the labels mapping")
        tops = [name.split("/", 1)[0] if "/" in name else None for name in self.files]
        if None in tops or len(set(tops)) < 2:
            return None, (), ""
        return (*_index([name.split("/", 1)[0] for name in kept]), "the subfolders")


@dataclass(frozen=True)
class ArrayFile:
    path: Path
    member: str | None  # the .npz member holding the pictures; None for a .npy
    labels_member: str | None
    shape: tuple[int, ...]
    names_sizes: tuple[tuple[str, int], ...]
    mtimes: tuple[int, ...]
    ignored = 0

    @property
    def where(self) -> str:
        return str(self.path) + (f"[{self.member[:-4]}]" if self.member else "")

    @property
    def count(self) -> int:
        return self.shape[0]

    @classmethod
    def open(cls, path: Path) -> ArrayFile:
        member = labels_member = None
        if path.suffix.lower() == ".npz":
            try:
                with zipfile.ZipFile(path) as archive:
                    arrays = [n for n in archive.namelist() if n.endswith(".npy")]
            except (OSError, zipfile.BadZipFile) as error:
                raise DataError(f"{path}: not a readable .npz archive ({error}); save it with np.savez") from error
            if len(arrays) == 1:
                member = arrays[0]
            elif "images.npy" in arrays:
                member, labels_member = "images.npy", ("labels.npy" if "labels.npy" in arrays else None)
            else:
                keys = sorted(n[:-4] for n in arrays)
                raise DataError(
                    f"{path} holds the arrays {keys}, expected a single array or one named "
                    "`images` (and optionally `labels`): np.savez(path, images=..., labels=...)"
                )
        with _array_stream(path, member) as stream:
            shape, dtype, header_bytes = _array_header(stream, path, member)
        ok_shape = len(shape) in (3, 4) and (len(shape) == 3 or shape[3] in (1, 3, 4))
        if dtype != np.uint8 or not ok_shape:
            raise DataError(
                f"{path}{f' ({member[:-4]})' if member else ''}: images are {dtype} {shape}, "
                "expected uint8 (n, H, W) or (n, H, W, C) with C 1, 3 or 4: scale them to "
                "0..255 and save a.astype(np.uint8)"
            )
        if 0 in shape[:3]:
            raise DataError(f"{path}: images have shape {shape}, expected at least one picture of 1x1 or more")
        if shape[1] * shape[2] > MAX_PIXELS:
            raise DataError(f"{path}: pictures of {shape[2]}x{shape[1]} are over {MAX_PIXELS:,} pixels; shrink them")
        if member is None:
            stored = path.stat().st_size
        else:
            with zipfile.ZipFile(path) as archive:
                stored = archive.getinfo(member).file_size
        promised = header_bytes + int(np.prod(shape))
        if stored != promised:
            state = "truncated" if stored < promised else "longer than its header says"
            raise DataError(
                f"{path}{f' ({member[:-4]})' if member else ''}: {stored:,} bytes, but its header "
                f"(uint8 {shape}) promises {promised:,}: the file is {state}; save it again"
            )
        stat = path.stat()
        return cls(path, member, labels_member, shape, ((path.name, stat.st_size),), (stat.st_mtime_ns,))

    def headers(self, skip_bad: bool) -> Iterator[tuple[int, bool]]:
        colour = len(self.shape) == 4 and self.shape[3] != 1
        return itertools.repeat((min(self.shape[1:3]), colour), self.count)

    def pictures(self) -> Iterator[tuple[str, Opener]]:
        row_shape = self.shape[1:]
        row_bytes = int(np.prod(row_shape))
        # Pillow infers the mode: 2-D is "L", (H, W, 3) "RGB", (H, W, 4) "RGBA".
        picture_shape = row_shape[:2] if len(row_shape) == 2 or row_shape[2] == 1 else row_shape
        with _array_stream(self.path, self.member) as stream:
            _array_header(stream, self.path, self.member)
            for start in range(0, self.count, _CHUNK_IMAGES):
                stop = min(start + _CHUNK_IMAGES, self.count)
                chunk = _read_exactly(stream, (stop - start) * row_bytes, self.path)
                rows = np.frombuffer(chunk, np.uint8).reshape((stop - start, *row_shape))
                for i, row in enumerate(rows):
                    picture = Image.fromarray(row.reshape(picture_shape))
                    yield f"{self.where}[{start + i}]", lambda p=picture: contextlib.nullcontext(p)

    def labels(self, skipped: set[str], mapping) -> tuple[np.ndarray | None, tuple[str, ...], str]:
        if self.labels_member is None:
            return None, (), ""
        where = f"{self.path} (labels)"
        with _array_stream(self.path, self.labels_member) as stream:
            shape, dtype, _ = _array_header(stream, self.path, self.labels_member)
            if shape != (self.count,) or dtype.kind not in "iuU":
                raise DataError(
                    f"{where}: {dtype} {shape}, expected integers or strings of shape ({self.count},), "
                    "one label per image"
                )
            values = np.frombuffer(_read_exactly(stream, dtype.itemsize * self.count, self.path), dtype)
        return (*_index(values), f"{self.path.name}'s labels")


def _index(values) -> tuple[np.ndarray, tuple[str, ...]]:
    """Each value's index among the sorted distinct values, and those values as names."""
    names, index = np.unique(np.asarray(values), return_inverse=True)
    return index.astype(np.int64).reshape(-1), tuple(str(n) for n in names)


# --- .npy headers, streamed (an .npz member cannot be memory-mapped) -------------------


@contextlib.contextmanager
def _array_stream(path: Path, member: str | None):
    try:
        if member is None:
            with open(path, "rb") as stream:
                yield stream
        else:
            with zipfile.ZipFile(path) as archive, archive.open(member) as stream:
                yield stream
    except (zipfile.BadZipFile, zlib.error, EOFError) as error:
        raise DataError(f"{path}: the archive is damaged ({error}); save it again with np.savez") from error


def _array_header(stream, path: Path, member: str | None) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and header length; pixels are read by the caller, never unpickled."""
    what = f"{path}{f' ({member})' if member else ''}"
    try:
        version = np.lib.format.read_magic(stream)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
        if version not in read:
            raise ValueError(f"format version {version[0]}.{version[1]}")
        shape, fortran_order, dtype = read[version](stream)
    except (ValueError, OSError, EOFError, SyntaxError) as error:
        raise DataError(f"{what}: not a readable .npy array ({error}); save it with np.save") from error
    if fortran_order and len(shape) > 1:
        raise DataError(f"{what}: stored in Fortran order, expected C order: save np.ascontiguousarray(a)")
    return tuple(shape), dtype, stream.tell()


def _read_exactly(stream, size: int, path: Path) -> bytes:
    data = stream.read(size)
    if len(data) != size:
        raise DataError(
            f"{path}: the array ends {size - len(data):,} bytes early: the file is truncated; save it again"
        )
    return data


# --- one picture -------------------------------------------------------------------------


@contextlib.contextmanager
def _open_picture(path: Path, name: str) -> Iterator[Image.Image]:
    """The picture opened lazily (header only), its size checked before any pixel is decoded."""
    try:
        with warnings.catch_warnings():
            # Pillow warns from 89 megapixels; MAX_PIXELS, lower, decides here. The
            # filters are restored on exit, so no warning state leaks to the caller.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            picture = Image.open(path, formats=_PILLOW_FORMATS)
    except Image.DecompressionBombError as error:  # past twice Pillow's limit: refused in open()
        claimed = re.search(r"\((\d+) pixels\)", str(error))
        pixels = f"{int(claimed.group(1)):,} pixels" if claimed else f"over {2 * Image.MAX_IMAGE_PIXELS:,} pixels"
        raise Unreadable(f"{name}: its header claims {pixels}, expected at most {MAX_PIXELS:,}") from None
    except Exception as error:  # noqa: BLE001 - Pillow's plugins raise many types on bad files
        raise Unreadable(f"{name}: not a readable PNG or JPEG ({_why(error)})") from None
    with picture:
        width, height = picture.size
        if width * height > MAX_PIXELS:
            raise Unreadable(
                f"{name}: its header claims {width}x{height} = {width * height:,} pixels, "
                f"expected at most {MAX_PIXELS:,}"
            )
        yield picture


def _in_colour(picture: Image.Image) -> bool:
    if picture.mode in ("P", "PA"):
        palette = picture.palette
        if palette is None or getattr(palette, "rawmode", None) not in (None, "RGB"):
            return True  # an unusual palette layout: colour is the safe guess
        rgb = np.frombuffer(bytes(palette.palette), np.uint8)
        rgb = rgb[: len(rgb) // 3 * 3].reshape(-1, 3)
        return bool(np.any(rgb != rgb[:, :1]))
    return picture.mode not in _GREY_MODES


def square_pixels(name: str, open_picture: Opener, resolution: int, channels: int, fill: int) -> bytes:
    """One picture's pixels, row-major (resolution, resolution, channels); ``Unreadable`` if it is not."""
    try:
        with open_picture() as picture:
            return _square(picture, resolution, channels, fill)
    except (Unreadable, MemoryError):
        raise
    except Exception as error:  # noqa: BLE001 - Pillow's decoders fail on a truncated file in many types
        raise Unreadable(f"{name}: not a readable PNG or JPEG ({_why(error)})") from None


def _square(picture: Image.Image, resolution: int, channels: int, fill: int) -> bytes:
    """Flattened onto the background, centre square, resized, converted."""
    width, height = picture.size
    side = min(width, height)
    if picture.format in ("JPEG", "MPO"):
        # libjpeg decodes at 1/2, 1/4 or 1/8 scale for free; draft() keeps the short side
        # at least `resolution`, so the area filter below still does the final shrink.
        picture.draft(None, (-(-width * resolution // side), -(-height * resolution // side)))
    picture.load()
    ImageOps.exif_transpose(picture, in_place=True)  # phones store portraits sideways
    if picture.mode.startswith("I"):
        # Pillow's convert("L") clips 16-bit grey at 255, whitening most of the range: scale it.
        wide = np.clip(np.asarray(picture, dtype=np.int64), 0, 65535)
        picture = Image.fromarray(((wide + 128) // 257).astype(np.uint8))
    if picture.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in picture.info:
        rgba = picture.convert("RGBA")
        picture = Image.new("RGB", rgba.size, (fill, fill, fill))
        picture.paste(rgba, mask=rgba.getchannel("A"))
    picture = picture.convert("L" if channels == 1 else "RGB")  # "L" is ITU-R 601 luma
    width, height = picture.size  # exif_transpose may have swapped them
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    box = (left, top, left + side, top + side)
    if side == resolution:
        return picture.crop(box).tobytes()
    # BOX is the area average when shrinking. Enlarging, an area filter only repeats pixels;
    # BILINEAR (what OpenCV's INTER_AREA does when enlarging) stays within the source's
    # values, where bicubic or Lanczos would overshoot at edges.
    resample = Image.Resampling.BOX if side > resolution else Image.Resampling.BILINEAR
    return picture.resize((resolution, resolution), resample, box=box).tobytes()


def _why(error: Exception) -> str:
    """Pillow's reason for refusing a file; its type when it gave no message."""
    return str(error) or type(error).__name__
