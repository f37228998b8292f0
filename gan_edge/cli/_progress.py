"""Progress for long work: a bar in a terminal, one line per step otherwise (logs, CI)."""

from __future__ import annotations

import sys
from typing import Any, Callable


def epoch_reporter(total: int, describe: Callable[[dict[str, Any]], str], stream=None):
    """Return ``(on_epoch, close)``: call ``on_epoch(record)`` after each epoch, ``close()`` at the end."""
    stream = stream or sys.stderr
    if stream.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, unit="epoch", file=stream, dynamic_ncols=True)

        def on_epoch(record: dict[str, Any]) -> None:
            bar.set_postfix_str(describe(record), refresh=False)
            bar.update(1)

        return on_epoch, bar.close

    def on_epoch_line(record: dict[str, Any]) -> None:
        print(f"epoch {record['epoch']}/{total}  {describe(record)}", file=stream, flush=True)

    return on_epoch_line, lambda: None
