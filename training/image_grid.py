"""Grids of generated digits, like the book's Figures 22-22 to 22-24, and side-by-side
panels of such grids (ProGAN's samples at each resolution)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from gan_edge.errors import InputError
from gan_edge.io import atomic_path

__all__ = ["tile", "write_grid", "write_panels"]


def tile(images: np.ndarray, columns: int | None = None) -> np.ndarray:
    """(n, h, w, 1) images in [-1, 1] -> one (rows*h, columns*w) uint8 image, 0 = black."""
    if images.ndim != 4 or images.shape[-1] != 1 or len(images) == 0:
        raise InputError(f"images must have shape (n, h, w, 1) with n >= 1, got {images.shape}")
    n, h, w, _ = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    canvas = np.zeros((rows * h, columns * w), dtype=np.uint8)
    pixels = np.clip((images[..., 0] + 1.0) * 127.5, 0, 255).astype(np.uint8)
    for i, image in enumerate(pixels):
        r, c = divmod(i, columns)
        canvas[r * h : (r + 1) * h, c * w : (c + 1) * w] = image
    return canvas


def write_grid(images: np.ndarray, path: str | Path, title: str, labels: list[str] | None = None) -> Path:
    """Draw ``images`` as a grid titled ``title`` into the PNG ``path`` (atomically)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    canvas = tile(images)
    figure = Figure(figsize=(6, 6.4), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.imshow(canvas, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    axes.set_axis_off()
    axes.set_title(title)
    if labels:
        columns = canvas.shape[1] // images.shape[2]
        h, w = images.shape[1:3]
        for i, label in enumerate(labels):
            r, c = divmod(i, columns)
            axes.text(c * w + 1, r * h + 6, label, color="yellow", fontsize=7)
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path


def write_panels(panels: dict[str, np.ndarray], path: str | Path, title: str, columns: int = 4) -> Path:
    """One grid per panel, side by side, each titled by its key (atomically)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not panels:
        raise InputError("write_panels needs at least one panel, got none")
    figure = Figure(figsize=(2.6 * len(panels), 3.0), dpi=100)
    FigureCanvasAgg(figure)
    for i, (label, images) in enumerate(panels.items()):
        axes = figure.add_subplot(1, len(panels), i + 1)
        axes.imshow(tile(images, columns), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        axes.set_axis_off()
        axes.set_title(label)
    figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path
