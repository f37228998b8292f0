"""``gan-edge train MODEL``: train a GAN into a new run folder, or resume one.

SIGINT (Ctrl-C) or SIGTERM stops the run cleanly: the current compiled call of
rounds finishes, a checkpoint is written, the resume command is printed, and the
exit status is 128 + the signal number (130, 143), as for a process the signal
ended, but with nothing lost. A second signal stops at once, without saving.
``--cpu-minutes`` stops the same way once the command has spent that much CPU time,
with exit status 0: the budget, not a failure, ended it.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import math
import shlex
import signal
import sys
import time
from pathlib import Path

from gan_edge.cli._progress import TrainingProgress
from gan_edge.cli._workstation import require_tensorflow

# Names of the metrics shown beside the progress bar, per model, in this order.
SHOWN = {
    "toy2d": ("d_loss", "g_loss", "mean_err", "std_err", "swd", "corr", "fd"),
    "dcgan": ("d_loss", "g_loss", "fcd", "classes_covered", "precision", "recall"),
    "ring8": ("d_loss", "g_loss", "modes", "hq_share", "reverse_kl"),
    "grid25": ("d_loss", "g_loss", "modes", "hq_share", "reverse_kl"),
    "progan": ("d_loss", "g_loss", "resolution", "alpha", "fcd", "classes_covered"),
}
# A run on a user's pictures (--data) shows the image metrics instead of MNIST's; one on
# Stacked-MNIST its mode count and reverse KL (each record holds only its evaluator's).
SHOWN_PICTURES = ("d_loss", "g_loss", "resolution", "alpha", "fd", "fd_floor", "categories_covered", "recall",
                  "modes", "reverse_kl")


def add_parser(subparsers) -> None:
    # The choices are the config's (which imports no TensorFlow), so the two cannot drift apart.
    from gan_edge.training.config import AUGMENTATIONS, IMAGE_BACKGROUNDS, LOSS_MODES

    parser = subparsers.add_parser("train", help="train a GAN into a run folder")
    parser.add_argument("model", help="model to train: toy2d, dcgan, ring8, grid25, progan")
    parser.add_argument("--preset", default="default", help="named settings of the model (toy2d: default, book; dcgan: default, book, mcu; ring8, grid25: default, paper)")
    parser.add_argument("--epochs", type=whole_number, help="number of epochs (default: the preset's)")
    parser.add_argument("--seed", type=whole_number, help="random seed (default 0)")
    parser.add_argument("--loss-mode", choices=LOSS_MODES, help="loss mode (default: the preset's)")
    parser.add_argument("--data", metavar="PATH",
                        help="your own pictures (dcgan, progan): a folder of PNG/JPEG (searched recursively) or a "
                             "uint8 .npy/.npz of (N, H, W[, C]); a folder of MNIST's files trains on MNIST as --data-dir; "
                             "stacked-mnist (dcgan): three MNIST digits as R, G, B, 1,000 modes")
    parser.add_argument("--resolution", type=whole_number,
                        help="side the pictures are resized to: 16, 28, 32, 64 or 128 (default: the data's own, rounded)")
    parser.add_argument("--channels", type=whole_number, help="1 (grey) or 3 (RGB) (default: the data's)")
    parser.add_argument("--background", choices=tuple(IMAGE_BACKGROUNDS),
                        help="what transparent pixels are composited over (default white)")
    parser.add_argument("--skip-bad", action="store_true", default=None,
                        help="leave unreadable pictures out (and say how many) instead of refusing the data")
    parser.add_argument("--augment", choices=AUGMENTATIONS,
                        help="DiffAugment on every picture D sees (small data sets; default none)")
    parser.add_argument("--generator-average", type=float, metavar="FRACTION",
                        help="measure, sample and export an exponential average of G's weights whose half-life is "
                             "this fraction of the images seen (0.05 as StyleGAN2-ADA; default: the preset's, 0 = off)")
    parser.add_argument("--data-dir", help="folder holding MNIST (dcgan, progan; default $GAN_EDGE_DATA, the Keras cache)")
    parser.add_argument("--config", type=Path, help="JSON file of config overrides")
    parser.add_argument("--out", type=Path, help="run folder to create (default runs/MODEL-TIMESTAMP)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its last checkpoint (only --epochs may change)")
    add_cpu_budget(parser)
    parser.add_argument("--strategy", default="default",
                        help="default (one device), mirrored (every GPU of this machine) or multiworker "
                             "(several machines, each described by TF_CONFIG); the batch is the global batch")
    parser.set_defaults(run=run)


def add_cpu_budget(parser) -> None:
    """``--cpu-minutes``, for ``train`` and ``distill``."""
    parser.add_argument("--cpu-minutes", type=positive_minutes, metavar="MINUTES",
                        help="stop cleanly, with a checkpoint to resume from, once this command has spent this much "
                             "CPU time (all threads); the run folder's cpu_seconds.txt sums every command's")


def positive_minutes(text: str) -> float:
    """argparse type: a number of minutes above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of minutes, got {text[:40]!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a number of minutes above 0, got {text[:40]!r}")
    return value


def whole_number(text: str) -> int:
    """argparse type: an integer, refused before int() when it is too long for any setting
    (Python's int() refuses over 4,300 digits, and argparse would echo them all); the
    config checks its range."""
    if len(text.strip()) > 20:  # -9223372036854775808, the widest 64-bit integer
        raise argparse.ArgumentTypeError(f"expected a 64-bit integer, got {len(text.strip()):,} characters")
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None


def default_run_dir(model: str) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{model}-{stamp}"


def describer(model: str, pictures: bool = False):
    names = SHOWN_PICTURES if pictures else SHOWN.get(model, ("d_loss", "g_loss"))

    def describe(record) -> str:
        shown = [f"{n} {record[n]:.3f}" if isinstance(record[n], float) else f"{n} {record[n]}"
                 for n in names if n in record]
        return "  ".join(shown)

    return describe


def resolve_config(args: argparse.Namespace):
    from gan_edge.training.config import default_config, load_config_file
    from gan_edge.training.data.stacked_mnist import NAME as STACKED_MNIST, PROTOCOL as STACKED_PROTOCOL

    if args.resume:
        from gan_edge.training.run import RunFolder

        base = RunFolder.open(args.out).config()
    else:
        base = default_config(args.model, args.preset)
        if args.data == STACKED_MNIST:  # its protocol's settings (26,000 samples measured), beneath the user's
            base = base.with_overrides(STACKED_PROTOCOL)
    overrides = load_config_file(args.config) if args.config else {}
    flags = (("epochs", "epochs"), ("seed", "seed"), ("loss_mode", "loss_mode"), ("data_dir", "data_dir"),
             ("resolution", "resolution"), ("channels", "channels"), ("background", "background"),
             ("skip_bad", "skip_bad"), ("augment", "augment"), ("generator_average", "generator_average"))
    for flag, key in flags:
        value = getattr(args, flag)
        if value is not None:
            overrides[key] = value
    if args.data is not None:
        overrides.update(_data_overrides(args.data))
    if args.resolution is not None and args.model == "progan" and "resolutions" not in overrides.get("growth", {}):
        from gan_edge.training.progan_schedule import resolutions_up_to

        # The schedule grows to the resolution asked for (its phases as the preset's).
        overrides["growth"] = {**overrides.get("growth", {}), "resolutions": resolutions_up_to(args.resolution)}
    overrides["model"] = args.model
    return base.with_overrides(overrides)


def _data_overrides(path: str) -> dict:
    """--data PATH: MNIST's own files train the book's models (as --data-dir); anything else
    is a user's pictures, by absolute path (the run folder may be read from elsewhere); the
    name stacked-mnist is the data set (a folder of that name: --data ./stacked-mnist)."""
    from gan_edge.errors import DataError
    from gan_edge.training.data.mnist import holds_mnist
    from gan_edge.training.data.stacked_mnist import NAME as STACKED_MNIST

    if path == STACKED_MNIST:
        return {"data_path": STACKED_MNIST}

    where = Path(path).expanduser()
    if not where.exists():
        raise DataError(f"--data {path}: no such file or folder: expected a folder of pictures or a uint8 .npy/.npz")
    if holds_mnist(where):
        return {"data_dir": str(where.resolve())}
    return {"data_path": str(where.resolve())}


def run(args: argparse.Namespace) -> int:
    from gan_edge.errors import ConfigError

    if args.resume and args.out is None:
        raise ConfigError("--resume needs --out RUN_DIR: the run folder to continue")
    require_tensorflow()
    config = resolve_config(args)
    strategy = "" if args.strategy == "default" else f" --strategy {args.strategy}"
    return run_training(
        config, args.out or default_run_dir(config.model), command="train", resume=args.resume,
        strategy=args.strategy, cpu_minutes=args.cpu_minutes, data_line=lambda source: f"data: {source}",
        resume_with=lambda run_dir: f"gan-edge train {config.model} --resume --out {shlex.quote(run_dir)}{strategy}")


def run_training(config, out, *, command: str, resume: bool, data_line, resume_with, strategy: str = "default",
                 cpu_minutes: float | None = None) -> int:
    """``train()`` under a progress bar, stopped cleanly by SIGINT / SIGTERM or once
    ``cpu_minutes`` of CPU time are spent: the body of ``gan-edge train`` and ``gan-edge
    distill`` (``command`` names which in its messages).

    ``data_line(source)`` is printed once the data is read; ``resume_with(run_dir)`` is the
    command that continues a stopped run. Returns the exit status."""
    from gan_edge.training.train import train

    logging.basicConfig(format=f"gan-edge {command}: %(levelname)s: %(message)s")  # the collapse alarm
    progress = TrainingProgress(config.epochs, describer(config.model, bool(config.data_path)))
    started = time.process_time()

    def budget_spent() -> bool:
        return cpu_minutes is not None and time.process_time() - started >= cpu_minutes * 60

    stop = _StopOnSignal(command)
    try:
        result = train(config, out, resume=resume, on_start=progress.start, on_epoch=progress.epoch,
                       on_rounds=progress.rounds, should_stop=lambda: stop.requested() or budget_spent(),
                       strategy=strategy, on_decode=progress.decode,
                       on_data=lambda source: print(data_line(source), flush=True))
    finally:
        stop.restore()
        progress.close()
    if result.stopped_at is not None:
        epoch, done, steps = result.stopped_at
        where = f"before epoch {epoch}" if done == 0 else f"in epoch {epoch} after round {done} of {steps}"
        by_signal = stop.requested()  # else the CPU budget ended the run
        cause = stop.name if by_signal else f"its budget of {cpu_minutes:g} CPU-minutes"
        again = "" if by_signal else " --cpu-minutes MINUTES"
        print(f"gan-edge {command}: stopped by {cause} {where}; checkpoint: {result.checkpoint}\n"
              f"resume with: {resume_with(str(result.run.path))}{again}", file=sys.stderr, flush=True)
        if by_signal:
            return 128 + stop.signum
    print(f"run folder: {result.run.path}")
    return 0


class _StopOnSignal:
    """Turns the first SIGINT / SIGTERM into a request that training polls between calls."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, command: str = "train") -> None:
        self.command = command  # the subcommand its message names
        self.signum: int | None = None
        self._previous = {s: signal.getsignal(s) for s in self.SIGNALS}
        for s in self.SIGNALS:
            signal.signal(s, self._handle)

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name if self.signum else ""

    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame) -> None:
        self.signum = signum
        print(f"\ngan-edge {self.command}: {signal.Signals(signum).name}: stopping after the current rounds to write a "
              "checkpoint (send it again to stop at once, without saving)", file=sys.stderr, flush=True)
        self.restore()  # the next signal acts as it did before: KeyboardInterrupt, or death by SIGTERM

    def restore(self) -> None:
        for s, previous in self._previous.items():
            signal.signal(s, previous)

