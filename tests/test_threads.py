"""One Generator shared by threads: every call returns what it returns alone, the default
stream hands each row out once, bad ``workers`` and closing under use fail by name.

Real threads on real models: the toy int8 generator (LiteRT), its ONNX and static
(CompiledModel) exports, and an int8 DCGAN generator (untrained: what is tested is
the runtime, not the digits).
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import gan_edge
from gan_edge import GanEdgeError, InputError

THREADS, CALLS = 8, 500
SEEDS = 16  # seeded calls cycle through these, so each thread repeats others' seeds


@pytest.fixture(scope="module")
def dcgan_int8(tmp_path_factory) -> Path:
    """The book's DCGAN generator (latent 100 uniform11 -> 28x28x1), full int8, seeded weights."""
    from types import SimpleNamespace

    import tf_keras as keras
    from ai_edge_litert.interpreter import Interpreter
    from conftest import _runtime_manifest_for

    from gan_edge.export.tflite import to_int8
    from gan_edge.manifest import write_manifest
    from gan_edge.training.config import default_config
    from gan_edge.training.models import model_family

    keras.utils.set_random_seed(0)
    config = default_config("dcgan")
    model = model_family("dcgan").build_generator(config)
    calibration = np.random.default_rng(0).uniform(-1, 1, (32, config.latent_dim)).astype(np.float32)
    blob = to_int8(SimpleNamespace(model=model, config=config), calibration)
    details = Interpreter(model_content=blob)
    int8_io = tuple(
        tuple(d["quantization"]) for d in (details.get_input_details()[0], details.get_output_details()[0])
    )
    path = tmp_path_factory.mktemp("dcgan_threads") / "dcgan_int8.tflite"
    path.write_bytes(blob)
    write_manifest(path, _runtime_manifest_for(
        "int8", path.name, int8_io, latent_dim=config.latent_dim, latent_distribution="uniform11",
        output_shape=(28, 28, 1), output_range=(-1.0, 1.0),
        source={"run": "runs/test", "model": "dcgan", "config": {"latent_dim": config.latent_dim}},
    ))
    return path


@pytest.fixture(autouse=True)
def frequent_switches():
    # Threads hand over the GIL every 10 us instead of 5 ms, so calls interleave
    # inside the wrapper's Python code too, not only around the native invoke.
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    yield
    sys.setswitchinterval(saved)


