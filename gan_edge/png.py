"""A PNG writer in numpy and zlib: boards have neither matplotlib nor Pillow."""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np

from gan_edge.errors import InputError

__all__ = ["encode_png", "grid_size", "image_grid"]


def grid_size(n: int, height: int, width: int, *, gap: int = 2, columns: int | None = None) -> tuple[int, int]:
    """(height, width) in pixels of ``image_grid``'s tiling of ``n`` images of height x width."""
    columns = columns or math.isqrt(n - 1) + 1  # ceil(sqrt(n)), exact for any n
    rows = -(-n // columns)
    return rows * (height + gap) + gap, columns * (width + gap) + gap


def image_grid(images: np.ndarray, *, low: float = -1.0, high: float = 1.0, gap: int = 2,
               columns: int | None = None) -> np.ndarray:
    """Tile (n, h, w, 1) images with values in [low, high] into one uint8 grayscale image
    (0 black), ``columns`` wide (default: a square), ``gap`` black pixels between them."""
    if images.ndim != 4 or images.shape[-1] != 1 or len(images) == 0:
        raise InputError(f"images must have shape (n, height, width, 1) with n >= 1, got {images.shape}")
    n, h, w, _ = images.shape
    columns = columns or math.isqrt(n - 1) + 1
    grid = np.zeros(grid_size(n, h, w, gap=gap, columns=columns), dtype=np.uint8)
    pixels = np.clip((images[..., 0] - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)
    for i, image in enumerate(pixels):
        r, c = divmod(i, columns)
        top, left = gap + r * (h + gap), gap + c * (w + gap)
        grid[top : top + h, left : left + w] = image
    return grid


def encode_png(gray: np.ndarray) -> bytes:
    """The bytes of an 8-bit grayscale PNG of the 2-D uint8 array ``gray``."""
    if gray.ndim != 2 or gray.dtype != np.uint8:
        raise InputError(f"a PNG image must be a 2-D uint8 array, got {gray.ndim}-D {gray.dtype}")
    height, width = gray.shape
    # Each row starts with filter type 0 (none); zlib does the compressing.
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), gray]).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
