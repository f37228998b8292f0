"""The book's figures for the toy GAN (Glassner, ch. 22), drawn from a run's records.

- ``plot_training_progress``: generated against real points, one panel per snapshot
  epoch, each cloud with its one-standard-deviation ellipse (Figure 22-19), each
  panel titled with its generated cloud's ``corr`` and ``fd`` (training.metrics.toy).
- ``plot_losses``: discriminator and generator loss per epoch (Figure 22-20).
- ``plot_confusion``: the discriminator's TP, FN, FP and TN per epoch.
- ``write_all``: all three into ``run_dir/figures/``.

Each ``plot_*`` checks its arguments, builds a Figure with the object API (no pyplot,
so no global figure state and no display needed), and writes the PNG atomically: an
interrupted run leaves the previous figure or none, never half of one. The matching
``_build_*`` returns the Figure without writing, for tests.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib import patheffects
from matplotlib.lines import Line2D
from matplotlib.patches import Ellipse
from matplotlib.ticker import MaxNLocator

from gan_edge.errors import InputError
from gan_edge.io import atomic_path
from gan_edge.training.metrics import toy as toy_metrics
from gan_edge.training.metrics.checks import points_2d

__all__ = [
    "plot_training_progress",
    "plot_losses",
    "plot_confusion",
    "progress_epochs",
    "write_all",
]

DPI = 100
REAL_COLOR = "tab:blue"
FAKE_COLOR = "tab:orange"
_MAX_PANEL_COLUMNS = 4
_FIRST_EPOCHS = 10  # the book shows every epoch up to 10, then the last


def progress_epochs(total_epochs: int) -> list[int]:
    """Epochs to snapshot for ``plot_training_progress``: 0..min(10, total) and total.

    Epoch 0 is the generator before any training. ``13 -> [0, 1, ..., 10, 13]``.
    """
    if isinstance(total_epochs, bool) or not isinstance(total_epochs, (int, np.integer)):
        raise InputError(f"total_epochs must be an integer >= 0, got {total_epochs!r}")
    if total_epochs < 0:
        raise InputError(f"total_epochs must be an integer >= 0, got {total_epochs}")
    total = int(total_epochs)
    return sorted(set(range(min(_FIRST_EPOCHS, total) + 1)) | {total})


# --- training progress (Figure 22-19) ---------------------------------------------


def plot_training_progress(
    snapshots: Mapping[int, np.ndarray], real: np.ndarray, path: str | os.PathLike,
    *, target: tuple | None = None,
) -> Path:
    """Write the grid of generated (orange) against real (blue) points, one panel per epoch.

    ``target`` = ``(mean, std)``, the data's Gaussian, is what each title's ``fd`` is
    measured against (``gan_edge.training.metrics.toy.joint_metrics``; the ``real`` points' fitted
    Gaussian without it).
    """
    return _save(_build_progress(snapshots, real, target=target), path)


def _build_progress(snapshots: Mapping[int, np.ndarray], real: np.ndarray, *, target: tuple | None = None) -> Figure:
    snapshots = _check_snapshots(snapshots)
    real = _check_points("real", real)
    # From the points drawn, not metrics.jsonl: epoch 0 has no record, and a title
    # must describe its own panel. A tilted cloud then reads as wrong in the figure too.
    joint = {epoch: toy_metrics.joint_metrics(points, real, target=target) for epoch, points in snapshots.items()}
    epochs = sorted(snapshots)

    ncols = min(_MAX_PANEL_COLUMNS, len(epochs))
    nrows = math.ceil(len(epochs) / ncols)
    fig = _new_figure((2.6 * ncols, 2.6 * nrows + 0.7))
    axes = fig.subplots(nrows, ncols, squeeze=False, sharex=True, sharey=True).ravel()
    for ax in axes[len(epochs) :]:
        ax.remove()  # so the figure holds exactly one Axes per snapshot

    # Real points are subsampled to the generated count so neither cloud hides the
    # other by sheer number; one fixed permutation keeps panels comparable.
    order = np.random.default_rng(0).permutation(len(real))
    lo, hi = _square_limits([real, *snapshots.values()])
    for ax, epoch in zip(axes, epochs):
        fake = snapshots[epoch]
        shown_real = real[order[: min(len(fake), len(real))]]
        for points, color, ellipse_of in ((shown_real, REAL_COLOR, real), (fake, FAKE_COLOR, fake)):
            ax.scatter(
                points[:, 0], points[:, 1], s=3, c=color, alpha=0.35, linewidths=0, rasterized=True
            )
            ax.add_patch(_std_ellipse(ellipse_of, color))
        ax.set_xlim(lo, hi)
        ax.set_ylim(lo, hi)
        ax.set_aspect("equal")
        ax.set_title(_panel_title(epoch, joint[epoch]), fontsize=10)
        ax.tick_params(labelsize=8)
        ax.grid(True, linewidth=0.4, alpha=0.4)

    handles = [
        Line2D([], [], color=REAL_COLOR, marker="o", linestyle="-", label="real data"),
        Line2D([], [], color=FAKE_COLOR, marker="o", linestyle="-", label="generated"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, fontsize=10, frameon=False)
    fig.suptitle("Generated vs real points, with 1-std ellipses, by epoch", fontsize=13)
    return fig


def _panel_title(epoch: int, joint: Mapping[str, float]) -> str:
    """A panel's title: ``epoch 13  corr 0.54  fd 0.31``."""
    return f"epoch {epoch}  corr {joint['corr']:.2f}  fd {joint['fd']:.2f}"


