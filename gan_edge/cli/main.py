"""Entry point of ``gan-edge``: registers the subcommands and turns errors into one line.

Each subcommand module has ``add_parser(subparsers)`` and ``run(args) -> int``.
Workstation commands (train, distill, export, demo) import TensorFlow only inside
``run``, so ``gan-edge generate`` on a board never needs it.
"""

from __future__ import annotations

import argparse
import os
import sys

from gan_edge.cli import bench, demo, devices, distill, evaluate, export, generate, train, web
from gan_edge.errors import GanEdgeError

COMMANDS = (demo, train, distill, evaluate, export, generate, bench, devices, web)
EXIT_USER_ERROR = 2


class _Parser(argparse.ArgumentParser):
    """argparse already exits with status 2 on bad usage; keep its message to one line."""

    def error(self, message: str):  # noqa: D401 (argparse's name)
        self.exit(EXIT_USER_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gan-edge", description="Train a GAN, quantize its generator, generate on the edge.")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for command in COMMANDS:
        command.add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    # TensorFlow's C++ start-up chatter (CUDA probing on a CPU machine) is noise here.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except GanEdgeError as exc:
        print(f"gan-edge {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"gan-edge {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
