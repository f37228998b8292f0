"""``gan-edge train MODEL``: train a GAN into a new run folder."""

from __future__ import annotations

import argparse
import datetime
from pathlib import Path

from gan_edge.cli._progress import epoch_reporter
from gan_edge.cli._workstation import require_tensorflow


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("train", help="train a GAN into a run folder")
    parser.add_argument("model", help="model to train (toy2d)")
    parser.add_argument("--epochs", type=int, help="number of epochs (default: the model's)")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--loss-mode", choices=("standard", "book"), help="loss mode (default standard)")
    parser.add_argument("--config", type=Path, help="JSON file of config overrides")
    parser.add_argument("--out", type=Path, help="run folder to create (default runs/MODEL-TIMESTAMP)")
    parser.set_defaults(run=run)


def default_run_dir(model: str) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{model}-{stamp}"


def describe(record) -> str:
    return (
        f"d_loss {record['d_loss']:.3f}  g_loss {record['g_loss']:.3f}  "
        f"mean_err {record['mean_err']:.3f}  std_err {record['std_err']:.3f}  swd {record['swd']:.3f}"
    )


def resolve_config(args: argparse.Namespace):
    require_tensorflow()
    from training.config import default_config, load_config_file

    overrides = load_config_file(args.config) if args.config else {}
    for flag, key in (("epochs", "epochs"), ("seed", "seed"), ("loss_mode", "loss_mode")):
        value = getattr(args, flag)
        if value is not None:
            overrides[key] = value
    overrides.setdefault("model", args.model)
    return default_config(args.model).with_overrides(overrides)


def run(args: argparse.Namespace) -> int:
    config = resolve_config(args)
    from training.train import train

    out = args.out or default_run_dir(config.model)
    on_epoch, close = epoch_reporter(config.epochs, describe)
    try:
        result = train(config, out, on_epoch=on_epoch)
    finally:
        close()
    print(f"run folder: {result.run.path}")
    return 0
