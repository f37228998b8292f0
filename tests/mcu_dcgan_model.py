"""The mcu-preset DCGAN generator (``gan-edge train dcgan --preset mcu``) as a full-int8
TFLite model, built once per test session for tests/test_c_module.py and
tests/test_mcu_qemu.py: random weights (seeded), no training, the real lowering and int8
conversion of export/tflite.py, the manifest as a sidecar. Untrained, but the graph, the
ops and the quantization a user's export has. About 15 s on 2 cores.
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

import numpy as np


@functools.lru_cache(maxsize=1)
def mcu_dcgan_int8(seed: int = 0) -> Path:
    import tf_keras as keras

    from conftest import _runtime_manifest_for
    from gan_edge.export.source import TrainedGenerator
    from gan_edge.export.tflite import to_int8
    from gan_edge.latent import sample_latent
    from gan_edge.manifest import write_manifest
    from gan_edge.training.config import default_config
    from gan_edge.training.models import model_family

    config = default_config("dcgan", "mcu")
    family = model_family("dcgan")
    keras.utils.set_random_seed(seed)
    generator = family.build_generator(config)
    # Batch-norm statistics away from the identity, as training leaves them.
    bn = generator.get_layer("bn")
    rng = np.random.default_rng(seed)
    units = bn.moving_mean.shape[0]
    bn.set_weights([rng.uniform(0.5, 2.0, units), rng.normal(0, 0.2, units),
                    rng.normal(0, 0.1, units), rng.uniform(0.01, 0.2, units)])
    trained = TrainedGenerator(generator, config, family, None, "")
    calibration = sample_latent(config.latent_distribution, 200, config.latent_dim, rng)
    model = to_int8(trained, calibration)

    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=model)
    int8_io = tuple(tuple(d["quantization"]) for d in (interpreter.get_input_details()[0],
                                                        interpreter.get_output_details()[0]))
    path = Path(tempfile.mkdtemp(prefix="mcu-dcgan-")) / "generator_int8.tflite"
    path.write_bytes(model)
    write_manifest(path, _runtime_manifest_for("int8", path.name, int8_io, latent_dim=config.latent_dim,
                                               latent_distribution=config.latent_distribution,
                                               output_shape=(28, 28, 1), output_range=(-1.0, 1.0),
                                               calibration_samples=len(calibration)))
    return path
