"""The run folder: the unit of training state.

    RUN_DIR/
      config.json      the resolved config (what ``export`` rebuilds the models from)
      data.json        a user's pictures: their fingerprint (files, names and sizes, shape)
      metrics.jsonl    one JSON object per epoch, the names of ``gan_edge.training.loop`` + metrics
      cpu_seconds.txt  the CPU time (all threads) its training commands spent, summed over resumes
      tensorboard/     the same scalars for TensorBoard
      checkpoints/     tf.train.CheckpointManager checkpoints
      samples/         generated points kept at the snapshot epochs (.npy)
      figures/         PNG figures

A folder that already holds something else is refused, so a run never overwrites
another run's files. A new run that fails before its first checkpoint takes back
what it created (``RunFolder.new``): such a folder could neither be resumed nor
trained into again. A resume only checks until its checkpoint has been restored
(``RunFolder.resume``, then ``save_config``), so a refused one changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from gan_edge.errors import ConfigError, GanEdgeError, RunFolderError
from gan_edge.io import atomic_path, atomic_write_bytes, atomic_write_json
from gan_edge.training.config import TrainConfig, config_from_dict, parse_json, read_json_file

__all__ = ["RunFolder"]

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"
DATA_FILE = "data.json"
CPU_FILE = "cpu_seconds.txt"


@dataclass(frozen=True)
class RunFolder:
    path: Path

    @property
    def config_file(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def metrics_file(self) -> Path:
        return self.path / METRICS_FILE

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def tensorboard(self) -> Path:
        return self.path / "tensorboard"

    @property
    def samples(self) -> Path:
        return self.path / "samples"

    @property
    def figures(self) -> Path:
        return self.path / "figures"

    # -- creating and opening -------------------------------------------------------

    @classmethod
    def create(cls, path: str | Path, config: TrainConfig) -> "RunFolder":
        """Make a new run folder; refuse one that holds anything already."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise RunFolderError(f"--out {path} is a file, expected a folder for the run")
        if path.is_dir() and any(path.iterdir()):
            what = "another run" if (path / CONFIG_FILE).exists() else "other files"
            raise RunFolderError(
                f"{path} already holds {what}: choose a new --out folder (nothing was overwritten)"
            )
        run = cls(path)
        for folder in (run.checkpoints, run.samples, run.figures):
            folder.mkdir(parents=True, exist_ok=True)
        atomic_write_json(run.config_file, config.to_dict())
        return run

    @classmethod
    @contextlib.contextmanager
    def new(cls, path: str | Path, config: TrainConfig) -> Iterator["RunFolder"]:
        """``create`` for the length of a block that trains into the run.

        If the block raises before the run's first checkpoint, what ``create`` made is
        removed again (the folder and the parents it made, or, for a folder that was
        there and empty, its contents), and a GanEdgeError's message says so.
        """
        path = Path(path)
        made = path
        while not made.parent.exists():  # the top-most folder this command makes, if any
            made = made.parent
        made = None if made.exists() else made
        run = cls.create(path, config)
        try:
            yield run
        except BaseException as exc:
            if run.has_checkpoint():
                raise
            if made is not None:
                shutil.rmtree(made, ignore_errors=True)
                undone = f"{made} (made by this command) was removed"
            else:
                for entry in path.iterdir():
                    if entry.is_dir():
                        shutil.rmtree(entry, ignore_errors=True)
                    else:
                        entry.unlink(missing_ok=True)
                undone = f"{path} was emptied again"
            if isinstance(exc, GanEdgeError):
                message = f"{exc} [no checkpoint had been written, so nothing of this run was kept: {undone}]"
                raise type(exc)(message).with_traceback(exc.__traceback__) from None
            raise

    @classmethod
    def open(cls, path: str | Path) -> "RunFolder":
        path = Path(path)
        if not path.is_dir():
            raise RunFolderError(f"no run folder at {path}")
        if not (path / CONFIG_FILE).is_file():
            raise RunFolderError(
                f"{path} is not a gan-edge run: it has no {CONFIG_FILE} (train one with `gan-edge train`)"
            )
        return cls(path)

    @classmethod
    def resume(cls, path: str | Path, config: TrainConfig) -> "RunFolder":
        """Reopen a run to continue it with ``config``: the same in everything but ``epochs``.

        A longer schedule is allowed (it extends the run); anything else would make
        the resumed run a different experiment from the one its checkpoints hold.
        This only checks: ``save_config`` records the new schedule once the run's
        checkpoint has been restored.
        """
        run = cls.open(path)
        stored = run.config()
        if stored.model != config.model:
            raise RunFolderError(f"{run.path} holds a {stored.model} run, not {config.model}: nothing was changed")
        differing = [
            key for key, value in config.to_dict().items() if key != "epochs" and stored.to_dict()[key] != value
        ]
        if differing:
            key = differing[0]
            raise RunFolderError(
                f"{run.path} was trained with {key}={stored.to_dict()[key]!r}, not {config.to_dict()[key]!r}: "
                "resume with the run's own settings (only --epochs may change)"
            )
        run.cpu_seconds()  # a damaged count is refused now, not after the resumed run has trained
        return run

    def save_config(self, config: TrainConfig) -> None:
        """Record a resumed run's new schedule (``epochs``), if it has one."""
        if config != self.config():
            atomic_write_json(self.config_file, config.to_dict())

    def config(self) -> TrainConfig:
        fix = "restore it from a copy, or train a new run"
        try:
            data = read_json_file(self.config_file, "the run's config")
        except ConfigError as exc:
            raise RunFolderError(f"{exc}: {fix}") from None
        try:
            return config_from_dict(data)
        except ConfigError as exc:
            raise RunFolderError(f"{self.config_file}: {exc}: {fix}") from None

    def record_data(self, fingerprint: dict) -> None:
        """Keep the fingerprint of the pictures a new run trains on (``check_data`` on resume)."""
        atomic_write_json(self.path / DATA_FILE, fingerprint)

    def check_data(self, fingerprint: dict) -> None:
        """Refuse to resume on pictures other than those the run was trained on."""
        fix = "resume with the data the run was trained on, or train a new run (nothing was changed)"
        try:
            stored = read_json_file(self.path / DATA_FILE, "the run's data fingerprint")
        except ConfigError as exc:
            raise RunFolderError(f"{exc}: {fix}") from None
        differing = sorted(key for key in set(stored) | set(fingerprint) if stored.get(key) != fingerprint.get(key))
        if differing:
            key = differing[0]
            raise RunFolderError(f"--resume with different data: {self.path} was trained on pictures with "
                                 f"{key}={stored.get(key)!r}, the data now has {fingerprint.get(key)!r}: {fix}")

    def has_checkpoint(self) -> bool:
        # tf.train.CheckpointManager writes its index file after the checkpoint it names.
        return (self.checkpoints / "checkpoint").is_file()

    # -- what a run records ---------------------------------------------------------

    def write_metrics(self, records: list[dict[str, Any]]) -> None:
        """Rewrite ``metrics.jsonl`` whole: cheap at one line per epoch, and never half-written."""
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        atomic_write_bytes(self.metrics_file, text.encode())

    def read_metrics(self) -> list[dict[str, Any]]:
        """The records of ``metrics.jsonl``, each checked to be an object with its epoch number."""
        if not self.metrics_file.exists():
            return []
        raw = self.metrics_file.read_bytes()
        fix = f"restore {self.metrics_file} from a copy, or delete its damaged lines (one line per epoch)"
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise RunFolderError(f"{self.metrics_file} is not UTF-8 text: byte {raw[exc.start]:#04x} at offset "
                                 f"{exc.start}: {fix}") from None
        records = []
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{self.metrics_file} line {number}"
            try:
                record = parse_json(line, where)
            except ConfigError as exc:
                raise RunFolderError(f"{exc}: {fix}") from None
            epoch = record.get("epoch") if isinstance(record, dict) else None
            if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 1:
                raise RunFolderError(f"{where} is not an epoch's metrics: expected a JSON object with an "
                                     f"\"epoch\" number of 1 or more, got {line[:60]!r}: {fix}")
            records.append(record)
        return records

    def add_cpu_seconds(self, seconds: float) -> float:
        """Add one training command's CPU time to the run's total, and return the total."""
        total = self.cpu_seconds() + seconds
        atomic_write_bytes(self.path / CPU_FILE, f"{total:.1f}\n".encode())
        return total

    def cpu_seconds(self) -> float:
        """The CPU time its training commands spent (0 for a run trained before it was counted)."""
        path = self.path / CPU_FILE
        if not path.exists():
            return 0.0
        text = path.read_text(errors="replace").strip()
        try:
            seconds = float(text)
        except ValueError:
            seconds = math.nan
        if not (math.isfinite(seconds) and seconds >= 0):
            raise RunFolderError(f"{path} is not a count of CPU seconds: expected one number of 0 or more, got "
                                 f"{text[:40]!r}: delete the file (the count restarts) or restore it from a copy")
        return seconds

    def save_samples(self, epoch: int, samples: np.ndarray) -> Path:
        path = self.samples / f"epoch_{epoch:04d}.npy"
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as f:
                np.save(f, samples)
        return path

    def load_samples(self) -> dict[int, np.ndarray]:
        return {
            int(p.stem.split("_")[1]): np.load(p, allow_pickle=False)
            for p in sorted(self.samples.glob("epoch_*.npy"))
        }
