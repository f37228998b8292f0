"""Hostile input to `gan-edge train` and `gan-edge export`: one line, exit status 2, and
nothing already written lost, overwritten or left half-made.

One tiny toy run (2 epochs of 2 rounds) is trained for the module; each resume test
damages a copy of it, and the export tests export it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gan_edge.cli.main import main
from gan_edge.errors import ConfigError, RunFolderError
from gan_edge.training.config import default_config, load_config_file

# 64 points in batches of 32: 2 rounds an epoch; evaluated only at the last epoch.
TINY = {"data_samples": 64, "batch_size": 32, "eval_samples": 100, "eval_every": 1000,
        "pretrain_discriminator": False}


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def _status(argv: list[str]) -> int:
    """main's exit status; argparse's own refusals (bad flag values) exit through SystemExit."""
    try:
        return main(argv)
    except SystemExit as exc:
        return exc.code


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    from gan_edge.training.train import train

    return train(default_config("toy2d").with_overrides({**TINY, "epochs": 2}),
                 tmp_path_factory.mktemp("trained") / "run").run.path


# --- train: refused before any folder is made -------------------------------------------

DIGITS_5000 = "9" * 5000


@pytest.mark.parametrize("flags, message", [
    (["--seed", "-1"], "seed must be in 0..4294967295 (what NumPy seeds with), got -1"),
    (["--seed", str(2**32)], "seed must be in 0..4294967295 (what NumPy seeds with), got 4294967296"),
    (["--seed", str(2**64)], "seed must be in 0..4294967295 (what NumPy seeds with), got 18446744073709551616"),
    (["--epochs", str(10**20)], "argument --epochs: expected a 64-bit integer, got 21 characters"),
    (["--epochs", "1000001"], "epochs must be at most 1,000,000, got 1000001"),
    (["--seed", DIGITS_5000], "argument --seed: expected a 64-bit integer, got 5,000 characters"),
    (["--seed", "1.5"], "argument --seed: expected an integer, got '1.5'"),
    (["--cpu-minutes", "0"], "argument --cpu-minutes: expected a number of minutes above 0, got '0'"),
    (["--cpu-minutes", "nan"], "argument --cpu-minutes: expected a number of minutes above 0, got 'nan'"),
    (["--cpu-minutes", "soon"], "argument --cpu-minutes: expected a number of minutes, got 'soon'"),
])
def test_train_flags_out_of_range_are_refused_before_the_run_folder(flags, message, tmp_path, capsys):
    assert _status(["train", "toy2d", *flags, "--out", str(tmp_path / "run")]) == 2
    assert message in _one_line_error(capsys)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("text, message", [
    ('{"seed": ' + DIGITS_5000 + "}", "holds an integer of 5,000 digits: expected at most 19 (a 64-bit number)"),
    ('{"epochs": 100000000000000000000}', "holds an integer of 21 digits: expected at most 19"),
    ('{"epochs": 1, "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
     "nests objects and lists more than 16 levels deep: expected at most 2"),
    # Brackets inside strings are text, not nesting.
    ('{"data_dir": "' + "[" * 100 + '", "epochs": -1}', "epochs must be 0 or more, got -1"),
    ('{"data_std": 1e400}', "data_std must be a finite number, got inf"),
    ('{"data_mean": [5, Infinity]}', "data_mean must be a finite number, got (5.0, inf)"),
    ('{"d_optimizer": {"learning_rate": Infinity}}', "learning_rate must be a finite number, got inf"),
    ('{"data_std": 1e38}', "data_mean [5.0, 5.0] and data_std 1e+38 would draw samples beyond float32's range"),
])
def test_train_config_files_out_of_bounds_are_refused_before_the_run_folder(text, message, tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(text)
    assert main(["train", "toy2d", "--config", str(config), "--out", str(tmp_path / "run")]) == 2
    assert message in _one_line_error(capsys)
    assert not (tmp_path / "run").exists()


def test_config_files_that_are_no_json_text_are_refused(tmp_path):
    binary = tmp_path / "binary.json"
    binary.write_bytes(b'{"epochs": \xff}')
    with pytest.raises(ConfigError, match=r"config file .*binary.json is not UTF-8 text: byte 0xff at offset 11$"):
        load_config_file(binary)
    huge = tmp_path / "huge.json"
    huge.write_bytes(b" " * (1 << 20) + b"{}")
    with pytest.raises(ConfigError, match=r"huge.json is over 1,048,576 bytes: expected a JSON config of a few KB"):
        load_config_file(huge)
    with pytest.raises(ConfigError, match=r"cannot read config file .*: Is a directory"):
        load_config_file(tmp_path)


def test_integers_wider_than_64_bits_are_refused_through_the_python_api():
    with pytest.raises(ConfigError, match=r"^batch_size must be a 64-bit integer, got 1180591620717411303424$"):
        default_config().with_overrides({"batch_size": 2**70})
    # Python cannot even print this one: the message gives its width.
    with pytest.raises(ConfigError, match=r"^epochs must be at most 1,000,000, got an integer of 16,610 bits$"):
        default_config().with_overrides({"epochs": 10**5000})
    with pytest.raises(ConfigError, match=r"^fade_images must be a 64-bit integer, got 18446744073709551616$"):
        default_config("progan").with_overrides({"growth": {"fade_images": 2**64}})


def test_a_pack_refusal_stays_quick_for_a_huge_batch():
    # The message lists divisors; for a batch of 10**15 it lists those up to 1,000.
    with pytest.raises(ConfigError, match=r"got 7: choose one of 1, 2, 4, 5, 8, .*, 1000, \.\.\.$"):
        default_config("ring8").with_overrides({"batch_size": 10**15, "pack": 7})


# --- train: a run refused after its folder was made takes it back --------------------------


def test_missing_data_is_refused_before_a_folder_is_made(tmp_path, capsys):
    # The data is loaded before the run folder is made (a first decode of a user's pictures
    # can take a while, and its refusals leave nothing behind).
    (tmp_path / "no-digits").mkdir()
    out = tmp_path / "made" / "for" / "run"
    assert main(["train", "dcgan", "--data-dir", str(tmp_path / "no-digits"), "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert "no MNIST files in" in err and "nothing of this run was kept" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["no-digits"]


def test_divergence_before_the_first_checkpoint_empties_a_folder_that_was_there(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**TINY, "d_optimizer": {"learning_rate": 1e30},
                                  "g_optimizer": {"learning_rate": 1e30}}))
    out = tmp_path / "run"
    out.mkdir()  # the user made it, empty: it stays, empty
    assert main(["train", "toy2d", "--epochs", "1", "--config", str(config), "--out", str(out)]) == 2
    err = _one_line_error(capsys)
    assert "training diverged at epoch 1" in err
    assert f"nothing of this run was kept: {out} was emptied again]" in err
    assert out.is_dir() and list(out.iterdir()) == []
    # The folder takes a new run, which a leftover config.json without a checkpoint refused.
    config.write_text(json.dumps(TINY))
    assert main(["train", "toy2d", "--epochs", "0", "--config", str(config), "--out", str(out)]) == 0


def test_a_run_with_a_checkpoint_is_kept_when_it_fails_later(tmp_path):
    from gan_edge.training.run import RunFolder

    run = tmp_path / "run"
    with pytest.raises(RuntimeError, match="power cut"):
        with RunFolder.new(run, default_config()) as folder:
            (folder.checkpoints / "checkpoint").write_text("model_checkpoint_path: 'ckpt-1'\n")
            raise RuntimeError("power cut")
    assert (run / "config.json").is_file() and (run / "checkpoints" / "checkpoint").is_file()


# --- resume: refused with the run folder exactly as it was --------------------------------


def _damaged_copy(trained: Path, tmp_path: Path, damage) -> Path:
    run = tmp_path / "run"
    shutil.copytree(trained, run)
    damage(run)
    return run


def _truncate(name: str, size: int):
    def damage(run: Path) -> None:
        (run / "checkpoints" / name).write_bytes((run / "checkpoints" / name).read_bytes()[:size])
    return damage


def _append_to(name: str, data: bytes):
    def damage(run: Path) -> None:
        with open(run / name, "ab") as f:
            f.write(data)
    return damage


def _replace(name: str, data: bytes):
    return lambda run: (run / name).write_bytes(data)


@pytest.mark.parametrize("damage, message", [
    (_truncate("ckpt-2.data-00000-of-00001", 100),
     "ckpt-2 cannot be read (Read less bytes than requested): the checkpoint is damaged"),
    (_truncate("ckpt-2.index", 100), "ckpt-2 cannot be read (not an sstable (bad magic number))"),
    (_append_to("metrics.jsonl", b"{bad\n"), "metrics.jsonl line 3 is not valid JSON"),
    (_append_to("metrics.jsonl", b'{"d_loss": 1.0}\n'),
     "metrics.jsonl line 3 is not an epoch's metrics: expected a JSON object with an \"epoch\" number"),
    (_append_to("metrics.jsonl", b'{"epoch": 3, "d_loss": ' + DIGITS_5000.encode() + b"}\n"),
     "metrics.jsonl line 3 holds an integer of 5,000 digits"),
    (_append_to("metrics.jsonl", b'{"epoch": 3, "note": "\xff"}\n'),
     "metrics.jsonl is not UTF-8 text: byte 0xff at offset"),
    (_replace("config.json", b'{"epochs": \xff}'), "config.json is not UTF-8 text: byte 0xff at offset 11"),
    (_replace("config.json", b"[" * 100_000), "config.json nests objects and lists more than 16 levels deep"),
])
def test_a_damaged_run_refuses_to_resume_and_is_left_as_it_was(trained, tmp_path, capsys, damage, message):
    run = _damaged_copy(trained, tmp_path, damage)
    before = _files(run)
    assert main(["train", "toy2d", "--epochs", "3", "--out", str(run), "--resume"]) == 2
    err = _one_line_error(capsys)
    assert message in err, err
    assert "restore" in err and "from a copy" in err  # the fix
    assert _files(run) == before  # config.json (epochs 2), metrics.jsonl, checkpoints, all byte for byte


def test_a_refused_resume_writes_its_epochs_only_once_it_succeeds(trained, tmp_path, capsys):
    good = (trained / "metrics.jsonl").read_bytes()
    run = _damaged_copy(trained, tmp_path, _append_to("metrics.jsonl", b"{}\n"))
    argv = ["train", "toy2d", "--epochs", "3", "--out", str(run), "--resume"]
    assert main(argv) == 2
    assert json.loads((run / "config.json").read_text())["epochs"] == 2
    (run / "metrics.jsonl").write_bytes(good)  # the user repairs the file
    assert main(argv) == 0
    assert json.loads((run / "config.json").read_text())["epochs"] == 3
    assert [json.loads(line)["epoch"] for line in (run / "metrics.jsonl").read_text().splitlines()] == [1, 2, 3]


def test_the_runs_config_with_a_bad_value_names_the_file_and_the_fix(tmp_path):
    from gan_edge.training.run import RunFolder

    (tmp_path / "config.json").write_text('{"seed": -5}')
    with pytest.raises(RunFolderError) as caught:
        RunFolder.open(tmp_path).config()
    assert str(caught.value) == (f"{tmp_path / 'config.json'}: seed must be in 0..4294967295 (what NumPy seeds "
                                 "with), got -5: restore it from a copy, or train a new run")


# --- export: all formats or none ------------------------------------------------------------


def test_an_export_whose_later_format_fails_writes_nothing(trained, tmp_path, capsys):
    out = tmp_path / "art"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "report.json").write_text('{"an": "earlier export"}')
    before = _files(out)
    assert main(["export", str(trained), "--formats", "float32,int8", "--min-psnr", "int8=200",
                 "--out", str(out)]) == 2
    printed = capsys.readouterr()
    assert "wrote" not in printed.out  # no line for what was not written
    err = printed.err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert "int8 artifact refused: psnr_db" in err and "is below the gate 200.0 dB" in err
    assert (f"[an export writes all its formats or none: float32 passed its gate but was not written either; "
            f"{out} is as it was]") in err
    assert _files(out) == before and sorted(p.name for p in out.iterdir()) == ["notes.txt", "report.json"]


def test_a_refused_export_creates_no_folder(trained, tmp_path, capsys):
    assert main(["export", str(trained), "--formats", "float32,int8", "--min-psnr", "int8=200",
                 "--out", str(tmp_path / "new" / "art")]) == 2
    _one_line_error(capsys)
    assert list(tmp_path.iterdir()) == []  # neither the folder nor a staging folder beside it


def test_an_export_into_a_folder_holding_files_adds_its_artifacts(trained, tmp_path, capsys):
    out = tmp_path / "art"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    assert main(["export", str(trained), "--formats", "float32", "--out", str(out)]) == 0
    assert f"wrote {out / 'generator_float32.tflite'}" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == [
        "figures", "generator_float32.tflite", "generator_float32.tflite.manifest.json", "notes.txt", "report.json"]
    assert (out / "notes.txt").read_text() == "mine" and (out / "figures" / "fidelity.png").is_file()
    assert [a["file"] for a in json.loads((out / "report.json").read_text())["artifacts"]] == [
        "generator_float32.tflite"]


def test_an_export_under_a_file_is_refused_before_any_work(trained, tmp_path, capsys):
    (tmp_path / "taken").write_text("a file")
    assert main(["export", str(trained), "--formats", "float32", "--out", str(tmp_path / "taken" / "art")]) == 2
    assert (f"{tmp_path / 'taken'} is a file, expected a folder to hold the artifacts: pass another --out "
            f"than {tmp_path / 'taken' / 'art'} (nothing was written)") in _one_line_error(capsys)
    assert (tmp_path / "taken").read_text() == "a file"


@pytest.mark.parametrize("kwargs, message", [
    ({"batch_sizes": (4097,)}, "batch sizes must be at most 4,096 (GPU delegates want 1 to 8), got 4097"),
    ({"min_psnr_db": {"int8": float("nan")}}, "min_psnr_db['int8'] must be a finite number of dB, got nan"),
    ({"min_psnr_db": {"int8": float("-inf")}}, "min_psnr_db['int8'] must be a finite number of dB, got -inf"),
    ({"formats": ("qat",), "qat_epochs": 1_000_001},
     "qat epochs must be an int from 0 to 1,000,000 (--qat-epochs), got 1000001"),
])
def test_export_arguments_out_of_bounds_are_refused_before_any_work(trained, tmp_path, kwargs, message):
    from gan_edge.export import export_run

    with pytest.raises(ConfigError) as caught:
        export_run(trained, tmp_path / "art", **kwargs)
    assert str(caught.value) == message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("flags, message", [
    (["--batch", "1," + DIGITS_5000], "batch sizes must be positive integers (e.g. --batch 1,8), got "
                                      "'999999999999... (5,000 characters)'"),
    (["--formats", "qat", "--qat-epochs", DIGITS_5000],
     "argument --qat-epochs: expected a 64-bit integer, got 5,000 characters"),
])
def test_export_flags_of_thousands_of_digits_are_refused_in_a_short_line(trained, tmp_path, capsys, flags, message):
    assert _status(["export", str(trained), *flags, "--out", str(tmp_path / "art")]) == 2
    err = _one_line_error(capsys)
    assert message in err and len(err) < 200
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("damage, message", [
    (_truncate("ckpt-2.data-00000-of-00001", 100), "ckpt-2 cannot be read (Read less bytes than requested)"),
    (_truncate("ckpt-2.index", 100), "ckpt-2 cannot be read (not an sstable (bad magic number))"),
])
def test_an_export_of_a_damaged_checkpoint_is_refused_in_one_line(trained, tmp_path, capsys, damage, message):
    run = _damaged_copy(trained, tmp_path, damage)
    assert main(["export", str(run), "--formats", "float32", "--out", str(tmp_path / "art")]) == 2
    err = _one_line_error(capsys)
    assert message in err and "the checkpoint is damaged; restore" in err
    assert not (tmp_path / "art").exists()
