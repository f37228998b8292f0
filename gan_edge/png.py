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
    """Tile (n, h, w, c) images with values in [low, high] into one uint8 image (0 black),
    ``columns`` wide (default: a square), ``gap`` black pixels between them: grey (H, W)
    for c = 1, RGB (H, W, 3) for c = 3."""
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or len(images) == 0:
        raise InputError(f"images must have shape (n, height, width, 1 or 3) with n >= 1, got {images.shape}")
    n, h, w, c = images.shape
    columns = columns or math.isqrt(n - 1) + 1
    grid = np.zeros(grid_size(n, h, w, gap=gap, columns=columns) + ((3,) if c == 3 else ()), dtype=np.uint8)
    values = images[..., 0] if c == 1 else images
    pixels = np.clip((values - low) * (255.0 / (high - low)), 0, 255).astype(np.uint8)
    for i, image in enumerate(pixels):
        r, c = divmod(i, columns)
        top, left = gap + r * (h + gap), gap + c * (w + gap)
        grid[top : top + h, left : left + w] = image
    return grid


def encode_png(pixels: np.ndarray) -> bytes:
    """The bytes of an 8-bit PNG of the uint8 array ``pixels``: grey (H, W) or RGB (H, W, 3)."""
    if pixels.dtype != np.uint8 or not (pixels.ndim == 2 or (pixels.ndim == 3 and pixels.shape[2] == 3)):
        raise InputError(f"a PNG image must be a uint8 array (height, width) or (height, width, 3), got "
                         f"shape {pixels.shape} {pixels.dtype}")
    height, width = pixels.shape[:2]
    rows = pixels.reshape(height, -1)
    # Each row starts with filter type 0 (none); zlib does the compressing.
    raw = np.hstack([np.zeros((height, 1), dtype=np.uint8), rows]).tobytes()

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    colour_type = 0 if pixels.ndim == 2 else 2  # grayscale, or truecolour (RGB)
    header = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 6)) + chunk(b"IEND", b"")
