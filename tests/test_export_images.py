"""DCGAN export with the image view of fidelity: FCD, digits covered, precision and recall
per artifact in report.json beside the float generator's, the coverage gate, and the
digit-grid fidelity figure.

One tiny DCGAN run is trained and exported (float32 + int8) once for the module.
"""

import json

import numpy as np
import pytest

from gan_edge.export import export_run, fidelity
from gan_edge.export.tflite import ExportError

IMAGE_METRICS = ("fcd", "classes_covered", "precision", "recall", "coverage")


@pytest.fixture(scope="module")
def exported(tiny_dcgan_run):
    out = tiny_dcgan_run / "images-export"
    export_run(tiny_dcgan_run, out, formats=("float32", "int8"), fidelity_samples=500)
    return out, json.loads((out / "report.json").read_text())


def test_report_has_image_task_metrics(exported):
    _, report = exported
    assert report["model"] == "dcgan" and report["fidelity_samples"] == 500 and report["coverage_gate"] is True
    assert set(IMAGE_METRICS) <= set(report["float_generator"])
    entries = {a["variant"]: a for a in report["artifacts"]}
    assert set(entries) == {"float32", "int8"}
    for entry in entries.values():
        for name in IMAGE_METRICS:
            assert np.isfinite(entry[name]), (entry["variant"], name)
        assert 0 <= entry["classes_covered"] <= 10
        assert entry["psnr_db"] >= entry["min_psnr_db"]
    # The float32 artifact is the float generator up to operator rounding: the same digits.
    assert entries["float32"]["classes_covered"] == report["float_generator"]["classes_covered"]
    assert abs(entries["float32"]["fcd"] - report["float_generator"]["fcd"]) < 1e-3
    assert entries["int8"]["size_vs_float32"] <= 0.27


def test_image_fidelity_figure_is_written(exported):
    folder, _ = exported
    figure = folder / "figures" / "fidelity.png"
    assert figure.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [p for p in figure.parent.iterdir() if p.name.startswith(".")]


def test_coverage_gate_refuses_an_artifact_that_lost_a_digit():
    float_shares = np.array([0.2, 0.2, 0.2, 0.2, 0.015, 0.185, 0, 0, 0, 0])
    # A digit on the 1% line that drops to 0.6% is not a lost digit...
    fidelity.check_task_gate("int8", np.array([0.2, 0.2, 0.2, 0.2, 0.006, 0.194, 0, 0, 0, 0]), float_shares)
    # ... one that vanished is.
    with pytest.raises(ExportError, match=r"int8 artifact refused: it lost digit\(s\) 4 "):
        fidelity.check_task_gate("int8", np.array([0.2, 0.2, 0.2, 0.2, 0.0, 0.2, 0, 0, 0, 0]), float_shares)
