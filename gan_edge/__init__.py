"""gan-edge on the device: load an exported GAN generator and draw samples.

    import gan_edge
    gen = gan_edge.load("gen_int8.tflite")      # reads gen_int8.tflite.manifest.json
    images = gen.generate(16, seed=0)           # float32 (16, *gen.output_shape)

Needs numpy and ai-edge-litert only; ONNX models need ``pip install gan-edge[onnx]``.
Backends and the flatbuffer schema are imported when first used, not here.
"""

from gan_edge.errors import (
    BackendUnavailable,
    ConfigError,
    GanEdgeError,
    InputError,
    ManifestError,
    ModelFileError,
    RunFolderError,
)
from gan_edge.generator import Generator, load
from gan_edge.manifest import Manifest, Quantization

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "load",
    "Generator",
    "Manifest",
    "Quantization",
    "GanEdgeError",
    "ConfigError",
    "RunFolderError",
    "ModelFileError",
    "ManifestError",
    "InputError",
    "BackendUnavailable",
]
