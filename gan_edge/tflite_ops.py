"""Names of TFLite operators, read from a model's operator codes (LiteRT's schema, no TensorFlow).

The one lookup every reader of .tflite files here uses: ``gan_edge.macs``, the
export's op-list check (``gan_edge.export.tflite.builtin_op_names``), the C emitter
(``gan_edge.export.c_ops``) and the benchmarks.
"""

from __future__ import annotations

__all__ = ["op_name"]


def op_name(builtin_code: int, deprecated_builtin_code: int, custom_code: bytes | None = None) -> str:
    """``CONV_2D`` for a builtin operator, a custom operator's own name (``?`` when
    ``custom_code`` is not given), or the code's number when this schema does not know it."""
    from ai_edge_litert import schema_py_generated as schema

    # Builtin codes past 127 live in builtin_code; older files only fill the deprecated byte.
    builtin = max(builtin_code, deprecated_builtin_code)
    if builtin == schema.BuiltinOperator.CUSTOM:
        return (custom_code or b"?").decode()
    names = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
    return names.get(builtin, str(builtin))