def _std_ellipse(points: np.ndarray, color: str) -> Ellipse:
    """The ellipse one standard deviation from the mean along the covariance's axes."""
    values, vectors = np.linalg.eigh(np.cov(points, rowvar=False))
    values = np.clip(values, 0.0, None)  # round-off can make a flat cloud's value -1e-17
    major = vectors[:, 1]  # eigh sorts ascending, so the last column is the long axis
    return Ellipse(
        xy=points.mean(axis=0),
        width=2 * math.sqrt(values[1]),
        height=2 * math.sqrt(values[0]),
        angle=math.degrees(math.atan2(major[1], major[0])),
        fill=False,
        edgecolor=color,
        linewidth=1.8,
        zorder=3,
        # A white halo keeps the ellipse visible on top of its own dense cloud.
        path_effects=[patheffects.withStroke(linewidth=3.2, foreground="white")],
    )


def _square_limits(clouds: Sequence[np.ndarray]) -> tuple[float, float]:
    """One (lo, hi) for both axes of every panel, covering every cloud with a margin."""
    lo = min(float(c.min()) for c in clouds)
    hi = max(float(c.max()) for c in clouds)
    margin = max(0.05 * (hi - lo), 0.5)
    return lo - margin, hi + margin


# --- losses and confusion counts (Figure 22-20) -------------------------------------


def plot_losses(records: Sequence[Mapping], path: str | os.PathLike) -> Path:
    """Write ``d_loss`` and ``g_loss`` against ``epoch``."""
    return _save(_build_losses(records), path)


def _build_losses(records: Sequence[Mapping]) -> Figure:
    epoch, series = _columns(records, ("d_loss", "g_loss"))
    fig = _new_figure((7.0, 4.2))
    ax = fig.add_subplot()
    dots = _dots(epoch)
    ax.plot(epoch, series["d_loss"], color="tab:red", label="discriminator loss (d_loss)", **dots)
    ax.plot(epoch, series["g_loss"], color="tab:green", label="generator loss (g_loss)", **dots)
    _finish_series_axes(ax, "loss", "Discriminator and generator loss per epoch")
    return fig


# The book's reading of the discriminator's confusion matrix, "positive" meaning "real".
CONFUSION_LABELS = {
    "tp": "TP: real called real",
    "fn": "FN: real called fake",
    "fp": "FP: fake called real",
    "tn": "TN: fake called fake",
}


def plot_confusion(records: Sequence[Mapping], path: str | os.PathLike) -> Path:
    """Write the discriminator's ``tp``, ``fn``, ``fp``, ``tn`` against ``epoch``."""
    return _save(_build_confusion(records), path)


