"""Put the manifest inside an exported model, stamped with the model's content hash.

``embed_in_tflite(model_bytes, manifest)`` adds it to a .tflite flatbuffer's
``metadata`` list; ``embed_in_onnx`` to an .onnx model's ``metadata_props``. Both
return the new bytes with the manifest's ``content_sha256`` filled in (see
gan_edge.manifest.content_sha256): a copy of the model without its sidecar is
then checked by ``gan_edge.load`` byte for byte. ``stamp_content_hash`` does the
last step alone, for bytes that already hold an unstamped manifest.

Export side: repacking needs ``flatbuffers`` (and ``onnx`` for ONNX), which the
edge install does not.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gan_edge.errors import BackendUnavailable, InputError, ModelFileError
from gan_edge.manifest import METADATA_KEY, UNSTAMPED, Manifest, content_hash_marker, content_sha256

__all__ = ["embed_in_onnx", "embed_in_tflite", "stamp_content_hash"]


def stamp_content_hash(model_bytes: bytes) -> bytes:
    """``model_bytes`` with its embedded manifest's UNSTAMPED content hash replaced by the real one."""
    digest = content_sha256(model_bytes, UNSTAMPED)
    if digest is None:
        raise ModelFileError("cannot stamp the content hash: the model does not hold exactly one "
                             "unstamped gan-edge manifest")
    return bytes(model_bytes).replace(content_hash_marker(UNSTAMPED), content_hash_marker(digest))


def _payload(manifest: Manifest) -> str:
    """The manifest as embedded: no sha256 (a file cannot contain its own), the content hash to stamp."""
    return dataclasses.replace(manifest, sha256=None, content_sha256=UNSTAMPED).to_json()



# The schema declares buffer data `force_align: 16`; flatbuffers' Python packer
# ignores that, and some kernels on 32-bit boards read weights with aligned loads.
_BUFFER_ALIGNMENT = 16


def _tflite_schema():
    from ai_edge_litert import schema_py_generated

    return schema_py_generated


def _check_tflite_bytes(model_bytes: bytes) -> None:
    if not isinstance(model_bytes, (bytes, bytearray, memoryview)):
        raise InputError(f"model_bytes must be bytes, got {type(model_bytes).__name__}")
    if len(model_bytes) < 8 or bytes(model_bytes[4:8]) != b"TFL3":
        raise ModelFileError(
            f"not a TFLite model: expected the file identifier b'TFL3' at bytes 4..8, "
            f"got {bytes(model_bytes[4:8])!r}"
        )


def _name(value: bytes | str | None) -> str | None:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def embed_in_tflite(model_bytes: bytes, manifest: Manifest) -> bytes:
    """Return ``model_bytes`` with ``manifest`` in its ``metadata`` list.

    The manifest goes in without its sha256 (a file cannot contain its own hash)
    under the name ``gan_edge_manifest``, replacing an earlier entry of that name.
    Models whose buffers live outside the flatbuffer (offset/size, used past 2 GB)
    are refused: repacking them would drop their weights.
    """
    import flatbuffers
    import numpy as np

    schema = _tflite_schema()
    _check_tflite_bytes(model_bytes)
    model_bytes = bytes(model_bytes)
    try:
        model = schema.ModelT.InitFromPackedBuf(model_bytes, 0)
    except Exception as exc:  # a corrupt flatbuffer fails anywhere in the generated code
        raise ModelFileError(f"cannot parse the TFLite flatbuffer: {exc!r}") from None
    buffers = model.buffers or []
    external = [i for i, b in enumerate(buffers) if b.offset > 1]
    if external:
        raise ModelFileError(
            f"cannot embed a manifest in a TFLite model whose buffers {external[:5]} are "
            f"stored outside the flatbuffer (offset/size): use the sidecar manifest only"
        )

    payload = np.frombuffer(_payload(manifest).encode("utf-8"), dtype=np.uint8)
    metadata = list(model.metadata or [])
    ours = [m for m in metadata if _name(m.name) == METADATA_KEY]
    if ours:
        # Reuse the buffer we wrote last time rather than leaving it orphaned.
        index = ours[0].buffer
        metadata = [m for m in metadata if _name(m.name) != METADATA_KEY]
    else:
        index = len(buffers)
        buffers.append(None)
    buffers[index] = schema.BufferT(data=payload)
    entry = schema.MetadataT()
    entry.name = METADATA_KEY
    entry.buffer = index
    metadata.append(entry)
    model.metadata = metadata
    model.buffers = [_AlignedBuffer.wrap(b, schema) for b in buffers]

    builder = flatbuffers.Builder(len(model_bytes) + payload.size + 1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return stamp_content_hash(bytes(builder.Output()))


class _AlignedBuffer:
    """A ``BufferT`` whose data vector is packed 16-byte aligned (see _BUFFER_ALIGNMENT)."""

    def __init__(self, buffer: Any) -> None:
        self._buffer = buffer

    @classmethod
    def wrap(cls, buffer: Any, schema: Any) -> Any:
        return cls(buffer if buffer is not None else schema.BufferT())

    def Pack(self, builder: Any) -> int:  # noqa: N802 - the flatbuffers object-API name
        data = self._buffer.data
        if data is not None and len(data):
            # Pad now so the vector's payload ends up on a 16-byte boundary; the
            # generated Pack then writes it without further padding.
            builder.Prep(_BUFFER_ALIGNMENT, len(data))
        return self._buffer.Pack(builder)


# --- embedded in an .onnx model -------------------------------------------------------


def embed_in_onnx(model_bytes: bytes, manifest: Manifest) -> bytes:
    """Return ``model_bytes`` with ``manifest`` in ``metadata_props['gan_edge_manifest']``.

    Export side only: needs the ``onnx`` package (``pip install gan-edge[export]``).
    """
    try:
        import onnx
    except ImportError:
        raise BackendUnavailable(
            "embedding a manifest in an ONNX model needs the onnx package: "
            "pip install gan-edge[export]"
        ) from None
    try:
        model = onnx.load_from_string(bytes(model_bytes))
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ModelFileError(f"cannot parse the ONNX model: {exc!r}") from None
    kept = [p for p in model.metadata_props if p.key != METADATA_KEY]
    del model.metadata_props[:]
    model.metadata_props.extend(kept)
    model.metadata_props.add(key=METADATA_KEY, value=_payload(manifest))
    return stamp_content_hash(model.SerializeToString())
