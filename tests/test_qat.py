"""Quantization-aware export (format ``qat``): the BatchNormalization fold is exact, the
fine-tuned DCGAN converts to a full-int8 artifact with int8 weights in every
FULLY_CONNECTED op, it loads and generates through ``gan_edge``, and a layer tfmot
cannot quantize is refused by name before any work.

One tiny DCGAN run is trained and exported (float32 + qat) once for the module.
"""

import json

import numpy as np
import pytest

import gan_edge
from gan_edge.export import export_run
from gan_edge.export.qat import check_quantizable, fold_batch_norm
from gan_edge.export.tflite import ExportError
from gan_edge.cli.main import main
from gan_edge.training.config import default_config
from gan_edge.training.models import model_family



@pytest.fixture(scope="module")
def qat_export(tiny_dcgan_run):
    run = tiny_dcgan_run
    epochs = []
    artifacts = export_run(run, run / "qat-export", formats=("float32", "qat"), fidelity_samples=500,
                           qat_epochs=1, on_qat_epoch=epochs.append)
    return run, {a.variant: a for a in artifacts}, epochs


def test_batch_norm_fold_equals_the_original():
    import tf_keras as keras

    config = default_config("dcgan")
    generator = model_family("dcgan").build_generator(config)
    keras.utils.set_random_seed(1)
    bn = generator.get_layer("bn")
    # Statistics far from the identity, so a wrong fold cannot pass by accident.
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 2.0, 6272).astype(np.float32), rng.normal(0, 0.5, 6272).astype(np.float32),
                    rng.normal(0, 0.5, 6272).astype(np.float32), rng.uniform(0.2, 3.0, 6272).astype(np.float32)])
    latents = rng.uniform(-1, 1, (64, config.latent_dim)).astype(np.float32)
    folded = fold_batch_norm(generator, latents)  # checks 1e-4 itself
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    assert [layer.name for layer in folded.layers] == [l.name for l in generator.layers if l.name != "bn"]
    difference = np.abs(folded(latents, training=False).numpy() - generator(latents, training=False).numpy())
    assert difference.max() <= 1e-4


def test_qat_artifact_is_full_int8_and_generates(qat_export):
    from ai_edge_litert import schema_py_generated as schema

    run, artifacts, epochs = qat_export
    assert [record["epoch"] for record in epochs] == [1] and np.isfinite(epochs[0]["g_loss"])
    artifact = artifacts["qat"]
    model = schema.ModelT.InitFromPackedBuf(artifact.path.read_bytes(), 0)
    graph = model.subgraphs[0]
    fully_connected = [op for op in graph.operators
                       if max(model.operatorCodes[op.opcodeIndex].builtinCode,
                              model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode)
                       == schema.BuiltinOperator.FULLY_CONNECTED]
    assert len(fully_connected) == 2  # Dense(1024) and the folded Dense(6272)
    for op in fully_connected:
        assert graph.tensors[op.inputs[1]].type == schema.TensorType.INT8
    assert graph.tensors[graph.inputs[0]].type == schema.TensorType.INT8
    assert graph.tensors[graph.outputs[0]].type == schema.TensorType.INT8
    # No float Dense survives: the file is about a quarter of the float32 one.
    assert artifact.size_bytes <= 0.27 * artifacts["float32"].size_bytes

    images = gan_edge.load(artifact.path).generate(6, seed=0)
    assert images.shape == (6, 28, 28, 1) and images.dtype == np.float32 and np.isfinite(images).all()
    report = json.loads((run / "qat-export" / "report.json").read_text())
    entry = next(a for a in report["artifacts"] if a["variant"] == "qat")
    assert report["qat_epochs"] == 1
    assert entry["qat_model_psnr_db"] >= entry["min_psnr_db"]
    assert {"psnr_db", "fcd", "classes_covered", "precision", "recall"} <= set(entry)


def test_an_unquantizable_layer_is_refused_by_name():
    import tf_keras as keras

    model = keras.Sequential([keras.layers.Input((4,)), keras.layers.Dense(8, name="hidden"),
                              keras.layers.LayerNormalization(name="odd_norm"), keras.layers.Dense(2)])
    with pytest.raises(ExportError, match=r"qat cannot quantize layer 'odd_norm' \(LayerNormalization\)"):
        check_quantizable(fold_batch_norm(model))


def test_cli_refuses_qat_of_an_unquantizable_generator_in_one_line(qat_export, tmp_path, capsys, monkeypatch):
    import tf_keras as keras

    from gan_edge.training.models import dcgan

    run, _, _ = qat_export
    build = dcgan.build_generator

    def with_noise(config):
        model = build(config)
        # A weightless layer (the checkpoint still loads) that tfmot has no int8 scheme for.
        return keras.Sequential([keras.layers.Input((config.latent_dim,), name="latent"), *model.layers,
                                 keras.layers.GaussianNoise(0.1, name="odd_noise")],
                                name="generator")

    monkeypatch.setattr(dcgan, "build_generator", with_noise)
    out = tmp_path / "out"
    assert main(["export", str(run), "--formats", "qat", "--qat-epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "qat cannot quantize layer 'odd_noise' (GaussianNoise)" in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()
