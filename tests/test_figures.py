"""gan_edge.training.figures: the toy GAN's progress grid, losses and confusion curves."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.patches import Ellipse

from gan_edge.errors import InputError
from gan_edge.training import figures
from gan_edge.training.metrics import toy as toy_metrics

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def real() -> np.ndarray:
    return np.random.default_rng(0).normal(5.0, 1.0, size=(2000, 2))


@pytest.fixture(scope="module")
def snapshots() -> dict[int, np.ndarray]:
    # generated points drifting from (0, 0) towards the target at (5, 5)
    rng = np.random.default_rng(1)
    return {e: rng.normal(5.0 * e / 13, 0.3 + 0.7 * e / 13, size=(200, 2)) for e in figures.progress_epochs(13)}


@pytest.fixture(scope="module")
def records() -> list[dict]:
    return [
        {"epoch": e, "d_loss": 1.4 - 0.05 * e, "g_loss": 0.7 + 0.02 * e,
         "tp": 0.9 - 0.03 * e, "fn": 0.1 + 0.03 * e, "fp": 0.05 + 0.03 * e, "tn": 0.95 - 0.03 * e}
        for e in range(1, 14)
    ]  # fmt: skip


def assert_png(path, min_size=(200, 300)):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    height, width, _ = imread(path).shape
    assert height >= min_size[0] and width >= min_size[1]
    return height, width


# --- progress_epochs -------------------------------------------------------------


@pytest.mark.parametrize(
    "total, expected",
    [
        (13, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 13]),
        (3, [0, 1, 2, 3]),
        (10, list(range(11))),
        (11, list(range(12))),
        (0, [0]),
        (1000, [*range(11), 1000]),
    ],
)
def test_progress_epochs(total, expected):
    assert figures.progress_epochs(total) == expected


@pytest.mark.parametrize("total", [-1, 2.0, "13", True])
def test_progress_epochs_refuses_non_counts(total):
    with pytest.raises(InputError, match=r"total_epochs must be an integer >= 0, got"):
        figures.progress_epochs(total)


# --- the figures themselves ---------------------------------------------------------


def test_progress_grid_has_one_panel_per_snapshot(snapshots, real):
    fig = figures._build_progress(snapshots, real)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == len(snapshots) == 12  # a 3 x 4 grid, all filled
    assert [ax.get_title().split("  ")[0] for ax in fig.axes] == [f"epoch {e}" for e in sorted(snapshots)]
    limits = {(ax.get_xlim(), ax.get_ylim()) for ax in fig.axes}
    assert len(limits) == 1  # same limits in every panel...
    (xlim, ylim), = limits
    assert xlim[0] < 0.0 and xlim[1] > 8.0  # ...covering both clouds
    for ax in fig.axes:
        ellipses = [p for p in ax.patches if isinstance(p, Ellipse)]
        assert len(ellipses) == 2  # real and generated
        assert ax.get_aspect() == 1.0
    assert len(fig.legends) == 1


def test_progress_grid_drops_unused_cells(snapshots, real):
    five = {e: snapshots[e] for e in (0, 1, 2, 3, 13)}
    assert len(figures._build_progress(five, real).axes) == 5  # 2 x 4 grid, 3 cells removed


def test_one_std_ellipse_follows_the_covariance():
    rng = np.random.default_rng(2)
    # std 2 along 30 degrees, std 0.5 across it, centred at (1, -1)
    angle = np.radians(30)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = rng.normal(size=(20_000, 2)) * [2.0, 0.5] @ rotation.T + [1.0, -1.0]
    ellipse = figures._std_ellipse(points, "tab:orange")
    assert ellipse.center == pytest.approx((1.0, -1.0), abs=0.05)
    assert ellipse.width == pytest.approx(4.0, rel=0.03)
    assert ellipse.height == pytest.approx(1.0, rel=0.03)
    assert ellipse.angle % 180 == pytest.approx(30.0, abs=1.0)


def test_progress_titles_show_each_clouds_corr_and_fd(real):
    # A tilted cloud (marginals N(5, 1), correlated 0.5) must read as wrong in the figure
    # itself, while an isotropic one reads as right: titles carry corr and fd.
    rng = np.random.default_rng(3)
    tilted = rng.normal(size=(1000, 2)) @ np.linalg.cholesky([[1.0, 0.5], [0.5, 1.0]]).T + 5.0
    round_ = rng.normal(5.0, 1.0, size=(1000, 2))
    fig = figures._build_progress({12: round_, 13: tilted}, real, target=((5.0, 5.0), 1.0))
    titles = [ax.get_title() for ax in fig.axes]
    expected = [toy_metrics.joint_metrics(points, real, target=((5.0, 5.0), 1.0)) for points in (round_, tilted)]
    assert titles == [f"epoch {e}  corr {m['corr']:.2f}  fd {m['fd']:.2f}" for e, m in zip((12, 13), expected)]
    assert abs(expected[0]["corr"]) < 0.1 and expected[0]["fd"] < 0.02
    assert expected[1]["corr"] == pytest.approx(0.5, abs=0.05) and expected[1]["fd"] > 0.1
    assert titles[1].startswith("epoch 13  corr 0.") and "fd 0.1" in titles[1]


def test_progress_fd_falls_back_to_the_real_points_without_a_target(snapshots, real):
    with_real = figures._build_progress(snapshots, real)
    shifted = figures._build_progress(snapshots, real, target=((6.0, 5.0), 1.0))
    fd = lambda fig: [float(ax.get_title().rsplit("fd ", 1)[1]) for ax in fig.axes]  # noqa: E731
    # the last snapshot sits on the data: near 0 against it, about 1 (a unit shift) against (6, 5)
    assert fd(with_real)[-1] < 0.1 and fd(shifted)[-1] > 0.8


def test_plot_training_progress_writes_a_png(tmp_path, snapshots, real):
    path = figures.plot_training_progress(snapshots, real, tmp_path / "progress.png")
    assert path == tmp_path / "progress.png"
    height, width = assert_png(path)
    assert width > height  # four columns, three rows


def test_plot_losses_writes_a_png(tmp_path, records):
    assert_png(figures.plot_losses(records, tmp_path / "losses.png"))


def test_plot_confusion_writes_a_png_with_the_books_labels(tmp_path, records):
    fig = figures._build_confusion(records)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == [
        "TP: real called real",
        "FN: real called fake",
        "FP: fake called real",
        "TN: fake called fake",
    ]
    assert_png(figures.plot_confusion(records, tmp_path / "confusion.png"))


def test_series_are_sorted_by_epoch(records):
    fig = figures._build_losses(list(reversed(records)))
    line = fig.axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [r["epoch"] for r in records]
    assert list(line.get_ydata()) == pytest.approx([r["d_loss"] for r in records])


def test_write_all(tmp_path, records, snapshots, real):
    paths = figures.write_all(tmp_path, records, snapshots, real, target=((5.0, 5.0), 1.0))
    names = ["progress.png", "losses.png", "confusion.png"]
    assert paths == [tmp_path / "figures" / n for n in names]
    for path in paths:
        assert_png(path)
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == sorted(names)


# --- failures leave nothing behind ------------------------------------------------


def _failing_savefig(self, *args, **kwargs):
    raise OSError("disk full")


def test_failed_write_leaves_no_file(tmp_path, monkeypatch, records):
    monkeypatch.setattr(Figure, "savefig", _failing_savefig)
    with pytest.raises(OSError, match="disk full"):
        figures.plot_losses(records, tmp_path / "losses.png")
    assert list(tmp_path.iterdir()) == []  # neither the figure nor a temporary file


def test_failed_write_keeps_the_previous_figure(tmp_path, monkeypatch, records):
    path = figures.plot_losses(records, tmp_path / "losses.png")
    before = path.read_bytes()
    monkeypatch.setattr(Figure, "savefig", _failing_savefig)
    with pytest.raises(OSError):
        figures.plot_losses(records[:3], path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_write_all_writes_nothing_on_bad_input(tmp_path, records, real):
    with pytest.raises(InputError):
        figures.write_all(tmp_path, records, {0: np.zeros((5, 3))}, real)
    assert not (tmp_path / "figures").exists()


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize("build", [figures._build_losses, figures._build_confusion])
def test_empty_records_are_refused(build):
    with pytest.raises(InputError, match=r"records must be a non-empty list of per-epoch dicts, got \[\]"):
        build([])


def test_record_missing_a_metric_is_refused(records):
    bad = [*records[:2], {"epoch": 3, "d_loss": 1.0}]
    with pytest.raises(InputError, match=r"records\[2\] must have epoch, d_loss, g_loss; missing g_loss"):
        figures._build_losses(bad)


def test_record_with_a_non_number_is_refused():
    with pytest.raises(InputError, match=r"records\[0\] values for epoch, d_loss, g_loss must be numbers"):
        figures._build_losses([{"epoch": 1, "d_loss": "high", "g_loss": 0.5}])


@pytest.mark.parametrize(
    "snapshots, message",
    [
        ({}, "snapshots must be a non-empty dict of epoch -> (n, 2) points, got {}"),
        ({3: np.zeros((5, 3))}, "snapshot for epoch 3 must have shape (n, 2), got (5, 3)"),
        ({3: np.zeros(10)}, "snapshot for epoch 3 must have shape (n, 2), got (10,)"),
        ({3: np.zeros((1, 2))}, "snapshot for epoch 3 must have at least 2 points for an ellipse, got 1"),
        ({3: np.full((4, 2), np.nan)}, "snapshot for epoch 3 must be finite, got 8 NaN or inf values"),
        ({-1: np.zeros((4, 2))}, "snapshot epochs must be integers >= 0, got -1"),
    ],
)
def test_bad_snapshots_are_refused(snapshots, message, real):
    with pytest.raises(InputError) as err:
        figures._build_progress(snapshots, real)
    assert str(err.value) == message


def test_bad_real_points_are_refused(snapshots):
    with pytest.raises(InputError, match=r"^real must have shape \(n, 2\), got \(7, 4\)$"):
        figures.plot_training_progress(snapshots, np.zeros((7, 4)), "/nonexistent/never/written.png")


def test_imports_neither_pyplot_nor_tensorflow():
    # pyplot would bring global figure state and a display backend; TensorFlow is not
    # needed to draw or measure points. A fresh interpreter sees what the imports pull in.
    code = (
        "import sys, training.figures, training.metrics.toy\n"
        "bad = {'matplotlib.pyplot', 'tensorflow'} & set(sys.modules)\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])
