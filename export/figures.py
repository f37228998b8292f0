"""``figures/fidelity.png``: what each artifact draws beside what the float generator draws.

One panel for the float generator, then one per artifact, each from the same
latents and with the same axis limits, so a quantization that shifts, shrinks or
clips the cloud shows as a visible difference between panels. Image generators
get the same layout with a grid of digits per panel (the same latents in the same
cells), so a changed stroke or a digit turned into another shows cell by cell. matplotlib's object
API only (no pyplot: no global state, no display), written atomically.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Mapping

import numpy as np

from gan_edge.io import atomic_path

__all__ = ["can_plot", "can_plot_images", "plot_fidelity", "plot_fidelity_images"]

DPI = 100
_PANEL_INCHES = 2.6
_COLUMNS = 4
IMAGE_GRID = 6  # digits per side of each panel's grid


def can_plot(output_shape: tuple[int, ...]) -> bool:
    """2-D points are drawn as clouds (``plot_fidelity``)."""
    return tuple(output_shape) == (2,)


def can_plot_images(output_shape: tuple[int, ...]) -> bool:
    """Single-channel images are drawn as digit grids (``plot_fidelity_images``)."""
    return len(output_shape) == 3 and output_shape[-1] == 1


def plot_fidelity(reference: np.ndarray, artifacts: Mapping[str, np.ndarray], path: str | Path) -> Path:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = {"float generator": reference, **artifacts}
    everything = np.concatenate(list(panels.values()))
    low, high = everything.min(axis=0), everything.max(axis=0)
    pad = 0.05 * (high - low)
    columns = min(_COLUMNS, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig = Figure(figsize=(_PANEL_INCHES * columns, _PANEL_INCHES * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False, sharex=True, sharey=True)
    for ax, (title, points) in zip(axes.flat, panels.items()):
        if title != "float generator":
            # The float cloud underneath, so a shift or clip is visible within a panel too.
            ax.scatter(reference[:, 0], reference[:, 1], s=2, color="0.8", linewidths=0)
        ax.scatter(points[:, 0], points[:, 1], s=2, color="tab:orange" if title != "float generator" else "tab:blue",
                   linewidths=0)
        ax.set_title(title, fontsize=9)
        ax.set_xlim(low[0] - pad[0], high[0] + pad[0])
        ax.set_ylim(low[1] - pad[1], high[1] + pad[1])
        ax.set_aspect("equal", adjustable="box")
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle("same latents: float generator (blue, grey underneath) vs each artifact (orange)", fontsize=9)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.unlink()  # let savefig create it, with the usual permissions
        fig.savefig(tmp, format="png", dpi=DPI)
    return path


def plot_fidelity_images(reference: np.ndarray, artifacts: Mapping[str, np.ndarray], path: str | Path) -> Path:
    """The float generator's digit grid, then each artifact's, from the same latents
    (the first ``IMAGE_GRID**2`` of each, images (n, h, w, 1) in [-1, 1])."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from gan_edge.png import image_grid

    count = IMAGE_GRID * IMAGE_GRID
    panels = {"float generator": reference, **artifacts}
    columns = min(_COLUMNS, len(panels))
    rows = math.ceil(len(panels) / columns)
    fig = Figure(figsize=(_PANEL_INCHES * columns, (_PANEL_INCHES + 0.2) * rows), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, columns, squeeze=False)
    for ax, (title, images) in zip(axes.flat, panels.items()):
        ax.imshow(image_grid(np.asarray(images[:count]), columns=IMAGE_GRID, gap=0), cmap="gray", vmin=0, vmax=255,
                  interpolation="nearest")
        ax.set_title(title, fontsize=9)
        ax.set_axis_off()
    for ax in list(axes.flat)[len(panels):]:
        ax.set_visible(False)
    fig.suptitle("same latents, same cells: float generator vs each artifact", fontsize=9)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.unlink()
        fig.savefig(tmp, format="png", dpi=DPI)
    return path
