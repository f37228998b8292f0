"""Progress for long work: a bar in a terminal, one line per epoch otherwise (logs, CI)."""

from __future__ import annotations

import sys
from typing import Any, Callable


class TrainingProgress:
    """Call ``start(rounds_per_epoch)`` once training knows its epoch size, then feed it
    ``rounds(n)`` as rounds finish and ``epoch(record)`` as epochs do; ``close()`` at the end.

    In a terminal it draws one bar over all rounds of the run, with the last
    epoch's metrics beside it; elsewhere it prints one line per epoch.
    """

    def __init__(self, total_epochs: int, describe: Callable[[dict[str, Any]], str],
                 *, first_epoch: int = 1, stream=None) -> None:
        self.total_epochs = total_epochs
        self.first_epoch = first_epoch
        self.describe = describe
        self.stream = stream or sys.stderr
        self.bar = None
        self.decoding = None  # the bar of a first decode of a user's pictures

    def decode(self, done: int, total: int) -> None:
        """Pictures decoded into the cache so far (a first run on a folder only)."""
        if self.decoding is None:
            if self.stream.isatty():
                from tqdm import tqdm

                self.decoding = tqdm(total=total, unit="picture", desc="decoding", file=self.stream,
                                     dynamic_ncols=True)
            else:
                self.decoding = False
                print(f"decoding {total:,} pictures into the cache (once)", file=self.stream, flush=True)
        if self.decoding:
            self.decoding.update(done - self.decoding.n)
            if done == total:
                self.decoding.close()

    def start(self, rounds_per_epoch: int) -> None:
        if self.stream.isatty():
            from tqdm import tqdm

            remaining = max(self.total_epochs - self.first_epoch + 1, 0) * rounds_per_epoch
            self.bar = tqdm(total=remaining, unit="round", file=self.stream, dynamic_ncols=True)

    def rounds(self, count: int) -> None:
        if self.bar is not None:
            self.bar.update(count)

    def epoch(self, record: dict[str, Any]) -> None:
        if self.bar is not None:
            self.bar.set_description(f"epoch {record['epoch']}/{self.total_epochs}", refresh=False)
            self.bar.set_postfix_str(self.describe(record))
        else:
            print(f"epoch {record['epoch']}/{self.total_epochs}  {self.describe(record)}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
