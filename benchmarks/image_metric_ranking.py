"""Does the image metric rank known failures in the order a person would? Twemoji, issue 22.

The real set is split in two halves (drawn with each split seed): the first plays the
generator, the second is the reference. The five conditions of
training/metrics/images/conditions.py are made from the first half (real, noise, blur,
half of the categories, one picture) and each is scored against the second half with
evaluate_images. The feature net is trained once per training seed on the whole set (as
a run of that set would), into a fresh cache so that its training time is measured.

Prints the environment, the net's training time and accuracies, one table (mean and
standard deviation over the splits of fd, precision, recall, categories covered and
category KL; fd_floor in a row of its own) and how many splits keep the whole order
fd(real) < fd(noise) < fd(blur) < fd(half_categories) < fd(one_picture). Draws the five
conditions side by side (the same 16 images of the first split in each) into --figure.

    python benchmarks/image_metric_ranking.py [--resolution 32] [--channels 3] [--splits 5]
        [--train-seeds 0] [--no-labels] [--figure FILE.png | --no-figure]

Images: Twemoji (CC-BY 4.0), from ../shared/data/twemoji.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from gan_edge.training.data.images import load_images
from gan_edge.training.data.twemoji import twemoji_labels
from gan_edge.training.metrics.images import (
    CONDITIONS,
    evaluate_images,
    failure_conditions,
    load_or_train_feature_net,
)

TWEMOJI = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "twemoji"
SPLIT_STREAM, CONDITION_STREAM = 1000, 2000
COLUMNS = ("fd", "precision", "recall", "categories_covered", "category_kl")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--channels", type=int, default=3, choices=(1, 3))
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--train-seeds", default="0", help="comma-separated seeds of the feature net")
    parser.add_argument("--no-labels", action="store_true", help="train the rotation head only")
    parser.add_argument("--figure", type=Path, default=Path("benchmarks/results/image_metric_ranking.png"))
    parser.add_argument("--no-figure", action="store_true")
    args = parser.parse_args()

    data = load_images(TWEMOJI / "png64", resolution=args.resolution, channels=args.channels, labels=twemoji_labels(TWEMOJI))
    images = np.asarray(data.images)
    print(environment())
    print(f"data: Twemoji (CC-BY 4.0), {data.source.split(', cache')[0]}")
    for seed in (int(s) for s in args.train_seeds.split(",")):
        with tempfile.TemporaryDirectory() as cache:
            labels = (None, ()) if args.no_labels else (data.labels, data.label_names)
            net = load_or_train_feature_net(cache, images, *labels, seed=seed)
        info = net.info
        heads = "rotation" if args.no_labels else "rotation + categories"
        print(
            f"\nfeature net seed {seed} ({heads}): trained in {info['train_seconds']:.1f} s "
            f"({info['steps']} steps of 64 on {info['images']} images), accuracy on training "
            f"images {info['training_accuracy']}"
        )
        rows, ordered = score(net, images, data.labels, args.splits)
        print(table(rows))
        print(f"splits in the whole order (real < noise < blur < half_categories < one_picture): {ordered} of {args.splits}")
    if not args.no_figure:
        first_half = split(len(images), 0)[0]
        conditions = failure_conditions(images[first_half], data.labels[first_half], seed=CONDITION_STREAM)
        draw(conditions, args.figure)
        print(f"figure: {args.figure}")


def split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    # A stream of its own: evaluate_images draws from default_rng(seed), and the same
    # stream picking both the halves and the subsets inside them correlates the two.
    order = np.random.default_rng(SPLIT_STREAM + seed).permutation(n)
    return np.sort(order[: n // 2]), np.sort(order[n // 2 : 2 * (n // 2)])


def score(net, images, labels, splits: int) -> tuple[dict, int]:
    rows = {name: [] for name in ("fd_floor", *CONDITIONS)}
    ordered = 0
    for seed in range(splits):
        generator_half, reference = split(len(images), seed)
        conditions = failure_conditions(
            images[generator_half], labels[generator_half], seed=CONDITION_STREAM + seed
        )
        scores = {name: evaluate_images(x, images[reference], net, seed=seed) for name, x in conditions.items()}
        rows["fd_floor"].append({"fd": scores["real"]["fd_floor"]})
        for name in CONDITIONS:
            rows[name].append(scores[name])
        fds = [scores[name]["fd"] for name in CONDITIONS]
        ordered += all(a < b for a, b in zip(fds, fds[1:]))
    return rows, ordered


def table(rows: dict) -> str:
    lines = [f"{'condition':16s}" + "".join(f"{c:>22s}" for c in COLUMNS)]
    for name, runs in rows.items():
        cells = []
        for column in COLUMNS:
            values = [run[column] for run in runs if column in run]
            cells.append(f"{np.mean(values):13.3f} ± {np.std(values):6.3f}" if values else " " * 22)
        lines.append(f"{name:16s}" + "".join(cells))
    return "\n".join(lines)


def draw(conditions: dict, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from gan_edge.io import atomic_path

    # The same 16 images in every panel (the set is in file order: a prefix is all keycaps).
    shown = np.sort(np.random.default_rng(0).choice(len(conditions["real"]), 16, replace=False))
    figure = Figure(figsize=(2.4 * len(conditions), 2.9), dpi=120)
    FigureCanvasAgg(figure)
    for i, (name, images) in enumerate(conditions.items()):
        axes = figure.add_subplot(1, len(conditions), i + 1)
        axes.imshow(tiles(images[shown], columns=4), interpolation="nearest")
        axes.set_axis_off()
        axes.set_title(name.replace("_", " "))
    figure.suptitle("Known failures the image metric must rank, best to worst. Images: Twemoji (CC-BY 4.0)", fontsize=9)
    figure.tight_layout()
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png")


def tiles(images: np.ndarray, columns: int) -> np.ndarray:
    n, h, w, c = images.shape
    rows = -(-n // columns)
    grid = np.full((rows * (h + 1) + 1, columns * (w + 1) + 1, 3), 255, np.uint8)
    pixels = np.clip((images + 1.0) * 127.5, 0, 255).astype(np.uint8)
    for i, image in enumerate(pixels):
        r, col = divmod(i, columns)
        grid[1 + r * (h + 1) : 1 + r * (h + 1) + h, 1 + col * (w + 1) : 1 + col * (w + 1) + w] = (
            image if c == 3 else np.repeat(image, 3, axis=-1)
        )
    return grid


def environment() -> str:
    import tensorflow as tf

    cpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = next((line.split(":", 1)[1].strip() for line in cpu.splitlines() if line.startswith("Model name")), "?")
    return (
        f"python {platform.python_version()}, tensorflow {tf.__version__}, cpu {model}, "
        f"{os.cpu_count()} cores"
    )


if __name__ == "__main__":
    start = time.perf_counter()
    main()
    print(f"total {time.perf_counter() - start:.0f} s")
