"""The four-step round on several devices or machines (``tf.distribute``).

Chosen by name: ``default`` (one device, the plain path of ``gan_edge.training.train``),
``mirrored`` (``MirroredStrategy``: every GPU of this machine, or every logical CPU
device when there is no GPU) and ``multiworker`` (``MultiWorkerMirroredStrategy``:
several machines, each told its place by ``TF_CONFIG``).

Global batch semantics. ``batch_size`` is the global batch. Replica k of R takes
the k-th contiguous slice of each global batch (slices of ceil(n / R) samples, the
last ones shorter or empty), and the k-th slice of the latents the single device
would draw: the three latent batches of a round are drawn once per round in
cross-replica context from the run's one noise generator, then sliced. So each
replica sees different samples and different noise, and together they see exactly
what one device sees. Every loss is a sum divided by the global batch, the
optimizers sum the replicas' gradients, and the metrics and confusion counts are
summed over replicas: the run computes the single device's round, up to the order
of floating-point sums. (Batch statistics are per replica: batch normalization and
the mode-collapse remedies see only their slice; remedies and packing are refused.)

Only the chief writes the run folder. Other workers save each checkpoint into a
temporary folder, as TensorFlow's multi-worker checkpointing requires every worker
to save, and delete it at once.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from dataclasses import dataclass

import tensorflow as tf

from gan_edge.errors import ConfigError
from gan_edge.training.data import epoch_batches
from gan_edge.training.loop import accumulate_rounds

__all__ = ["STRATEGIES", "DistributedPlan", "DistributedRound", "plan_for", "replica_slice"]

STRATEGIES = ("default", "mirrored", "multiworker")


def plan_for(name: str, config) -> "DistributedPlan | None":
    """The strategy named ``name``, checked against ``config``; None for ``default``.

    Call it before TensorFlow runs anything: ``MultiWorkerMirroredStrategy`` must
    configure the runtime's collective ops at start-up.
    """
    if name not in STRATEGIES:
        raise ConfigError(f"unknown strategy {name!r}: expected one of {', '.join(STRATEGIES)}")
    if name == "default":
        return None
    if config.remedy != "none" or config.pack != 1:
        what = f"remedy {config.remedy!r}" if config.remedy != "none" else f"pack {config.pack}"
        raise ConfigError(f"{what} judges whole batches, which strategy {name!r} splits over replicas: "
                          "train it with --strategy default")
    if config.jit_compile:
        raise ConfigError(f"jit_compile compiles the single-device round, not strategy {name!r}'s: "
                          "train it with --strategy default, or set jit_compile false")
    if name == "mirrored":
        # MirroredStrategy() takes every GPU, else only CPU:0; CPU devices split with
        # tf.config.set_logical_device_configuration are taken explicitly.
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus or tf.config.list_logical_devices("CPU")]
        strategy = tf.distribute.MirroredStrategy(devices)
    else:
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
    replicas = strategy.num_replicas_in_sync
    if config.batch_size < replicas:
        raise ConfigError(f"batch_size {config.batch_size} is smaller than the {replicas} replicas of strategy "
                          f"{name!r}: use a global batch of at least {replicas}")
    return DistributedPlan(name, strategy)


@dataclass(frozen=True, eq=False)
class DistributedPlan:
    name: str
    strategy: tf.distribute.Strategy

    @property
    def chief(self) -> bool:
        """Whether this process writes the run folder (always, but for non-chief workers)."""
        return bool(self.strategy.extended.should_checkpoint)

    def epoch_batches(self, samples, batch_size: int, seed: int, epoch: int, skip: int = 0):
        """The epoch's global batches of ``gan_edge.training.data.epoch_batches``, sliced per replica.

        Each element is (this replica's slice, the global batch size). Sharding is
        explicit (no auto-sharding): every worker builds the same global order and
        keeps the slices of its own replicas, in replica order.
        """
        replicas = self.strategy.num_replicas_in_sync

        def dataset_fn(context: tf.distribute.InputContext):
            local = replicas // context.num_input_pipelines
            first = context.input_pipeline_id * local

            def slices(batch):
                n = tf.shape(batch)[0]

                def piece(j):
                    lo, hi = replica_slice(n, first + tf.cast(j, tf.int32), replicas)
                    return batch[lo:hi], n

                return tf.data.Dataset.range(local).map(piece)

            return epoch_batches(samples, batch_size, seed, epoch).skip(skip).flat_map(slices)

        return self.strategy.distribute_datasets_from_function(dataset_fn)

    def save_elsewhere(self, checkpoint: tf.train.Checkpoint, number: int) -> None:
        """A non-chief worker's save: into a temporary folder, deleted at once."""
        task = self.strategy.cluster_resolver
        folder = tempfile.mkdtemp(prefix=f"gan-edge-{task.task_type}{task.task_id}-")
        try:
            tf.train.CheckpointManager(checkpoint, folder, max_to_keep=1).save(checkpoint_number=number)
        finally:
            shutil.rmtree(folder, ignore_errors=True)


def replica_slice(n, replica, replicas: int):
    """[lo, hi) of replica ``replica`` in a global batch of ``n``: slices of ceil(n / replicas)."""
    per = (n + replicas - 1) // replicas
    lo = tf.minimum(replica * per, n)
    return lo, tf.minimum(lo + per, n)


class NoEvaluator:
    """What a non-chief worker evaluates: nothing (the chief measures and draws)."""

    def observe(self, epoch, generator) -> dict:
        return {}

    def measure(self, generator) -> dict:
        return {}

    def finish(self, records) -> None:
        pass


class NoWriter:
    """A non-chief worker's TensorBoard writer: with no default writer, summaries are no-ops."""

    def as_default(self, step=None):
        return contextlib.nullcontext()

    def flush(self) -> None:
        pass


class DistributedRound:
    """``FourStepRound``'s interface (networks, optimizers, noise, ``run_rounds``) over replicas.

    Build the wrapped round under ``strategy.scope()`` so its variables are mirrored.
    """

    def __init__(self, round_, strategy: tf.distribute.Strategy) -> None:
        self.round = round_
        self.strategy = strategy
        self.generator, self.discriminator = round_.generator, round_.discriminator
        self.g_optimizer, self.d_optimizer = round_.g_optimizer, round_.d_optimizer
        self.noise = round_.noise
        self.average, self.published = round_.average, round_.published

    @tf.function
    def run_rounds(self, iterator, steps) -> dict[str, tf.Tensor]:
        return self._accumulate(self.round.round, 3, iterator, steps, self.average)

    @tf.function
    def run_pretrain_rounds(self, iterator, steps) -> dict[str, tf.Tensor]:
        return self._accumulate(self.round.pretrain_round, 1, iterator, steps)

    def _accumulate(self, round_fn, draws: int, iterator, steps, average=None) -> dict[str, tf.Tensor]:
        strategy = self.strategy

        def one_round() -> dict[str, tf.Tensor]:
            real, n = next(iterator)
            n = strategy.experimental_local_results(n)[0]
            # Cross-replica context: the same draws, in the same order, as one device's round.
            noise = tuple(self.round.sample_latent(n) for _ in range(draws))
            metrics = strategy.run(lambda *args: self._replica_round(round_fn, *args), args=(real, n, noise))
            if average is not None:  # cross-replica: every replica's copy moves alike
                average.update(n)
            return {k: strategy.reduce(tf.distribute.ReduceOp.SUM, v, axis=None) for k, v in metrics.items()}

        return accumulate_rounds(one_round, steps)

    def _replica_round(self, round_fn, real, n, noise):
        # Replica k takes the k-th slice of the round's latents, as it took the k-th of the batch.
        context = tf.distribute.get_replica_context()
        replica = tf.cast(context.replica_id_in_sync_group, tf.int32)
        lo, hi = replica_slice(n, replica, self.strategy.num_replicas_in_sync)
        return round_fn(real, noise=tuple(z[lo:hi] for z in noise), global_size=n)
