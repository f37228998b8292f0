"""``gan-edge distill TEACHER_RUN``: train a small generator to imitate a trained one.

The student is a dcgan of ``--preset`` (mcu, the microcontroller's generator, unless
told otherwise) on the teacher's data and latents, trained to draw the teacher's picture
for each latent (by default by that imitation alone; with ``imitation_only`` false, by the
four-step round with the imitation term in G's loss: training/distill.py). Its run folder
names the teacher in config.json, and ``gan-edge export`` takes it as it takes any run.
Progress, checkpoints, SIGINT / SIGTERM (a clean stop, exit 130 / 143) and ``--resume``
behave as in ``gan-edge train``; a teacher or preset that cannot be distilled is refused
before anything is written.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from gan_edge.cli._workstation import require_tensorflow
from gan_edge.cli.train import add_cpu_budget, default_run_dir, run_training, whole_number


def add_parser(subparsers) -> None:
    parser = subparsers.add_parser("distill", help="train a small generator to imitate a trained one")
    parser.add_argument("teacher", type=Path, metavar="TEACHER_RUN",
                        help="a `gan-edge train dcgan` run folder: the generator to imitate")
    parser.add_argument("--preset", default="mcu",
                        help="the student's dcgan preset: mcu (a generator for microcontrollers, the default), "
                             "default or book")
    parser.add_argument("--epochs", type=whole_number, help="number of epochs (default: the preset's)")
    parser.add_argument("--seed", type=whole_number, help="random seed (default 0)")
    parser.add_argument("--config", type=Path, help="JSON file of config overrides (e.g. imitation_only, "
                                                    "imitation_weight, teacher_discriminator)")
    parser.add_argument("--out", type=Path, help="run folder to create (default runs/dcgan-PRESET-distilled-TIMESTAMP)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the distillation in --out from its last checkpoint (only --epochs may change)")
    add_cpu_budget(parser)
    parser.set_defaults(run=run)


def resolve_config(args: argparse.Namespace):
    from gan_edge.training import distill
    from gan_edge.training.config import load_config_file

    overrides = load_config_file(args.config) if args.config else {}
    for key in ("epochs", "seed"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if not args.resume:
        return distill.student_config(args.teacher, args.preset, overrides)
    from gan_edge.training.run import RunFolder

    # The run's own settings; a teacher other than the one it names is refused by the resume.
    config = RunFolder.open(args.out).config().with_overrides({**overrides, "teacher": distill.teacher_path(args.teacher)})
    distill.check_teacher(config)
    return config


def run(args: argparse.Namespace) -> int:
    from gan_edge.errors import ConfigError

    if args.resume and args.out is None:
        raise ConfigError("--resume needs --out RUN_DIR: the distillation to continue")
    require_tensorflow()
    config = resolve_config(args)
    return run_training(
        config, args.out or default_run_dir(f"{config.model}-{args.preset}-distilled"), command="distill",
        resume=args.resume, cpu_minutes=args.cpu_minutes, data_line=lambda source: f"data: {source}\nteacher: {config.teacher}",
        resume_with=lambda run_dir: f"gan-edge distill {shlex.quote(config.teacher)} --resume --out {shlex.quote(run_dir)}")
