"""The device install has no TensorFlow: importing and running gan_edge must not need it."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

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


def test_export_formats_and_export_help_load_no_tensorflow():
    # `gan-edge export --help` is built from export.formats, the formats' one definition:
    # neither may pull in the export pipeline, and TensorFlow with it.
    got = run_fresh(
        f"""
        import contextlib, io, json, sys
        from gan_edge.export.formats import FORMATS
        from gan_edge.cli.main import main
        text = io.StringIO()
        with contextlib.redirect_stdout(text), contextlib.suppress(SystemExit):
            main(["export", "--help"])
        print(json.dumps({{
            "loaded": [m for m in {HEAVY!r} + ("gan_edge.export.pipeline",) if m in sys.modules],
            "help": " ".join(text.getvalue().split()),
        }}))
        """
    )
    assert got["loaded"] == []
    assert "(default float32,int8,onnx)" in got["help"]
    assert "80 dB float32 and onnx, 60 dB float16" in got["help"]


# --- The import graph, read from the source (AST): no module is imported to check it.

ROOT = Path(__file__).resolve().parents[1]
# The workstation side and its toolchain (onnx itself is optional on the device too: manifest.py
# imports it lazily to embed a manifest).
WORKSTATION = ("gan_edge.training", "gan_edge.export", "tensorflow", "tf_keras", "keras", "tf2onnx",
               "tensorflow_model_optimization")
# Where each installed package's source lies in the checkout (pyproject's package-dir).
SOURCES = {"gan_edge": "gan_edge", "gan_edge.training": "training", "gan_edge.export": "export"}


def _modules(package: str) -> dict[str, Path]:
    found = {}
    folder = ROOT / SOURCES[package]
    for path in sorted(folder.rglob("*.py")):
        parts = (*package.split("."), *path.relative_to(folder).with_suffix("").parts)
        found[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return found


def _is_workstation(name: str) -> bool:
    return any(name == w or name.startswith(w + ".") for w in WORKSTATION)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) of every import in the file, function-level ones included;
    ``from a import b`` gives ``a.b`` (a module, or a name defined in ``a``)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def test_gan_edge_imports_no_workstation_module():
    # The device install: gan_edge outside its CLI reaches neither the training and
    # export sides nor TensorFlow, not even lazily inside a function. The CLI's
    # workstation commands may, inside the command.
    offending = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for module, path in _modules("gan_edge").items()
        if not module.startswith("gan_edge.cli")
        for line, name in _imports(path)
        if _is_workstation(name)
    ]
    assert offending == []


def test_no_import_cycles():
    # Between the project's modules, lazy imports inside functions included: a cycle
    # hidden in a function still ties two modules into one. ``from a import b`` is an
    # edge to the module ``a.b`` when there is one (a package re-exporting its
    # submodules is not a cycle with them), else to ``a``.
    modules = {**_modules("gan_edge"), **_modules("gan_edge.training"), **_modules("gan_edge.export")}
    graph = {}
    for module, path in modules.items():
        targets = {name if name in modules else name.rpartition(".")[0] for _, name in _imports(path)}
        graph[module] = {t for t in targets if t in modules and t != module}
    cycles = _cycles(graph)
    assert cycles == [], "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found
