"""The run folder: the unit of training state.

    RUN_DIR/
      config.json      the resolved config (what ``export`` rebuilds the models from)
      metrics.jsonl    one JSON object per epoch, the names of ``gan_edge.training.loop`` + metrics
      tensorboard/     the same scalars for TensorBoard
      checkpoints/     tf.train.CheckpointManager checkpoints
      samples/         generated points kept at the snapshot epochs (.npy)
      figures/         PNG figures

A folder that already holds something else is refused, so a run never overwrites
another run's files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gan_edge.errors import ConfigError, RunFolderError
from gan_edge.io import atomic_path, atomic_write_bytes, atomic_write_json
from gan_edge.training.config import TrainConfig, config_from_dict

__all__ = ["RunFolder"]

CONFIG_FILE = "config.json"
METRICS_FILE = "metrics.jsonl"


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
        if config.epochs != stored.epochs:
            atomic_write_json(run.config_file, config.to_dict())
        return run

    def config(self) -> TrainConfig:
        try:
            data = json.loads(self.config_file.read_text())
        except json.JSONDecodeError as exc:
            raise RunFolderError(f"{self.config_file} is not valid JSON: {exc}") from None
        try:
            return config_from_dict(data)
        except ConfigError as exc:
            raise RunFolderError(f"{self.config_file}: {exc}") from None

    # -- what a run records ---------------------------------------------------------

    def write_metrics(self, records: list[dict[str, Any]]) -> None:
        """Rewrite ``metrics.jsonl`` whole: cheap at one line per epoch, and never half-written."""
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
        atomic_write_bytes(self.metrics_file, text.encode())

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_file.exists():
            return []
        return [json.loads(line) for line in self.metrics_file.read_text().splitlines() if line]

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
