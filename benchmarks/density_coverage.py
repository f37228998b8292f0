"""Which of precision, recall, density and coverage see pictures a person calls garbage.

    python benchmarks/density_coverage.py [--out benchmarks/results/density_coverage.txt]

k-NN precision counts a generated image as realistic when it falls inside any real
image's ball; a few real outliers have wide balls, and blank pictures fall inside them.
Density and coverage (Naeem et al., 2020; ``training/metrics/precision_recall.py``) count
the same real balls differently. This script scores, against half of the real images:
the other half (what a good generator would reach), and pictures nobody would call
digits or emoji (near-blank, noise, faint strokes, freshly initialised generators, one
picture repeated), in both feature spaces: the project's MNIST classifier (2,000 samples
against 4,000 real digits) and the Twemoji feature net at 32x32 RGB (2,000 samples
against 1,893 emoji). It trains the MNIST classifier (2 epochs) and the feature net when
they are not cached under GAN_EDGE_CACHE: a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import platform
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
COLUMNS = ("precision", "recall", "density", "coverage")


def mnist_rows(rng: np.random.Generator) -> dict[str, dict[str, float]]:
    from gan_edge.training.data.mnist import load_mnist, to_model_range
    from gan_edge.training.evaluators.mnist import classifier_cache_dir
    from gan_edge.training.metrics.mnist.classifier import load_or_train_classifier
    from gan_edge.training.metrics.mnist.evaluate import evaluate

    data = load_mnist(SHARED / "mnist")
    images, labels = to_model_range(data.images), data.labels.astype(np.int64)
    classifier = load_or_train_classifier(classifier_cache_dir() / "density-coverage", images, labels,
                                          seed=0, epochs=2)
    reference, reference_labels, held_out = images[:4000], labels[:4000], images[4000:6000]
    conditions = {
        "real digits (held-out)": held_out,
        "near-blank (-1 + U(0, 0.1))": (-1 + rng.uniform(0, 0.1, held_out.shape)).astype(np.float32),
        "uniform noise": rng.uniform(-1, 1, held_out.shape).astype(np.float32),
        "faint digits (30% contrast)": (held_out * 0.3 - 0.7).astype(np.float32),
        "one digit repeated": np.repeat(held_out[:1], len(held_out), axis=0),
    }
    return {name: evaluate(x, reference, classifier, reference_labels=reference_labels)
            for name, x in conditions.items()}


def twemoji_rows(rng: np.random.Generator) -> dict[str, dict[str, float]]:
    import tf_keras as keras

    from gan_edge.latent import sample_latent
    from gan_edge.training.config import default_config
    from gan_edge.training.data import load_training_data, resolve_image_shape
    from gan_edge.training.evaluators.images import _pictures_and_net
    from gan_edge.training.evaluators.mnist import generate_in_chunks
    from gan_edge.training.metrics.images import evaluate_images
    from gan_edge.training.models import model_family

    config = resolve_image_shape(default_config("dcgan").with_overrides(
        {"data_path": str(SHARED / "twemoji" / "png64"), "resolution": 32}))
    data = load_training_data(config, "images")
    _, net = _pictures_and_net(config, data)
    order = rng.permutation(len(data.samples))
    half = len(order) // 2
    reference, held_out = data.samples[np.sort(order[:half])], data.samples[np.sort(order[half:])]
    latents = sample_latent(config.latent_distribution, 2000, config.latent_dim, rng)
    conditions = {"real emoji (held-out)": held_out}
    for seed in (1, 2):
        keras.utils.set_random_seed(seed)
        conditions[f"untrained DCGAN, seed {seed}"] = generate_in_chunks(
            model_family("dcgan").build_generator(config), latents)
    conditions["near-white (255 - U(0, 20))"] = (255 - rng.uniform(0, 20, (2000, 32, 32, 3))).astype(np.uint8)
    conditions["one emoji repeated"] = np.repeat(held_out[:1], 2000, axis=0)
    return {name: evaluate_images(x, reference, net, seed=0) for name, x in conditions.items()}


def table(title: str, rows: dict[str, dict[str, float]], distance: str) -> str:
    lines = [title, f"{'condition':32s} {distance:>8s} " + " ".join(f"{c:>9s}" for c in COLUMNS)]
    for name, row in rows.items():
        lines.append(f"{name:32s} {row[distance]:8.2f} " + " ".join(f"{row[c]:9.3f}" for c in COLUMNS))
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "density_coverage.txt")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(
        ["lscpu"], capture_output=True, text=True).stdout.splitlines() if line.startswith("Model name")), "?")
    report = "\n\n".join([
        table("MNIST classifier features: 2,000 samples against 4,000 real digits, k = 3", mnist_rows(rng), "fcd"),
        table("Twemoji feature net, 32x32 RGB: 2,000 samples against 1,893 emoji (CC-BY 4.0), k = 3",
              twemoji_rows(rng), "fd"),
        f"machine: {cpu}, {platform.machine()}; density ~1 and coverage at the held-out row's level are what "
        "real images score; coverage depends on the sample and reference sizes, so read it against that row",
    ])
    print(report)
    args.out.write_text(report + "\n")


if __name__ == "__main__":
    main()
