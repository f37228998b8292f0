"""The book's MNIST DCGAN in the picture metric, for scale beside a run on pictures.

    python benchmarks/picture_metric_scale.py MNIST_DCGAN_RUN [--out benchmarks/results/picture_metric_scale.txt]

The picture metric (docs/image_metrics.md) scores a run in the features of a net trained on
the run's own pictures, beside ``fd_floor`` (real vs real). Its numbers mean something only
against a generator whose quality a person knows: this script trains that net on MNIST's
10,000 digits (their labels as the categories), and scores the given `gan-edge train dcgan`
run (the book's DCGAN, whose digits a person reads) and an untrained DCGAN on 2,000 latents.
"""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ("fd", "fd_floor", "precision", "recall", "density", "coverage", "categories_covered")


def main() -> None:
    import tf_keras as keras

    from gan_edge.export.source import load_generator
    from gan_edge.latent import sample_latent
    from gan_edge.training.data.mnist import load_mnist
    from gan_edge.training.evaluators.mnist import classifier_cache_dir, generate_in_chunks
    from gan_edge.training.metrics.images import evaluate_images, load_or_train_feature_net
    from gan_edge.training.models import model_family

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a `gan-edge train dcgan` run on MNIST")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "picture_metric_scale.txt")
    args = parser.parse_args()
    data = load_mnist(ROOT.parent / "shared" / "data" / "mnist")
    digits = np.asarray(data.images).reshape(-1, 28, 28, 1).astype(np.uint8)
    net = load_or_train_feature_net(classifier_cache_dir() / "feature-nets", digits, data.labels.astype(np.int64),
                                    tuple(str(d) for d in range(10)))
    trained = load_generator(args.run)
    config = trained.config
    latents = sample_latent(config.latent_distribution, 2000, config.latent_dim, np.random.default_rng(0))
    rows = {f"{args.run.name} ({config.epochs} epochs, seed {config.seed})": generate_in_chunks(trained.model, latents)}
    keras.utils.set_random_seed(config.seed)
    rows["untrained DCGAN"] = generate_in_chunks(model_family("dcgan").build_generator(config), latents)
    cpu = next((line.split(":", 1)[1].strip() for line in subprocess.run(
        ["lscpu"], capture_output=True, text=True).stdout.splitlines() if line.startswith("Model name")), "?")
    lines = [f"picture metric on MNIST: feature net trained on the 10,000 digits (training accuracy "
             f"{net.info.get('training_accuracy')}), 2,000 samples against them; machine: {cpu}",
             f"{'generator':36s} " + " ".join(f"{c:>18s}" for c in COLUMNS)]
    for name, samples in rows.items():
        scores = evaluate_images(samples, digits, net, seed=0)
        lines.append(f"{name:36s} " + " ".join(f"{scores[c]:18.3f}" for c in COLUMNS))
    report = "\n".join(lines)
    print(report)
    args.out.write_text(report + "\n")


if __name__ == "__main__":
    main()
