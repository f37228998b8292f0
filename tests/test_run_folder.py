"""Run folders: what a run writes, and what it refuses to overwrite."""

import json

import pytest

from gan_edge.errors import RunFolderError
from gan_edge.training.config import default_config
from gan_edge.training.run import RunFolder


def test_create_writes_config_and_folders(tmp_path):
    config = default_config().with_overrides({"epochs": 2})
    run = RunFolder.create(tmp_path / "run", config)
    assert json.loads(run.config_file.read_text())["epochs"] == 2
    assert run.checkpoints.is_dir() and run.samples.is_dir() and run.figures.is_dir()
    assert RunFolder.open(run.path).config() == config


def test_an_empty_existing_folder_is_used(tmp_path):
    RunFolder.create(tmp_path, default_config())
    assert (tmp_path / "config.json").is_file()


def test_a_folder_holding_another_run_is_refused_and_kept(tmp_path):
    RunFolder.create(tmp_path / "run", default_config().with_overrides({"seed": 1}))
    before = (tmp_path / "run" / "config.json").read_bytes()
    with pytest.raises(RunFolderError, match="already holds another run"):
        RunFolder.create(tmp_path / "run", default_config())
    assert (tmp_path / "run" / "config.json").read_bytes() == before


def test_a_folder_holding_other_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(RunFolderError, match="already holds other files"):
        RunFolder.create(tmp_path, default_config())
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_open_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(RunFolderError, match="no run folder at"):
        RunFolder.open(tmp_path / "missing")
    with pytest.raises(RunFolderError, match="has no config.json"):
        RunFolder.open(tmp_path)
    (tmp_path / "config.json").write_text('{"epochs": -2}')
    with pytest.raises(RunFolderError, match="epochs must be 0 or more, got -2"):
        RunFolder.open(tmp_path).config()


def test_metrics_round_trip(tmp_path):
    run = RunFolder.create(tmp_path, default_config())
    records = [{"epoch": 1, "d_loss": 1.3}, {"epoch": 2, "d_loss": 1.2}]
    run.write_metrics(records)
    assert run.read_metrics() == records
    assert len(run.metrics_file.read_text().splitlines()) == 2