def _build_confusion(records: Sequence[Mapping]) -> Figure:
    epoch, series = _columns(records, tuple(CONFUSION_LABELS))
    fig = _new_figure((7.0, 4.2))
    ax = fig.add_subplot()
    # Right answers solid, mistakes dashed; real-side in blue shades, fake-side in orange.
    styles = {
        "tp": (REAL_COLOR, "-"),
        "fn": (REAL_COLOR, "--"),
        "fp": (FAKE_COLOR, "--"),
        "tn": (FAKE_COLOR, "-"),
    }
    for key, label in CONFUSION_LABELS.items():
        color, linestyle = styles[key]
        ax.plot(epoch, series[key], color=color, linestyle=linestyle, label=label, **_dots(epoch))
    values = np.concatenate(list(series.values()))
    finite = values[np.isfinite(values)]
    # Training may record rates or counts; say which rather than guess a unit.
    is_rate = finite.size > 0 and finite.min() >= 0 and finite.max() <= 1
    if is_rate:
        ax.set_ylim(-0.02, 1.02)
    _finish_series_axes(
        ax, "fraction of samples" if is_rate else "samples", "Discriminator's verdicts per epoch"
    )
    return fig


def _dots(epoch: np.ndarray) -> dict:
    # Dots only while there are few epochs: a single epoch would otherwise draw nothing.
    return {"marker": "o", "markersize": 3.5} if len(epoch) <= 30 else {}


def _finish_series_axes(ax, ylabel: str, title: str) -> None:
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("epoch", fontsize=11)
    ax.set_ylabel(ylabel, fontsize=11)
    ax.set_title(title, fontsize=13)
    ax.tick_params(labelsize=9)
    ax.grid(True, linewidth=0.4, alpha=0.5)
    ax.legend(fontsize=9)


# --- all together -------------------------------------------------------------------


def write_all(
    run_dir: str | os.PathLike,
    records: Sequence[Mapping],
    snapshots: Mapping[int, np.ndarray],
    real: np.ndarray,
    *,
    target: tuple | None = None,
) -> list[Path]:
    """Write ``figures/progress.png``, ``losses.png`` and ``confusion.png`` under ``run_dir``.

    ``target`` as for ``plot_training_progress``. Every figure is built before any is
    written, so bad input writes none of them.
    """
    figures = {
        "progress.png": _build_progress(snapshots, real, target=target),
        "losses.png": _build_losses(records),
        "confusion.png": _build_confusion(records),
    }
    out = Path(run_dir) / "figures"
    return [_save(fig, out / name) for name, fig in figures.items()]


# --- helpers ------------------------------------------------------------------------


def _new_figure(size: tuple[float, float]) -> Figure:
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _save(fig: Figure, path: str | os.PathLike) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        # mkstemp made the temporary file private (0600); let savefig create it afresh
        # so the figure gets the usual umask permissions like any other output.
        tmp.unlink()
        # The temporary name ends in .tmp, so the format must be given, not inferred.
        fig.savefig(tmp, format="png", dpi=DPI)
    return path


def _check_points(name: str, points) -> np.ndarray:
    return points_2d(name, points, why=' for an ellipse')


def _check_snapshots(snapshots: Mapping[int, np.ndarray]) -> dict[int, np.ndarray]:
    if not isinstance(snapshots, Mapping) or not snapshots:
        raise InputError(
            f"snapshots must be a non-empty dict of epoch -> (n, 2) points, got {snapshots!r:.60}"
        )
    checked = {}
    for epoch, points in snapshots.items():
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 0:
            raise InputError(f"snapshot epochs must be integers >= 0, got {epoch!r}")
        checked[int(epoch)] = _check_points(f"snapshot for epoch {epoch}", points)
    return checked


def _columns(
    records: Sequence[Mapping], keys: tuple[str, ...]
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``epoch`` and ``keys`` of each record as float arrays, sorted by epoch."""
    if isinstance(records, (str, bytes)) or not isinstance(records, Sequence) or not records:
        raise InputError(
            f"records must be a non-empty list of per-epoch dicts, got {records!r:.60}"
        )
    names = ("epoch", *keys)
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise InputError(f"records[{i}] must be a dict, got {type(record).__name__}")
        missing = [k for k in names if k not in record]
        if missing:
            raise InputError(
                f"records[{i}] must have {', '.join(names)}; missing {', '.join(missing)}"
            )
        try:
            rows.append([float(record[k]) for k in names])
        except (TypeError, ValueError):
            raise InputError(
                f"records[{i}] values for {', '.join(names)} must be numbers, "
                f"got { {k: record[k] for k in names} }"
            ) from None
    table = np.array(rows)
    table = table[np.argsort(table[:, 0], kind="stable")]
    return table[:, 0], {k: table[:, j + 1] for j, k in enumerate(keys)}
