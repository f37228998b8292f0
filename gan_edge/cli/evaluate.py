"""``gan-edge evaluate RUN_DIR_OR_MODEL``: score a generator beside the reference rows."""

from __future__ import annotations

import argparse
from pathlib import Path

from gan_edge.cli._workstation import require_tensorflow
from gan_edge.errors import InputError


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="score a trained run or an exported model")
    parser.add_argument("target", type=Path, help="a run folder, or an exported .tflite/.onnx generator")
    parser.add_argument("--samples", type=int, default=2000, help="samples to generate (default 2000)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the latents (default 0)")
    parser.add_argument("--data-dir", help="folder holding MNIST (default $GAN_EDGE_DATA, the Keras cache)")
    parser.add_argument("--json", type=Path, help="also write the rows to this JSON file")
    parser.add_argument("--fid", nargs="?", const="", metavar="WEIGHTS",
                        help="also compute Inception FID, from InceptionV3 weights on disk: this .h5 file, or "
                             "Keras' cached copy when no file is named (nothing is downloaded)")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.samples < 2:
        raise InputError(f"--samples must be at least 2, got {args.samples}")
    require_tensorflow()
    from gan_edge.io import atomic_write_json
    from gan_edge.training.evaluate import evaluate_generator

    weights = None
    if args.fid is not None:  # first: without the weights there is nothing to wait for
        from gan_edge.training.metrics.images import inception_weights

        weights = inception_weights(args.fid or None)
    generate, config = _open(args.target)
    if args.data_dir is not None:
        config = config.with_overrides({"data_dir": args.data_dir})
    rows = evaluate_generator(generate, config, samples=args.samples, seed=args.seed)
    if args.fid is not None:
        from gan_edge.training.evaluate import inception_fid_of

        rows["generator"]["inception_fid"] = inception_fid_of(generate, config, samples=args.samples,
                                                             seed=args.seed, weights=weights)
        for row in rows.values():
            row.setdefault("inception_fid", float("nan"))
    print(_table(rows))
    if "real_vs_real" in rows:
        print("\nfcd: Fréchet distance in the features of this project's MNIST classifier (FCD, not "
              "Inception FID);\nclasses_covered: digits with at least 1% of the samples; precision/recall: "
              "k-NN manifolds (k=3); density/coverage: the real manifold's balls counted per sample and per "
              "real image (near-blank digits: precision 1.0, density 0.33, coverage 0.00; docs/image_metrics.md).")
    elif "fd_floor" in rows["generator"]:
        print("\nfd: Fréchet distance in the features of a net trained on these pictures (not Inception FID), "
              "beside fd_floor, real vs real at the same size;\nprecision/recall: k-NN manifolds (k=3); "
              "density/coverage: the real manifold's balls counted per sample and per real image (on Twemoji "
              "only coverage sees blank pictures); "
              "categories_covered: labels with at least 1% of the samples (docs/image_metrics.md).")
    elif "reverse_kl" in rows["generator"]:
        print("\nmodes: modes with a point within 3 std of their mean; hq_share: share of such points; "
              "reverse_kl: KL of their histogram from uniform;\nreal: as many points drawn from the mixture.")
    if args.json:
        atomic_write_json(args.json, rows)
    return 0


def _open(target: Path):
    """A latents -> samples callable and the training config, from a run folder or a model file."""
    if target.is_dir():
        from gan_edge.export.source import load_generator

        trained = load_generator(target)
        return (lambda latent: trained(latent).numpy()), trained.config

    import gan_edge
    from gan_edge.errors import ManifestError
    from gan_edge.training.config import config_from_dict

    generator = gan_edge.load(target)
    source_config = generator.manifest.source.get("config")
    if not isinstance(source_config, dict):
        raise ManifestError(f"{target}'s manifest names no training config: re-export it with `gan-edge export`")
    return generator.generate_from_latent, config_from_dict(source_config)


def _table(rows: dict[str, dict[str, float]]) -> str:
    names = list(next(iter(rows.values())))
    header = f"{'':<20}" + "".join(f"{n:>16}" for n in names)
    lines = [header, "-" * len(header)]
    for row, values in rows.items():
        lines.append(f"{row:<20}" + "".join(f"{values[n]:>16.4f}" for n in names))
    return "\n".join(lines)
