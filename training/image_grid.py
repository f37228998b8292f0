"""Grids of generated digits, like the book's Figures 22-22 to 22-24, and side-by-side
panels of such grids (ProGAN's samples at each resolution)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gan_edge.errors import InputError
from gan_edge.io import atomic_path
from gan_edge.png import image_grid

__all__ = ["write_grid", "write_panels"]


def write_grid(images: np.ndarray, path: str | Path, title: str, labels: list[str] | None = None) -> Path:
    """Draw ``images`` as a grid titled ``title`` into the PNG ``path`` (atomically)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    canvas = image_grid(images, gap=0)
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
        grid = image_grid(images, columns=columns, gap=0)
        axes.imshow(grid, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
        axes.set_axis_off()
        axes.set_title(label)
    figure.suptitle(title)
    figure.tight_layout()
    path = Path(path)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")
    return path