def run_threads(work, threads: int = THREADS) -> list:
    """Run ``work(i)`` on ``threads`` threads started together; their results, in order.
    An exception in any thread fails the test with that exception."""
    start, results, errors = threading.Barrier(threads, timeout=60), [None] * threads, []

    def body(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except BaseException as exc:  # noqa: BLE001 (re-raised below, in the test's thread)
            errors.append(exc)

    workers = [threading.Thread(target=body, args=(i,)) for i in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    if errors:
        raise errors[0]
    return results


def rows_as_multiset(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    # int8 outputs repeat (the toy's 2 values take few levels): compare with counts.
    return np.unique(rows.reshape(len(rows), -1), axis=0, return_counts=True)


# --- seeded calls: the same array from any thread -------------------------------------


def check_seeded_calls(gen, n: int, calls: int = CALLS) -> int:
    reference = [gen.generate(n, seed=s) for s in range(SEEDS)]

    def work(i: int) -> int:
        wrong = 0
        for call in range(calls):
            seed = (i + call) % SEEDS
            wrong += not np.array_equal(gen.generate(n, seed=seed), reference[seed])
        return wrong

    wrong = run_threads(work)
    assert wrong == [0] * THREADS, f"{sum(wrong)} of {THREADS * calls} calls returned another array"
    return THREADS * calls


@pytest.mark.parametrize("workers", [1, 2])
def test_toy_seeded_calls_from_8_threads(runtime_export, workers):
    # 300 rows: two chunks (256 + a padded 44), the path with the most state in it.
    gen = gan_edge.load(runtime_export("int8"), workers=workers)
    assert check_seeded_calls(gen, 300) == 4000


def test_dcgan_seeded_calls_from_8_threads(dcgan_int8):
    gen = gan_edge.load(dcgan_int8, workers=2)
    assert check_seeded_calls(gen, 1) == 4000


@pytest.mark.parametrize("variant, backend", [("onnx", None), ("static1", "litert-compiled")])
def test_other_backends_seeded_calls(runtime_export, variant, backend):
    gen = gan_edge.load(runtime_export(variant), backend=backend, workers=2)
    assert check_seeded_calls(gen, 3, calls=100) == 800


# --- the default stream: each row to exactly one call ---------------------------------


def stream_rows(gen, n: int, threads: int) -> np.ndarray:
    gen._latents.default_rng = np.random.default_rng(7)  # the unseeded stream, made reproducible
    per_thread = run_threads(
        lambda i: np.concatenate([gen.generate(n) for _ in range(THREADS * CALLS // threads)]), threads
    )
    return np.concatenate(per_thread)


@pytest.mark.parametrize("workers, n", [(1, 3), (2, 3), (2, 100)])
def test_toy_default_stream_across_threads(runtime_export, workers, n):
    # n=3 takes rows from the block drawn ahead (and straddles blocks); n=100 draws
    # straight from the stream.
    path = runtime_export("int8")
    alone = stream_rows(gan_edge.load(path), n, threads=1)
    shared = stream_rows(gan_edge.load(path, workers=workers), n, threads=THREADS)
    assert len(shared) == len(alone) == THREADS * CALLS * n
    for got, expected in zip(rows_as_multiset(shared), rows_as_multiset(alone)):
        np.testing.assert_array_equal(got, expected)


def test_dcgan_default_stream_across_threads(dcgan_int8):
    alone = stream_rows(gan_edge.load(dcgan_int8), 1, threads=1)
    shared = stream_rows(gan_edge.load(dcgan_int8, workers=2), 1, threads=THREADS)
    assert len(shared) == THREADS * CALLS and len(rows_as_multiset(alone)[0]) > THREADS * CALLS * 0.99
    for got, expected in zip(rows_as_multiset(shared), rows_as_multiset(alone)):
        np.testing.assert_array_equal(got, expected)


# --- bad input ------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [0, -2, 1.5, "2", True, None])
def test_workers_must_be_a_positive_int(runtime_export, workers):
    with pytest.raises(InputError, match=rf"workers must be a positive int .*got {workers!r}$"):
        gan_edge.load(runtime_export("int8"), workers=workers)


def test_workers_open_separate_models(runtime_export):
    gen = gan_edge.load(runtime_export("int8"), workers=np.int64(3))
    assert gen.workers == 3 and repr(gen).endswith("output_shape=(2,), workers=3)")
    assert len({id(w.backend) for w in gen._workers}) == 3


# --- closing while others use it ------------------------------------------------------


@pytest.mark.parametrize(
    "variant, backend, workers",
    [("int8", None, 1), ("int8", None, 2), ("onnx", None, 2), ("static1", "litert-compiled", 2)],
)
def test_close_while_threads_generate(runtime_export, variant, backend, workers):
    gen = gan_edge.load(runtime_export(variant), backend=backend, workers=workers)
    reference = gen.generate(4, seed=1)
    running = threading.Barrier(5, timeout=60)

    def work(i: int) -> tuple[int, BaseException]:
        calls = 0
        while True:
            try:
                out = gen.generate(4, seed=1)
            except Exception as exc:  # noqa: BLE001 (the test checks which one)
                return calls, exc
            assert np.array_equal(out, reference)
            calls += 1
            if calls == 20:
                running.wait()

    closer = threading.Thread(target=lambda: (running.wait(), gen.close()))
    closer.start()
    ended = run_threads(work, threads=4)
    closer.join()
    for calls, exc in ended:
        assert calls >= 20
        assert isinstance(exc, GanEdgeError) and isinstance(exc, InputError), repr(exc)
        assert f"this generator ({gen.manifest.model_file}) was closed" in str(exc)
    # Closed for good, and closing again is harmless.
    gen.close()
    with pytest.raises(InputError, match="was closed: load it again"):
        gen.generate_into(np.empty((2, 2), np.float32))
    with pytest.raises(InputError, match="backend was closed"):
        gen.backend.invoke()


def test_with_block_closes(runtime_export):
    with gan_edge.load(runtime_export("onnx")) as gen:
        assert gen.generate(2, seed=0).shape == (2, 2)
    with pytest.raises(InputError, match="was closed"):
        gen.generate(2)
