"""gan_edge.bench and the `bench` / `devices` commands, on the tiny runtime_models exports."""

from __future__ import annotations

import csv
import json

import pytest

from gan_edge.bench import BenchRow, bench_model, environment, summarize, time_bare_litert
from gan_edge.cli.main import main


@pytest.mark.parametrize("variant", ["int8", "static4", "onnx"])
def test_bench_rows_have_every_field_and_ordered_percentiles(runtime_export, variant):
    rows = bench_model(runtime_export(variant), threads=(1, 2), batches=(1, 5), runs=20, warmup=2)
    assert [(r.threads, r.batch) for r in rows] == [(1, 1), (1, 5), (2, 1), (2, 5)]
    for row in rows:
        assert isinstance(row, BenchRow) and row.timing.runs == 20
        t = row.timing
        assert 0 < t.min_us <= t.p50_us <= t.p90_us <= t.p99_us <= t.max_us
        assert t.min_us <= t.mean_us <= t.max_us and t.std_us >= 0
        assert row.init_us > 0 and row.first_us > 0 and row.peak_rss_mb > 0 and row.model_bytes > 0
        assert row.samples_per_s == pytest.approx(row.batch * 1e6 / t.mean_us)
        flat = row.to_dict()
        assert {"p50_us", "p99_us", "samples_per_s", "artifact", "backend"} <= set(flat)


def test_summarize_keeps_microsecond_precision():
    t = summarize([1500, 2500, 3500])  # ns
    assert t.p50_us == 2.5 and t.min_us == 1.5 and t.max_us == 3.5


def test_bare_interpreter_and_environment(runtime_export):
    assert time_bare_litert(runtime_export("int8"), batch=3, runs=10, warmup=1).p50_us > 0
    env = environment()
    assert env["python"] and env["numpy"] and env["ai_edge_litert"] and env["cpu_count"]


def test_cli_bench_prints_and_writes(runtime_export, tmp_path, capsys):
    paths = [runtime_export("int8"), runtime_export("onnx")]
    out_json, out_csv = tmp_path / "b.json", tmp_path / "b.csv"
    args = ["bench", *map(str, paths), "--threads", "1,2", "--batch", "1,7", "--runs", "5", "--warmup", "1"]
    assert main(args + ["--json", str(out_json), "--csv", str(out_csv)]) == 0
    printed = capsys.readouterr().out
    assert "p50 us" in printed and "gen_int8.tflite" in printed and "gen_onnx.onnx" in printed
    assert "--graph=/data/local/tmp/gen_int8.tflite --num_threads=4 --use_gpu=true" in printed
    data = json.loads(out_json.read_text())
    assert len(data["rows"]) == 8 and data["environment"]["numpy"]
    with open(out_csv) as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and float(rows[0]["p50_us"]) <= float(rows[0]["p99_us"])


@pytest.mark.parametrize(
    "extra, expected",
    [
        (["--threads", "0"], "threads must be a positive int, got 0"),
        (["--batch", "0"], "batch must be a positive int, got 0"),
        (["--batch", "-4"], "batch must be a positive int, got -4"),
        (["--batch", "x"], "--batch must be comma-separated integers"),
        (["--runs", "0"], "runs must be a positive int, got 0"),
        (["--json", "out.txt"], "--json must end in .json"),
    ],
)
def test_cli_bench_bad_input(runtime_export, capsys, extra, expected):
    assert main(["bench", str(runtime_export("float32")), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("gan-edge bench: error: ") and expected in err


def test_cli_bench_missing_model(tmp_path, capsys):
    assert main(["bench", str(tmp_path / "nope.tflite")]) == 2
    err = capsys.readouterr().err
    assert err == f"gan-edge bench: error: no model file at {tmp_path / 'nope.tflite'}\n"


def test_cli_devices(runtime_export, capsys):
    assert main(["devices"]) == 0
    printed = capsys.readouterr().out
    assert "LiteRT (ai-edge-litert)" in printed and "XNNPACK" in printed and "ONNX Runtime" in printed
    assert main(["devices", "--probe", str(runtime_export("int8"))]) == 0
    assert "CompiledModel CPU      works" in capsys.readouterr().out


def test_cli_devices_probe_checks_the_file_first(runtime_export, capsys):
    """--probe reads the model as gan_edge.load does: a changed file never reaches LiteRT."""
    path = runtime_export("int8", sidecar=False, embed=True)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x40
    path.write_bytes(bytes(data))
    assert main(["devices", "--probe", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gan-edge devices: error: ") and "\n" == err[-1] and err.count("\n") == 1
    assert "gen_int8.tflite" in err
    onnx = runtime_export("onnx")
    assert main(["devices", "--probe", str(onnx)]) == 2
    assert "--probe compiles a .tflite model with LiteRT, got gen_onnx.onnx" in capsys.readouterr().err
