"""The TensorFlow baseline for ``gan-edge bench --tf-baseline RUN_DIR``: the run's float
tf_keras generator timed the way ``gan_edge.bench`` times an exported one.

Workstation side (imports TensorFlow and ``gan_edge.export.source``); the CLI imports this
module only when the flag is given, so ``gan_edge`` itself never does.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Iterable

import numpy as np

from gan_edge.export.source import load_generator
from gan_edge.bench import BenchRow, check_counts, measure_row
from gan_edge.latent import sample_latent

__all__ = ["bench_tf_baseline"]


def bench_tf_baseline(
    run_dir: str | os.PathLike,
    *,
    batches: Iterable[int] = (1,),
    runs: int = 100,
    warmup: int = 10,
    macs_per_sample: int | None = None,
    threads: int | None = None,
) -> list[BenchRow]:
    """Rows for the run's float tf_keras generator: an eager call and a ``tf.function``.

    Imports TensorFlow (the workstation install). The generator is rebuilt from
    the run's config and last checkpoint, as export does. Each timed run calls it
    on the same latents a gan_edge row would draw first (seed 0, the run's latent
    distribution) and fetches the result as numpy, so host copies are paid as on
    the edge side; latent sampling is not timed. ``threads`` on these rows is
    TensorFlow's intra-op thread count (0: its default, one per core); ``threads``
    sets it, so the baseline runs on as many threads as the rows beside it, when
    TensorFlow has not started its runtime yet in this process.
    """
    import tensorflow as tf

    if threads is not None:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # TensorFlow already running here: the rows report the count it uses

    _, batches, runs, warmup = check_counts((1,), batches, runs, warmup)
    start = time.perf_counter_ns()
    trained = load_generator(run_dir)
    init_us = (time.perf_counter_ns() - start) / 1e3
    config, model = trained.config, trained.model
    compiled = tf.function(lambda z: model(z, training=False))
    calls = {"tf eager": lambda z: model(z, training=False).numpy(), "tf.function": lambda z: compiled(z).numpy()}
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    rows = []
    for batch in batches:
        z = tf.constant(
            sample_latent(config.latent_distribution, batch, config.latent_dim, np.random.default_rng(0))
        )
        for name, call in calls.items():
            # The first call is where tf.function traces, at each new batch size.
            rows.append(
                measure_row(
                    lambda: call(z), runs=runs, warmup=warmup,
                    artifact=f"{Path(run_dir).name} (tf_keras)", backend=name, threads=threads, batch=batch,
                    init_us=init_us, model_bytes=0, macs_per_sample=macs_per_sample, source_run=str(run_dir),
                )
            )
    return rows
