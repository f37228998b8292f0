"""The device install has no TensorFlow: importing and running gan_edge must not need it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

HEAVY = ("tensorflow", "tf_keras", "keras", "onnx", "onnxruntime", "ai_edge_litert")


def run_fresh(code: str) -> dict:
    """Run ``code`` in a new interpreter; it prints one JSON line, returned here."""
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_import_loads_no_runtime():
    got = run_fresh(
        f"""
        import json, sys
        import gan_edge
        print(json.dumps({{
            "loaded": [m for m in {HEAVY!r} if m in sys.modules],
            "all": sorted(gan_edge.__all__),
            "version": gan_edge.__version__,
        }}))
        """
    )
    # Not even the backends: they are imported when a model is loaded.
    assert got["loaded"] == []
    assert got["version"] == "0.1.0"
    for name in ("load", "Generator", "Manifest", "GanEdgeError", "ModelFileError",
                 "ManifestError", "InputError", "BackendUnavailable"):
        assert name in got["all"]


def test_load_and_generate_tflite_without_tensorflow(runtime_export):
    sidecar = runtime_export("int8")
    embedded = runtime_export("float32", sidecar=False, embed=True)
    got = run_fresh(
        f"""
        import json, sys
        import gan_edge
        shapes = [list(gan_edge.load(p).generate(3, seed=0).shape) for p in ({str(sidecar)!r}, {str(embedded)!r})]
        print(json.dumps({{"shapes": shapes, "loaded": [m for m in sys.modules if m.split(".")[0] in ("tensorflow", "tf_keras", "keras")]}}))
        """
    )
    assert got["shapes"] == [[3, 2], [3, 2]]
    assert got["loaded"] == []
